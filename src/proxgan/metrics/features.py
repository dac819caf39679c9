"""Batched feature extraction on the evaluation device and the on-disk cache of reference statistics,
shared by the Inception and classifier metrics."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from proxgan.files import atomic_write

#: ``progress(done, total)`` after each batch
Progress = Callable[[int, int], None]


@torch.no_grad()
def batched_apply(
    fn: Callable[[Tensor], Tensor | tuple[Tensor, ...]],
    x: Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> tuple[Tensor, ...]:
    """Apply ``fn`` to ``x`` in batches on ``device``; return its output(s) concatenated on the CPU."""
    chunks: list[tuple[Tensor, ...]] = []
    for start in range(0, len(x), batch_size):
        out = fn(x[start : start + batch_size].to(device))
        chunks.append(tuple(o.cpu() for o in (out if isinstance(out, tuple) else (out,))))
        if progress is not None:
            progress(min(start + batch_size, len(x)), len(x))
    return tuple(torch.cat(parts) for parts in zip(*chunks))


def default_cache_dir() -> Path:
    """``$PROXGAN_CACHE`` or ``~/.cache/proxgan``: converted weights and reference statistics."""
    return Path(os.environ.get("PROXGAN_CACHE", Path.home() / ".cache" / "proxgan"))


def cache_file(cache_dir: str | Path, kind: str, **key: object) -> Path:
    """``cache_dir/<kind>-<k1>=<v1>-<k2>=<v2>….npz``: the key names everything the cached arrays depend on."""
    parts = [f"{k}={re.sub(r'[^A-Za-z0-9_.]+', '_', str(v))}" for k, v in key.items()]
    return Path(cache_dir) / (kind + "-" + "-".join(parts) + ".npz")


def cached_arrays(path: Path, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays stored in ``path``; on a miss (or an unreadable file) ``compute()`` them and write atomically."""
    if path.is_file():
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError):
            pass  # corrupt cache entry: recompute and overwrite
    arrays = compute()
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return arrays


def tensor_digest(x: Tensor) -> str:
    """First 12 hex digits of the sha256 of a tensor's bytes: identifies a reference set in cache keys."""
    return hashlib.sha256(x.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:12]
