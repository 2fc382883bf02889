"""Keep the message catalogs in step with the code (Babel's extraction, one writer at a time).

    python tools/messages.py update [--from FILE.json ...]   # code → .pot → zh .po
    python tools/messages.py check [--only PATH ...]         # untranslated or mismatched
    python tools/messages.py compile                         # .po → .mo (the build does it too)

``update`` extracts every message of the package (``_()``, ``gettext()``, ``ngettext()``,
``pgettext()``, ``N_()``, ``NC_()``) into ``mobset_campaign/locale/mobset_campaign.pot`` and
merges it into the Chinese catalog ``locale/zh/LC_MESSAGES/mobset_campaign.po``: new messages
come in untranslated, gone ones leave, translations stay. ``--from`` fills untranslated
messages (all of them with ``--force``: a corrected translation) from a JSON object
``{"English message id": "中文译文"}`` (``"context\u0004id"`` for a ``pgettext`` message; the
way several people translate at once without editing the same file); the ``.po`` is updated
under a file lock.

``check`` lists messages without a Chinese translation, or whose ``{placeholders}`` differ
between the languages, and exits 1 when there is any (``--only`` limits it to messages used in
the given source files). The test suite runs the same check on the whole catalog.
"""

from __future__ import annotations

import argparse
import fcntl
import io
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mobset_campaign"
LOCALE = PACKAGE / "locale"
POT = LOCALE / "mobset_campaign.pot"
LANGUAGES = ("zh",)
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "NC_": ((1, "c"), 2)}
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z_0-9]*|\d*)(![rsa])?(:[^{}]*)?\}(?!\})")


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "mobset_campaign.po"


def extract() -> Catalog:
    """Every message of the package's source, with where it is used."""
    template = Catalog(
        project="mobset_campaign",
        version="0.1",
        copyright_holder="mobset_campaign developers",
        msgid_bugs_address="",
        charset="utf-8",
        fuzzy=False,
    )
    # the simulator speaks as the gateway does (its texts are the vendor's); its command line
    # is the package's
    method_map = [
        ("simulator/cli.py", "python"),
        ("simulator/**.py", "ignore"),
        ("**.py", "python"),
    ]
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE), method_map=method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        template.add(
            message,
            None,
            [(f"mobset_campaign/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def placeholders(text: str) -> list[str]:
    """The ``str.format`` fields of a message, sorted (``{n:,}`` → ``n``)."""
    return sorted(m.group(1) for m in PLACEHOLDER.finditer(text or ""))


def _write(catalog: Catalog, path: Path) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=True, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def _read(path: Path, language: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def _fragments(paths: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in paths:
        data = json.loads(Path(name).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise SystemExit(f"{name}: expected a JSON object {{message id: translation}}")
        found.update({str(k): str(v) for k, v in data.items()})
    return found


def update(sources: Iterable[str] = (), *, force: bool = False) -> int:
    template = extract()
    filled = _fragments(sources)
    for language in LANGUAGES:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _write(template, POT)
            catalog = (
                _read(path, language)
                if path.is_file()
                else Catalog(locale=language, project="mobset_campaign", fuzzy=False)
            )
            catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
            catalog.obsolete.clear()  # a message gone from the code leaves the catalog
            for message in catalog:
                if not message.id:
                    continue
                key = message.id[0] if isinstance(message.id, tuple) else message.id
                if message.context:  # pgettext: the JSON key is "context\u0004message id"
                    key = f"{message.context}\x04{key}"
                if key in filled and (force or not _translated(message.string)):
                    message.string = (
                        (filled[key],) if isinstance(message.id, tuple) else filled[key]
                    )
                message.flags.discard("fuzzy")
            _write(catalog, path)
    print(f"{len(template)} messages in {POT.relative_to(ROOT)}")
    return 0


def _translated(string: str | tuple[str, ...] | None) -> bool:
    if isinstance(string, tuple):
        return all(string)
    return bool(string)


def problems(language: str, only: Iterable[str] = ()) -> list[str]:
    """Messages of ``language`` untranslated or with other placeholders than the English."""
    wanted = {str(Path(p).resolve().relative_to(ROOT)) for p in only}
    catalog = _read(po_path(language), language)
    found = []
    for message in catalog:
        if not message.id:
            continue
        if wanted and not any(loc in wanted for loc, _ in message.locations):
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not _translated(message.string):
            found.append(f"untranslated: {ids[0]!r}")
            continue
        expected = placeholders(ids[-1])
        for string in strings:
            if placeholders(string) != expected and placeholders(string) != placeholders(ids[0]):
                found.append(f"placeholders differ: {ids[0]!r} → {string!r}")
    return found


def compile_catalogs() -> list[Path]:
    written = []
    for language in LANGUAGES:
        po = po_path(language)
        if not po.is_file():
            continue
        catalog = _read(po, language)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as handle:
            write_mo(handle, catalog)
        written.append(mo)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("update")
    up.add_argument("--from", dest="sources", action="append", default=[])
    up.add_argument(
        "--force", action="store_true", help="replace existing translations with --from's"
    )
    check = sub.add_parser("check")
    check.add_argument("--only", action="append", default=[])
    sub.add_parser("compile")
    args = parser.parse_args(argv)
    if args.command == "update":
        return update(args.sources, force=args.force)
    if args.command == "compile":
        for path in compile_catalogs():
            print(path.relative_to(ROOT))
        return 0
    found = [p for language in LANGUAGES for p in problems(language, args.only)]
    print("\n".join(found) if found else "every message is translated")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
