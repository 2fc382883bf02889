"""The vendor's code tables: delivery statuses (section 5) and error codes (section 6).

Copied from the Mobset SDK3 HTTP API document so the package never needs the document at
run time. Each entry keeps the vendor's Chinese text and a short English gloss. Two codes
carry two meanings in the vendor table (-106 and -112); both texts are kept, and
:func:`describe_error` says the code is ambiguous.

The descriptions follow the language of messages (:func:`mobset_campaign.set_language`): in
English the vendor's text is followed by the gloss; in Chinese the vendor's own text is the
description (the gloss is its English translation), ``'12 接收成功'``.

>>> describe_status(12)
'12 接收成功 (delivered)'
>>> is_final_status(10), is_final_status(13)
(False, True)
>>> describe_error(-128)
'-128 企业余额不足以支持本次发送 (enterprise balance insufficient for this send)'
"""

from __future__ import annotations

from dataclasses import dataclass

from ._i18n import current_language
from ._i18n import gettext as _

__all__ = [
    "ERROR_CODES",
    "FINAL_STATUSES",
    "STATUS_CODES",
    "CodeInfo",
    "describe_error",
    "describe_status",
    "error_info",
    "is_final_status",
    "status_info",
]


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One row of a vendor code table. ``texts``/``glosses`` have two entries for -106/-112."""

    code: int
    texts: tuple[str, ...]
    glosses: tuple[str, ...]

    @property
    def text(self) -> str:
        """The vendor's Chinese text (both meanings joined with " / " when ambiguous)."""
        return " / ".join(self.texts)

    @property
    def gloss(self) -> str:
        """The English gloss (both meanings joined with " / " when ambiguous)."""
        return " / ".join(self.glosses)

    @property
    def ambiguous(self) -> bool:
        return len(self.texts) > 1


def _table(rows: list[tuple[int, str, str]]) -> dict[int, CodeInfo]:
    merged: dict[int, CodeInfo] = {}
    for code, text, gloss in rows:
        old = merged.get(code)
        if old is None:
            merged[code] = CodeInfo(code, (text,), (gloss,))
        else:
            merged[code] = CodeInfo(code, (*old.texts, text), (*old.glosses, gloss))
    return merged


# Section 5: the Status of SmsGetReport. The vendor prefixes each text with "短信状态:".
STATUS_CODES: dict[int, CodeInfo] = _table(
    [
        (0, "提交成功", "submitted"),
        (1, "含有过滤词，需要审核，现正审核中", "contains filtered words, under review"),
        (2, "提交失败", "submit failed"),
        (3, "提交失败", "submit failed"),
        (4, "提交失败", "submit failed"),
        (5, "提交失败", "submit failed"),
        (6, "号码不支持", "number not supported"),
        (7, "含有过滤词，需要审核，审核不能通过", "contains filtered words, review rejected"),
        (10, "发送成功", "sent"),
        (11, "发送失败", "send failed"),
        (12, "接收成功", "delivered"),
        (13, "接收失败", "not delivered"),
        (15, "未知状态", "unknown"),
    ]
)

#: Statuses after which no further report is expected for a message.
FINAL_STATUSES: frozenset[int] = frozenset({2, 3, 4, 5, 6, 7, 11, 12, 13, 15})

# Section 6, in the vendor's order. -106 and -112 appear twice with different meanings.
ERROR_CODES: dict[int, CodeInfo] = _table(
    [
        (-229, "未定义错误", "undefined error"),
        (-199, "未定义错误", "undefined error"),
        (-198, "内部异常1", "internal error 1"),
        (-197, "内部异常2", "internal error 2"),
        (-190, "系统繁忙1", "system busy 1"),
        (-189, "系统繁忙2", "system busy 2"),
        (-191, "Method不存在", "Methods value does not exist"),
        (-102, "请求参数不完整或有误", "request parameters incomplete or invalid"),
        (-107, "企业不存在或状态异常", "enterprise does not exist or is abnormal"),
        (-106, "企业未开通彩信功能", "enterprise has no MMS service"),
        (-104, "帐号权限不足", "account permission insufficient"),
        (-105, "帐号验证失败", "account authentication failed"),
        (-106, "非法访问IP", "access from an unauthorised IP address"),
        (-103, "帐号不存在", "account does not exist"),
        (-109, "校验用户失败", "user check failed"),
        (-108, "校验用户产生异常", "user check raised an error"),
        (-110, "短信内容长度不符合要求", "message content length invalid"),
        (-111, "没有发送短信权限", "no permission to send SMS"),
        (-112, "目标号码数量不符合要求", "number of destination numbers invalid"),
        (-112, "用户状态异常", "user status abnormal"),
        (-123, "企业状态异常", "enterprise status abnormal"),
        (-124, "用户权限不足", "user permission insufficient"),
        (-125, "企业已过期", "enterprise account expired"),
        (-126, "超出当天最大发送量", "daily sending limit exceeded"),
        (-127, "不支持当前时段发送", "sending not allowed at this time of day"),
        (-128, "企业余额不足以支持本次发送", "enterprise balance insufficient for this send"),
        (-129, "用户余额不足以支持本次发送", "user balance insufficient for this send"),
        (-130, "代理商余额不足以支持本次发送", "agent balance insufficient for this send"),
        (-131, "代理商状态异常", "agent status abnormal"),
        (-132, "无短信签名或签名不符合规范", "no SMS signature, or signature not compliant"),
        (-133, "签名未报备或签名未审核通过", "signature not registered or not approved"),
        (-139, "提交短信未知异常", "unknown error submitting SMS"),
        (-141, "取短信余额失败", "balance query failed"),
        (-142, "短信ID(SmsID)不存在或不属于此用户", "SmsID unknown or not owned by this user"),
        (-143, "短信ID(SmsID)数量超出每次处理限额", "too many SmsIDs in one request"),
        (-144, "取消短信未知异常", "unknown error cancelling SMS"),
        (-201, "彩信标题不能为空", "MMS title must not be empty"),
        (-202, "SmilType参数错误", "SmilType parameter invalid"),
        (-203, "彩信文件包数量错误", "MMS file package count invalid"),
        (-204, "不能上传空的彩信文件", "cannot upload an empty MMS file"),
        (-205, "彩信文件超出限制", "MMS file exceeds the limit"),
        (-206, "生成彩信文件ID失败", "failed to create MMS file id"),
        (-207, "创建彩信文件失败", "failed to create MMS file"),
        (-211, "彩信文件ID不正确", "MMS file id incorrect"),
        (-212, "彩信文件ID不存在", "MMS file id does not exist"),
        (-213, "彩信文件状态异常", "MMS file status abnormal"),
        (-214, "彩信文件已损坏", "MMS file damaged"),
        (-220, "彩信文件ID不正确", "MMS file id incorrect"),
        (-221, "没有发送彩信权限", "no permission to send MMS"),
        (-222, "目标号码数量不符合要求", "number of destination numbers invalid (MMS)"),
        (-230, "彩信文件ID不正确", "MMS file id incorrect"),
        (-231, "彩信文件ID不存在", "MMS file id does not exist"),
        (-232, "用户状态异常", "user status abnormal (MMS)"),
        (-233, "企业状态异常", "enterprise status abnormal (MMS)"),
        (-234, "用户权限不足", "user permission insufficient (MMS)"),
        (-235, "企业已过期", "enterprise account expired (MMS)"),
        (-236, "超出当天最大发送量", "daily sending limit exceeded (MMS)"),
        (-237, "不支持此时段发送", "sending not allowed at this time of day (MMS)"),
        (-238, "企业余额不足以支持本次发送", "enterprise balance insufficient (MMS)"),
        (-239, "用户余额不足以支持本次发送", "user balance insufficient (MMS)"),
        (-240, "代理商余额不足以支持本次发送", "agent balance insufficient (MMS)"),
        (-241, "代理商状态异常", "agent status abnormal (MMS)"),
        (-249, "提交彩信未知异常", "unknown error submitting MMS"),
        (-311, "号码文件描述过长", "number file description too long"),
        (-312, "没有操作批量文件权限", "no permission for batch files"),
        (-313, "号码文件大小异常", "number file size abnormal"),
        (-314, "号码文件数量已达上限", "number file count at its limit"),
        (-315, "申请新的号码文件ID错误", "error requesting a new number file id"),
        (-316, "创建号码文件错误", "error creating number file"),
        (-317, "上传的号码文件格式有误", "uploaded number file has a bad format"),
        (-321, "没有操作批量文件权限", "no permission for batch files"),
        (-322, "号码文件ID不存在", "number file id does not exist"),
        (-323, "号码文件使用中", "number file in use"),
        (-324, "删除号码文件异常", "error deleting number file"),
        (-331, "短信内容长度不符合要求", "message content length invalid (batch task)"),
        (-332, "没有操作批量任务权限", "no permission for batch tasks"),
        (-333, "定时时间不能超1个月", "scheduled time cannot be more than one month ahead"),
        (-334, "待发短信任务数量已达上限", "pending SMS task count at its limit"),
        (-335, "号码文件数量有误", "number file count invalid"),
        (-336, "无有效的号码或号码文件", "no valid numbers or number file"),
        (-337, "添加新短信任务失败", "failed to add SMS task"),
        (-338, "无短信签名或签名不符合规范", "no SMS signature, or signature not compliant (task)"),
        (-339, "签名未报备或签名未审核通过", "signature not registered or not approved (task)"),
        (-341, "没有操作批量任务权限", "no permission for batch tasks"),
        (-342, "短信任务ID不存在", "SMS task id does not exist"),
        (-351, "没有操作批量任务权限", "no permission for batch tasks"),
        (-352, "短信任务ID不存在", "SMS task id does not exist"),
        (-353, "短信任务停止失败", "failed to stop SMS task"),
        (-354, "短信任务所处状态不能停止", "SMS task cannot be stopped in its state"),
        (-355, "短信任务启动失败", "failed to start SMS task"),
        (-356, "短信任务所处状态不能启动", "SMS task cannot be started in its state"),
        (-361, "彩信文件ID不存在", "MMS file id does not exist"),
        (-362, "没有操作批量任务权限", "no permission for batch tasks"),
        (-363, "定时时间不能超1个月", "scheduled time cannot be more than one month ahead"),
        (-364, "待发彩信任务数量已达上限", "pending MMS task count at its limit"),
        (-365, "号码文件数量有误", "number file count invalid"),
        (-366, "无有效的号码或号码文件", "no valid numbers or number file"),
        (-367, "添加新彩信任务失败", "failed to add MMS task"),
        (-371, "没有操作批量任务权限", "no permission for batch tasks"),
        (-372, "彩信任务ID不存在", "MMS task id does not exist"),
        (-381, "没有操作批量任务权限", "no permission for batch tasks"),
        (-382, "彩信任务ID不存在", "MMS task id does not exist"),
        (-383, "彩信任务停止失败", "failed to stop MMS task"),
        (-384, "彩信任务所处状态不能停止", "MMS task cannot be stopped in its state"),
        (-385, "彩信任务启动失败", "failed to start MMS task"),
        (-386, "彩信任务所处状态不能启动", "MMS task cannot be started in its state"),
        (-501, "短信模板类型有误", "SMS template type invalid"),
        (-502, "短信模板名称长度不符合要求", "SMS template name length invalid"),
        (-503, "短信模板内容长度不符合要求", "SMS template content length invalid"),
        (-504, "没有发送短信权限，不能添加短信模板", "no SMS permission, cannot add a template"),
        (-505, "短信模板名称已存在", "SMS template name already exists"),
        (-506, "添加短信模板失败", "failed to add SMS template"),
        (-507, "短信模板ID不存在", "SMS template id does not exist"),
        (-508, "修改短信模板失败", "failed to modify SMS template"),
        (-509, "删除短信模板失败", "failed to delete SMS template"),
        (-510, "模板参数不能包含链接", "template parameters must not contain links"),
        (-511, "短信模板ID不存在或未审核通过", "SMS template id unknown or not approved"),
        (-512, "短信模板数量已达上限", "SMS template count at its limit"),
        (-513, "模板参数值长度超过限制", "template parameter value too long"),
        (-601, "申请类型有误", "application type invalid"),
        (-602, "签名类型有误", "signature type invalid"),
        (-603, "签名归属类型有误", "signature ownership type invalid"),
        (-604, "证明文件类型有误", "proof document type invalid"),
        (-605, "证明文件过大", "proof document too large"),
        (-606, "签名长度有误", "signature length invalid"),
        (-607, "权限不足，不能操作操作", "permission insufficient for this operation"),
        (-608, "签名Id不存在", "signature id does not exist"),
        (-609, "签名申请过多", "too many signature applications"),
        (-610, "已存在相同签名", "the same signature already exists"),
        (-611, "添加短信签名失败", "failed to add SMS signature"),
    ]
)


def status_info(status: int) -> CodeInfo | None:
    """The table row of a delivery status, or ``None`` for a code the vendor never listed."""
    return STATUS_CODES.get(int(status))


def error_info(code: int) -> CodeInfo | None:
    """The table row of an error code, or ``None`` for a code the vendor never listed."""
    return ERROR_CODES.get(int(code))


def is_final_status(status: int) -> bool:
    """True when no later report can change the status (2–7, 11, 12, 13, 15)."""
    return int(status) in FINAL_STATUSES


def describe_status(status: int) -> str:
    """``'12 接收成功 (delivered)'``; unknown codes are said to be unknown, never invented."""
    info = status_info(status)
    if info is None:
        return _("{code} (status code not in the vendor's table)").format(code=int(status))
    if current_language() == "zh":  # the vendor's text is the Chinese; the gloss translates it
        return f"{info.code} {info.text}"
    return f"{info.code} {info.text} ({info.gloss})"


def describe_error(code: int) -> str:
    """``'-110 短信内容长度不符合要求 (message content length invalid)'``.

    For -106 and -112, both of the vendor's meanings are given and the code is said to be
    ambiguous.
    """
    info = error_info(code)
    if info is None:
        return _("{code} (error code not in the vendor's table)").format(code=int(code))
    if current_language() == "zh":  # the vendor's text is the Chinese; the gloss translates it
        text = f"{info.code} {info.text}"
    else:
        text = f"{info.code} {info.text} ({info.gloss})"
    if info.ambiguous:
        text = _("{code}; the vendor gives this code two meanings, either may apply").format(
            code=text
        )
    return text
