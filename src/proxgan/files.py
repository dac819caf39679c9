"""Atomic file writes, checksummed containers and JSON conversion shared by results, checkpoints and reports."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from proxgan.errors import ProxganError


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file through ``write(fileobj)`` into a temporary sibling, fsync, then ``os.replace``.

    A crash mid-write leaves the previous file intact: readers see the old or the new file, never half.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; the finished file follows the umask
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


TEMP_SUFFIX = ".tmp"


def current_umask() -> int:
    """The process's file-creation mask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temporaries(folder: str | Path, *, skip: Callable[[Path], bool] = lambda d: False) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files that an interrupted :func:`atomic_write` left under ``folder``.

    Call it only while owning ``folder`` (see :mod:`proxgan.locks`): then no write is in flight there.
    Sub-folders for which ``skip(folder)`` is true (another owner's) are left alone. Returns what was removed.
    """
    removed = []
    for entry in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            if not skip(entry):
                removed += remove_stale_temporaries(entry, skip=skip)
        elif entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


#: first line of a checksummed file: magic, hash name, hex digest of the payload, payload length
CHECKSUM_MAGIC = b"PROXGAN-CHECKSUMMED"


def write_checksummed(path: str | Path, payload: bytes) -> Path:
    """Atomically write ``payload`` behind a header line ``PROXGAN-CHECKSUMMED sha256 <hex> <length>``."""
    header = b"%s sha256 %s %d\n" % (CHECKSUM_MAGIC, hashlib.sha256(payload).hexdigest().encode(), len(payload))
    return atomic_write(path, lambda f: f.write(header + payload))


def read_checksummed(path: str | Path, what: str) -> bytes:
    """The payload of a :func:`write_checksummed` file, after checking its length and sha256.

    Any damage (a flipped byte, a truncated or overwritten file, a file of another kind) is one
    :class:`~proxgan.errors.ProxganError` naming ``what`` and the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProxganError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    header, newline, payload = data.partition(b"\n")
    fields = header.split(b" ")
    if data.startswith(b"PK\x03\x04") and what == "checkpoint":  # a bare torch.save zip: proxgan before checksums
        raise ProxganError(f"damaged {what} {str(path)!r}: no checksum header, a bare torch file (a checkpoint "
                           "of proxgan before version 2 of its format, which cannot be verified: retrain the run; "
                           "or not a proxgan checkpoint)")
    if not newline or len(fields) != 4 or fields[0] != CHECKSUM_MAGIC or fields[1] != b"sha256":
        raise ProxganError(f"damaged {what} {str(path)!r}: no checksum header (overwritten, or not a proxgan file)")
    digest, length = fields[2].decode("ascii", "replace"), fields[3].decode("ascii", "replace")
    if not length.isdigit() or int(length) != len(payload):
        raise ProxganError(f"damaged {what} {str(path)!r}: {len(payload)} payload bytes, the header says {length} (truncated or overwritten)")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise ProxganError(f"damaged {what} {str(path)!r}: sha256 of the contents does not match the checksum written with it")
    return payload


def save_torch_checksummed(path: str | Path, state: dict[str, Any]) -> Path:
    """``torch.save(state)`` behind a sha256 of its bytes (:func:`write_checksummed`): atomic, verifiable."""
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return write_checksummed(path, buffer.getvalue())


def load_torch_checksummed(path: str | Path, what: str) -> dict[str, Any]:
    """The dict :func:`save_torch_checksummed` wrote at ``path`` (tensors on the CPU, weights only), its checksum
    verified; a damaged, unreadable or foreign file is one :class:`~proxgan.errors.ProxganError` naming ``what``."""
    import torch

    payload = read_checksummed(path, what)
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        raise ProxganError(f"corrupt {what} {str(path)!r}: torch.load cannot read it ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise ProxganError(f"{str(path)!r} is not a proxgan {what}")
    return state


def check_fields(state: dict[str, Any], fields: dict[str, type | tuple[type, ...]], path: str | Path, what: str) -> None:
    """Each of ``fields`` is in ``state`` with its type (a bool is never an int here); else one ProxganError."""
    for key, kind in fields.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise ProxganError(f"corrupt {what} {str(path)!r}: {key!r} is missing or not a "
                               f"{getattr(kind, '__name__', kind)}")


def to_jsonable(obj: Any) -> Any:
    """Convert tensors, numpy values, paths and dataclasses to plain JSON; non-finite floats to None."""
    import dataclasses

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "tolist"):  # torch.Tensor, numpy array or scalar
        return to_jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return to_jsonable(obj.item())
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomically write ``obj`` (after :func:`to_jsonable`) as indented JSON."""
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))
