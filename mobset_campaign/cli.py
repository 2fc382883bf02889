"""The ``mobset-campaign`` command line: thin commands over the library.

Each command parses its arguments, calls the library and turns a library error into one
readable line and an exit status (:data:`EXIT_CODES`). Reports go to stdout; errors,
warnings and ``Stopped: …`` lines go to stderr, and advice names this command line's flags
(``--wait``, ``--quiet-hours off``) where the library would name its parameters. ``send`` is
a dry run that prints the estimate unless ``--send`` is given; the commands that only read a
ledger (``status``, ``export``) open it read-only and never create one. Credentials come from
``MOBSET_CORP_ID``, ``MOBSET_LOGIN_NAME``, ``MOBSET_PASSWORD`` (and optionally
``MOBSET_BASE_URL``,
``MOBSET_CA_BUNDLE``); ``mobset-campaign simulator`` prints rehearsal credentials.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ._advice import NOTHING, spoken_as
from .errors import InputError, MobsetError
from .ledger_cli import add_ledger_command

if TYPE_CHECKING:
    import pandas as pd

    from .client import MobsetClient

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3

#: What each exit status means (also in ``--help`` and the README).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_ERROR: "an error (one line on stderr says what and what to do)",
    EXIT_USAGE: "usage: a missing or malformed argument",
    EXIT_STOPPED: "stopped with work left (window closed, balance, Ctrl-C, timeout): run the "
    "same command again to go on",
}


def _flag(text: str) -> Callable[[object], str]:
    return lambda value: text


def _quiet_hours_flag(value: object) -> str:
    if isinstance(value, tuple | list) and len(value) == 2:
        return f"--quiet-hours {value[0]}-{value[1]}"
    return "--quiet-hours off"


def _phone_column_flag(value: object) -> str:
    return "--phone-column NAME" if value is NOTHING else f"--phone-column {value}"


#: Each library parameter (or call) a message may advise, as this command line spells it.
FLAGS: dict[str, Callable[[object], str]] = {
    "send()": _flag("the same command"),
    "wait_for_window": _flag("--wait"),
    "quiet_hours": _quiet_hours_flag,
    "wait_for_lock": _flag("--wait-for-lock SECONDS"),
    "ledger": _flag("--ledger (or MOBSET_LEDGER)"),
    "phone_column": _phone_column_flag,
    "sheet_name": _flag("--sheet"),
    "pace": lambda value: f"--pace {value}",
    "one_per_number": lambda value: (
        "--several-texts-per-number"
        if value is False
        else "one message per number (no --several-texts-per-number)"
    ),
    "allow_empty_ledger": _flag("--ledger with the file the campaign was sent with"),
    "timeout": lambda value: f"--timeout {value}",
    "min_interval": lambda value: f"--interval {value}",
    "price_per_part": lambda value: f"--price {value}",
    "rate": lambda value: f"--rate {value}",
    "concurrency": lambda value: f"--concurrency {value}",
    "header": lambda value: (
        "--no-header" if value is None else f"--header-row {int(cast(int, value)) + 1}"
    ),
}


# ------------------------------------------------------------------ shared pieces


def _client(args: argparse.Namespace) -> MobsetClient:
    from .client import MobsetClient

    kwargs: dict[str, Any] = {}
    if getattr(args, "base_url", None):
        kwargs["base_url"] = args.base_url
    return MobsetClient.from_env(**kwargs)


def _show(report: Any) -> None:
    """A report's lines on stdout, its alert lines (stops, errors, warnings) on stderr."""
    text, alerts = report.text_and_alerts()
    print(text)
    for line in alerts:
        print(line, file=sys.stderr)


def _stopped(summary: Any) -> int:
    """The exit status of a run that returned a summary: stopped early with work left (3),
    or done (0)."""
    return EXIT_STOPPED if getattr(summary, "stopped_reason", None) else EXIT_OK


def _has_credentials() -> bool:
    import os

    return all(
        os.environ.get(n) for n in ("MOBSET_CORP_ID", "MOBSET_LOGIN_NAME", "MOBSET_PASSWORD")
    )


def _opt_out(value: str | None) -> bool | str | None:
    if value is None:
        return None
    return True if value == "" else value


def _contacts(args: argparse.Namespace, *, suppress: Any = None) -> pd.DataFrame:
    """The contact file as read_contacts reads it; how it was read, when that differs from
    how it was written (a first row of numbers read as a contact), goes to stderr."""
    import warnings

    from .contacts import read_contacts
    from .errors import InputWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)  # said once below, without a traceback
        contacts = read_contacts(
            args.contacts,
            phone_column=args.phone_column,
            sheet_name=args.sheet if args.sheet is not None else 0,
            header=None if args.no_header else (args.header_row - 1 if args.header_row else "auto"),
            suppress=suppress,
        )
    for note in contacts.attrs.get("notes", []):
        print(f"Note: {note}", file=sys.stderr)
    return contacts


def _rendered(
    args: argparse.Namespace, *, signature: str | None, suppress: Any = None
) -> pd.DataFrame:
    from .render import render

    contacts = _contacts(args, suppress=suppress)
    return render(
        contacts,
        args.template,
        signature=signature,
        opt_out=_opt_out(args.opt_out),
        long_sms=not args.short_sms,
    )


def _row_number(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a row number (1, 2, …)")
    return int(value)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be above 0")
    return number


def _ledger_path(args: argparse.Namespace) -> str:
    """--ledger, else MOBSET_LEDGER, else the user's data folder."""
    from .ledger import default_ledger_path

    return str(args.ledger) if args.ledger else default_ledger_path()


def _existing_ledger(args: argparse.Namespace) -> str:
    """Commands that only read a campaign must not create an empty ledger by a typo."""
    from .ledger import ledger_exists

    path = _ledger_path(args)
    if not ledger_exists(path):
        raise InputError(
            f"No ledger at {_shown_ledger(path)}: `mobset-campaign send ... --send` creates "
            "it. Pass --ledger (or set MOBSET_LEDGER) with the ledger your campaign was sent "
            "with."
        )
    return path


def _shown_ledger(path: str) -> str:
    """A ledger's path or URL as it may be printed (a URL's password hidden)."""
    from .ledger import shown_location

    return shown_location(path)


def _reading_ledger(args: argparse.Namespace) -> Any:
    """The ledger for a command that only reads it: opened read-only, so nothing is created
    or written, and a ledger on read-only media can be read."""
    from .ledger import Ledger

    return Ledger(_existing_ledger(args), read_only=True)


def _quiet_hours(value: str) -> tuple[str, str] | None:
    if value.lower() in ("", "none", "off"):
        return None
    try:
        start, end = value.split("-")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--quiet-hours {value!r}: use START-END like 08:00-20:00, or 'off'"
        ) from None
    return start.strip(), end.strip()


def _add_contacts_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    if required:
        p.add_argument("contacts", help="contact spreadsheet (.xlsx .xlsm .xls .ods .csv .txt)")
    else:
        p.add_argument("contacts", nargs="?", help="contact spreadsheet (optional)")
    p.add_argument(
        "--template", "-t", required=required, help="template text, file, or name under templates/"
    )
    p.add_argument(
        "--phone-column", help="the column holding phone numbers (found automatically otherwise)"
    )
    p.add_argument("--sheet", help="sheet name (default: the first sheet)")
    rows = p.add_mutually_exclusive_group()
    rows.add_argument(
        "--no-header",
        action="store_true",
        help="the file has no header row: every row is a contact, columns are numbered 0, 1, … "
        "(a first row of numbers is recognised as data without this)",
    )
    rows.add_argument(
        "--header-row",
        type=_row_number,
        metavar="N",
        help="the column names are on the N-th non-blank row (default: found automatically)",
    )
    p.add_argument(
        "--opt-out",
        nargs="?",
        const="",
        default=None,
        metavar="TEXT",
        help="append an opt-out phrase (default 拒收请回复R when given without TEXT)",
    )
    p.add_argument(
        "--short-sms", action="store_true", help="send LongSms=0 (separate 70-character messages)"
    )


def _add_ledger_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ledger",
        help="ledger file or postgresql://user@host/db URL (default: $MOBSET_LEDGER, else "
        "ledger.sqlite in your data folder)",
    )


def _add_wait_for_lock_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait-for-lock",
        type=float,
        metavar="SECONDS",
        help="when another run holds the campaign, wait this long instead of stopping",
    )


def _add_window_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quiet-hours",
        type=_quiet_hours,
        default=("08:00", "20:00"),
        help="allowed sending window, Beijing time (default 08:00-20:00; 'off' to disable)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="outside the window, wait for it to open instead of stopping",
    )


def _add_gateway_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", help="gateway endpoint override (e.g. the simulator's URL)")


# ------------------------------------------------------------------ commands


def cmd_preview(args: argparse.Namespace) -> int:
    """Show what each contact would receive and what it costs; sends nothing."""
    from .estimate import estimate, preview

    client = _client(args) if _has_credentials() else None
    signature = args.signature or (client.get_sign() if client else None)
    frame = _rendered(args, signature=signature)
    print(preview(frame, n=args.n, signature=signature))
    print()
    print(estimate(frame, signature=signature, client=client, price_per_part=args.price))
    if client is None and not args.signature:
        print(
            "\n(no credentials set: the signature is not counted; pass --signature or set MOBSET_*)"
        )
    return EXIT_OK


def cmd_send(args: argparse.Namespace) -> int:
    """Dry run by default (estimate only); --send sends for real, recording every step."""
    from .estimate import estimate
    from .ledger import Ledger, ledger_exists
    from .sender import check_options, send

    check_options(  # a dry run refuses what --send would refuse
        campaign=args.campaign,
        rate=args.rate,
        concurrency=args.concurrency,
        add_num=args.add_num,
        timer_send=args.timer_send,
        quiet_hours=args.quiet_hours,
        clock=args.clock,
    )
    client = _client(args)
    signature = client.get_sign()
    path = _ledger_path(args)
    if not args.send and not ledger_exists(path):
        print(
            f"Ledger: {_shown_ledger(path)} (none yet: nothing was sent from it; a dry run "
            "creates none)"
        )
        path = ":memory:"
    with Ledger(path) as ledger:
        if ledger.created:
            print(
                f"Ledger: {ledger.path} — a NEW ledger file. If this campaign was sent before, "
                "it was with another ledger: stop (Ctrl-C) and pass that one with --ledger.",
                file=sys.stderr,
            )
        elif path != ":memory:":
            print(f"Ledger: {ledger.path}")
        frame = _rendered(args, signature=signature, suppress=ledger)
        one_per_number = False if args.several_texts_per_number else None
        print(
            estimate(
                frame,
                signature=signature,
                client=client,
                price_per_part=args.price,
                one_per_number=one_per_number is not False,
            )
        )
        if not args.send:
            print("\nDry run: nothing was sent. Add --send to send these messages.")
            return EXIT_OK
        summary = send(
            frame,
            client,
            campaign=args.campaign,
            ledger=ledger,
            rate=args.rate,
            concurrency=args.concurrency,
            timer_send=args.timer_send,
            add_num=args.add_num,
            quiet_hours=args.quiet_hours,
            wait_for_window=args.wait,
            long_sms=not args.short_sms,
            one_per_number=one_per_number,
            wait_for_lock=_wait_for_lock(args),
            clock=args.clock,
        )
        _show(summary)
        return _stopped(summary)


def _wait_for_lock(args: argparse.Namespace) -> bool | float:
    seconds = getattr(args, "wait_for_lock", None)
    return False if seconds is None else float(seconds)


def cmd_collect(args: argparse.Namespace) -> int:
    """Fetch delivery reports and replies into the ledger."""
    from .collector import collect
    from .ledger import Ledger

    client = _client(args)
    with Ledger(_existing_ledger(args)) as ledger:
        summary = collect(
            client,
            ledger,
            campaign=args.campaign,
            until=None if args.once else "final",
            timeout=args.timeout,
            min_interval=args.interval,
            pace=args.pace,
        )
        _show(summary)
    if summary.errors:
        return EXIT_ERROR
    return _stopped(summary)


def cmd_status(args: argparse.Namespace) -> int:
    """Counts by state and delivery status for one campaign, or a list of campaigns."""
    from .status import campaign_status

    with _reading_ledger(args) as ledger:
        if not args.campaign:
            table = ledger.campaigns()
            print(
                table.to_string(index=False) if len(table) else "The ledger holds no campaign yet."
            )
            return EXIT_OK
        status = campaign_status(ledger, args.campaign)
        if not status.messages:
            raise InputError(f"The ledger {ledger.path} has no campaign named {args.campaign!r}.")
        print(status)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write the campaign's Excel workbook from the ledger, which keeps every text it sent.
    With CONTACTS, the workbook has your own columns too, one row per contact (skipped rows
    with their reason); --template is needed only for a campaign that sent several texts to
    one number."""
    from .export import export_excel
    from .merge import merge_status

    with _reading_ledger(args) as ledger:
        if ledger.campaign_options(args.campaign) is None:
            raise InputError(f"The ledger {ledger.path} has no campaign named {args.campaign!r}.")
        if args.contacts and args.template:
            merged = merge_status(_rendered(args, signature=args.signature), ledger, args.campaign)
        elif args.contacts:
            merged = merge_status(_contacts(args), ledger, args.campaign)
        else:
            merged = ledger.status_frame(args.campaign)
        replies = ledger.replies_frame(args.campaign)
        path = export_excel(
            merged,
            args.out,
            replies=replies,
            charts=args.charts,
            price_per_part=args.price,
            campaign=args.campaign,
        )
    print(f"Wrote {path}")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel every still-scheduled message of a campaign."""
    from .ledger import Ledger
    from .sender import cancel

    client = _client(args)
    with Ledger(_existing_ledger(args)) as ledger:
        summary = cancel(args.campaign, ledger, client, wait_for_lock=_wait_for_lock(args))
        _show(summary)
    return EXIT_ERROR if summary.failed else EXIT_OK


def cmd_resend_unknown(args: argparse.Namespace) -> int:
    """Messages whose outcome is unknown (a request that went out and lost its answer, a run
    killed mid-request) may have been accepted: resending risks texting those people twice.
    Without --send this lists them; wait for delivery reports first (collect), check the
    gateway's console, then resend with --send (optionally only --phone NUMBER ...)."""
    from .ledger import Ledger
    from .sender import resend_unknown

    with Ledger(_existing_ledger(args)) as ledger:
        if ledger.campaign_options(args.campaign) is None:
            raise InputError(f"The ledger {ledger.path} has no campaign named {args.campaign!r}.")
        frame = ledger.status_frame(args.campaign)
        unknown = frame[frame["send_state"].eq("unknown")]
        if args.phone:
            unknown = unknown[unknown["phone"].isin(args.phone)]
        if not args.send:
            print(f"{len(unknown):,} messages of {args.campaign!r} have an unknown outcome.")
            if len(unknown):
                print(unknown[["phone", "send_error"]].to_string(index=False))
                print("\nDry run: nothing was sent. Add --send to send these again.")
            return EXIT_OK
        summary = resend_unknown(
            args.campaign,
            ledger,
            _client(args),
            phones=args.phone or None,
            quiet_hours=args.quiet_hours,
            wait_for_window=args.wait,
            wait_for_lock=_wait_for_lock(args),
            clock=args.clock,
        )
        _show(summary)
    return _stopped(summary)


def cmd_balance(args: argparse.Namespace) -> int:
    """Print the account's remaining balance (messages)."""
    print(f"{_client(args).get_balance():,}")
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    """Print the account's signature."""
    print(_client(args).get_sign())
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Run a whole campaign against the embedded simulator and write the workbook."""
    from .demo import run_demo

    run_demo(out_dir=Path(args.out), rows=args.rows, charts=not args.no_charts)
    return EXIT_OK


# ------------------------------------------------------------------ parser


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, max_help_position=28)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mobset-campaign",
        formatter_class=_formatter,
        description=(
            "Bulk SMS campaigns through the Mobset (广州首易 短信易) SDK3 API: read contacts, "
            "render, estimate, send at most once, collect reports and replies, export Excel."
        ),
        epilog=(
            "Credentials: MOBSET_CORP_ID, MOBSET_LOGIN_NAME, MOBSET_PASSWORD (optional "
            "MOBSET_BASE_URL, MOBSET_CA_BUNDLE). Rehearse with `mobset-campaign simulator`. Exit status: "
            + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
            + "."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help, description=(func.__doc__ or help).strip(), formatter_class=_formatter
        )
        p.set_defaults(func=func)
        return p

    sub.add_parser(
        "simulator",
        help="run the gateway simulator for rehearsals (see `mobset-campaign simulator --help`)",
        add_help=False,
    )

    p = add("preview", cmd_preview, "show rendered messages, parts and cost; sends nothing")
    _add_contacts_args(p)
    p.add_argument("-n", type=int, default=5, help="how many messages to show (default 5)")
    p.add_argument("--signature", help="account signature without brackets (else from the gateway)")
    p.add_argument("--price", type=_positive, help="price per part, for the cost estimate")
    _add_gateway_arg(p)

    p = add("send", cmd_send, "estimate (dry run) or, with --send, send a campaign")
    _add_contacts_args(p)
    p.add_argument(
        "--campaign", "-c", required=True, help="campaign name (resuming uses the same name)"
    )
    _add_ledger_arg(p)
    p.add_argument("--rate", type=_positive, help="messages per second (default: unlimited)")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    p.add_argument("--timer-send", help="schedule for 'YYYY-MM-DD HH:MM:SS' Beijing time")
    p.add_argument("--add-num", help="extension digits for the sender number")
    _add_window_args(p)
    p.add_argument("--price", type=_positive, help="price per part, for the cost estimate")
    p.add_argument(
        "--several-texts-per-number",
        action="store_true",
        help="a new campaign may send several different texts to one number (default: one "
        "message per number)",
    )
    _add_wait_for_lock_arg(p)
    p.add_argument("--send", action="store_true", help="really send (without it: dry run)")
    _add_gateway_arg(p)

    p = add("collect", cmd_collect, "fetch delivery reports and replies into the ledger")
    p.add_argument("--campaign", "-c", help="stop when this campaign's messages are all final")
    _add_ledger_arg(p)
    p.add_argument(
        "--timeout", type=float, default=600, help="give up after this many seconds (default 600)"
    )
    p.add_argument(
        "--interval", type=float, default=30, help="seconds between polls (vendor asks 30-300)"
    )
    p.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="seconds between calls while pages are full (default 1; see README: retention)",
    )
    p.add_argument("--once", action="store_true", help="drain what is waiting now and stop")
    _add_gateway_arg(p)

    p = add("status", cmd_status, "counts by state (one campaign, or all campaigns)")
    p.add_argument("--campaign", "-c", help="campaign name (omit to list campaigns)")
    _add_ledger_arg(p)

    p = add("export", cmd_export, "write the Excel workbook of a campaign")
    _add_contacts_args(p, required=False)
    p.add_argument("--campaign", "-c", required=True, help="campaign name")
    p.add_argument("--out", "-o", required=True, help="the .xlsx file to write")
    p.add_argument("--signature", help="signature used when the messages were rendered")
    p.add_argument("--price", type=_positive, help="price per part, for the cost in the summary")
    p.add_argument("--charts", action="store_true", help="embed the charts in the summary sheet")
    _add_ledger_arg(p)

    p = add("cancel", cmd_cancel, "cancel a campaign's still-scheduled messages")
    p.add_argument("--campaign", "-c", required=True, help="campaign name")
    _add_ledger_arg(p)
    _add_wait_for_lock_arg(p)
    _add_gateway_arg(p)

    p = add(
        "resend-unknown",
        cmd_resend_unknown,
        "list, or with --send resend, messages whose outcome is unknown",
    )
    p.add_argument("--campaign", "-c", required=True, help="campaign name")
    p.add_argument(
        "--phone",
        action="append",
        metavar="NUMBER",
        help="only this number (repeat for several; default: every unknown message)",
    )
    _add_ledger_arg(p)
    _add_window_args(p)
    _add_wait_for_lock_arg(p)
    p.add_argument("--send", action="store_true", help="really resend (without it: list them)")
    _add_gateway_arg(p)

    p = add("balance", cmd_balance, "print the account's balance")
    _add_gateway_arg(p)
    p = add("sign", cmd_sign, "print the account's signature")
    _add_gateway_arg(p)
    add_ledger_command(add)

    p = add("demo", cmd_demo, "a whole campaign against the embedded simulator")
    p.add_argument("--out", default="out", help="folder for the workbook and charts (default out/)")
    p.add_argument(
        "--rows", type=int, default=None, help="contacts to generate (default: the sample file)"
    )
    p.add_argument("--no-charts", action="store_true", help="skip the charts")
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Callable[[], datetime] | None = None) -> int:
    """Run one command; returns its exit status (see :data:`EXIT_CODES`). ``clock`` is the
    time now for ``send`` (tests rehearse the sending window with it)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "simulator":
        from .simulator import main as simulator_main

        return simulator_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)  # a usage error exits 2 here, as argparse does
    args.clock = clock
    try:
        with spoken_as(FLAGS):
            return int(args.func(args))
    except KeyboardInterrupt:
        print(
            "Stopped: interrupted; the ledger is consistent: run the same command again to go on.",
            file=sys.stderr,
        )
        return EXIT_STOPPED
    except MobsetError as exc:
        print(f"mobset-campaign {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"mobset-campaign {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
