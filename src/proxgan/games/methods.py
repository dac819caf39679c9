"""GDA-family methods as small pure transformations (optax style: ``init`` then ``step``).

A method is built with its hyper-parameters, ``method = eg(StepSizes(0.1, 0.1))``; then
``state = method.init(game, z0)`` and ``z, state = method.step(game, z, state)`` map a batch of
points z (B, m + n) to the next iterates without mutating anything. With V the game's vector field
(:meth:`Game.field`) and D = diag(η_θ I_m, η_φ I_n) the per-player step sizes:

    simgda  z⁺ = z − D V(z)                                         (lecture: Sim-GDA)
    altgda  θ⁺ = θ − η_θ ∇_θ g(θ, φ),  φ⁺ = φ + η_φ ∇_φ f(θ⁺, φ)       (lecture: Alt-GDA)
    ppm     z⁺ = z − D V(z⁺)                                        (lecture: proximal point)
    eg      z^½ = z − D V(z),  z⁺ = z − D V(z^½)                    (Korpelevich 1976)
    ogda    z⁺ = z − 2 D V(z) + D V(z⁻)                             (Daskalakis et al. 2018)
    kgda    k ascent steps on φ at fixed θ, then one descent step on θ   ((k,1)-GDA)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from proxgan.errors import ProxganError, check_positive, check_positive_int
from proxgan.games.game import DTYPE, Game


class StepSizes(NamedTuple):
    """Per-player step sizes η_θ (descent) and η_φ (ascent)."""

    theta: float
    phi: float


class Method(NamedTuple):
    """``init(game, z0) -> state``; ``step(game, z, state) -> (z⁺, state⁺)``."""

    name: str
    init: Callable[[Game, Tensor], Any]
    step: Callable[[Game, Tensor, Any], tuple[Tensor, Any]]


class Steps(NamedTuple):
    """Per-coordinate step vectors: D, and D restricted to θ or to φ coordinates."""

    both: Tensor
    theta: Tensor
    phi: Tensor


def step_vectors(game: Game, lr: StepSizes) -> Steps:
    """The diagonals of D, D_θ = D·1_θ and D_φ = D·1_φ for ``game``."""
    theta = lr.theta * game.player_mask("theta")
    phi = lr.phi * game.player_mask("phi")
    return Steps(theta + phi, theta, phi)


def step_vectors_init(lr: StepSizes) -> Callable[[Game, Tensor], Steps]:
    """``init`` of the memoryless methods: their state is just the step vectors."""
    return lambda game, z0: step_vectors(game, lr)


def simgda(lr: StepSizes) -> Method:
    """Simultaneous GDA: z⁺ = z − D V(z)."""

    def step(game: Game, z: Tensor, d: Steps) -> tuple[Tensor, Steps]:
        return z - d.both * game.field(z), d

    return Method("simgda", step_vectors_init(lr), step)


def altgda(lr: StepSizes) -> Method:
    """Alternating GDA: a descent step on θ, then an ascent step on φ at the new θ."""

    def step(game: Game, z: Tensor, d: Steps) -> tuple[Tensor, Steps]:
        z = z - d.theta * game.field(z)
        return z - d.phi * game.field(z), d

    return Method("altgda", step_vectors_init(lr), step)


def kgda(lr: StepSizes, k: int = 5) -> Method:
    """(k,1)-GDA: k ascent steps φ ← φ + η_φ ∇_φ f(θ, φ), then θ⁺ = θ − η_θ ∇_θ g(θ, φ_k)."""
    k = check_positive_int("k", k)

    def step(game: Game, z: Tensor, d: Steps) -> tuple[Tensor, Steps]:
        for _ in range(k):
            z = z - d.phi * game.field(z)
        return z - d.theta * game.field(z), d

    return Method("kgda", step_vectors_init(lr), step)


def eg(lr: StepSizes) -> Method:
    """Extragradient: z^½ = z − D V(z), z⁺ = z − D V(z^½)."""

    def step(game: Game, z: Tensor, d: Steps) -> tuple[Tensor, Steps]:
        return z - d.both * game.field(z - d.both * game.field(z)), d

    return Method("eg", step_vectors_init(lr), step)


class OgdaState(NamedTuple):
    steps: Steps
    previous_field: Tensor


def ogda(lr: StepSizes) -> Method:
    """Optimistic GDA: z⁺ = z − D(2V(z) − V(z⁻)); the first step uses V(z⁻) = V(z₀), i.e. Sim-GDA."""

    def init(game: Game, z0: Tensor) -> OgdaState:
        return OgdaState(step_vectors(game, lr), game.field(z0))

    def step(game: Game, z: Tensor, state: OgdaState) -> tuple[Tensor, OgdaState]:
        v = game.field(z)
        return z - state.steps.both * (2 * v - state.previous_field), OgdaState(state.steps, v)

    return Method("ogda", init, step)


class PpmState(NamedTuple):
    steps: Steps
    exact_solve: Tensor | None  # (I + D J)⁻ᵀ for affine games, else None
    inner_iterations: int  # largest number of fixed-point iterations any step needed so far


def ppm(lr: StepSizes, tol: float = 1e-12, max_inner: int = 1000) -> Method:
    """Proximal point: z⁺ solves z⁺ = z − D V(z⁺).

    Affine games (V = J z + v): exact linear solve z⁺ = (I + D J)⁻¹ (z − D v).
    General games: fixed-point iteration w ← z − D V(w) from w = z until
    max |w − z + D V(w)| ≤ ``tol`` (a contraction when η·Lip(V) < 1); more than ``max_inner``
    iterations is a :class:`ProxganError` (lower the step size).
    """
    tol = check_positive("ppm tolerance", tol)
    max_inner = check_positive_int("ppm max inner iterations", max_inner)

    def init(game: Game, z0: Tensor) -> PpmState:
        d = step_vectors(game, lr)
        if game.affine is None:
            return PpmState(d, None, 0)
        jac, _ = game.affine
        system = torch.eye(game.dim, dtype=DTYPE) + d.both[:, None] * jac
        try:
            return PpmState(d, torch.linalg.inv(system).T, 0)
        except torch.linalg.LinAlgError:
            raise ProxganError(f"ppm step undefined: I + D·J is singular at lr ({lr.theta:g}, {lr.phi:g}); "
                               "change --lr") from None

    def step(game: Game, z: Tensor, state: PpmState) -> tuple[Tensor, PpmState]:
        d = state.steps
        if state.exact_solve is not None:
            return (z - d.both * game.affine[1]) @ state.exact_solve, state
        w = z
        for iteration in range(1, max_inner + 1):
            target = z - d.both * game.field(w)
            if (target - w).abs().max() <= tol:
                return target, state._replace(inner_iterations=max(state.inner_iterations, iteration))
            w = target
        raise ProxganError(
            f"ppm inner solve did not reach tolerance {tol:g} in {max_inner} iterations at lr "
            f"({lr.theta:g}, {lr.phi:g}); the fixed-point iteration needs lr·Lipschitz(V) < 1: lower --lr"
        )

    return Method("ppm", init, step)


METHOD_NAMES = ("simgda", "altgda", "ppm", "eg", "ogda", "kgda")


def make_method(name: str, lr: StepSizes, *, k: int = 5, ppm_tol: float = 1e-12) -> Method:
    """The method called ``name`` with per-player step sizes ``lr`` (kgda uses ``k``, ppm ``ppm_tol``)."""
    if name == "kgda":
        return kgda(lr, k)
    if name == "ppm":
        return ppm(lr, ppm_tol)
    return {"simgda": simgda, "altgda": altgda, "eg": eg, "ogda": ogda}[name](lr)


def run_method(game: Game, method: Method, z0: Tensor, steps: int) -> tuple[Tensor, Any]:
    """Iterate ``method`` from the batch ``z0`` (B, m + n); returns the trajectory (steps + 1, B, m + n)
    and the final state."""
    trajectory = torch.empty((steps + 1, *z0.shape), dtype=DTYPE)
    trajectory[0] = z = z0.to(DTYPE)
    state = method.init(game, z)
    with torch.no_grad():
        for t in range(1, steps + 1):
            z, state = method.step(game, z, state)
            trajectory[t] = z
    return trajectory, state
