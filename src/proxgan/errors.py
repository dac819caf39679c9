"""User-facing errors and the validators that raise them.

A :class:`ProxganError` is bad input from the user (a name, a number, a path). The CLI turns it into
one line on stderr and exit code 2; library code raises it and never prints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path


class ProxganError(Exception):
    """Bad input: the message names the offending value and what was expected."""


class ProxganWarning(UserWarning):
    """Something was damaged and repaired or skipped (e.g. a cut-off log line); the CLI prints one line."""


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the valid ones."""
    choices = list(choices)
    if value not in choices:
        raise ProxganError(f"unknown {name} {value!r}; choose from: {', '.join(choices)}")
    return value


def check_choices(name: str, values: str | Iterable[str], choices: Iterable[str]) -> list[str]:
    """Parse a comma-separated list (``'all'`` means every choice) and validate each entry; an empty
    list or an empty entry (``'a,,b'``) is an error, never silently dropped."""
    choices, text = list(choices), values
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",")] if values.strip() else []
    values = list(values)
    if values == ["all"]:
        return choices
    if not values:
        raise ProxganError(f"empty {name} list; choose from: {', '.join(choices)}")
    if not all(values):
        raise ProxganError(f"empty entry in the {name} list {text!r}; choose from: {', '.join(choices)}")
    return [check_choice(name, v, choices) for v in values]


def check_finite(name: str, value: float) -> float:
    """Return ``value`` as float if finite."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ProxganError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ProxganError(f"{name} must be finite, got {value}")
    return value


def check_positive(name: str, value: float) -> float:
    """Return ``value`` if finite and > 0."""
    value = check_finite(name, value)
    if value <= 0:
        raise ProxganError(f"{name} must be > 0, got {value:g}")
    return value


def check_nonnegative(name: str, value: float) -> float:
    """Return ``value`` if finite and >= 0."""
    value = check_finite(name, value)
    if value < 0:
        raise ProxganError(f"{name} must be >= 0, got {value:g}")
    return value


def check_in_range(name: str, value: float, low: float, high: float) -> float:
    """Return ``value`` if finite and in the closed interval [low, high]."""
    value = check_finite(name, value)
    if not low <= value <= high:
        raise ProxganError(f"{name} must be in [{low:g}, {high:g}], got {value:g}")
    return value


def check_positive_int(name: str, value: int) -> int:
    """Return ``value`` if it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) and not (
        isinstance(value, float) and value.is_integer()
    ):
        raise ProxganError(f"{name} must be a positive integer, got {value!r}")
    if int(value) < 1:
        raise ProxganError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_path(name: str, path: str | Path) -> Path:
    """Return ``path`` as a Path unless it is empty: ``Path("")`` would silently mean the current directory."""
    if not str(path).strip():
        raise ProxganError(f"{name} is an empty path; name it (use '.' for the current directory)")
    return Path(path)


def check_memory(what: str, estimate_bytes: float, *, limit_bytes: float | None = None) -> float:
    """Refuse up front a computation whose estimated memory exceeds ``limit_bytes`` (default: the RAM available)."""
    limit = available_memory() if limit_bytes is None else limit_bytes
    if estimate_bytes > limit:
        raise ProxganError(f"{what} needs about {_size(estimate_bytes)} of memory, more than the {_size(limit)} available; make it smaller")
    return estimate_bytes


def available_memory() -> float:
    """Bytes of memory available to a new allocation: MemAvailable of /proc/meminfo, else physical memory."""
    import os

    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def _size(n: float) -> str:
    units, i = ("B", "KB", "MB", "GB", "TB", "PB"), 0
    while n >= 1024 and i < len(units) - 1:
        n, i = n / 1024, i + 1
    return f"{n:.3g} {units[i]}"


def check_existing_file(name: str, path: str | Path) -> Path:
    """Return ``path`` if it names an existing file."""
    path = Path(path)
    if not path.is_file():
        raise ProxganError(f"{name} {str(path)!r} does not exist or is not a file")
    return path


def check_device(device: "str | torch.device") -> "torch.device":
    """``device`` as a torch.device that exists here; a ProxganError for unknown or absent devices."""
    import torch

    try:
        device = torch.device(device)
    except RuntimeError:
        raise ProxganError(f"unknown device {str(device)!r}; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ProxganError(f"device {str(device)!r} requested but no CUDA device is available")
    if device.type not in ("cpu", "cuda"):
        raise ProxganError(f"device {str(device)!r} is not supported; use cpu, cuda or cuda:N")
    return device
