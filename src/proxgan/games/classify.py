"""Local equilibrium type of a point of a zero-sum game, from the exact Hessian blocks.

The Hessian comes from double backward (``torch.autograd.functional``): exact like ``torch.func``,
whose first call in torch 2.14 imports torch._dynamo (seconds) and would dominate ``classify``.

With H = ∇²f(θ, φ) split into H_θθ, H_θφ, H_φθ, H_φφ at a stationary point (∇f = 0):

    local Nash     H_θθ ⪰ 0 and H_φφ ⪯ 0   (second-order conditions: θ minimises f(·, φ),
                                             φ maximises f(θ, ·) locally)
    local minimax  H_φφ ≺ 0 and H_θθ − H_θφ H_φφ⁻¹ H_φθ ⪰ 0   (Jin, Netrapalli & Jordan 2019:
                                             φ best-responds, θ minimises max_φ f; the Schur
                                             complement is the Hessian of θ ↦ max_φ f(θ, φ))

Eigenvalues are compared with a tolerance ``tol``·max(1, ‖H‖). A local Nash point with H_φφ ≺ 0 is
also local minimax; the converse fails (e.g. f = −θ²/2 + 2θφ − φ²/2 at 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.functional import hessian, jacobian

from proxgan.errors import ProxganError
from proxgan.games.game import DTYPE, Game


@dataclass(frozen=True)
class Classification:
    """Verdict and the numbers behind it (eigenvalues in ascending order)."""

    verdict: str  # "not stationary" | "local Nash" | "local minimax (not Nash)" | "neither"
    stationary: bool
    local_nash: bool
    local_minimax: bool
    gradient_norm: float
    eig_theta_theta: list[float]
    eig_phi_phi: list[float]
    eig_schur: list[float] | None  # None when H_φφ is singular


def hessian_blocks(game: Game, z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(∇f, H_θθ, H_θφ, H_φφ) of f at the single point ``z`` (m + n,), exactly (double backward)."""

    def f(point: Tensor) -> Tensor:
        return game.value(point[None])[0]

    z = torch.as_tensor(z, dtype=DTYPE)
    m = game.dim_theta
    H = hessian(f, z)
    return jacobian(f, z), H[:m, :m], H[:m, m:], H[m:, m:]


def classify(game: Game, z: Tensor, tol: float = 1e-9) -> Classification:
    """Classify the point ``z`` = (θ, φ) of the zero-sum ``game`` (module docstring)."""
    if not game.zero_sum:
        raise ProxganError(f"game {game.name!r} is not zero-sum here; local Nash/minimax classification needs one f")
    gradient, Htt, Htp, Hpp = hessian_blocks(game, z)
    scale = tol * max(1.0, float(torch.linalg.matrix_norm(torch.cat([Htt, Htp], 1), ord=2)),
                      float(torch.linalg.matrix_norm(Hpp, ord=2)))
    eig_tt, eig_pp = torch.linalg.eigvalsh(Htt), torch.linalg.eigvalsh(Hpp)
    stationary = float(torch.linalg.vector_norm(gradient)) <= scale
    nash = bool(eig_tt.min() >= -scale and eig_pp.max() <= scale)
    phi_strictly_concave = bool(eig_pp.max() < -scale)
    eig_schur = None
    if phi_strictly_concave:
        eig_schur = torch.linalg.eigvalsh(Htt - Htp @ torch.linalg.solve(Hpp, Htp.T))
    minimax = phi_strictly_concave and bool(eig_schur.min() >= -scale)
    if not stationary:
        verdict = "not stationary"
    elif nash:
        verdict = "local Nash"
    elif minimax:
        verdict = "local minimax (not Nash)"
    else:
        verdict = "neither"
    return Classification(
        verdict,
        stationary,
        stationary and nash,
        stationary and minimax,
        float(torch.linalg.vector_norm(gradient)),
        eig_tt.tolist(),
        eig_pp.tolist(),
        None if eig_schur is None else eig_schur.tolist(),
    )
