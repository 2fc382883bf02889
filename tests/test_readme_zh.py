"""The Chinese README cannot drift from the English one: the same code, the same commands.

README.zh-CN.md is README.md written for a Chinese reader, not a second source of truth: every
fenced block is README.md's, byte for byte and in the same order, so the checks of
tests/test_readme.py (the --help block is the real help, every option exists, every example
parses) hold for it too. Each README links to the other at its top.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_ZH = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")

#: A fenced block: its info string (``sh``, ``python``, …) and its text.
FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.S | re.M)
#: How a shell command starts (after an optional ``$ `` prompt).
COMMAND = re.compile(
    r"^(\$ |make\b|mobset-campaign\b|python\b|\.venv/|pip\b|jupyter\b|createdb\b|export\b)"
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def _commands(text: str) -> list[str]:
    """Every shell command in the fenced blocks, in order, without its trailing comment."""
    commands = []
    for _, block in _blocks(text):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if COMMAND.match(line):
                commands.append(line)
    return commands


def _prose(text: str) -> str:
    """The text outside fenced blocks and inline code."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def test_both_readmes_have_the_same_fenced_blocks_in_the_same_order() -> None:
    english, chinese = _blocks(README), _blocks(README_ZH)
    assert len(english) >= 8  # the whole README's blocks, not an empty match
    assert [lang for lang, _ in chinese] == [lang for lang, _ in english]
    for number, (ours, theirs) in enumerate(zip(chinese, english, strict=True)):
        assert ours == theirs, f"fenced block {number + 1} differs from README.md's"


def test_both_readmes_give_the_same_commands() -> None:
    commands = _commands(README)
    assert any(c.startswith("make demo") for c in commands)  # the parser found the blocks
    assert sum(c.startswith("mobset-campaign ") for c in commands) >= 12
    assert _commands(README_ZH) == commands


@pytest.mark.parametrize(
    ("readme", "other", "label"),
    [(README, "README.zh-CN.md", "中文说明"), (README_ZH, "README.md", "English")],
    ids=["README.md", "README.zh-CN.md"],
)
def test_each_readme_links_to_the_other_at_its_top(readme: str, other: str, label: str) -> None:
    top = "\n".join(readme.splitlines()[:5])
    assert f"{label}: [{other}]({other})" in top
    assert (ROOT / other).is_file()


def test_the_chinese_readme_is_written_in_chinese_and_covers_every_section() -> None:
    prose = _prose(README_ZH)
    assert len(CJK.findall(prose)) > 5_000  # a whole README, not a stub
    # each section of README.md has its Chinese counterpart
    english_sections = re.findall(r"^## ", README, re.M)
    chinese_sections = re.findall(r"^## (.*)$", README_ZH, re.M)
    assert len(chinese_sections) == len(english_sections)
    assert all(CJK.search(title) or title == "Notebook" for title in chinese_sections)
    # the terms a Chinese SMS marketer uses
    for term in (
        "签名",
        "计费条数",
        "长短信",
        "回执",
        "状态报告",
        "上行回复",
        "退订",
        "定时发送",
        "扩展号",
        "发送台账",
        "活动",
        "模板",
        "余额",
    ):
        assert term in prose, term


def test_the_chinese_readme_says_how_to_choose_the_language() -> None:
    section = README_ZH.split("## 界面语言", 1)[1].split("\n## ", 1)[0]
    for way in ('mc.set_language("zh")', "--lang zh", "MOBSET_LANG=zh", "LANG=zh_CN.UTF-8"):
        assert way in section, way
