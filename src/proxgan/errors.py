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


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the valid ones."""
    choices = list(choices)
    if value not in choices:
        raise ProxganError(f"unknown {name} {value!r}; choose from: {', '.join(choices)}")
    return value


def check_choices(name: str, values: str | Iterable[str], choices: Iterable[str]) -> list[str]:
    """Parse a comma-separated list (``'all'`` means every choice) and validate each entry."""
    choices = list(choices)
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    values = list(values)
    if values == ["all"]:
        return choices
    if not values:
        raise ProxganError(f"empty {name} list; choose from: {', '.join(choices)}")
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


def check_existing_file(name: str, path: str | Path) -> Path:
    """Return ``path`` if it names an existing file."""
    path = Path(path)
    if not path.is_file():
        raise ProxganError(f"{name} {str(path)!r} does not exist or is not a file")
    return path
