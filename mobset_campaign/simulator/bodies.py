"""Response bodies, byte for byte in the shape of the vendor's examples (or strict JSON).

Vendor style copies each example of the vendor text: ``"code"`` in lower case for SmsGetRecv
and SmsGetReport, codes and ids as strings where the example has strings, the trailing comma
of SmsGetSign and the one after the last ``Details`` element of SmsCancel, and error bodies as
``{  "Code" : -110,  "Message" : "短信内容长度不符合要求"}``. Strict style answers plain JSON
with integer codes, ids and statuses.

>>> render(Balance(269), "vendor")
'{"Code":"269","Message":"取短信余额成功"}'
>>> render(Failure(-110, "短信内容长度不符合要求"), "vendor")
'{  "Code" : -110,  "Message" : "短信内容长度不符合要求"}'
>>> render(Sign("广州首易"), "vendor")
'{"Code":"0","Message":"取签名成功","Sign":"广州首易",}'
>>> render(Balance(269), "strict")
'{"Code": 269, "Message": "取短信余额成功"}'
"""

from __future__ import annotations

import json
from typing import Any

from .model import format_time
from .state import (
    Balance,
    Cancelled,
    Failure,
    Replies,
    ReplyRecord,
    ReportRecord,
    Reports,
    Result,
    Sent,
    Sign,
)

__all__ = ["render"]

MSG_REPLIES = "取上行短信成功"
MSG_REPORTS = "取短信状态报告成功"
MSG_BALANCE = "取短信余额成功"
MSG_SIGN = "取签名成功"


def _q(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def render(result: Result, style: str) -> str:
    """The body for one result, in ``"vendor"`` or ``"strict"`` style."""
    if style == "strict":
        return json.dumps(_strict(result), ensure_ascii=False)
    return _vendor(result)


def _report(r: ReportRecord) -> dict[str, object]:
    return {
        "SmsId": r.sms_id,
        "Status": r.status,
        "ReportTime": format_time(r.time),
        "ExStatus": r.ex_status,
    }


def _reply(r: ReplyRecord) -> dict[str, object]:
    return {
        "PhoneNumber": r.phone,
        "RecvNumber": r.recv_number,
        "AddNum": r.add_num,
        "RecvTime": format_time(r.time),
        "Content": r.content,
    }


def _strict(result: Result) -> dict[str, Any]:
    if isinstance(result, Failure):
        return {"Code": result.code, "Message": result.message}
    if isinstance(result, Sent):
        return {
            "Code": result.accepted,
            "Message": f"成功提交 {result.accepted}条短信",
            "SmsIdList": [{"PhoneNumber": p, "SmsId": i} for p, i in result.numbers],
        }
    if isinstance(result, Reports):
        return {
            "Code": len(result.items) if result.declared is None else result.declared,
            "Message": MSG_REPORTS,
            "Details": [_report(r) for r in result.items],
        }
    if isinstance(result, Replies):
        return {
            "Code": len(result.items) if result.declared is None else result.declared,
            "Message": MSG_REPLIES,
            "Details": [_reply(r) for r in result.items],
        }
    if isinstance(result, Balance):
        return {"Code": result.amount, "Message": MSG_BALANCE}
    if isinstance(result, Sign):
        return {"Code": 0, "Message": MSG_SIGN, "Sign": result.sign}
    return {
        "Code": result.count,
        "Message": f"成功取消 {result.count}条短信",
        "Details": [{"SmsID": _id(raw), "Status": status} for raw, status in result.details],
    }


def _id(raw: str) -> int | str:
    return int(raw) if raw.isascii() and raw.isdigit() else raw


def _vendor_details(items: list[dict[str, object]]) -> str:
    """``[{\\n  "K": "V",\\n ...\\n }, {...}]`` as in the SmsGetRecv/SmsGetReport examples."""
    blocks = []
    for item in items:
        fields = ",\n".join(f"  {_q(k)}: {_q(str(v))}" for k, v in item.items())
        blocks.append("{\n" + fields + "\n }")
    return "[" + ", ".join(blocks) + "]"


def _vendor(result: Result) -> str:
    if isinstance(result, Failure):
        return f'{{  "Code" : {result.code},  "Message" : {_q(result.message)}}}'
    if isinstance(result, Sent):
        ids = ", ".join(_q({"PhoneNumber": p, "SmsId": str(i)}) for p, i in result.numbers)
        return (
            f'{{\n "Code": "{result.accepted}",\n'
            f' "Message": {_q(f"成功提交 {result.accepted}条短信")},\n'
            f' "SmsIdList": [{ids}]\n}}'
        )
    if isinstance(result, Reports | Replies):
        if isinstance(result, Reports):
            message, items = MSG_REPORTS, [_report(r) for r in result.items]
        else:
            message, items = MSG_REPLIES, [_reply(r) for r in result.items]
        code = len(items) if result.declared is None else result.declared
        return (
            f'{{\n "code": "{code}",\n "Message": {_q(message)},\n'
            f' "Details": {_vendor_details(items)}\n}}'
        )
    if isinstance(result, Balance):
        return f'{{"Code":"{result.amount}","Message":{_q(MSG_BALANCE)}}}'
    if isinstance(result, Sign):
        return f'{{"Code":"0","Message":{_q(MSG_SIGN)},"Sign":{_q(result.sign)},}}'
    assert isinstance(result, Cancelled)
    elements = "".join(
        f'        {{\n            "SmsID": {_q(_id(raw))},\n'
        f'            "Status": {status}\n        }},\n'
        for raw, status in result.details
    )
    return (
        f'{{\n    "Code": {result.count},\n'
        f'    "Message": {_q(f"成功取消 {result.count}条短信")},\n'
        f'    "Details": [\n{elements}      ]\n}}'
    )
