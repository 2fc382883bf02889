"""What the gateway answers: typed records and the parsers that read the vendor's bodies.

Every answer of the six SDK3 functions becomes a small frozen dataclass: :class:`SendResult`
(with one :class:`SentNumber` per number), :class:`Report`, :class:`Reply`,
:class:`CancelResult` (with :class:`CancelDetail`), and :class:`RawAnswer` for a body kept
unparsed. The parsers are tolerant of the vendor's quirks (keys in any case, codes as
strings, trailing commas) and strict about meaning: a negative ``Code`` raises the matching
:class:`~mobset_campaign.errors.GatewayError` (one function, :func:`error_for_code`, picks
the class), a body that is not JSON raises :class:`~mobset_campaign.errors.ProtocolError`.

Nothing here does I/O: :mod:`mobset_campaign.client` sends the requests, the collector
stores raw bodies before they are parsed here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import _protocol
from ._i18n import gettext as _
from ._i18n import ngettext
from .errors import ProtocolError, error_for_code

__all__ = [
    "CancelDetail",
    "CancelResult",
    "Page",
    "RawAnswer",
    "Reply",
    "Report",
    "SendResult",
    "SentNumber",
    "decode",
    "parse_cancel",
    "parse_items",
    "parse_replies",
    "parse_reports",
    "parse_send",
]


@dataclass(frozen=True, slots=True)
class SentNumber:
    """One number of an SmsSend request; ``sms_id`` 0 means the gateway refused that number."""

    phone: str
    sms_id: int

    @property
    def accepted(self) -> bool:
        return self.sms_id != 0


@dataclass(frozen=True, slots=True)
class SendResult:
    """The answer to SmsSend: ``code`` ≥ 0 is the count the gateway accepted.

    ``numbers`` follows the request order. Acceptance is not delivery: delivery is learnt
    from :meth:`MobsetClient.get_reports` by ``sms_id``.
    """

    code: int
    message: str
    numbers: list[SentNumber] = field(default_factory=list)

    @property
    def accepted(self) -> list[SentNumber]:
        """The numbers that got an SmsId."""
        return [n for n in self.numbers if n.sms_id != 0]

    @property
    def failed(self) -> list[SentNumber]:
        """The numbers answered with SmsId 0."""
        return [n for n in self.numbers if n.sms_id == 0]


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply (MO) from a phone. ``recv_number`` is the number it was sent to."""

    phone: str
    recv_number: str
    add_num: str
    recv_time: datetime | None
    content: str


@dataclass(frozen=True, slots=True)
class Report:
    """A delivery report. ``status`` is from the vendor's table (12 delivered, 13 not ...)."""

    sms_id: int
    status: int
    report_time: datetime | None
    ex_status: str


@dataclass(frozen=True, slots=True)
class CancelDetail:
    """One id of an SmsCancel answer: ``status`` 1 cancelled, otherwise an error code."""

    sms_id: int
    status: int

    @property
    def cancelled(self) -> bool:
        return self.status == 1


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The answer to SmsCancel: ``code`` counts the cancelled ids; ``details`` has every id."""

    code: int
    message: str
    details: list[CancelDetail] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """A body as the gateway sent it, before any parsing (kept so nothing fetched is lost)."""

    method: str
    text: str
    received_at: datetime


# ---------------------------------------------------------------------------- parsing


def _as_int(value: Any, what: str, method: str, body: str) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ProtocolError(
            0,
            _("{field} is not an integer: {value!r}").format(field=what, value=value),
            method=method,
            body=body,
        ) from None


def _as_str(value: Any) -> str:
    return "" if value is None else str(value)


def decode(text: str, method: str) -> dict[str, Any]:
    """A body as a dict with lower-case keys, ``code`` an int and ``message`` a str.

    Tolerant of the vendor's quirks (keys in any case, string codes, trailing commas);
    raises the matching :class:`~mobset_campaign.errors.GatewayError` for a negative code and
    :class:`~mobset_campaign.errors.ProtocolError` for a body that is not a JSON object with a
    Code.
    """
    try:
        data = _protocol.parse_body(text)
    except ValueError:
        raise ProtocolError(0, method=method, body=text) from None
    if not isinstance(data, Mapping):
        raise ProtocolError(0, _("it is JSON but not an object"), method=method, body=text)
    data = _protocol.lower_keys(data)
    if "code" not in data:
        raise ProtocolError(0, _("the answer has no Code"), method=method, body=text)
    code = _as_int(data["code"], "Code", method, text)
    data["code"] = code
    data["message"] = _as_str(data.get("message"))
    if code < 0:
        raise error_for_code(code, data["message"], method=method, body=text)
    return dict(data)


def _details(data: Mapping[str, Any], key: str, method: str, body: str) -> list[Mapping[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ProtocolError(
            0, _("{field} is not a list of objects").format(field=key), method=method, body=body
        )
    return items


def parse_send(text: str) -> SendResult:
    data = decode(text, "SmsSend")
    numbers = [
        SentNumber(
            phone=_as_str(item.get("phonenumber")).strip(),
            sms_id=_as_int(item.get("smsid", 0), "SmsId", "SmsSend", text),
        )
        for item in _details(data, "smsidlist", "SmsSend", text)
    ]
    return SendResult(code=data["code"], message=data["message"], numbers=numbers)


def _report(item: Mapping[str, Any], text: str) -> Report:
    return Report(
        sms_id=_as_int(item.get("smsid"), "SmsId", "SmsGetReport", text),
        status=_as_int(item.get("status"), "Status", "SmsGetReport", text),
        report_time=_protocol.parse_beijing_time(item.get("reporttime")),
        ex_status=_as_str(item.get("exstatus")).strip(),
    )


def _reply(item: Mapping[str, Any], text: str) -> Reply:
    return Reply(
        phone=_as_str(item.get("phonenumber")).strip(),
        recv_number=_as_str(item.get("recvnumber")).strip(),
        add_num=_as_str(item.get("addnum")).strip(),
        recv_time=_protocol.parse_beijing_time(item.get("recvtime")),
        content=_as_str(item.get("content")),
    )


_ITEM: dict[str, Callable[[Mapping[str, Any], str], Any]] = {
    "SmsGetReport": _report,
    "SmsGetRecv": _reply,
}


def parse_reports(text: str) -> list[Report]:
    """Parse an SmsGetReport body (the vendor's lowercase ``code``, string numbers ...).

    Raises the matching :class:`~mobset_campaign.errors.GatewayError` for a negative code
    and :class:`~mobset_campaign.errors.ProtocolError` for a body that is not JSON.

    >>> parse_reports('{"code": "1", "Message": "ok", "Details": [{"SmsId": "1355555551",'
    ...               ' "Status": "12", "ReportTime": "2018-07-20 16:48:21",'
    ...               ' "ExStatus": "DELIVRD"}]}')[0].status
    12
    """
    data = decode(text, "SmsGetReport")
    return [_report(item, text) for item in _details(data, "details", "SmsGetReport", text)]


def parse_replies(text: str) -> list[Reply]:
    """Parse an SmsGetRecv body into :class:`Reply` objects (see :func:`parse_reports`)."""
    data = decode(text, "SmsGetRecv")
    return [_reply(item, text) for item in _details(data, "details", "SmsGetRecv", text)]


def parse_cancel(text: str) -> CancelResult:
    data = decode(text, "SmsCancel")
    details = [
        CancelDetail(
            sms_id=_as_int(item.get("smsid"), "SmsID", "SmsCancel", text),
            status=_as_int(item.get("status"), "Status", "SmsCancel", text),
        )
        for item in _details(data, "details", "SmsCancel", text)
    ]
    return CancelResult(code=data["code"], message=data["message"], details=details)


@dataclass(frozen=True)
class Page:
    """What one SmsGetReport/SmsGetRecv answer held (see :func:`parse_items`).

    Attributes:
        items: the reports or replies that could be read.
        problems: one line per item that could not be read, or about the page as a whole
            (cut off, or fewer items than its ``Code`` says).
        declared: the answer's ``Code``: how many items the gateway says it handed out
            (``None`` when even that could not be read).
        unread: items the gateway handed out that could not be read.
    """

    items: list[Any]
    problems: list[str] = field(default_factory=list)
    declared: int | None = None
    unread: int = 0

    @property
    def handed_out(self) -> int:
        """How many items the gateway handed out with this answer, as far as is known."""
        return max(self.declared or 0, len(self.items) + self.unread)


_CODE = re.compile(r'"code"\s*:\s*"?\s*(-?\d+)', re.IGNORECASE)
_DETAILS = re.compile(r'"details"\s*:\s*\[', re.IGNORECASE)


def parse_items(method: str, body: str) -> Page:
    """The reports or replies of a fetched body, keeping every item that can be read.

    ``method`` is ``"SmsGetReport"`` or ``"SmsGetRecv"``. An error answer (a negative code)
    raises its :class:`~mobset_campaign.errors.GatewayError`. Otherwise only what is damaged
    is given up, and said in :attr:`Page.problems`:

    * an item that cannot be read (say a non-numeric SmsId) is skipped, the others kept;
    * a body cut off in the middle (not JSON) keeps every complete item before the cut;
    * a ``Code`` (the number of items handed out, per the vendor text) that disagrees with
      the items found is a problem line; a page whose ``Code`` promises items it does not
      hold at all raises :class:`~mobset_campaign.errors.ProtocolError`, as does a body with
      nothing readable.

    >>> page = parse_items("SmsGetReport", '{"Code": 2, "Details": ['
    ...     '{"SmsId": "7", "Status": "12", "ReportTime": "", "ExStatus": "DELIVRD"},'
    ...     '{"SmsId": "x", "Status": "12"}]}')
    >>> [r.sms_id for r in page.items], page.problems[0].split(" (")[0]
    ([7], 'SmsGetReport: item 2 of 2 skipped')
    """
    one = _ITEM[method]
    try:
        data = decode(body, method)
    except ProtocolError as whole:
        return _salvage(method, body, one, whole)
    details = data.get("details") or []
    if not isinstance(details, list):
        raise ProtocolError(0, _("Details is not a list"), method=method, body=body)
    page = _page(method, body, details, one, data["code"])
    if not page.items and details:
        first = re.split(r": |：", page.problems[0], maxsplit=1)[-1]
        unreadable = ProtocolError(
            0,
            ngettext(
                "its {n} item could not be read: {first}",
                "none of its {n} items could be read; the first: {first}",
                len(details),
            ).format(n=len(details), first=first),
            method=method,
            body=body,
        )
        unreadable.lost = page.handed_out
        raise unreadable
    if not page.items and page.declared:
        empty = ProtocolError(
            0,
            ngettext(
                "its Code says {n} item was handed out but it holds none",
                "its Code says {n} items were handed out but it holds none",
                page.declared,
            ).format(n=page.declared),
            method=method,
            body=body,
        )
        empty.lost = page.declared
        raise empty
    return page


def _page(
    method: str,
    body: str,
    details: list[Any],
    one: Callable[[Mapping[str, Any], str], Any],
    declared: int | None,
    *,
    cut: bool = False,
) -> Page:
    good: list[Any] = []
    problems: list[str] = []
    for n, item in enumerate(details, 1):
        try:
            if not isinstance(item, Mapping):
                raise ProtocolError(0, _("not an object"), method=method, body=body)
            good.append(one(_protocol.lower_keys(item), body))
        except ProtocolError as exc:
            what = exc.message or str(exc)
            problems.append(
                _(
                    "{method}: item {n} of {total} skipped ({why}): {item}; the whole answer "
                    "stays in the inbox (Ledger.inbox_frame())."
                ).format(
                    method=method,
                    n=n,
                    total=len(details),
                    why=what,
                    item=json.dumps(item, ensure_ascii=False)[:200],
                )
            )
    found = len(details)
    unread = len(details) - len(good)
    if cut:
        missing = None if declared is None else max(declared - found, 0)
        unread += missing or 0
        if missing:
            problems.append(
                ngettext(
                    "{method}: the answer was cut off after {found} complete item; {missing} "
                    "more could not be read; the raw answer stays in the inbox "
                    "(Ledger.inbox_frame()).",
                    "{method}: the answer was cut off after {found} complete items; {missing} "
                    "more could not be read; the raw answer stays in the inbox "
                    "(Ledger.inbox_frame()).",
                    found,
                ).format(method=method, found=found, missing=missing)
            )
        else:
            problems.append(
                ngettext(
                    "{method}: the answer was cut off after {found} complete item; the raw "
                    "answer stays in the inbox (Ledger.inbox_frame()).",
                    "{method}: the answer was cut off after {found} complete items; the raw "
                    "answer stays in the inbox (Ledger.inbox_frame()).",
                    found,
                ).format(method=method, found=found)
            )
    elif declared is not None and declared != found and (good or declared < found):
        unread += max(declared - found, 0)
        problems.append(
            ngettext(
                "{method}: the answer's Code says {declared} item but it holds {found}; the raw "
                "answer stays in the inbox (Ledger.inbox_frame()).",
                "{method}: the answer's Code says {declared} items but it holds {found}; the "
                "raw answer stays in the inbox (Ledger.inbox_frame()).",
                declared,
            ).format(method=method, declared=declared, found=found)
        )
    return Page(good, problems, declared, unread)


def _salvage(
    method: str, body: str, one: Callable[[Mapping[str, Any], str], Any], whole: ProtocolError
) -> Page:
    """The complete items at the start of a body that is not JSON (cut off in transit)."""
    start = _DETAILS.search(body)
    if start is None:
        raise whole
    decoder = json.JSONDecoder()
    items: list[Any] = []
    at = start.end()
    while True:
        while at < len(body) and body[at] in " \t\r\n,":
            at += 1
        if at >= len(body) or body[at] == "]":
            break
        try:
            item, at = decoder.raw_decode(body, at)
        except ValueError:
            break
        items.append(item)
    if not items:
        raise whole
    code = _CODE.search(body[: start.start()])
    declared = int(code.group(1)) if code else None
    if declared is not None and declared < 0:
        raise whole
    page = _page(method, body, items, one, declared, cut=True)
    if not page.items:
        raise whole
    return page
