"""``python -m mobset_campaign.simulator``."""

from .cli import main

raise SystemExit(main())
