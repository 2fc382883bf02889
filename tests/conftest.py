"""Shared fixtures. Module-specific fixtures live in their own test files."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real MOBSET_* credentials."""
    import os

    for name in list(os.environ):
        if name.startswith("MOBSET_"):
            monkeypatch.delenv(name, raising=False)
