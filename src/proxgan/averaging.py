"""Generator iterate averaging: an exponential moving average or a Polyak (uniform) average of θ_k.

On the bilinear game min_θ max_φ θ·φ the last iterate of alternating GDA cycles forever while the
average of its iterates converges to the equilibrium at O(1/t) (``proxgan games --average``); the
same averaging applied to a GAN's generator weights (Yazıcı et al. 2019, "The unusual effectiveness
of averaging in GAN training") gives smoother, better samples at no training cost. Averaging starts
after generator step ``start``; until then the average is a copy of G:

- ``ema``:    θ̄_k = β θ̄_{k−1} + (1 − β) θ_k                    for k > start
- ``polyak``: θ̄_k = θ̄_{k−1} + (θ_k − θ̄_{k−1}) / (k − start + 1)  (the mean of θ_start … θ_k)

Buffers (BatchNorm running statistics) are copied from G, not averaged: they are the last iterate's, so
sampling recomputes them for the averaged weights (:mod:`proxgan.models.batchnorm`). The averaged generator
is only read (sampling, evaluation, equilibrium tests); training never uses it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from proxgan.errors import ProxganError, check_choice, check_finite

AVERAGING_KINDS = ("none", "ema", "polyak")


@dataclass(frozen=True)
class AveragingConfig:
    """``train.average``: kind (none, ema, polyak), EMA decay β in [0, 1), and the step averaging starts after."""

    kind: str = "none"
    decay: float = 0.999
    start: int = 0

    def __post_init__(self) -> None:
        check_choice("train.average.kind", self.kind, AVERAGING_KINDS)
        if not 0.0 <= check_finite("train.average.decay", self.decay) < 1.0:
            raise ProxganError(f"train.average.decay must be in [0, 1), got {self.decay:g}")
        if self.start < 0:
            raise ProxganError(f"train.average.start must be >= 0, got {self.start}")

    @property
    def enabled(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        """How the sampled generator was obtained, for results and messages."""
        if self.kind == "ema":
            return f"EMA of the generator's weights (decay {self.decay:g}, from step {self.start})"
        if self.kind == "polyak":
            return f"Polyak average of the generator's weights (from step {self.start})"
        return "last iterate"


class IterateAverage:
    """The averaged copy of a module, updated after each generator step by :meth:`update`."""

    def __init__(self, model: nn.Module, config: AveragingConfig):
        self.config = config
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Fold θ_step (``model``'s current weights) into the average; ``step`` counts from 1."""
        averaged, current = list(self.module.parameters()), [p.detach() for p in model.parameters()]
        start = self.config.start
        if step <= start:
            torch._foreach_copy_(averaged, current)
        elif self.config.kind == "ema":
            torch._foreach_lerp_(averaged, current, 1.0 - self.config.decay)
        else:
            torch._foreach_lerp_(averaged, current, 1.0 / (step - start + 1))
        for mine, theirs in zip(self.module.buffers(), model.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict[str, Any]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state)
