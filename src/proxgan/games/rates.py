"""Contraction factors ρ (asymptotic per-step ratio of ‖z − z*‖²) and conserved quantities.

Bilinear games f = θᵀAφ (+ linear terms, which only move z*): in the singular bases of A the
dynamics split into 2-D blocks f = s·θᵢφᵢ, one per singular value s (s = 0 for the unmatched
coordinates of a non-square A). With ω² = η_θ η_φ s², each method's block map has eigenvalues λ
and factor |λ|² (with η_θ = η_φ = η the map is a scaled rotation and the factor is exact at every
step, not only asymptotically):

    simgda  λ = 1 ± iω                      |λ|² = 1 + ω²
    ppm     λ = 1 / (1 ± iω)                |λ|² = 1 / (1 + ω²)
    eg      λ = 1 − ω² ∓ iω                 |λ|² = 1 − ω² + ω⁴
    ogda    λ² = (1 − 2iω)λ + iω            |λ|² = (1 + √(1 − 4ω²))/2            (ω ≤ ½)
                                                 = (1 + (2ω + √(4ω² − 1))²)/4    (ω > ½)
    altgda  det = 1, trace = 2 − ω²         |λ|² = 1 (ω² ≤ 4), else ((ω² − 2 + √((ω²−2)² − 4))/2)²
    kgda    as altgda with ω² → k·ω²

and ρ = max over the blocks. Alternating GDA (ω² < 4) conserves the quadratic form

    E(θ, φ) = ‖θ‖²/η_θ + ‖φ‖²/η_φ − θᵀAφ        (lecture case θ·φ, η: (θ² + φ² − ηθφ)/η)

(proof: φ⁺ − η_φAᵀθ⁺ = φ and θ⁺ + η_θAφ = θ give E(θ⁺, φ⁺) = E(θ, φ)), an ellipse when
η_θη_φ s_max² < 4, so the orbit is bounded and never converges. (k,1)-GDA updates φ first with
effective step kη_φ and conserves ‖θ‖²/η_θ + ‖φ‖²/(kη_φ) + θᵀAφ.

Any affine game (V = J z + v): every method is a linear map M of z − z* and ρ = spectral radius(M)²
(:func:`iteration_matrix`), which is how ``quadratic`` games get their theoretical ρ.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from proxgan.games.game import DTYPE, Game
from proxgan.games.methods import StepSizes, step_vectors


def bilinear_factor(method: str, s: Tensor, lr: StepSizes, k: int = 5) -> Tensor:
    """|λ|² of ``method`` on the block f = s·θφ (table in the module docstring), elementwise in s."""
    w2 = lr.theta * lr.phi * torch.as_tensor(s, dtype=DTYPE) ** 2
    if method == "simgda":
        return 1 + w2
    if method == "ppm":
        return 1 / (1 + w2)
    if method == "eg":
        return 1 - w2 + w2**2
    if method == "ogda":
        inside = 1 - 4 * w2
        below = (1 + inside.clamp(min=0).sqrt()) / 2
        above = (1 + (2 * w2.sqrt() + (-inside).clamp(min=0).sqrt()) ** 2) / 4
        return torch.where(inside >= 0, below, above)
    if method in ("altgda", "kgda"):
        c = w2 * (k if method == "kgda" else 1)
        return torch.where(c <= 4, torch.ones_like(c), ((c - 2 + ((c - 2) ** 2 - 4).clamp(min=0).sqrt()) / 2) ** 2)
    raise ValueError(f"no closed form for method {method!r}")


def bilinear_coupling(game: Game) -> Tensor | None:
    """A when ``game`` is bilinear (affine field with zero P and Q blocks), else None."""
    if game.affine is None:
        return None
    jac, _ = game.affine
    m = game.dim_theta
    if jac[:m, :m].abs().max() > 0 or jac[m:, m:].abs().max() > 0:
        return None
    return jac[:m, m:]


def singular_values(A: Tensor) -> Tensor:
    """Singular values of A, padded with zeros to max(m, n) (the stationary directions of θᵀAφ)."""
    s = torch.linalg.svdvals(A)
    return torch.cat([s, torch.zeros(max(A.shape) - len(s), dtype=s.dtype)])


def bilinear_rho(method: str, A: Tensor, lr: StepSizes, k: int = 5) -> float:
    """ρ of ``method`` on f = θᵀAφ: the worst block factor over the singular values of A."""
    return float(bilinear_factor(method, singular_values(A), lr, k).max())


def iteration_matrix(method: str, game: Game, lr: StepSizes, k: int = 5) -> Tensor:
    """The linear map of z − z* one step of ``method`` applies on an affine game (V = J z + v).

    simgda I − DJ; altgda (I − D_φJ)(I − D_θJ); kgda (I − D_θJ)(I − D_φJ)^k; eg I − DJ + (DJ)²;
    ppm (I + DJ)⁻¹; ogda acts on (z_t, z_{t−1}): [[I − 2DJ, DJ], [I, 0]].
    """
    jac, _ = game.affine
    d = step_vectors(game, lr)
    eye = torch.eye(game.dim, dtype=DTYPE)
    DJ, DJ_theta, DJ_phi = (v[:, None] * jac for v in d)
    if method == "simgda":
        return eye - DJ
    if method == "altgda":
        return (eye - DJ_phi) @ (eye - DJ_theta)
    if method == "kgda":
        return (eye - DJ_theta) @ torch.linalg.matrix_power(eye - DJ_phi, k)
    if method == "eg":
        return eye - DJ + DJ @ DJ
    if method == "ppm":
        return torch.linalg.inv(eye + DJ)
    if method == "ogda":
        return torch.cat([torch.cat([eye - 2 * DJ, DJ], 1), torch.cat([eye, torch.zeros_like(eye)], 1)], 0)
    raise ValueError(f"no iteration matrix for method {method!r}")


def spectral_rho(method: str, game: Game, lr: StepSizes, k: int = 5) -> float:
    """ρ = spectral radius of :func:`iteration_matrix` squared."""
    eig = torch.linalg.eigvals(iteration_matrix(method, game, lr, k))
    return float(eig.abs().max() ** 2)


def theoretical_rho(method: str, game: Game, lr: StepSizes, k: int = 5) -> tuple[float | None, str | None]:
    """(ρ, source): the closed form for bilinear games, the spectral radius for other affine games,
    (None, None) for general games."""
    A = bilinear_coupling(game)
    if A is not None:
        return bilinear_rho(method, A, lr, k), "closed form in the singular values of A"
    if game.affine is not None:
        return spectral_rho(method, game, lr, k), "spectral radius of the iteration matrix"
    return None, None


def conserved_quantity(method: str, game: Game, lr: StepSizes, k: int = 5) -> Callable[[Tensor], Tensor] | None:
    """E(z) conserved by altgda / kgda on a bilinear game (module docstring), else None.

    Measured from the equilibrium: θ, φ stand for θ − θ*, φ − φ*.
    """
    A = bilinear_coupling(game)
    if A is None or method not in ("altgda", "kgda"):
        return None
    eta_phi, sign = (lr.phi, -1.0) if method == "altgda" else (k * lr.phi, 1.0)

    def energy(z: Tensor) -> Tensor:
        theta, phi = game.split(z - game.equilibrium)
        coupling = ((theta @ A) * phi).sum(-1)
        return (theta**2).sum(-1) / lr.theta + (phi**2).sum(-1) / eta_phi + sign * coupling

    return energy
