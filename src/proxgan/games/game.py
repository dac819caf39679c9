"""A two-player differentiable game min_θ max_φ f(θ, φ) and its vector field.

Points are batched and concatenated: ``z`` has shape ``(B, m + n)`` with θ = z[:, :m] and
φ = z[:, m:], so every method steps a whole batch of starting points at once. The methods only see
the game's vector field

    V(z) = (∇_θ g(θ, φ), −∇_φ f(θ, φ)),

where g = f for a zero-sum game and g is the generator's own loss otherwise (the non-saturating
GAN). A descent step on V is gradient descent for θ and ascent for φ (lecture, GDA slide).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

#: f(θ, φ) on a batch: θ (B, m), φ (B, n) -> (B,)
Payoff = Callable[[Tensor, Tensor], Tensor]

DTYPE = torch.float64


@dataclass(frozen=True)
class Game:
    """min_θ max_φ f(θ, φ), with θ ∈ R^m, φ ∈ R^n.

    ``equilibrium`` is the known stationary point z* (shape ``(m + n,)``) used to measure distances;
    ``generator_loss`` makes the game non-zero-sum (θ minimises g, φ maximises f);
    ``affine`` = (J, c) declares the field affine, V(z) = J z + c, which gives an analytic field, an
    exact proximal-point solve and the linear rate theory in :mod:`proxgan.games.rates`;
    ``analytic_field`` is a closed-form V for a non-affine game (else V comes from autograd on f, g).
    """

    name: str
    f: Payoff
    dim_theta: int
    dim_phi: int
    equilibrium: Tensor | None = None
    generator_loss: Payoff | None = None
    affine: tuple[Tensor, Tensor] | None = None
    analytic_field: Callable[[Tensor], Tensor] | None = None

    @property
    def dim(self) -> int:
        return self.dim_theta + self.dim_phi

    @property
    def zero_sum(self) -> bool:
        return self.generator_loss is None

    def split(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(θ, φ) views of a batch of points ``z`` (B, m + n)."""
        return z[..., : self.dim_theta], z[..., self.dim_theta :]

    def value(self, z: Tensor) -> Tensor:
        """f at each point of the batch ``z``."""
        return self.f(*self.split(z))

    def field(self, z: Tensor) -> Tensor:
        """V(z) = (∇_θ g, −∇_φ f) for a batch ``z`` (B, m + n): J z + c, the analytic field, or autograd."""
        if self.affine is not None:
            jac, offset = self.affine
            return torch.addmm(offset, z, jac.T)
        if self.analytic_field is not None:
            return self.analytic_field(z)
        with torch.enable_grad():
            theta, phi = (p.detach().requires_grad_(True) for p in self.split(z))
            grad_theta, grad_phi = torch.autograd.grad(self.f(theta, phi).sum(), (theta, phi))
            if self.generator_loss is not None:
                (grad_theta,) = torch.autograd.grad(self.generator_loss(theta, phi).sum(), theta)
        return torch.cat([grad_theta, -grad_phi], dim=-1)

    def player_mask(self, player: str) -> Tensor:
        """1 on the coordinates of ``player`` ('theta' or 'phi'), 0 elsewhere."""
        mask = torch.zeros(self.dim, dtype=DTYPE)
        if player == "theta":
            mask[: self.dim_theta] = 1
        else:
            mask[self.dim_theta :] = 1
        return mask

    def distance(self, z: Tensor) -> Tensor:
        """‖z − z*‖ for each point of ``z`` (..., m + n)."""
        if self.equilibrium is None:
            raise ValueError(f"game {self.name!r} has no known equilibrium")
        return torch.linalg.vector_norm(z - self.equilibrium, dim=-1)
