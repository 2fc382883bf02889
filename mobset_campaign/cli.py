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
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ._advice import NOTHING, spoken_as
from ._i18n import N_, current_language, format_moment, ngettext, normal_language
from ._i18n import gettext as _
from .cli_parser import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
    Parser,
    make_parser,
)
from .errors import InputError, MobsetError
from .language import using_language
from .states import state_label

if TYPE_CHECKING:
    import pandas as pd

    from .client import MobsetClient

__all__ = [
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "build_parser",
    "main",
]


def _flag(text: str) -> Callable[[object], str]:
    """A flag's spelling whatever the value: ``text`` (marked with ``N_``), translated when
    a message uses it."""
    return lambda value: _(text)


def _quiet_hours_flag(value: object) -> str:
    if isinstance(value, tuple | list) and len(value) == 2:
        return f"--quiet-hours {value[0]}-{value[1]}"
    return "--quiet-hours off"


def _phone_column_flag(value: object) -> str:
    return "--phone-column NAME" if value is NOTHING else f"--phone-column {value}"


#: Each library parameter (or call) a message may advise, as this command line spells it.
FLAGS: dict[str, Callable[[object], str]] = {
    "send()": _flag(N_("the same command")),
    "wait_for_window": _flag("--wait"),
    "quiet_hours": _quiet_hours_flag,
    "wait_for_lock": _flag("--wait-for-lock SECONDS"),
    "ledger": _flag("--ledger"),
    "phone_column": _phone_column_flag,
    "sheet_name": _flag("--sheet"),
    "pace": lambda value: f"--pace {value}",
    "one_per_number": lambda value: (
        "--several-texts-per-number"
        if value is False
        else _("one message per number (no --several-texts-per-number)")
    ),
    "allow_empty_ledger": _flag(N_("--ledger with the file the campaign was sent with")),
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


#: The headers of the tables the commands print, in Chinese when messages are (the fields
#: keep their names in English; a state column is named by its state's label).
TABLE_HEADERS: dict[str, str] = {
    "name": N_("Campaign"),
    "created": N_("Created"),
    "messages": N_("Messages"),
    "parts": N_("Parts billed"),
    "phone": N_("Phone"),
    "send_error": N_("Send problem"),
}


def _table(frame: pd.DataFrame) -> str:
    """A table as printed: its headers in the reader's language, Chinese text aligned by
    the columns it takes."""
    import pandas as pd

    if current_language() == "zh":
        frame = frame.assign(
            **{
                c: frame[c].map(lambda t: "" if pd.isna(t) else format_moment(t))
                for c in frame.columns
                if pd.api.types.is_datetime64_any_dtype(frame[c])
            }
        )
        frame = frame.rename(
            columns=lambda c: _(TABLE_HEADERS[c]) if c in TABLE_HEADERS else state_label(c)
        )
    with pd.option_context("display.unicode.east_asian_width", True):
        return frame.to_string(index=False)


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
        print(_("Note: {note}").format(note=note), file=sys.stderr)
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
            _(
                "No ledger at {path}: `mobset-campaign send ... --send` creates it. Pass "
                "--ledger (or set MOBSET_LEDGER) with the ledger your campaign was sent with."
            ).format(path=_shown_ledger(path))
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
        print()
        print(
            _(
                "(no credentials set: the signature is not counted; pass --signature or set "
                "MOBSET_*)"
            )
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
            _("Ledger: {path} (none yet: nothing was sent from it; a dry run creates none)").format(
                path=_shown_ledger(path)
            )
        )
        path = ":memory:"
    with Ledger(path) as ledger:
        if ledger.created:
            print(
                _(
                    "Ledger: {path} — a NEW ledger file. If this campaign was sent before, it "
                    "was with another ledger: stop (Ctrl-C) and pass that one with --ledger."
                ).format(path=ledger.path),
                file=sys.stderr,
            )
        elif path != ":memory:":
            print(_("Ledger: {path}").format(path=ledger.path))
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
            print()
            print(_("Dry run: nothing was sent. Add --send to send these messages."))
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
            print(_table(table) if len(table) else _("The ledger holds no campaign yet."))
            return EXIT_OK
        status = campaign_status(ledger, args.campaign)
        if not status.messages:
            raise InputError(_no_campaign(ledger.path, args.campaign))
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
            raise InputError(_no_campaign(ledger.path, args.campaign))
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
            pictures=args.pictures,
            price_per_part=args.price,
            campaign=args.campaign,
            labels=args.labels,
        )
    print(_("Wrote {path}").format(path=path))
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
            raise InputError(_no_campaign(ledger.path, args.campaign))
        frame = ledger.status_frame(args.campaign)
        unknown = frame[frame["send_state"].eq("unknown")]
        if args.phone:
            unknown = unknown[unknown["phone"].isin(args.phone)]
        if not args.send:
            print(
                ngettext(
                    "{n:,} message of {campaign!r} has an unknown outcome.",
                    "{n:,} messages of {campaign!r} have an unknown outcome.",
                    len(unknown),
                ).format(n=len(unknown), campaign=args.campaign)
            )
            if len(unknown):
                print(_table(unknown[["phone", "send_error"]]))
                print()
                print(_("Dry run: nothing was sent. Add --send to send these again."))
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


# ------------------------------------------------------------------ parser and main


def _no_campaign(path: object, campaign: str) -> str:
    return _("The ledger {path} has no campaign named {campaign!r}.").format(
        path=path, campaign=campaign
    )


#: The function that runs each command (the parser is made by :mod:`.cli_parser`).
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "preview": cmd_preview,
    "send": cmd_send,
    "collect": cmd_collect,
    "status": cmd_status,
    "export": cmd_export,
    "cancel": cmd_cancel,
    "resend-unknown": cmd_resend_unknown,
    "balance": cmd_balance,
    "sign": cmd_sign,
    "demo": cmd_demo,
}


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser, in the current language (built when a command runs)."""
    return make_parser(COMMANDS)


def _lang_option(args: list[str]) -> tuple[list[str], str | None]:
    """``--lang zh|en`` (or ``--lang=…``) taken out of the arguments, with its language;
    a value that is no language is left for the parser to refuse."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            value, taken = args[i + 1], 2
        elif arg.startswith("--lang="):
            value, taken = arg.partition("=")[2], 1
        else:
            continue
        language = normal_language(value)
        if language is not None:
            return [*args[:i], *args[i + taken :]], language
    return args, None


@contextmanager
def _speaking(language: str | None) -> Iterator[None]:
    """Every message of this run in ``language`` (None: as chosen already), the worker
    threads' too (through MOBSET_LANG, put back afterwards)."""
    if language is None:
        yield
        return
    before = os.environ.get("MOBSET_LANG")
    os.environ["MOBSET_LANG"] = language
    try:
        with using_language(language):
            yield
    finally:
        if before is None:
            os.environ.pop("MOBSET_LANG", None)
        else:
            os.environ["MOBSET_LANG"] = before


def main(argv: Sequence[str] | None = None, *, clock: Callable[[], datetime] | None = None) -> int:
    """Run one command; returns its exit status (see :data:`EXIT_CODES`). ``clock`` is the
    time now for ``send`` (tests rehearse the sending window with it)."""
    _printable_anywhere()
    args_list, language = _lang_option(list(sys.argv[1:] if argv is None else argv))
    with _speaking(language):
        return _run(args_list, clock)


def _printable_anywhere() -> None:
    """A terminal that cannot show Chinese (an ASCII or Latin-1 console) gets escapes such as
    ``\\u53d1`` for the characters it lacks instead of a traceback in place of the output."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", "") == "strict":
            reconfigure(errors="backslashreplace")


def _run(args_list: list[str], clock: Callable[[], datetime] | None) -> int:
    if args_list and args_list[0] == "simulator":
        from .simulator import main as simulator_main

        return simulator_main(args_list[1:], parser_class=Parser)
    parser = build_parser()  # here, in the run's language
    args = parser.parse_args(args_list)  # a usage error exits 2 here, as argparse does
    args.clock = clock
    try:
        with spoken_as(FLAGS):
            return int(args.func(args))
    except KeyboardInterrupt:
        print(
            _(
                "Stopped: interrupted; the ledger is consistent: run the same command again "
                "to go on."
            ),
            file=sys.stderr,
        )
        return EXIT_STOPPED
    except (MobsetError, OSError) as exc:
        print(
            _("mobset-campaign {command}: {error}").format(command=args.command, error=exc),
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
