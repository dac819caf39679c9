"""Wasserstein distances for point data (the Gaussian games of §3–4 and the mixtures).

- Gaussian: the exact W₂ between N(μ̂, Σ̂) fitted to the samples and the target N(μ, Σ):
  W₂² = ‖μ̂ − μ‖² + tr Σ̂ + tr Σ − 2 tr (Σ̂^{1/2} Σ Σ̂^{1/2})^{1/2} (Bures; ``frechet.frechet_distance``).
- Any two sample sets: the empirical W_p (p = 1, 2) between their uniform empirical measures,
  W_p^p = min over couplings π of Σ π_ij ‖x_i − y_j‖^p, solved exactly by POT's network simplex
  (``ot.emd2``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from proxgan.errors import ProxganError
from proxgan.metrics.frechet import frechet_distance, gaussian_moments


def gaussian_w2(samples: Tensor, mean: Tensor | np.ndarray, cov: Tensor | np.ndarray) -> float:
    """Exact W₂ between the Gaussian fitted to ``samples`` (N, d) and N(mean, cov)."""
    mu_hat, cov_hat = gaussian_moments(samples)
    mean = np.asarray(torch.as_tensor(mean, dtype=torch.float64).cpu()).reshape(-1)
    cov = np.asarray(torch.as_tensor(cov, dtype=torch.float64).cpu())
    if cov.ndim == 0:  # σ² shorthand for σ²I
        cov = float(cov) * np.eye(len(mean))
    if mu_hat.shape != mean.shape or cov.shape != (len(mean), len(mean)):
        raise ProxganError(f"samples of dimension {len(mu_hat)} do not match the target of dimension {len(mean)}")
    return float(np.sqrt(frechet_distance(mu_hat, cov_hat, mean, cov)))


def empirical_wasserstein(x: Tensor, y: Tensor, p: int = 2) -> float:
    """W_p between the uniform empirical measures of ``x`` (N, d) and ``y`` (M, d), exactly (POT ``ot.emd2``)."""
    import ot

    if p not in (1, 2):
        raise ProxganError(f"empirical Wasserstein order must be 1 or 2, got {p}")
    x = x.detach().double().cpu().reshape(len(x), -1).numpy()
    y = y.detach().double().cpu().reshape(len(y), -1).numpy()
    cost = ot.dist(x, y, metric="euclidean" if p == 1 else "sqeuclidean")
    a, b = np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y))
    return float(ot.emd2(a, b, cost, numItermax=10_000_000)) ** (1.0 / p)
