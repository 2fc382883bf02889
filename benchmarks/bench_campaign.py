"""A whole campaign end to end, per phase: seconds and peak memory of the user's process.

read csv (``read_contacts``) → ``render`` → ``send`` → ``collect`` → ``merge_status`` →
``export_excel``, against the simulator running in **another process** (as the real gateway
would be), with a SQLite ledger on disk: what a user's script or notebook does (README,
"A campaign in a notebook or script"), at several sizes:

* **shared text** (one text for every row: ``send`` batches 50 numbers per request):
  100,000 / 300,000 / 1,000,000 rows;
* **personalised** (every text different: one request per row): 100,000 rows only. At
  about 300-500 requests a second on the 2-core machine, 300,000 would take 10-20 minutes
  and 1,000,000 close to an hour, so those sizes are left out by default (``--personalised
  100000,300000`` runs them); the output and the JSON say which sizes ran.

``--quick`` (the test suite's smoke run): 20,000 shared-text rows and 2,000 personalised.

Each size runs in its own fresh Python process (so its peak is its own) with its own fresh
simulator process. Per phase the benchmark reports the seconds, the process's peak resident
memory during that phase (the kernel's high-water mark ``VmHWM``, reset before each phase
through ``/proc/self/clear_refs``; where that is not allowed, a thread samples ``VmRSS``
every 5 ms) and the resident memory left when it ends. From the sizes measured it fits a
line per phase, **growth per 100,000 rows** and a fixed part, so a user can predict their own
campaign: ``peak ≈ fixed + rows / 100,000 × growth``.

Results go to ``benchmarks/results/campaign.json`` (``campaign_quick.json`` with ``--quick``).
The contact files are generated (deterministic) in a temporary folder and not counted.

    .venv/bin/python benchmarks/bench_campaign.py [--quick] [--shared 100000,300000,1000000]
        [--personalised 100000] [--output PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).with_name("results")
PHASES = ("read", "render", "send", "collect", "merge", "export")
SHARED = "【会员日】本周六全场八折，凭短信到店领取礼品一份"
PERSONAL = "{{ 姓名 }}您好，您的积分{{ 积分 }}将于月底清零，请到{{ 门店 }}使用。"
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "秀英", "子涵", "浩然"]
STORES = ["天河店", "越秀店", "海珠店", "番禺店", "白云店"]
CAMPAIGN = "bench-campaign"
#: the limits of issue 12, in MiB (shared text, one process's peak)
TARGETS_MIB = {300_000: 800, 1_000_000: 2048}
MERGE_TARGET_S = {1_000_000: 10.0}


# ------------------------------------------------------------------ the contact file


def write_contacts(path: Path, n: int, seed: int = 12) -> None:
    """A CSV of ``n`` contacts as a CRM exports it: name, mobile, points, store, date
    joined; about 0.5% of the numbers are landlines or blank and 0.5% repeat an earlier
    one (so skip reasons and duplicates are exercised at every size)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    phones = np.char.add(
        np.char.add("13", (5 + ids % 5).astype(str)), np.char.zfill(ids.astype(str), 8)
    ).astype(object)
    bad = rng.random(n)
    phones[bad < 0.0025] = "020-8888" + "1234"
    phones[(bad >= 0.0025) & (bad < 0.005)] = ""
    again = np.flatnonzero((bad >= 0.005) & (bad < 0.01))
    phones[again] = phones[rng.integers(0, max(1, n // 2), len(again))]
    names = np.char.add(
        np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)],
        np.array(GIVEN)[rng.integers(0, len(GIVEN), n)],
    )
    points = rng.integers(0, 20_000, n).astype(str)
    stores = np.array(STORES)[rng.integers(0, len(STORES), n)]
    days = (np.datetime64("2020-01-01") + rng.integers(0, 1800, n)).astype(str)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("姓名,手机号码,积分,门店,注册日期\n")
        step = 100_000
        for start in range(0, n, step):
            end = min(n, start + step)
            lines = [
                f"{a},{b},{c},{d},{e}\n"
                for a, b, c, d, e in zip(
                    names[start:end],
                    phones[start:end],
                    points[start:end],
                    stores[start:end],
                    days[start:end],
                    strict=True,
                )
            ]
            fh.write("".join(lines))


# ------------------------------------------------------------------ memory of this process


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


def _can_reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakMeter:
    """Peak resident memory of this process per phase (MiB).

    Uses the kernel's own high-water mark, reset at the start of each phase (exact, costs
    nothing); falls back to sampling VmRSS in a thread every 5 ms.
    """

    def __init__(self) -> None:
        self.exact = _can_reset_peak()
        self.method = "VmHWM reset per phase" if self.exact else "VmRSS sampled every 5 ms"
        self._peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not self.exact:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, _status_kib("VmRSS"))

    def reset(self) -> None:
        if self.exact:
            _can_reset_peak()
        self._peak = _status_kib("VmRSS")

    def peak_mib(self) -> float:
        kib = _status_kib("VmHWM") if self.exact else max(self._peak, _status_kib("VmRSS"))
        return round(kib / 1024, 1)

    def close(self) -> None:
        self._stop.set()


def rss_mib() -> float:
    return round(_status_kib("VmRSS") / 1024, 1)


# ------------------------------------------------------------------ one size, in a worker


def run_campaign(csv: Path, folder: Path, personalised: bool) -> dict[str, Any]:
    """The campaign as a user runs it; the simulator's URL and credentials are in the
    environment (``MOBSET_*``), as for a real account."""
    import mobset_campaign as mc

    client = mc.MobsetClient.from_env()
    meter = PeakMeter()
    phases: dict[str, dict[str, float]] = {}
    rss_start = rss_mib()

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        gc.collect()
        meter.reset()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        phases[name] = {
            "seconds": round(seconds, 2),
            "peak_rss_mib": meter.peak_mib(),
            "rss_after_mib": rss_mib(),
        }
        print(f"{name}: {phases[name]}", file=sys.stderr, flush=True)

    with phase("read"):
        contacts = mc.read_contacts(csv)
    with phase("render"):
        frame = mc.render(contacts, PERSONAL if personalised else SHARED, signature="首易")
    del contacts
    with mc.Ledger(folder / "ledger.sqlite") as ledger:
        with phase("send"):
            sent = mc.send(
                frame,
                client,
                campaign=CAMPAIGN,
                ledger=ledger,
                concurrency=8,
                quiet_hours=None,
                progress=False,
            )
        assert sent.stopped_reason is None, str(sent)
        # every report is due 0.2 s after its message; the drain itself is what is timed
        # (until="final" would also wait for the few messages the simulator, like the
        # real gateway, never reports on)
        time.sleep(1.0)
        with phase("collect"):
            got = mc.collect(client, ledger, until=None, min_interval=0, pace=0, progress=False)
        with phase("merge"):
            merged = mc.merge_status(frame, ledger, CAMPAIGN)
        with phase("export"):
            mc.export_excel(
                merged,
                folder / "campaign.xlsx",
                replies=ledger.replies_frame(CAMPAIGN),
                campaign=CAMPAIGN,
            )
    meter.close()
    states = merged["send_state"].value_counts().to_dict()
    return {
        "rows": len(merged),
        "personalised": personalised,
        "requests": sent.requests,
        "accepted": sent.accepted,
        "waiting_after_collect": got.waiting,
        "send_states": {str(k): int(v) for k, v in states.items()},
        "rss_at_start_mib": rss_start,
        "peak_rss_mib": max(p["peak_rss_mib"] for p in phases.values()),
        "peak_method": meter.method,
        "seconds": round(sum(p["seconds"] for p in phases.values()), 2),
        "phases": phases,
    }


def worker(argv: list[str]) -> None:
    csv, folder, personalised = Path(argv[0]), Path(argv[1]), argv[2] == "personalised"
    result = run_campaign(csv, folder, personalised)
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)


# ------------------------------------------------------------------ the driver


@contextmanager
def simulator_process() -> Iterator[dict[str, str]]:
    """A simulator in another process on a free loopback port; yields its MOBSET_* env."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mobset_campaign.simulator",
            "--port",
            "0",
            "--seed",
            "7",
            "--balance",
            str(10**10),
            "--report-delay",
            "0",
            "0.2",
            "--reply-rate",
            "0.01",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if "listening on" not in first:
            raise RuntimeError(f"the simulator did not start: {first}{proc.stderr.read()}")
        env: dict[str, str] = {}
        while len(env) < 4:
            line = proc.stdout.readline().strip()
            if not line.startswith("export "):
                raise RuntimeError(f"unexpected simulator output: {line!r}")
            name, _, value = line[len("export ") :].partition("=")
            env[name] = value.strip("'")
        yield env
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def one_size(rows: int, personalised: bool, folder: Path) -> dict[str, Any]:
    csv = folder / f"contacts_{rows}.csv"
    if not csv.exists():
        write_contacts(csv, rows)
    work = folder / f"{'personal' if personalised else 'shared'}_{rows}"
    work.mkdir()
    with simulator_process() as sim_env:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")}
        env.update(sim_env)
        env["XDG_DATA_HOME"] = str(work)  # nothing lands in the user's data folder
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                str(csv),
                str(work),
                "personalised" if personalised else "shared",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"the campaign of {rows} rows failed (exit {done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["csv_mib"] = round(csv.stat().st_size / 2**20, 1)
    return result


def growth(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A least-squares line through the sizes: per phase and in total, the growth per
    100,000 rows and the fixed part (seconds and peak MiB)."""
    if len(runs) < 2:
        return None
    x = np.array([r["rows"] for r in runs], dtype=float) / 100_000

    def line(y: list[float]) -> dict[str, float]:
        slope, fixed = np.polyfit(x, np.array(y, dtype=float), 1)
        return {"per_100k": round(float(slope), 2), "fixed": round(float(fixed), 1)}

    out: dict[str, Any] = {
        "seconds": line([r["seconds"] for r in runs]),
        "peak_rss_mib": line([r["peak_rss_mib"] for r in runs]),
        "phases": {},
    }
    for name in PHASES:
        out["phases"][name] = {
            "seconds": line([r["phases"][name]["seconds"] for r in runs]),
            "peak_rss_mib": line([r["phases"][name]["peak_rss_mib"] for r in runs]),
        }
    return out


def combine(paths: list[Path], output: Path) -> dict[str, Any]:
    """One result file from several runs of this benchmark (their sizes side by side)."""
    parts = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    results = dict(parts[0])
    for key in ("shared", "personalised"):
        results[key] = [run for part in parts for run in part[key]]
    results["combined_from"] = len(parts)
    for r in results["shared"] + results["personalised"]:
        _print_run(r)
    return finish(results, output)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"sizes must be whole numbers separated by commas, not {text!r}") from None
    if any(s < 100 for s in sizes):
        raise SystemExit(f"each size must be at least 100 rows, not {text!r}")
    return sizes


def _print_run(r: dict[str, Any]) -> None:
    kind = "personalised" if r["personalised"] else "shared text"
    print(
        f"{r['rows']:>9,} rows, {kind}: {r['seconds']:8.1f} s, peak {r['peak_rss_mib']:7.1f} MiB "
        f"({r['requests']:,} requests, {r['accepted']:,} accepted)"
    )
    for name in PHASES:
        p = r["phases"][name]
        print(
            f"    {name:<8} {p['seconds']:8.2f} s   peak {p['peak_rss_mib']:7.1f} MiB   "
            f"after {p['rss_after_mib']:7.1f} MiB"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 shared / 2,000 personalised")
    parser.add_argument("--shared", default=None, help="shared-text sizes, comma separated")
    parser.add_argument("--personalised", default=None, help="personalised sizes ('' for none)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    parser.add_argument(
        "--combine",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="no run: merge the sizes of earlier result files (e.g. sizes run apart) into one",
    )
    args = parser.parse_args(argv)
    if args.combine:
        return combine(args.combine, args.output or RESULTS / "campaign.json")
    shared = _sizes(args.shared or ("20000" if args.quick else "100000,300000,1000000"))
    personal = _sizes(
        args.personalised if args.personalised is not None else ("2000" if args.quick else "100000")
    )
    output = args.output or RESULTS / ("campaign_quick.json" if args.quick else "campaign.json")
    results: dict[str, Any] = {
        "benchmark": "campaign",
        "phases": list(PHASES),
        "shared_sizes": shared,
        "personalised_sizes": personal,
        "sizes_note": (
            "personalised rows send one request each (about 300-500 a second on this 2-core "
            "machine): only the sizes listed ran; larger ones would take 10-60 minutes"
        ),
        "simulator": "another process (python -m mobset_campaign.simulator), report delay "
        "0-0.2 s, 1% replies",
        "concurrency": 8,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "shared": [],
        "personalised": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench_campaign_") as tmp:
        for key, sizes, flag in (("shared", shared, False), ("personalised", personal, True)):
            for n in sizes:
                run = one_size(n, flag, Path(tmp))
                _print_run(run)
                results[key].append(run)
    return finish(results, output)


def finish(results: dict[str, Any], output: Path) -> dict[str, Any]:
    """Fit the growth lines, check the targets, print them and write the JSON."""
    for key in ("shared", "personalised"):
        results[key].sort(key=lambda r: r["rows"])
        results[f"{key}_sizes"] = [r["rows"] for r in results[key]]
        fit = growth(results[key])
        results[f"{key}_growth"] = fit
        if fit:
            print(
                f"{key}: +{fit['seconds']['per_100k']:.1f} s and "
                f"+{fit['peak_rss_mib']['per_100k']:.1f} MiB peak per 100,000 rows "
                f"(fixed part {fit['seconds']['fixed']:.1f} s, "
                f"{fit['peak_rss_mib']['fixed']:.0f} MiB)"
            )
    targets = []
    for run in results["shared"]:
        limit = TARGETS_MIB.get(run["rows"])
        if limit is not None:
            targets.append(
                {
                    "measure": f"peak RSS, {run['rows']:,} shared-text rows",
                    "value_mib": run["peak_rss_mib"],
                    "target_mib_at_most": limit,
                }
            )
        limit_s = MERGE_TARGET_S.get(run["rows"])
        if limit_s is not None:
            targets.append(
                {
                    "measure": f"merge_status, {run['rows']:,} rows",
                    "value_s": run["phases"]["merge"]["seconds"],
                    "target_s_below": limit_s,
                }
            )
    results["targets"] = targets
    for t in targets:
        print(f"  {t['measure']}: " + ", ".join(f"{k} {v}" for k, v in t.items() if k != "measure"))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    else:
        main()
