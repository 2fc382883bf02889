"""Collecting delivery reports and replies without ever losing one.

The gateway hands out each report (SmsGetReport, up to 50 per call) and each reply
(SmsGetRecv, up to 20 per call) **once only**. :func:`collect` therefore commits every
answer's raw body to the ledger's inbox (``synchronous=FULL``) *before* parsing it, and
parses and applies it in a separate transaction that also marks the body parsed. If the
process dies between the two, the next :func:`collect` (or any collect on that ledger)
first parses every body left unparsed. Parsing is idempotent: a body parsed twice changes
nothing, so no report is ever counted twice.

What happens to what arrives:

* a report moves its message from ``sent`` to ``delivered`` (Status 12) or ``failed`` (any
  other final status), keeping the Status and ExStatus; reports for SmsIds this ledger does
  not know are kept (another tool may share the account);
* a reply is attributed to the most recent message sent to that phone (preferring messages
  sent with the reply's AddNum); an opt-out reply (R, T, TD, N, 退订, 取消 in any case or width,
  with spaces or punctuation around it) puts the number on the suppression list, so later
  ``read_contacts(..., suppress=ledger)`` and :func:`~mobset_campaign.send` skip it;
* an error answer (a negative code, or a body that is not JSON) is stored, marked, counted in
  the summary and never parsed again; an authentication error stops the collection;
* a JSON body with one bad item (say a non-numeric SmsId) still applies its good items; the
  bad ones are listed in the summary's errors and the raw body stays in the inbox.

A locked ledger (another process holding its write lock past the busy timeout) must not
cost a body either. Before each fetch the collector takes and releases the ledger's write
lock, so a ledger that cannot be written stops the collection *before* the gateway hands
anything out. If the ledger still cannot store a fetched body, the collector retries for a
while with the body in memory, then writes it, fsync'ed, to a file beside the ledger
(``<ledger>.unsaved-<method>-<time>-<pid>.json``) and raises a
:class:`~mobset_campaign.errors.LedgerError` naming that file. The next :func:`collect` on
the ledger imports such files into the inbox first, and deletes each only after its body is
committed (a body already in the inbox is not imported twice).
"""

from __future__ import annotations

import html
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from tqdm.auto import tqdm  # type: ignore[import-untyped]

from ._protocol import lower_keys, parse_body
from .client import RawAnswer, parse_replies, parse_reports
from .errors import AuthError, GatewayError, InputError, LedgerError, MobsetError, ProtocolError
from .ledger import Applied, Ledger, write_json_durably

__all__ = ["CollectSummary", "collect"]

REPORT_PAGE = 50
REPLY_PAGE = 20
_MAX_FAILURES = 5
#: How long a fetched body waits in memory for a locked ledger before it goes to a file.
_STORE_RETRY_SECONDS = 60.0
_UNSAVED = ".unsaved-"


@dataclass
class CollectSummary:
    """What :func:`collect` did.

    Attributes:
        campaign: the campaign waited for (``None``: the whole ledger).
        fetches: SmsGetReport/SmsGetRecv calls made. bodies_recovered: bodies committed by an
            earlier, interrupted collect and parsed now. bodies_imported: bodies an earlier
            collect could not store in the ledger and saved to a file, imported now.
        reports: new reports stored; reports_matched: of which for messages of this ledger;
            reports_unmatched: for SmsIds this ledger did not send.
        replies: new replies stored; opt_outs: numbers newly added to the suppression list.
        errors: the error answers and skipped bad items met (one line each).
        accepted: accepted messages of the campaign; final: of which with a final status;
            ``waiting`` = accepted − final (still without a final status).
        elapsed: seconds. stopped_reason: ``None`` when it ended as asked (drained once, or
            every message final), else why (timeout, interrupted, authentication...).
    """

    campaign: str | None = None
    fetches: int = 0
    bodies_recovered: int = 0
    bodies_imported: int = 0
    reports: int = 0
    reports_matched: int = 0
    reports_unmatched: int = 0
    replies: int = 0
    replies_matched: int = 0
    opt_outs: int = 0
    errors: list[str] = field(default_factory=list)
    accepted: int = 0
    final: int = 0
    elapsed: float = 0.0
    stopped_reason: str | None = None

    @property
    def waiting(self) -> int:
        """Accepted messages still without a final status."""
        return self.accepted - self.final

    @property
    def done(self) -> bool:
        """True when every accepted message has a final status."""
        return self.waiting == 0

    def _lines(self) -> list[str]:
        what = f"campaign {self.campaign!r}" if self.campaign else "the ledger"
        lines = [
            f"Collected {self.reports:,} report{_s(self.reports)} and {self.replies:,} "
            f"repl{'y' if self.replies == 1 else 'ies'} in {self.fetches:,} call"
            f"{_s(self.fetches)} ({self.elapsed:.1f} s).",
            f"{what[0].upper() + what[1:]}: {self.final:,} of {self.accepted:,} accepted "
            f"message{_s(self.accepted)} have a final status"
            + (f"; {self.waiting:,} still without one." if self.waiting else "."),
        ]
        if self.reports_unmatched:
            lines.append(
                f"{self.reports_unmatched:,} report{_s(self.reports_unmatched)} for SmsIds this "
                "ledger did not send were kept (Ledger.reports_frame(unmatched=True))."
            )
        if self.opt_outs:
            lines.append(
                f"{self.opt_outs:,} number{_s(self.opt_outs)} opted out and will be skipped "
                "from now on."
            )
        if self.bodies_recovered:
            lines.append(
                f"Parsed {self.bodies_recovered:,} bod{'y' if self.bodies_recovered == 1 else 'ies'}"
                " left by an interrupted collect."
            )
        if self.bodies_imported:
            lines.append(
                f"Imported {self.bodies_imported:,} bod{'y' if self.bodies_imported == 1 else 'ies'}"
                " saved to a file when the ledger could not be written."
            )
        for err in self.errors[:5]:
            lines.append(f"Error: {err}")
        if len(self.errors) > 5:
            lines.append(f"... and {len(self.errors) - 5} more errors.")
        if self.stopped_reason:
            lines.append(f"Stopped: {self.stopped_reason}")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def __repr__(self) -> str:
        # the readable report, also in a terminal IPython or a text export
        return str(self)

    def _repr_html_(self) -> str:
        lines = self._lines()
        items = "".join(
            f"<li style='color:#b00020'>{html.escape(x)}</li>"
            if x.startswith(("Stopped:", "Error"))
            else f"<li>{html.escape(x)}</li>"
            for x in lines[1:]
        )
        return f"<div><p><b>{html.escape(lines[0])}</b></p><ul>{items}</ul></div>"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _account_key(client: Any) -> str:
    return f"{getattr(client, 'corp_id', '')}:{getattr(client, 'login_name', '')}"


class _Collector:
    def __init__(self, client: Any, ledger: Ledger, summary: CollectSummary) -> None:
        self.client = client
        self.ledger = ledger
        self.summary = summary
        self.account = _account_key(client)
        self.failures = 0

    def parse_stored(self, inbox_id: int, method: str, body: str, account: str) -> int | None:
        """Parse and apply one committed body; the number of items, None for an error body."""
        try:
            items, bad = _parse_items(method, body)
        except GatewayError as exc:
            self.ledger.mark_unparseable(inbox_id, exc.code or None, str(exc))
            self.summary.errors.append(f"{method}: {exc}")
            if isinstance(exc, AuthError):
                raise
            return None
        if method == "SmsGetReport":
            applied = self.ledger.apply_reports(inbox_id, items, account=account)
            self._count_reports(applied)
        else:
            applied = self.ledger.apply_replies(inbox_id, items, account=account)
            self._count_replies(applied)
        self.summary.errors.extend(bad)
        return applied.items + len(bad)

    def _count_reports(self, applied: Applied) -> None:
        self.summary.reports += applied.new
        self.summary.reports_matched += applied.matched
        self.summary.reports_unmatched += applied.new - applied.matched

    def _count_replies(self, applied: Applied) -> None:
        self.summary.replies += applied.new
        self.summary.replies_matched += applied.matched
        self.summary.opt_outs += applied.opt_outs

    def recover(self) -> None:
        """Parse every body an earlier collect committed but did not parse."""
        for inbox_id, method, body, account in self.ledger.unparsed():
            self.summary.bodies_recovered += 1
            self.parse_stored(inbox_id, method, body, account)

    def import_unsaved(self) -> None:
        """Import the bodies an earlier collect saved to files because the ledger was locked."""
        for path, saved in _unsaved_files(self.ledger, self.summary.errors):
            method, body, account = saved["method"], saved["body"], saved["account"]
            if _in_inbox(self.ledger, method, body, account):
                # committed by a collect that stopped before it could delete the file
                path.unlink()
                continue
            received = datetime.fromisoformat(saved["received_at"])
            inbox_id = self.ledger.store_raw(method, body, received, account=account)
            path.unlink()  # only now that the body is committed
            self.summary.bodies_imported += 1
            self.parse_stored(inbox_id, method, body, account)

    def drain(self, method: str, page: int) -> None:
        """Fetch while the answers are full pages."""
        fetch = self.client.fetch_reports if method == "SmsGetReport" else self.client.fetch_replies
        while True:
            # The gateway hands each body out once: make sure the ledger can take it first.
            _check_writable(self.ledger, method)
            # Ctrl-C waits until the answer is committed: a body the gateway handed out
            # and we dropped could never be fetched again.
            with _shield_ctrl_c() as held:
                try:
                    raw = fetch()
                except GatewayError as exc:  # transport: no body at all
                    raw = None
                    error = exc
                self.summary.fetches += 1
                if raw is not None:
                    inbox_id = self._store(method, raw, held)
            if raw is None:
                self.summary.errors.append(f"{method}: {error}")
                self._failed()
                return
            items = self.parse_stored(inbox_id, method, raw.text, self.account)
            if items is None:
                self._failed()
                return
            self.failures = 0
            if items < page:
                return

    def _store(self, method: str, raw: RawAnswer, held: list[int]) -> int:
        """Commit a fetched body, retrying a locked ledger; failing that, save it to a file."""
        delay = 0.05
        deadline = time.monotonic() + _STORE_RETRY_SECONDS
        while True:
            try:
                return self.ledger.store_raw(
                    method, raw.text, raw.received_at, account=self.account
                )
            except (LedgerError, sqlite3.Error) as exc:
                error: Exception = exc
            closed = bool(getattr(self.ledger, "_closed", False))
            if closed or held or time.monotonic() + delay > deadline:
                break
            _sleep(delay, held)  # Ctrl-C (held) cuts the wait short: the body goes to a file
            delay = min(delay * 2, 2.0)
        saved = _save_unsaved(self.ledger, method, raw, self.account, error)
        raise LedgerError(
            f"collect: the ledger {self.ledger.path} could not store a {method} answer fetched "
            f"from the gateway ({error}), even after retrying. The gateway hands each answer "
            f"out once only, so it was saved to {saved}: the next collect on this ledger "
            "imports it (and then deletes the file) — do not move or delete it. Collect again "
            "once the other process writing the ledger has finished."
        ) from error

    def _failed(self) -> None:
        self.failures += 1
        if self.failures >= _MAX_FAILURES:
            raise _TooManyFailures(self.summary.errors[-1] if self.summary.errors else "")


def _parse_items(method: str, body: str) -> tuple[list[Any], list[str]]:
    """The items of a body, and one error line per bad item skipped.

    A body that is not JSON, has an error code or no list of items raises the client's
    :class:`~mobset_campaign.errors.GatewayError`. A JSON body with a bad item is parsed
    item by item, each through the client's own parser, so the good items are kept.
    """
    parse = parse_reports if method == "SmsGetReport" else parse_replies
    try:
        return list(parse(body)), []
    except ProtocolError as whole:
        try:
            data = lower_keys(parse_body(body))
        except ValueError:
            raise whole from None
        details = data.get("details") if isinstance(data, Mapping) else None
        if not isinstance(details, list) or not details:
            raise
        good: list[Any] = []
        bad: list[str] = []
        for n, item in enumerate(details, 1):
            one = {"code": data.get("code"), "message": data.get("message"), "details": [item]}
            try:
                good.extend(parse(json.dumps(one, ensure_ascii=False)))
            except ProtocolError as exc:
                what = exc.message or str(exc)
                bad.append(
                    f"{method}: item {n} of {len(details)} skipped ({what}): "
                    f"{json.dumps(item, ensure_ascii=False)[:200]}; the whole answer stays in "
                    "the inbox (Ledger.inbox_frame())."
                )
        if not good:
            raise  # nothing usable: the whole body is an error answer
        return good, bad


def _check_writable(ledger: Ledger, method: str) -> None:
    """Take and release the ledger's write lock, so a locked ledger fails before a fetch."""
    try:
        with ledger._tx(durable=True):
            pass
    except (LedgerError, sqlite3.Error) as exc:
        raise LedgerError(
            f"collect: the ledger {ledger.path} cannot be written ({exc}). {method} was not "
            "called, so nothing was fetched or lost; collect again once the other process "
            "writing the ledger has finished."
        ) from exc


def _unsaved_prefix(ledger: Ledger) -> Path | None:
    """``<ledger path>.unsaved-`` as a path (None for a ``:memory:`` ledger)."""
    if ledger.path == ":memory:":
        return None
    path = Path(ledger.path).resolve()
    return path.with_name(path.name + _UNSAVED)


def _save_unsaved(
    ledger: Ledger, method: str, raw: RawAnswer, account: str, error: Exception
) -> Path:
    """Write a body the ledger would not take to a file beside it, durably; its path."""
    prefix = _unsaved_prefix(ledger)
    if prefix is None:
        raise LedgerError(
            f"collect: the ':memory:' ledger could not store a {method} answer fetched from "
            f"the gateway ({error}), and a memory ledger has no folder to save it in. The "
            f"gateway hands each answer out once only; here it is, keep it: {raw.text}"
        ) from error
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = Path(f"{prefix}{method}-{stamp}-{os.getpid()}.json")
    saved = {
        "what": "a gateway answer mobset_campaign.collect could not store in the ledger",
        "ledger": str(Path(ledger.path).resolve()),
        "method": method,
        "account": account,
        "received_at": raw.received_at.isoformat(),
        "error": str(error),
        "body": raw.text,
    }
    try:
        write_json_durably(target, saved)
    except OSError as exc:
        raise LedgerError(
            f"collect: the ledger {ledger.path} could not store a {method} answer fetched "
            f"from the gateway ({error}), and it could not be saved to {target} either "
            f"({exc}). The gateway hands each answer out once only; here it is, keep it: "
            f"{raw.text}"
        ) from exc
    return target


def _unsaved_files(ledger: Ledger, errors: list[str]) -> list[tuple[Path, dict[str, str]]]:
    """The readable fallback files of this ledger, oldest answer first (bad ones → errors)."""
    prefix = _unsaved_prefix(ledger)
    if prefix is None:
        return []
    found: list[tuple[str, Path, dict[str, str]]] = []
    for path in sorted(prefix.parent.iterdir()):
        if not (path.name.startswith(prefix.name) and path.name.endswith(".json")):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            saved = {key: data[key] for key in ("method", "account", "received_at", "body")}
            if not all(isinstance(v, str) for v in saved.values()) or saved["method"] not in (
                "SmsGetReport",
                "SmsGetRecv",
            ):
                raise ValueError("unexpected content")
            datetime.fromisoformat(saved["received_at"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            errors.append(
                f"{path} was not imported ({type(exc).__name__}: {exc}); it is left in place. "
                "It should hold a gateway answer saved by collect: look at it."
            )
            continue
        found.append((saved["received_at"], path, saved))
    found.sort(key=lambda f: (datetime.fromisoformat(f[0]), f[1].name))
    return [(path, saved) for _, path, saved in found]


def _in_inbox(ledger: Ledger, method: str, body: str, account: str) -> bool:
    """Whether this very body is already committed (so a saved file is not imported twice).

    An identical body holds exactly the same reports or replies, so skipping it loses nothing.
    """
    return bool(
        ledger._read(
            "SELECT 1 FROM inbox WHERE method = ? AND account = ? AND body = ? LIMIT 1",
            (method, account, body),
        )
    )


@contextmanager
def _shield_ctrl_c() -> Iterator[list[int]]:
    """Hold a Ctrl-C (SIGINT) until the block ends, then raise it (main thread only).

    Yields the list of held signals, so the block can cut a wait short. An exception from
    the block wins over a held Ctrl-C (it stops the collection anyway and says more).
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    failed = False
    try:
        yield caught
    except BaseException:
        failed = True
        raise
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        if caught and not failed:
            raise KeyboardInterrupt


def _sleep(seconds: float, held: list[int] | None = None) -> None:
    """Sleep in short steps so Ctrl-C is seen promptly on every platform (or ``held`` fills)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0 and not held:
        time.sleep(min(left, 0.25))


class _TooManyFailures(MobsetError):
    pass


def collect(
    client: Any,
    ledger: Ledger,
    *,
    campaign: str | None = None,
    until: str | None = "final",
    timeout: float | None = None,
    min_interval: float = 30,
    progress: bool = True,
    allow_empty_ledger: bool = False,
) -> CollectSummary:
    """Fetch delivery reports and replies into the ledger.

    Args:
        client: the account's :class:`~mobset_campaign.client.MobsetClient`.
        ledger: the campaign ledger.
        campaign: the campaign whose completion ``until="final"`` waits for (``None``: every
            accepted message in the ledger). Reports and replies of every campaign are
            stored either way: the gateway does not sort them.
        until: ``"final"`` keeps collecting until every accepted message (of the campaign)
            has a final status, or the ``timeout``; ``None`` drains once (fetching again
            while the answers are full pages) and returns.
        timeout: seconds before giving up waiting (``None``: no limit; Ctrl-C stops cleanly).
            Not every message gets a report, so pass one for unattended runs.
        min_interval: seconds between rounds when the last answers were not full pages. The
            vendor asks for 30–300 s against the real gateway; the simulator is happy with less.
        progress: a progress bar of messages with a final status.
        allow_empty_ledger: collect into a ledger that has sent nothing. Off by default:
            each report and reply can be fetched once only, so collecting into the wrong
            ledger (a new file, a typo in the path) would take them away for good from the
            ledger that sent the campaign.

    Returns:
        A :class:`CollectSummary`; ``waiting`` says how many accepted messages are still
        without a final status when it stopped.

    Raises:
        InputError: a bad parameter.
        LedgerError: the ledger cannot be written (e.g. another process holds its write
            lock past the busy timeout). Nothing fetched is lost: either nothing was fetched,
            or the answer was saved to the file the message names, which the next collect
            imports.
    """
    if until not in ("final", None):
        raise InputError(f"collect: until must be 'final' or None, not {until!r}.")
    if timeout is not None and (isinstance(timeout, bool) or not timeout >= 0):
        raise InputError(f"collect: timeout must be seconds (0 or more) or None, not {timeout!r}.")
    if isinstance(min_interval, bool) or not min_interval >= 0:
        raise InputError(f"collect: min_interval must be 0 or more seconds, not {min_interval!r}.")
    if campaign is not None and ledger.campaign_options(campaign) is None:
        raise InputError(f"collect: campaign {campaign!r} is not in {ledger!r}.")
    if not allow_empty_ledger and not int(ledger.campaigns()["messages"].sum()):
        raise InputError(
            f"collect: the ledger {ledger.path} has sent nothing. Reports and replies can be "
            "fetched only once, so collecting here would take them away from the ledger that "
            "sent your campaign: point at that ledger (--ledger), or pass "
            "allow_empty_ledger=True if this is really where they belong."
        )
    started = time.monotonic()
    summary = CollectSummary(campaign=campaign)
    work = _Collector(client, ledger, summary)
    summary.accepted, summary.final = ledger.final_progress(campaign)
    bar = tqdm(
        total=summary.accepted,
        initial=summary.final,
        unit="msg",
        desc=f"final statuses{'' if campaign is None else ' ' + campaign}",
        disable=not progress or until is None,
    )

    def refresh() -> None:
        summary.accepted, summary.final = ledger.final_progress(campaign)
        bar.total = summary.accepted
        bar.n = summary.final
        bar.refresh()

    try:
        # SmsSend answers an earlier run had to keep aside (the ledger refused them) give the
        # SmsIds that the reports fetched below will be matched against
        ledger.apply_kept_answers()
        work.import_unsaved()
        work.recover()
        while True:
            work.drain("SmsGetReport", REPORT_PAGE)
            work.drain("SmsGetRecv", REPLY_PAGE)
            refresh()
            if until is None or summary.done:
                break
            elapsed = time.monotonic() - started
            if timeout is not None and elapsed >= timeout:
                summary.stopped_reason = (
                    f"timeout after {timeout:g} s with {summary.waiting:,} accepted message"
                    f"{_s(summary.waiting)} still without a final status (not every message gets "
                    "a report; collect again later to pick up late ones)."
                )
                break
            pause = min_interval if timeout is None else min(min_interval, timeout - elapsed)
            _sleep(max(pause, 0.0))
    except KeyboardInterrupt:
        summary.stopped_reason = (
            "interrupted (Ctrl-C); everything fetched so far is stored — collect again to go on."
        )
    except AuthError as exc:
        summary.stopped_reason = f"the gateway refused the account: {exc}"
    except _TooManyFailures as exc:
        summary.stopped_reason = (
            f"{_MAX_FAILURES} fetches in a row failed (last: {exc}); collect again later."
        )
    finally:
        bar.close()
        summary.elapsed = time.monotonic() - started
    summary.accepted, summary.final = ledger.final_progress(campaign)
    return summary
