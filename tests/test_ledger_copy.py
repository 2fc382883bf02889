"""ledger copy: a whole ledger into a new one, SQLite ↔ PostgreSQL, every row and id kept."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import pytest
from _postgres import fresh_database

from mobset_campaign.cli import main
from mobset_campaign.collector import collect
from mobset_campaign.contacts import read_contacts
from mobset_campaign.errors import InputError, LedgerError
from mobset_campaign.ledger import CopyReport, Ledger, copy_ledger
from mobset_campaign.ledger._schema import MIGRATIONS
from mobset_campaign.ledger.copying import TABLES
from mobset_campaign.render import render
from mobset_campaign.sender import send
from mobset_campaign.simulator import Simulator

CAMPAIGN = "积分到期-12月"
OTHER = "spring"
TEMPLATE = "【门店】{{ 姓名 }}您好，您的{{ 积分 }}积分将于{{ 到期日 }}到期。"


def _contacts(path: Path, n: int, *, start: int = 0) -> Path:
    pd.DataFrame(
        {
            "姓名": [f"客户{i}" for i in range(start, start + n)],
            "手机号码": [f"1390000{i:04d}" for i in range(start, start + n)],
            "积分": [100 + i for i in range(start, start + n)],
            "到期日": ["2026-12-31"] * n,
        }
    ).to_csv(path, index=False)
    return path


def _campaign(tmp_path: Path, name: str, n: int, *, start: int = 0) -> pd.DataFrame:
    return render(
        read_contacts(_contacts(tmp_path / f"{name}.csv", n, start=start)), TEMPLATE, opt_out=True
    )


def _build(path: str, tmp_path: Path) -> None:
    """A real campaign ledger: two campaigns sent to the simulator, reports and replies
    collected (an opt-out among them), reports for SmsIds it never sent, a number suppressed
    by hand and a campaign lock still held."""
    with (
        Ledger(path) as ledger,
        Simulator(seed=7, manual_clock=True, report_delay=(1, 1), reply_rate=0) as sim,
    ):
        client = sim.client()
        first = send(
            _campaign(tmp_path, CAMPAIGN, 40),
            client,
            campaign=CAMPAIGN,
            ledger=ledger,
            quiet_hours=None,
            progress=False,
        )
        assert first.accepted == 40
        sim.clock.advance(5)
        sim.inject_reply("13900000001", "退订")
        sim.inject_reply("13900000002", "几点开门？")
        sim.inject_reply("13900000002", "好的 谢谢")
        client.send(["13700000001", "13700000002"], "another tool on the same account")
        collect(client, ledger, until=None, min_interval=0, progress=False)
        ledger.suppress("13900000003", reason="asked by phone")
        second = send(
            _campaign(tmp_path, OTHER, 12),
            client,
            campaign=OTHER,
            ledger=ledger,
            quiet_hours=None,
            progress=False,
        )
        assert second.accepted == 10  # two numbers opted out
        sim.clock.advance(5)
        collect(client, ledger, until=None, min_interval=0, progress=False)
        ledger.ensure_campaign("held")
        ledger.lock_campaign("held", "send")  # kept: campaign_locks rows, two senders
        ledger.lock_campaign("held", "send")  # of one campaign (keyed by campaign and holder)


@pytest.fixture
def built(tmp_path: Path) -> str:
    path = str(tmp_path / "source.sqlite")
    _build(path, tmp_path)
    return path


def _rows(ledger: Ledger) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (sorted here: text sorts by collation in PostgreSQL)."""
    return {
        t: sorted(ledger._read(f"SELECT * FROM {t}"), key=lambda row: [str(v) for v in row])
        for t in TABLES
    }


def _frames(ledger: Ledger) -> dict[str, pd.DataFrame]:
    return {
        "status": ledger.status_frame(CAMPAIGN),
        "status other": ledger.status_frame(OTHER),
        "replies": ledger.replies_frame(CAMPAIGN),
        "all replies": ledger.replies_frame(),
        "reports": ledger.reports_frame(),
        "unmatched reports": ledger.reports_frame(unmatched=True),
        "campaigns": ledger.campaigns(),
        "suppression": ledger.suppression_frame(),
        "inbox": ledger.inbox_frame(),
    }


def _assert_same_ledger(a: Ledger, b: Ledger) -> None:
    left, right = _frames(a), _frames(b)
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)
    assert _rows(a) == _rows(b)
    assert a.counts(CAMPAIGN) == b.counts(CAMPAIGN)
    assert a.suppressed_phones() == b.suppressed_phones()


def test_sqlite_to_postgres_and_back_keeps_everything(
    built: str, postgres_db_url: str, tmp_path: Path
) -> None:
    back = str(tmp_path / "back.sqlite")
    there = copy_ledger(built, postgres_db_url, chunk_size=7)  # several chunks per table
    again = copy_ledger(postgres_db_url, back, chunk_size=1)  # a page per row
    with (
        Ledger(built, read_only=True) as source,
        Ledger(postgres_db_url) as pg,
        Ledger(back, read_only=True) as returned,
    ):
        assert pg.is_postgres
        _assert_same_ledger(source, pg)
        _assert_same_ledger(source, returned)
        rows = _rows(source)
        frames = _frames(source)
    # the ledger is a real one: every table has rows, reports point at their messages
    assert all(rows[t] for t in TABLES), {t: len(r) for t, r in rows.items()}
    assert len(rows["campaign_locks"]) == 2
    assert frames["suppression"]["phone"].tolist() == ["13900000001", "13900000003"]
    assert len(frames["unmatched reports"]) == 2
    assert frames["status"]["status"].notna().all() and frames["status"]["opted_out"].any()
    assert frames["replies"]["opt_out"].tolist().count(True) == 1
    assert there.counts == again.counts == {t: len(rows[t]) for t in TABLES}
    assert there.version == again.version == MIGRATIONS[-1][0]


def test_report_says_the_counts_were_verified(built: str, tmp_path: Path) -> None:
    report = copy_ledger(built, tmp_path / "copy.sqlite")
    assert isinstance(report, CopyReport)
    text = str(report)
    assert "verified: every table has the same number of rows" in text
    for table in TABLES:
        assert re.search(rf"^  {table}\s+{report.counts[table]:,}$", text, re.M), table
    assert re.search(rf"total\s+{report.rows:,} rows", text)
    assert report.source == built and report.destination == str(tmp_path / "copy.sqlite")


def test_a_postgres_copy_goes_on_sending_with_new_ids(built: str, postgres_db_url: str) -> None:
    copy_ledger(built, postgres_db_url)
    with Ledger(postgres_db_url) as ledger:
        top = {t: ledger._read(f"SELECT MAX(id) FROM {t}")[0][0] for t in ("batches", "messages")}
        top["inbox"] = ledger._read("SELECT MAX(id) FROM inbox")[0][0]
        ledger.ensure_campaign("after the copy")
        done = ledger.register("after the copy", [("k1", "13500000001", "hi", 1)])
        assert done.new == 1
        (message,) = ledger.messages("after the copy").values()
        claim = ledger.claim("after the copy", [message.id])
        assert message.id > top["messages"] and claim.batch_id > top["batches"]
        assert [c.message_id for c in claim.messages] == [message.id]
        # and a whole campaign: send, reports and replies on the copy
        with Simulator(seed=8, manual_clock=True, report_delay=(1, 1), reply_rate=0) as sim:
            client = sim.client()
            frame = pd.DataFrame(
                {
                    "phone": ["13600000001", "13600000002", "13900000001"],
                    "content": ["新活动"] * 3,
                    "parts": [1] * 3,
                    "sendable": [True] * 3,
                }
            )
            summary = send(
                frame, client, campaign=OTHER, ledger=ledger, quiet_hours=None, progress=False
            )
            assert summary.accepted == 2  # 13900000001 opted out before the copy
            sim.clock.advance(5)
            sim.inject_reply("13600000001", "收到")
            collect(client, ledger, until=None, min_interval=0, progress=False)
        assert ledger._read("SELECT MIN(id) FROM inbox WHERE id > ?", (top["inbox"],))[0][0]
        status = ledger.status_frame(OTHER).set_index("phone")
        assert status.loc["13600000001", "reply"] == "收到"
        assert status.loc["13600000002", "send_state"] in ("delivered", "failed")


def test_postgres_to_postgres_and_sqlite_to_sqlite(
    built: str, postgres_url: str, postgres_db_url: str, tmp_path: Path
) -> None:
    copy_ledger(built, tmp_path / "copy.sqlite")
    copy_ledger(tmp_path / "copy.sqlite", postgres_db_url)
    with fresh_database(postgres_url) as second:
        report = copy_ledger(postgres_db_url, second)
        with Ledger(built, read_only=True) as a, Ledger(second, read_only=True) as b:
            _assert_same_ledger(a, b)
    assert report.counts["messages"] == 50


def test_an_empty_ledger_is_a_valid_destination(built: str, ledger_url: str) -> None:
    Ledger(ledger_url).close()  # a new ledger, no rows (a PostgreSQL one for this to matter)
    if not ledger_url.startswith("postgresql"):
        Path(ledger_url).unlink()  # a SQLite destination must not exist yet
        for side in ("-wal", "-shm"):
            Path(ledger_url + side).unlink(missing_ok=True)
    report = copy_ledger(built, ledger_url)
    assert report.counts["messages"] == 50


# ------------------------------------------------------------------ refusals


def test_a_destination_with_data_is_refused_and_left_alone(built: str, ledger_url: str) -> None:
    with Ledger(ledger_url) as other:
        other.ensure_campaign("someone else's")
    with pytest.raises(InputError) as caught:
        copy_ledger(built, ledger_url)
    text = str(caught.value)
    assert "\n" not in text
    if ledger_url.startswith("postgresql"):
        assert "already holds data (rows: campaigns 1)" in text and "never merged" in text
    else:
        assert "already exists" in text and "never merged" in text
    with Ledger(ledger_url, read_only=True) as other:
        assert other.campaigns()["name"].tolist() == ["someone else's"]
        assert other.status_frame(CAMPAIGN).empty


def test_a_missing_source_is_refused(postgres_db_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"There is no ledger at .*nowhere.sqlite to copy"):
        copy_ledger(tmp_path / "nowhere.sqlite", tmp_path / "copy.sqlite")
    with pytest.raises(InputError, match="There is no ledger at postgresql://"):
        copy_ledger(postgres_db_url, tmp_path / "copy.sqlite")  # a database without a ledger
    assert not (tmp_path / "copy.sqlite").exists()


def test_copying_a_ledger_onto_itself_is_refused(built: str, postgres_db_url: str) -> None:
    before = Path(built).read_bytes()
    with pytest.raises(InputError, match="the same ledger"):
        copy_ledger(built, built)
    with pytest.raises(InputError, match="the same ledger"):
        copy_ledger(built, str(Path(built).parent / "." / Path(built).name))
    assert Path(built).read_bytes() == before
    Ledger(postgres_db_url).close()  # an empty PostgreSQL ledger, reached by two spellings
    parts = urlsplit(postgres_db_url)
    other = urlunsplit(parts._replace(netloc=parts.netloc.replace("127.0.0.1", "localhost")))
    for dst in (postgres_db_url, other):
        with pytest.raises(InputError, match="the same database"):
            copy_ledger(postgres_db_url, dst)


def test_memory_ledgers_are_refused(built: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not ':memory:'"):
        copy_ledger(built, ":memory:")
    with pytest.raises(InputError, match="not ':memory:'"):
        copy_ledger(":memory:", tmp_path / "copy.sqlite")


def test_an_older_source_must_be_upgraded_first(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
        for number, name, sql in MIGRATIONS[:2]:
            conn.executescript(sql)
            conn.execute("INSERT INTO migrations VALUES (?, ?, '2025-01-01')", (number, name))
    conn.close()
    with pytest.raises(LedgerError, match=r"older mobset_campaign.*open it once for writing"):
        copy_ledger(old, tmp_path / "copy.sqlite")
    assert not (tmp_path / "copy.sqlite").exists()
    Ledger(old).close()  # upgraded
    assert copy_ledger(old, tmp_path / "copy.sqlite").version == MIGRATIONS[-1][0]


def test_answers_kept_beside_the_source_must_be_recorded_first(built: str, tmp_path: Path) -> None:
    kept = Path(built + ".unsaved-SmsGetRecv-20250101T000000000000Z-1.json")
    kept.write_text("{}", encoding="utf-8")
    with pytest.raises(LedgerError, match=r"1 gateway answer kept beside it.*collect --once"):
        copy_ledger(built, tmp_path / "copy.sqlite")
    assert not (tmp_path / "copy.sqlite").exists()


# ------------------------------------------------------------------ a failure mid-copy


def _broken(tmp_path: Path, built: str) -> str:
    """A copy of ``built`` with a reply pointing at a message that is not there (written
    with the foreign keys off): the destination refuses it at the replies table, after the
    campaigns, batches, messages, inbox and reports were written."""
    broken = tmp_path / "broken.sqlite"
    with sqlite3.connect(built) as conn:
        conn.execute("VACUUM INTO ?", (str(broken),))
    conn.close()
    with sqlite3.connect(broken) as conn:
        conn.execute(
            "UPDATE replies SET message_id = 999999 WHERE id = (SELECT MAX(id) FROM replies)"
        )
    conn.close()
    return str(broken)


def test_a_failure_leaves_no_partial_postgres_copy(
    built: str, postgres_db_url: str, tmp_path: Path
) -> None:
    with pytest.raises(LedgerError) as caught:
        copy_ledger(_broken(tmp_path, built), postgres_db_url, chunk_size=5)
    text = str(caught.value)
    assert "failed at the table replies" in text and "nothing was copied" in text
    assert "rolled back" in text and "\n" not in text
    with Ledger(postgres_db_url, read_only=True) as left:
        assert {t: len(r) for t, r in _rows(left).items()} == dict.fromkeys(TABLES, 0)
    copy_ledger(built, postgres_db_url)  # the empty ledger left behind takes a good copy


def test_a_failure_leaves_no_sqlite_file(built: str, tmp_path: Path) -> None:
    target = tmp_path / "copy.sqlite"
    with pytest.raises(LedgerError, match=r"failed at the table replies.*the new file was removed"):
        copy_ledger(_broken(tmp_path, built), target)
    assert not list(tmp_path.glob("copy.sqlite*"))


def test_every_table_of_the_schema_is_copied() -> None:
    created = {
        name
        for _, _, sql in MIGRATIONS
        for name in re.findall(r"CREATE TABLE (\w+)", sql)
        if not name.endswith("_new")
    }
    assert created == set(TABLES)


# ------------------------------------------------------------------ the command line


@pytest.fixture
def with_password(postgres_db_url: str) -> Iterator[str]:
    """The test server trusts local connections: a password in the URL is ignored there,
    which lets a test check that it is never printed."""
    parts = urlsplit(postgres_db_url)
    netloc = f"{parts.username or 'postgres'}:s3cret-Pw@{parts.hostname}:{parts.port}"
    yield urlunsplit(parts._replace(netloc=netloc))


def test_the_command_copies_and_says_it_verified(
    built: str, with_password: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "copy", built, with_password]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "verified: every table has the same number of rows" in out
    assert re.search(r"^  messages\s+50$", out, re.M) and "s3cret" not in out
    assert "postgresql://" in out and ":***@" in out
    assert main(["ledger", "copy", with_password, str(tmp_path / "back.sqlite")]) == 0
    out, _ = capsys.readouterr()
    assert "verified" in out and "s3cret" not in out
    with Ledger(built, read_only=True) as a, Ledger(str(tmp_path / "back.sqlite")) as b:
        _assert_same_ledger(a, b)


def test_the_command_refuses_in_one_line(
    built: str, with_password: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "copy", built, with_password]) == 0
    capsys.readouterr()
    assert main(["ledger", "copy", built, with_password]) == 1  # not empty any more
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("mobset-campaign ledger: The ledger postgresql://")
    assert "already holds data" in err and "s3cret" not in err


def test_the_command_needs_its_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ledger"])
    assert done.value.code == 2
    with pytest.raises(SystemExit) as done:
        main(["ledger", "copy", "--help"])
    assert done.value.code == 0
    assert "SRC" in capsys.readouterr().out
