"""The ``df.sms`` accessor: the notebook spelling of render, estimate and preview.

Importing :mod:`mobset_campaign` registers it. Each method is the plain function with the
frame as its first argument (same parameters, same result); none changes the frame.

>>> import pandas as pd
>>> from mobset_campaign.contacts import read_contacts
>>> df = read_contacts(pd.DataFrame({"姓名": ["张三", "李四", "王五"],
...                                  "手机": ["13512346789", "13612345678", "13712345678"]}))
>>> out = df.sms.render("{{ 姓名 }}您好", signature="广州首易")
>>> out.sms.estimate().total_parts
3
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import pandas as pd

from .estimate import estimate, preview
from .render import render

__all__ = ["SmsAccessor"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _on_frame(
    func: Callable[Concatenate[pd.DataFrame, _P], _R],
) -> Callable[Concatenate[SmsAccessor, _P], _R]:
    """``func`` as a method of the accessor: the accessor's frame is its first argument."""

    @functools.wraps(func)
    def method(self: SmsAccessor, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return func(self._df, *args, **kwargs)

    signature = inspect.signature(func)
    rest = list(signature.parameters.values())[1:]
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *rest]
    )
    method.__doc__ = f":func:`mobset_campaign.{func.__name__}` on this frame (same parameters)."
    return method


@pd.api.extensions.register_dataframe_accessor("sms")
class SmsAccessor:
    """``df.sms.render(...)``, ``df.sms.estimate(...)``, ``df.sms.preview(...)``."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    render = _on_frame(render)
    estimate = _on_frame(estimate)
    preview = _on_frame(preview)
