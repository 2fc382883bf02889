"""The status frame reads the ledger's times with numpy (its own form: ISO, milliseconds,
offset) and any other stored form as pandas does: the same datetimes either way."""

from __future__ import annotations

import pandas as pd
import pytest

from mobset_campaign._protocol import BEIJING
from mobset_campaign.ledger import Ledger

#: what a ledger may hold in a time column: its own form, and forms it never writes (an
#: older program, a hand edit, a copy) that pandas still reads — or reads as missing
STORED = [
    "2026-03-01T10:00:00.020+08:00",
    "2024-02-29T23:59:59.999-05:30",
    "1999-12-31T23:59:59.001+00:00",
    "2000-01-01T00:00:00.000+14:00",
    "2026-03-01T10:00:00+08:00",  # no milliseconds
    "2026-03-01T10:00:00.123456+08:00",  # microseconds: longer than the own form
    "2026-03-01T02:00:00.500Z",
    "2026-03-01 10:00:00.020+08:00",  # a space for the T
    "2023-02-29T10:00:00.000+08:00",  # no such day
    "2026-13-01T10:00:00.000+08:00",  # no such month
    "2026-03-01T24:00:00.000+08:00",
    "not a time at all, but 29 ch.",
    "",
    None,
]


def _expected(values: list[str | None]) -> list[object]:
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), format="ISO8601", utc=True, errors="coerce"
    )
    return parsed.dt.tz_convert(BEIJING).dt.as_unit("us").tolist()


@pytest.mark.parametrize("column", ["sent_at", "report_time"])
def test_status_frame_times_read_every_stored_form_as_pandas_does(
    ledger: Ledger, column: str
) -> None:
    ledger.ensure_campaign("c")
    rows = [(f"1350000{i:04d}", f"1350000{i:04d}", "hi", 1) for i in range(len(STORED))]
    ledger.register("c", rows)
    with ledger._tx() as cur:
        for (key, *_), value in zip(rows, STORED, strict=True):
            cur.execute(f"UPDATE messages SET {column} = ? WHERE row_key = ?", (value, key))
    frame = ledger.status_frame("c").set_index("row_key")
    shown = "sent_time" if column == "sent_at" else "report_time"
    got = frame.loc[[key for key, *_ in rows], shown]
    assert str(got.dtype) == "datetime64[us, Asia/Shanghai]"
    assert got.tolist() == _expected(STORED)
