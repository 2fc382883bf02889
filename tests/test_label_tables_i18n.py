"""The summary's and the states' labels come from the catalog, not from Chinese in the code:
each label is written once as its English message id; the tables stay readable as before."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import mobset_campaign as mc
from mobset_campaign import _i18n, _labels, report_labels, states
from mobset_campaign.outcomes import summarize

CJK = re.compile(r"[\u4e00-\u9fff]")
PACKAGE = Path(mc.__file__).parent


@pytest.mark.parametrize("module", ["outcomes.py", "states.py", "report_labels.py"])
def test_no_chinese_text_in_the_code_only_in_the_catalog(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    chinese = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and CJK.search(node.value)
    ]
    assert chinese == [], f"{module}: Chinese written in the code: {chinese}"


def test_the_tables_read_as_before_in_every_language() -> None:
    for language in ("en", "zh"):
        with mc.using_language(language):
            assert states.STATE_LABELS["skipped"] == "已跳过"  # 跳过 elsewhere: a context
            assert dict(states.STATE_LABELS)["sent"] == "已提交待回执"
            assert list(states.STATE_LABELS) == list(states.STATE_COLOURS)
            zh, en = states.STATE_MEANINGS["pending"]
            assert (zh, en) == ("已登记，尚未发送", "registered, not sent yet")
            assert report_labels.SKIP_KIND_LABELS["duplicate"] == ("重复号码", "duplicate")
    with pytest.raises(TypeError):
        states.STATE_LABELS["sent"] = "x"  # type: ignore[index]


def test_each_kind_of_skip_reason_is_its_own_message_id() -> None:
    table = report_labels.SKIP_KIND_LABELS
    assert isinstance(table, _labels.LabelTable)
    assert all(table.message(kind) == kind for kind in table)
    assert all(CJK.search(zh) and en == kind for kind, (zh, en) in table.items())


def test_the_same_english_has_its_own_chinese_by_context() -> None:
    with mc.using_language("zh"):
        assert _i18n.gettext("skipped") != states.STATE_LABELS["skipped"]
        kind = report_labels.skip_kind_label("already messaged in this campaign", "zh")
        assert kind == "本活动已发过"


def test_the_summary_s_labels_in_each_language() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "phone": ["13800138000", None],
            "sendable": [True, False],
            "parts": [1, 1],
            "send_state": ["delivered", None],
            "reply_count": [1, 0],
        }
    )
    items = {
        labels: summarize(frame, labels=labels)["item"].tolist()
        for labels in ("bilingual", "zh", "en")
    }
    assert "导出时间 Exported at (Beijing)" in items["bilingual"]
    assert "导出时间（北京时间）" in items["zh"] and "有回复的行" in items["zh"]
    assert "Exported at (Beijing)" in items["en"] and "(无状态 no state)" in items["bilingual"]
    assert "(no state)" in items["en"] and "（无状态）" in items["zh"]  # both brackets
    assert not [item for item in items["en"] if CJK.search(item)]
    assert all(CJK.search(item) for item in items["zh"])
