"""One process per output directory: an advisory lock on ``DIR/.proxgan.lock``.

``train``, ``equilibrium``, ``evaluate``, ``reproduce`` and ``report`` (and every command writing a
results.json) own their output directory while they run: :func:`owned_directory` takes an exclusive
``fcntl.flock`` on the lock file and writes the holder into it (pid, host, command, start time). A
second process is refused with one line naming that holder. The kernel drops a flock when its process
dies, however it dies, so a lock file left by a killed process is stale by construction and simply
taken over. Locks are re-entrant within a process (``reproduce`` trains into sub-directories, and a
library call may run inside a CLI command that already owns the directory). Under torchrun only rank 0
writes files, so only rank 0 takes the lock. Owning a directory also removes the temporary files an
interrupted atomic write left in it (:func:`proxgan.files.remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from proxgan.errors import ProxganError, check_path
from proxgan.files import remove_stale_temporaries

LOCK_NAME = ".proxgan.lock"

#: realpath of an owned directory -> [open lock file, nesting depth]
_HELD: dict[str, list[Any]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def holder(directory: str | Path) -> dict[str, Any] | None:
    """What ``directory``'s lock file says about its holder (None if absent or unreadable)."""
    try:
        record = json.loads((Path(directory) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def describe(record: dict[str, Any] | None) -> str:
    """``pid 123 on host h (proxgan train ...) since 2026-01-01 10:00:00 UTC`` or a neutral phrase."""
    if not record:
        return "another process (its lock file names no holder yet)"
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record["since"])) if isinstance(record.get("since"), (int, float)) else "?"
    return f"pid {record.get('pid')} on host {record.get('host')} ({record.get('command') or 'proxgan'}) since {since}"


def _is_rank_zero() -> bool:
    """Process 0 of a torch.distributed group (or of torchrun's RANK), or a process on its own."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0") or 0) == 0


@contextlib.contextmanager
def owned_directory(directory: str | Path, command: str | None = None, *, create: bool = True) -> Iterator[Path]:
    """Hold ``directory``'s lock for the duration, creating the directory; refuse if another process holds it.

    With ``create`` false a directory that does not exist is left alone (and not locked): the caller, which
    only updates an existing directory, names what is missing.
    """
    directory = check_path("directory", directory)
    if not _is_rank_zero() or not create and not directory.is_dir():
        yield directory
        return
    from proxgan.results import prepare_out_dir

    prepare_out_dir(directory)
    key = os.path.realpath(directory)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield directory
        finally:
            _HELD[key][1] -= 1
        return
    lock_path = directory / LOCK_NAME
    try:
        handle = open(lock_path, "a+")  # noqa: SIM115 - closed when the lock is released
    except OSError as exc:
        raise ProxganError(f"cannot create the lock file {str(lock_path)!r}: {exc.strerror}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ProxganError(
            f"{str(directory)!r} is in use by {describe(holder(directory))}; wait for it to finish or choose another directory"
        ) from None
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command or _command(), "since": time.time()}
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(record) + "\n")
    handle.flush()
    _HELD[key] = [handle, 1]
    try:
        remove_stale_temporaries(directory, skip=lambda sub: (sub / LOCK_NAME).exists())
        yield directory
    finally:
        _HELD.pop(key)
        handle.close()  # releases the flock; the file stays (deleting it would race with a waiting process)


def owns(parameter: str, *, create: bool = True) -> Callable[[F], F]:
    """Decorator: the call holds :func:`owned_directory` on its argument ``parameter`` throughout."""

    def wrap(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            command = bound.arguments.get("command") or None
            with owned_directory(bound.arguments[parameter], command, create=create):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return wrap


def _command() -> str:
    import shlex

    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
