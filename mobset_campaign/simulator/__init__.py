"""A faithful simulator of the Mobset (广州首易 短信易) SDK3 SMS gateway, on 127.0.0.1.

It is a real HTTP/1.1 server answering ``/SDK3/Sms`` as the vendor text describes, and the
embedded default of the demo, the notebooks and the tests. It reads what real clients send
(:mod:`.wire`): keep-alive; GET queries in UTF-8, percent-encoded or raw as in the vendor's
example URL (``...&Content=这是测试短信``); POST bodies form-encoded, ``multipart/form-data``
or ``Transfer-Encoding: chunked``. Users run it for rehearsals::

    mobset-campaign simulator --port 0          # or: python -m mobset_campaign.simulator
    mobset-campaign simulator --tls             # HTTPS, as the real gateway's port 843

With ``tls=True`` (``--tls``) it speaks HTTPS with a certificate made at start by a new
certificate authority (:mod:`.tls`); ``sim.url`` is ``https://…``, ``sim.ca_bundle`` the
authority's PEM file, and ``sim.client()`` / ``sim.env()`` (``MOBSET_CA_BUNDLE``) pass it so
the client trusts it, with verification on.

What it simulates:

- **Checks**: missing, invalid or repeated parameters (-102 ``请求参数不完整或有误:CorpID``),
  an unknown CorpID (-107 企业不存在) or an unknown login of a known one (-103 帐号不存在),
  wrong SecretKey (-105, ``MD5(CorpID+Password+TimeStamp)``, any case), a TimeStamp more than
  20 minutes off the *real* Beijing time (-105, as an authentication failure; 14-digit and the
  vendor examples' 10-digit ``MMDDHHMMSS`` are both read), unknown Methods (-191), content
  that is empty, only whitespace or longer than ``max_content`` (-110; 500 with the signature
  by default, the estimator's limit), zero or more than 50 numbers (-112), a number twice in
  one request (-102 ``:PhoneNumbers``, as the client refuses it), an AddNum that is not
  digits (-102; its length is not capped), no signature (-132), insufficient balance (-129,
  nothing accepted) and the daily limit (-126). A number that is not a mainland mobile
  (``1[3-9]`` + 9 digits) gets SmsId 0 and is not billed.
- **Billing** by parts per number with the bracketed signature counted, by the simulator's
  own reading of the vendor text (:mod:`.billing`, in UTF-16 units; it never uses the
  package's counting code, so comparing an estimate with it proves something); SmsGetBalance
  answers the balance as Code.
- **Scheduled sends** (TimerSend, Beijing) wait on the sim clock; SmsCancel cancels what has
  not gone yet (Status 1, refunded) and answers -142 for anything else.
- **Delivery reports** after ``report_delay`` seconds of sim time, with an ``outcomes`` mix
  (mostly 12 DELIVRD; some 13, 11, 7; some never reported), optionally a Status 10 first;
  at most 50 per SmsGetReport, each handed out once, oldest first, kept 48 hours.
- **Replies** from a ``reply_rate`` share of delivered recipients, an ``opt_out_share`` of
  them opt-out words (R, T, TD, 退订); at most 20 per SmsGetRecv, once only, kept 10 days.
- **Polling pace** (``min_poll_interval``, ``--min-poll-interval``, off by default): an
  account's SmsGetReport or SmsGetRecv sooner than that many sim-clock seconds after its last
  one served is answered -189 系统繁忙2 and hands nothing out. The vendor warns that polling
  too often gets an account disabled (30–300 s suggested) but names no code; see
  :mod:`.state` for why -189.
- **Body shapes** of the vendor's examples (``style="vendor"``: lowercase ``code`` for reports
  and replies, string codes, trailing commas) or strict JSON (``style="strict"``).
- **Faults** per method (:mod:`.faults`): latency, busy, http500, drop_after_accept, slow,
  truncated, malformed; always, on the next N calls or with a probability.

Control and introspection over HTTP, for a simulator in another process: ``GET /_sim/accepted``,
``GET /_sim/handed_out``, ``GET /_sim/stats``, ``GET /_sim/faults``, ``POST /_sim/fault``
(JSON: method, fault, times, probability, delay, code), ``POST /_sim/clear_faults``,
``POST /_sim/reply`` (phone, content, add_num). They answer only a request whose Host header
is a loopback name or address (``localhost``, ``127.0.0.1``, ``[::1]``), else 403, so a web
page whose name was re-pointed at 127.0.0.1 (DNS rebinding) cannot drive them.
"""

from .cli import main
from .faults import FAULTS, Fault
from .model import DEFAULT_OUTCOMES, OPT_OUT_TEXTS, AcceptedMessage, Account, SimClock
from .server import Simulator

__all__ = [
    "DEFAULT_OUTCOMES",
    "FAULTS",
    "OPT_OUT_TEXTS",
    "AcceptedMessage",
    "Account",
    "Fault",
    "SimClock",
    "Simulator",
    "main",
]
