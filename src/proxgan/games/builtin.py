"""Built-in games: bilinear (incl. the linear WGAN), quadratic, and the Dirac-GAN.

    bilinear   f = θᵀAφ + bᵀθ + cᵀφ              (lecture: θ·φ; linear WGAN f = φ·(E[x] − θ))
    quadratic  f = ½θᵀPθ + θᵀBφ − ½φᵀQφ + bᵀθ + cᵀφ  (convex-concave iff P ⪰ 0, Q ⪰ 0)
    dirac      p_θ = δ_θ, data δ_0, D(x) = φᵀx       (Mescheder et al. 2018)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from proxgan.errors import ProxganError, check_choice, check_finite, check_memory, check_positive_int
from proxgan.games import DIRAC_LOSSES, GAMES
from proxgan.games.game import DTYPE, Game


def quadratic(P: Tensor, B: Tensor, Q: Tensor, b: Tensor | None = None, c: Tensor | None = None,
              name: str = "quadratic") -> Game:
    """f = ½θᵀPθ + θᵀBφ − ½φᵀQφ + bᵀθ + cᵀφ, an affine-field game.

    V(z) = J z + v with J = [[P, B], [−Bᵀ, Q]] and v = (b, −c); the equilibrium solves J z* = −v
    (minimum-norm solution when J is singular).
    """
    P, B, Q = (torch.as_tensor(x, dtype=DTYPE) for x in (P, B, Q))
    m, n = B.shape
    b = torch.zeros(m, dtype=DTYPE) if b is None else torch.as_tensor(b, dtype=DTYPE)
    c = torch.zeros(n, dtype=DTYPE) if c is None else torch.as_tensor(c, dtype=DTYPE)
    jac = torch.cat([torch.cat([P, B], 1), torch.cat([-B.T, Q], 1)], 0)
    offset = torch.cat([b, -c])
    equilibrium = torch.linalg.pinv(jac) @ (-offset)

    def f(theta: Tensor, phi: Tensor) -> Tensor:
        return (0.5 * ((theta @ P) * theta).sum(-1) + ((theta @ B) * phi).sum(-1)
                - 0.5 * ((phi @ Q) * phi).sum(-1) + theta @ b + phi @ c)

    return Game(name, f, m, n, equilibrium=equilibrium, affine=(jac, offset))


def bilinear(A: Tensor, b: Tensor | None = None, c: Tensor | None = None) -> Game:
    """f = θᵀAφ + bᵀθ + cᵀφ: the quadratic game with P = Q = 0."""
    A = torch.as_tensor(A, dtype=DTYPE)
    m, n = A.shape
    return quadratic(torch.zeros(m, m), A, torch.zeros(n, n), b, c, name="bilinear")


def linear_wgan(data_mean: Tensor) -> Game:
    """WGAN with linear generator G(z) = θ and critic D(x) = φᵀx: f = φᵀ(E[x] − θ) (lecture).

    The bilinear game with A = −I, c = E[x]; its equilibrium is θ* = E[x], φ* = 0.
    """
    mean = torch.as_tensor(data_mean, dtype=DTYPE).reshape(-1)
    return bilinear(-torch.eye(len(mean), dtype=DTYPE), c=mean)


def coupling_matrix(dim: int, coupling: float, seed: int) -> Tensor:
    """A = coupling·[[1]] for dim 1, else coupling·G/√dim with G a seeded standard Gaussian matrix."""
    if dim == 1:
        return torch.full((1, 1), coupling, dtype=DTYPE)
    gen = torch.Generator().manual_seed(seed)
    return coupling * torch.randn(dim, dim, generator=gen, dtype=DTYPE) / math.sqrt(dim)


def dirac(loss: str = "vanilla", dim: int = 1) -> Game:
    """Dirac-GAN: generator δ_θ, data δ_0, discriminator logit D(x) = φᵀx.

    f(θ, φ) = h(−φᵀθ) + h(0) with h = log σ (vanilla) or h(t) = t (WGAN: f = −φᵀθ).
    Non-saturating: φ still maximises the vanilla f, θ minimises g = −log σ(φᵀθ).
    The unique stationary point is (0, 0). With u = φᵀθ the field is
    V = (−φ·a(u), θ·σ(u)), a = σ(u) (vanilla), σ(−u) (non-saturating); a = σ = 1 for the WGAN.
    """
    check_choice("loss", loss, DIRAC_LOSSES)
    h = (lambda t: t) if loss == "wgan" else F.logsigmoid
    sigma = (lambda u: torch.ones_like(u)) if loss == "wgan" else torch.sigmoid

    def f(theta: Tensor, phi: Tensor) -> Tensor:
        return h(-(phi * theta).sum(-1)) + h(torch.zeros((), dtype=theta.dtype))

    def nonsaturating(theta: Tensor, phi: Tensor) -> Tensor:
        return -F.logsigmoid((phi * theta).sum(-1))

    def field(z: Tensor) -> Tensor:
        theta, phi = z[..., :dim], z[..., dim:]
        u = (phi * theta).sum(-1, keepdim=True)
        generator_weight = sigma(-u) if loss == "nonsaturating" else sigma(u)
        return torch.cat([-phi * generator_weight, theta * sigma(u)], dim=-1)

    return Game(
        "dirac",
        f,
        dim,
        dim,
        equilibrium=torch.zeros(2 * dim, dtype=DTYPE),
        generator_loss=nonsaturating if loss == "nonsaturating" else None,
        analytic_field=field,
    )


def make_game(name: str, *, dim: int = 1, coupling: float = 1.0, seed: int = 0, p: float = 1.0,
              q: float = 1.0, loss: str = "vanilla", data_mean: float | None = None) -> Game:
    """Build a built-in game from CLI-style parameters (validated here: bad input is a ProxganError).

    bilinear: A = :func:`coupling_matrix`, or the linear WGAN when ``data_mean`` is given;
    quadratic: P = p·I, B = A, Q = q·I; dirac: ``loss`` in vanilla / nonsaturating / wgan.
    """
    check_choice("game", name, GAMES)
    dim = check_positive_int("dim", dim)
    check_memory(f"a {name} game with dim={dim}", 4 * 8.0 * (2 * dim) ** 2)  # a few (2d × 2d) float64 matrices
    coupling = check_finite("coupling", coupling)
    if name == "dirac":
        return dirac(loss, dim)
    A = coupling_matrix(dim, coupling, seed)
    if name == "bilinear":
        if data_mean is not None:
            return linear_wgan(torch.full((dim,), check_finite("data mean", data_mean)))
        return bilinear(A)
    p, q = check_finite("p", p), check_finite("q", q)
    if coupling == 0 and p == 0 and q == 0:
        raise ProxganError("quadratic game with p = q = coupling = 0 is constant")
    eye = torch.eye(dim, dtype=DTYPE)
    return quadratic(p * eye, A, q * eye)
