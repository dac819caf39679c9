"""The Sobolev proximal operator of a GAN objective: eqs. (11), (15), Proposition 4, Algorithm 1.

The proximal objective (eq. 11) with the Sobolev semi-norm ||D||_{Ḣ¹}² = E_P[||∇ₓD(X)||²] (eq. 15) is

    V_λ^prox(G, D_{w_k}) = max_w  V(G, D_w) - λ/(2n) Σᵢ ||∇ₓD_w(xᵢ) - ∇ₓD_{w_k}(xᵢ)||²,

estimated on a real batch x_1..x_n exactly as in Algorithm 1 (whose 1/2 factor we keep). The
penalty depends on w only through input gradients, so its w-gradient needs double
backpropagation: ∇ₓD_w is computed with ``create_graph=True`` and the penalty is backpropagated
through it. :func:`proximal_maximize` runs the inner ascent of Algorithm 1 from w_k.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from proxgan.errors import check_choice, check_nonnegative, check_positive, check_positive_int

if TYPE_CHECKING:  # objectives imports this module (for ∇ₓD in the gradient penalty)
    from proxgan.objectives import Formulation


def scores_and_input_gradients(D: nn.Module, x: Tensor, *, create_graph: bool) -> tuple[Tensor, Tensor]:
    """D(xᵢ) and ∇ₓD(xᵢ) from one forward pass (works under ``torch.no_grad`` too).

    With ``create_graph=True`` both are differentiable in D's weights, so a loss built from them
    backpropagates into w through the input gradient (double backprop).
    """
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        scores = D(x)
        (grads,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph, retain_graph=True)
    return scores, grads


def input_gradients(D: nn.Module, x: Tensor, *, create_graph: bool) -> Tensor:
    """∇ₓD(xᵢ) for every sample (D scores samples independently), same shape as ``x``."""
    return scores_and_input_gradients(D, x, create_graph=create_graph)[1]


def mean_sq_gradient_distance(grads: Tensor, other: Tensor) -> Tensor:
    """(1/n) Σᵢ ||gradsᵢ - otherᵢ||², the empirical Sobolev distance between two gradient fields."""
    return (grads - other).pow(2).flatten(1).sum(dim=1).mean()


def sobolev_penalty(D: nn.Module, x: Tensor, ref_grads: Tensor) -> Tensor:
    """(1/(2n)) Σᵢ ||∇ₓD_w(xᵢ) - refᵢ||² (Algorithm 1), differentiable in w by double backprop."""
    grads = input_gradients(D, x, create_graph=True)
    return 0.5 * mean_sq_gradient_distance(grads, ref_grads.detach())


def sobolev_distance_sq(D1: nn.Module, D2: nn.Module, x: Tensor) -> Tensor:
    """||D1 - D2||²_{Ḣ¹} estimated on x (eq. 15): (1/n) Σᵢ ||∇ₓD1(xᵢ) - ∇ₓD2(xᵢ)||².

    Differentiable in D1's weights when grad mode is on; D2 is treated as fixed.
    """
    grads1 = input_gradients(D1, x, create_graph=torch.is_grad_enabled())
    grads2 = input_gradients(D2, x, create_graph=False)
    return mean_sq_gradient_distance(grads1, grads2)


OPTIMIZERS = ("adam", "rmsprop", "sgd")


def make_optimizer(name: str, params, *, lr: float, betas: tuple[float, float] = (0.5, 0.9)) -> torch.optim.Optimizer:
    """The torch optimizer ``name`` (one of :data:`OPTIMIZERS`; betas are Adam's only)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.SGD(params, lr=lr)


@dataclass(frozen=True)
class ProximalConfig:
    """Inner maximization of Algorithm 1; defaults from paper §6.2 (λ = 0.1, T = 20 Adam steps).

    lr and betas follow the WGAN-GP Adam settings (Gulrajani et al. 2017). ``fresh_batches``
    draws a new (real, fake) pair for every inner step instead of reusing the outer batch.
    """

    lam: float = 0.1
    steps: int = 20
    optimizer: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    fresh_batches: bool = False

    def __post_init__(self) -> None:
        check_nonnegative("proximal lam", self.lam)
        check_positive_int("proximal steps", self.steps)
        check_choice("proximal optimizer", self.optimizer, OPTIMIZERS)
        check_positive("proximal lr", self.lr)

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        """A fresh inner optimizer over ``params``."""
        return make_optimizer(self.optimizer, params, lr=self.lr, betas=self.betas)


def frozen_copy(D: nn.Module) -> nn.Module:
    """A detached snapshot of D_{w_k} (eval mode: spectral-norm estimates stop updating); a D wrapped in
    DistributedDataParallel is snapshotted without its wrapper."""
    snapshot = copy.deepcopy(D.module if isinstance(D, DistributedDataParallel) else D).eval()
    snapshot.requires_grad_(False)
    return snapshot


def proximal_loss(
    D: nn.Module, formulation: Formulation, real: Tensor, fake: Tensor, ref_grads: Tensor, lam: float
) -> tuple[Tensor, Tensor, Tensor]:
    """(loss, V, penalty) with loss = -V(G, D_w) + constraint term + λ · sobolev_penalty.

    One forward pass on the real batch gives both D_w(x) for V and ∇ₓD_w(x) for the penalty.
    """
    d_real, grads = scores_and_input_gradients(D, real, create_graph=lam > 0)
    value = formulation.objective.value(d_real, D(fake))
    penalty = 0.5 * mean_sq_gradient_distance(grads, ref_grads)
    loss = -value + formulation.regularizer(D, real, fake) + lam * penalty
    return loss, value, penalty


def proximal_maximize(
    D: nn.Module,
    formulation: Formulation,
    real: Tensor,
    fake: Tensor,
    config: ProximalConfig,
    *,
    next_batch: Callable[[], tuple[Tensor, Tensor]] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict:
    """Inner loop of Algorithm 1: ``config.steps`` ascent steps on V(G, D_w) - λ · sobolev_penalty from w_k.

    D is updated in place, starting from its current weights w_k. ``fake`` are generator samples
    (the generator is fixed here, so they are detached once). The reference gradients ∇ₓD_{w_k}(x)
    are computed once on ``real``; with ``config.fresh_batches`` each step takes ``next_batch()``
    -> (real, fake) and its references come from a frozen snapshot of D_{w_k}. After every step
    ``formulation.project(D)`` applies weight clipping (WGAN-WC); spectral-norm parametrizations
    update as in any training forward pass. ``optimizer`` (optional) replaces the fresh
    ``config.make_optimizer(D.parameters())``, e.g. to keep Adam's state across outer steps.

    Returns ``{"value", "penalty", "inner_losses"}``: V and the penalty measured at the start of
    the last inner step, and the loss -V + constraint + λ·penalty at every step.
    """
    if config.fresh_batches and next_batch is None:
        raise ValueError("fresh_batches needs next_batch() returning a (real, fake) pair")
    optimizer = optimizer or config.make_optimizer(D.parameters())
    if config.fresh_batches:
        anchor = frozen_copy(D)
    else:
        real, fake = real.detach(), fake.detach()
        ref_grads = input_gradients(D, real, create_graph=False)
    losses = []
    for _ in range(config.steps):
        if config.fresh_batches:
            real, fake = (t.detach() for t in next_batch())
            ref_grads = input_gradients(anchor, real, create_graph=False)
        loss, value, penalty = proximal_loss(D, formulation, real, fake, ref_grads, config.lam)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        formulation.project(D)
        losses.append(loss.detach())
    return {
        "value": value.item(),
        "penalty": penalty.item(),
        "inner_losses": torch.stack(losses).tolist(),
    }
