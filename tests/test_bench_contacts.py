"""The contacts benchmark still runs (quick mode); its figures are not asserted here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_bench_contacts_quick_runs_and_writes_its_figures(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_contacts
    finally:
        sys.path.remove(str(BENCH))
    out = tmp_path / "contacts.json"
    results = bench_contacts.main(["--quick", "--output", str(out)])
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(results, ensure_ascii=False))
    assert saved["quick"] is True
    xlsx, numbers, rendered = (
        saved["read_xlsx"],
        saved["normalise_numbers"],
        saved["render_and_count"],
    )
    assert xlsx["rows"] == 2_000 and xlsx["rows_with_a_problem"] > 0
    assert xlsx["speedup_vs_openpyxl"] > 0 and xlsx["ratio_ours_over_pd_calamine"] > 0
    assert numbers["numbers"] == numbers["baseline_rows_measured"] == 20_000
    assert 0 < numbers["with_a_problem"] < numbers["numbers"]
    assert rendered["rows"] == 20_000 and rendered["speedup"] > 0
    assert rendered["peak_mib_render"] > 0 and rendered["peak_mib_per_row_jinja"] > 0
