"""What a merged campaign frame means: which rows were sendable, accepted, delivered,
replied to or skipped and why — and the campaign in numbers (:func:`summarize`).

The workbook (:mod:`mobset_campaign.export`) and the charts (:mod:`mobset_campaign.plots`)
both read a campaign through these functions, so a number means the same thing in each.
Every function takes a merged frame (:func:`~mobset_campaign.merge_status`); the masks
also work on a frame that lacks some columns (a rendered frame before sending, say).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd

from ._i18n import N_, format_moment
from ._i18n import gettext as _
from ._money import (
    EXCEL_MONEY_FORMAT,
    EXCEL_PRICE_FORMAT,
    cost,
    format_money,
    format_price,
    price_problem,
)
from ._protocol import BEIJING
from .codes import describe_status, is_final_status
from .errors import InputError
from .report_labels import (
    SECTION_BASES,
    SKIP_KIND_LABELS,
    bracketed,
    item_label,
    reason_kind,
    section_bases,
    section_label,
    skip_kind_label,
    summary_labels,
)
from .rows import not_registered, skip_reasons
from .states import (
    ACCEPTED_STATES,
    SKIPPED,
    STATE_LABELS,
    outcome_state,
    state_label,
    state_meaning,
)

__all__ = [
    "SECTION_BASES",
    "SKIP_KIND_LABELS",
    "UNIT_FORMATS",
    "accepted_mask",
    "delivered_mask",
    "failed_mask",
    "final_mask",
    "reason_kind",
    "replied_mask",
    "replies_data",
    "section_bases",
    "sendable_mask",
    "skip_kind_label",
    "skipped_reasons",
    "status_data",
    "summarize",
    "summary_labels",
    "summary_table",
    "undetermined_mask",
]

# --------------------------------------------------------------------------------------
# where the data comes from


def status_data(data: pd.DataFrame | Any, campaign: str | None = None) -> pd.DataFrame:
    """The merged/status frame behind ``data``: the frame itself, or ``ledger.status_frame``.

    Args:
        data: a merged frame, or a ledger-like object with ``status_frame(campaign)``.
        campaign: required when ``data`` is a ledger.

    Raises:
        InputError: ``data`` is neither, or a ledger was given without a campaign.
    """
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "status_frame"):
        if campaign is None:
            raise InputError(
                _(
                    "A ledger was given without campaign=: pass the campaign name, e.g. "
                    "campaign='spring-sale', or pass the merged frame from merge_status()."
                )
            )
        frame = data.status_frame(campaign)
        if not isinstance(frame, pd.DataFrame):
            raise InputError(
                _("status_frame({campaign!r}) did not return a DataFrame").format(campaign=campaign)
            )
        return frame
    raise InputError(
        _(
            "Expected a DataFrame (from merge_status) or a Ledger with campaign=, got {type}."
        ).format(type=type(data).__name__)
    )


def replies_data(data: pd.DataFrame | Any, campaign: str | None = None) -> pd.DataFrame | None:
    """The replies frame of a ledger (``ledger.replies_frame(campaign)``), or ``None``
    when ``data`` is a DataFrame (then the frame's own reply columns are used)."""
    if isinstance(data, pd.DataFrame):
        return None
    if hasattr(data, "replies_frame"):
        if campaign is None:
            raise InputError(_("A ledger was given without campaign=: pass the campaign name."))
        frame = data.replies_frame(campaign)
        if not isinstance(frame, pd.DataFrame):
            raise InputError(
                _("replies_frame({campaign!r}) did not return a DataFrame").format(
                    campaign=campaign
                )
            )
        return frame
    return None


# --------------------------------------------------------------------------------------
# what each row means


def reply_times(frame: pd.DataFrame) -> pd.DataFrame:
    """``time`` (Beijing, naive) and ``opt_out`` of every reply a frame shows: a replies
    frame's ``recv_time``/``opt_out``, else a merged frame's ``reply_time``/``opted_out``;
    rows without a time are left out (the replies chart and the workbook's replies table).

    >>> reply_times(pd.DataFrame({"reply_time": ["2026-12-01 21:10:05", None]}))
                     time  opt_out
    0 2026-12-01 21:10:05    False
    """
    if "recv_time" in frame.columns:
        times, opt = frame["recv_time"], frame.get("opt_out")
    elif "reply_time" in frame.columns:
        times, opt = frame["reply_time"], frame.get("opted_out")
    else:
        times, opt = pd.Series([], dtype="datetime64[ns]"), None
    stamps = pd.to_datetime(times, errors="coerce")
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert(BEIJING).dt.tz_localize(None)
    flags = (
        opt.astype("boolean").fillna(False).astype(bool)
        if opt is not None
        else pd.Series(False, index=stamps.index)
    )
    out = pd.DataFrame({"time": stamps.to_numpy(), "opt_out": flags.to_numpy()})
    return out[out["time"].notna()].reset_index(drop=True)


def _bool_column(df: pd.DataFrame, name: str) -> pd.Series | None:
    if name not in df.columns:
        return None
    return df[name].astype("boolean").fillna(False).astype(bool)


def _state_column(df: pd.DataFrame) -> pd.Series | None:
    if "send_state" not in df.columns:
        return None
    return df["send_state"].astype("string").str.strip().str.lower()


def accepted_mask(df: pd.DataFrame) -> pd.Series:
    """Rows the gateway accepted (``send_state`` sent, delivered, failed or undetermined;
    without a ``send_state`` column: a non-zero ``sms_id``)."""
    state = _state_column(df)
    if state is not None:
        return state.isin(list(ACCEPTED_STATES)).fillna(False).astype(bool)
    if "sms_id" in df.columns:
        ids = pd.to_numeric(df["sms_id"], errors="coerce")
        return (ids.notna() & (ids != 0)).astype(bool)
    return pd.Series(False, index=df.index)


def delivered_mask(df: pd.DataFrame) -> pd.Series:
    """Rows delivered to the handset (``send_state`` delivered, or vendor status 12)."""
    state = _state_column(df)
    if state is not None:
        return (state == "delivered").fillna(False).astype(bool)
    if "status" in df.columns:
        return (pd.to_numeric(df["status"], errors="coerce") == 12).fillna(False).astype(bool)
    return pd.Series(False, index=df.index)


def _outcome_mask(df: pd.DataFrame, outcome: str) -> pd.Series:
    state = _state_column(df)
    if state is not None:
        return (state == outcome).fillna(False).astype(bool)
    if "status" in df.columns:
        status = pd.to_numeric(df["status"], errors="coerce")
        known = status.map(lambda s: outcome_state(int(s)) if pd.notna(s) else None)
        return (known == outcome).fillna(False).astype(bool)
    return pd.Series(False, index=df.index)


def failed_mask(df: pd.DataFrame) -> pd.Series:
    """Rows whose final report says not delivered (``send_state`` failed, or a final
    vendor status other than 12 and 15)."""
    return _outcome_mask(df, "failed")


def undetermined_mask(df: pd.DataFrame) -> pd.Series:
    """Rows whose final report is status 15, 未知状态: final (nobody waits for it), but
    neither delivered nor failed (``send_state`` undetermined, or vendor status 15)."""
    return _outcome_mask(df, "undetermined")


def sendable_mask(df: pd.DataFrame) -> pd.Series:
    """Rows that could be sent (``sendable``; without it: a phone and no phone problem)."""
    flag = _bool_column(df, "sendable")
    if flag is not None:
        return flag
    mask = pd.Series(True, index=df.index)
    if "phone" in df.columns:
        mask &= df["phone"].notna()
    if "phone_problem" in df.columns:
        mask &= df["phone_problem"].isna()
    return mask.astype(bool)


def replied_mask(df: pd.DataFrame) -> pd.Series:
    """Rows with at least one reply."""
    if "reply_count" in df.columns:
        counts = pd.to_numeric(df["reply_count"], errors="coerce").fillna(0)
        return (counts > 0).astype(bool)
    if "reply" in df.columns:
        return df["reply"].notna().astype(bool)
    return pd.Series(False, index=df.index)


def _blank_to_na(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return text.where(text != "")


def final_mask(df: pd.DataFrame) -> pd.Series:
    """Rows whose last delivery status is final (no later report can change it)."""
    if "status" not in df.columns:
        return pd.Series(False, index=df.index)
    status = pd.to_numeric(df["status"], errors="coerce")
    return status.map(lambda s: bool(pd.notna(s) and is_final_status(int(s)))).astype(bool)


def skipped_reasons(df: pd.DataFrame, campaign: str | None = None) -> pd.Series:
    """Why each skipped row was not sent (NA for rows that were not skipped).

    A row is skipped when its ``send_state`` is ``skipped``, or (without a state) when it
    is not sendable. The reason is the one :func:`mobset_campaign.merge_status` recorded in
    ``send_error``, else what :func:`mobset_campaign.rows.skip_reasons` finds in the row
    (a number in ``opted_out`` counts as on the suppression list), else that the row was
    never registered.
    """
    state = _state_column(df)
    skipped = (state == SKIPPED).fillna(False) if state is not None else ~sendable_mask(df)
    skipped = skipped.astype(bool)
    reason = pd.Series(pd.NA, index=df.index, dtype="object")
    if "send_error" in df.columns and state is not None:
        reason = _blank_to_na(df["send_error"]).astype("object")
    if "phone" in df.columns:
        opted = _bool_column(df, "opted_out")
        suppressed = (
            set(df.loc[opted, "phone"].dropna().astype(str)) if opted is not None else set()
        )
        found = skip_reasons(df, suppressed).texts.astype("object")
        reason = reason.where(reason.notna(), found)
    reason = reason.where(reason.notna(), not_registered(campaign))
    return reason.where(skipped, pd.NA)


# --------------------------------------------------------------------------------------
# the summary table

#: The units of :func:`summary_table`'s ``value`` column, and the Excel number format that
#: shows each as :func:`summarize` does (``text`` cells are written as text).
UNIT_FORMATS: dict[str, str] = {
    "count": "#,##0",
    "parts": "#,##0",
    "ratio": "0.0%",
    "money": EXCEL_MONEY_FORMAT,
    "price": EXCEL_PRICE_FORMAT,
    "datetime": "yyyy-mm-dd hh:mm:ss",
    "text": "@",
}


def _row(section: str, item: str, value: Any, unit: str, share: float | None = None) -> dict:
    return {"section": section, "item": item, "value": value, "share": share, "unit": unit}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def summary_table(
    data: pd.DataFrame | Any,
    campaign: str | None = None,
    *,
    price_per_part: float | None = None,
    replies: pd.DataFrame | None = None,
    now: datetime | None = None,
    labels: str | None = None,
) -> pd.DataFrame:
    """The campaign in numbers, as a tidy typed table: the summary sheet's data.

    Columns: ``section`` (概况 Overview, 发送状态 By send state, 回执状态 By delivery
    status, 运营商代码 By carrier code, 跳过原因 Skipped by reason), ``item``, ``value``,
    ``share`` (a fraction of the section's base, :data:`SECTION_BASES`: all rows for the
    overview, states and reasons; accepted messages for statuses and carrier codes) and
    ``unit`` (count, parts, ratio, money, price, text, datetime: :data:`UNIT_FORMATS`).
    A rate with nothing to divide by is ``None``. Sections whose columns the frame lacks
    are left out. The input is not modified. :func:`summarize` shows the same table as text.

    The delivery rate is delivered / accepted (sent, delivered, failed or undetermined), the
    failure rate failed / accepted; status 15 (未知状态) is counted apart, as undetermined,
    in neither. The reply rate is rows with a reply / accepted. Cost is parts accepted ×
    ``price_per_part`` (the vendor bills accepted messages), the estimate is parts of
    sendable rows × price, both exact (:func:`mobset_campaign._money.cost`). Skipped rows
    are counted by kind of reason (:func:`reason_kind`).

    Args:
        data: a merged frame, or a ledger with ``campaign``.
        campaign: the campaign name (shown; required with a ledger).
        price_per_part: price of one billed part, in yuan; adds cost rows.
        replies: a replies frame; adds the number of replies received.
        now: the export time to show (default: now, Beijing time), to the second.
        labels: the language of the sections and items: ``"bilingual"`` (``已送达
            Delivered``), ``"zh"`` or ``"en"``; ``None``: Chinese in Chinese, else bilingual
            (:func:`summary_labels`).

    >>> df = pd.DataFrame({"phone": ["13800138000", "13900139000", None],
    ...                    "sendable": [True, True, False], "parts": [1, 2, 1],
    ...                    "send_state": ["delivered", "failed", "skipped"]})
    >>> s = summary_table(df, price_per_part=0.05).set_index("item")
    >>> int(s.loc["已送达 Delivered", "value"]), s.loc["送达率 Delivery rate", "value"]
    (1, 0.5)
    >>> s.loc["费用 Cost (parts accepted × price)", "value"]
    0.15
    """
    df = status_data(data, campaign)
    if replies is None:
        replies = replies_data(data, campaign)
    problem = price_problem(price_per_part)
    if problem:
        raise InputError(_("summarize: {problem}").format(problem=problem))
    stamp = now if now is not None else datetime.now(BEIJING)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(BEIJING).replace(tzinfo=None)
    stamp = stamp.replace(microsecond=0)
    chosen = summary_labels(labels)

    def say(message: str, short: str | None = None, english: str | None = None) -> str:
        return item_label(message, chosen, short, english=english)

    ov = section_label("overview", chosen)
    rows: list[dict] = []
    if campaign is not None:
        rows.append(_row(ov, say(N_("Campaign")), str(campaign), "text"))
    rows.append(_row(ov, say(N_("Exported at (Beijing)"), N_("Exported at")), stamp, "datetime"))
    n = len(df)
    sendable = sendable_mask(df)
    accepted = accepted_mask(df)
    delivered = delivered_mask(df)
    n_acc, n_del = int(accepted.sum()), int(delivered.sum())
    n_send = int(sendable.sum())
    rows.append(_row(ov, say(N_("Rows")), n, "count"))
    rows.append(_row(ov, say(N_("Sendable")), n_send, "count", _ratio(n_send, n)))
    reasons = skipped_reasons(df, campaign)
    n_skip = int(reasons.notna().sum())
    rows.append(_row(ov, say(N_("Skipped")), n_skip, "count", _ratio(n_skip, n)))
    has_state = "send_state" in df.columns or "sms_id" in df.columns
    if has_state:
        rows.append(
            _row(
                ov,
                say(N_("Accepted by the gateway"), N_("Accepted")),
                n_acc,
                "count",
                _ratio(n_acc, n),
            )
        )
        n_failed, n_und = int(failed_mask(df).sum()), int(undetermined_mask(df).sum())
        rows.append(_row(ov, say(N_("Delivered")), n_del, "count", _ratio(n_del, n)))
        rows.append(_row(ov, say(N_("Failed")), n_failed, "count", _ratio(n_failed, n)))
        rows.append(
            _row(
                ov,
                say(N_("Undetermined (status 15)"), N_("Undetermined")),
                n_und,
                "count",
                _ratio(n_und, n),
            )
        )
        rows.append(_row(ov, say(N_("Delivery rate")), _ratio(n_del, n_acc), "ratio"))
        rows.append(_row(ov, say(N_("Failure rate")), _ratio(n_failed, n_acc), "ratio"))
        rows.append(_row(ov, say(N_("Undetermined rate")), _ratio(n_und, n_acc), "ratio"))
    if "status" in df.columns:
        awaiting = int((accepted & ~final_mask(df)).sum())
        rows.append(
            _row(
                ov,
                say(N_("Awaiting a final report")),
                awaiting,
                "count",
                _ratio(awaiting, n),
            )
        )
    if "reply" in df.columns or "reply_count" in df.columns:
        n_rep = int(replied_mask(df).sum())
        rows.append(
            _row(
                ov,
                say(N_("Rows with replies"), N_("Replied")),
                n_rep,
                "count",
                _ratio(n_rep, n),
            )
        )
        rows.append(_row(ov, say(N_("Reply rate")), _ratio(n_rep, n_acc), "ratio"))
    if replies is not None:
        rows.append(
            _row(
                ov,
                # TRANSLATORS: the first is shown alone, the second beside "Replies received"
                say(N_("Number of replies received"), N_("Replies received"), "Replies received"),
                len(replies),
                "count",
            )
        )
    opted = _bool_column(df, "opted_out")
    if opted is not None:
        rows.append(
            _row(ov, say(N_("Opted out")), int(opted.sum()), "count", _ratio(int(opted.sum()), n))
        )
    if "parts" in df.columns:
        parts = pd.to_numeric(df["parts"], errors="coerce").fillna(0)
        planned = int(parts[sendable].sum())
        billed = int(parts[accepted].sum())
        rows.append(
            _row(
                ov,
                say(N_("Parts planned (sendable rows)"), N_("Parts planned")),
                planned,
                "parts",
            )
        )
        if has_state:
            rows.append(
                _row(
                    ov,
                    say(N_("Parts accepted (billed)"), N_("Billed parts")),
                    billed,
                    "parts",
                )
            )
        if price_per_part is not None:
            price = float(price_per_part)
            rows.append(_row(ov, say(N_("Price per part"), N_("Price")), price, "price"))
            estimate = cost(planned, price)
            rows.append(
                _row(
                    ov,
                    say(N_("Estimate (parts planned × price)"), N_("Estimate")),
                    estimate,
                    "money",
                )
            )
            if has_state:
                spent = cost(billed, price)
                rows.append(
                    _row(
                        ov,
                        say(N_("Cost (parts accepted × price)"), N_("Cost")),
                        spent,
                        "money",
                    )
                )

    state = _state_column(df)
    if state is not None:
        sec = section_label("state", chosen)
        counts = state.fillna("(none)").value_counts()
        order = [s for s in STATE_LABELS if s in counts.index]
        order += sorted(s for s in counts.index if s not in STATE_LABELS)
        for s in order:
            if s in STATE_LABELS:
                label = state_label(s, chosen)
            else:
                label = bracketed(N_("no state"), chosen) if s in ("(none)", "") else str(s)
            rows.append(_row(sec, label, int(counts[s]), "count", _ratio(int(counts[s]), n)))

    if "status" in df.columns:
        sec = section_label("status", chosen)
        status = pd.to_numeric(df["status"], errors="coerce")
        counts = status.dropna().astype(int).value_counts().sort_index()
        for code, count in zip(counts.index.tolist(), counts.tolist(), strict=True):
            rows.append(_row(sec, describe_status(code), count, "count", _ratio(count, n_acc)))
        waiting = int((accepted & status.isna()).sum())
        if waiting:
            rows.append(
                _row(
                    sec,
                    bracketed(N_("no report yet"), chosen),
                    waiting,
                    "count",
                    _ratio(waiting, n_acc),
                )
            )

    if "ex_status" in df.columns:
        sec = section_label("carrier", chosen)
        codes = _blank_to_na(df["ex_status"]).dropna()
        for code, count in codes.value_counts().items():
            rows.append(_row(sec, str(code), int(count), "count", _ratio(int(count), n_acc)))

    given = reasons.dropna()
    kind_of = {reason: reason_kind(reason, chosen) for reason in given.unique()}  # once each
    kinds = given.map(kind_of)
    if len(kinds):
        sec = section_label("skipped", chosen)
        # most common first; equal counts in the order the kinds first appear
        counts = kinds.value_counts(sort=False)
        for kind, count in counts.sort_values(ascending=False, kind="stable").items():
            rows.append(_row(sec, str(kind), int(count), "count", _ratio(int(count), n)))

    out = pd.DataFrame(rows, columns=["section", "item", "value", "share", "unit"])
    out["value"] = out["value"].astype(object)
    out["value"] = out["value"].where(out["value"].notna(), None)
    out["share"] = pd.to_numeric(out["share"], errors="coerce").astype("float64")
    return out


# --------------------------------------------------------------------------------------
# the summary as a notebook shows it


def _shown(value: Any, unit: str) -> str:
    """One value of :func:`summary_table` as :func:`summarize` (and Excel) shows it."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—"
    if unit in ("count", "parts"):
        return f"{int(value):,}"
    if unit == "ratio":
        return f"{float(value):.1%}"
    if unit == "money":
        return format_money(value)
    if unit == "price":
        return format_price(value)
    if unit == "datetime":
        return format_moment(pd.Timestamp(value).to_pydatetime())
    return str(value)


def summarize(
    data: pd.DataFrame | Any,
    campaign: str | None = None,
    *,
    price_per_part: float | None = None,
    replies: pd.DataFrame | None = None,
    now: datetime | None = None,
    labels: str | None = None,
) -> pd.DataFrame:
    """The campaign in numbers as the workbook's summary sheet shows them, for a notebook.

    Columns ``section``, ``item``, ``value``, ``share`` and ``meaning``, all text: counts with
    thousands separators, rates and shares as percentages (``50.0%``; a share says what it is
    a part of, ``of rows`` or ``of accepted``, in Chinese ``占总行数 50.0%``), amounts as
    ``¥1.58`` (rounded once, to cents), times to the second, ``—`` for a rate with nothing to
    divide by, and an empty share where a row has none; ``meaning`` says in a line what each
    send state means (:data:`mobset_campaign.states.STATE_MEANINGS`), empty on other rows.
    The typed numbers are :func:`summary_table` (same rows, same arguments); ``labels`` as
    there: under ``set_language("zh")`` every label is Chinese.

    >>> df = pd.DataFrame({"phone": ["13800138000", "13900139000", "020-1234567"],
    ...                    "sendable": [True, True, False], "parts": [1, 2, 1],
    ...                    "send_state": ["delivered", "failed", "skipped"],
    ...                    "send_error": [None, None, "not a mainland mobile: 020-1234567"]})
    >>> s = summarize(df, price_per_part=0.035).set_index("item")
    >>> s.loc["已送达 Delivered", ["value", "share"]].tolist()
    ['1', '33.3% of rows']
    >>> s.loc["送达率 Delivery rate", "value"], s.loc["费用 Cost (parts accepted × price)", "value"]
    ('50.0%', '¥0.11')
    >>> s.loc["不是手机号 not a mainland mobile", "value"]
    '1'
    >>> s.loc["failed 发送失败", "meaning"][:40]
    "the carrier's report says it did not rea"
    """
    chosen = summary_labels(labels)
    table = summary_table(
        data, campaign, price_per_part=price_per_part, replies=replies, now=now, labels=chosen
    )
    values = [
        _shown(v, u) for v, u in zip(table["value"].tolist(), table["unit"].tolist(), strict=True)
    ]
    bases = section_bases(chosen)
    english = dict(zip(bases, section_bases("en").values(), strict=True))
    shares = [
        ""
        if pd.isna(share)
        else f"{bases.get(sec, '')} {share:.1%}"
        if chosen == "zh"
        else f"{share:.1%} {english.get(sec, '')}"
        for share, sec in zip(table["share"].tolist(), table["section"].tolist(), strict=True)
    ]
    states = {state_label(s, chosen): s for s in STATE_LABELS}
    in_states = table["section"] == section_label("state", chosen)
    meanings = [
        state_meaning(states[item]) if here and item in states else ""
        for item, here in zip(table["item"].tolist(), in_states.tolist(), strict=True)
    ]
    return pd.DataFrame(
        {
            "section": table["section"].astype(object),
            "item": table["item"].astype(object),
            "value": pd.Series(values, dtype=object),
            "share": pd.Series([s.strip() for s in shares], dtype=object),
            "meaning": pd.Series(meanings, dtype=object),
        }
    )
