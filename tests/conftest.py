"""Shared fixtures. Module-specific fixtures live in their own test files."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's real MOBSET_* credentials, nor their default ledger: the
    user's data folder is a fresh one per test."""
    import os

    for name in list(os.environ):
        if name.startswith("MOBSET_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
