"""Mainland mobile numbers: repair what spreadsheets do to them, validate, explain the rest.

A number is accepted when :mod:`phonenumbers` says it is a valid number of region CN of type
mobile (``is_valid_number`` and ``number_type`` MOBILE), and it comes out as its 11 digits.

Repairs, made only where they are exact:

* ``+86``/``0086``/``86`` prefixes, spaces, dashes, dots, brackets, full-width digits and a
  leading apostrophe (``'13512346789``, Excel's "store as text" mark);
* a number stored as a float, ``13512346789.0``, or written in scientific notation with all
  eleven digits present, ``1.3512346789E10``.

Digits are never guessed. The rule for scientific notation: text such as ``1.35123E+10`` (what
a CSV saved from Excel holds when the column was displayed in "General" format) has fewer
than 11 significant digits, so the number is reported as ``digits lost in the spreadsheet``.
A *numeric* spreadsheet cell is stored as a binary double, which holds all 11 digits exactly:
an exact 11-digit integer there is taken as it is (``13512300000.0`` read from a numeric cell
is the number 13512300000; nothing in the file says otherwise).

:func:`normalise_phones` is the vectorised entry point. The common clean case (an 11-digit
string starting ``1[3-9]``) is decided with numpy against a table of 5-digit mobile prefixes
derived once from the phonenumbers metadata (:func:`mobile_prefixes`), so it agrees with
phonenumbers exactly; everything else goes through :func:`parse_phone` one value at a time.

>>> parse_phone("+86 135-1234-6789")
('13512346789', None)
>>> parse_phone("1.35123E+10")
(None, 'digits lost in the spreadsheet: 1.35123E+10')
>>> parse_phone("020-12345678")
(None, 'not a mainland mobile: 020-12345678 (a landline)')

The problem texts are written in the language of messages (``号码为空``, ``不是大陆手机号：
020-12345678（固定电话）`` in Chinese); :func:`problem_kind` reads them in either language,
and the kinds (:data:`EMPTY`, :data:`NOT_MOBILE` …) are English ids whatever the language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import cache

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberType

from ._cells import cell_text, is_missing
from ._i18n import LANGUAGES, N_, language_override
from ._i18n import gettext as _

__all__ = [
    "DIGITS_LOST",
    "DUPLICATE",
    "EMPTY",
    "NOT_MOBILE",
    "OPTED_OUT",
    "SEVERAL",
    "integer_texts",
    "is_mainland_mobile",
    "mobile_prefixes",
    "normalise_phones",
    "parse_phone",
    "problem_kind",
    "problem_parts",
    "problem_text",
]

# The phone problems, each the start of its English text in a ``phone_problem`` cell (the
# kinds are ids: the same in every language). parse_phone writes the first four;
# read_contacts the last two.
EMPTY = "empty"
NOT_MOBILE = "not a mainland mobile"
DIGITS_LOST = "digits lost in the spreadsheet"
SEVERAL = "several numbers in one cell"
DUPLICATE = "duplicate of row"
OPTED_OUT = "opted out"
#: How a summary names each problem when it counts rows by kind.
_KIND_LABELS = {EMPTY: "empty phone cell", DUPLICATE: "duplicate", OPTED_OUT: OPTED_OUT}

#: The text of each problem, a message id: ``{number}`` is the cell as the user wrote it,
#: ``{why}`` the kind of number when phonenumbers knows it, ``{row}`` the first row.
_TEXTS = {
    EMPTY: N_("empty"),
    NOT_MOBILE: N_("not a mainland mobile: {number}"),
    DIGITS_LOST: N_("digits lost in the spreadsheet: {number}"),
    SEVERAL: N_("several numbers in one cell: {number}"),
    DUPLICATE: N_("duplicate of row {row}"),
    OPTED_OUT: N_("opted out"),
}
_NOT_MOBILE_WHY = N_("not a mainland mobile: {number} ({why})")

_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: N_("a landline"),
    PhoneNumberType.TOLL_FREE: N_("a toll-free number"),
    PhoneNumberType.PREMIUM_RATE: N_("a premium-rate number"),
    PhoneNumberType.SHARED_COST: N_("a shared-cost number"),
    PhoneNumberType.VOIP: N_("a VoIP number"),
    PhoneNumberType.UAN: N_("a service number"),
}
_NOT_A_MOBILE = N_("not a mobile")
_OTHER_REGION = N_("a +{code} number, region {region}")
_DIGITS = N_("{n} digits")


class _Words(dict[str, str]):
    """Message ids → their text in the language of messages, each looked up once: one
    per :func:`parse_phone`, one shared by every cell of :func:`normalise_phones`."""

    def __missing__(self, key: str) -> str:
        value = self[key] = _(key)
        return value


def _problem(words: _Words, kind: str, number: object = "", why: str = "") -> str:
    if kind == NOT_MOBILE and why:
        return words[_NOT_MOBILE_WHY].format(number=number, why=why)
    return words[_TEXTS[kind]].format(number=number, row=number)
_APOSTROPHES = "'\u2018\u2019`\"\u201c\u201d"
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212._()\[\]（）·]")
_SEVERAL = re.compile(r"[,，;；/／、|\n]")
_NUMERIC = re.compile(r"^\+?(\d+)(?:\.(\d*))?(?:[eE]\+?(\d+))?$")
_PLAIN_DIGITS = re.compile(r"^\+?\d+$")


def problem_text(kind: str, number: object = "", *, why: str = "") -> str:
    """The ``phone_problem`` text of ``kind`` in the language of messages: ``number`` is the
    cell as written (the first row's number for :data:`DUPLICATE`), ``why`` the kind of
    number, already translated.

    >>> problem_text(NOT_MOBILE, "020-12345678"), problem_text(DUPLICATE, 7)
    ('not a mainland mobile: 020-12345678', 'duplicate of row 7')
    """
    return _problem(_Words(), kind, number, why)


def problem_parts(kind: str) -> tuple[str, str]:
    """The text of ``kind`` before and after its number, to build many texts at once
    (``head + numbers + tail``) in the language of messages."""
    template = _(_TEXTS[kind])
    field = "{row}" if kind == DUPLICATE else "{number}"
    head, found, tail = template.partition(field)
    return (head, tail) if found else (template, "")


@cache
def _patterns(language: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Regular expressions that recognise each kind's text in ``language`` (read once per
    process: a summary asks for every row)."""
    found = []
    with language_override(language):
        for kind, template in (*_TEXTS.items(), (NOT_MOBILE, _NOT_MOBILE_WHY)):
            pieces = re.split(r"\{[a-z]+\}", _(template))
            found.append((re.compile(".*".join(map(re.escape, pieces)) + "$", re.DOTALL), kind))
    return tuple(found)


def _translated_kind(text: str) -> str | None:
    """The kind of a problem text written in another language than English, or None."""
    for language in LANGUAGES:
        if language == "en":
            continue
        for pattern, kind in _patterns(language):
            if pattern.match(text):
                return kind
    return None


def problem_kind(problem: str) -> str:
    """The kind of a ``phone_problem`` text, as a summary counts rows by it.

    The column is data (a user or a script may write it), so any text is accepted: one this
    module did not write counts under its part before a colon. A text written in Chinese
    (``重复号码，同第 7 行``) gives the same kind as its English.

    >>> problem_kind("duplicate of row 7"), problem_kind("not a mainland mobile: 020-1234567")
    ('duplicate', 'not a mainland mobile')
    >>> problem_kind("empty"), problem_kind("bounced last time")
    ('empty phone cell', 'bounced last time')
    """
    text = str(problem).strip()
    for kind in (DUPLICATE, NOT_MOBILE, DIGITS_LOST, SEVERAL):
        if text.startswith(kind):
            return _KIND_LABELS.get(kind, kind)
    if text in _KIND_LABELS:
        return _KIND_LABELS[text]
    if text and not text[0].isascii():
        found = _translated_kind(text)
        if found is not None:
            return _KIND_LABELS.get(found, found)
    return re.split(r":|：", text, maxsplit=1)[0].strip()


def _check_number(number: PhoneNumber, words: _Words | None = None) -> str | None:
    """None when ``number`` is a mainland mobile, else why not (in brackets, translated),
    ``""`` when phonenumbers has nothing more to say."""
    words = _Words() if words is None else words
    if phonenumbers.is_valid_number(number):
        kind = phonenumbers.number_type(number)
        region = phonenumbers.region_code_for_number(number)
        if region == "CN" and kind in _MOBILE_TYPES:
            return None
        if region != "CN":
            return words[_OTHER_REGION].format(code=number.country_code, region=region)
        return words[_TYPE_NAMES.get(kind, _NOT_A_MOBILE)]
    national = phonenumbers.national_significant_number(number)
    if number.country_code == 86 and national.startswith("1") and len(national) != 11:
        return words[_DIGITS].format(n=len(national))
    return ""


def is_mainland_mobile(number: str) -> bool:
    """True when ``number`` (11 digits, no prefix) is a valid mainland mobile number.

    >>> is_mainland_mobile("13512346789"), is_mainland_mobile("12345678901")
    (True, False)
    """
    if not (len(number) == 11 and number.isascii() and number.isdigit()):
        return False
    return _check_number(PhoneNumber(country_code=86, national_number=int(number))) is None


@cache
def _prefix_table() -> np.ndarray:
    """int8 per 5-digit prefix: 1 mobile, 0 plainly invalid, -1 undecided (ask the library).

    Each prefix 13000-19999 is checked with three different tails; a prefix whose tails get
    different verdicts is left undecided, so the fast path can only ever agree with
    phonenumbers. "Plainly invalid" means phonenumbers rejects the number and has nothing
    more to say about it (the reason is just ``not a mainland mobile: <number>``).
    """
    table = np.full(100_000, -1, dtype=np.int8)
    for prefix in range(13_000, 20_000):
        verdicts = {
            _check_number(PhoneNumber(country_code=86, national_number=prefix * 1_000_000 + tail))
            for tail in (0, 582_731, 999_999)
        }
        if verdicts == {None}:
            table[prefix] = 1
        elif verdicts == {""}:
            table[prefix] = 0
    return table


def mobile_prefixes() -> frozenset[str]:
    """The 5-digit prefixes whose every 11-digit number is a mainland mobile.

    Derived once per process from the phonenumbers metadata.

    >>> "13512" in mobile_prefixes(), "17409" in mobile_prefixes()
    (True, False)
    """
    return frozenset(f"{p:05d}" for p in np.flatnonzero(_prefix_table() == 1))


def _repair_numeric(text: str, shown: str, words: _Words) -> tuple[str | None, str | None]:
    """``13512346789.0`` / ``1.3512346789E10`` → digits; ``1.35123E+10`` → digits lost."""
    match = _NUMERIC.match(text)
    assert match is not None
    whole, fraction, exponent = match.group(1), match.group(2) or "", match.group(3)
    try:
        value = Decimal(text.lstrip("+"))
    except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
        return None, _problem(words, NOT_MOBILE, shown)
    if value != value.to_integral_value():
        return None, _problem(words, NOT_MOBILE, shown)
    digits = str(int(value))
    if exponent is not None:
        significant = (whole + fraction).lstrip("0")
        if len(digits) >= 11 and len(significant) < len(digits):
            return None, _problem(words, DIGITS_LOST, shown)
    return digits, None


def parse_phone(value: object) -> tuple[str | None, str | None]:
    """One cell → ``(11-digit number, None)`` or ``(None, reason)``.

    Reasons: ``empty``, ``digits lost in the spreadsheet: …``, ``several numbers in one
    cell: …``, ``not a mainland mobile: …`` (with the kind when phonenumbers knows it).

    >>> parse_phone(13512346789.0)
    ('13512346789', None)
    >>> parse_phone("１３５１２３４６７８９")
    ('13512346789', None)
    >>> parse_phone("'13512346789")
    ('13512346789', None)
    >>> parse_phone("")
    (None, 'empty')
    """
    return _parse(value, _Words())


def _parse(value: object, words: _Words) -> tuple[str | None, str | None]:
    if is_missing(value):
        return None, _problem(words, EMPTY)
    shown = cell_text(value).strip()
    if not shown:
        return None, _problem(words, EMPTY)
    if isinstance(value, bool | np.bool_):
        return None, _problem(words, NOT_MOBILE, shown)
    text = unicodedata.normalize("NFKC", shown).strip().strip(_APOSTROPHES).strip()
    if not text:
        return None, _problem(words, EMPTY)
    if _NUMERIC.match(text) and ("." in text or "e" in text.lower()):
        repaired, problem = _repair_numeric(text, shown, words)
        if problem:
            return None, problem
        assert repaired is not None
        text = repaired
    chunks = [c for c in _SEVERAL.split(text) if sum(ch.isdigit() for ch in c) >= 7]
    if len(chunks) > 1:
        return None, _problem(words, SEVERAL, shown)
    compact = _SEPARATORS.sub("", text)
    if not _PLAIN_DIGITS.match(compact):
        return None, _problem(words, NOT_MOBILE, shown)
    try:
        number = phonenumbers.parse(compact, "CN")
    except phonenumbers.NumberParseException:
        return None, _problem(words, NOT_MOBILE, shown)
    why = _check_number(number, words)
    if why is None:
        return phonenumbers.national_significant_number(number), None
    return None, _problem(words, NOT_MOBILE, shown, why)


def _fast_verdicts(texts: np.ndarray) -> np.ndarray:
    """Per value: 1 a mobile, 0 plainly invalid, -1 not decided here.

    ``texts`` is an object array of str. Only 11 ASCII digits starting ``1`` are decided.
    Casting to ``U12`` keeps 12 characters at most, which is all it takes to tell whether a
    value has exactly 11.
    """
    undecided = np.full(len(texts), -1, dtype=np.int8)
    if len(texts) == 0:
        return undecided
    u = texts.astype("U12")
    width = u.dtype.itemsize // 4
    if width < 11:
        return undecided
    cp = u.view(np.uint32).reshape(len(u), width)
    head = cp[:, :11]
    ok = ((head >= 48) & (head <= 57)).all(axis=1)
    if width > 11:
        ok &= cp[:, 11] == 0
    digits = head[:, :5].astype(np.int64) - 48
    prefix = digits @ np.array([10_000, 1_000, 100, 10, 1], dtype=np.int64)
    return np.where(ok, _prefix_table()[np.where(ok, prefix, 0)], undecided)


_KIND = {str: 1, float: 2, int: 2, np.float64: 2, np.int64: 2}

# The damage seen most in exports, in shapes where parse_phone's answer is known in advance:
# '13512346789, 13512346789.0, +86/0086/86 and 3-4-4 groups split by one space or dash ...
_SIMPLE_DAMAGE = re.compile(
    r"^\s*(?:'(1\d{10})|(1\d{10})\.0+"
    r"|(?:(?:\+86|0086|86)[ -]?)?(1\d\d)[ -]?(\d{4})[ -]?(\d{4}))\s*$"
)
# ... and scientific notation with at most 10 significant digits for an 11-digit value.
_LOST_DIGITS = re.compile(r"^\s*[1-9]\.\d{0,9}[eE]\+?10\s*$")


def _common_damage(
    texts: np.ndarray,
    undecided: np.ndarray,
    phone: np.ndarray,
    problem: np.ndarray,
    words: _Words,
) -> np.ndarray:
    """Settle the common damaged shapes without a per-row library call.

    Only outcomes that :func:`parse_phone` is certain to give are settled here: a repaired
    number the prefix table calls a mobile, or lost digits. Everything else is left to it.
    Returns the mask of settled rows.
    """
    settled = np.zeros(len(texts), dtype=bool)
    index = np.flatnonzero(undecided)
    repaired = np.full(len(index), "", dtype=object)
    for k, i in enumerate(index):
        text = texts[i]
        match = _SIMPLE_DAMAGE.match(text)
        if match:
            repaired[k] = "".join(g for g in match.groups() if g)
        elif _LOST_DIGITS.match(text):
            problem[i] = _problem(words, DIGITS_LOST, text.strip())
            settled[i] = True
    good = _fast_verdicts(repaired) == 1
    phone[index[good]] = repaired[good]
    settled[index[good]] = True
    return settled


def integer_texts(numbers: np.ndarray) -> np.ndarray:
    """Exact 11-digit integers (as numeric cells hold them) → their digits; others → ``""``."""
    good = np.isfinite(numbers) & (numbers >= 1e10) & (numbers < 2e10)
    good &= numbers == np.floor(numbers)
    texts = np.full(len(numbers), "", dtype=object)
    texts[good] = numbers[good].astype(np.int64).astype(str).astype(object)
    return texts


def normalise_phones(values: Iterable[object] | pd.Series) -> pd.DataFrame:
    """Vectorised :func:`parse_phone` over many cells.

    Returns a frame with the same index (a RangeIndex for a plain iterable) and two columns
    of the default ``str`` dtype: ``phone`` (11 digits, or missing) and ``phone_problem``
    (missing when the number is fine).

    >>> checked = normalise_phones(["13512346789", 13612345678.0, "1.35123E+10"])
    >>> checked["phone"].tolist()
    ['13512346789', '13612345678', nan]
    >>> checked["phone_problem"].tolist()
    [nan, nan, 'digits lost in the spreadsheet: 1.35123E+10']
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    n = len(series)
    phone = np.full(n, None, dtype=object)
    problem = np.full(n, None, dtype=object)

    if pd.api.types.is_float_dtype(series.dtype) or pd.api.types.is_integer_dtype(series.dtype):
        texts = integer_texts(series.to_numpy(dtype="float64", na_value=np.nan))
    elif pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
        series.dtype
    ):
        texts = series.to_numpy(dtype=object, na_value="")
    else:
        raw = series.to_numpy(dtype=object)
        kinds = np.fromiter((_KIND.get(type(v), 0) for v in raw), dtype=np.int8, count=n)
        texts = np.where(kinds == 1, raw, "")
        numeric = kinds == 2
        if numeric.any():
            texts[numeric] = integer_texts(raw[numeric].astype("float64"))
    words = _Words()  # each problem text looked up once for all the cells
    verdict = _fast_verdicts(texts)
    clean = verdict == 1
    phone[clean] = texts[clean]
    bad = verdict == 0
    if bad.any():
        head, tail = problem_parts(NOT_MOBILE)
        problem[bad] = head + texts[bad] + tail
    rest = verdict == -1
    if rest.any():
        rest &= ~_common_damage(texts, rest, phone, problem, words)
    if rest.any():
        raw = series.to_numpy(dtype=object)
        seen: dict[object, tuple[str | None, str | None]] = {}
        for i in np.flatnonzero(rest):
            value = raw[i]
            key: object = ("m",) if is_missing(value) else (type(value), value)
            try:
                result = seen[key]
            except TypeError:  # unhashable cell content
                result = _parse(value, words)
            except KeyError:
                result = seen[key] = _parse(value, words)
            phone[i], problem[i] = result
    return pd.DataFrame(
        {
            "phone": pd.Series(phone, index=series.index, dtype="str"),
            "phone_problem": pd.Series(problem, index=series.index, dtype="str"),
        }
    )
