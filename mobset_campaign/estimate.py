"""What a rendered campaign will cost, and what the phones will show.

:func:`estimate` summarises a frame from :func:`~mobset_campaign.render`: messages sendable and
not (by reason), parts billed (the gateway bills every part of every number, signature
included, exactly :func:`~mobset_campaign.segments.count_parts`), a histogram of parts, rows
pushed over a part boundary by their personalisation, the cost at a price per part and, with a
client, the account's signature and balance. :func:`preview` shows the messages as a phone
shows them, signature in place and part boundaries marked.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .errors import InputError
from .segments import (
    DEFAULT_RULES,
    SegmentRules,
    bracket_signature,
    count_arrays,
    split_parts,
)

__all__ = ["Estimate", "Preview", "PreviewMessage", "estimate", "preview"]


class _AccountClient(Protocol):
    def get_sign(self) -> str: ...  # pragma: no cover - protocol

    def get_balance(self) -> int: ...  # pragma: no cover - protocol


_WARNING_KINDS = (
    ("personalisation", "pushed over a part boundary by personalisation"),
    ("emoji", "emoji or rare characters (count 2)"),
    ("【】", "【】 in the text"),
    ("marketing", "marketing text without opt-out"),
    ("empty ", "empty cells in the template's columns"),
)


@dataclass(frozen=True)
class Estimate:
    """The cost of a rendered campaign. ``str()`` reads as a report; notebooks show HTML.

    Attributes:
        rows: rows in the frame.
        sendable: messages that will be sent (one per sendable row).
        not_sendable: rows that will not be sent, by reason (``duplicate``, ``opted out``,
            ``not a mainland mobile``, ``empty message``, ``too long``, …).
        total_parts: parts billed for the sendable messages.
        parts_histogram: ``{parts: messages}`` over the sendable messages.
        pushed: sendable messages that take more parts than most (``typical_parts``) only
            because of their personalisation.
        typical_parts: the most common number of parts.
        signature: the signature counted, without brackets; ``None`` when unknown (then
            nothing was counted for it and every message will be longer than shown).
        long_sms: counted as long SMS (the default) or as separate short messages.
        max_chars: the length limit applied.
        price_per_part: the price given, if any; ``cost`` is ``total_parts × price``.
        cost: see ``price_per_part``.
        balance: the account's balance in parts, when a client was given.
        warnings: ``{kind: sendable messages}`` for the render warnings.
        notes: sentences about how the estimate was made (unknown signature, recount).
    """

    rows: int
    sendable: int
    not_sendable: dict[str, int]
    total_parts: int
    parts_histogram: dict[int, int]
    pushed: int
    typical_parts: int
    signature: str | None
    long_sms: bool
    max_chars: int
    price_per_part: float | None = None
    cost: float | None = None
    balance: int | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def shortfall(self) -> int | None:
        """Parts missing from the balance (0 when it is enough); None without a balance."""
        if self.balance is None:
            return None
        return max(self.total_parts - self.balance, 0)

    def balance_sentence(self) -> str | None:
        """``needs 1,284 parts, balance 900: 384 short`` (or ``…: enough, 3,716 left``)."""
        if self.balance is None:
            return None
        head = f"needs {self.total_parts:,} parts, balance {self.balance:,}"
        if self.total_parts > self.balance:
            return f"{head}: {self.total_parts - self.balance:,} short"
        return f"{head}: enough, {self.balance - self.total_parts:,} left"

    def _lines(self) -> list[tuple[str, str]]:
        rows = f"{self.rows:,} row{'s' if self.rows != 1 else ''}"
        lines = [("messages", f"{self.sendable:,} sendable of {rows}")]
        if self.not_sendable:
            reasons = ", ".join(f"{reason} {n:,}" for reason, n in self.not_sendable.items())
            lines.append(("not sendable", reasons))
        if self.signature is None:
            lines.append(("signature", "unknown, not counted"))
        else:
            sig = bracket_signature(self.signature)
            lines.append(
                ("signature", f"{sig} ({len(sig)} characters, counted)" if sig else "none")
            )
        hist = ", ".join(
            f"{n:,} × {p} part{'s' if p != 1 else ''}"
            for p, n in sorted(self.parts_histogram.items())
        )
        mode = "long SMS" if self.long_sms else "separate short messages"
        lines.append(("parts", f"{self.total_parts:,} ({hist or 'none'}; {mode})"))
        if self.pushed:
            lines.append(
                (
                    "personalisation",
                    f"{self.pushed:,} message{'s' if self.pushed != 1 else ''} take more than "
                    f"{self.typical_parts} part{'s' if self.typical_parts != 1 else ''} because "
                    "of their personalisation",
                )
            )
        if self.cost is not None:
            lines.append(("cost", f"{self.cost:,.2f} at {self.price_per_part:g} per part"))
        sentence = self.balance_sentence()
        if sentence:
            lines.append(("balance", sentence))
        for kind, n in self.warnings.items():
            lines.append(("warning", f"{kind}: {n:,} message{'s' if n != 1 else ''}"))
        for note in self.notes:
            lines.append(("note", note))
        return lines

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self._lines())
        body = "\n".join(f"  {k.ljust(width)}  {v}" for k, v in self._lines())
        return f"Campaign estimate\n{body}"

    def __repr__(self) -> str:
        # the readable report, also in a terminal IPython or a text export
        return str(self)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._lines()
        )
        short = self.shortfall
        colour = "#b00020" if short else "#1b5e20"
        banner = (
            f"<div style='color:{colour};font-weight:bold'>{html.escape(self.balance_sentence() or '')}</div>"
            if self.balance is not None
            else ""
        )
        return f"<div><b>Campaign estimate</b>{banner}<table>{rows}</table></div>"


def _require_rendered(df: pd.DataFrame, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{what}() needs a DataFrame, not {type(df).__name__}.")
    missing = [c for c in ("content", "parts", "sendable", "phone") if c not in df.columns]
    if missing:
        raise InputError(
            f"{what}() needs a rendered frame, but it has no {', '.join(missing)} column; call "
            "render(df, template) first (after read_contacts)."
        )


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


def _reason(problem: str) -> str:
    if problem.startswith("duplicate of row"):
        return "duplicate"
    if problem == "empty":
        return "empty phone cell"
    return problem.split(":", 1)[0].strip()


def estimate(
    df: pd.DataFrame,
    *,
    signature: str | None = None,
    client: _AccountClient | None = None,
    price_per_part: float | None = None,
    rules: SegmentRules | None = None,
) -> Estimate:
    """Count what a rendered frame will cost; nothing is sent and ``df`` is not changed.

    Args:
        df: a frame from :func:`~mobset_campaign.render`.
        signature: the signature to count (without brackets). By default the client's
            (``get_sign()``), else the one ``render`` used. When it differs from the one
            ``render`` counted, lengths and parts are recounted from ``content``.
        client: a :class:`~mobset_campaign.client.MobsetClient` (or anything with
            ``get_sign()`` and ``get_balance()``): gives the signature and the balance.
        price_per_part: price of one part, for the cost.
        rules: counting limits; by default those ``render`` used.

    >>> from mobset_campaign.contacts import read_contacts
    >>> from mobset_campaign.render import render
    >>> df = read_contacts(pd.DataFrame({"姓名": ["张三", "李四", "王五"],
    ...                                  "手机": ["13512346789", "13612345678", "020-1234567"]}))
    >>> est = estimate(render(df, "{{ 姓名 }}您好" + "。" * 70, signature="广州首易"),
    ...                price_per_part=0.05)
    >>> est.sendable, est.total_parts, est.cost, est.not_sendable
    (2, 4, 0.2, {'not a mainland mobile': 1})
    """
    _require_rendered(df, "estimate")
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
    sendable = df["sendable"].to_numpy(dtype=bool)
    parts = df["parts"].to_numpy(dtype="int64")
    counted_sig = "" if embedded else signature
    recount = (
        not embedded
        and bracket_signature(signature, rules) != bracket_signature(rendered_with, rules)
    ) or rules is not settings.get("rules", rules)
    chars: np.ndarray | None
    if recount:
        chars, parts, _ = count_arrays(content, counted_sig, long_sms=long_sms, rules=rules)
        base_ok = df["phone"].notna().to_numpy() & (content != "")
        if "phone_problem" in df.columns:
            base_ok &= df["phone_problem"].isna().to_numpy()
        # rows render (or the user) left out for another reason than length stay out
        old_too_long = (
            df["chars"].to_numpy() > rules.max_chars
            if "chars" in df.columns
            else np.zeros(len(df), dtype=bool)
        )
        left_out = base_ok & ~old_too_long & ~df["sendable"].to_numpy(dtype=bool)
        sendable = base_ok & (chars <= rules.max_chars) & ~left_out
        notes.append(
            f"lengths recounted with the signature {bracket_signature(signature, rules) or '(none)'} "
            f"(render counted {bracket_signature(rendered_with, rules) or 'none'})"
        )
    else:
        chars = df["chars"].to_numpy(dtype="int64") if "chars" in df.columns else None
    if signature is None and not embedded:
        notes.append(
            "the signature is unknown, so it was not counted: each message will be longer by "
            "its signature (pass signature= or client=)"
        )

    reasons: Counter[str] = Counter()
    problems = _texts(df, "phone_problem")
    no_phone = df["phone"].isna().to_numpy()
    for i in np.flatnonzero(~sendable):
        if problems[i]:
            reasons[_reason(problems[i])] += 1
        elif no_phone[i]:
            reasons["no number"] += 1
        elif content[i] == "":
            reasons["empty message"] += 1
        elif chars is not None and chars[i] > rules.max_chars:
            reasons["too long"] += 1
        else:
            reasons["excluded"] += 1

    sent_parts = parts[sendable]
    values, counts = np.unique(sent_parts, return_counts=True)
    histogram = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
    typical = int(values[np.argmax(counts)]) if len(values) else 0
    pushed = int((sent_parts > typical).sum())

    warnings: dict[str, int] = {}
    if "warnings" in df.columns:
        texts = [t for t, keep in zip(_texts(df, "warnings"), sendable, strict=True) if keep]
        for key, label in _WARNING_KINDS:
            if key == "personalisation":
                continue  # counted afresh as `pushed`, with the signature as counted here
            if key == "empty ":  # "empty 门店", not render's "empty message"
                n = sum(
                    any(w.startswith(key) and w != "empty message" for w in t.split("; "))
                    for t in texts
                )
            else:
                n = int(sum(key in t for t in texts))
            if n:
                warnings[label] = n

    total = int(sent_parts.sum())
    cost = round(total * float(price_per_part), 6) if price_per_part is not None else None
    return Estimate(
        rows=len(df),
        sendable=int(sendable.sum()),
        not_sendable=dict(reasons.most_common()),
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


# --------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class PreviewMessage:
    """One message as the phone shows it: ``parts`` hold the signature in place."""

    row: int
    phone: str
    parts: list[str]
    chars: int
    status: str
    warnings: str


@dataclass(frozen=True)
class Preview:
    """The first messages of a rendered frame; plain text in a terminal, HTML in a notebook."""

    messages: list[PreviewMessage]
    signature: str | None
    total_rows: int

    def __str__(self) -> str:
        blocks = []
        for m in self.messages:
            head = f"row {m.row} · {m.phone or '(no number)'} · {m.chars} chars · "
            head += f"{len(m.parts)} part{'s' if len(m.parts) != 1 else ''} · {m.status}"
            lines = [head]
            if m.warnings:
                lines.append(f"  ! {m.warnings}")
            if not m.parts:
                lines.append("  (empty)")
            if len(m.parts) == 1:
                lines += ["  " + line for line in m.parts[0].split("\n")]
            for k, part in enumerate(m.parts if len(m.parts) > 1 else [], 1):
                lines.append(f"  ┄┄ part {k}/{len(m.parts)} ({len(part)} chars) ┄┄")
                lines += ["  " + line for line in part.split("\n")]
            blocks.append("\n".join(lines))
        more = len(self.messages) < self.total_rows
        tail = f"\n… {self.total_rows - len(self.messages):,} more rows" if more else ""
        if self.signature is None:
            tail += "\n(signature unknown: the phone will also show it)"
        return "\n\n".join(blocks) + tail

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        cards = []
        for m in self.messages:
            colour = "#1b5e20" if m.status == "sendable" else "#b00020"
            parts_html = "".join(
                "<span style='border-right:2px dashed #999;padding-right:2px;margin-right:2px'>"
                f"{html.escape(p).replace(chr(10), '<br>')}</span>"
                if k < len(m.parts) - 1
                else f"<span>{html.escape(p).replace(chr(10), '<br>')}</span>"
                for k, p in enumerate(m.parts)
            )
            warn = (
                f"<div style='color:#8a6d00;font-size:85%'>⚠ {html.escape(m.warnings)}</div>"
                if m.warnings
                else ""
            )
            cards.append(
                "<div style='margin:6px 0;max-width:28em'>"
                f"<div style='font-size:85%;color:#555'>row {m.row} · "
                f"{html.escape(m.phone or '(no number)')} · {m.chars} chars · "
                f"{len(m.parts)} part{'s' if len(m.parts) != 1 else ''} · "
                f"<span style='color:{colour}'>{html.escape(m.status)}</span></div>"
                "<div style='background:#e9f5e9;border-radius:10px;padding:6px 10px;"
                f"white-space:normal'>{parts_html or '<i>(empty)</i>'}</div>{warn}</div>"
            )
        more = self.total_rows - len(self.messages)
        tail = f"<div style='color:#555'>… {more:,} more rows</div>" if more > 0 else ""
        return "<div>" + "".join(cards) + tail + "</div>"


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
    chars, _, _ = count_arrays(np.array(texts, dtype=object), counted, rules=rules)
    messages = []
    for i in range(len(head)):
        if sendable[i]:
            status = "sendable"
        else:
            status = f"not sent: {problems[i]}" if problems[i] else "not sent"
        messages.append(
            PreviewMessage(
                row=int(rows[i]),
                phone=phones[i],
                parts=split_parts(texts[i], counted, long_sms=long_sms, rules=rules),
                chars=int(chars[i]),
                status=status,
                warnings=warnings[i],
            )
        )
    return Preview(messages=messages, signature=signature, total_rows=len(df))
