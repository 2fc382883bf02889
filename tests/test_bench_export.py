"""The export benchmark still runs (quick mode); its figures are not asserted here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_bench_export_quick_runs_and_writes_its_figures(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_export
    finally:
        sys.path.remove(str(BENCH))
    out = tmp_path / "export.json"
    results = bench_export.main(["--quick", "--output", str(out)])
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(results, ensure_ascii=False))
    assert (saved["rows"], saved["columns"]) == (2_000, 23)
    for key in (
        "export_excel_seconds",
        "to_excel_openpyxl_seconds",
        "to_excel_xlsxwriter_seconds",
        "speedup_vs_to_excel_openpyxl",
        "speedup_vs_to_excel_xlsxwriter",
        "export_peak_traced_mib",
    ):
        assert saved[key] > 0, key
