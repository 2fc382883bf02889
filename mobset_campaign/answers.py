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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import _protocol
from .errors import ProtocolError, error_for_code

__all__ = [
    "CancelDetail",
    "CancelResult",
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
            0, f"{what} is not an integer: {value!r}", method=method, body=body
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
        raise ProtocolError(0, method=method, body=text)
    data = _protocol.lower_keys(data)
    if "code" not in data:
        raise ProtocolError(0, "the answer has no Code", method=method, body=text)
    code = _as_int(data["code"], "Code", method, text)
    data["code"] = code
    data["message"] = _as_str(data.get("message"))
    if code < 0:
        raise error_for_code(code, data["message"], method=method, body=text)
    return dict(data)


def _details(data: Mapping[str, Any], key: str, method: str, body: str) -> list[Mapping[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ProtocolError(0, f"{key} is not a list of objects", method=method, body=body)
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
    return [
        Report(
            sms_id=_as_int(item.get("smsid"), "SmsId", "SmsGetReport", text),
            status=_as_int(item.get("status"), "Status", "SmsGetReport", text),
            report_time=_protocol.parse_beijing_time(item.get("reporttime")),
            ex_status=_as_str(item.get("exstatus")).strip(),
        )
        for item in _details(data, "details", "SmsGetReport", text)
    ]


def parse_replies(text: str) -> list[Reply]:
    """Parse an SmsGetRecv body into :class:`Reply` objects (see :func:`parse_reports`)."""
    data = decode(text, "SmsGetRecv")
    return [
        Reply(
            phone=_as_str(item.get("phonenumber")).strip(),
            recv_number=_as_str(item.get("recvnumber")).strip(),
            add_num=_as_str(item.get("addnum")).strip(),
            recv_time=_protocol.parse_beijing_time(item.get("recvtime")),
            content=_as_str(item.get("content")),
        )
        for item in _details(data, "details", "SmsGetRecv", text)
    ]


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


def parse_items(method: str, body: str) -> tuple[list[Any], list[str]]:
    """The reports or replies of a fetched body, and one error line per bad item skipped.

    ``method`` is ``"SmsGetReport"`` or ``"SmsGetRecv"``. A body that is not JSON, has an
    error code or no list of items raises like :func:`parse_reports`. A JSON body with a bad
    item (say a non-numeric SmsId) is parsed item by item, each through the same parser, so
    the good items are kept and each bad one is described.

    >>> items, bad = parse_items("SmsGetReport", '{"Code": 2, "Details": ['
    ...     '{"SmsId": "7", "Status": "12", "ReportTime": "", "ExStatus": "DELIVRD"},'
    ...     '{"SmsId": "x", "Status": "12"}]}')
    >>> [r.sms_id for r in items], bad[0].split(" (")[0]
    ([7], 'SmsGetReport: item 2 of 2 skipped')
    """
    parse: Callable[[str], list[Any]] = parse_reports if method == "SmsGetReport" else parse_replies
    try:
        return list(parse(body)), []
    except ProtocolError as whole:
        try:
            data = _protocol.lower_keys(_protocol.parse_body(body))
        except ValueError:
            raise whole from None
        details = data.get("details") if isinstance(data, Mapping) else None
        if not isinstance(details, list) or not details:
            raise
        good: list[Any] = []
        bad: list[str] = []
        for n, item in enumerate(details, 1):
            one = {"code": data.get("code"), "message": data.get("message"), "details": [item]}
            try:
                good.extend(parse(json.dumps(one, ensure_ascii=False)))
            except ProtocolError as exc:
                what = exc.message or str(exc)
                bad.append(
                    f"{method}: item {n} of {len(details)} skipped ({what}): "
                    f"{json.dumps(item, ensure_ascii=False)[:200]}; the whole answer stays in "
                    "the inbox (Ledger.inbox_frame())."
                )
        if not good:
            raise  # nothing usable: the whole body is an error answer
        return good, bad
