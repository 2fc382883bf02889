"""Every exception mobset_campaign raises, in one place.

::

    MobsetError                      base of everything below
    ├── ConfigError                  credentials, CorpID range, base URL, settings
    │   └── UnpicklableError         an object holding the password was pickled (also a TypeError)
    ├── InputError                   spreadsheet, phone column, template, parameters
    ├── LedgerError                  the local SQLite ledger cannot be used
    │   ├── CampaignBusyError        another run holds the campaign (.command .pid .host .since)
    │   └── AnswerKeptError          answers the ledger refused, kept aside (.accepted .kept_in)
    └── GatewayError                 the gateway answered with a negative code (.code, .message, .method, .body)
        ├── AuthError                -103 -104 -105 -106 -107 -108 -109 -111 -112(user) -123 -124 -125 -131
        ├── BalanceError             -128 -129 -130 (top up)
        ├── LimitError               -126 daily limit, -127 time of day
        ├── ContentError             -110 -132 -133
        ├── BusyError                -189 -190 (nothing was accepted: safe to retry)
        ├── ProtocolError            the body is not JSON or has no code (carries the raw text)
        ├── TransportError           no usable answer: connection refused, timeout, HTTP error
        │   └── AmbiguousSendError   an SmsSend whose outcome is unknown: it may have been accepted
        └── (GatewayError itself for any other code)

:func:`error_for_code` is the one place that maps a gateway code to its class.
:class:`InputWarning` (a :class:`UserWarning`, not an error) says how input was read when that
differs from how it was written. Every ``str()`` reads as a sentence a marketer can act on: what failed, the code, the vendor's
text and what to do next. None of them ever carries the password or the SecretKey.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._advice import say
from ._i18n import N_, ngettext
from ._i18n import gettext as _
from .codes import describe_error, error_info

__all__ = [
    "AmbiguousSendError",
    "AnswerKeptError",
    "AuthError",
    "BalanceError",
    "BusyError",
    "CampaignBusyError",
    "ConfigError",
    "ContentError",
    "GatewayError",
    "InputError",
    "InputWarning",
    "LedgerError",
    "LimitError",
    "MobsetError",
    "ProtocolError",
    "TransportError",
    "UnpicklableError",
    "error_for_code",
]


class MobsetError(Exception):
    """Base class of every error raised by mobset_campaign."""


class ConfigError(MobsetError):
    """Configuration is missing or invalid (credentials, CorpID range, base URL, a setting)."""


class UnpicklableError(ConfigError, TypeError):
    """An object that holds the password (a client) was pickled or deep-copied. It is a
    ``TypeError`` too, as :mod:`pickle` expects; use ``clone()`` or ``from_env()`` instead."""


class InputError(MobsetError, ValueError):
    """Input data or a parameter is unusable; the message names the file, row, column or
    parameter and says what to do. Raised before anything is sent."""


class InputWarning(UserWarning):
    """The input was read, but not quite as written; the message says how and what to pass
    if that was wrong (e.g. a first row of phone numbers read as a contact, not as the
    header). Also kept in ``df.attrs["notes"]``."""


class LedgerError(MobsetError):
    """The ledger (a SQLite file or a PostgreSQL database) cannot be opened, migrated or
    written.

    ``reason`` says why when the database said so: ``"locked"`` (another program is writing
    it: worth retrying), ``"full"``, ``"readonly"``, ``"io"``, ``"missing"`` (a read-only open
    of a ledger that does not exist), ``"connection"`` (the PostgreSQL server cannot be
    reached or the connection dropped), ``"outdated"`` (written by an older mobset_campaign
    and opened read-only, so not upgraded) — or ``""``. Test ``reason``, never the message:
    the message is in the reader's language.
    """

    def __init__(self, message: str = "", *, reason: str = "") -> None:
        self.reason = reason
        super().__init__(message)


class AnswerKeptError(LedgerError):
    """The ledger would not take the gateway's answers to one or more requests; each was
    kept aside (a file beside the ledger, the reserve, or memory) to be recorded by the next
    run. ``accepted`` lists the (phone, SmsId) pairs the gateway accepted; ``kept_in`` says
    where each answer went, or is empty for one that could be kept nowhere (then the pairs
    are in the message: keep them)."""

    def __init__(
        self,
        message: str,
        *,
        accepted: list[tuple[str, int]],
        kept_in: list[str],
        lost: list[tuple[str, int]],
        cause: str = "",
    ) -> None:
        self.accepted = accepted
        self.kept_in = kept_in
        self.lost = lost
        self.cause = cause
        super().__init__(message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            _rebuild_kept,
            (str(self), self.accepted, self.kept_in, self.lost, self.cause),
        )


def _rebuild_kept(
    message: str,
    accepted: list[tuple[str, int]],
    kept_in: list[str],
    lost: list[tuple[str, int]],
    cause: str,
) -> Exception:
    return AnswerKeptError(message, accepted=accepted, kept_in=kept_in, lost=lost, cause=cause)


class CampaignBusyError(LedgerError):
    """Another run is sending, resending or cancelling the same campaign.

    A campaign has one such run at a time (two would race each other's claims). The
    attributes say who holds it: ``command``, ``pid``, ``host`` and ``since`` (Beijing).
    """

    def __init__(self, campaign: str, *, command: str, pid: int, host: str, since: str) -> None:
        self.campaign = campaign
        self.command = command
        self.pid = pid
        self.host = host
        self.since = since
        super().__init__(
            _(
                "Campaign {campaign!r} is busy: {command} has been running since {since} "
                "(Beijing) as process {pid} on {host}. Wait for it to finish (or stop it), then "
                "run this again; or ask to wait for it ({flag})."
            ).format(
                campaign=campaign,
                command=command,
                since=since,
                pid=pid,
                host=host,
                flag=say("wait_for_lock"),
            )
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            _rebuild_busy,
            (self.campaign, self.command, self.pid, self.host, self.since),
        )


def _rebuild_busy(campaign: str, command: str, pid: int, host: str, since: str) -> Exception:
    return CampaignBusyError(campaign, command=command, pid=pid, host=host, since=since)


_BODY_LIMIT = 500


class GatewayError(MobsetError):
    """The gateway answered a request with an error.

    Attributes:
        code: the vendor's numeric code (negative), or 0 when there was no usable answer.
        message: the vendor's own text from the answer (or from the code table).
        method: the ``Methods`` value of the request (``"SmsSend"``, ...).
        body: the raw response body, as text, when there was one.
    """

    #: What to do next; a class's hint is marked for the catalog (``N_``) and translated when
    #: the message is written, an instance's (``hint=``) is given already translated.
    hint = N_(
        "Check the code in the vendor's table (mobset_campaign.codes) or contact Mobset support."
    )

    def __init__(
        self,
        code: int,
        message: str = "",
        *,
        method: str = "",
        body: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.code = int(code)
        self.message = message
        self.method = method
        self.body = body
        if hint is not None:
            self.hint = hint
        super().__init__(self._sentence())

    def _hint(self) -> str:
        return _(self.hint) if self.hint else ""  # gettext("") would be the catalog's header

    def _what(self) -> str:
        if self.method:
            return _("{method} failed").format(method=self.method)
        return _("The request failed")

    def _sentence(self) -> str:
        """The message, in the language of the moment (computed again when unpickled)."""
        what, hint = self._what(), self._hint()
        if self.code:
            known = describe_error(self.code) if error_info(self.code) else f"{self.code}"
            if self.message and (error_info(self.code) is None or self.message not in known):
                return _("{what} with code {code}; the gateway said: {message}. {hint}").format(
                    what=what, code=known, message=self.message, hint=hint
                )
            return _("{what} with code {code}. {hint}").format(what=what, code=known, hint=hint)
        if self.message:
            return _("{what}: {message}. {hint}").format(
                what=what, message=self.message, hint=hint
            )
        return _("{what}. {hint}").format(what=what, hint=hint)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # keep the keyword-only data when pickled (multiprocessing, concurrent.futures)
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[GatewayError], state: dict[str, object]) -> GatewayError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._sentence())
    return err


class AuthError(GatewayError):
    """The account, its password, its permissions or its enterprise were refused."""

    hint = N_(
        "Check MOBSET_CORP_ID, MOBSET_LOGIN_NAME and MOBSET_PASSWORD, that the account has SDK "
        "permission, and that the machine's clock is right (the TimeStamp must be within 20 "
        "minutes of Beijing time)."
    )


class BalanceError(GatewayError):
    """The enterprise, user or agent balance cannot pay for the send."""

    hint = N_(
        "Top up the account or send fewer messages; nothing in this request was accepted."
    )


class LimitError(GatewayError):
    """A platform limit was hit: daily volume, time of day, or ids per request."""

    hint = N_(
        "Wait until the limit resets (or the allowed time window opens) and resume the campaign."
    )


class ContentError(GatewayError):
    """The message text was refused: length, missing or unapproved signature."""

    hint = N_(
        "Shorten the text or fix the signature (it must be registered and approved by Mobset); "
        "mobset_campaign.estimate shows each message's length."
    )


class BusyError(GatewayError):
    """The gateway said it is busy (-189/-190). Nothing was accepted; retrying is safe."""

    hint = N_(
        "The gateway is busy; nothing was accepted, so the request can be retried after a pause."
    )


class ProtocolError(GatewayError):
    """The gateway's body could not be understood (not JSON even after repair, or no code)."""

    hint = N_(
        "The raw body is kept in .body; report it to Mobset if it persists."
    )

    #: How many reports or replies the gateway handed out with the answer that are lost with
    #: it (a page whose Code promises items it does not hold); 0 when none or not known.
    lost: int = 0

    def _sentence(self) -> str:
        shown = repr((self.body or "")[:_BODY_LIMIT])
        hint = self._hint()
        if self.message:  # readable JSON, but not what the protocol promises
            problem = self.message.rstrip(".。")
            if self.method:
                return _("{method} got an answer it cannot use: {problem} ({body}). {hint}").format(
                    method=self.method, problem=problem, body=shown, hint=hint
                )
            return _("The request got an answer it cannot use: {problem} ({body}). {hint}").format(
                problem=problem, body=shown, hint=hint
            )
        if self.method:
            return _("{method} got an answer that is not valid JSON: {body}. {hint}").format(
                method=self.method, body=shown, hint=hint
            )
        return _("The request got an answer that is not valid JSON: {body}. {hint}").format(
            body=shown, hint=hint
        )


class TransportError(GatewayError):
    """No usable answer came back: connection refused, timeout, dropped connection, HTTP error.

    ``code`` is 0. For queries this is safe to retry; for SmsSend see :class:`AmbiguousSendError`.
    """

    hint = N_(
        "Check the network and the base URL; nothing suggests the gateway acted on the request."
    )


class AmbiguousSendError(TransportError):
    """An SmsSend request went out but its outcome is unknown: it may have been accepted.

    It is never retried automatically, because retrying could text the same people twice.
    ``phones`` lists the numbers of the request.
    """

    hint = N_(
        "The request reached the gateway but no answer came back, so these numbers may or may "
        "not have been accepted. Do not resend them blindly: wait for delivery reports, then "
        "decide (mobset_campaign.resend_unknown)."
    )

    def __init__(
        self,
        message: str = "",
        *,
        phones: Sequence[str] = (),
        method: str = "SmsSend",
        body: str | None = None,
        code: int = 0,
    ) -> None:
        self.phones = list(phones)
        super().__init__(code, message, method=method, body=body)

    def _what(self) -> str:
        n = len(self.phones)
        shown = ", ".join(self.phones[:5])
        if n > 5:
            shown = _("{numbers} and {more} more").format(numbers=shown, more=n - 5)
        return ngettext(
            "SmsSend to {n} number ({numbers}) has an unknown outcome",
            "SmsSend to {n} numbers ({numbers}) has an unknown outcome",
            n,
        ).format(n=n, numbers=shown)


_CLASS_BY_CODE: dict[int, type[GatewayError]] = {
    **dict.fromkeys(
        (-103, -104, -105, -106, -107, -108, -109, -111, -112, -123, -124, -125, -131), AuthError
    ),
    **dict.fromkeys((-128, -129, -130), BalanceError),  # not -141: the balance query failed
    **dict.fromkeys((-126, -127), LimitError),  # not -143: too many SmsIDs in one cancel
    **dict.fromkeys((-110, -132, -133), ContentError),
    **dict.fromkeys((-189, -190), BusyError),
}


def error_for_code(
    code: int, message: str = "", *, method: str = "", body: str | None = None
) -> GatewayError:
    """Build the exception for a negative gateway code.

    -112 is ambiguous in the vendor table ("number count invalid" / "user status abnormal"):
    when the gateway's message speaks of numbers (号码) it is a plain :class:`GatewayError`
    about the request, otherwise an :class:`AuthError`. Either way ``str()`` gives both
    meanings.

    >>> type(error_for_code(-129, method="SmsSend")).__name__
    'BalanceError'
    >>> type(error_for_code(-190)).__name__
    'BusyError'
    """
    cls = _CLASS_BY_CODE.get(int(code), GatewayError)
    if int(code) == -112 and "号码" in message:
        cls = GatewayError
    return cls(code, message, method=method, body=body)
