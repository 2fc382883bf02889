"""The send benchmark still runs (quick mode); its figures are not asserted here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_bench_send_quick_runs_and_writes_its_figures(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_send
    finally:
        sys.path.remove(str(BENCH))
    out = tmp_path / "send.json"
    results = bench_send.main(["--quick", "--output", str(out)])
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(results, ensure_ascii=False))
    assert saved["rows"] == 200
    for key in ("personalised_concurrency_8", "shared_text_batches_of_50"):
        assert saved[key]["ratio_vs_naive"] > 0 and saved[key]["requests"] > 0
    assert saved["shared_text_batches_of_50"]["requests"] == 4  # 200 rows, 50 per request
    assert saved["ledger_cost_no_latency"]["ratio_ledger_over_null_throughput"] > 0
