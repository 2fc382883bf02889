"""The project's own files stay consistent: environment.yml mirrors pyproject.toml."""

from __future__ import annotations

import gettext
import io
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]

# conda-forge spells these differently or does not carry them; environment.yml installs them by pip
PIP_ONLY = {"mplfonts"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_environment_yml_mirrors_every_dependency() -> None:
    project = _pyproject()["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in ("test", "notebook"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    listed = {
        _name(m.group(1))
        for m in re.finditer(r"^\s*-\s+([A-Za-z0-9_.\-]+)", text, flags=re.MULTILINE)
    }
    missing = sorted(wanted - listed)
    assert not missing, f"environment.yml lacks {missing}"
    for name in PIP_ONLY:
        assert re.search(rf"^\s+-\s+{name}\b", text, flags=re.MULTILINE)


def test_console_script_and_typed_marker() -> None:
    project = _pyproject()["project"]
    assert project["scripts"]["mobset-campaign"] == "mobset_campaign.cli:main"
    assert (ROOT / "mobset_campaign" / "py.typed").exists()
    assert project["requires-python"] == ">=3.11"


@pytest.mark.slow
def test_the_wheel_ships_the_compiled_chinese_catalog(tmp_path: Path) -> None:
    """The build compiles each .po into the .mo beside it (setup.py): a user who installs
    the wheel reads Chinese without Babel having to compile anything at run time."""
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "*.mo", "build", "*.egg-info", "out"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("mobset_campaign-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        mo = archive.read("mobset_campaign/locale/zh/LC_MESSAGES/mobset_campaign.mo")
    catalog = gettext.GNUTranslations(io.BytesIO(mo))
    with (ROOT / "mobset_campaign/locale/zh/LC_MESSAGES/mobset_campaign.po").open("rb") as po:
        expected = [
            (m.context, m.id, m.string) for m in read_po(po) if m.id and isinstance(m.id, str)
        ]
    assert expected
    wrong = [
        (context, k)
        for context, k, v in expected
        if v and (catalog.pgettext(context, k) if context else catalog.gettext(k)) != v
    ]
    assert not wrong
