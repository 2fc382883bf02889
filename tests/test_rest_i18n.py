"""The ledger's errors, the frame checks and the skip reasons read in Chinese under
``using_language("zh")`` (no English sentence left, never a password) and as before in
English; skip reasons written in Chinese are counted under the same kinds as English ones."""

from __future__ import annotations

import re
import socket
import sqlite3
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import mobset_campaign as mc
from mobset_campaign.errors import InputError, LedgerError
from mobset_campaign.ledger import Ledger, copy_ledger, ledger_exists
from mobset_campaign.outcomes import reason_kind, summarize, summary_table
from mobset_campaign.phones import normalise_phones
from mobset_campaign.rows import Skip, require_columns, skip_reasons
from mobset_campaign.skips import NOT_REGISTERED, not_registered, skip_kind

CJK = re.compile(r"[\u4e00-\u9fff]")
#: Three English words in a row: a sentence (or its piece) left untranslated.
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?:[ ,;:'-]+[A-Za-z]{2,}){2,}\b")
#: What may stay English: the database's or the driver's own words, code, paths.
ALLOWED = re.compile(r"\((?:[^()（）]|\([^()]*\))*\)|[A-Za-z_.]+\([^)]*\)|/[\w/.-]+")
SECRET = "s3cr3t-pw"
NOW = datetime(2026, 12, 25, 9, 30)


def _chinese(message: str, *allowed: str) -> None:
    """A message in Chinese: Chinese words, no English sentence but in ``allowed`` parts."""
    assert CJK.search(message), message
    left = message
    for part in allowed:
        left = left.replace(part, " ")
    assert not ENGLISH.findall(left), (ENGLISH.findall(left), message)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------ frames


def test_a_missing_column_is_said_in_chinese() -> None:
    df = pd.DataFrame({"name": ["王"], "city": ["广州"]})
    with mc.using_language("zh"), pytest.raises(InputError) as caught:
        mc.merge_status(df, Ledger(":memory:"), "spring")
    message = str(caught.value)
    assert message.startswith("merge_status：数据表中没有 'phone' 列（现有列：name, city）。")
    _chinese(message, "read_contacts()", "render()")
    with pytest.raises(InputError, match=r"the frame has no 'phone' column \(it has name, city\)"):
        mc.merge_status(df, Ledger(":memory:"), "spring")


def test_several_missing_columns_and_a_wrong_type_in_chinese() -> None:
    with mc.using_language("zh"):
        with pytest.raises(InputError) as caught:
            require_columns(pd.DataFrame({"x": [1]}), ("phone", "content"), "estimate")
        assert "'phone', 'content' 列" in str(caught.value)
        with pytest.raises(InputError) as caught:
            require_columns([1, 2], ("phone",), "estimate")
        assert str(caught.value) == "estimate：需要一个 pandas DataFrame，得到的是 list。"
    with pytest.raises(InputError, match="no 'phone', 'content' columns"):
        require_columns(pd.DataFrame({"x": [1]}), ("phone", "content"), "estimate")


# ------------------------------------------------------------------------ SQLite ledgers


def test_a_file_that_is_not_a_ledger_is_said_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"this is not a database, just some notes" * 200)
    with mc.using_language("zh"):
        with pytest.raises(LedgerError) as caught:
            Ledger(path)
        message = str(caught.value)
        assert message.startswith(f"无法打开发送台账 {path}：")
        assert (
            "它是 mobset_campaign 的台账吗？请给 Ledger() 另一个路径，或把该文件移走。" in message
        )
        with pytest.raises(LedgerError) as caught:
            Ledger(path, read_only=True)
        assert str(caught.value).startswith(f"无法读取发送台账 {path}（")
        with pytest.raises(LedgerError) as caught:
            Ledger(tmp_path / "nowhere.sqlite", read_only=True)
        assert caught.value.reason == "missing"
        _chinese(str(caught.value), str(tmp_path / "nowhere.sqlite"))
        with pytest.raises(LedgerError) as caught:
            Ledger(tmp_path / "no" / "such" / "folder.sqlite")
        _chinese(str(caught.value), str(tmp_path / "no" / "such"), "Ledger()")
    with pytest.raises(LedgerError, match="Is it a mobset_campaign ledger"):
        Ledger(path)


def test_an_older_ledger_opened_read_only_says_so_in_chinese_with_its_reason(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM migrations WHERE id = (SELECT MAX(id) FROM migrations)")
    conn.close()
    with mc.using_language("zh"), pytest.raises(LedgerError) as caught:
        Ledger(path, read_only=True)
    assert caught.value.reason == "outdated"
    assert "由旧版 mobset_campaign 写入" in str(caught.value)
    assert "请把它复制到可写的文件夹并使用副本。" in str(caught.value)
    with mc.using_language("zh"), pytest.raises(LedgerError) as copied:
        copy_ledger(str(path), str(tmp_path / "copy.sqlite"))
    assert CJK.search(str(copied.value))  # copying recognises it by its reason, in Chinese too


def test_a_closed_ledger_and_a_nameless_campaign_in_chinese() -> None:
    ledger = Ledger(":memory:")
    ledger.close()
    with mc.using_language("zh"):
        with pytest.raises(
            LedgerError, match=r"^发送台账 :memory: 已关闭；请新建一个 Ledger\(\)。$"
        ):
            ledger.counts("spring")
        with pytest.raises(InputError, match="活动需要一个名称"):
            Ledger(":memory:").ensure_campaign("  ")


# ------------------------------------------------------------------------ PostgreSQL


def test_a_postgres_server_that_cannot_be_reached_in_chinese_without_its_password() -> None:
    url = f"postgresql://ann:{SECRET}@127.0.0.1:{_closed_port()}/sms?password={SECRET}"
    for call in (lambda: Ledger(url), lambda: ledger_exists(url)):
        with mc.using_language("zh"), pytest.raises(LedgerError) as caught:
            call()
        message = str(caught.value)
        assert SECRET not in message and SECRET not in repr(caught.value)
        assert message.startswith("无法打开发送台账 postgresql://ann:***@127.0.0.1:")
        assert "请检查服务器是否在运行" in message
    with pytest.raises(LedgerError) as caught:
        Ledger(url)
    assert SECRET not in str(caught.value)
    assert "Check that the server runs" in str(caught.value)


def test_a_missing_postgres_database_in_chinese_without_its_password(postgres_url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(postgres_url)
    netloc = f"{parts.username or 'postgres'}:{SECRET}@{parts.hostname}:{parts.port}"
    url = urlunsplit((parts.scheme, netloc, "/no_such_ledger_db", parts.query, ""))
    with mc.using_language("zh"), pytest.raises(LedgerError) as caught:
        Ledger(url)
    message = str(caught.value)
    assert SECRET not in message
    assert message.startswith("无法打开发送台账 ")
    assert "请检查服务器是否在运行" in message


# ------------------------------------------------------------------------ skip reasons


def _frame() -> pd.DataFrame:
    phones = ["13512346789", "13512346789", "020-12345678", "13612345678", None]
    checked = normalise_phones(phones)
    return pd.DataFrame(
        {
            "phone": checked["phone"],
            "phone_problem": checked["phone_problem"],
            "content": ["hi", "hi", "hi", "hi", "hi"],
            "sendable": [True] * 5,
        }
    )


def _merged(language: str) -> pd.DataFrame:
    with mc.using_language(language):
        ledger = Ledger(":memory:")
        ledger.suppress("13612345678")
        return mc.merge_status(_frame(), ledger, "spring")


def test_merge_status_writes_skip_reasons_in_chinese() -> None:
    with mc.using_language("zh"):
        merged = mc.merge_status(_frame(), _ledger_with_opt_out(), "spring")
    errors = merged["send_error"].tolist()
    assert errors[0].startswith("未在活动 'spring' 中登记")
    assert errors[1] == "重复号码，同第 2 行"
    assert errors[2] == "不是大陆手机号：020-12345678（固定电话）"
    assert errors[3] == "已退订"
    assert merged["send_state"].tolist() == ["skipped"] * 5
    english = mc.merge_status(_frame(), _ledger_with_opt_out(), "spring")["send_error"]
    assert english.tolist()[1:4] == [
        "duplicate of row 2",
        "not a mainland mobile: 020-12345678 (a landline)",
        "opted out",
    ]


def _ledger_with_opt_out() -> Ledger:
    ledger = Ledger(":memory:")
    ledger.suppress("13612345678")
    return ledger


def test_chinese_skip_reasons_count_under_the_same_kinds() -> None:
    zh, en = _merged("zh"), _merged("en")
    for labels in ("zh", "en", "bilingual"):
        mine = summary_table(zh, "spring", labels=labels, now=NOW)
        theirs = summary_table(en, "spring", labels=labels, now=NOW)
        pd.testing.assert_frame_equal(mine, theirs)
    with mc.using_language("zh"):
        table = summary_table(zh, "spring", now=NOW)
        shown = summarize(zh, "spring", now=NOW)
    skipped = table[table["section"] == "跳过原因"]
    assert set(skipped["item"]) >= {"重复号码", "不是手机号", "已退订"}
    assert "重复号码" in shown["item"].tolist()


def test_every_skip_text_is_read_back_in_both_languages() -> None:
    df = pd.DataFrame(
        {
            "phone": ["13512346789", None, "13612345678", "13712345678", "13812345678"],
            "content": ["hi", "hi", " ", "hi", "hi"],
            "sendable": [True, True, True, False, False],
            "warnings": ["", "", "", "too long: 900 chars (max 500)", ""],
        }
    )
    for language in ("zh", "en"):
        with mc.using_language(language):
            reasons = skip_reasons(df, {"13512346789"}).with_duplicates([None] * 5)
            refused = reasons.refused([4])
            texts = [*refused.texts.tolist(), not_registered("spring"), not_registered(None)]
        kinds = [skip_kind(t) for t in texts]
        assert kinds == [
            Skip.OPTED_OUT,
            Skip.NO_PHONE,
            Skip.EMPTY_MESSAGE,
            Skip.NOT_SENDABLE,
            Skip.ALREADY_MESSAGED,
            NOT_REGISTERED,
            NOT_REGISTERED,
        ], (language, texts)
        if language == "zh":
            assert all(CJK.search(t) for t in texts), texts
        labels = {reason_kind(t, "en") for t in texts}
        assert labels == {
            "opted out",
            "no phone number",
            "empty message",
            "not sendable",
            "already messaged in this campaign",
            "not registered (not sent yet, or only a dry run)",
        }
    with mc.using_language("zh"):
        duplicated = skip_reasons(df.iloc[:1]).with_duplicates([5])
    assert duplicated.texts.tolist() == ["重复号码，同第 5 行"]
    assert duplicated.groups() == {"duplicate": 1}


def test_a_write_to_a_read_only_ledger_is_refused_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    with (
        mc.using_language("zh"),
        Ledger(path, read_only=True) as ledger,
        pytest.raises(LedgerError) as caught,
    ):
        ledger.ensure_campaign("spring")
    assert caught.value.reason == "readonly"
    message = str(caught.value)
    assert message.startswith(f"发送台账 {path} 无法写入（")
    assert message.endswith("：它以只读方式打开（只读介质，或只读的命令）。")


def test_a_postgres_ledger_without_its_driver_in_chinese(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    url = f"postgresql://ann:{SECRET}@db.example:5432/sms"
    with mc.using_language("zh"), pytest.raises(LedgerError) as caught:
        Ledger(url)
    assert str(caught.value) == (
        "发送台账 postgresql://ann:***@db.example:5432/sms 位于 PostgreSQL 上，需要 psycopg 驱动："
        "pip install 'mobset-campaign[postgres]'（或 psycopg[binary]）。"
    )
