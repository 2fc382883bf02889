"""Synthetic merged frames for the export and plot tests (helper module, not a test file).

``merged_frame()`` looks like what ``merge_status`` returns after a real campaign: a few
hundred contacts with Chinese names, some broken phone numbers, every send_state, delivery
reports arriving seconds to hours after sending, and replies — some of them hostile.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from mobset_campaign._protocol import BEIJING
from mobset_campaign.codes import describe_error, describe_status

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "子涵",
    "欣怡",
    "浩然",
]
CITIES = ["广州", "深圳", "北京", "上海", "成都", "杭州", "武汉", "西安"]

HOSTILE_REPLIES = [
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
]
FRIENDLY_REPLIES = ["好的，谢谢", "收到", "请问活动到几号？", "几点开门", "OK 👍", "已预约"]
OPT_OUTS = ["TD", "退订", " t ", "Ｎ"]

START = datetime(2024, 6, 15, 10, 0, tzinfo=BEIJING)
#: one hostile text per kind in the frame (at fixed delivered rows)
STATE_SHARES = {
    "delivered": 0.66,
    "failed": 0.08,
    "sent": 0.07,
    "rejected": 0.04,
    "unknown": 0.04,
    "pending": 0.05,
    "claimed": 0.02,
    "cancelled": 0.02,
    "skipped": 0.02,
}


def merged_frame(n: int = 300, *, seed: int = 7) -> pd.DataFrame:
    """A realistic merged frame of ``n`` rows (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    names = [
        SURNAMES[rng.integers(len(SURNAMES))] + GIVEN[rng.integers(len(GIVEN))] for _ in range(n)
    ]
    phones = [f"1{rng.choice([3, 5, 7, 8, 9])}{rng.integers(0, 10**9):09d}" for _ in range(n)]
    raw = list(phones)
    problem: list[object] = [pd.NA] * n
    bad = rng.choice(n, size=max(3, n // 30), replace=False)
    bad_values = ["12345", "", "0755-1234567", "2381234567"]
    for k, i in enumerate(bad):
        raw[i] = bad_values[k % len(bad_values)]
        problem[i] = "空号码 empty" if raw[i] == "" else "不是手机号码 not a mainland mobile"
    phone = pd.array(
        [pd.NA if problem[i] is not pd.NA else phones[i] for i in range(n)], dtype="string"
    )
    sendable = np.array([problem[i] is pd.NA for i in range(n)])
    member = [f"{rng.integers(0, 10**8):08d}" for _ in range(n)]  # digit strings, leading 0s
    content = [f"【广州首易】{name}您好，本周六全场8折，回复TD退订" for name in names]
    long_rows = rng.random(n) < 0.25
    content = [
        c + "。详情请见门店公告，先到先得，售完即止，感谢您一直以来的支持与厚爱！" * 2
        if long
        else c
        for c, long in zip(content, long_rows, strict=True)
    ]
    chars = [len(c) for c in content]
    parts = [1 if k <= 70 else -(-k // 67) for k in chars]

    states = rng.choice(list(STATE_SHARES), size=n, p=list(STATE_SHARES.values()))
    states = np.where(sendable, states, "skipped")
    state = pd.Series(states, dtype="string")

    accepted = state.isin(["sent", "delivered", "failed"]).to_numpy()
    sms_id = pd.array(
        [2024061500000000 + i * 37 if accepted[i] else pd.NA for i in range(n)], dtype="Int64"
    )
    send_code = pd.array([pd.NA] * n, dtype="Int64")
    send_error = pd.array([pd.NA] * n, dtype="string")
    for i in range(n):
        if states[i] == "rejected":
            send_code[i] = -110 if i % 2 else -132
            send_error[i] = describe_error(int(send_code[i]))
        elif states[i] == "unknown":
            send_error[i] = "读取超时 read timeout after the request went out"
        elif states[i] == "skipped" and sendable[i]:
            send_error[i] = "已退订 opted out earlier"

    sent_time = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, Asia/Shanghai]")
    offsets = pd.to_timedelta(np.sort(rng.uniform(0, 1800, size=n)), unit="s")
    sent_time[accepted] = (pd.Timestamp(START) + offsets)[accepted]
    status = pd.array([pd.NA] * n, dtype="Int64")
    for i in range(n):
        if states[i] == "delivered":
            status[i] = 12
        elif states[i] == "failed":
            status[i] = int(rng.choice([13, 13, 13, 11, 7, 6, 15]))
        elif states[i] == "sent" and rng.random() < 0.4:
            status[i] = 10  # interim: sent by the carrier, no final report yet
    status_text = pd.array(
        [describe_status(int(s)) if s is not pd.NA else pd.NA for s in status], dtype="string"
    )
    has_report = pd.Series(status).notna().to_numpy()
    delay = pd.to_timedelta(rng.lognormal(mean=1.8, sigma=1.1, size=n), unit="s")
    slow = rng.random(n) < 0.05
    delay = delay + pd.to_timedelta(np.where(slow, rng.uniform(600, 7200, size=n), 0), unit="s")
    report_time = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, Asia/Shanghai]")
    report_time[has_report] = (sent_time + delay)[has_report]
    ex_map = {
        12: "DELIVRD",
        13: "UNDELIV",
        11: "MK:0001",
        7: "REJECTD",
        6: "MI:0013",
        15: "UNKNOWN",
        10: pd.NA,
    }
    ex_status = pd.array(
        [ex_map.get(int(s), pd.NA) if s is not pd.NA else pd.NA for s in status], dtype="string"
    )

    reply = pd.array([pd.NA] * n, dtype="string")
    reply_time = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, Asia/Shanghai]")
    reply_count = pd.array([0] * n, dtype="Int64")
    opted_out = np.zeros(n, dtype=bool)
    delivered_rows = np.flatnonzero(states == "delivered")
    texts = HOSTILE_REPLIES + FRIENDLY_REPLIES * 3 + OPT_OUTS * 2
    texts = texts[: len(delivered_rows)]
    spread = np.linspace(0, len(delivered_rows) - 1, num=len(texts)).astype(int)  # distinct
    for k, text in enumerate(texts):
        i = delivered_rows[spread[k]]
        reply[i] = text
        reply_time[i] = report_time[i] + pd.Timedelta(minutes=float(rng.uniform(1, 240)))
        reply_count[i] = 2 if k % 5 == 0 else 1
        opted_out[i] = text in OPT_OUTS
    opted_out |= (states == "skipped") & sendable

    return pd.DataFrame(
        {
            "姓名": pd.array(names, dtype="string"),
            "手机号码": pd.array(raw, dtype="string"),
            "城市": pd.array([CITIES[i % len(CITIES)] for i in range(n)], dtype="string"),
            "会员号": pd.array(member, dtype="string"),
            "积分": rng.integers(-50, 5000, size=n),
            "phone": phone,
            "phone_problem": pd.array(problem, dtype="string"),
            "content": pd.array(content, dtype="string"),
            "chars": chars,
            "parts": parts,
            "warnings": pd.array([pd.NA] * n, dtype="string"),
            "sendable": sendable,
            "sms_id": sms_id,
            "send_state": state,
            "send_code": send_code,
            "send_error": send_error,
            "status": status,
            "status_text": status_text,
            "sent_time": sent_time,
            "report_time": report_time,
            "reply_time": reply_time,
            "ex_status": ex_status,
            "reply": reply,
            "reply_count": reply_count,
            "opted_out": opted_out,
        }
    )


def replies_frame(merged: pd.DataFrame, campaign: str = "spring-sale") -> pd.DataFrame:
    """The replies frame matching ``merged``: one row per reply (rows with reply_count 2
    also get an earlier "你好" reply)."""
    rows = []
    for _, row in merged[merged["reply"].notna()].iterrows():
        if row["reply_count"] == 2:
            rows.append(
                (
                    row["phone"],
                    row["reply_time"] - pd.Timedelta(minutes=3),
                    "你好",
                    False,
                    row["sms_id"],
                )
            )
        rows.append(
            (row["phone"], row["reply_time"], row["reply"], bool(row["opted_out"]), row["sms_id"])
        )
    frame = pd.DataFrame(rows, columns=["phone", "recv_time", "content", "opt_out", "sms_id"])
    frame["recv_time"] = pd.to_datetime(frame["recv_time"]).dt.tz_convert(BEIJING)
    frame.insert(3, "add_num", pd.array([""] * len(frame), dtype="string"))
    frame.insert(4, "recv_number", pd.array(["1065902100001"] * len(frame), dtype="string"))
    frame["campaign"] = campaign
    frame["sms_id"] = frame["sms_id"].astype("Int64")
    frame["phone"] = frame["phone"].astype("string")
    frame["content"] = frame["content"].astype("string")
    return frame[
        ["phone", "recv_time", "content", "add_num", "recv_number", "opt_out", "campaign", "sms_id"]
    ]


class FakeLedger:
    """Duck-typed stand-in for the Ledger: status_frame / replies_frame per campaign."""

    def __init__(self, frames: dict[str, tuple[pd.DataFrame, pd.DataFrame]]) -> None:
        self.frames = frames
        self.calls: list[tuple[str, str]] = []

    def status_frame(self, campaign: str) -> pd.DataFrame:
        self.calls.append(("status_frame", campaign))
        return self.frames[campaign][0].copy()

    def replies_frame(self, campaign: str) -> pd.DataFrame:
        self.calls.append(("replies_frame", campaign))
        return self.frames[campaign][1].copy()
