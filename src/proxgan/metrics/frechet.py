"""Fréchet distance between Gaussians: FID, classifier FID and the Gaussian 2-Wasserstein distance.

For N(μ₁, Σ₁) and N(μ₂, Σ₂) the squared 2-Wasserstein distance has the closed form (Dowson &
Landau 1982; the Bures metric on covariances)

    d²  =  ‖μ₁ − μ₂‖²  +  tr Σ₁  +  tr Σ₂  −  2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2},

which is exactly the Fréchet Inception Distance (Heusel et al. 2017) when the moments are those of
Inception pool features. One function serves FID, the classifier FID and W2 on Gaussian data.
"""

from __future__ import annotations

import numpy as np
import torch


def gaussian_moments(x: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (float64) of the rows of ``x`` (N, d), as in torch-fidelity/TTUR."""
    x = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def psd_sqrt(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (negative round-off eigenvalues → 0)."""
    vals, vecs = np.linalg.eigh((a + a.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}  (= W₂² between the two Gaussians).

    The trace of the matrix square root is the sum of the square roots of the eigenvalues of the
    symmetric PSD matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2}; this is stable where ``scipy.linalg.sqrtm`` of the
    non-symmetric Σ₁Σ₂ is not. Clipped at 0 against round-off.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    root1 = psd_sqrt(cov1)
    cross = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    tr_cross = np.sqrt(np.clip(cross, 0.0, None)).sum()
    diff = mu1 - mu2
    return max(float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_cross), 0.0)


def features_frechet_distance(f1: torch.Tensor | np.ndarray, f2: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (N₁, d) and (N₂, d)."""
    return frechet_distance(*gaussian_moments(f1), *gaussian_moments(f2))
