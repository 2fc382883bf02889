"""Every report reads in Chinese under ``using_language("zh")`` — its text and its HTML, with
no English sentence left (names, numbers, codes and column names may stay) — and reads as
before in English; the states have a Chinese label and a meaning a marketer understands."""

from __future__ import annotations

import html
import re
from datetime import datetime

import pandas as pd
import pytest

import mobset_campaign as mc
from mobset_campaign.checks import SUMMARY_LABELS
from mobset_campaign.contacts import read_contacts
from mobset_campaign.estimate import estimate, preview
from mobset_campaign.outcomes import (
    SKIP_KIND_LABELS,
    reason_kind,
    section_bases,
    summarize,
    summary_table,
)
from mobset_campaign.render import render
from mobset_campaign.rows import Skip
from mobset_campaign.states import (
    ROW_STATES,
    STATE_LABELS,
    STATE_MEANINGS,
    state_label,
    state_meaning,
)
from mobset_campaign.status import CampaignStatus
from mobset_campaign.summaries import (
    CancelSummary,
    CollectSummary,
    Estimate,
    Report,
    SendSummary,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
#: What may stay English in a Chinese report: code and parameter names, the gateway's words.
ALLOWED = re.compile(
    r"Ledger\.reports_frame\(unmatched=True\)|resend_unknown\(\)|resend_unknown|SmsIds?|"
    r"MOBSET_LEDGER|--?[a-z-]+|[a-z_]+=|DELIVRD|EXPIRED|REJECTD|spring-sale|:memory:|"
    r"/[\w/.-]+|ledger\.sqlite|not a mainland mobile: 020-1234567 \(a landline\)"
)
#: Three English words in a row: a sentence (or its piece) left untranslated.
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?:[ ,;:'-]+[A-Za-z]{2,}){2,}\b")


def _visible(markup: str) -> str:
    """The text an HTML report shows, its tooltips included."""
    tips = " ".join(html.unescape(t) for t in re.findall(r"title='([^']*)'", markup))
    return html.unescape(re.sub(r"<[^>]+>", " ", markup)) + " " + tips


def _english_left(text: str) -> list[str]:
    return ENGLISH.findall(ALLOWED.sub(" ", text))


def _in_chinese(report: Report) -> None:
    with mc.using_language("zh"):
        text, markup = str(report), report._repr_html_()
    for shown in (text, _visible(markup)):
        assert CJK.search(shown), shown
        assert not _english_left(shown), (_english_left(shown), shown)


@pytest.fixture(scope="module")
def rendered() -> pd.DataFrame:
    df = read_contacts(
        pd.DataFrame(
            {
                "手机": ["13512346789", "13612345678", "020-1234567", "13512346789", "13712345678"],
                "称呼": ["张三", "李四", "王五", "张三", "赵六" * 40],
            }
        )
    )
    return render(df, "{{ 称呼 }}您好，全场8折【限时】", signature="广州首易")


ESTIMATE = Estimate(
    rows=40,
    sendable=35,
    not_sendable={"not a mainland mobile": 2, "duplicate": 1, "empty phone cell": 1},
    total_parts=37,
    parts_histogram={1: 33, 2: 2},
    pushed=2,
    typical_parts=1,
    signature="广州首易",
    long_sms=True,
    max_chars=500,
    price_per_part=0.045,
    cost=1.665,
    balance=12680,
    warnings={SUMMARY_LABELS[k]: 2 for k in SUMMARY_LABELS},
)
SENT = SendSummary(
    campaign="spring-sale",
    ledger="/tmp/ledger.sqlite",
    ledger_created=True,
    counts={"sent": 30, "rejected": 1, "unknown": 2, "pending": 0},
    skipped={"duplicate": 3, "opted out": 1, "not a mainland mobile": 2},
    registered=33,
    updated=2,
    changed_after_send=1,
    recovered_unknown=1,
    planned_messages=33,
    planned_parts=35,
    planned_batches=2,
    requests=2,
    accepted=30,
    rejected=1,
    unknown=2,
    parts_billed=32,
    elapsed=1.5,
    stopped_reason="interrupted",
    not_in_frame=4,
    sent_by_others=5,
)
DRY = SendSummary(
    campaign="spring-sale",
    dry_run=True,
    ledger="/tmp/ledger.sqlite",
    skipped={"duplicate": 1},
    planned_messages=1,
    planned_parts=2,
    planned_batches=1,
    balance=12680,
)
NOTHING = SendSummary(campaign="spring-sale", ledger="/tmp/ledger.sqlite")
COLLECTED = CollectSummary(
    campaign="spring-sale",
    ledger="/tmp/ledger.sqlite",
    fetches=3,
    bodies_recovered=1,
    bodies_imported=2,
    reports=30,
    reports_unmatched=1,
    replies=1,
    opt_outs=1,
    warnings=["reports may outlive the retention"],  # another module's words: not checked
    unreadable=1,
    accepted=33,
    final=30,
    unsent=2,
    elapsed=2.0,
)
CANCELLED = CancelSummary(
    campaign="spring-sale", requested=3, cancelled=2, requests=1, pending_cancelled=4
)
STATUS = CampaignStatus(
    campaign="spring-sale",
    messages=40,
    by_state={"delivered": 30, "failed": 3, "undetermined": 1, "sent": 2, "unknown": 1},
    by_status={"12 接收成功": 30, "no report yet": 2},
    parts=40,
    replies=3,
    opted_out=1,
    first_sent=datetime(2026, 12, 25, 9, 5, 3),
    last_report=datetime(2026, 12, 25, 9, 7, 0),
    skipped={"duplicate": 2},
)


@pytest.mark.parametrize(
    "report",
    [ESTIMATE, SENT, DRY, NOTHING, CANCELLED, STATUS, CampaignStatus("spring-sale", 0)],
    ids=["estimate", "send", "dry-run", "nothing", "cancel", "status", "empty-status"],
)
def test_each_report_reads_in_chinese(report: Report) -> None:
    _in_chinese(report)


def test_the_collect_summary_reads_in_chinese_but_for_the_warnings_it_is_given() -> None:
    plain = CollectSummary(**{**COLLECTED.__dict__, "warnings": [], "errors": []})
    _in_chinese(plain)
    _in_chinese(CollectSummary(**{**plain.__dict__, "campaign": None}))
    with mc.using_language("zh"):
        text = str(COLLECTED)
    assert "提醒：reports may outlive the retention" in text


def test_preview_and_a_real_estimate_read_in_chinese(rendered: pd.DataFrame) -> None:
    _in_chinese(estimate(rendered, price_per_part=0.05))
    with mc.using_language("zh"):  # the warnings and the preview are written when made
        again = render(rendered, "{{ 称呼 }}您好，全场8折【限时】", signature="广州首易")
        shown = str(preview(again, n=5))
        _in_chinese(preview(again, n=2))
    warnings = again["warnings"].tolist()
    assert all(CJK.search(w) and not _english_left(w) for w in warnings), warnings
    assert "；" in warnings[0] and "; " not in warnings[0]
    assert "第 2 行" in shown and "可发送" in shown


def test_the_reports_stay_english_in_english() -> None:
    with mc.using_language("en"):
        assert str(ESTIMATE).splitlines()[:4] == [
            "Campaign estimate",
            "  messages         35 sendable of 40 rows",
            "  not sendable     not a mainland mobile 2, duplicate 1, empty phone cell 1",
            "  signature        【广州首易】 (6 characters, counted)",
        ]
        assert "needs 37 parts, balance 12,680: enough, 12,643 left" in str(ESTIMATE)
        assert str(DRY).splitlines()[0] == (
            "Dry run for campaign 'spring-sale': would send 1 message (2 parts) in 1 request. "
            "Nothing was sent or written."
        )
        assert "Skipped 6 rows: 3 duplicate; 2 not a mainland mobile; 1 opted out." in str(SENT)
        assert str(SENT).splitlines()[-1] == "Stopped: interrupted"
        assert (
            "5 messages of this run's plan were claimed first by other senders of the campaign "
            "(each is sent once)." in str(SENT)
        )
        assert str(CANCELLED).splitlines()[0] == (
            "Campaign 'spring-sale': 2 of 3 scheduled messages cancelled in 1 request."
        )
        assert str(COLLECTED).splitlines()[:2] == [
            "Collected 30 reports and 1 reply in 3 calls (2.0 s).",
            "Campaign 'spring-sale': 30 of 33 accepted messages have a final status; 3 still "
            "without one.",
        ]
        status = str(STATUS)
        assert "  first sent            2026-12-25 09:05:03" in status
        assert "no report yet" in status and not CJK.search(status.replace("接收成功", ""))


def test_chinese_numbers_balances_and_dates() -> None:
    with mc.using_language("zh"):
        assert ESTIMATE.balance_sentence() == "需要 37 条，余额 12,680 条：足够，发完剩余 12,643 条"
        assert ESTIMATE.cost_sentence() == "¥1.67（单价 ¥0.045/条）"
        status = str(STATUS)
        assert "2026年12月25日 09:05:03" in status
        assert "活动“spring-sale”" in status


def test_every_state_has_a_chinese_label_and_a_meaning_in_both_languages() -> None:
    assert set(STATE_MEANINGS) == set(STATE_LABELS) == set(ROW_STATES)
    for state, (zh, en) in STATE_MEANINGS.items():
        assert CJK.search(zh) and not CJK.search(en), state
        assert state_meaning(state, "zh") == zh and state_meaning(state, "en") == en
        assert state_label(state, "bilingual") == f"{state} {STATE_LABELS[state]}"
    assert STATE_LABELS["claimed"] == "发送中" and "等待网关应答" in STATE_MEANINGS["claimed"][0]
    assert STATE_LABELS["unknown"] == "结果未知" and "可能已发出" in STATE_MEANINGS["unknown"][0]
    assert STATE_MEANINGS["cancelled"][0] == "定时短信在发送前被取消"
    with mc.using_language("zh"):
        assert state_label("failed") == "发送失败" and "未送达" in state_meaning("failed")
    with mc.using_language("en"):
        assert state_label("failed") == "failed" and "did not reach" in state_meaning("failed")


def test_the_status_html_explains_each_state_it_counts() -> None:
    with mc.using_language("zh"):
        markup = STATUS._repr_html_()
    assert f"title='{html.escape(STATE_MEANINGS['unknown'][0], quote=True)}'" in markup
    assert "各状态的含义" in markup and "<b>结果未知</b>：" in markup
    with mc.using_language("en"):
        markup = STATUS._repr_html_()
    assert "What the states mean" in markup and "<b>unknown</b>: " in markup


def test_the_send_summary_html_names_the_states_with_their_meaning() -> None:
    with mc.using_language("zh"):
        markup = SENT._repr_html_()
    assert "网关拒绝<br><b>1</b>" in markup
    assert html.escape(STATE_MEANINGS["rejected"][0], quote=True) in markup


@pytest.fixture(scope="module")
def merged() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone": ["13800138000", "13900139000", None, "13700137000"],
            "sendable": [True, True, False, True],
            "parts": [1, 2, 1, 1],
            "send_state": ["delivered", "failed", "skipped", "unknown"],
            "send_error": [None, None, "duplicate of row 2", None],
            "status": [12, 13, None, None],
        }
    )


def test_summarize_follows_the_language_of_messages(merged: pd.DataFrame) -> None:
    now = datetime(2026, 12, 25, 9, 5, 3)
    with mc.using_language("zh"):
        shown = summarize(merged, "spring-sale", price_per_part=0.05, now=now)
    cells = [str(c) for c in shown[["section", "item", "share", "meaning"]].to_numpy().ravel()]
    left = [c for c in cells if _english_left(c)]
    assert not left, left
    by_item = shown.set_index(["section", "item"])
    assert by_item.loc[("概况", "已送达"), "share"] == "占总行数 25.0%"
    assert by_item.loc[("概况", "导出时间（北京时间）"), "value"] == "2026年12月25日 09:05:03"
    assert by_item.loc[("发送状态", "结果未知"), "meaning"] == STATE_MEANINGS["unknown"][0]
    assert by_item.loc[("跳过原因", "重复号码"), "value"] == "1"
    with mc.using_language("en"):
        english = summarize(merged, "spring-sale", now=now).set_index("item")
    assert english.loc["已送达 Delivered", "share"] == "25.0% of rows"  # bilingual, as before
    assert english.loc["unknown 结果未知", "meaning"] == STATE_MEANINGS["unknown"][1]


def test_the_workbook_s_labels_stay_reachable_in_every_language(merged: pd.DataFrame) -> None:
    with mc.using_language("zh"):
        for labels, item, section in [
            ("bilingual", "已送达 Delivered", "跳过原因 Skipped by reason"),
            ("zh", "已送达", "跳过原因"),
            ("en", "Delivered", "Skipped by reason"),
        ]:
            table = summary_table(merged, labels=labels)
            assert item in set(table["item"]) and section in set(table["section"])
            assert set(table["section"]) <= set(section_bases(labels))
    assert reason_kind("duplicate of row 7", "en") == "duplicate"
    assert reason_kind("duplicate of row 7", "zh") == "重复号码"
    assert reason_kind("duplicate of row 7") == "重复号码 duplicate"  # English: bilingual
    kinds = {str(k) for k in Skip if k is not Skip.PHONE}
    assert kinds <= set(SKIP_KIND_LABELS)
