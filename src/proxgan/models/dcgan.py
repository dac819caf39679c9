"""DCGAN generator and discriminator as in Gulrajani et al. 2017's WGAN-GP code (paper §6).

Width parameter DIM (64 or 128 in the paper's Table 1). 5×5 kernels, stride 2; every resolution
doubles (G) or halves (D) per layer between the data and a small base grid:

| resolution | base | channels (G top → bottom, D reversed) | notes |
|---|---|---|---|
| 8  (digits)   | 2×2 | 2DIM → DIM → C                 | one layer fewer |
| 28 (MNIST)    | 4×4 | 4DIM → 2DIM → DIM → C          | G crops 8×8 → 7×7 after layer 1 (gan_mnist.py) |
| 32 (CIFAR-10) | 4×4 | 4DIM → 2DIM → DIM → C          | gan_cifar.py |
| 64 (CelebA)   | 4×4 | 8DIM → 4DIM → 2DIM → DIM → C   | one layer more (gan_64x64.py's DCGAN) |

G: linear latent → base²·top, BatchNorm, ReLU, then up-convolutions with BatchNorm + ReLU and a
final up-convolution to C channels with tanh (outputs in [-1, 1]).
D: stride-2 convolutions with LeakyReLU(0.2) and no batch norm (WGAN-GP's penalty is per sample),
then linear → 1; spectral norm on every layer when switched on.

Class-conditional (``classes`` = K > 0, :mod:`proxgan.labels`): G reads its class from the last K latent
coordinates and gets it as a one-hot vector in their place; D is a projection discriminator (Miyato & Koyama
2018), D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩ with φ the convolutional body, ψ the linear head and e a learned class
embedding (zero at initialization, so D starts as the unconditional one), reading y from its input's last channel.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from proxgan.errors import ProxganError
from proxgan.labels import latent_classes, split_labels
from proxgan.models.layers import maybe_spectral_norm
from proxgan.piecewise import Chain

#: resolution -> (number of stride-2 layers, base grid size)
LAYOUTS: dict[int, tuple[int, int]] = {8: (2, 2), 28: (3, 4), 32: (3, 4), 64: (4, 4)}
KERNEL = 5  # odd; padding KERNEL // 2 keeps every layer an exact 2× resize


def check_resolution(resolution: int) -> tuple[int, int]:
    """(layers, base) for a supported resolution; ProxganError otherwise."""
    if resolution not in LAYOUTS:
        choices = ", ".join(str(r) for r in LAYOUTS)
        raise ProxganError(f"DCGAN resolution {resolution!r} is not supported; choose from: {choices}")
    return LAYOUTS[resolution]


def _widths(dim: int, layers: int) -> list[int]:
    """Channel widths from the widest (next to the base grid) to DIM: [2^(L-1)·DIM, ..., DIM]."""
    return [dim * 2 ** (layers - 1 - i) for i in range(layers)]


def _up(in_ch: int, out_ch: int) -> nn.ConvTranspose2d:
    """Exact 2× up-convolution ('SAME' transposed conv of Gulrajani's Deconv2D)."""
    return nn.ConvTranspose2d(in_ch, out_ch, KERNEL, stride=2, padding=KERNEL // 2, output_padding=1)


class _Crop(nn.Module):
    """Keep the top-left size×size pixels (Gulrajani's MNIST generator: output[:, :, :7, :7])."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, : self.size, : self.size]


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, resolution, resolution) in [-1, 1]; with ``classes`` = K the last K
    coordinates of z choose the class (their argmax, passed on one-hot)."""

    def __init__(self, latent_dim: int = 128, dim: int = 64, resolution: int = 32, channels: int = 3, classes: int = 0):
        super().__init__()
        layers, base = check_resolution(resolution)
        if classes and not 2 <= classes < latent_dim:
            raise ProxganError(f"a conditional generator needs 2 <= classes < latent_dim, got {classes} and {latent_dim}")
        widths = _widths(dim, layers)
        self.latent_dim, self.classes, self.base, self.top = latent_dim, classes, base, widths[0]
        self.project = nn.Sequential(
            nn.Linear(latent_dim, base * base * widths[0]), nn.BatchNorm1d(base * base * widths[0]), nn.ReLU(True)
        )
        blocks: list[nn.Module] = []
        for i, (w_in, w_out) in enumerate(zip(widths, widths[1:])):
            blocks += [_up(w_in, w_out), nn.BatchNorm2d(w_out), nn.ReLU(True)]
            if resolution == 28 and i == 0:
                blocks.append(_Crop(7))
        blocks += [_up(widths[-1], channels), nn.Tanh()]
        self.body = nn.Sequential(*blocks)

    def forward(self, z: Tensor) -> Tensor:
        if self.classes:
            one_hot = nn.functional.one_hot(latent_classes(z, self.classes), self.classes).to(z.dtype)
            z = torch.cat([z[:, : -self.classes], one_hot], 1)
        h = self.project(z).view(-1, self.top, self.base, self.base)
        return self.body(h)


class DCGANDiscriminator(nn.Module):
    """images (N, channels, resolution, resolution) -> raw scores (N,); with ``classes`` = K, labelled images
    (N, channels + 1, resolution, resolution) whose last channel holds the class (:func:`proxgan.labels.with_labels`)."""

    def __init__(
        self, dim: int = 64, resolution: int = 32, channels: int = 3, spectral_norm: bool = False, classes: int = 0
    ):
        super().__init__()
        layers, base = check_resolution(resolution)
        widths = _widths(dim, layers)[::-1]
        blocks: list[nn.Module] = []
        for w_in, w_out in zip([channels, *widths], widths):
            conv = nn.Conv2d(w_in, w_out, KERNEL, stride=2, padding=KERNEL // 2)
            blocks += [maybe_spectral_norm(conv, spectral_norm), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*blocks, nn.Flatten())
        self.head = maybe_spectral_norm(nn.Linear(base * base * widths[-1], 1), spectral_norm)
        self.classes = classes
        if classes:
            self.embed = nn.Embedding(classes, base * base * widths[-1])
            nn.init.zeros_(self.embed.weight)

    def forward(self, x: Tensor) -> Tensor:
        if not self.classes:
            return self.head(self.body(x)).squeeze(-1)
        x, y = split_labels(x)
        features = self.body(x)
        return self.head(features).squeeze(-1) + (self.embed(y) * features).sum(1)

    def chain(self) -> Chain:
        """This D as a piecewise-linear chain (:mod:`proxgan.piecewise`: proximal steps without double backprop)."""
        return Chain(tuple(self.body), self.head, self.embed if self.classes else None)
