"""What a rendered campaign will cost, and what the phones will show.

:func:`estimate` summarises a frame from :func:`~mobset_campaign.render`: messages sendable and
not (by the same reasons :func:`~mobset_campaign.send` skips rows,
:func:`mobset_campaign.rows.skip_reasons`), parts billed (the gateway bills every part of
every number, signature included, exactly :func:`~mobset_campaign.segments.count_parts`), a
histogram of parts, rows pushed over a part boundary by their personalisation, the render
checks (:mod:`mobset_campaign.checks`) by kind, the cost at a price per part and, with a
client, the account's signature and balance. :func:`preview` shows the messages as a phone
shows them, signature in place and part boundaries marked.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._i18n import gettext as _
from ._money import cost as cost_of
from ._money import price_problem
from .checks import Check, blank_cells, check_messages, marketing_mask
from .errors import InputError
from .rows import FrameRows, assign_messages, require_columns, skip_reasons
from .segments import (
    DEFAULT_RULES,
    SegmentRules,
    bracket_signature,
    count_arrays,
    split_parts,
)
from .summaries import Estimate, Preview, PreviewMessage

__all__ = ["estimate", "preview"]

#: The render checks an estimate counts among the sendable messages (too long and empty
#: messages are not sendable; a push over a part boundary is counted afresh as ``pushed``).
_COUNTED = (Check.WIDE, Check.BRACKETS, Check.MARKETING, Check.EMPTY_CELL)
_RENDERED = ("content", "parts", "sendable", "phone")


class _AccountClient(Protocol):
    def get_sign(self) -> str: ...  # pragma: no cover - protocol

    def get_balance(self) -> int: ...  # pragma: no cover - protocol


def _require_rendered(df: pd.DataFrame, what: str) -> None:
    require_columns(df, _RENDERED, f"{what}()")


def _settings(df: pd.DataFrame) -> dict[str, Any]:
    settings = df.attrs.get("sms")
    return settings if isinstance(settings, dict) else {}


def _texts(df: pd.DataFrame, column: str) -> list[str]:
    """A column as text, missing (or absent) → ``""``."""
    if column not in df.columns:
        return [""] * len(df)
    values = df[column].to_numpy(dtype=object)
    return [
        "" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)
        for v in values
    ]


def estimate(
    df: pd.DataFrame,
    *,
    signature: str | None = None,
    client: _AccountClient | None = None,
    price_per_part: float | None = None,
    rules: SegmentRules | None = None,
    one_per_number: bool = True,
) -> Estimate:
    """Count what a rendered frame will cost; nothing is sent and ``df`` is not changed.

    Args:
        df: a frame from :func:`~mobset_campaign.render`.
        signature: the signature to count (without brackets). By default the client's
            (``get_sign()``), else the one ``render`` used. When it differs from the one
            ``render`` counted, lengths and parts are recounted from ``content``.
        client: a :class:`~mobset_campaign.client.MobsetClient` (or anything with
            ``get_sign()`` and ``get_balance()``): gives the signature and the balance.
        price_per_part: price of one part in yuan, for the cost (``est.cost_text``: ``¥0.20``).
        rules: counting limits; by default those ``render`` used.
        one_per_number: as for :func:`~mobset_campaign.send`: a number on several rows
            gets one message (the others count as ``duplicate``); ``False`` sends one per
            distinct text.

    >>> from mobset_campaign.contacts import read_contacts
    >>> from mobset_campaign.render import render
    >>> df = read_contacts(pd.DataFrame({"姓名": ["张三", "李四", "王五"],
    ...                                  "手机": ["13512346789", "13612345678", "020-1234567"]}))
    >>> est = estimate(render(df, "{{ 姓名 }}您好" + "。" * 70, signature="广州首易"),
    ...                price_per_part=0.05)
    >>> est.sendable, est.total_parts, est.cost, est.not_sendable
    (2, 4, 0.2, {'not a mainland mobile': 1})
    >>> est.cost_sentence()
    '¥0.20 at ¥0.05 per part'
    """
    _require_rendered(df, "estimate")
    problem = price_problem(price_per_part)
    if problem:
        raise InputError(_("estimate: {problem}").format(problem=problem))
    settings = _settings(df)
    rules = rules or settings.get("rules") or DEFAULT_RULES
    long_sms = bool(settings.get("long_sms", True))
    embedded = bool(settings.get("embed_signature", False))
    rendered_with = settings.get("signature")
    if signature is None and client is not None:
        signature = client.get_sign()
    if signature is None:
        signature = rendered_with
    balance = int(client.get_balance()) if client is not None else None

    notes: list[str] = []
    content = np.array(_texts(df, "content"), dtype=object)
    flagged = df["sendable"].to_numpy(dtype=bool)
    parts = df["parts"].to_numpy(dtype="int64")
    counted_sig = "" if embedded else signature
    recount = (
        not embedded
        and bracket_signature(signature, rules) != bracket_signature(rendered_with, rules)
    ) or rules is not settings.get("rules", rules)
    chars: np.ndarray | None
    if recount:
        chars, parts, _wide = count_arrays(content, counted_sig, long_sms=long_sms, rules=rules)
        # rows render (or the user) left out for another reason than length stay out
        old_too_long = (
            df["chars"].to_numpy() > rules.max_chars
            if "chars" in df.columns
            else np.zeros(len(df), dtype=bool)
        )
        flagged = (chars <= rules.max_chars) & (flagged | old_too_long)
        notes.append(
            _(
                "lengths recounted with the signature {signature} (render counted {rendered})"
            ).format(
                signature=bracket_signature(signature, rules) or _("(none)"),
                rendered=bracket_signature(rendered_with, rules) or _("none"),
            )
        )
    else:
        chars = df["chars"].to_numpy(dtype="int64") if "chars" in df.columns else None
    if signature is None and not embedded:
        notes.append(
            _(
                "the signature is unknown, so it was not counted: each message will be longer by "
                "its signature (pass signature= or client=)"
            )
        )
    too_long = chars > rules.max_chars if chars is not None else None
    rows = FrameRows.of(df)
    first = skip_reasons(df, rows=rows, sendable=flagged, too_long=too_long)  # as send() does
    one_message = assign_messages(
        rows, {}, one_per_number=one_per_number, usable=first.sendable.tolist()
    )
    reasons = first.with_duplicates(one_message.duplicate_of)
    sendable = reasons.sendable.to_numpy(dtype=bool)

    sent_parts = parts[sendable]
    values, counts = np.unique(sent_parts, return_counts=True)
    histogram = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
    typical = int(values[np.argmax(counts)]) if len(values) else 0
    pushed = int((sent_parts > typical).sum())

    warnings = _checks(df, content, settings, rules, long_sms, counted_sig).counts(
        sendable, _COUNTED
    )

    total = int(sent_parts.sum())
    cost = cost_of(total, float(price_per_part)) if price_per_part is not None else None
    return Estimate(
        rows=len(df),
        sendable=int(sendable.sum()),
        not_sendable=reasons.groups(),
        total_parts=total,
        parts_histogram=histogram,
        pushed=pushed,
        typical_parts=typical,
        signature=signature,
        long_sms=long_sms,
        max_chars=rules.max_chars,
        price_per_part=price_per_part,
        cost=cost,
        balance=balance,
        warnings=warnings,
        notes=notes,
    )


def _checks(
    df: pd.DataFrame,
    content: np.ndarray,
    settings: dict[str, Any],
    rules: SegmentRules,
    long_sms: bool,
    counted_sig: str | None,
) -> Any:
    """The render checks of each message, made again from the frame as it is now (with
    the template's printed columns and the opt-out suffix that render recorded)."""
    body = content
    embedded = bracket_signature(settings.get("signature"), rules)
    if settings.get("embed_signature") and embedded:
        body = np.array(
            [t[len(embedded) :] if t.startswith(embedded) else t for t in content], dtype=object
        )
    chars, parts, wide = count_arrays(content, counted_sig, long_sms=long_sms, rules=rules)
    empty = body == ""
    printed = settings.get("unguarded_columns")
    return check_messages(
        body,
        chars,
        parts,
        wide,
        rules,
        marketing=marketing_mask(body, empty, None, bool(settings.get("opt_out"))),
        empty_cells=blank_cells(df, printed) if isinstance(printed, dict) else [],
    )


# --------------------------------------------------------------------------- preview


def preview(df: pd.DataFrame, n: int = 5, *, signature: str | None = None) -> Preview:
    """The first ``n`` messages as the phone shows them (signature first, parts marked).

    ``signature`` defaults to the one ``render`` used. ``df`` is not changed.

    >>> from mobset_campaign.contacts import read_contacts
    >>> from mobset_campaign.render import render
    >>> df = read_contacts(pd.DataFrame({"姓名": ["张三", "李四", "王五"],
    ...                                  "手机": ["13512346789", "13612345678", ""]}))
    >>> print(preview(render(df, "{{ 姓名 }}您好，快递已到。", signature="广州首易"), n=1))
    row 2 · 13512346789 · 16 chars · 1 part · sendable
      【广州首易】张三您好，快递已到。
    … 2 more rows
    """
    _require_rendered(df, "preview")
    settings = _settings(df)
    rules = settings.get("rules") or DEFAULT_RULES
    if signature is None:
        signature = settings.get("signature")
    counted = "" if settings.get("embed_signature") else signature
    long_sms = bool(settings.get("long_sms", True))
    head = df.head(max(int(n), 0))
    rows = head["row"].to_numpy() if "row" in head.columns else np.arange(len(head)) + 2
    texts, problems = _texts(head, "content"), _texts(head, "phone_problem")
    warnings, phones = _texts(head, "warnings"), _texts(head, "phone")
    sendable = head["sendable"].to_numpy(dtype=bool)
    chars = count_arrays(np.array(texts, dtype=object), counted, rules=rules)[0]
    messages = []
    for i in range(len(head)):
        if sendable[i]:
            status = _("sendable")
        elif problems[i]:
            status = _("not sent: {problem}").format(problem=problems[i])
        else:
            status = _("not sent")
        messages.append(
            PreviewMessage(
                row=int(rows[i]),
                phone=phones[i],
                parts=split_parts(texts[i], counted, long_sms=long_sms, rules=rules),
                chars=int(chars[i]),
                status=status,
                warnings=warnings[i],
                sendable=bool(sendable[i]),
            )
        )
    return Preview(messages=messages, signature=signature, total_rows=len(df))
