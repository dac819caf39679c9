"""The ``results.json`` every command writes, and the output directory it lives in.

Schema: ``{"command", "versions", "config", "results", "figures", "wall_seconds"}``; figures are PNG
files beside it, named relative to the directory. The report reads only these files.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from proxgan import __version__
from proxgan.errors import ProxganError
from proxgan.io import write_json

RESULTS_NAME = "results.json"


def versions() -> dict[str, str]:
    """Versions of Python, proxgan and the numerical stack, for the record."""
    import numpy
    import torch

    out = {
        "proxgan": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cuda": torch.version.cuda or "none",
    }
    return out


def prepare_out_dir(path: str | Path) -> Path:
    """Create ``path`` if needed and check it is a writable directory."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ProxganError(f"output path {str(path)!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProxganError(f"cannot create output directory {str(path)!r}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ProxganError(f"output directory {str(path)!r} is not writable")
    return path


def command_line() -> str:
    """The command as the user typed it (``proxgan ...``)."""
    import shlex

    return "proxgan " + shlex.join(sys.argv[1:])


def write_results(
    out_dir: str | Path,
    *,
    command: str,
    config: dict[str, Any],
    results: dict[str, Any],
    figures: list[str] | None = None,
    wall_seconds: float | None = None,
) -> dict[str, Any]:
    """Write ``out_dir/results.json`` atomically and return the document."""
    doc = {
        "command": command,
        "versions": versions(),
        "config": config,
        "results": results,
        "figures": list(figures or []),
        "wall_seconds": wall_seconds,
    }
    write_json(Path(out_dir) / RESULTS_NAME, doc)
    return json.loads((Path(out_dir) / RESULTS_NAME).read_text())


def read_results(out_dir: str | Path) -> dict[str, Any]:
    """Read ``out_dir/results.json``; a missing or corrupt file is a :class:`ProxganError`."""
    path = Path(out_dir) / RESULTS_NAME
    if not path.is_file():
        raise ProxganError(f"no {RESULTS_NAME} in {str(out_dir)!r}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProxganError(f"corrupt {str(path)!r}: {exc}") from None
