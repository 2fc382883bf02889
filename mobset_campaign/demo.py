"""A whole campaign against the embedded simulator: what ``make demo`` runs.

Reads the sample contacts (with some broken rows), renders a template from ``templates/``,
previews and estimates against the simulator's signature and balance, sends at most once
through a fresh ledger, collects reports and replies until every message is final (or a
short timeout: some messages never get a report, as on the real gateway), merges the
statuses back into the contacts and writes the Excel workbook and charts.

Nothing here is demo-only: each step is the public function a notebook or script would call.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._i18n import current_language, ngettext
from ._i18n import gettext as _
from .collector import collect
from .contacts import read_contacts
from .estimate import estimate, preview
from .export import export_excel
from .ledger import Ledger
from .merge import merge_status
from .render import render
from .sender import send
from .simulator import Simulator
from .states import state_label
from .summaries import CollectSummary, Estimate, SendSummary

__all__ = ["DEMO_TEMPLATE", "DemoResult", "run_demo", "sample_contacts_path", "synthetic_contacts"]

DEMO_TEMPLATE = "points_expiry.txt"
CAMPAIGN = "demo-积分到期提醒"

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = [
    "伟",
    "芳",
    "娜",
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
    "秀英",
    "霞",
    "平",
]
_STORES = ["天河店", "越秀店", "海珠店", "番禺店", "白云店"]
_PREFIXES = [
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "182",
    "183",
    "187",
    "188",
    "130",
    "131",
    "132",
    "155",
    "156",
    "185",
    "186",
    "133",
    "153",
    "180",
    "181",
    "189",
    "199",
]


def sample_contacts_path() -> Path:
    """The sample contact list shipped with the package (UTF-8 CSV with some broken rows)."""
    return Path(__file__).with_name("data") / "sample_contacts.csv"


def synthetic_contacts(rows: int, *, seed: int = 2026) -> pd.DataFrame:
    """A realistic contact frame of ``rows`` rows, about 2% of them broken the way exported
    spreadsheets break (floats, lost digits, landlines, blanks, duplicates)."""
    rng = random.Random(seed)
    phones: list[object] = []
    for i in range(rows):
        number = f"{rng.choice(_PREFIXES)}{rng.randrange(10**8):08d}"
        damage = rng.random()
        if damage < 0.005:
            phones.append("")
        elif damage < 0.01:
            phones.append(f"020-{rng.randrange(10**8):08d}")
        elif damage < 0.015 and phones:
            phones.append(phones[rng.randrange(len(phones))])
        elif damage < 0.02:
            phones.append(f"{int(number) / 1e10:.5f}E+10")
        elif damage < 0.06:
            phones.append(float(number))
        else:
            phones.append(number)
        del i
    expiry = pd.Timestamp("2026-12-31")
    return pd.DataFrame(
        {
            "姓名": [rng.choice(_SURNAMES) + rng.choice(_GIVEN) for _row in range(rows)],
            "手机号码": phones,
            "积分": [rng.randrange(100, 20000) for _row in range(rows)],
            "到期日": [expiry - pd.Timedelta(days=rng.randrange(0, 60)) for _row in range(rows)],
            "门店": [rng.choice(_STORES) for _row in range(rows)],
        }
    )


@dataclass
class DemoResult:
    """What the demo produced, for callers and tests."""

    workbook: Path
    charts: list[Path] = field(default_factory=list)
    estimate: Estimate | None = None
    sent: SendSummary | None = None
    collected: CollectSummary | None = None
    merged: pd.DataFrame | None = None


def _columns(text: str) -> int:
    """Columns ``text`` takes in a terminal (a Chinese character takes two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _step(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - _columns(title)), flush=True)


def run_demo(
    out_dir: Path = Path("out"),
    *,
    rows: int | None = None,
    charts: bool = True,
    progress: bool = True,
    seed: int = 2026,
    collect_timeout: float = 8.0,
) -> DemoResult:
    """Run the demo campaign and write ``out_dir/demo_campaign.xlsx``.

    Args:
        out_dir: folder for the workbook, the charts and the demo's own ledger.
        rows: generate this many synthetic contacts instead of the shipped sample file.
        charts: draw the charts (PNG files and embedded in the workbook).
        progress: show progress bars.
        seed: makes the simulator's outcomes and the synthetic contacts reproducible.
        collect_timeout: seconds to wait for the last reports (some never come).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ledger_path = out_dir / "demo_ledger.sqlite"
    for suffix in ("", "-wal", "-shm"):  # each demo run is a fresh campaign on a fresh simulator
        Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)

    # Short real-time delays rather than an accelerated sim clock: report times then stay
    # comparable with the sent times the ledger records, so the delivery-time chart is true.
    with Simulator(
        seed=seed, report_delay=(0.3, 2.0), reply_delay=(0.5, 3.0), reply_rate=0.15
    ) as sim:
        client = sim.client()
        print(
            _("Embedded simulator at {url} (CorpID {corp_id}, rehearsal account)").format(
                url=sim.url, corp_id=sim.account.corp_id
            )
        )

        _step(_("1. Read the contacts"))
        source: object = (
            sample_contacts_path() if rows is None else synthetic_contacts(rows, seed=seed)
        )
        contacts = read_contacts(source)  # type: ignore[arg-type]
        problems = contacts["phone_problem"].dropna()
        print(
            ngettext(
                "{n:,} row read; {bad:,} with a problem:",
                "{n:,} rows read; {bad:,} with a problem:",
                len(contacts),
            ).format(n=len(contacts), bad=len(problems))
        )
        if len(problems):
            print(problems.value_counts().head(8).to_string())

        _step(_("2. Render the template and preview"))
        signature = client.get_sign()
        frame = render(contacts, DEMO_TEMPLATE, signature=signature, opt_out=True)
        print(preview(frame, n=3, signature=signature))

        _step(_("3. Estimate against the account"))
        est = estimate(frame, signature=signature, client=client, price_per_part=0.045)
        print(est)

        _step(_("4. Send (at most once, through the ledger)"))
        with Ledger(ledger_path) as ledger:
            sent = send(
                frame,
                client,
                campaign=CAMPAIGN,
                ledger=ledger,
                concurrency=4,
                quiet_hours=None,  # a rehearsal may run at any hour; real campaigns keep 08:00–20:00
                progress=progress,
            )
            print(sent)

            _step(_("5. Collect delivery reports and replies"))
            collected = collect(
                client,
                ledger,
                campaign=CAMPAIGN,
                until="final",
                timeout=collect_timeout,
                min_interval=0.5,
                progress=progress,
            )
            print(collected)
            # replies trail delivery by up to reply_delay: give them their window, drain again
            time.sleep(sim.settings.reply_delay[1])
            late = collect(client, ledger, campaign=CAMPAIGN, until=None, progress=False)
            print(late)

            _step(_("6. Merge statuses and export"))
            merged = merge_status(frame, ledger, CAMPAIGN)
            replies = ledger.replies_frame(CAMPAIGN)
            chart_paths: list[Path] = []
            if charts:
                from .plots import save_plots  # matplotlib loads only when charts are drawn

                chart_paths = save_plots(merged, out_dir, replies=replies)
            workbook = export_excel(
                merged,
                out_dir / "demo_campaign.xlsx",
                replies=replies,
                charts=charts,
                price_per_part=0.045,
                campaign=CAMPAIGN,
            )
        client.close()

    counts = merged["send_state"].value_counts()
    if current_language() == "zh":  # the states by their labels (the field keeps its name)
        counts = counts.rename(index=state_label).rename_axis(_("Send state"))
    with pd.option_context("display.unicode.east_asian_width", True):
        print(counts.to_string())
    print()
    print(_("Wrote {path}").format(path=workbook))
    for path in chart_paths:
        print(_("Wrote {path}").format(path=path))
    return DemoResult(
        workbook=workbook,
        charts=list(chart_paths),
        estimate=est,
        sent=sent,
        collected=collected,
        merged=merged,
    )
