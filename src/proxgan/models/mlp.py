"""The MLP pair of Sharma & Baptista's reproduction of the paper ("Do GAN's always have Nash Equilibria?",
2022, §5), after the PyTorch-GAN WGAN example.

G: latent (100) → 128 → 256 → 512 → 1024 → prod(data_shape), LeakyReLU(0.2), BatchNorm1d on all
hidden layers but the first, Tanh for images. D: data → 512 → 256 → 1 with LeakyReLU(0.2).
``hidden`` shrinks the widths, e.g. for 2-D toy data; ``tanh=False`` leaves points unbounded.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from proxgan.models.layers import maybe_spectral_norm
from proxgan.piecewise import Chain

STUDENT_G_HIDDEN = (128, 256, 512, 1024)
STUDENT_D_HIDDEN = (512, 256)


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> samples (N, *data_shape)."""

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int = 100,
        hidden: tuple[int, ...] = STUDENT_G_HIDDEN,
        tanh: bool = True,
    ):
        super().__init__()
        self.data_shape, self.latent_dim = tuple(data_shape), latent_dim
        layers: list[nn.Module] = []
        for i, (w_in, w_out) in enumerate(zip([latent_dim, *hidden], hidden)):
            layers.append(nn.Linear(w_in, w_out))
            if i > 0:
                # As in Sharma & Baptista's code: BatchNorm1d(out_feat, 0.8) passes 0.8 as the *eps*
                # argument (not momentum). Replicated faithfully.
                layers.append(nn.BatchNorm1d(w_out, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        layers.append(nn.Linear(hidden[-1], math.prod(data_shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(z).view(-1, *self.data_shape)


class MLPDiscriminator(nn.Module):
    """samples (N, *data_shape) -> raw scores (N,)."""

    def __init__(
        self, data_shape: tuple[int, ...], hidden: tuple[int, ...] = STUDENT_D_HIDDEN, spectral_norm: bool = False
    ):
        super().__init__()
        widths = [math.prod(data_shape), *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [maybe_spectral_norm(nn.Linear(w_in, w_out), spectral_norm), nn.LeakyReLU(0.2)]
        layers.append(maybe_spectral_norm(nn.Linear(widths[-1], 1), spectral_norm))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).squeeze(-1)

    def chain(self) -> Chain:
        """This D as a piecewise-linear chain (:mod:`proxgan.piecewise`: proximal steps without double backprop)."""
        return Chain(tuple(self.body)[:-1], self.body[-1])
