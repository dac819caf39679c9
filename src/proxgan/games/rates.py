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

Iterate averaging (Lecture 13; Yazıcı et al. 2019): the running average z̄_t = (1/t) Σ_{j<t} z_j of the first t
iterates z_0, …, z_{t−1} of a linear method is exactly

    z̄_t − z* = (1/t) Σ_{j<t} M^j (z_0 − z*) = (1/t)(I − M)⁻¹(I − M^t)(z_0 − z*)

(:func:`averaged_displacement`). For altgda (and kgda) on a bilinear game with c = ω² (kω²) < 4,
each block map has det 1 and trace 2 − c, and it preserves the positive-definite form E above, so in
the norm ‖·‖_E = √E it is a rotation by α, cos α = 1 − c/2, i.e. sin(α/2) = √c/2. A sum of
rotations is a scaled rotation, |Σ_{j<t} e^{ijα}| = |sin(tα/2)|/sin(α/2), hence per block

    ‖z̄_t − z*‖_E = |sin(tα/2)| / (t sin(α/2)) · ‖z_0 − z*‖_E ≤ min(1, 2/(√c t)) · ‖z_0 − z*‖_E

(:func:`averaged_rotation`): O(1/t) although the last iterate cycles forever. For simgda on one
block with η_θ = η_φ the map is the scaled rotation λ = 1 ± iω and |z̄_t − z*| =
|1 − λ^t| / (tω) · |z_0 − z*| ≥ (ρ^{t/2} − 1)/(tω) · |z_0 − z*|: the average cannot stop the spiral.
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


def averaged_displacement(method: str, game: Game, lr: StepSizes, z0: Tensor, t: int, k: int = 5) -> Tensor | None:
    """z̄_t − z* = (1/t)(I − M)⁻¹(I − M^t)(z_0 − z*) for the mean z̄_t of z_0, …, z_{t−1} (module docstring)
    on an affine game, for a point or batch ``z0``; None when I − M is singular (the method leaves a
    direction of z_0 − z* fixed). ogda's M acts on (z_j, z_{j−1}) from (z_0, z_0) (its first step is simgda's).
    """
    M = iteration_matrix(method, game, lr, k)
    eye = torch.eye(len(M), dtype=DTYPE)
    if int(torch.linalg.matrix_rank(eye - M)) < len(M):
        return None
    offset = torch.as_tensor(z0, dtype=DTYPE) - game.equilibrium
    if method == "ogda":
        offset = torch.cat([offset, offset], dim=-1)
    partial_sum = torch.linalg.solve(eye - M, eye - torch.linalg.matrix_power(M, t))
    return (offset @ partial_sum.T)[..., : game.dim] / t


def averaged_rotation(method: str, game: Game, lr: StepSizes, z0: Tensor, t: int,
                      k: int = 5) -> tuple[float, float] | None:
    """(‖z̄_t − z*‖_E exactly, its bound) for altgda / kgda on a bilinear game from the point ``z0``.

    In the singular bases of A (θ' = Uᵀ(θ − θ*), φ' = Vᵀ(φ − φ*)) E splits into block energies E_i, each
    conserved, and block i of the average has E_i(z̄_t) = (sin(tα_i/2)/(t sin(α_i/2)))² E_i(z_0) with
    sin(α_i/2) = √c_i/2 (factor 1 where s_i = 0, and on the unmatched coordinates of a non-square A);
    the bound is max_i min(1, 2/(√c_i t)) · ‖z_0 − z*‖_E (module docstring). None for other methods or
    games, or when some c_i ≥ 4 (no rotation: the iterates diverge).
    """
    A = bilinear_coupling(game)
    if A is None or method not in ("altgda", "kgda"):
        return None
    scale, sign = (1, -1.0) if method == "altgda" else (k, 1.0)
    U, s, Vh = torch.linalg.svd(A)
    c = lr.theta * lr.phi * scale * s**2
    if bool((c >= 4).any()):
        return None
    theta, phi = game.split(torch.as_tensor(z0, dtype=DTYPE) - game.equilibrium)
    theta, phi = theta @ U, phi @ Vh.T
    r, eta_phi = len(s), scale * lr.phi
    block_energy = theta[:r] ** 2 / lr.theta + phi[:r] ** 2 / eta_phi + sign * s * theta[:r] * phi[:r]
    unmatched_energy = (theta[r:] ** 2).sum() / lr.theta + (phi[r:] ** 2).sum() / eta_phi
    half_sine = c.sqrt() / 2
    rotating = half_sine > 0
    half_angle = torch.asin(half_sine)
    factor = torch.where(rotating, (t * half_angle).sin().abs() / (t * half_sine.where(rotating, 1.0)), 1.0)
    exact = float(((factor**2 * block_energy).sum() + unmatched_energy).sqrt())
    bound_factor = torch.where(rotating, (2 / (c.sqrt().where(rotating, 1.0) * t)).clamp(max=1.0), 1.0)
    if len(theta) > r or len(phi) > r:
        bound_factor = torch.cat([bound_factor, torch.ones(1, dtype=DTYPE)])
    bound = float(bound_factor.max() * (block_energy.sum() + unmatched_energy).sqrt())
    return exact, bound
