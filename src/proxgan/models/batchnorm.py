"""The sampled generator's BatchNorm statistics: the population statistics of its own weights.

A generator with BatchNorm trains on batch statistics; in eval mode it normalizes with the running
averages kept during training (momentum 0.1: about the last twenty batches, of weights that have since
moved). An iterate average (``train.average``) is worse off: its buffers are the last iterate's, while
its weights are not. :func:`with_population_statistics` gives a copy of a generator whose running mean
and variance are, for every BatchNorm layer, the mean and the unbiased variance of the layer's input
over ``latents`` codes z ~ N(0, I) from a fixed seed, averaged over equal batches:

    μ = (1/B) Σ_b mean(h_b),   σ² = (1/B) Σ_b var_unbiased(h_b),   h_b = the layer's input on batch b,

both unbiased for the population's mean and variance under the sampled weights (Brock et al. 2019,
BigGAN: "standing statistics"). Training never sees the copy; sampling, evaluation and comparison do
(``--training-batchnorm`` keeps the training buffers, as every score recorded before 2026-12-04 did).
"""

from __future__ import annotations

import copy
import os

import torch
from torch import nn

from proxgan.errors import ProxganError

#: latent codes the population statistics are estimated on, in batches of :data:`BATCH`, unless $PROXGAN_BATCHNORM_LATENTS
LATENTS = 16_384
BATCH = 512
SEED = 20_191_204
ENV = "PROXGAN_BATCHNORM_LATENTS"


def default_latents() -> int:
    """:data:`LATENTS`, or ``$PROXGAN_BATCHNORM_LATENTS`` when set (fewer for large generators on a CPU; the
    estimate's noise grows as the count falls, and every score records the count it used)."""
    raw = os.environ.get(ENV)
    if raw is None:
        return LATENTS
    try:
        return int(raw)
    except ValueError:
        raise ProxganError(f"${ENV} must be a whole number of latents, got {raw!r}") from None


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """``model``'s BatchNorm layers, in module order."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def with_population_statistics(G: nn.Module, *, latents: int | None = None, batch: int = BATCH, seed: int = SEED) -> nn.Module:
    """A copy of ``G`` in eval mode whose BatchNorm buffers are its population statistics (module docstring) over
    ``latents`` codes (default :func:`default_latents`); ``G`` itself in eval mode when it has no BatchNorm
    layer. ``G`` is left unchanged, its RNG streams too."""
    latents = default_latents() if latents is None else latents
    if latents < batch or latents % batch:
        raise ProxganError(f"population statistics need a whole number of batches of {batch}, got {latents} latents")
    if not batchnorm_layers(G):
        return G.eval()
    G = copy.deepcopy(G)
    device = next(G.parameters()).device
    layers = batchnorm_layers(G)
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average: equal weight to every batch
    G.train()
    stream = torch.Generator().manual_seed(seed)
    for _ in range(latents // batch):
        G(torch.randn(batch, G.latent_dim, generator=stream).to(device))
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    return G.eval()


def describe(G: nn.Module, population: bool) -> str:
    """How the sampled generator normalizes, for results (empty for a generator without BatchNorm)."""
    if not batchnorm_layers(G):
        return ""
    if population:
        return f"; BatchNorm: population statistics of these weights ({default_latents():,} latents)"
    return "; BatchNorm: the running statistics kept during training"
