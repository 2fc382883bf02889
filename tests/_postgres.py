"""A real PostgreSQL server for the ledger's tests: never a mock.

``postgres_server()`` yields the URL of a server and ``fresh_database(url)`` the URL of a new,
empty database on it, dropped afterwards. The server is the one named by
``MOBSET_TEST_POSTGRES_URL`` when that is set (its role needs CREATEDB). Otherwise it is a
throwaway server that this module starts itself, once per process, with no root needed:

* the binaries come from ``MOBSET_TEST_POSTGRES_BINDIR`` when set, else from the ``pgserver``
  wheel (in the ``test`` extra), else from the system (``PATH``, ``pg_config --bindir``,
  ``/usr/lib/postgresql/*/bin``, ...); with none of them the caller gets a loud
  ``PostgresUnavailable``, never a skip, because CI must run these tests;
* its data directory is a fresh temporary folder; it listens on 127.0.0.1 only (a free port)
  and on a Unix socket in that folder; it trusts local connections, as role ``postgres``;
* durability is off (``fsync``, ``synchronous_commit``, ``full_page_writes``): a test server;
* PostgreSQL refuses to run as root, so under root ``initdb`` and ``postgres`` run as the
  unprivileged user ``nobody`` (``MOBSET_TEST_POSTGRES_OS_USER`` names another), which owns
  the data folder; nothing is added to the system (no ``useradd``, no chmod outside it);
* it stops and its folder goes when the last ``postgres_server()`` exits, at interpreter exit
  (``atexit``) otherwise, and on Linux when this process dies even by SIGKILL (the server gets
  SIGINT through ``PR_SET_PDEATHSIG``); a folder such a death leaves behind is removed by the
  next start.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ENV_URL = "MOBSET_TEST_POSTGRES_URL"
ENV_BINDIR = "MOBSET_TEST_POSTGRES_BINDIR"
ENV_OS_USER = "MOBSET_TEST_POSTGRES_OS_USER"
# tests/conftest.py's autouse fixture deletes every MOBSET_* variable for each test: keep the
# values this process started with
_ENV_AT_IMPORT = {name: os.environ.get(name) for name in (ENV_URL, ENV_BINDIR, ENV_OS_USER)}

PREFIX = "mobset-pg-"
START_TIMEOUT = 60.0  # seconds; initdb + start take about 1 s here
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "log_min_messages": "warning",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be had: the tests that need one must fail, not skip."""


def _env(name: str) -> str | None:
    return os.environ.get(name) or _ENV_AT_IMPORT.get(name) or None


# -- finding binaries -------------------------------------------------------------------------


def _pgserver_bindir() -> Path | None:
    """The binaries inside the pgserver wheel, found without importing pgserver (its import
    makes folders and warns when XDG_RUNTIME_DIR is unset)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _version_key(path: str) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in path).split()
    return tuple(int(d) for d in digits)


def candidate_bindirs() -> list[tuple[str, Path]]:
    """(where it came from, folder) for each folder holding both initdb and postgres, best first."""
    forced = _env(ENV_BINDIR)
    found: list[tuple[str, Path]] = []
    if forced:
        found.append((ENV_BINDIR, Path(forced)))
    else:
        pgserver = _pgserver_bindir()
        if pgserver is not None:
            found.append(("pgserver wheel", pgserver))
        for exe in ("initdb", "postgres"):
            on_path = shutil.which(exe)
            if on_path:
                found.append(("PATH", Path(on_path).parent))
        pg_config = shutil.which("pg_config")
        if pg_config:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
                )
                found.append(("pg_config --bindir", Path(out.stdout.strip())))
        patterns = (
            "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
            "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
            "/usr/local/pgsql/bin",  # built from source
            "/opt/homebrew/opt/postgresql@*/bin",  # macOS
            "/usr/local/opt/postgresql@*/bin",
        )
        for pattern in patterns:
            for hit in sorted(glob.glob(pattern), key=_version_key, reverse=True):
                found.append((pattern, Path(hit)))
    unique: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    for origin, folder in found:
        real = folder.resolve() if folder.exists() else folder
        if real in seen:
            continue
        seen.add(real)
        # initdb finds postgres and share/ beside its own real path, symlinks resolved
        if all(os.access(real / exe, os.X_OK) for exe in ("initdb", "postgres")):
            unique.append((origin, real))
    return unique


# -- running as a user PostgreSQL accepts ------------------------------------------------------


def _as_user() -> dict[str, Any]:
    """subprocess keywords that run PostgreSQL as an unprivileged user when we are root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return {}
    import pwd

    name = _env(ENV_OS_USER) or "nobody"
    try:
        entry = pwd.getpwnam(name)
    except KeyError as exc:
        raise PostgresUnavailable(
            f"running as root, and PostgreSQL refuses root; the user {name!r} to run it as does "
            f"not exist: set {ENV_OS_USER} to an unprivileged user, or {ENV_URL} to a server"
        ) from exc
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _tmp_root(as_user: dict[str, Any]) -> str:
    """The temporary folder, or /tmp when the unprivileged user could not get into it."""
    root = tempfile.gettempdir()
    if as_user:
        path = Path(root).resolve()
        for folder in (path, *path.parents):
            if not folder.stat().st_mode & 0o001:  # o+x: others may traverse it
                return "/tmp"
    return root


def _die_with_parent() -> Callable[[], None] | None:
    """Linux: a preexec_fn by which the server gets SIGINT (fast shutdown) when this test
    process dies, even by SIGKILL. Loaded here: the child, between fork and exec, imports nothing."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_pdeathsig() -> None:  # pragma: no cover - runs in the child
        prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG

    return set_pdeathsig


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): kill(0) is all there is
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _sweep_stale(root: str) -> None:
    """Remove the folders (and servers) left by test processes that died without cleaning up."""
    for folder in Path(root).glob(PREFIX + "*"):
        with contextlib.suppress(OSError, ValueError):
            owner = int((folder / "owner.pid").read_text().strip())
            if _alive(owner):
                continue
            pidfile = folder / "data" / "postmaster.pid"
            if pidfile.exists():
                postmaster = int(pidfile.read_text().split()[0])
                cmdline = Path(f"/proc/{postmaster}/cmdline")
                if _alive(postmaster) and cmdline.exists() and str(folder) in cmdline.read_text():
                    os.kill(postmaster, signal.SIGQUIT)
                    time.sleep(0.5)
            shutil.rmtree(folder, ignore_errors=True)


# -- the server --------------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A throwaway server this process started."""

    bindir: Path
    origin: str
    version: str
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    started_in: float  # seconds, initdb included
    owner: int = field(default_factory=os.getpid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def socket_url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.folder}&port={self.port}"

    def log(self) -> str:
        try:
            text = (self.folder / "postgres.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-40:])

    def halt(self) -> None:
        """Stop the server process, keep its folder."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if os.getpid() != self.owner:  # a forked child inherits atexit: not its server
            return
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)


def _wait_ready(server: PostgresServer, deadline: float) -> None:
    import psycopg

    while True:
        if server.process.poll() is not None:
            raise PostgresUnavailable(
                f"postgres ({server.bindir}) exited with {server.process.returncode} at start:\n"
                + server.log()
            )
        try:
            with psycopg.connect(server.url, connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"postgres ({server.bindir}) not ready in {START_TIMEOUT:.0f} s: {exc}\n"
                    + server.log()
                ) from exc
            time.sleep(0.02)


def start_server() -> PostgresServer:
    """Start a throwaway server from the first binaries that work; fail loudly if none do."""
    candidates = candidate_bindirs()
    if not candidates:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries (initdb, postgres) found: install the test extra "
            '(pip install -e ".[test]" brings the pgserver wheel), or the system\'s PostgreSQL '
            f"(apt-get install postgresql), or set {ENV_BINDIR} to their folder, or set {ENV_URL} "
            "to a running server"
        )
    failures = []
    for origin, bindir in candidates:
        try:
            return _start_from(origin, bindir)
        except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
            failures.append(f"- {bindir} ({origin}): {exc}")
    if _as_user():
        failures.append(
            f"(we are root, so PostgreSQL runs as {_env(ENV_OS_USER) or 'nobody'}, who must be "
            f"able to reach the binaries; {ENV_OS_USER} names another user)"
        )
    raise PostgresUnavailable(
        "no PostgreSQL server could be started; tried:\n" + "\n".join(failures)
    )


def _start_from(origin: str, bindir: Path) -> PostgresServer:
    t0 = time.monotonic()
    as_user = _as_user()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    for name in ("PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS"):
        env.pop(name, None)
    version = subprocess.run(
        [str(bindir / "postgres"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env=env,
        cwd="/",
        **as_user,
    ).stdout.strip()
    root = _tmp_root(as_user)
    _sweep_stale(root)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
    try:
        (folder / "owner.pid").write_text(str(os.getpid()))
        if as_user:
            os.chown(folder, as_user["user"], as_user["group"])
        data = folder / "data"
        init = subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, timeout=START_TIMEOUT, check=False, env=env,
            cwd=folder, **as_user,
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        # a Unix socket path has at most 107 bytes; a long TMPDIR gets TCP only
        sockets = str(folder) if len(str(folder)) < 80 else ""
        deadline = t0 + START_TIMEOUT
        for attempt in range(3):  # the free port may be taken between the probe and the bind
            port = _free_port()
            settings = {**SETTINGS, "port": str(port), "unix_socket_directories": sockets}
            command = [str(bindir / "postgres"), "-D", str(data)]
            for key, value in settings.items():
                command += ["-c", f"{key}={value}"]
            with open(folder / "postgres.log", "ab") as log:
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, cwd=folder, start_new_session=True,  # no Ctrl-C of the terminal
                    preexec_fn=_die_with_parent(),
                    **as_user,
                )  # fmt: skip
            server = PostgresServer(
                bindir=bindir, origin=origin, version=version, folder=folder, port=port,
                process=process, started_in=0.0,
            )  # fmt: skip
            try:
                _wait_ready(server, deadline)
            except BaseException:
                server.halt()
                if attempt < 2 and "could not create any TCP/IP sockets" in server.log():
                    continue
                raise
            server.started_in = time.monotonic() - t0
            return server
        raise AssertionError("unreachable")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


# -- once per process --------------------------------------------------------------------------

_lock = threading.Lock()
_server: PostgresServer | None = None
_users = 0


def _stop_shared() -> None:
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None


atexit.register(_stop_shared)


def shared_server() -> PostgresServer | None:
    """The throwaway server this process started, if one is running (None with the env URL)."""
    return _server


def _check_reachable(url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(f"{ENV_URL}={url!r} cannot be reached: {exc}") from exc


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL of a PostgreSQL server (a superuser, or a role with CREATEDB).

    Every caller in this process shares one server; it stops when the last caller exits.
    """
    global _server, _users
    url = _env(ENV_URL)
    if url:
        _check_reachable(url)
        yield url
        return
    with _lock:
        if _server is None:
            _server = start_server()
        _users += 1
        url = _server.url
    try:
        yield url
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _server is not None:
                _server.stop()
                _server = None


def database_url(url: str, dbname: str) -> str:
    """The same server and role as ``url``, another database."""
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path="/" + dbname))
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, dbname=dbname)


@contextlib.contextmanager
def fresh_database(url: str, *, template: str = "template1") -> Iterator[str]:
    """Yield the URL of a new, empty database on the server of ``url``; drop it afterwards,
    even if connections to it were left open."""
    import psycopg
    from psycopg import sql

    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield database_url(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
