"""Writing files so that a crash never leaves half of one.

* :func:`write_json_durably` — for what must survive a power cut (an SmsSend answer or a
  fetched body the ledger could not take: the gateway will not hand it out again).
* :func:`replace_atomically` — for outputs (a workbook, a chart): written beside the target
  under a hidden name, then moved into place, with the user's umask.
* :func:`kept_files` — the side files a ledger left beside itself, oldest name first.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

__all__ = ["kept_files", "replace_atomically", "side_file", "write_json_durably"]


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
