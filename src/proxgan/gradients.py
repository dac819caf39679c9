"""Input gradients ∇ₓD(x) of a discriminator: the ingredient of the Sobolev norm (eq. 15) and of WGAN-GP.

A leaf module (it imports only torch), so that the proximal operator (:mod:`proxgan.proximal`) and the
objectives' gradient penalty (:mod:`proxgan.objectives`) share it without importing each other. Every
derivative here is taken with respect to the inputs only (``torch.autograd.grad(..., x)``), never with
respect to D's parameters, so it is safe under DistributedDataParallel: the parameter gradients are
produced by the caller's single ``backward()``, which DDP averages over processes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def scores_and_input_gradients(D: nn.Module, x: Tensor, *, create_graph: bool) -> tuple[Tensor, Tensor]:
    """D(xᵢ) and ∇ₓD(xᵢ) from one forward pass (works under ``torch.no_grad`` too).

    D must score samples independently (no batch statistics), so ∇ₓ Σᵢ D(xᵢ) has ∇ₓD(xᵢ) in row i.
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


def mean_sq_norm(grads: Tensor) -> Tensor:
    """(1/n) Σᵢ ||gradsᵢ||², the empirical squared Sobolev norm of one gradient field (eq. 15; R1's estimate)."""
    return grads.pow(2).flatten(1).sum(dim=1).mean()


def mean_sq_gradient_distance(grads: Tensor, other: Tensor) -> Tensor:
    """(1/n) Σᵢ ||gradsᵢ - otherᵢ||², the empirical Sobolev distance between two gradient fields (eq. 15)."""
    return mean_sq_norm(grads - other)
