"""The workers of the four-process crash test: a sender, a resender and collectors of one
campaign, run at once, killed and restarted at random.

Usage: python tests/_crash_workers.py ROLE LEDGER ROWS STOPFILE
ROLE is ``send`` (sends the campaign until it is done), ``resend`` (resends unknown messages
whenever it gets the campaign) or ``collect`` (collects reports and replies). Credentials and
the simulator's URL come from MOBSET_* variables. Prints READY when started; the loops end
when STOPFILE exists (``send`` also ends, printing DONE, when the campaign is sent).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _crash_sender import CAMPAIGN, campaign_frame

from mobset_campaign import Ledger, MobsetClient, collect, resend_unknown, send
from mobset_campaign._signals import STOP_SIGNALS, stop_signals
from mobset_campaign.errors import CampaignBusyError, InputError


def main() -> int:
    role, path, rows, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    client = MobsetClient.from_env()
    for sig in STOP_SIGNALS:  # once the work is done, a late signal must not look like a crash
        signal.signal(sig, signal.SIG_IGN)
    with Ledger(path) as ledger, stop_signals():  # a signal between two runs stops it too
        print("READY", flush=True)
        try:
            return _loop(role, client, ledger, rows, stop)
        except KeyboardInterrupt:
            return 0


def _loop(role: str, client: MobsetClient, ledger: Ledger, rows: int, stop: Path) -> int:
    while not stop.exists():
        try:
            if role == "send":
                summary = send(
                    campaign_frame(rows),
                    client,
                    campaign=CAMPAIGN,
                    ledger=ledger,
                    concurrency=4,
                    quiet_hours=None,
                    progress=False,
                    wait_for_lock=5,
                )
                if summary.stopped_reason is None and summary.pending == 0:
                    print("DONE", flush=True)
                    return 0
                if summary.stopped_reason and "interrupted" in summary.stopped_reason:
                    return 0  # stopped by a signal: cleanly
            elif role == "resend":
                summary = resend_unknown(
                    CAMPAIGN, ledger, client, quiet_hours=None, progress=False
                )
                if summary.stopped_reason and "interrupted" in summary.stopped_reason:
                    return 0
                time.sleep(0.2)
            else:
                summary = collect(
                    client,
                    ledger,
                    until=None,
                    min_interval=0,
                    pace=0.02,
                    progress=False,
                    allow_empty_ledger=True,
                )
                if summary.stopped_reason and "interrupted" in summary.stopped_reason:
                    return 0
                time.sleep(0.1)
        except (CampaignBusyError, InputError):
            time.sleep(0.1)  # the other run holds the campaign, or has not started it
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
