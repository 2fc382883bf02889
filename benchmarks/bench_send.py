"""Campaign sending: mobset_campaign.send vs the naive script, against the same simulator.

Three comparisons in one run, 2,000 rows each (``--quick``: 200):

1. **Personalised rows** (every text different), simulator with 20 ms of injected latency per
   SmsSend: ``send(concurrency=8)`` with its SQLite ledger on disk vs the naive script a
   user would write — a sequential ``requests`` loop (keep-alive session), one request per
   row, no ledger. Target ≥ 5× (8× is the ceiling at that concurrency).
2. **Rows sharing one text**, same latency: ``send`` batches 50 numbers per request.
   Target ≥ 30×.
3. **The ledger's cost**, no injected latency, personalised rows, ``concurrency=8``: the
   same ``send`` code path with the on-disk ledger vs with a no-op in-memory stand-in (every
   write a dict update). Target ≥ 0.75×. The concurrent workers' claims and answers commit
   in groups (one transaction, one fsync: :mod:`mobset_campaign.ledger._group`); the
   figures say how many commits the claims and answers took.

Each figure is the elapsed time of the whole call (registration, balance check, planning,
sending, recording). Results go to ``benchmarks/results/send.json`` (``--cost-only``: the
third comparison alone, to ``send_cost.json``).

    .venv/bin/python benchmarks/bench_send.py [--rows 2000] [--quick] [--cost-only] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import requests

from mobset_campaign import _protocol
from mobset_campaign.ledger import Claim, Claimed, Ledger, Outcome, PendingMessage, Registered
from mobset_campaign.sender import send
from mobset_campaign.simulator import Account, Simulator
from mobset_campaign.states import MESSAGE_STATES

RESULTS = Path(__file__).with_name("results")
LATENCY = 0.020
TEXT = "【会员日】本周六全场八折，凭短信到店领取礼品一份"


def rows(n: int, *, personalised: bool, offset: int = 0) -> pd.DataFrame:
    phones = [f"13{(offset + i) % 7 + 3}{(offset + i) % 10**8:08d}" for i in range(n)]
    texts = [f"{TEXT}（会员{offset + i}）" if personalised else TEXT for i in range(n)]
    return pd.DataFrame(
        {"phone": phones, "content": texts, "parts": [1] * n, "sendable": [True] * n}
    )


def naive(sim: Simulator, df: pd.DataFrame) -> float:
    """What a user writes first: loop over the rows, one signed POST each, no state."""
    session = requests.Session()
    acc = sim.account
    started = time.perf_counter()
    for phone, content in zip(df["phone"], df["content"], strict=True):
        stamp = _protocol.format_timestamp()
        answer = session.post(
            sim.url,
            data={
                "CorpID": str(acc.corp_id),
                "LoginName": acc.login_name,
                "TimeStamp": stamp,
                "SecretKey": _protocol.secret_key(acc.corp_id, acc.password, stamp),
                "Methods": "SmsSend",
                "PhoneNumbers": phone,
                "Content": content,
            },
            timeout=(10, 60),
        )
        answer.json()
    elapsed = time.perf_counter() - started
    session.close()
    return elapsed


class NullLedger:
    """The ledger interface ``send`` uses, with no storage: dict updates under a lock.

    Used only to measure what the SQLite ledger costs; it offers none of its guarantees.
    """

    path = ":null:"
    created = False

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store: dict[int, list[Any]] = {}
        self.keys: dict[str, int] = {}
        self.batches = 0

    def suppressed_phones(self) -> set[str]:
        return set()

    def ensure_campaign(self, name: str, **_: Any) -> None:
        pass

    def campaign_options(self, name: str) -> None:
        return None

    @contextmanager
    def campaign_locked(self, campaign: str, command: str, **_: Any) -> Iterator[None]:
        yield None

    def messages(self, campaign: str) -> dict[str, Any]:
        return {}  # a fresh campaign every run

    def note_skipped(self, campaign: str, skipped: Any) -> None:
        pass

    def reserve_room(self) -> None:
        pass

    def register(
        self, campaign: str, rows: Iterable[tuple[str, str, str, int]], **_: Any
    ) -> Registered:
        rows = list(rows)
        new = 0
        for key, phone, content, parts in rows:
            if key not in self.keys:
                mid = len(self.store) + 1
                self.keys[key] = mid
                self.store[mid] = [key, phone, content, parts, "pending"]
                new += 1
        return Registered(new, 0, 0, 0, tuple(str(r[0]) for r in rows))

    def recover_claims(self, campaign: str, holder: Any = None) -> int:
        return 0

    def cancel_suppressed(self, campaign: str) -> int:
        return 0

    def pending(self, campaign: str, row_keys: Iterable[str] | None = None) -> list[PendingMessage]:
        wanted = None if row_keys is None else set(row_keys)
        return [
            PendingMessage(mid, m[1], m[2], m[3])
            for mid, m in self.store.items()
            if m[4] == "pending" and (wanted is None or m[0] in wanted)
        ]

    def claim(self, campaign: str, ids: Sequence[int], **_: Any) -> Claim:
        with self.lock:
            self.batches += 1
            for mid in ids:
                self.store[mid][4] = "claimed"
            return Claim(self.batches, [Claimed(mid, self.store[mid][1]) for mid in ids])

    def record_answer(self, batch_id: int, outcomes: Sequence[Outcome], **_: Any) -> None:
        with self.lock:
            for o in outcomes:
                self.store[o.message_id][4] = o.state

    def fail_batch(self, batch_id: int, state: str, **_: Any) -> int:
        return 0

    def counts(self, campaign: str) -> dict[str, int]:
        out = dict.fromkeys(MESSAGE_STATES, 0)
        for m in self.store.values():
            out[m[4]] += 1
        return out


def ours(sim: Simulator, df: pd.DataFrame, ledger: Any, campaign: str) -> tuple[float, Any]:
    started = time.perf_counter()
    summary = send(
        df,
        sim.client(),
        campaign=campaign,
        ledger=ledger,
        concurrency=8,
        quiet_hours=None,
        progress=False,
    )
    elapsed = time.perf_counter() - started
    assert summary.stopped_reason is None and summary.accepted == len(df), str(summary)
    return elapsed, summary


def _figures(n: int, requests_made: int, seconds: float) -> dict[str, float]:
    return {
        "seconds": round(seconds, 4),
        "messages_per_s": round(n / seconds, 1),
        "requests_per_s": round(requests_made / seconds, 1),
        "requests": requests_made,
    }


def ledger_cost(sim: Simulator, folder: Path, n: int, rounds: int) -> dict[str, Any]:
    """The ledger's cost, no injected latency: the same ``send`` with the SQLite ledger and
    with :class:`NullLedger`, alternating over ``rounds`` rounds of ``n / rounds`` rows."""
    with_ledger = without = 0.0
    per = max(1, n // rounds)
    commits = claims = 0
    for r in range(rounds):
        offset = 3 * 10**6 + r * 2 * per
        sides = [("ledger", offset), ("null", offset + per)]
        for side, off in sides if r % 2 == 0 else sides[::-1]:
            df = rows(per, personalised=True, offset=off)
            if side == "ledger":
                with Ledger(folder / f"cost{r}.sqlite") as ledger:
                    with_ledger += ours(sim, df, ledger, f"c{r}")[0]
                    commits += ledger._group.commits
                    claims += ledger._group.works
            else:
                without += ours(sim, df, NullLedger(), f"n{r}")[0]
    total = per * rounds
    return {
        "with_sqlite_ledger": _figures(total, total, with_ledger),
        "with_null_ledger": _figures(total, total, without),
        "ratio_ledger_over_null_throughput": round(without / with_ledger, 3),
        "claims_and_answers": claims,
        "their_commits": commits,
        "target_ratio_at_least": 0.75,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows per comparison")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (200 rows)")
    parser.add_argument(
        "--cost-only", action="store_true", help="only the ledger's cost (no latency)"
    )
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    args = parser.parse_args(argv)
    n = 200 if args.quick else args.rows
    name = "send_cost" if args.cost_only else "send"
    output = args.output or RESULTS / (f"{name}_quick.json" if args.quick else f"{name}.json")
    results: dict[str, Any] = {
        "benchmark": "send",
        "rows": n,
        "latency_s": LATENCY,
        "concurrency": 8,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    account = Account(login_name="bench", password="bench-pw", balance=10**9)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Simulator(accounts=[account], seed=1, report_delay=(3600.0, 3600.0), reply_rate=0.0) as sim,
    ):
        folder = Path(tmp)
        # warm up: imports, connections, the simulator's threads
        with Ledger(folder / "warm.sqlite") as warm:
            ours(sim, rows(20, personalised=True, offset=9_000_000), warm, "warm")
        naive(sim, rows(20, personalised=True, offset=9_100_000))
        if not args.cost_only:
            results.update(compare_with_naive(sim, folder, n))
        results["ledger_cost_no_latency"] = ledger_cost(sim, folder, n, 2 if args.quick else 4)
    _show(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return results


def compare_with_naive(sim: Simulator, folder: Path, n: int) -> dict[str, Any]:
    """Comparisons 1 and 2: the naive loop, and send with personalised and shared texts, at
    the injected latency."""
    results: dict[str, Any] = {}
    latency = sim.inject("SmsSend", "latency", delay=LATENCY)
    personal = rows(n, personalised=True)
    naive_s = naive(sim, personal)
    results["naive_one_request_per_row"] = _figures(n, n, naive_s)

    with Ledger(folder / "personal.sqlite") as ledger:
        seconds, summary = ours(sim, rows(n, personalised=True, offset=10**6), ledger, "p")
    results["personalised_concurrency_8"] = {
        **_figures(n, summary.requests, seconds),
        "ratio_vs_naive": round(naive_s / seconds, 2),
        "target_ratio_at_least": 5,
    }
    with Ledger(folder / "shared.sqlite") as ledger:
        seconds, summary = ours(sim, rows(n, personalised=False, offset=2 * 10**6), ledger, "s")
    results["shared_text_batches_of_50"] = {
        **_figures(n, summary.requests, seconds),
        "ratio_vs_naive": round(naive_s / seconds, 2),
        "target_ratio_at_least": 30,
    }
    sim.clear_faults()
    assert latency.triggered >= n
    return results


def _show(results: dict[str, Any]) -> None:
    c = results["ledger_cost_no_latency"]
    if "naive_one_request_per_row" in results:
        _show_naive(results)
    print("no injected latency, personalised, concurrency 8")
    print(
        f"  send with the SQLite ledger   {c['with_sqlite_ledger']['messages_per_s']:9.1f} msg/s\n"
        f"  send with a no-op ledger      {c['with_null_ledger']['messages_per_s']:9.1f} msg/s"
        f"   ratio {c['ratio_ledger_over_null_throughput']:.3f} (target >= 0.75)\n"
        f"  {c['claims_and_answers']} claims and answers in {c['their_commits']} commits"
    )


def _show_naive(results: dict[str, Any]) -> None:
    n = results["rows"]
    p = results["personalised_concurrency_8"]
    s = results["shared_text_batches_of_50"]
    nv = results["naive_one_request_per_row"]
    print(f"{n} rows, {LATENCY * 1000:.0f} ms injected latency per SmsSend")
    print(
        f"  naive loop (1 row/request)    {nv['messages_per_s']:9.1f} msg/s "
        f"{nv['requests_per_s']:8.1f} req/s"
    )
    print(
        f"  send, personalised, conc. 8   {p['messages_per_s']:9.1f} msg/s "
        f"{p['requests_per_s']:8.1f} req/s   {p['ratio_vs_naive']:6.2f}x naive (target >= 5)"
    )
    print(
        f"  send, shared text, batches    {s['messages_per_s']:9.1f} msg/s "
        f"{s['requests_per_s']:8.1f} req/s   {s['ratio_vs_naive']:6.2f}x naive (target >= 30)"
    )


if __name__ == "__main__":
    main()
