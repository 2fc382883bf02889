"""The mobset-campaign command line, in-process against the simulator."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from mobset_campaign.cli import build_parser, main
from mobset_campaign.errors import LedgerError
from mobset_campaign.export import DETAILS_SHEET
from mobset_campaign.ledger import Ledger
from mobset_campaign.simulator import Simulator
from mobset_campaign.workbook import field_name, read_campaign_workbook

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
]


@pytest.fixture()
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(seed=3, time_scale=100.0, reply_rate=0.2) as s:
        for name, value in s.env().items():
            monkeypatch.setenv(name, value)
        yield s


@pytest.fixture()
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    pd.DataFrame(
        {
            "姓名": ["张伟", "李娜", "王芳", "坏号码", "重复"],
            "手机号码": [
                "13512346789",
                "+86 139-0000-0001",
                "15800000002",
                "020-12345678",
                "13512346789",
            ],
            "积分": [1200, 300, 88, 5, 1],
            "到期日": ["2026-12-31"] * 5,
            "门店": ["天河店"] * 5,
        }
    ).to_csv(path, index=False)
    return path


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    top = parser.format_help()
    for command in COMMANDS:
        assert command in top
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert "usage:" in out and len(out.splitlines()) > 3, command


def test_missing_credentials_is_one_readable_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["balance"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "MOBSET_CORP_ID" in err and "mobset-campaign simulator" in err
    assert "Traceback" not in err


def test_balance_and_sign(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign"]) == 0
    assert capsys.readouterr().out.strip() == "广州首易"
    assert main(["balance"]) == 0
    assert capsys.readouterr().out.strip() == f"{sim.balance():,}"


def test_send_is_a_dry_run_unless_asked(
    sim: Simulator, contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    args = [
        "send",
        str(contacts),
        "-t",
        "points_expiry.txt",
        "-c",
        "spring",
        "--ledger",
        str(ledger),
    ]
    assert main([*args, "--quiet-hours", "off"]) == 0
    out = capsys.readouterr().out
    assert "Dry run" in out and "--send" in out
    assert sim.accepted() == []

    assert main([*args, "--quiet-hours", "off", "--send"]) == 0
    out = capsys.readouterr().out
    assert sorted(m.phone for m in sim.accepted()) == ["13512346789", "13900000001", "15800000002"]

    # the same command again resends nothing
    assert main([*args, "--quiet-hours", "off", "--send"]) == 0
    assert len(sim.accepted()) == 3

    assert (
        main(
            [
                "collect",
                "-c",
                "spring",
                "--ledger",
                str(ledger),
                "--interval",
                "0.2",
                "--timeout",
                "5",
            ]
        )
        == 0
    )
    assert main(["status", "-c", "spring", "--ledger", str(ledger)]) == 0
    status = capsys.readouterr().out
    assert "spring" in status and re.search(r"messages\s+3\b", status)

    out_xlsx = tmp_path / "out" / "spring.xlsx"
    assert (
        main(
            [
                "export",
                str(contacts),
                "-t",
                "points_expiry.txt",
                "-c",
                "spring",
                "--ledger",
                str(ledger),
                "-o",
                str(out_xlsx),
            ]
        )
        == 0
    )
    book = openpyxl.load_workbook(out_xlsx)
    details = book[DETAILS_SHEET]
    header = [field_name(c.value) for c in details[1]]  # 发送状态 send_state → send_state
    assert "send_state" in header and "姓名" in header
    assert details.max_row == 6  # every contact row, the broken ones included


def test_send_with_an_unknown_template_fails_cleanly(
    sim: Simulator, contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "send",
            str(contacts),
            "-t",
            "no_such_template.txt",
            "-c",
            "x",
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "no_such_template" in err and "Traceback" not in err
    assert sim.accepted() == []


def test_missing_contacts_file_names_it(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.xlsx"
    assert main(["preview", str(missing), "-t", "points_expiry.txt"]) == 1
    assert "nope.xlsx" in capsys.readouterr().err


def test_cancel_scheduled_campaign(
    sim: Simulator, contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    later = (pd.Timestamp.now(tz="Asia/Shanghai") + pd.Timedelta(days=2)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    args = [
        "send",
        str(contacts),
        "-t",
        "points_expiry.txt",
        "-c",
        "later",
        "--ledger",
        str(ledger),
    ]
    assert main([*args, "--timer-send", later, "--quiet-hours", "off", "--send"]) == 0
    balance_after_send = sim.balance()
    assert main(["cancel", "-c", "later", "--ledger", str(ledger)]) == 0
    assert sim.balance() > balance_after_send  # the simulator refunds cancelled messages
    with Ledger(ledger) as book:
        states = set(book.status_frame("later")["send_state"])
    assert states == {"cancelled"}


def test_simulator_subcommand_runs_as_a_process() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "mobset_campaign.cli", "simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert "listening on http://127.0.0.1:" in first
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _at(hms: str) -> Any:
    """A clock stopped at ``hms`` Beijing time on 2026-12-02."""
    stopped = datetime.strptime(f"2026-12-02 {hms}", "%Y-%m-%d %H:%M:%S")
    return lambda: stopped


@pytest.mark.parametrize(
    ("hms", "open_"),
    [("07:59:59", False), ("08:00:00", True), ("19:59:59", True), ("20:00:00", False)],
)
def test_send_keeps_the_default_window_and_says_so_in_flags(
    sim: Simulator,
    contacts: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    hms: str,
    open_: bool,
) -> None:
    """The CLI's own default window (no --quiet-hours), on both sides of each edge; a stop
    is exit 3 with its `Stopped:` line on stderr, advising flags, not Python parameters."""
    args = ["send", str(contacts), "-t", "points_expiry.txt", "-c", "w", "--ledger",
            str(tmp_path / "l.sqlite"), "--send"]  # fmt: skip
    status = main(args, clock=_at(hms))
    out, err = capsys.readouterr()
    if open_:
        assert status == 0 and len(sim.accepted()) == 3
        assert "Stopped" not in out + err
        return
    assert status == 3 and sim.accepted() == []
    stop = [line for line in err.splitlines() if line.startswith("Stopped:")]
    assert len(stop) == 1 and "Stopped" not in out
    assert f"it is {hms[:5]} in Beijing, outside the sending window 08:00–20:00" in stop[0]
    assert "--wait" in stop[0] and "--quiet-hours off" in stop[0]
    assert "the same command" in stop[0]
    assert "wait_for_window" not in err and "quiet_hours=" not in err


@pytest.mark.parametrize("command", ["status", "collect", "export", "cancel", "resend-unknown"])
def test_reading_commands_never_create_a_ledger(
    sim: Simulator, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.sqlite"
    extra = {"export": ["-o", str(tmp_path / "x.xlsx")]}.get(command, [])
    assert main([command, "-c", "spring", "--ledger", str(missing), *extra]) == 1
    err = capsys.readouterr().err
    assert "No ledger at" in err and "typo.sqlite" in err
    assert not missing.exists()
    assert sim.requests["total"] == 0  # collect did not take anything from the gateway


@pytest.mark.parametrize("option", [["--price", "-1"], ["--rate", "0"], ["--rate", "fast"]])
def test_numbers_must_be_positive(
    contacts: Path, option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["send", str(contacts), "-t", "points_expiry.txt", "-c", "x", *option])
    assert done.value.code == 2
    assert option[0] in capsys.readouterr().err


def _full_ledgers(monkeypatch: pytest.MonkeyPatch, extra_pages: int) -> None:
    """Every ledger the command opens can grow by only a few pages (a full disk)."""
    import sqlite3

    import mobset_campaign.ledger._store as store

    real = sqlite3.connect

    def small(*args: object, **kw: object) -> sqlite3.Connection:
        conn = real(*args, **kw)  # type: ignore[arg-type]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + extra_pages}")
        return conn

    monkeypatch.setattr(store.sqlite3, "connect", small)


def test_a_full_ledger_is_one_readable_line_for_send_and_collect(
    sim: Simulator,
    contacts: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    many = tmp_path / "many.csv"  # 60 numbers: their reports need more room than is left
    pd.DataFrame({"手机": [f"1390000{i:04d}" for i in range(60)]}).to_csv(many, index=False)
    send = ["send", str(many), "-t", "您好，周末见", "-c", "c", "--ledger", str(ledger)]
    assert main([*send, "--quiet-hours", "off", "--send"]) == 0
    capsys.readouterr()
    sim.clock.advance(30)
    with monkeypatch.context() as patched:
        _full_ledgers(patched, 0)
        code = main(["collect", "--ledger", str(ledger), "--once", "--interval", "0"])
        err = capsys.readouterr().err.strip()
        assert code == 1 and "Traceback" not in err and "OperationalError" not in err
        assert len(err.splitlines()) == 1 and err.startswith("mobset-campaign collect: ")
        assert "saved to" in err  # the fetched body is kept, never lost
        code = main([*send, "-c", "d", "--quiet-hours", "off", "--send"])
        err = capsys.readouterr().err.strip()
        assert code == 1 and "Traceback" not in err and "OperationalError" not in err
        assert len(err.splitlines()) == 1 and "full" in err
    # and nothing was lost: the next collect imports the kept body
    assert main(["collect", "--ledger", str(ledger), "--once", "--interval", "0"]) == 0
    assert "Imported 1 body" in capsys.readouterr().out



def _sent_campaign(contacts: Path, ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["send", str(contacts), "-t", "points_expiry.txt", "-c", "spring", "--ledger",
            str(ledger), "--quiet-hours", "off", "--opt-out", "--send"]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["send", "--campaign", "x"])  # no contacts, no template
    assert done.value.code == 2
    assert "required" in capsys.readouterr().err


def test_collect_that_times_out_with_work_left_exits_3(
    contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    ledger = tmp_path / "l.sqlite"
    with Simulator(seed=4, manual_clock=True) as sim:  # reports never come due
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        _sent_campaign(contacts, ledger, capsys)
        status = main(["collect", "-c", "spring", "--ledger", str(ledger), "--interval", "0.1",
                       "--timeout", "0.3"])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 3
    assert "Stopped: timeout" in err and "Stopped" not in out
    assert "3 still without one" in out


def test_export_from_the_ledger_alone_or_with_the_contacts_own_columns(
    sim: Simulator, contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ledger keeps every text it sent: export needs neither the contacts, nor the
    template, nor --opt-out again; the contacts add the user's own columns."""
    ledger = tmp_path / "l.sqlite"
    _sent_campaign(contacts, ledger, capsys)
    alone, mine = tmp_path / "alone.xlsx", tmp_path / "mine.xlsx"
    assert main(["export", "-c", "spring", "--ledger", str(ledger), "-o", str(alone)]) == 0
    assert main(["export", str(contacts), "-c", "spring", "--ledger", str(ledger),
                 "-o", str(mine)]) == 0  # fmt: skip
    rows = read_campaign_workbook(alone).details
    assert len(rows) == 3 and rows["content"].str.endswith("拒收请回复R").all()
    rows = read_campaign_workbook(mine).details
    assert len(rows) == 5 and "姓名" in rows.columns  # every contact, the skipped ones too
    sent = rows[rows["send_state"] == "sent"]
    assert len(sent) == 3 and sent["content"].str.contains("张伟|李娜|王芳").all()
    assert sent["parts"].notna().all()
    assert main(["export", "-c", "nope", "--ledger", str(ledger), "-o", str(alone)]) == 1
    assert "no campaign named 'nope'" in capsys.readouterr().err


def test_export_has_native_charts_unless_told_and_labels_in_the_language_asked(
    sim: Simulator, contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line's workbook is the library's default one (native charts in the
    summary); --no-charts leaves them out, --pictures adds the PNGs, --labels picks one
    language."""
    import zipfile

    ledger = tmp_path / "l.sqlite"
    _sent_campaign(contacts, ledger, capsys)
    base = ["export", "-c", "spring", "--ledger", str(ledger), "-o"]

    def parts(path: Path) -> list[str]:
        with zipfile.ZipFile(path) as book:
            return book.namelist()

    plain, bare, both, chinese = (tmp_path / f"{n}.xlsx" for n in ("plain", "bare", "both", "zh"))
    assert main([*base, str(plain)]) == 0
    assert main([*base, str(bare), "--no-charts"]) == 0
    assert main([*base, str(both), "--pictures"]) == 0
    assert main([*base, str(chinese), "--labels", "zh"]) == 0
    assert any(p.startswith("xl/charts/chart") for p in parts(plain))
    assert not any(p.startswith("xl/charts/") for p in parts(bare))
    assert any(p.startswith("xl/media/") for p in parts(both))
    assert not any(p.startswith("xl/media/") for p in parts(plain))
    assert openpyxl.load_workbook(chinese, read_only=True).sheetnames == ["汇总", "明细", "回复"]
    assert len(read_campaign_workbook(chinese).details) == 3


def _read_only_copy(ledger: Path, where: Path) -> Iterator[Path]:
    """``ledger`` copied onto read-only media: a tmpfs remounted read-only when this process
    may mount (root), else a folder and file without write permission."""
    import os
    import shutil

    where.mkdir()
    mounted = False
    if os.geteuid() == 0:
        made = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(where)], capture_output=True)
        mounted = made.returncode == 0
        if not mounted:
            pytest.skip(f"running as root without permission to mount: {made.stderr!r}")
    copy = where / ledger.name
    shutil.copy(ledger, copy)
    try:
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        else:
            copy.chmod(0o444)
            where.chmod(0o555)
        yield copy
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=True)
        else:
            where.chmod(0o755)


def test_status_and_export_read_a_ledger_on_read_only_media(
    sim: Simulator, contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "l.sqlite"
    _sent_campaign(contacts, ledger, capsys)
    gen = _read_only_copy(ledger, tmp_path / "media")
    copy = next(gen)
    try:
        assert main(["status", "-c", "spring", "--ledger", str(copy)]) == 0
        assert re.search(r"messages\s+3\b", capsys.readouterr().out)
        out = tmp_path / "ro.xlsx"
        assert main(["export", "-c", "spring", "--ledger", str(copy), "-o", str(out)]) == 0
        assert len(pd.read_excel(out, sheet_name=DETAILS_SHEET, engine="calamine")) == 3
        status = main(["send", str(contacts), "-t", "points_expiry.txt", "-c", "spring",
                       "--ledger", str(copy), "--quiet-hours", "off", "--send"])  # fmt: skip
        err = capsys.readouterr().err
        assert status == 1 and len(err.strip().splitlines()) == 1
        assert "cannot be written where it is" in err and "copy it to a folder" in err
    finally:
        next(gen, None)


def test_resend_unknown_lists_and_resends_only_when_asked(
    sim: Simulator, contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "l.sqlite"
    sim.inject("SmsSend", "drop_after_accept", times=1)
    args = ["send", str(contacts), "-t", "points_expiry.txt", "-c", "spring", "--ledger",
            str(ledger), "--quiet-hours", "off", "--concurrency", "1", "--send"]  # fmt: skip
    main(args)
    capsys.readouterr()
    base = ["resend-unknown", "-c", "spring", "--ledger", str(ledger), "--quiet-hours", "off"]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "1 message of 'spring' has an unknown outcome" in out and "Dry run" in out
    assert len(sim.accepted()) == 3  # nothing resent by listing
    assert main([*base, "--send"]) == 0
    assert len(sim.accepted()) == 4  # the dropped answer's number, sent again on purpose
    assert "0 messages of 'spring'" in (main(base), capsys.readouterr().out)[1]


@pytest.mark.parametrize(
    ("file_text", "argv", "says"),
    [
        ('手机,姓名\n13512346789,"张三\n13612345678,李四\n', ["preview"], "is never closed"),
        ("手机,姓名\n13512346789,张三\n", ["preview", "-t", "{{ namespace }}"], "Jinja's own"),
        ("手机,姓名\n13512346789,张三\n", ["preview", "-t", "{{ dict }}"], "Jinja's own"),
        ("手机,姓名\n13512346789,张三\n", ["preview", "-t", "{{ 姓名 | truncate(-1) }}"],
         "row 2: a filter"),
        ("手机,姓名\n13512346789,张三\n",
         ["preview", "-t", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"], "calls itself"),
        ("手机,姓名\n13512346789,张三\n", ["send", "-c", "x", "--rate", "1e-10"],
         "--rate 1e-10 is out of range"),
        ("手机,姓名\n13512346789,张三\n", ["send", "-c", "x", "--concurrency", "100000"],
         "--concurrency 100000 is out of range"),
        ("手机,姓名\n13512346789,张三\n", ["preview", "--price", "1e300"],
         "--price 1e+300 is out of range"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_on_stderr_and_exit_1(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, file_text: str, argv: list[str], says: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("MOBSET_LEDGER", str(tmp_path / "never.sqlite"))
    path = tmp_path / "list.csv"
    path.write_text(file_text, encoding="utf-8")
    template = [] if "-t" in argv else ["-t", "{{ 姓名 }}您好"]
    assert main([argv[0], str(path), *template, *argv[1:]]) == 1
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "never.sqlite").exists()
    assert sim.requests.get("SmsSend", 0) == 0


def test_a_list_of_bare_numbers_is_read_whole_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bare.csv"
    path.write_text("13512346789\n13612345678\n", encoding="utf-8")
    assert main(["preview", str(path), "-t", "您好", "-n", "5"]) == 0
    out, err = capsys.readouterr()
    assert "2 sendable of 2 rows" in out
    assert err.startswith("Note: ") and "row 1 holds data (13512346789)" in err
    assert "--header-row 1" in err and "header=0" not in err and "InputWarning" not in err
    assert main(["preview", str(path), "-t", "您好", "--no-header"]) == 0
    out, err = capsys.readouterr()
    assert "2 sendable of 2 rows" in out and err == ""
    assert main(["preview", str(path), "-t", "您好", "--header-row", "1",
                 "--phone-column", "13512346789"]) == 0  # fmt: skip
    assert "1 sendable of 1 row" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["preview", str(path), "-t", "您好", "--header-row", "1", "--no-header"])
    assert done.value.code == 2


def test_every_command_runs_on_a_postgres_ledger(
    sim: Simulator, contacts: Path, tmp_path: Path, postgres_db_url: str,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """--ledger postgresql://… (or MOBSET_LEDGER) on every command that takes a ledger; the
    URL's password is never printed."""
    url = postgres_db_url.replace("postgres@", "postgres:pw-s3cret@", 1)
    led = ["--ledger", url]
    assert main(["send", str(contacts), "-t", "points_expiry.txt", "-c", "spring", *led]) == 0
    out = capsys.readouterr().out
    assert "none yet" in out and "pw-s3cret" not in out  # a dry run creates no ledger
    with pytest.raises(LedgerError, match="no ledger"):
        Ledger(url, read_only=True)
    assert main(["send", str(contacts), "-t", "points_expiry.txt", "-c", "spring", *led,
                 "--quiet-hours", "off", "--opt-out", "--send"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert "3 accepted" in out and "NEW ledger" in err and "pw-s3cret" not in out + err
    assert main(["collect", "-c", "spring", *led, "--interval", "0.1", "--timeout", "20"]) == 0
    monkeypatch.setenv("MOBSET_LEDGER", url)  # the environment names it as well
    assert main(["status", "-c", "spring"]) == 0
    assert "3" in capsys.readouterr().out
    book = tmp_path / "pg.xlsx"
    assert main(["export", "-c", "spring", "-o", str(book)]) == 0
    rows = pd.read_excel(book, sheet_name=DETAILS_SHEET, dtype=str, engine="calamine")
    assert len(rows) == 3
    assert main(["resend-unknown", "-c", "spring"]) == 0
    assert main(["cancel", "-c", "spring"]) == 0
    out, err = capsys.readouterr()
    assert "pw-s3cret" not in out + err
    assert main(["status", "-c", "spring", "--ledger", url.replace("/t_", "/nope_")]) == 1
    err = capsys.readouterr().err
    assert "pw-s3cret" not in err and "nope_" in err and len(err.strip().splitlines()) == 1
