"""The public API is exactly what __init__ re-exports (after encode/httpx's test)."""

from __future__ import annotations

import pandas as pd

import mobset_campaign


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in dir(mobset_campaign) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(mobset_campaign, n)).__name__ == "module"}
    assert set(mobset_campaign.__all__) == (public - modules) | {"__version__"}
    assert sorted(mobset_campaign.__all__) == sorted(set(mobset_campaign.__all__))


def test_every_exported_member_belongs_to_the_package() -> None:
    for name in mobset_campaign.__all__:
        member = getattr(mobset_campaign, name)
        module = getattr(member, "__module__", "mobset_campaign")
        assert module.startswith("mobset_campaign"), (name, module)


def test_importing_the_package_registers_the_accessor() -> None:
    frame = pd.DataFrame({"手机": ["13512346789"]})
    assert hasattr(frame, "sms")
