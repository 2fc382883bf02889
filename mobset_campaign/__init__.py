"""mobset_campaign: bulk SMS campaigns through the Mobset (广州首易 短信易) SDK3 HTTP API.

The flow, one module per step::

    spreadsheet → contacts (read_contacts) → render/segments (render, estimate, preview)
      → sender (send: plan, throttle, at most once) → ledger (Ledger: every intent and result)
      → collector (collect: reports and replies, stored before parsing)
      → merge (merge_status) → export (export_excel) and plots

A faithful gateway :class:`Simulator` ships in the package; the demo, the notebooks and the
tests run against it. Importing the package registers the ``df.sms`` accessor.
"""

from . import accessor as _accessor  # registers df.sms
from .client import (
    CancelDetail,
    CancelResult,
    MobsetClient,
    RawAnswer,
    Reply,
    Report,
    SendResult,
    SentNumber,
    parse_replies,
    parse_reports,
)
from .codes import (
    ERROR_CODES,
    FINAL_STATUSES,
    STATUS_CODES,
    describe_error,
    describe_status,
    is_final_status,
)
from .collector import CollectSummary, collect
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
    LedgerError,
    LimitError,
    MobsetError,
    ProtocolError,
    TransportError,
)
from .estimate import Estimate, Preview, estimate, preview
from .export import export_excel, summarize
from .ledger import Ledger
from .merge import merge_status
from .phones import is_mainland_mobile, normalise_phones, parse_phone
from .plots import (
    plot_delivery_time,
    plot_funnel,
    plot_replies,
    plot_status,
    save_plots,
    use_cjk_font,
)
from .render import available_templates, load_template, render
from .segments import (
    DEFAULT_RULES,
    SegmentRules,
    count_chars,
    count_chars_series,
    count_parts,
    count_parts_series,
    split_parts,
)
from .sender import CancelSummary, SendSummary, cancel, resend_unknown, send
from .simulator import AcceptedMessage, Account, Simulator
from .status import CampaignStatus, campaign_status

del _accessor

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
    "read_contacts",
    "render",
    "resend_unknown",
    "save_plots",
    "send",
    "split_parts",
    "summarize",
    "use_cjk_font",
]
