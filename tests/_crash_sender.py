"""A campaign sender for the crash test: run in a subprocess, killed with SIGKILL, resumed.

Usage: python tests/_crash_sender.py LEDGER ROWS
Credentials and the simulator's URL come from MOBSET_* variables. Prints READY once the
imports are done and the ledger is open (the test starts its kill timer then), and DONE with
the summary when the campaign ran to its end.
"""

from __future__ import annotations

import sys

import pandas as pd

from mobset_campaign.client import MobsetClient
from mobset_campaign.ledger import Ledger
from mobset_campaign.sender import send

CAMPAIGN = "crash"
TEXTS = ("春季：会员日全场八折", "春季：积分即将到期", "春季：新品到店")


def campaign_frame(rows: int) -> pd.DataFrame:
    """Deterministic rows: three quarters share one of three texts, a quarter are
    personalised, a few are unsendable and a few numbers the gateway refuses (SmsId 0)."""
    phones, content, problem = [], [], []
    for i in range(rows):
        phone = f"13{i % 7 + 3}{i:08d}"
        text = TEXTS[i % 4] if i % 4 != 3 else f"春季：尊敬的会员{i}，您的积分为{i * 7}"
        bad = None
        if i % 97 == 0:
            bad = "not a mainland mobile"
        elif i % 89 == 0:
            phone = f"120{i:08d}"  # passes our checks, refused by the gateway
        phones.append(phone)
        content.append(text)
        problem.append(bad)
    df = pd.DataFrame({"phone": phones, "content": content, "phone_problem": problem})
    df["parts"] = 1
    df["sendable"] = df["phone_problem"].isna()
    return df


def main() -> int:
    path, rows = sys.argv[1], int(sys.argv[2])
    df = campaign_frame(rows)
    client = MobsetClient.from_env()
    with Ledger(path) as ledger:
        print("READY", flush=True)
        summary = send(
            df,
            client,
            campaign=CAMPAIGN,
            ledger=ledger,
            concurrency=4,
            quiet_hours=None,
            progress=False,
        )
    print(summary, flush=True)
    print("DONE" if summary.stopped_reason is None else "STOPPED", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
