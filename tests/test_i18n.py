"""Messages in Chinese or English: the catalogs are complete, current, and chosen as documented."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mobset_campaign as mc
from mobset_campaign import _i18n
from mobset_campaign._i18n import gettext

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mobset_campaign"


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("messages_tool", ROOT / "tools" / "messages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():  # type: ignore[no-untyped-def]
    return _tool()


def test_every_message_has_a_chinese_translation_with_the_same_placeholders(tool) -> None:  # type: ignore[no-untyped-def]
    found = tool.problems("zh")
    assert not found, "\n".join(found[:40]) + f"\n({len(found)} in all: run tools/messages.py)"


def test_the_catalog_holds_exactly_the_messages_of_the_code(tool) -> None:  # type: ignore[no-untyped-def]
    """A message added to the code and never run through `tools/messages.py update` would show
    in English to a Chinese reader; one left in the catalog after the code dropped it is dead."""
    code = {m.id if isinstance(m.id, str) else m.id[0] for m in tool.extract() if m.id}
    catalog = {
        m.id if isinstance(m.id, str) else m.id[0] for m in tool._read(tool.po_path("zh"), "zh")
    }
    catalog.discard("")
    assert not code - catalog, f"not in the catalog (run tools/messages.py update): {sorted(code - catalog)[:20]}"
    assert not catalog - code, f"in the catalog, gone from the code: {sorted(catalog - code)[:20]}"


def test_the_placeholder_check_catches_a_wrong_translation(tool) -> None:  # type: ignore[no-untyped-def]
    assert tool.placeholders("Row {row}: {n:,} parts {text!r} {{literal}}") == ["n", "row", "text"]
    assert tool.placeholders("第 {row} 行：{n:,} 条") != tool.placeholders("Row {row}: {count} parts")


def test_a_module_that_translates_never_rebinds_underscore() -> None:
    """`_` is gettext where imported as such: a `for _, x in ...` in the same module would
    make the next message call a tuple item (an UnboundLocalError or a TypeError)."""
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports_it = any(
            isinstance(node, ast.ImportFrom)
            and any(a.asname == "_" for a in node.names)
            for node in ast.walk(tree)
        )
        if not imports_it:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store | ast.Del):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.arg) and node.arg == "_":
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} (argument)")
    assert not wrong, "rebinds `_` (use another throwaway name): " + ", ".join(wrong)


def _language_in_child(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("MOBSET_LANG", "LC_ALL", "LC_MESSAGES", "LANG")}
    code = "import mobset_campaign as mc; print(mc.get_language())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),  # LC_ALL decides, as in C
        ({"MOBSET_LANG": "zh", "LANG": "en_US.UTF-8"}, "zh"),
        ({"MOBSET_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"MOBSET_LANG": "klingon", "LANG": "zh_CN.UTF-8"}, "zh"),  # not a language: the locale
    ],
)
def test_the_language_comes_from_mobset_lang_then_the_locale(env: dict[str, str], expected: str) -> None:
    assert _language_in_child(env) == expected


def test_set_language_wins_and_none_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBSET_LANG", "en")
    try:
        mc.set_language("zh_CN")
        assert mc.get_language() == "zh"
        with mc.using_language("en"):
            assert mc.get_language() == "en"
        assert mc.get_language() == "zh"
    finally:
        mc.set_language(None)
    assert mc.get_language() == "en"


def test_a_language_that_is_not_one_is_a_clear_error() -> None:
    with pytest.raises(mc.InputError, match=r"language='fr'.*'zh'.*'en'"):
        mc.set_language("fr")
    with pytest.raises(mc.InputError):
        mc.set_language(3)  # type: ignore[arg-type]


def _any_message(tool) -> str:  # type: ignore[no-untyped-def]
    catalog = tool._read(tool.po_path("zh"), "zh")
    return next(m.id for m in catalog if m.id and isinstance(m.id, str) and m.string)


def test_a_missing_or_stale_compiled_catalog_is_compiled_from_the_po(tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    message = _any_message(tool)
    folder = tmp_path / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = tool.po_path("zh")
    text = po.read_text(encoding="utf-8")
    (folder / "mobset_campaign.po").write_text(text, encoding="utf-8")
    monkeypatch.setattr(_i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(_i18n, "_RECHECK_SECONDS", 0.0)  # look for an edited .po every time
    monkeypatch.setattr(_i18n, "_stamps", {})
    with mc.using_language("zh"):
        translated = gettext(message)
    assert translated != message  # no .mo at all: the .po compiled in memory
    # an edited .po beats an older .mo
    (folder / "mobset_campaign.mo").write_bytes((po.with_suffix(".mo")).read_bytes() if po.with_suffix(".mo").is_file() else b"")
    os.utime(folder / "mobset_campaign.mo", ns=(1, 1))
    edited = text.replace(f'msgstr "{translated}"', 'msgstr "改过的译文"', 1)
    assert edited != text
    (folder / "mobset_campaign.po").write_text(edited, encoding="utf-8")
    with mc.using_language("zh"):
        assert gettext(message) == "改过的译文"


def test_a_damaged_catalog_leaves_english_and_says_so_once(
    tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    message = _any_message(tool)
    folder = tmp_path / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "mobset_campaign.mo").write_bytes(b"\x00 not a catalog")
    monkeypatch.setattr(_i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(_i18n, "_stamps", {})
    with mc.using_language("zh"), pytest.warns(RuntimeWarning, match="zh message catalog"):
        assert gettext(message) == message  # English, never a crash
    with mc.using_language("zh"):
        assert gettext(message) == message  # the same catalog: no second warning
