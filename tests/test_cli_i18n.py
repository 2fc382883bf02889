"""The command line in Chinese (MOBSET_LANG=zh, --lang zh, a Chinese locale) and in English.

In Chinese, every line the command line prints is Chinese apart from what is no language:
names (Mobset, Excel, SQLite), numbers, codes, flags, metavars, environment variables, paths,
file names, URLs and quoted values. :func:`english_left` strips those and reports every
remaining English word, with its line, so a failure says which text is still English.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobset_campaign._protocol import METHODS
from mobset_campaign.cli import build_parser, main
from mobset_campaign.cli_parser import parser_error
from mobset_campaign.demo import sample_contacts_path
from mobset_campaign.language import using_language
from mobset_campaign.simulator import Simulator
from mobset_campaign.simulator.faults import FAULTS

COMMANDS = [
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
    "copy",
]

#: Words that are names, not English: products, formats, the vendor's own field names.
NAMES = {
    "Mobset",
    "SDK3",
    "API",
    "Excel",
    "SQLite",
    "PostgreSQL",
    "URL",
    "README",
    "CorpID",
    "LongSms",
    "Ctrl",
    "stderr",
    "stdout",
    "SIGTERM",
    "SIGHUP",
    "mobset",
    "campaign",  # in `mobset-campaign`, the program's name
    # the simulator's help names the vendor's fields, methods and its fault names
    "LoginName",
    "RecvNumber",
    "Status",
    "Methods",
    *METHODS,
    *(word for fault in FAULTS for word in fault.split("_")),
    *(word for command in COMMANDS for word in command.split("-")),
}

#: What is no language, stripped before looking for English words.
NOT_LANGUAGE = [
    r"`[^`\n]*`",  # code: `mobset-campaign simulator`
    r"'[^'\n]*'",  # a quoted value: 'off', 'YYYY-MM-DD HH:MM:SS', a campaign's name
    r"\"[^\"\n]*\"",
    r"\{[^{}\n]*\}",  # choices: {zh,en}
    r"[A-Za-z][A-Za-z0-9+.-]*://\S*",  # URLs
    r"\$?\b[A-Z][A-Z0-9]*(?:_[A-Z0-9*]+)+\b\*?",  # MOBSET_LEDGER, PHONE_COLUMN
    r"\b[A-Z][A-Z0-9]*\b",  # metavars and codes: COMMAND, SRC, TEXT, N
    r"(?<![\w-])--?[A-Za-z][\w-]*(?:=\S*)?",  # flags: --send, -t, --lang=zh
    r"\b\w+=\S*",  # key=value codes: LongSms=0
    r"[\w.-]*/[\w./-]*",  # paths: templates/, /tmp/x.csv, out/
    r"\b[\w-]+\.[A-Za-z][A-Za-z0-9]{1,5}\b",  # file names: ledger.sqlite, points_expiry.txt
    r"(?<![.\w])\.[A-Za-z]{2,5}\b",  # extensions: .xlsx
    r"\b[a-z]+(?:_[a-z0-9]+)+\b",  # field names: send_state
    r"\b[a-z]+(?:-[a-z0-9]+)+\b",  # hyphenated values: demo-password
    r"\b\w*\d\w*\b",  # anything with a digit: SDK3, 12, 2026
]
_NOT_LANGUAGE = re.compile("|".join(f"(?:{p})" for p in NOT_LANGUAGE))
_WORD = re.compile(r"[A-Za-z]{3,}")


def english_left(text: str) -> list[str]:
    """Every line of ``text`` that still holds an English word (3+ letters, not a name),
    as ``word … | line``."""
    found = []
    for line in text.splitlines():
        words = [w for w in _WORD.findall(_NOT_LANGUAGE.sub(" ", line)) if w not in NAMES]
        if words:
            found.append(f"{' '.join(words)} | {line.strip()}")
    return found


def has_chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def test_the_checker_strips_what_is_no_language_and_finds_english() -> None:
    assert (
        english_left(
            "用法：mobset-campaign [-h] [--lang {zh,en}] COMMAND ...\n"
            "  --ledger LEDGER   发送台账文件，或 postgresql://user@host/db（默认：$MOBSET_LEDGER，"
            "否则为 ledger.sqlite）\n  --opt-out [TEXT]  以 LongSms=0 发送，'YYYY-MM-DD HH:MM:SS'，"
            "templates/ 下的 points_expiry.txt、.xlsx、send_state、SDK3、Excel"
        )
        == []
    )
    assert english_left("活动 '春节'：35 accepted, 0 rejected") == [
        "accepted rejected | 活动 '春节'：35 accepted, 0 rejected"
    ]


# ------------------------------------------------------------------ as a process


def _env(**values: str) -> dict[str, str]:
    """The environment of a child: no MOBSET_* and no locale of this machine, plus
    ``values``."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MOBSET_", "LC_", "LANG"))}
    return {**keep, "COLUMNS": "100", **values}


def _cli(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mobset_campaign.cli", *argv],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_terminal_that_cannot_show_chinese_gets_escapes_not_a_traceback() -> None:
    for language in ("zh", "en"):  # the English help names the vendor in Chinese too
        run = _cli("--help", MOBSET_LANG=language, PYTHONIOENCODING="ascii")
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
        assert "mobset-campaign" in run.stdout
    zh = _cli("--help", MOBSET_LANG="zh", PYTHONIOENCODING="ascii")
    assert zh.stdout.startswith("\\u7528\\u6cd5")  # 用法, escaped


def test_help_in_chinese_with_mobset_lang() -> None:
    done = _cli("--help", MOBSET_LANG="zh")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("用法：mobset-campaign [-h] [--lang {zh,en}] COMMAND ...")
    assert "位置参数：" in out and "选项：" in out and "显示本帮助信息并退出" in out
    assert "退出码：0 完成；1 出错" in out
    assert english_left(out) == []


def test_help_follows_a_chinese_locale_and_english_one() -> None:
    assert "用法：" in _cli("--help", LANG="zh_CN.UTF-8").stdout
    out = _cli("--help", LANG="en_US.UTF-8").stdout
    assert out.startswith("usage: mobset-campaign [-h] [--lang {zh,en}] COMMAND ...")
    assert "positional arguments:" in out and "show this help message and exit" in out
    # English everywhere but the vendor's name in the description
    assert re.findall(r"[\u4e00-\u9fff]+", out) == ["广州首易", "短信易"]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "copy"])
def test_every_command_help_is_chinese(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as done:
        main(["--lang", "zh", command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"用法：mobset-campaign {command} [-h]")
    assert english_left(out) == [], command
    # wrapped by the columns Chinese takes (two a character), within the terminal's 100
    widths = [
        sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
        for line in out.splitlines()
    ]
    assert max(widths) <= 100, command


def test_ledger_copy_help_is_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ledger", "copy", "--help", "--lang", "zh"])  # --lang anywhere
    out = capsys.readouterr().out
    assert "把发送台账 SRC 复制到 DST" in out or "复制到 DST" in out
    assert english_left(out) == []


def test_lang_overrides_mobset_lang_for_one_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOBSET_LANG", "zh")
    with pytest.raises(SystemExit):
        main(["--lang", "en", "--help"])
    out = capsys.readouterr().out
    with using_language("en"):
        assert out == build_parser().format_help()
    assert os.environ["MOBSET_LANG"] == "zh"  # put back after the run
    assert _cli("--lang=zh", "--help", MOBSET_LANG="en").stdout.startswith("用法：")


# ------------------------------------------------------------------ usage errors


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["send", "--campaign", "x"], "缺少必需的参数：CONTACTS, --template/-t"),
        (["nope"], "参数 COMMAND：无效的选项值：'nope'（可选值：'simulator'"),
        (["collect", "--timeout", "x"], "参数 --timeout：'x' 不是有效的数字"),
        (["preview", "a.csv", "-t", "x", "--price", "0"], "参数 --price：'0' 必须大于 0"),
        (["status", "--bogus"], "无法识别的参数：--bogus"),
        (["preview", "a.csv", "-t", "x", "-n", "many"], "参数 -n：'many' 不是有效的整数"),
        (["send", "a", "-t", "x", "-c", "c", "--quiet-hours", "8"], "请写成 开始-结束 的形式"),
        (
            ["send", "a", "-t", "x", "-c", "c", "--no-header", "--header-row", "2"],
            "参数 --header-row：不能与参数 --no-header 同时使用",
        ),
        (["status", "--ledger"], "参数 --ledger：需要一个值"),
        (["--lang", "fr", "status"], "参数 --lang：无效的选项值：'fr'"),
    ],
)
def test_usage_errors_in_chinese(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with using_language("zh"), pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("用法：mobset-campaign")
    assert "：错误：" in err and expected in err, err
    assert english_left(err) == []


def test_usage_errors_stay_argparse_english() -> None:
    assert parser_error("the following arguments are required: contacts") == (
        "the following arguments are required: contacts"
    )
    with using_language("zh"):
        assert parser_error("argument -n: invalid int value: 'x'") == "参数 -n：'x' 不是有效的整数"
        assert parser_error("something argparse says that we do not know") == (
            "something argparse says that we do not know"
        )
    done = _cli("send", LANG="en_US.UTF-8")
    assert done.returncode == 2
    assert "error: the following arguments are required: CONTACTS" in done.stderr
    assert not has_chinese(done.stderr)


# ------------------------------------------------------------------ the commands at work


@pytest.fixture()
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(seed=3, time_scale=100.0, reply_rate=0.2) as s:
        for name, value in s.env().items():
            monkeypatch.setenv(name, value)
        yield s


def _zh(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--lang", "zh", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _campaign_args(ledger: Path) -> list[str]:
    return [
        str(sample_contacts_path()),
        "-t",
        "points_expiry.txt",
        "-c",
        "春节",
        "--ledger",
        str(ledger),
        "--quiet-hours",
        "off",
    ]


def test_preview_is_chinese(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _zh(
        ["preview", str(sample_contacts_path()), "-t", "points_expiry.txt"], capsys
    )
    assert code == 0, err
    assert has_chinese(out)
    assert english_left(out + err) == []


def test_dry_run_is_chinese(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _zh(["send", *_campaign_args(tmp_path / "l.sqlite")], capsys)
    assert code == 0, err
    assert "（尚不存在：还没有用它发送过；试运行不会创建台账）" in out
    assert "试运行：什么都没有发送。加上 --send 才会真正发送这些短信。" in out
    assert english_left(out + err) == []
    assert sim.accepted() == []


def test_send_collect_status_are_chinese(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "l.sqlite"
    code, out, err = _zh(["send", *_campaign_args(ledger), "--send"], capsys)
    assert code == 0, err
    assert "这是一个新建的台账文件" in err
    sent = english_left(out + err)

    code, out, err = _zh(
        ["collect", "--ledger", str(ledger), "-c", "春节", "--interval", "0.2", "--timeout", "10"],
        capsys,
    )
    assert code == 0, err
    collected = english_left(out + err)

    code, out, err = _zh(["status", "--ledger", str(ledger)], capsys)
    assert code == 0, err
    assert out.split()[:4] == ["活动", "创建时间", "短信条数", "计费条数"]
    assert "已送达" in out.splitlines()[0]
    listed = english_left(out + err)

    code, out, err = _zh(["status", "--ledger", str(ledger), "-c", "春节"], capsys)
    assert code == 0, err
    one = english_left(out + err)

    code, out, err = _zh(["resend-unknown", "--ledger", str(ledger), "-c", "春节"], capsys)
    assert code == 0, err
    assert "活动 '春节' 有 0 条短信结果未知。" in out
    unknown = english_left(out + err)
    assert {
        "send": sent,
        "collect": collected,
        "status": listed,
        "status -c": one,
        "resend-unknown": unknown,
    } == {"send": [], "collect": [], "status": [], "status -c": [], "resend-unknown": []}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status", "--ledger", "{tmp}/nope.sqlite"], "没有发送台账"),
        (["preview", "{tmp}/missing.csv", "-t", "points_expiry.txt"], "missing.csv"),
        (
            ["export", "-c", "x", "-o", "{tmp}/x.xlsx", "--ledger", "{tmp}/nope.sqlite"],
            "没有发送台账",
        ),
    ],
)
def test_errors_are_one_chinese_line(
    argv: list[str],
    expected: str,
    sim: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _out, err = _zh([a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"mobset-campaign {argv[0]}：") and expected in err
    assert english_left(err) == []


def test_a_campaign_the_ledger_lacks_is_chinese(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "l.sqlite"
    assert main(["send", *_campaign_args(ledger), "--send"]) == 0
    capsys.readouterr()
    code, out, err = _zh(["status", "--ledger", str(ledger), "-c", "夏季"], capsys)
    assert code == 1
    assert err.strip() == f"mobset-campaign status：发送台账 {ledger} 里没有名为 '夏季' 的活动。"
    assert main(["status", "--ledger", str(ledger)]) == 0  # MOBSET_LANG=en: English again
    out = capsys.readouterr().out
    assert out.split()[:4] == ["name", "created", "messages", "parts"]


def test_english_locale_prints_english(sim: Simulator, tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    done = _cli("send", *_campaign_args(ledger), LANG="en_US.UTF-8", **sim.env())
    assert done.returncode == 0, done.stderr
    assert "Dry run: nothing was sent. Add --send to send these messages." in done.stdout
    assert "(none yet: nothing was sent from it; a dry run creates none)" in done.stdout
    done = _cli("status", "--ledger", str(ledger), LANG="en_US.UTF-8")
    assert done.returncode == 1
    assert done.stderr.startswith("mobset-campaign status: No ledger at ")
    assert not has_chinese(done.stderr)
