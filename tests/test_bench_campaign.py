"""The campaign benchmark still runs end to end (quick mode); its figures are not asserted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_bench_campaign_quick_runs_every_phase_and_writes_its_figures(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_campaign
    finally:
        sys.path.remove(str(BENCH))
    out = tmp_path / "campaign.json"
    results = bench_campaign.main(["--quick", "--output", str(out)])
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(results, ensure_ascii=False))
    assert saved["shared_sizes"] == [20_000] and saved["personalised_sizes"] == [2_000]
    for key, rows in (("shared", 20_000), ("personalised", 2_000)):
        (run,) = saved[key]
        assert run["rows"] == rows and run["accepted"] > 0.95 * rows
        assert set(run["phases"]) == set(bench_campaign.PHASES)
        for phase in run["phases"].values():
            assert phase["seconds"] >= 0 and phase["peak_rss_mib"] > 0
        assert run["peak_rss_mib"] == max(p["peak_rss_mib"] for p in run["phases"].values())
        assert sum(run["send_states"].values()) == rows  # every row is in the workbook frame
    # shared text goes 50 numbers to a request; personalised one per request
    assert saved["shared"][0]["requests"] <= saved["shared"][0]["accepted"] // 50 + 1
    assert saved["personalised"][0]["requests"] == saved["personalised"][0]["accepted"]


def test_growth_per_100k_rows_is_a_line_through_the_sizes() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_campaign
    finally:
        sys.path.remove(str(BENCH))
    phases = {p: {"seconds": 1.0, "peak_rss_mib": 100.0} for p in bench_campaign.PHASES}
    runs = [
        {"rows": n, "seconds": 10 + n / 10_000, "peak_rss_mib": 90 + n / 1_000, "phases": phases}
        for n in (100_000, 300_000)
    ]
    fit = bench_campaign.growth(runs)
    assert fit is not None
    assert fit["seconds"] == {"per_100k": 10.0, "fixed": 10.0}
    assert fit["peak_rss_mib"] == {"per_100k": 100.0, "fixed": 90.0}
    assert bench_campaign.growth(runs[:1]) is None


def test_sizes_run_apart_combine_into_one_result(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_campaign
    finally:
        sys.path.remove(str(BENCH))
    phases = {
        p: {"seconds": 1.0, "peak_rss_mib": 100.0, "rss_after_mib": 90.0}
        for p in bench_campaign.PHASES
    }
    files = []
    for n in (1_000_000, 100_000):
        run = {
            "rows": n, "personalised": False, "requests": n // 50, "accepted": n,
            "seconds": 10 + n / 10_000, "peak_rss_mib": 90 + n / 1_000, "phases": phases,
        }  # fmt: skip
        path = tmp_path / f"{n}.json"
        path.write_text(json.dumps({"benchmark": "campaign", "shared": [run], "personalised": []}))
        files.append(str(path))
    out = tmp_path / "campaign.json"
    results = bench_campaign.main(["--combine", *files, "--output", str(out)])
    assert results["shared_sizes"] == [100_000, 1_000_000]  # in order of size
    assert results["shared_growth"]["peak_rss_mib"]["per_100k"] == 100.0
    (target,) = [t for t in results["targets"] if "peak RSS" in t["measure"]]
    assert target["value_mib"] == 1090.0 and target["target_mib_at_most"] == 2048
    assert json.loads(out.read_text(encoding="utf-8")) == results
