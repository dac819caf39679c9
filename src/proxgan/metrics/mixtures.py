"""Mode coverage on mixtures of Gaussians (ring8, grid25), the protocol of Metz et al. 2017 (Unrolled
GAN), Srivastava et al. 2017 (VEEGAN) and Lin et al. 2018 (PacGAN).

Each sample is assigned to its nearest mode centre c_k. It is *high quality* when it lies within
``n_std`` (= 3) standard deviations of that centre, ‖x − c_k‖ ≤ 3σ. A mode is *covered* when at
least ``min_count`` high-quality samples are assigned to it (PacGAN: 20 of 2,500 samples for the
25-mode grid, i.e. 0.8 % of the samples; VEEGAN counts a mode once it has any).
"""

from __future__ import annotations

import torch
from torch import Tensor

from proxgan.errors import ProxganError

#: PacGAN's threshold as a fraction of the samples: 20 of 2,500
MIN_FRACTION = 20 / 2500


def mode_coverage(samples: Tensor, centers: Tensor, std: float, *, n_std: float = 3.0,
                  min_count: int | None = None) -> dict:
    """Modes covered, fraction of high-quality samples and per-mode counts of high-quality samples.

    ``min_count`` defaults to ⌈0.8 % of the samples⌉ (at least 1).
    """
    if samples.dim() != 2 or samples.shape[1] != centers.shape[1]:
        raise ProxganError(f"mode coverage needs points (N, {centers.shape[1]}), got shape {tuple(samples.shape)}")
    if min_count is None:
        min_count = max(1, int(torch.tensor(MIN_FRACTION * len(samples)).ceil()))
    dist = torch.cdist(samples.double().cpu(), centers.double().cpu())
    nearest, mode = dist.min(dim=1)
    good = nearest <= n_std * std
    counts = torch.bincount(mode[good], minlength=len(centers))
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "n_modes": len(centers),
        "high_quality_fraction": float(good.double().mean()),
        "counts": counts.tolist(),
        "min_count": min_count,
        "n_std": n_std,
    }
