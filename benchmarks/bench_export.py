"""The campaign workbook: ``export_excel`` vs pandas' own ``to_excel``, same frame, same run.

A merged campaign frame of 100,000 rows × 23 columns (``--quick``: 2,000), shaped like
``merge_status`` output: Chinese names, phones and member numbers as text, points as
numbers, rendered texts, every send state, SmsIds, Beijing-time datetimes, replies.

- ``export_excel(df, path)`` — the whole workbook: summary with native charts, details,
  replies; XlsxWriter in constant-memory mode.
- ``df.to_excel(path, engine="openpyxl")`` — the baseline of issue 12 (target: export at
  least 3.5× faster), and ``df.to_excel(path, engine="xlsxwriter")`` for reference. pandas
  refuses time-zone-aware datetimes, so both get a copy with naive Beijing times (made
  before the clock starts); they write one plain sheet, no summary, no charts.
- Peak memory of ``export_excel`` on the same frame: the peak of Python's traced
  allocations (``tracemalloc``, numpy and pandas buffers included), in a second run so
  tracing does not slow the timed one, and the process's peak RSS growth during it.

Results go to ``benchmarks/results/export.json``.

    .venv/bin/python benchmarks/bench_export.py [--rows 100000] [--quick] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mobset_campaign.export import export_excel
from mobset_campaign.states import ROW_STATES

RESULTS = Path(__file__).with_name("results")
TARGET = 3.5
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "子涵", "欣怡"]
REPLIES = ["好的，谢谢", "收到", "请问活动到几号？", "TD", "退订", "=1+1", "OK 👍"]


def merged(n: int, seed: int = 12) -> pd.DataFrame:
    """A merged campaign frame of ``n`` rows and 23 columns (vectorised, a few seconds)."""
    rng = np.random.default_rng(seed)
    names = pd.Series(rng.choice(list(SURNAMES), n)) + pd.Series(rng.choice(GIVEN, n))
    phones = pd.Series(rng.choice(["135", "139", "158", "186", "199"], n)) + pd.Series(
        rng.integers(0, 10**8, n)
    ).astype(str).str.zfill(8)
    bad = rng.random(n) < 0.02
    raw = phones.where(~bad, "0755-1234567")
    state = pd.Series(
        rng.choice(
            list(ROW_STATES), n, p=[0.02, 0.01, 0.07, 0.68, 0.08, 0.02, 0.04, 0.04, 0.02, 0.02]
        )
    ).where(~bad, "skipped")
    accepted = state.isin(["sent", "delivered", "failed", "undetermined"])
    content = "【广州首易】" + names + "您好，本周六全场8折，凭短信到店领取礼品一份，回复TD退订"
    start = pd.Timestamp("2024-06-15 10:00", tz="Asia/Shanghai")
    sent = start + pd.to_timedelta(np.sort(rng.uniform(0, 3600, n)), unit="s")
    sent = pd.Series(sent).where(accepted)
    report = sent + pd.to_timedelta(rng.lognormal(1.8, 1.1, n), unit="s")
    delivered = state == "delivered"
    report = report.where(state.isin(["delivered", "failed", "undetermined"]))
    status = pd.Series(np.where(delivered, 12, 13), dtype="Int64").where(report.notna())
    has_reply = delivered & (rng.random(n) < 0.05)
    reply = pd.Series(rng.choice(REPLIES, n), dtype="str").where(has_reply)
    return pd.DataFrame(
        {
            "姓名": names.astype("str"),
            "手机号码": raw.astype("str"),
            "会员号": pd.Series(rng.integers(0, 10**8, n)).astype(str).str.zfill(8),
            "积分": rng.integers(-50, 5000, n),
            "phone": phones.where(~bad).astype("str"),
            "phone_problem": pd.Series(
                np.where(bad, "不是手机号 not a mainland mobile: 0755-1234567", None), dtype="str"
            ),
            "content": content.astype("str"),
            "chars": content.str.len(),
            "parts": np.ones(n, dtype=int),
            "sendable": ~bad,
            "sms_id": pd.Series(2024061500000000 + np.arange(n) * 37, dtype="Int64").where(
                accepted
            ),
            "send_state": state.astype("str"),
            "send_code": pd.Series(np.where(state == "rejected", -110, 0), dtype="Int64").where(
                state == "rejected"
            ),
            "send_error": pd.Series(
                np.where(state == "unknown", "读取超时 read timeout", None), dtype="str"
            ),
            "status": status,
            "status_text": pd.Series(
                np.where(delivered, "12 接收成功 (delivered)", "13 接收失败 (failed)"), dtype="str"
            ).where(report.notna()),
            "sent_time": sent,
            "report_time": report,
            "ex_status": pd.Series(np.where(delivered, "DELIVRD", "UNDELIV"), dtype="str").where(
                report.notna()
            ),
            "reply": reply,
            "reply_time": (report + pd.Timedelta(minutes=30)).where(has_reply),
            "reply_count": pd.Series(has_reply.astype(int), dtype="Int64"),
            "opted_out": (reply.isin(["TD", "退订"])).to_numpy(),
        }
    )


def naive(df: pd.DataFrame) -> pd.DataFrame:
    """What pandas' to_excel accepts: time-zone-aware columns as naive Beijing time."""
    out = df.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.DatetimeTZDtype):
            out[name] = out[name].dt.tz_localize(None)
    return out


def timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the merged frame")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (2,000 rows)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    args = parser.parse_args(argv)
    n = 2_000 if args.quick else args.rows
    output = args.output or RESULTS / ("export_quick.json" if args.quick else "export.json")

    df = merged(n)
    plain = naive(df)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rss_before = _max_rss_mib()
        ours = timed(lambda: export_excel(df, folder / "ours.xlsx", campaign="bench"))
        rss_growth = _max_rss_mib() - rss_before
        size = (folder / "ours.xlsx").stat().st_size
        openpyxl = timed(
            lambda: plain.to_excel(folder / "openpyxl.xlsx", index=False, engine="openpyxl")
        )
        xlsxwriter = timed(
            lambda: plain.to_excel(folder / "xlsxwriter.xlsx", index=False, engine="xlsxwriter")
        )
        tracemalloc.start()
        export_excel(df, folder / "traced.xlsx", campaign="bench")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    frame_mib = df.memory_usage(deep=True).sum() / 2**20
    results: dict[str, Any] = {
        "benchmark": "export",
        "quick": args.quick,
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "machine": platform.machine(),
        "rows": n,
        "columns": df.shape[1],
        "frame_mib": round(frame_mib, 1),
        "export_excel_seconds": round(ours, 3),
        "to_excel_openpyxl_seconds": round(openpyxl, 3),
        "to_excel_xlsxwriter_seconds": round(xlsxwriter, 3),
        "speedup_vs_to_excel_openpyxl": round(openpyxl / ours, 2),
        "target_speedup_vs_openpyxl_at_least": TARGET,
        "speedup_vs_to_excel_xlsxwriter": round(xlsxwriter / ours, 2),
        "workbook_mib": round(size / 2**20, 2),
        "export_peak_traced_mib": round(peak / 2**20, 1),
        "export_peak_rss_growth_mib": round(max(rss_growth, 0.0), 1),
    }
    print(f"{n:,} rows × {df.shape[1]} columns ({frame_mib:.0f} MiB in memory)")
    print(
        f"export_excel (summary, charts, details, replies) {ours:7.2f} s   "
        f"to_excel openpyxl {openpyxl:7.2f} s ({openpyxl / ours:.2f}× faster, "
        f"target ≥ {TARGET}×)   to_excel xlsxwriter {xlsxwriter:7.2f} s "
        f"({xlsxwriter / ours:.2f}×)"
    )
    print(
        f"export_excel peak memory: {peak / 2**20:.0f} MiB traced, "
        f"peak RSS grew {max(rss_growth, 0.0):.0f} MiB; workbook {size / 2**20:.1f} MiB"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
