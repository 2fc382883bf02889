"""Shared fixtures. Module-specific fixtures live in their own test files."""

from __future__ import annotations

import os

import pytest

#: Messages in English unless a test asks for Chinese, whatever the machine's locale (set at
#: import, so the package's doctests, collected after this folder, see it too).
os.environ["MOBSET_LANG"] = "en"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's real MOBSET_* credentials, nor their default ledger: the
    user's data folder is a fresh one per test."""
    import os

    for name in list(os.environ):
        if name.startswith("MOBSET_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOBSET_LANG", "en")  # a test asks for Chinese with using_language
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


# ---------------------------------------------------------------- the ledger's two backends

from collections.abc import Iterator  # noqa: E402

from _postgres import fresh_database, postgres_server  # noqa: E402

from mobset_campaign.ledger import Ledger  # noqa: E402

#: The backends every ledger test runs on (``-k sqlite`` / ``-k postgres`` picks one).
BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server: MOBSET_TEST_POSTGRES_URL, else a throwaway one started
    here (tests/_postgres.py). Fails, never skips, when none can be had."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_ledger_template(postgres_url: str) -> Iterator[str]:
    """A database with the ledger's migrations applied, copied for each test (faster than
    migrating every new database)."""
    with fresh_database(postgres_url) as url:
        Ledger(url).close()
        yield url.rsplit("/", 1)[-1].split("?")[0]


@pytest.fixture
def postgres_db_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database on that server for one test, dropped after it."""
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def ledger_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Where a test's ledger lives: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("ledger") / "ledger.sqlite")
        return
    server = request.getfixturevalue("postgres_url")
    template = request.getfixturevalue("postgres_ledger_template")
    with fresh_database(server, template=template) as url:
        yield url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """An open ledger on each backend in turn."""
    with Ledger(ledger_url) as led:
        yield led
