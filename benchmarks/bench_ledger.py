"""Ledger backends: PostgreSQL vs SQLite, and sender processes sharing one PostgreSQL campaign.

Two comparisons in one run, against the same in-process simulator (as ``bench_send.py``):

1. **Backend throughput**, no injected latency, 2,000 personalised rows (every text
   different, so one request per row; ``--quick``: 200), ``send(concurrency=8)``: the
   PostgreSQL ledger vs the SQLite ledger (a file on disk), alternating which goes first over
   two rounds, each round on a new database / file. Target PG/SQLite ≥ 0.5.
2. **Scale-out**, 20 ms injected latency per SmsSend, 1,200 personalised rows (``--quick``:
   120) registered once on one campaign of one PostgreSQL ledger, then sent by 1 vs 3
   sender *processes* at once, each ``send(concurrency=4)`` on the same frame and campaign
   (each holds a lease; claims take only rows still pending). Total messages per second
   (first start to last end of the ``send`` calls; the processes' start-up is not timed).
   Target 3 processes / 1 ≥ 2.5. The same again at 100 ms latency (half the rows), where the
   gateway's wait outweighs the CPU each message costs on a small machine. Checked after each
   trial and printed: the simulator accepted every number exactly once, and every row ended
   ``sent``.

Each figure is the elapsed time of whole ``send`` calls (registration check, recovery,
planning, balance check, sending, recording). PostgreSQL is a throwaway server started here
(``tests/_postgres.py``: the ``pgserver`` wheel's binaries or the system's; durability off:
``fsync``, ``synchronous_commit``, ``full_page_writes``), or the server of ``--postgres-url`` /
``MOBSET_TEST_POSTGRES_URL`` (a role with CREATEDB: each trial gets a new database, dropped
after). The server's settings are recorded with the figures. Results go to
``benchmarks/results/ledger.json``.

    .venv/bin/python benchmarks/bench_ledger.py [--rows 2000] [--scale-rows 1200] [--quick]
        [--postgres-url URL] [--output PATH]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mobset_campaign.ledger import Ledger
from mobset_campaign.sender import send
from mobset_campaign.simulator import Account, Simulator

RESULTS = Path(__file__).with_name("results")
TESTS = Path(__file__).resolve().parents[1] / "tests"
LATENCY = 0.020
#: a second scale-out trial at a slower gateway (a real one answers in 50–200 ms)
SLOW_LATENCY = 0.100
TEXT = "【会员日】本周六全场八折，凭短信到店领取礼品一份"
BACKEND_CONCURRENCY = 8
SCALE_CONCURRENCY = 4
SCALE_PROCESSES = 3
#: the worker processes' command-line marker (``bench_ledger.py --worker SPEC``)
WORKER = "--worker"


def rows(n: int, *, offset: int = 0) -> pd.DataFrame:
    """``n`` personalised rows (each its own text), numbers unique for distinct offsets."""
    phones = [f"13{(offset + i) % 7 + 3}{(offset + i) % 10**8:08d}" for i in range(n)]
    texts = [f"{TEXT}（会员{offset + i}）" for i in range(n)]
    return pd.DataFrame(
        {"phone": phones, "content": texts, "parts": [1] * n, "sendable": [True] * n}
    )


# -- PostgreSQL --------------------------------------------------------------------------------


def _postgres_helpers() -> Any:
    """tests/_postgres.py (a throwaway server without root; new databases)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import _postgres

    return _postgres


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[tuple[str, str]]:
    """(URL, where it comes from) of a server: ``url`` when given, else the throwaway one of
    tests/_postgres.py (which itself takes ``MOBSET_TEST_POSTGRES_URL`` when set)."""
    if url:
        yield url, "--postgres-url"
        return
    helpers = _postgres_helpers()
    with helpers.postgres_server() as server:
        shared = helpers.shared_server()
        yield server, (f"throwaway ({shared.origin})" if shared is not None else helpers.ENV_URL)


def server_settings(url: str) -> dict[str, Any]:
    """What the figures depend on: the server's version and durability settings."""
    import psycopg

    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes")
    with psycopg.connect(url, autocommit=True) as conn:
        return {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}  # type: ignore[index]


# -- 1. backend throughput -------------------------------------------------------------------


def timed_send(sim: Simulator, df: pd.DataFrame, ledger: Ledger, campaign: str) -> float:
    started = time.perf_counter()
    summary = send(
        df,
        sim.client(),
        campaign=campaign,
        ledger=ledger,
        concurrency=BACKEND_CONCURRENCY,
        quiet_hours=None,
        progress=False,
    )
    elapsed = time.perf_counter() - started
    assert summary.stopped_reason is None and summary.accepted == len(df), str(summary)
    assert summary.requests == len(df), "personalised rows: one request per row"
    return elapsed


def backends(sim: Simulator, server: str, folder: Path, n: int, rounds: int) -> dict[str, Any]:
    helpers = _postgres_helpers()
    per = max(1, n // rounds)
    seconds = {"sqlite": 0.0, "postgresql": 0.0}
    # warm up both: imports, connections, the simulator's threads, the server's caches
    with Ledger(folder / "warm.sqlite") as ledger:
        timed_send(sim, rows(20, offset=9_000_000), ledger, "warm")
    with helpers.fresh_database(server) as url, Ledger(url) as ledger:
        timed_send(sim, rows(20, offset=9_100_000), ledger, "warm")
    for r in range(rounds):
        offset = 10**6 + r * 2 * per
        sides = [("sqlite", offset), ("postgresql", offset + per)]
        for side, off in sides if r % 2 == 0 else sides[::-1]:
            df = rows(per, offset=off)
            if side == "sqlite":
                with Ledger(folder / f"round{r}.sqlite") as ledger:
                    seconds[side] += timed_send(sim, df, ledger, f"b{r}")
            else:
                with helpers.fresh_database(server) as url, Ledger(url) as ledger:
                    seconds[side] += timed_send(sim, df, ledger, f"b{r}")
    total = per * rounds

    def figures(s: float) -> dict[str, Any]:
        return {"seconds": round(s, 4), "messages_per_s": round(total / s, 1), "requests": total}

    return {
        "rows": total,
        "rounds": rounds,
        "concurrency": BACKEND_CONCURRENCY,
        "latency_s": 0.0,
        "sqlite": figures(seconds["sqlite"]),
        "postgresql": figures(seconds["postgresql"]),
        "ratio_postgresql_over_sqlite": round(seconds["sqlite"] / seconds["postgresql"], 3),
        "target_ratio_at_least": 0.5,
    }


# -- 2. scale-out: sender processes on one PostgreSQL campaign ------------------------------------


def register_only(sim: Simulator, df: pd.DataFrame, url: str, campaign: str) -> int:
    """Register the frame's rows on the campaign and send nothing: a ``send`` at 03:00 Beijing,
    outside its sending window, registers and stops before any request."""
    with Ledger(url) as ledger:
        summary = send(
            df,
            sim.client(),
            campaign=campaign,
            ledger=ledger,
            quiet_hours=("08:00", "20:00"),
            clock=lambda: datetime(2024, 1, 1, 3, 0),
            progress=False,
        )
        pending = ledger.counts(campaign)["pending"]
    assert summary.accepted == 0 and summary.stopped_reason, str(summary)
    assert summary.registered == len(df) == pending, str(summary)
    return summary.registered


class _ClaimCounting(Ledger):
    """The ledger, counting its claim transactions and those that found nothing pending."""

    claims = 0
    empty_claims = 0

    def claim(self, *args: Any, **kwargs: Any) -> Any:
        got = super().claim(*args, **kwargs)
        self.claims += 1
        self.empty_claims += not got.messages
        return got


def worker(spec_json: str) -> int:
    """One sender process: open the ledger, say READY, wait for GO on stdin, send, print a
    JSON line of its figures (wall-clock start and end, so the parent can span all of them)."""
    from mobset_campaign import MobsetClient

    spec = json.loads(spec_json)
    df = rows(spec["rows"], offset=spec["offset"])
    client = MobsetClient.from_env()
    with _ClaimCounting(spec["url"]) as ledger:
        print("READY", flush=True)
        if sys.stdin.readline().strip() != "GO":
            return 1
        start, cpu = time.time(), time.process_time()
        summary = send(
            df,
            client,
            campaign=spec["campaign"],
            ledger=ledger,
            concurrency=spec["concurrency"],
            quiet_hours=None,
            progress=False,
        )
        end, cpu = time.time(), time.process_time() - cpu
    print(
        json.dumps(
            {
                "pid": os.getpid(),
                "start": start,
                "end": end,
                "cpu_seconds": cpu,
                "sending_seconds": summary.elapsed,
                "accepted": summary.accepted,
                "requests": summary.requests,
                "planned_batches": summary.planned_batches,
                "registered": summary.registered,
                "recovered_unknown": summary.recovered_unknown,
                "stopped_reason": summary.stopped_reason,
                "claims": ledger.claims,
                "empty_claims": ledger.empty_claims,
                "sent_by_others": summary.sent_by_others,
            }
        ),
        flush=True,
    )
    return 0


def run_senders(
    sim: Simulator, url: str, campaign: str, n: int, offset: int, processes: int
) -> dict[str, Any]:
    spec = json.dumps(
        {
            "url": url,
            "campaign": campaign,
            "rows": n,
            "offset": offset,
            "concurrency": SCALE_CONCURRENCY,
        }
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")}
    env.update(sim.env())
    procs = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), WORKER, spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            assert line == "READY", f"worker {p.pid} said {line!r} (exit {p.poll()})"
        go, own_cpu, machine = time.perf_counter(), time.process_time(), _machine_cpu()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("GO\n")
            p.stdin.flush()
        reports = []
        for p in procs:
            out, _ = p.communicate(timeout=600)
            assert p.returncode == 0, f"worker {p.pid} exited {p.returncode}"
            reports.append(json.loads(out.strip().splitlines()[-1]))
        wall, own_cpu = time.perf_counter() - go, time.process_time() - own_cpu
        machine_after = _machine_cpu()
        if machine is not None and machine_after is not None:
            machine = machine_after - machine
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for r in reports:
        assert r["stopped_reason"] is None, r
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    senders_cpu = sum(r["cpu_seconds"] for r in reports)
    # claim transactions, counted by the workers' ledgers; one that found its rows taken by
    # another sender sends nothing (and records no batch)
    claims = sum(r["claims"] for r in reports)
    empty = sum(r["empty_claims"] for r in reports)
    return {
        "processes": processes,
        "seconds": round(seconds, 4),
        "messages_per_s": round(n / seconds, 1),
        "parent_wall_seconds": round(wall, 4),
        "accepted_per_process": [r["accepted"] for r in reports],
        "requests_per_process": [r["requests"] for r in reports],
        # where the time goes (see the report's notes): CPU of the sender processes and of
        # this process (the simulator), per message; every claim transaction, those that
        # found nothing still pending included; the whole machine's busy CPUs (PostgreSQL
        # and anything else running meanwhile included), Linux only
        "diagnostics": {
            # each send call's time outside its sending engine (registration check,
            # recovery, planning, balance check, counts), and its start after the first's
            "setup_seconds_per_process": [
                round(r["end"] - r["start"] - r["sending_seconds"], 3) for r in reports
            ],
            "start_lag_seconds_per_process": [
                round(r["start"] - min(q["start"] for q in reports), 3) for r in reports
            ],
            "senders_cpu_seconds": round(senders_cpu, 3),
            "senders_cpu_ms_per_message": round(1000 * senders_cpu / n, 2),
            "simulator_cpu_seconds": round(own_cpu, 3),
            "claim_transactions": int(claims),
            "empty_claims": int(empty),
            "senders_and_simulator_cpus_busy": round((senders_cpu + own_cpu) / wall, 2),
            "machine_cpus_busy": None if machine is None else round(machine / wall, 2),
            "machine_cpu_ms_per_message": None if machine is None else round(1000 * machine / n, 2),
        },
    }


def _ceiling(ms_per_message: float | None) -> float | None:
    cpus = os.cpu_count()
    if not ms_per_message or not cpus:
        return None
    return round(cpus * 1000 / ms_per_message, 1)


def _machine_cpu() -> float | None:
    """Busy CPU-seconds of the whole machine since boot (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait (no guest)
    return busy / os.sysconf("SC_CLK_TCK")


def check_trial(
    sim: Simulator, accepted_before: int, df: pd.DataFrame, url: str, campaign: str
) -> dict[str, Any]:
    """Every number of the frame accepted exactly once; every row ``sent``."""
    accepted = [a.phone for a in sim.accepted()[accepted_before:]]
    seen = collections.Counter(accepted)
    twice = sorted(p for p, c in seen.items() if c > 1)
    with Ledger(url) as ledger:
        counts = ledger.counts(campaign)
    expected = set(df["phone"])
    check = {
        "accepted": len(accepted),
        "numbers_accepted_more_than_once": len(twice),
        "numbers_never_accepted": len(expected - set(seen)),
        "numbers_not_in_frame": len(set(seen) - expected),
        "rows_sent": counts["sent"],
        "rows_not_sent": sum(v for k, v in counts.items() if k != "sent"),
    }
    check["ok"] = (
        check["accepted"] == len(df)
        and not twice
        and not check["numbers_never_accepted"]
        and not check["numbers_not_in_frame"]
        and check["rows_sent"] == len(df)
        and not check["rows_not_sent"]
    )
    return check


def scale_out(
    sim: Simulator, server: str, n: int, delay: float = LATENCY, repeat: int = 0
) -> dict[str, Any]:
    helpers = _postgres_helpers()
    latency = sim.inject("SmsSend", "latency", delay=delay)
    trials: dict[int, dict[str, Any]] = {}
    try:
        for i, processes in enumerate((1, SCALE_PROCESSES)):
            offset = 5 * 10**6 + int(delay * 1000) * 10**5 + (2 * repeat + i) * n
            df = rows(n, offset=offset)
            campaign = f"scale{processes}-{repeat}"
            with helpers.fresh_database(server) as url:
                register_only(sim, df, url, campaign)
                before = len(sim.accepted())
                trial = run_senders(sim, url, campaign, n, offset, processes)
                trial["check"] = check_trial(sim, before, df, url, campaign)
            trials[processes] = trial
    finally:
        sim.clear_faults()
    assert latency.triggered >= 2 * n
    one, many = trials[1], trials[SCALE_PROCESSES]
    return {
        "rows": n,
        "concurrency_per_process": SCALE_CONCURRENCY,
        "latency_s": delay,
        "one_process": one,
        f"{SCALE_PROCESSES}_processes": many,
        "ratio_many_over_one": round(one["seconds"] / many["seconds"], 3),
        # what the machine's CPUs could carry at the 1-process trial's whole-machine CPU cost
        # per message: above it no number of processes helps (None: no /proc/stat)
        "cpu_ceiling_messages_per_s": _ceiling(one["diagnostics"]["machine_cpu_ms_per_message"]),
        "target_ratio_at_least": 2.5,
        "checks_ok": bool(one["check"]["ok"] and many["check"]["ok"]),
    }


# -- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows of the backend comparison")
    parser.add_argument(
        "--scale-rows", type=int, default=1200, help="rows of the scale-out comparison"
    )
    parser.add_argument(
        "--scale-trials",
        type=int,
        default=3,
        help="scale-out trials at 20 ms (the median ratio is reported, and every one)",
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (200 / 120 rows)")
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="a PostgreSQL server to use (a role with CREATEDB); default: a throwaway one",
    )
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    args = parser.parse_args(argv)
    n = 200 if args.quick else args.rows
    scale_n = 120 if args.quick else args.scale_rows
    output = args.output or RESULTS / ("ledger_quick.json" if args.quick else "ledger.json")
    results: dict[str, Any] = {
        "benchmark": "ledger",
        "quick": bool(args.quick),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    account = Account(login_name="bench", password="bench-pw", balance=10**9, daily_limit=None)
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres(args.postgres_url) as (server, origin),
        Simulator(accounts=[account], seed=1, report_delay=(3600.0, 3600.0), reply_rate=0.0) as sim,
    ):
        results["postgresql"] = {"server": origin, **server_settings(server)}
        results["backends_no_latency"] = backends(sim, server, Path(tmp), n, rounds=2)
        # the 2-core machine is shared and noisy: several trials, the median one reported
        trials = [
            scale_out(sim, server, scale_n, repeat=t)
            for t in range(1 if args.quick else max(1, args.scale_trials))
        ]
        ratios = [t["ratio_many_over_one"] for t in trials]
        median = sorted(trials, key=lambda t: t["ratio_many_over_one"])[len(trials) // 2]
        results["scale_out_processes"] = {
            **median,
            "trials": len(trials),
            "ratio_of_every_trial": ratios,
            "checks_ok": all(t["checks_ok"] for t in trials),
        }
        # the same at a slower gateway, where waiting outweighs the CPU each message costs
        results["scale_out_processes_slow_gateway"] = scale_out(
            sim, server, max(60, scale_n // 2), SLOW_LATENCY
        )

    b = results["backends_no_latency"]
    s = results["scale_out_processes"]
    pg = results["postgresql"]
    one, many = s["one_process"], s[f"{SCALE_PROCESSES}_processes"]
    print(
        f"PostgreSQL {pg['server_version']} ({pg['server']}; fsync={pg['fsync']}, "
        f"synchronous_commit={pg['synchronous_commit']}); {results['cpus']} CPUs"
    )
    print(f"{b['rows']} personalised rows, no injected latency, concurrency {b['concurrency']}")
    print(f"  SQLite ledger (file)          {b['sqlite']['messages_per_s']:9.1f} msg/s")
    print(
        f"  PostgreSQL ledger             {b['postgresql']['messages_per_s']:9.1f} msg/s"
        f"   ratio PG/SQLite {b['ratio_postgresql_over_sqlite']:.3f} (target >= 0.5)"
    )
    print(
        f"{s['rows']} personalised rows on one PostgreSQL campaign, {LATENCY * 1000:.0f} ms "
        f"injected latency, concurrency {SCALE_CONCURRENCY} per process"
    )
    print(f"  1 sender process              {one['messages_per_s']:9.1f} msg/s")
    print(
        f"  {SCALE_PROCESSES} sender processes            {many['messages_per_s']:9.1f} msg/s"
        f"   ratio {s['ratio_many_over_one']:.2f}x (target >= 2.5; median of "
        f"{s['trials']} trials: {', '.join(f'{r:.2f}' for r in s['ratio_of_every_trial'])})"
        f"   shares {many['accepted_per_process']}"
    )
    for label, trial in (("1 process", one), (f"{SCALE_PROCESSES} processes", many)):
        d = trial["diagnostics"]
        busy = d["machine_cpus_busy"]
        print(
            f"  {label:11s} senders' CPU {d['senders_cpu_ms_per_message']:.1f} ms/msg; "
            f"{d['claim_transactions']} claims ({d['empty_claims']} found nothing pending); "
            f"CPUs busy: senders+simulator {d['senders_and_simulator_cpus_busy']:.2f}, "
            f"machine {'?' if busy is None else f'{busy:.2f}'} of {results['cpus']}"
        )
    if s["cpu_ceiling_messages_per_s"] is not None:
        ceiling = s["cpu_ceiling_messages_per_s"]
        print(
            f"  CPU ceiling at the 1-process cost per message: {ceiling:.1f} msg/s "
            f"= {ceiling / one['messages_per_s']:.2f}x the 1-process figure"
        )
    slow = results["scale_out_processes_slow_gateway"]
    print(
        f"{slow['rows']} rows, {SLOW_LATENCY * 1000:.0f} ms injected latency: 1 process "
        f"{slow['one_process']['messages_per_s']:.1f} msg/s, {SCALE_PROCESSES} processes "
        f"{slow[f'{SCALE_PROCESSES}_processes']['messages_per_s']:.1f} msg/s, "
        f"ratio {slow['ratio_many_over_one']:.2f}x"
    )
    for label, trial in (
        ("1 process", one),
        (f"{SCALE_PROCESSES} processes", many),
        (f"1 process, {SLOW_LATENCY * 1000:.0f} ms", slow["one_process"]),
        (
            f"{SCALE_PROCESSES} processes, {SLOW_LATENCY * 1000:.0f} ms",
            slow[f"{SCALE_PROCESSES}_processes"],
        ),
    ):
        c = trial["check"]
        print(
            f"  check, {label:11s} {'OK' if c['ok'] else 'FAILED'}: {c['accepted']} accepted, "
            f"{c['numbers_accepted_more_than_once']} numbers accepted twice, "
            f"{c['numbers_never_accepted']} never; {c['rows_sent']} rows sent, "
            f"{c['rows_not_sent']} not"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if not (s["checks_ok"] and slow["checks_ok"]):
        raise SystemExit("scale-out check FAILED: a number was accepted twice or a row not sent")
    return results


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == WORKER:
        sys.exit(worker(sys.argv[2]))
    main()
