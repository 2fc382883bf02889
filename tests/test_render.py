"""render: the exact text, length and parts per row; both render paths give the same text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobset_campaign.contacts import read_contacts
from mobset_campaign.errors import InputError
from mobset_campaign.render import render
from mobset_campaign.segments import SegmentRules, count_chars, count_parts
from mobset_campaign.templates import available_templates, display_value, load_template

SAMPLE = Path(__file__).resolve().parents[1] / "mobset_campaign" / "data" / "sample_contacts.csv"
FORCE_JINJA = "{% if true %}{% endif %}"  # logic: the template can no longer take the fast path


def contacts(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    phones = [f"135{i:08d}" for i in range(n)]
    return read_contacts(pd.DataFrame({"手机": phones, **columns}))


def both_paths(df: pd.DataFrame, template: str, **kw: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    fast = render(df, template, **kw)  # type: ignore[arg-type]
    slow = render(df, template + FORCE_JINJA, **kw)  # type: ignore[arg-type]
    assert fast.attrs["sms"]["fast_path"] is True
    assert slow.attrs["sms"]["fast_path"] is False
    return fast, slow


MIXED = contacts(
    姓名=["张三", None, "{{ config }}", "  ", "O'Brien {x}", "李\r\n四"],
    积分=[1200.0, np.nan, 1234567.5, 0.0, -3.0, 1e20],
    次数=[1, 2, 3, 4, 5, 6],
    到期日=pd.to_datetime(
        ["2026-12-31", None, "2026-01-02 09:05", "2026-01-02 09:05:07", "2026-03-01", "2026-12-31"],
        format="mixed",
    ).tolist(),
    生日=[dt.date(1990, 1, 2), None, dt.date(2000, 12, 31), None, None, dt.date(1999, 9, 9)],
    标记=[True, False, True, False, True, False],
    杂项=["文本", 3, 4.5, None, dt.date(2026, 1, 1), float("nan")],
)


def test_fast_and_jinja_paths_give_identical_text_on_awkward_cells() -> None:
    template = "{{姓名}}您好，积分{{ 积分 }}、{{次数}}次，{{ 到期日 }}/{{生日}}/{{标记}}/{{杂项}}。{{'常量'}}"
    fast, slow = both_paths(MIXED, template)
    assert fast["content"].tolist() == slow["content"].tolist()
    for column in ("chars", "parts", "warnings", "sendable"):
        assert fast[column].tolist() == slow[column].tolist(), column
    first, second, third = fast["content"].tolist()[:3]
    assert first == "张三您好，积分1200、1次，2026-12-31/1990-01-02/True/文本。常量"
    assert second == "您好，积分、2次，//False/3。常量"  # missing cells show nothing
    assert third.startswith("{{ config }}您好，积分1234567.5")  # data is never a template
    assert "2026-01-02 09:05/" in third
    assert "2026-01-02 09:05:07" in fast["content"].iloc[3]
    assert "李\n四" in fast["content"].iloc[5]  # \r\n normalised
    assert "积分1e+20、" in fast["content"].iloc[5]  # beyond 1e16 a float keeps its own form


def test_fast_path_filters_match_jinja() -> None:
    template = "{{ 姓名 | default('会员') }}，尾号{{ 手机 | mask }}/{{ 手机 | mask(0, 4, '#') }}{{ 积分 | d(0) }}"
    fast, slow = both_paths(MIXED, template)
    assert fast["content"].tolist() == slow["content"].tolist()
    assert fast["content"].iloc[0] == "张三，尾号135****0000/#######00001200"
    assert fast["content"].iloc[1].startswith("会员，")
    assert fast["content"].iloc[3].startswith("会员，")  # blank counts as empty


text_cells = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from("张三{}%#'\" \n\r😀【】ab1."), max_size=8),
)
number_cells = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=False, width=32),
    st.integers(-(10**6), 10**6).map(float),
)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(text_cells, min_size=1, max_size=6),
    numbers=st.lists(number_cells, min_size=6, max_size=6),
    literal=st.text(alphabet=st.sampled_from("您好{}%'\n 。"), max_size=6),
)
def test_both_paths_agree_on_any_data(
    names: list[str | None], numbers: list[float | None], literal: str
) -> None:
    literal = literal.replace("{", "（").replace("}", "）")  # keep the template itself valid
    df = contacts(姓名=names, 积分=numbers[: len(names)])
    fast, slow = both_paths(df, f"{literal}{{{{ 姓名 }}}}{literal}{{{{积分}}}}")
    assert fast["content"].tolist() == slow["content"].tolist()
    assert fast["chars"].tolist() == slow["chars"].tolist()
    assert fast["parts"].tolist() == slow["parts"].tolist()


def test_display_rules() -> None:
    assert display_value(1200.0) == "1200"
    assert display_value(np.float64(1200.5)) == "1200.5"
    assert display_value(np.int64(7)) == "7"
    assert display_value(None) == display_value(np.nan) == display_value(pd.NaT) == ""
    assert display_value(pd.Timestamp("2026-06-30")) == "2026-06-30"
    assert display_value(dt.datetime(2026, 6, 30, 14, 30)) == "2026-06-30 14:30"
    assert display_value(dt.time(9, 5)) == "09:05"


def test_filters_for_chinese_sms() -> None:
    df = contacts(
        到期日=["2026-06-30", "2026/7/1", "2026年8月9日", "20260910"],
        积分=[1234567, "12,345.5", 12.0, None],
    )
    out = render(
        df, "{{ 到期日 | date('%-m月%-d日') }}|{{ 积分 | thousands }}|{{ 积分 | thousands(2) }}"
    )
    assert out["content"].tolist() == [
        "6月30日|1,234,567|1,234,567.00",
        "7月1日|12,345.5|12,345.50",
        "8月9日|12|12.00",
        "9月10日||",
    ]
    stamp = contacts(预约=[pd.Timestamp("2026-12-03 14:30")])
    assert (
        render(stamp, "{{ 预约 | date('%m月%d日 %H:%M') }}")["content"].iloc[0] == "12月03日 14:30"
    )


def test_a_cell_a_filter_cannot_use_names_its_row() -> None:
    df = contacts(到期日=["2026-06-30", "下个月"])
    with pytest.raises(InputError, match=r"failed on row 3: '下个月' is not a date"):
        render(df, "{{ 到期日 | date }}")


def test_unknown_placeholder_fails_naming_it_and_the_columns() -> None:
    df = contacts(姓名=["张三"])
    with pytest.raises(InputError) as err:
        render(df, "{{ 名字 }}您好，{{ 门店 }}见")
    message = str(err.value)
    assert "{{ 名字 }}" in message and "{{ 门店 }}" in message
    assert "Columns: 手机, 姓名, phone, phone_problem, row" in message


def test_template_syntax_error_and_sandbox() -> None:
    df = contacts(姓名=["张三"])
    with pytest.raises(InputError, match="syntax error on line 2"):
        render(df, "您好\n{{ 姓名 }")
    with pytest.raises(InputError, match="unsafe"):
        render(df, "{{ 姓名.__class__.__mro__ }}")


def test_counts_include_signature_and_opt_out() -> None:
    df = contacts(姓名=["张三", "李四"])
    body = "字" * 55
    out = render(df, body, signature="广州首易", opt_out=True)
    assert out["content"].iloc[0] == body + "拒收请回复R"
    assert out["chars"].tolist() == [67, 67]
    assert out["parts"].tolist() == [1, 1]
    # the opt-out is not appended twice, and a custom one is used as given
    again = render(df, body + "拒收请回复R", signature="广州首易", opt_out=True)
    assert again["content"].iloc[0].count("拒收请回复R") == 1
    custom = render(df, body, opt_out="回T退订")
    assert custom["content"].iloc[0].endswith("回T退订")
    # no signature known: counted without one
    assert render(df, body)["chars"].iloc[0] == 55


def test_parts_boundaries_and_short_sms_mode() -> None:
    df = contacts(姓名=["甲", "乙乙乙乙乙乙乙乙"])
    out = render(df, "{{ 姓名 }}" + "字" * 63, signature="广州首易")
    assert out["chars"].tolist() == [70, 77]
    assert out["parts"].tolist() == [1, 2]
    short = render(df, "{{ 姓名 }}" + "字" * 63, signature="广州首易", long_sms=False)
    assert short["parts"].tolist() == [
        count_parts(t, "广州首易", long_sms=False) for t in short["content"]
    ]


def test_embedded_signature_is_in_the_content_and_counted_once() -> None:
    df = contacts(姓名=["张三"])
    out = render(df, "{{ 姓名 }}您好", signature="广州首易", embed_signature=True)
    assert out["content"].iloc[0] == "【广州首易】张三您好"
    assert out["chars"].iloc[0] == 10
    assert out["warnings"].iloc[0] == ""


def test_warnings_and_sendable() -> None:
    df = read_contacts(
        pd.DataFrame(
            {
                "手机": ["13512346789", "13612345678", "", "13712345678", "13812345678"],
                "姓名": ["张三", "李四😀", "王五", "赵六" * 40, ""],
            }
        )
    )
    out = render(df, "{{ 姓名 }}", signature="广州首易", rules=SegmentRules(max_chars=70))
    warnings = out["warnings"].tolist()
    assert warnings[0] == ""
    assert "emoji/rare character" in warnings[1]
    assert out["chars"].iloc[1] == count_chars("李四😀", "广州首易") == 10
    assert "too long: 86 chars (max 70)" in warnings[3]
    assert "2 parts where most rows have 1" in warnings[3]
    assert warnings[4] == "empty message; empty 姓名"
    assert out["sendable"].tolist() == [True, True, False, False, False]


def test_marketing_without_opt_out_and_brackets() -> None:
    df = contacts(姓名=["张三", "李四"])
    promo = render(df, "{{ 姓名 }}您好，本周会员日全场8折！")
    assert promo["warnings"].tolist() == ["marketing text without opt-out"] * 2
    assert render(df, "{{ 姓名 }}您好，本周会员日全场8折！", opt_out=True)["warnings"].eq("").all()
    assert render(df, "{{ 姓名 }}您好，本周会员日全场8折！回T退订")["warnings"].eq("").all()
    # marketing words that come from the data are found too, on both paths
    offers = contacts(优惠=["满100减20", ""], 姓名=["a", "b"])
    fast, slow = both_paths(offers, "{{ 姓名 }}：{{ 优惠 }}满减")
    assert fast["warnings"].tolist() == slow["warnings"].tolist()
    notice = render(df, "【通知】{{ 姓名 }}您好，快递已到")
    assert notice["warnings"].iloc[0] == "【】 in the text (reads as a signature)"


def test_phone_problems_are_rendered_but_not_sendable() -> None:
    df = read_contacts(pd.DataFrame({"手机": ["13512346789", "1.35123E+10", "13512346789"]}))
    out = render(df, "您好")
    assert out["content"].tolist() == ["您好"] * 3
    assert out["sendable"].tolist() == [True, False, False]


def test_input_untouched_columns_order_and_index_kept() -> None:
    df = read_contacts(
        pd.DataFrame({"姓名": ["乙", "甲"], "手机": ["13512346789", "13612345678"]}, index=[9, 4])
    )
    before = df.copy()
    out = render(df, "{{ 姓名 }}您好")
    pd.testing.assert_frame_equal(df, before)
    assert list(out.index) == [9, 4]
    assert list(out.columns) == [*df.columns, "content", "chars", "parts", "warnings", "sendable"]
    assert out["content"].tolist() == ["乙您好", "甲您好"]
    # rendering again replaces the message columns instead of adding more
    assert list(render(out, "{{ 姓名 }}好").columns) == list(out.columns)


def test_render_needs_read_contacts_first() -> None:
    with pytest.raises(InputError, match="call read_contacts"):
        render(pd.DataFrame({"姓名": ["张三"]}), "{{ 姓名 }}")


# ----------------------------------------------------------------------- templates


def test_shipped_templates_render_the_sample_without_surprises() -> None:
    assert {
        "points_expiry.txt",
        "appointment_reminder.txt",
        "event_invitation.txt",
        "delivery_notice.txt",
    } <= set(available_templates())
    df = read_contacts(SAMPLE)
    for name in available_templates():
        out = render(df, name, signature="广州首易")
        sendable = out[out["sendable"]]
        assert len(sendable) == 35, name
        assert sendable["warnings"].eq("").all(), (name, sendable["warnings"].unique())
        assert sendable["parts"].eq(1).all(), name
        assert not sendable["content"].str.contains("{", regex=False).any(), name
    invite = render(df, "event_invitation.txt")
    assert invite["content"].str.endswith("拒收请回复R").all()
    points = render(df, "points_expiry", signature="广州首易")  # by stem
    assert points["content"].iloc[0] == (
        "王伟您好，您在番禺店的2,396积分将于2026年12月28日到期，到期未使用将自动清零，请及时使用。"
    )
    assert points["content"].iloc[37].startswith("尊敬的会员您好")


def test_template_lookup_order_and_unknown_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "points_expiry.txt").write_text("本地{{ 姓名 }}\n", encoding="utf-8")
    (tmp_path / "mine.j2").write_text("文件{{ 姓名 }}", encoding="gbk")
    assert load_template("points_expiry.txt")[0] == "本地{{ 姓名 }}\n"  # ./templates first
    df = contacts(姓名=["张三"])
    assert render(df, "points_expiry.txt")["content"].iloc[0] == "本地张三"
    assert render(df, Path("mine.j2"))["content"].iloc[0] == "文件张三"
    assert render(df, tmp_path / "mine.j2")["content"].iloc[0] == "文件张三"
    assert render(df, "天气不错")["content"].iloc[0] == "天气不错"  # plain text is a template
    with pytest.raises(InputError) as err:
        render(df, "no_such_template.txt")
    assert "no_such_template.txt" in str(err.value)
    assert "delivery_notice.txt" in str(err.value)  # lists what is available


@pytest.mark.parametrize("module", ["mobset_campaign.render"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------- input the user gets wrong


def test_a_user_column_named_content_is_kept_and_rerendering_replaces_output() -> None:
    df = read_contacts(
        pd.DataFrame({"手机": ["13512346789"], "content": ["原备注"], "parts": ["A区"]})
    )
    out = render(df, "备注：{{ content_original }}")
    assert out["content_original"].tolist() == ["原备注"]
    assert out["parts_original"].tolist() == ["A区"]
    assert out["content"].tolist() == ["备注：原备注"]
    assert "content" not in df.columns or df["content"].tolist() == ["原备注"]  # input untouched
    again = render(out, "改：{{ content_original }}")  # attrs["sms"] set: outputs replaced
    assert again["content"].tolist() == ["改：原备注"]
    assert list(again.columns) == list(out.columns)
    plain = out.copy()
    plain.attrs = {}  # all five output columns present: still an earlier render
    assert list(render(plain, "x").columns) == list(out.columns)
    with pytest.raises(InputError, match=r"kept as content_original.*\{\{ content_original \}\}"):
        render(df, "{{ content }}")


def test_a_placeholder_for_a_column_read_contacts_renamed_is_refused() -> None:
    df = read_contacts(pd.DataFrame({"手机": ["13512346789"], "row": ["A区"]}))
    with pytest.raises(InputError, match=r"\{\{ row \}\}.*row number.*row_original"):
        render(df, "{{ row }}")
    assert render(df, "{{ row_original }}")["content"].tolist() == ["A区"]
    plain = read_contacts(pd.DataFrame({"手机": ["13512346789"]}))
    assert render(plain, "第{{ row }}行")["content"].tolist() == ["第2行"]


def test_empty_cells_warn_naming_the_column_on_both_paths() -> None:
    df = contacts(姓名=["张三", None, "  ", "李四"], 门店=["越秀", "天河", "", np.nan])
    fast, slow = both_paths(df, "{{ 姓名 }}您好，{{ 门店 }}欢迎")
    assert fast["warnings"].tolist() == slow["warnings"].tolist()
    assert fast["warnings"].tolist() == ["", "empty 姓名", "empty 姓名; empty 门店", "empty 门店"]
    assert fast["sendable"].all()
    # guarded uses do not warn: default, `or`, and inside {% if %} on that column
    # (Jinja's `or`/`if` take a cell of spaces as filled; files are read stripped)
    df = contacts(姓名=["张三", None, "", "李四"], 门店=["越秀", "天河", "", np.nan])
    for template in (
        "{{ 姓名 | default('会员') }}{{ 门店 | d('总店') }}",
        "{{ 姓名 or '会员' }}{% if 门店 %}，{{ 门店 }}{% endif %}",
        "{{ 门店 if 门店 else '总店' }}{{ 姓名 | default('会员') }}",
    ):
        assert render(df, template)["warnings"].eq("").all(), template
    # a column used once guarded and once not still warns
    mixed = render(df, "{{ 姓名 | default('会员') }}{{ 姓名 }}")["warnings"].tolist()
    assert mixed == ["", "empty 姓名", "empty 姓名", ""]


def test_template_of_the_wrong_type_and_numbered_columns() -> None:
    df = contacts(姓名=["张三"])
    with pytest.raises(
        InputError, match=r"^render: template must be text, a path or a template name, not None$"
    ):
        render(df, None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not int"):
        render(df, 5)  # type: ignore[arg-type]
    numbered = read_contacts(pd.DataFrame({0: ["张三"], 1: ["13512346789"]}))
    with pytest.raises(InputError, match=r"\{\{ 0 \}\}.*not the column.*rename"):
        render(numbered, "{{ 0 }}您好")
    assert render(numbered, "您好")["content"].tolist() == ["您好"]
    # a non-text column name is matched by its text
    named = read_contacts(pd.DataFrame({np.str_("姓名"): ["张三"], "手机": ["13512346789"]}))
    assert render(named, "{{ 姓名 }}")["content"].tolist() == ["张三"]


def test_comparing_a_text_column_names_it_and_suggests_int(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("姓名,手机,积分\n张三,13512346789,1200\n李四,13612345678,\n", encoding="utf-8")
    df = read_contacts(path)
    with pytest.raises(
        InputError, match=r"row 2: .*Column 积分 holds the text '1200'.*积分 \| int > 500"
    ):
        render(df, "{% if 积分 > 500 %}VIP{% endif %}{{ 姓名 }}")
    out = render(df, "{% if 积分 | int > 500 %}VIP{% endif %}{{ 姓名 }}")  # the sandbox allows int
    assert out["content"].tolist() == ["VIP张三", "李四"]


@pytest.mark.parametrize(
    "name", ["namespace", "dict", "joiner", "self", "range", "lipsum", "cycler", "loop"]
)
def test_printing_one_of_jinjas_own_names_is_an_input_error(name: str) -> None:
    df = contacts(姓名=["张三"])
    for template in (f"您好{{{{ {name} }}}}", f"{{{{ {name} | default('x') }}}}{FORCE_JINJA}"):
        with pytest.raises(InputError, match=rf"prints \{{\{{ {name} \}}\}}.*not a column") as err:
            render(df, template)
        assert "姓名" in str(err.value) and "\n" not in str(err.value)


def test_a_column_named_like_a_jinja_global_is_the_column_on_both_paths() -> None:
    df = contacts(range=["A区", "B区"], dict=[1, 2])
    fast, slow = both_paths(df, "{{ range }}-{{ dict }}")
    assert fast["content"].tolist() == slow["content"].tolist() == ["A区-1", "B区-2"]
    calls = render(contacts(姓名=["张三"]), "{% for i in range(2) %}{{ i }}{% endfor %}{{ 姓名 }}")
    assert calls["content"].tolist() == ["01张三"]  # calling a global stays allowed


@pytest.mark.parametrize(
    ("template", "match"),
    [
        ("{{ 姓名 | truncate(-1) }}", "row 2: a filter was given an argument it cannot use"),
        ("{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}", "row 2: a macro calls itself"),
        ("{{ 'x' * 10**10 }}{{ 姓名 }}", "row 2: repeating a text or list 10000000000 times"),
        ("{{ 姓名 * 100000 }}", "row 2: repeating a text or list 100000 times"),
        ("{{ 2 ** 10000000 }}{{ 姓名 }}", "row 2: the exponent 10000000 is above 1000"),
        ("{{ 积分 / 0 }}", "row 2: division by zero"),
        ("{{ 姓名[5] }}", "row 2: str object has no element 5"),
        ("{{ 姓名 | mask('a') }}", r"mask\(start=…\) must be a whole number"),
        ("{{ 姓名 | mask(3, -1) }}", r"mask\(end=…\) must be a whole number"),
    ],
)
def test_a_template_that_cannot_run_is_one_input_error(template: str, match: str) -> None:
    df = contacts(姓名=["张三", "李四"], 积分=[10, 20])
    with pytest.raises(InputError, match=match) as err:
        render(df, template)
    assert "\n" not in str(err.value)


def test_a_lone_surrogate_is_caught_at_render_naming_row_and_column() -> None:
    df = contacts(姓名=["张三", "李\ud800四"], 店=["天河", "越秀"])
    for template in ("{{ 店 }}{{ 姓名 }}您好", "{{ 店 }}{{ 姓名 }}您好" + FORCE_JINJA):
        with pytest.raises(InputError, match=r"^Row 3: column 姓名 holds a broken character"):
            render(df, template)
    assert render(df, "{{ 店 }}您好")["sendable"].all()  # a column not sent is no problem
    with pytest.raises(InputError, match="signature= holds a broken character"):
        render(contacts(姓名=["张三"]), "{{ 姓名 }}", signature="首\udc80易")
    with pytest.raises(InputError, match="the template text holds a broken character"):
        render(contacts(姓名=["张三"]), "{{ 姓名 }}\udfff")
