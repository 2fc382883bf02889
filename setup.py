"""The build compiles the message catalogs: every ``locale/<lang>/LC_MESSAGES/*.po`` of the
package becomes the ``.mo`` that ships beside it (Babel's compiler; the ``.mo`` are build
output, never edited and not kept in git). Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def compile_catalogs(package: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(package.glob("locale/*/LC_MESSAGES/*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parts[-3])
        with po.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog)


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        compile_catalogs(Path(__file__).resolve().parent / "mobset_campaign")
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogs})
