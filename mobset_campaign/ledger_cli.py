"""The ``ledger`` command of the command line: work on a whole ledger (``ledger copy``).

Kept apart from :mod:`mobset_campaign.cli`, whose parser (:mod:`mobset_campaign.cli_parser`)
calls :func:`add_ledger_command`; the copy itself is :func:`mobset_campaign.ledger.copy_ledger`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ._i18n import gettext as _
from .ledger import copy_ledger

__all__ = ["add_ledger_command", "cmd_ledger", "cmd_ledger_copy"]


def cmd_ledger(args: argparse.Namespace) -> int:
    """Work on a whole ledger: `ledger copy SRC DST` copies one between SQLite and
    PostgreSQL."""
    return int(args.ledger_action(args))


def cmd_ledger_copy(args: argparse.Namespace) -> int:
    """Copy the ledger SRC (a file or a postgresql:// URL, read only) into DST: a file that
    does not exist yet, or a PostgreSQL database without a ledger or with an empty one. Every
    campaign, message, batch, gateway body, report, reply, opt-out and campaign lock is copied
    with its id, in one transaction (a failure leaves DST without any of it), and the rows of
    every table are counted in both afterwards."""
    print(copy_ledger(args.src, args.dst))
    return 0


def add_ledger_command(
    add: Callable[[str, Callable[[argparse.Namespace], int], str, str], argparse.ArgumentParser],
) -> None:
    """The ``ledger`` command of :func:`mobset_campaign.cli.build_parser` (its ``add``
    makes a command's parser from its name, function, help and description; errors are
    turned into one line by the command line's ``main``)."""
    p = add(
        "ledger",
        cmd_ledger,
        _("copy a whole ledger, e.g. SQLite into PostgreSQL (ledger copy)"),
        _(
            "Work on a whole ledger: `ledger copy SRC DST` copies one between SQLite and "
            "PostgreSQL."
        ),
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "copy",
        help=_("copy the ledger SRC into DST, a new file or an empty PostgreSQL database"),
        description=_(
            "Copy the ledger SRC (a file or a postgresql:// URL, read only) into DST: a file "
            "that does not exist yet, or a PostgreSQL database without a ledger or with an "
            "empty one. Every campaign, message, batch, gateway body, report, reply, opt-out "
            "and campaign lock is copied with its id, in one transaction (a failure leaves DST "
            "without any of it), and the rows of every table are counted in both afterwards."
        ),
        formatter_class=p.formatter_class,
    )
    p.set_defaults(ledger_action=cmd_ledger_copy)
    p.add_argument("src", metavar="SRC", help=_("the ledger to copy: a file or postgresql:// URL"))
    p.add_argument(
        "dst", metavar="DST", help=_("a new file, or a postgresql:// URL of an empty database")
    )
