"""The client benchmark still runs (quick mode); its figures are not asserted (machines are noisy)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_client.py"


@pytest.mark.slow
def test_bench_client_quick_runs_and_writes_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "client.json"
    monkeypatch.setattr(sys, "argv", [str(BENCH), "--quick", "--output", str(out)])
    runpy.run_path(str(BENCH), run_name="__main__")
    figures = json.loads(out.read_text(encoding="utf-8"))
    for method in ("SmsGetBalance", "SmsSend"):
        assert figures[method]["ratio_client_over_bare"] > 0
        assert figures[method]["client_requests_per_s"] > 0
    assert "ratio" in capsys.readouterr().out
