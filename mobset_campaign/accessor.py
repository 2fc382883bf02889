"""The ``df.sms`` accessor: the notebook spelling of render, estimate and preview.

Importing :mod:`mobset_campaign` registers it. Each method calls the plain function with the
frame as its first argument; none changes the frame.

>>> import pandas as pd
>>> from mobset_campaign.contacts import read_contacts
>>> df = read_contacts(pd.DataFrame({"姓名": ["张三", "李四", "王五"],
...                                  "手机": ["13512346789", "13612345678", "13712345678"]}))
>>> out = df.sms.render("{{ 姓名 }}您好", signature="广州首易")
>>> out.sms.estimate().total_parts
3
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .estimate import Estimate, Preview, estimate, preview
from .render import render
from .segments import DEFAULT_RULES, SegmentRules

__all__ = ["SmsAccessor"]


@pd.api.extensions.register_dataframe_accessor("sms")
class SmsAccessor:
    """``df.sms.render(...)``, ``df.sms.estimate(...)``, ``df.sms.preview(...)``."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def render(
        self,
        template: str | Path,
        *,
        signature: str | None = None,
        opt_out: bool | str | None = None,
        long_sms: bool = True,
        embed_signature: bool = False,
        rules: SegmentRules = DEFAULT_RULES,
    ) -> pd.DataFrame:
        """:func:`mobset_campaign.render` on this frame."""
        return render(
            self._df,
            template,
            signature=signature,
            opt_out=opt_out,
            long_sms=long_sms,
            embed_signature=embed_signature,
            rules=rules,
        )

    def estimate(
        self,
        *,
        signature: str | None = None,
        client: Any = None,
        price_per_part: float | None = None,
        rules: SegmentRules | None = None,
    ) -> Estimate:
        """:func:`mobset_campaign.estimate` on this frame."""
        return estimate(
            self._df,
            signature=signature,
            client=client,
            price_per_part=price_per_part,
            rules=rules,
        )

    def preview(self, n: int = 5, *, signature: str | None = None) -> Preview:
        """:func:`mobset_campaign.preview` on this frame."""
        return preview(self._df, n, signature=signature)
