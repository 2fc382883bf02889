"""The README cannot drift from the CLI: its --help block and its examples are checked."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from mobset_campaign.cli import build_parser, main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _help(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(argv)
    return out.getvalue()


def test_the_help_block_is_the_real_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    block = re.search(r"<!-- mobset-campaign --help.*?-->\n```text\n(.*?)```", README, re.S)
    assert block, "README lost its --help block"
    assert block.group(1) == build_parser().format_help()


def _examples() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("mobset-campaign "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_every_command_has_an_example() -> None:
    import argparse

    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    used = {argv[0] for argv in _examples()}
    assert used == set(sub.choices)  # every command the CLI has, read from the parser
    assert used == {
        "simulator",
        "preview",
        "send",
        "collect",
        "status",
        "export",
        "cancel",
        "resend-unknown",
        "balance",
        "sign",
        "ledger",
        "demo",
    }


@pytest.mark.parametrize("argv", _examples(), ids=lambda a: " ".join(a)[:60])
def test_every_option_in_the_examples_exists(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    help_text = _help([argv[0], "--help"])
    for option in (a for a in argv[1:] if a.startswith("-")):
        assert re.search(rf"(^|[\s,\[]){re.escape(option)}\b", help_text), (
            f"{option} not in `{argv[0]} --help`"
        )


@pytest.mark.parametrize(
    "argv", [a for a in _examples() if a[0] != "simulator"], ids=lambda a: " ".join(a)[:60]
)
def test_every_example_parses(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.command == argv[0]
