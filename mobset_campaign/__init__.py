"""mobset_campaign: bulk SMS campaigns through the Mobset (广州首易 短信易) SDK3 HTTP API.

The flow, one module per step::

    spreadsheet → contacts (read_contacts) → render (render) → estimate (estimate, preview)
      → sender (send: plan, _engine; at most once) → ledger (Ledger: every intent and result)
      → collector (collect: reports and replies, stored before parsing)
      → merge (merge_status), status (campaign_status)
      → outcomes (summarize) → plots and export (export_excel)
      → workbook (read_campaign_workbook: an exported workbook back into typed frames)

Under the steps lie the facts they share: codes, states, errors, phones, segments,
templates, rows (row identity, skip reasons), checks (render's warnings), answers and client
(the wire), summaries (every result as text and HTML). A faithful gateway :class:`Simulator`
ships in the package; the demo, the notebooks and the tests run against it. Importing the
package registers the ``df.sms`` accessor; the charts load matplotlib on first use.
"""

import importlib
import typing

from . import accessor as _accessor  # registers df.sms
from .answers import (
    CancelDetail,
    CancelResult,
    RawAnswer,
    Reply,
    Report,
    SendResult,
    SentNumber,
    parse_replies,
    parse_reports,
)
from .client import MobsetClient
from .codes import (
    ERROR_CODES,
    FINAL_STATUSES,
    STATUS_CODES,
    describe_error,
    describe_status,
    is_final_status,
)
from .collector import collect
from .contacts import read_contacts
from .errors import (
    AmbiguousSendError,
    AuthError,
    BalanceError,
    BusyError,
    ConfigError,
    ContentError,
    GatewayError,
    InputError,
    InputWarning,
    LedgerError,
    LimitError,
    MobsetError,
    ProtocolError,
    TransportError,
)
from .estimate import estimate, preview
from .export import export_excel
from .language import get_language, set_language, using_language
from .ledger import Ledger
from .merge import merge_status
from .outcomes import summarize
from .phones import is_mainland_mobile, normalise_phones, parse_phone
from .render import render
from .segments import (
    DEFAULT_RULES,
    SegmentRules,
    count_chars,
    count_chars_series,
    count_parts,
    count_parts_series,
    split_parts,
)
from .sender import cancel, resend_unknown, send
from .simulator import AcceptedMessage, Account, Simulator
from .status import CampaignStatus, campaign_status
from .summaries import (
    CancelSummary,
    CollectSummary,
    Estimate,
    Preview,
    SendSummary,
)
from .templates import available_templates, load_template
from .workbook import read_campaign_workbook

del _accessor

if typing.TYPE_CHECKING:
    from .plots import (
        plot_delivery_time,
        plot_funnel,
        plot_replies,
        plot_status,
        save_plots,
        use_cjk_font,
    )

#: Names whose module loads on first use: the charts need matplotlib, which takes a moment
#: to import and scan fonts; a command that draws nothing never pays for it.
_LAZY = {
    name: "plots"
    for name in (
        "plot_delivery_time",
        "plot_funnel",
        "plot_replies",
        "plot_status",
        "save_plots",
        "use_cjk_font",
    )
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "DEFAULT_RULES",
    "ERROR_CODES",
    "FINAL_STATUSES",
    "STATUS_CODES",
    "AcceptedMessage",
    "Account",
    "AmbiguousSendError",
    "AuthError",
    "BalanceError",
    "BusyError",
    "CampaignStatus",
    "CancelDetail",
    "CancelResult",
    "CancelSummary",
    "CollectSummary",
    "ConfigError",
    "ContentError",
    "Estimate",
    "GatewayError",
    "InputError",
    "InputWarning",
    "Ledger",
    "LedgerError",
    "LimitError",
    "MobsetClient",
    "MobsetError",
    "Preview",
    "ProtocolError",
    "RawAnswer",
    "Reply",
    "Report",
    "SegmentRules",
    "SendResult",
    "SendSummary",
    "SentNumber",
    "Simulator",
    "TransportError",
    "__version__",
    "available_templates",
    "campaign_status",
    "cancel",
    "collect",
    "count_chars",
    "count_chars_series",
    "count_parts",
    "count_parts_series",
    "describe_error",
    "describe_status",
    "estimate",
    "export_excel",
    "get_language",
    "is_final_status",
    "is_mainland_mobile",
    "load_template",
    "merge_status",
    "normalise_phones",
    "parse_phone",
    "parse_replies",
    "parse_reports",
    "plot_delivery_time",
    "plot_funnel",
    "plot_replies",
    "plot_status",
    "preview",
    "read_campaign_workbook",
    "read_contacts",
    "render",
    "resend_unknown",
    "save_plots",
    "send",
    "set_language",
    "split_parts",
    "summarize",
    "use_cjk_font",
    "using_language",
]
