"""The merge benchmark still runs (quick mode); its figures are not asserted here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_bench_merge_quick_builds_a_ledger_and_writes_its_figures(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_merge
    finally:
        sys.path.remove(str(BENCH))
    out = tmp_path / "merge.json"
    argv = ["--quick", "--repeat", "1", "--cache", str(tmp_path / "cache"), "--output", str(out)]
    results = bench_merge.main(argv)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(results, ensure_ascii=False))
    assert saved["rows"] == 20_000 and saved["messages"] > 0.95 * 20_000
    # a campaign as send and collect leave it: every outcome is there
    states = saved["send_states"]
    assert {"delivered", "failed", "sent", "rejected", "skipped"} <= set(states)
    assert sum(states.values()) == 20_000
    assert saved["ledger"]["replies"] > 0
    assert saved["status_frame_seconds"] > 0 and saved["merge_status_seconds"] > 0
    # the second run reuses the ledger it built
    again = bench_merge.main(argv)
    assert again["messages"] == saved["messages"]
