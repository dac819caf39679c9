"""The ``results.json`` every command writes, and the output directory it lives in.

Schema: ``{"command", "versions", "config", "results", "figures", "wall_seconds"}``; figures are PNG
files beside it, named relative to the directory. The report reads only these files.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from proxgan import __version__
from proxgan.errors import ProxganError, check_path
from proxgan.files import write_json

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
    """Create ``path`` if needed and check it is a writable directory (an empty path is refused)."""
    path = check_path("output directory", path)
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


#: the entries of every results.json with their types (``None`` allowed for the wall time)
RESULTS_FIELDS: dict[str, type | tuple[type, ...]] = {
    "command": str, "versions": dict, "config": dict, "results": dict, "figures": list,
    "wall_seconds": (int, float, type(None)),
}  # fmt: skip


def read_results(out_dir: str | Path, *, require: Iterable[str] = ()) -> dict[str, Any]:
    """Read ``out_dir/results.json`` and check its schema; ``require`` names dotted entries that must be
    mappings too (e.g. ``results.summary``). A missing, damaged or foreign file is a :class:`ProxganError`."""
    path = Path(out_dir) / RESULTS_NAME
    if not path.is_file():
        raise ProxganError(f"no {RESULTS_NAME} in {str(out_dir)!r}")
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProxganError(f"corrupt {str(path)!r}: {exc}") from None
    except OSError as exc:
        raise ProxganError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    if not isinstance(doc, dict):
        raise ProxganError(f"corrupt {str(path)!r}: a JSON {type(doc).__name__}, not a proxgan results document")
    for key, kind in RESULTS_FIELDS.items():
        if not isinstance(doc.get(key, ...), kind) or isinstance(doc.get(key), bool):
            raise ProxganError(f"corrupt {str(path)!r}: {key!r} is missing or of the wrong type")
    if not all(isinstance(name, str) for name in doc["figures"]):
        raise ProxganError(f"corrupt {str(path)!r}: 'figures' must list file names")
    for dotted in require:
        node: Any = doc
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise ProxganError(f"corrupt {str(path)!r}: {dotted!r} is missing or not a mapping")
    return doc
