"""``mobset-campaign simulator`` / ``python -m mobset_campaign.simulator``: serve until stopped."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from types import FrameType

from .._i18n import gettext as _
from .._protocol import MAX_CONTENT_CHARS, METHODS
from ..errors import ConfigError, InputError
from .faults import FAULTS
from .model import Account
from .server import Simulator, check_loopback

__all__ = ["build_parser", "main"]


def build_parser(
    parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """The simulator's options, their help in the current language (``parser_class``: the
    command line passes its own, whose argparse words are translated too)."""
    d = Account()
    p = parser_class(
        prog="mobset-campaign simulator",
        description=_(
            "Run the Mobset SDK3 gateway simulator on a loopback address for rehearsals. It "
            "prints the URL and the rehearsal credentials as shell exports, then serves until "
            "Ctrl-C or SIGTERM."
        ),
    )
    p.add_argument(
        "--host", default="127.0.0.1", help=_("loopback address to bind (default %(default)s)")
    )
    p.add_argument(
        "--port", type=int, default=8095, help=_("port (default %(default)s; 0 = a free port)")
    )
    p.add_argument("--corp-id", type=int, default=d.corp_id, help=_("CorpID (default %(default)s)"))
    p.add_argument("--login-name", default=d.login_name, help=_("LoginName (default %(default)s)"))
    p.add_argument(
        "--password", default=d.password, help=_("rehearsal password (default %(default)s)")
    )
    p.add_argument("--balance", type=int, default=d.balance, help=_("opening balance in parts"))
    p.add_argument(
        "--sign", default=d.sign, help=_("signature without brackets (default %(default)s)")
    )
    p.add_argument(
        "--daily-limit", type=int, default=None, help=_("parts per Beijing day (default none)")
    )
    p.add_argument("--sender-number", default=d.sender_number, help=_("RecvNumber of replies"))
    p.add_argument(
        "--report-delay",
        nargs=2,
        type=float,
        metavar=("MIN", "MAX"),
        default=(1.0, 3.0),
        help=_("seconds from send to report (default 1 3)"),
    )
    p.add_argument("--reply-rate", type=float, default=0.05, help=_("share of recipients who reply"))
    p.add_argument("--opt-out-share", type=float, default=0.3, help=_("share of replies that opt out"))
    p.add_argument(
        "--interim-share",
        type=float,
        default=0.0,
        help=_("share of messages with a Status 10 report before the final one"),
    )
    p.add_argument(
        "--max-content",
        type=int,
        default=MAX_CONTENT_CHARS,
        help=_("longest content with signature, in characters (default %(default)s)"),
    )
    p.add_argument(
        "--min-poll-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help=_(
            "answer -189 (系统繁忙2) to an SmsGetReport or SmsGetRecv that comes sooner than "
            "this after the account's last one served (the vendor suggests 30-300 s; default: "
            "no pace)"
        ),
    )
    p.add_argument("--seed", type=int, default=None, help=_("make every random choice reproducible"))
    p.add_argument(
        "--style",
        choices=("vendor", "strict"),
        default="vendor",
        help=_("vendor-shaped bodies (default) or strict JSON"),
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help=_("run the sim clock this many times as fast (report delays pass sooner)"),
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="METHOD:FAULT[:TIMES[:DELAY]]",
        help=_(
            "inject a fault (repeatable); METHOD is a Methods name or '*', FAULT one of "
            "{faults}; TIMES empty = every call; DELAY seconds for latency/slow"
        ).format(faults=", ".join(FAULTS)),
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help=_(
            "speak HTTPS, as the real gateway's port 843 does, with a certificate made at "
            "start; prints the MOBSET_CA_BUNDLE file clients must trust"
        ),
    )
    p.add_argument("--verbose", action="store_true", help=_("print request lines on stderr"))
    return p


def _parse_fault(spec: str) -> tuple[str, str, int | None, float | None]:
    bits = spec.split(":")
    ok = 2 <= len(bits) <= 4
    times: int | None = None
    delay: float | None = None
    try:
        if ok and len(bits) >= 3 and bits[2] != "":
            times = int(bits[2])
        if ok and len(bits) == 4:
            delay = float(bits[3])
    except ValueError:
        ok = False
    if not ok:
        raise InputError(
            _(
                "--fault {spec!r}: write METHOD:FAULT[:TIMES[:DELAY]], e.g. SmsSend:busy:2, "
                "'*:latency::0.05' or SmsSend:slow:1:30; METHOD is one of {methods} or '*'."
            ).format(spec=spec, methods=", ".join(METHODS))
        )
    return bits[0], bits[1], times, delay


def main(
    argv: list[str] | None = None,
    *,
    parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
) -> int:
    """Run the simulator in the foreground; returns the exit code (0 after SIGINT/SIGTERM)."""
    args = build_parser(parser_class).parse_args(argv)
    try:
        host = check_loopback(args.host)
        account = Account(
            corp_id=args.corp_id,
            login_name=args.login_name,
            password=args.password,
            balance=args.balance,
            sign=args.sign,
            daily_limit=args.daily_limit,
            sender_number=args.sender_number,
        )
        sim = Simulator(
            accounts=[account],
            seed=args.seed,
            time_scale=args.time_scale,
            report_delay=tuple(args.report_delay),
            reply_rate=args.reply_rate,
            opt_out_share=args.opt_out_share,
            interim_share=args.interim_share,
            style=args.style,
            max_content=args.max_content,
            min_poll_interval=args.min_poll_interval,
            host=host,
            port=args.port,
            tls=args.tls,
            verbose=args.verbose,
        )
        for spec in args.fault:
            method, fault, times, delay = _parse_fault(spec)
            sim.inject(method, fault, times=times, delay=delay)
        sim.start()
    except (ConfigError, InputError) as exc:
        print(f"mobset simulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        print(_("mobset simulator listening on {url}").format(url=sim.url))
        for name, value in sim.env().items():
            print(f"export {name}={shlex.quote(value)}")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass  # Ctrl-C without our handler (not the main thread): the same clean stop
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
