"""The ledger benchmark still runs (quick mode); its figures are not asserted (machines are
noisy), only that they are there and sane, and that the scale-out checks held."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_bench_ledger_quick_runs_and_writes_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_ledger
    finally:
        sys.path.remove(str(BENCH))
    out = tmp_path / "ledger.json"
    results = bench_ledger.main(["--quick", "--output", str(out)])
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(results, ensure_ascii=False))
    assert saved["benchmark"] == "ledger" and saved["quick"] is True
    assert saved["python"] and saved["machine"] and saved["cpus"] >= 1
    assert saved["postgresql"]["server_version"]

    backends = saved["backends_no_latency"]
    assert backends["rows"] == 200 and backends["target_ratio_at_least"] == 0.5
    for side in ("sqlite", "postgresql"):
        assert backends[side]["messages_per_s"] > 0
        assert backends[side]["requests"] == 200  # personalised: one request per row
    assert backends["ratio_postgresql_over_sqlite"] > 0

    scale = saved["scale_out_processes"]
    assert scale["rows"] == 120 and scale["target_ratio_at_least"] == 2.5
    assert scale["ratio_many_over_one"] > 0
    for key, processes in (("one_process", 1), ("3_processes", 3)):
        trial = scale[key]
        assert trial["processes"] == processes and trial["messages_per_s"] > 0
        assert len(trial["accepted_per_process"]) == processes
        assert sum(trial["accepted_per_process"]) == 120
        check = trial["check"]
        assert check["ok"] and check["accepted"] == check["rows_sent"] == 120
        assert check["numbers_accepted_more_than_once"] == 0 and check["rows_not_sent"] == 0
        assert trial["diagnostics"]["claim_transactions"] >= 120
    assert scale["checks_ok"] is True
    slow = saved["scale_out_processes_slow_gateway"]
    assert slow["latency_s"] == 0.1 and slow["rows"] == 60 and slow["checks_ok"] is True
    assert sum(slow["3_processes"]["accepted_per_process"]) == 60
    printed = capsys.readouterr().out
    assert "PG/SQLite" in printed and "accepted twice" in printed
