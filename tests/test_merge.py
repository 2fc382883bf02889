"""merge_status: the ledger's view beside the spreadsheet's rows."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from mobset_campaign.errors import InputError
from mobset_campaign.ledger import Ledger
from mobset_campaign.merge import merge_status
from mobset_campaign.rows import row_keys
from mobset_campaign.sender import send
from mobset_campaign.simulator import Simulator

ADDED = [
    "sms_id",
    "send_state",
    "send_code",
    "send_error",
    "status",
    "status_text",
    "sent_time",
    "report_time",
    "ex_status",
    "reply",
    "reply_time",
    "reply_count",
    "opted_out",
]


def _frame() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "姓名": ["张三", "李四", "王五", "赵六", "钱七", "孙八"],
            "phone": [
                "13512340001",
                "13512340002",
                None,
                "13512340004",
                "13512340005",
                "13512340006",
            ],
            "phone_problem": [None, None, "empty", None, None, None],
        },
        index=[10, 20, 30, 40, 50, 60],
    )
    df["content"] = "【活动】" + df["姓名"] + "您好"
    df["parts"] = 1
    df["sendable"] = [True, True, False, True, False, True]
    df["warnings"] = [None, None, None, None, "message too long", None]
    return df


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=3, manual_clock=True, report_delay=(1, 1)) as s:
        yield s


def test_merge_keeps_rows_order_index_and_reports_reasons(sim: Simulator, ledger: Ledger) -> None:
    df = _frame()
    ledger.suppress("13512340004")
    send(df, sim.client(), campaign="c", ledger=ledger, quiet_hours=None, progress=False)
    before = df.copy()
    merged = merge_status(df, ledger, "c")
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert list(merged.columns) == list(df.columns) + ADDED
    assert list(merged.index) == list(df.index)
    assert merged["send_state"].tolist() == [
        "sent",
        "sent",
        "skipped",
        "skipped",
        "skipped",
        "sent",
    ]
    errors = merged["send_error"].tolist()
    assert errors[2] == "empty"
    assert errors[3] == "opted out"
    assert errors[4] == "not sendable: message too long"
    assert merged.loc[40, "opted_out"]
    assert merged["sms_id"].notna().tolist() == [True, True, False, False, False, True]
    assert merged["reply_count"].tolist() == [0] * 6


def test_merge_is_repeatable_and_one_row_per_input_row(sim: Simulator, ledger: Ledger) -> None:
    df = _frame()
    client = sim.client()
    send(df, client, campaign="c", ledger=ledger, quiet_hours=None, progress=False)
    sim.clock.advance(5)
    sim.inject_reply("13512340001", "什么时候开始？")
    sim.inject_reply("13512340001", "退订")
    from mobset_campaign.collector import collect

    collect(client, ledger, campaign="c", until=None, min_interval=0, progress=False)
    first = merge_status(df, ledger, "c")
    again = merge_status(first, ledger, "c")  # on its own output: no duplicated columns
    assert len(first) == len(df) == len(again)
    assert list(again.columns) == list(first.columns)
    pd.testing.assert_frame_equal(first, again)
    row = first.loc[10]
    assert (row["reply"], row["reply_count"], row["opted_out"]) == ("退订", 2, True)
    assert row["send_state"] in ("delivered", "failed")
    assert row["status_text"].startswith(str(row["status"]))
    assert str(first["reply_time"].dtype).endswith("Asia/Shanghai]")


def _frame_with_repeats() -> pd.DataFrame:
    """_frame() plus repeated numbers: a copy read_contacts flagged as a duplicate, and one
    number on three sendable rows (two of them with the very same text)."""
    extra = pd.DataFrame(
        {
            "姓名": ["周九", "吴十", "郑一", "冯二"],
            "phone": ["13512340001", "13512340007", "13512340007", "13512340007"],
            "phone_problem": ["duplicate of row 1", None, None, None],
        },
        index=[70, 80, 90, 100],
    )
    extra["content"] = ["【活动】周九您好", "【活动】吴十您好", "【活动】同一条", "【活动】同一条"]
    extra["parts"] = 1
    extra["sendable"] = True
    extra["warnings"] = None
    return pd.concat([_frame(), extra])


def test_a_re_read_and_re_sorted_sheet_finds_the_same_messages(
    sim: Simulator, ledger: Ledger
) -> None:
    df = _frame_with_repeats()
    send(df, sim.client(), campaign="c", ledger=ledger, quiet_hours=None, progress=False)
    cols = ["姓名", "sms_id", "send_state", "send_error"]
    original = merge_status(df, ledger, "c")[cols].set_index("姓名")
    sent = ["张三", "李四", "赵六", "孙八", "吴十"]  # one message for 13512340007: 吴十's row
    assert original["sms_id"].notna().sum() == len(sent) == len(sim.accepted())
    assert original.loc[sent, "send_state"].eq("sent").all()
    assert original.loc["周九", ["send_state", "send_error"]].tolist() == [
        "skipped",
        "duplicate of row 1",
    ]
    assert original.loc[["郑一", "冯二"], "send_error"].eq("duplicate of row 9").all()
    for order in (df.iloc[::-1], df.sort_values("content"), df.sample(frac=1, random_state=5)):
        reread = order.reset_index(drop=True)
        reread["phone"] = reread["phone"].map(lambda p: None if p is None else f"+86 {p}")
        merged = merge_status(reread, ledger, "c")
        assert list(merged["姓名"]) == list(reread["姓名"])  # same rows, same order
        found = merged[cols].set_index("姓名").loc[original.index]
        # the row with the text that went out keeps its message, wherever it is now
        pd.testing.assert_frame_equal(found.loc[sent], original.loc[sent])
        assert found.loc[["郑一", "冯二"], "send_state"].eq("skipped").all()
        assert found.loc[["郑一", "冯二"], "send_error"].str.startswith("duplicate of row").all()
        assert send(reread, sim.client(), campaign="c", ledger=ledger, quiet_hours=None,
                    progress=False).requests == 0  # fmt: skip


def test_the_row_read_contacts_kept_has_the_plain_key_whatever_the_order() -> None:
    df = pd.DataFrame(
        {
            "phone": ["13512346789", "13512346789", "13612346789"],
            "phone_problem": ["duplicate of row 2", None, None],
            "content": ["你好 Ann", "你好 Bob", "你好 Cid"],
        }
    )
    keys = row_keys(df)
    assert pd.isna(keys.iloc[0])  # the flagged copy has no key: it is never registered
    assert keys.iloc[1:].tolist() == ["13512346789", "13612346789"]


def test_a_number_on_several_rows_gets_one_key() -> None:
    df = pd.DataFrame(
        {
            "phone": ["13512346789", "135 1234 6789", "+8613512346789", "13612346789", None],
            "content": ["你好 A", "你好 B", "你好 A", "你好 C", "x"],
        }
    )
    keys = row_keys(df)
    assert keys.iloc[[0, 3]].tolist() == ["13512346789", "13612346789"]
    assert keys.iloc[[1, 2, 4]].isna().all()  # the number's other rows: duplicates
    # several texts per number when asked: one key per distinct text, never the same twice
    several = row_keys(df, one_per_number=False)
    assert several.iloc[0].startswith("13512346789#") and several.iloc[1].startswith("135")
    assert several.iloc[0] != several.iloc[1] and pd.isna(several.iloc[2])


def test_rows_not_in_the_campaign_say_so(ledger: Ledger) -> None:
    merged = merge_status(_frame(), ledger, "never-sent")
    assert set(merged["send_state"]) == {"skipped"}
    assert "not registered in campaign 'never-sent'" in merged.loc[10, "send_error"]


def test_missing_phone_column_is_an_input_error(ledger: Ledger) -> None:
    with pytest.raises(InputError, match=r"'phone'.*read_contacts"):
        merge_status(pd.DataFrame({"手机": ["13512346789"]}), ledger, "c")


def test_a_users_own_status_and_reply_columns_are_kept() -> None:
    from mobset_campaign import Simulator, read_contacts, render, send

    contacts = read_contacts(
        pd.DataFrame(
            {
                "手机": ["13512346789", "13900000001"],
                "status": ["VIP", "普通"],
                "reply": ["老客户", ""],
                "sms_id": ["X1", "X2"],
            }
        )
    )
    frame = render(contacts, "会员日快乐", signature="广州首易")
    with Simulator(seed=2, manual_clock=True) as sim, Ledger(":memory:") as ledger:
        send(frame, sim.client(), campaign="c", ledger=ledger, quiet_hours=None, progress=False)
        merged = merge_status(frame, ledger, "c")
        again = merge_status(merged, ledger, "c")
    assert merged["status_original"].tolist() == ["VIP", "普通"]
    assert merged["reply_original"].tolist()[0] == "老客户"
    assert merged["sms_id_original"].tolist() == ["X1", "X2"]
    assert merged["sms_id"].notna().all() and (merged["send_state"] == "sent").all()
    assert list(again.columns) == list(merged.columns)  # merging its own output adds nothing
