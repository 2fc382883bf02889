"""The demo campaign end to end (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from mobset_campaign.demo import run_demo
from mobset_campaign.export import DETAILS_SHEET
from mobset_campaign.workbook import field_name


@pytest.mark.slow
def test_demo_writes_the_workbook_with_statuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_demo(tmp_path, progress=False, collect_timeout=6)
    out = capsys.readouterr().out
    assert result.workbook.exists()
    assert result.merged is not None
    merged = result.merged
    assert {"send_state", "status", "status_text", "reply"} <= set(merged.columns)
    # every row comes back: sendable rows were sent, broken ones skipped with a reason
    assert set(merged["send_state"]) <= {
        "delivered",
        "failed",
        "sent",
        "skipped",
        "rejected",
        "unknown",
    }
    assert (merged["send_state"] == "skipped").sum() == merged["phone_problem"].notna().sum()
    assert (merged["send_state"] == "delivered").sum() > len(merged) / 2
    book = openpyxl.load_workbook(result.workbook)
    assert len(book.sheetnames) == 3
    header = [field_name(c.value) for c in book[DETAILS_SHEET][1]]
    assert "send_state" in header and "status_text" in header
    assert [p.name for p in result.charts] and all(p.exists() for p in result.charts)
    assert "Wrote" in out
