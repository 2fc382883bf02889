"""The PostgreSQL server the ledger's tests use is real (tests/_postgres.py): it answers SQL,
gives each test an empty database of its own, and row locks work as the shared ledger needs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from _postgres import (
    ENV_URL,
    _alive,
    _env,
    _sweep_stale,
    candidate_bindirs,
    fresh_database,
    postgres_server,
    shared_server,
)

HERE = Path(__file__).resolve().parent


# The same fixtures as tests/conftest.py's; these shadow them in this file only.
@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_db_url(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


def test_the_server_is_real_postgresql(postgres_db_url: str) -> None:
    with psycopg.connect(postgres_db_url) as conn:
        version = conn.execute("SELECT version()").fetchone()
        assert version is not None and version[0].startswith("PostgreSQL ")
        conn.execute("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x text)")
        ids = [
            conn.execute("INSERT INTO t (x) VALUES (%s) RETURNING id", (x,)).fetchone()
            for x in ("a", "b")
        ]
        assert ids == [(1,), (2,)]
        assert conn.execute("SELECT string_agg(x, ',' ORDER BY id) FROM t").fetchone() == ("a,b",)
    server = shared_server()
    if server is not None:  # the throwaway one: loopback only, its folder its own
        with psycopg.connect(postgres_db_url) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW data_directory").fetchone() == (str(server.folder / "data"),)
        with psycopg.connect(server.socket_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_each_test_gets_an_empty_database_of_its_own(postgres_url: str) -> None:
    with fresh_database(postgres_url) as a, fresh_database(postgres_url) as b:
        assert a != b
        with psycopg.connect(a) as conn:
            conn.execute("CREATE TABLE only_in_a (x int)")
        with psycopg.connect(b) as conn:
            query = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            assert conn.execute(query).fetchone() == (0,)
        leaked = psycopg.connect(a)  # a test that forgets a connection: the drop still works
        name = a.rsplit("/", 1)[-1]
    leaked.close()
    with psycopg.connect(postgres_url) as conn:
        query = "SELECT count(*) FROM pg_database WHERE datname = %s"
        assert conn.execute(query, (name,)).fetchone() == (0,)


def test_skip_locked_claims_take_different_rows(postgres_db_url: str) -> None:
    """Two workers claiming with FOR UPDATE SKIP LOCKED never take the same row, and neither
    waits for the other; a plain FOR UPDATE NOWAIT on a claimed row fails at once."""
    with psycopg.connect(postgres_db_url) as setup:
        setup.execute("CREATE TABLE outbox (id int PRIMARY KEY, claimed_by text)")
        setup.execute("INSERT INTO outbox (id) SELECT generate_series(1, 10)")
    claim = (
        "SELECT id FROM outbox WHERE claimed_by IS NULL ORDER BY id LIMIT 3 FOR UPDATE SKIP LOCKED"
    )
    with psycopg.connect(postgres_db_url) as one, psycopg.connect(postgres_db_url) as two:
        # psycopg opens a transaction at the first statement: the row locks last until commit
        first = [r[0] for r in one.execute(claim).fetchall()]
        second = [r[0] for r in two.execute(claim).fetchall()]
        assert first == [1, 2, 3]
        assert second == [4, 5, 6]
        with pytest.raises(psycopg.errors.LockNotAvailable):
            two.execute("SELECT id FROM outbox WHERE id = 1 FOR UPDATE NOWAIT")
        two.rollback()  # the failed statement aborted two's transaction, and its claims
        one.execute("UPDATE outbox SET claimed_by = 'one' WHERE id = ANY(%s)", (first,))
        one.commit()
        again = [r[0] for r in two.execute(claim).fetchall()]
        assert again == [4, 5, 6]  # two's rollback freed them; one's rows are claimed for good
        two.commit()


def test_a_killed_test_process_leaves_no_server_running(tmp_path: Path) -> None:
    """SIGKILL skips atexit: the server still stops (Linux), and the next start removes the
    folder it left."""
    if sys.platform != "linux":
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    if not candidate_bindirs() and _env(ENV_URL):
        pytest.skip(f"no PostgreSQL binaries here to start a server with; {ENV_URL} is used")
    child = textwrap.dedent(
        """
        import os, signal, sys
        sys.path.insert(0, sys.argv[1])
        import _postgres
        server = _postgres.start_server()
        print(server.folder, server.process.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")}
    out = subprocess.run(
        [sys.executable, "-c", child, str(HERE)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert out.returncode == -9, out.stderr
    folder, pid = out.stdout.split()
    deadline = time.monotonic() + 30
    while _alive(int(pid)):
        assert time.monotonic() < deadline, "the orphaned server is still running"
        time.sleep(0.05)
    assert Path(folder).exists()
    _sweep_stale(str(Path(folder).parent))
    assert not Path(folder).exists()
