"""The ``mobset-campaign`` argument parser, in the reader's language.

:func:`make_parser` builds the parser of :mod:`mobset_campaign.cli` (which passes it its
command functions) when a command runs, after the language is known, so the help, the usage
line and argparse's own error sentences come out in Chinese or English
(:func:`mobset_campaign.set_language`, ``--lang``, ``MOBSET_LANG``, the locale). Python's
``argparse`` has no Chinese catalog of its own: :class:`Parser` and :class:`Formatter` route
its fixed texts ("usage:", the section titles, ``-h``'s help and its error sentences) through
this package's catalog. The English output is argparse's own, word for word.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from ._i18n import N_, current_language
from ._i18n import gettext as _
from .ledger_cli import add_ledger_command

__all__ = [
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "Formatter",
    "Parser",
    "make_parser",
    "parser_error",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3

#: What each exit status means (also in ``--help`` and the README); translated where shown.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: N_("done"),
    EXIT_ERROR: N_("an error (one line on stderr says what and what to do)"),
    EXIT_USAGE: N_("usage: a missing or malformed argument"),
    EXIT_STOPPED: N_(
        "stopped with work left (window closed, balance, Ctrl-C, timeout): run the "
        "same command again to go on"
    ),
}

Command = Callable[[argparse.Namespace], int]

# ------------------------------------------------------------------ argparse in our language

#: argparse's fixed error sentences (Python's own English, as a pattern) and this package's
#: message for each, the same words in English.
_ARGPARSE_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"the following arguments are required: (?P<names>.*)", re.S),
        N_("the following arguments are required: {names}"),
    ),
    (
        re.compile(r"one of the arguments (?P<names>.*) is required", re.S),
        N_("one of the arguments {names} is required"),
    ),
    (
        re.compile(r"unrecognized arguments: (?P<args>.*)", re.S),
        N_("unrecognized arguments: {args}"),
    ),
    (
        re.compile(r"invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)", re.S),
        N_("invalid choice: {value} (choose from {choices})"),
    ),
    (re.compile(r"expected one argument"), N_("expected one argument")),
    (re.compile(r"expected at most one argument"), N_("expected at most one argument")),
    (re.compile(r"expected at least one argument"), N_("expected at least one argument")),
    (
        re.compile(r"not allowed with argument (?P<other>.*)", re.S),
        N_("not allowed with argument {other}"),
    ),
    (
        re.compile(r"ambiguous option: (?P<option>\S+) could match (?P<matches>.*)", re.S),
        N_("ambiguous option: {option} could match {matches}"),
    ),
    (re.compile(r"invalid int value: (?P<value>.*)", re.S), N_("invalid int value: {value}")),
    (re.compile(r"invalid float value: (?P<value>.*)", re.S), N_("invalid float value: {value}")),
    (
        re.compile(r"invalid (?P<type>\S+) value: (?P<value>.*)", re.S),
        N_("invalid {type} value: {value}"),
    ),
    (
        re.compile(r"ignored explicit argument (?P<value>.*)", re.S),
        N_("ignored explicit argument {value}"),
    ),
]
_ARGUMENT = re.compile(r"argument (?P<argument>.+?): (?P<message>.*)", re.S)


def parser_error(message: str) -> str:
    """One of argparse's error sentences in the current language (any other text as it is).

    >>> parser_error("argument --price: invalid float value: 'x'")
    "argument --price: invalid float value: 'x'"
    """
    found = _ARGUMENT.fullmatch(message)
    if found:
        return _("argument {argument}: {message}").format(
            argument=found["argument"], message=parser_error(found["message"])
        )
    for pattern, text in _ARGPARSE_ERRORS:
        found = pattern.fullmatch(message)
        if found:
            return _(text).format(**found.groupdict())
    return message


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


_NO_LINE_START = "，。：；、？！）》」』”’"
_NO_LINE_END = "（《「『“‘"


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns: breaks between words and between
    Chinese characters, never before closing punctuation."""
    tokens = re.findall(r"\s+|[\x21-\x7e]+|.", " ".join(text.split()))
    lines: list[str] = []
    line = ""
    for token in tokens:
        if token.isspace():
            if line:
                line += " "
            continue
        if line and _width(line.rstrip() + token) > width and token not in _NO_LINE_START:
            carried = ""
            while line and line[-1] in _NO_LINE_END:  # "（" goes with what it opens
                line, carried = line[:-1], line[-1] + carried
            if line.strip():
                lines.append(line.rstrip())
            line = carried
        line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


class Formatter(argparse.HelpFormatter):
    """argparse's help layout with its "usage:" translated, and Chinese text wrapped by the
    columns it takes (two per character) rather than its length."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 28,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width)

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)

    def _format_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None,
    ) -> str:
        if prefix is None or _width(prefix) == len(prefix):
            return super()._format_usage(usage, actions, groups, prefix)
        # argparse lays the usage out by the prefix's length: lay it out with spaces as wide
        # as "用法：" takes, then put the prefix in their place
        spaces = " " * _width(prefix)
        text = super()._format_usage(usage, actions, groups, spaces)
        return prefix + text[len(spaces) :]

    def format_help(self) -> str:
        text = super().format_help()
        if current_language() != "zh":
            return text
        # a Chinese section title ends with a Chinese colon ("选项：", not "选项:")
        return re.sub(r"(?m)^(\s*[^\n]*[\u4e00-\u9fff]):$", "\\1：", text)

    def _split_lines(self, text: str, width: int) -> list[str]:
        if current_language() != "zh":
            return super()._split_lines(text, width)
        return _wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if current_language() != "zh":
            return super()._fill_text(text, width, indent)
        return "\n".join(indent + line for line in _wrap(text, width - len(indent)))


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose section titles, ``-h`` help and error sentences come from
    this package's catalog (its subcommands' parsers are of this class too)."""

    def __init__(self, *args: Any, add_help: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        kwargs["add_help"] = False  # ours below, its help translated
        super().__init__(*args, **kwargs)
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        if add_help:
            self.add_argument(
                "-h",
                "--help",
                action="help",
                default=argparse.SUPPRESS,
                help=_("show this help message and exit"),
            )

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(
            EXIT_USAGE,
            _("{prog}: error: {message}").format(prog=self.prog, message=parser_error(message))
            + "\n",
        )


# ------------------------------------------------------------------ argument types


def _row_number(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(
            _("{value!r} is not a row number (1, 2, …)").format(value=value)
        )
    return int(value)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{value!r} is not a number").format(value=value)
        ) from None
    if not number > 0:
        raise argparse.ArgumentTypeError(_("{value!r} must be above 0").format(value=value))
    return number


def _quiet_hours(value: str) -> tuple[str, str] | None:
    if value.lower() in ("", "none", "off"):
        return None
    try:
        start, end = value.split("-")
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("--quiet-hours {value!r}: use START-END like 08:00-20:00, or 'off'").format(
                value=value
            )
        ) from None
    return start.strip(), end.strip()


# ------------------------------------------------------------------ shared arguments


def _add_contacts_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    if required:
        p.add_argument(
            "contacts",
            metavar="CONTACTS",
            help=_("contact spreadsheet (.xlsx .xlsm .xls .ods .csv .txt)"),
        )
    else:
        p.add_argument(
            "contacts", nargs="?", metavar="CONTACTS", help=_("contact spreadsheet (optional)")
        )
    p.add_argument(
        "--template",
        "-t",
        required=required,
        help=_("template text, file, or name under templates/"),
    )
    p.add_argument(
        "--phone-column", help=_("the column holding phone numbers (found automatically otherwise)")
    )
    p.add_argument("--sheet", help=_("sheet name (default: the first sheet)"))
    rows = p.add_mutually_exclusive_group()
    rows.add_argument(
        "--no-header",
        action="store_true",
        help=_(
            "the file has no header row: every row is a contact, columns are numbered 0, 1, … "
            "(a first row of numbers is recognised as data without this)"
        ),
    )
    rows.add_argument(
        "--header-row",
        type=_row_number,
        metavar="N",
        help=_("the column names are on the N-th non-blank row (default: found automatically)"),
    )
    p.add_argument(
        "--opt-out",
        nargs="?",
        const="",
        default=None,
        metavar="TEXT",
        help=_("append an opt-out phrase (default 拒收请回复R when given without TEXT)"),
    )
    p.add_argument(
        "--short-sms",
        action="store_true",
        help=_("send LongSms=0 (separate 70-character messages)"),
    )


def _add_ledger_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ledger",
        help=_(
            "ledger file or postgresql://user@host/db URL (default: $MOBSET_LEDGER, else "
            "ledger.sqlite in your data folder)"
        ),
    )


def _add_wait_for_lock_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait-for-lock",
        type=float,
        metavar="SECONDS",
        help=_("when another run holds the campaign, wait this long instead of stopping"),
    )


def _add_window_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quiet-hours",
        type=_quiet_hours,
        default=("08:00", "20:00"),
        help=_("allowed sending window, Beijing time (default 08:00-20:00; 'off' to disable)"),
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help=_("outside the window, wait for it to open instead of stopping"),
    )


def _add_gateway_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", help=_("gateway endpoint override (e.g. the simulator's URL)"))


def _add_price_arg(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--price", type=_positive, help=help)


def _add_campaign_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--campaign", "-c", required=True, help=_("campaign name"))


# ------------------------------------------------------------------ the parser


def _epilog() -> str:
    separator = "；" if current_language() == "zh" else "; "
    codes = separator.join(f"{code} {_(meaning)}" for code, meaning in EXIT_CODES.items())
    return _(
        "Credentials: MOBSET_CORP_ID, MOBSET_LOGIN_NAME, MOBSET_PASSWORD (optional "
        "MOBSET_BASE_URL, MOBSET_CA_BUNDLE). Rehearse with `mobset-campaign simulator`. "
        "Exit status: {codes}."
    ).format(codes=codes)


def make_parser(commands: Mapping[str, Command]) -> argparse.ArgumentParser:
    """The parser of ``mobset-campaign``, in the current language; ``commands`` maps each
    command's name to the function that runs it (``args.func``)."""
    parser = Parser(
        prog="mobset-campaign",
        description=_(
            "Bulk SMS campaigns through the Mobset (广州首易 短信易) SDK3 API: read contacts, "
            "render, estimate, send at most once, collect reports and replies, export Excel."
        ),
        epilog=_epilog(),
    )
    parser.add_argument(
        "--lang",
        choices=("zh", "en"),
        help=_("language of the help and messages for this run (overrides MOBSET_LANG)"),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Command, help: str, description: str = "") -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description or help)
        p.set_defaults(func=func)
        return p

    sub.add_parser(
        "simulator",
        help=_("run the gateway simulator for rehearsals (see `mobset-campaign simulator --help`)"),
        add_help=False,
    )

    p = add(
        "preview",
        commands["preview"],
        _("show rendered messages, parts and cost; sends nothing"),
        _("Show what each contact would receive and what it costs; sends nothing."),
    )
    _add_contacts_args(p)
    p.add_argument("-n", type=int, default=5, help=_("how many messages to show (default 5)"))
    p.add_argument(
        "--signature", help=_("account signature without brackets (else from the gateway)")
    )
    _add_price_arg(p, _("price per part, for the cost estimate"))
    _add_gateway_arg(p)

    p = add(
        "send",
        commands["send"],
        _("estimate (dry run) or, with --send, send a campaign"),
        _("Dry run by default (estimate only); --send sends for real, recording every step."),
    )
    _add_contacts_args(p)
    p.add_argument(
        "--campaign", "-c", required=True, help=_("campaign name (resuming uses the same name)")
    )
    _add_ledger_arg(p)
    p.add_argument("--rate", type=_positive, help=_("messages per second (default: unlimited)"))
    p.add_argument("--concurrency", type=int, default=4, help=_("requests in flight (default 4)"))
    p.add_argument("--timer-send", help=_("schedule for 'YYYY-MM-DD HH:MM:SS' Beijing time"))
    p.add_argument("--add-num", help=_("extension digits for the sender number"))
    _add_window_args(p)
    _add_price_arg(p, _("price per part, for the cost estimate"))
    p.add_argument(
        "--several-texts-per-number",
        action="store_true",
        help=_(
            "a new campaign may send several different texts to one number (default: one "
            "message per number)"
        ),
    )
    _add_wait_for_lock_arg(p)
    p.add_argument("--send", action="store_true", help=_("really send (without it: dry run)"))
    _add_gateway_arg(p)

    p = add(
        "collect",
        commands["collect"],
        _("fetch delivery reports and replies into the ledger"),
        _("Fetch delivery reports and replies into the ledger."),
    )
    p.add_argument("--campaign", "-c", help=_("stop when this campaign's messages are all final"))
    _add_ledger_arg(p)
    p.add_argument(
        "--timeout",
        type=float,
        default=600,
        help=_("give up after this many seconds (default 600)"),
    )
    p.add_argument(
        "--interval", type=float, default=30, help=_("seconds between polls (vendor asks 30-300)")
    )
    p.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help=_("seconds between calls while pages are full (default 1; see README: retention)"),
    )
    p.add_argument("--once", action="store_true", help=_("drain what is waiting now and stop"))
    _add_gateway_arg(p)

    p = add(
        "status",
        commands["status"],
        _("counts by state (one campaign, or all campaigns)"),
        _("Counts by state and delivery status for one campaign, or a list of campaigns."),
    )
    p.add_argument("--campaign", "-c", help=_("campaign name (omit to list campaigns)"))
    _add_ledger_arg(p)

    p = add(
        "export",
        commands["export"],
        _("write the Excel workbook of a campaign"),
        _(
            "Write the campaign's Excel workbook from the ledger, which keeps every text it "
            "sent. With CONTACTS, the workbook has your own columns too, one row per contact "
            "(skipped rows with their reason); --template is needed only for a campaign that "
            "sent several texts to one number."
        ),
    )
    _add_contacts_args(p, required=False)
    _add_campaign_arg(p)
    p.add_argument("--out", "-o", required=True, help=_("the .xlsx file to write"))
    p.add_argument("--signature", help=_("signature used when the messages were rendered"))
    _add_price_arg(p, _("price per part, for the cost in the summary"))
    charts = p.add_mutually_exclusive_group()
    charts.add_argument(
        "--no-charts",
        dest="charts",
        action="store_false",
        default=None,
        help=_("leave out the native Excel charts the summary sheet has by default"),
    )
    charts.add_argument("--charts", dest="charts", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--pictures",
        action="store_true",
        help=_("also embed the charts as pictures (the PNGs a notebook shows)"),
    )
    p.add_argument(
        "--labels",
        choices=("bilingual", "zh", "en"),
        default="bilingual",
        help=_(
            "language of the sheet names, headers, summary and charts (default bilingual: "
            "Chinese and English)"
        ),
    )
    _add_ledger_arg(p)

    p = add(
        "cancel",
        commands["cancel"],
        _("cancel a campaign's still-scheduled messages"),
        _("Cancel every still-scheduled message of a campaign."),
    )
    _add_campaign_arg(p)
    _add_ledger_arg(p)
    _add_wait_for_lock_arg(p)
    _add_gateway_arg(p)

    p = add(
        "resend-unknown",
        commands["resend-unknown"],
        _("list, or with --send resend, messages whose outcome is unknown"),
        _(
            "Messages whose outcome is unknown (a request that went out and lost its answer, "
            "a run killed mid-request) may have been accepted: resending risks texting those "
            "people twice. Without --send this lists them; wait for delivery reports first "
            "(collect), check the gateway's console, then resend with --send (optionally only "
            "--phone NUMBER ...)."
        ),
    )
    _add_campaign_arg(p)
    p.add_argument(
        "--phone",
        action="append",
        metavar="NUMBER",
        help=_("only this number (repeat for several; default: every unknown message)"),
    )
    _add_ledger_arg(p)
    _add_window_args(p)
    _add_wait_for_lock_arg(p)
    p.add_argument("--send", action="store_true", help=_("really resend (without it: list them)"))
    _add_gateway_arg(p)

    p = add(
        "balance",
        commands["balance"],
        _("print the account's balance"),
        _("Print the account's remaining balance (messages)."),
    )
    _add_gateway_arg(p)
    p = add(
        "sign",
        commands["sign"],
        _("print the account's signature"),
        _("Print the account's signature."),
    )
    _add_gateway_arg(p)
    add_ledger_command(add)

    p = add(
        "demo",
        commands["demo"],
        _("a whole campaign against the embedded simulator"),
        _("Run a whole campaign against the embedded simulator and write the workbook."),
    )
    p.add_argument(
        "--out", default="out", help=_("folder for the workbook and charts (default out/)")
    )
    p.add_argument(
        "--rows", type=int, default=None, help=_("contacts to generate (default: the sample file)")
    )
    p.add_argument("--no-charts", action="store_true", help=_("skip the charts"))
    return parser
