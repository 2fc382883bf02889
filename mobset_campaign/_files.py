"""Writing files so that a crash never leaves half of one.

* :func:`write_json_durably` — for what must survive a power cut (an SmsSend answer or a
  fetched body the ledger could not take: the gateway will not hand it out again).
* :func:`replace_atomically` — for outputs (a workbook, a chart): written beside the target
  under a hidden name, then moved into place, with the user's umask.
* :func:`kept_files` — the side files a ledger left beside itself, oldest name first.
* :class:`Reserve` — room set aside on the disk for those side records when it fills up.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

__all__ = ["Reserve", "kept_files", "replace_atomically", "side_file", "write_json_durably"]


def write_json_durably(target: Path, data: object) -> None:
    """Write ``data`` as JSON to ``target`` so that it survives a crash or a power cut:
    a ``.partial`` sibling, flushed and fsync'ed, renamed into place, and the folder fsync'ed.

    Raises:
        OSError: the file could not be written (nothing is left at ``target``).
    """
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "x", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def side_file(prefix: Path, name: str) -> Path:
    """A new, unique file name ``<prefix><name>-<UTC time>-<pid>.json``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(f"{prefix}{name}-{stamp}-{os.getpid()}.json")


def kept_files(prefix: Path) -> list[Path]:
    """The ``<prefix>….json`` files in ``prefix``'s folder, sorted by name."""
    folder = prefix.parent
    if not folder.is_dir():
        return []
    return sorted(
        folder / name
        for name in os.listdir(folder)
        if name.startswith(prefix.name) and name.endswith(".json")
    )


def replace_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` with a new hidden sibling of ``target`` open for writing, then move it
    into place. The sibling is created like any new file, so it gets the user's umask
    (``mkstemp`` would make it 0600 and colleagues on a shared folder could not open it).

    Raises:
        OSError: from writing or moving; the sibling is removed.
    """
    tmp = target.with_name(f".{target.stem}.{secrets.token_hex(4)}{target.suffix}.tmp")
    try:
        with open(tmp, "xb") as handle:
            write(handle)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class Reserve:
    """Room kept on the disk beside a ledger for what it cannot take when the disk is full.

    A file of :data:`SIZE` bytes is written (zeros) before a run starts sending; when the disk
    fills up later, records (an SmsSend answer, a fetched body) are written *into* it, over
    its zeros, so no new space is needed. Records are JSON lines after a header; a NUL byte
    ends them. Writers take an exclusive ``flock`` on POSIX systems.
    """

    SIZE = 1 << 20
    _HEADER = b"MOBSET-RESERVE 1\n"

    def __init__(self, path: Path) -> None:
        self.path = path

    def ensure(self) -> None:
        """Create the file at its full size if it is missing or short.

        Raises:
            OSError: the disk cannot hold it (it is then better not to start).
        """
        try:
            if self.path.stat().st_size >= self.SIZE:
                return
        except FileNotFoundError:
            pass
        with open(self.path, "ab") as fh:
            fh.truncate(0)
            fh.write(self._HEADER + b"\0" * (self.SIZE - len(self._HEADER)))
            fh.flush()
            os.fsync(fh.fileno())

    def records(self) -> list[dict[str, object]]:
        """The records written into the reserve, oldest first."""
        try:
            with open(self.path, "rb") as fh, _flocked(fh):
                return self._parse(fh.read(self.SIZE))
        except FileNotFoundError:
            return []

    def update(
        self, change: Callable[[list[dict[str, object]]], list[dict[str, object]]]
    ) -> bool:
        """Replace the records by ``change(records)``, in one locked read and write, over
        the reserve's own bytes (no new disk space); False, changing nothing, when they do
        not fit.

        Raises:
            OSError: the reserve is missing or cannot be written.
        """
        fd = os.open(self.path, os.O_RDWR)  # never O_CREAT or O_TRUNC: reuse its blocks
        with os.fdopen(fd, "r+b") as fh, _flocked(fh):
            records = change(self._parse(fh.read(self.SIZE)))
            lines = b"".join(
                json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records
            )
            payload = self._HEADER + lines + b"\0"
            if len(payload) > self.SIZE:
                return False
            fh.seek(0)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        return True

    def append(self, record: dict[str, object]) -> bool:
        """Add one record (see :meth:`update`); False when it does not fit."""
        return self.update(lambda records: [*records, record])

    def _parse(self, data: bytes) -> list[dict[str, object]]:
        if not data.startswith(self._HEADER):
            return []
        body = data[len(self._HEADER) :].split(b"\0", 1)[0]
        return [json.loads(line) for line in body.splitlines() if line.strip()]


@contextlib.contextmanager
def _flocked(fh: BinaryIO) -> Iterator[None]:
    """An exclusive advisory lock on an open file, where the platform has ``flock``."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
