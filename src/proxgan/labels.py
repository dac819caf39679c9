"""Labelled samples of a class-conditional GAN (Mirza & Osindero 2014), carried as one tensor.

A conditional GAN plays the game min_G max_D V(G, D) of eq. (1) on pairs (x, y): the data are labelled images,
the generator draws a class y and an image x = G(z, y), and the discriminator scores the pair. proxgan hands a
pair to D as one tensor, the sample with one more channel holding y in every entry (:func:`with_labels`), so
everything that takes a discriminator and samples (the losses, R1, the Sobolev proximal operator of Algorithm 1,
the equilibrium tests) works unchanged. D reads y as an integer (:func:`split_labels`), so ∇ₓD is zero on that
channel: R1 and the Sobolev norm of eq. (15) are taken over the image at a fixed class,
‖D‖² = E_{(x, y)~P}‖∇ₓD(x, y)‖².

The generator's class is part of its standard normal latent: y = argmax of the last K coordinates of z
(:func:`latent_classes`), uniform over the K classes because they are iid. So G(z) keeps an unconditional
generator's signature, and sampling it (grids, metrics, the equilibrium tests' quality) samples the mixture
of its classes.
"""

from __future__ import annotations

import torch
from torch import Tensor


def with_labels(samples: Tensor, labels: Tensor) -> Tensor:
    """(N, C, ...) samples and (N,) integer labels -> (N, C + 1, ...), channel C equal to each sample's label."""
    plane = labels.to(samples.dtype).view(-1, *[1] * (samples.dim() - 1))
    return torch.cat([samples, plane.expand(-1, 1, *samples.shape[2:])], 1)


def split_labels(x: Tensor) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`with_labels`: (samples, labels as int64), the labels outside autograd."""
    return x[:, :-1], x[:, -1].reshape(len(x), -1)[:, 0].detach().round().long()


def latent_classes(z: Tensor, classes: int) -> Tensor:
    """The class a conditional generator draws from latent z: argmax of z's last ``classes`` coordinates."""
    return z[:, -classes:].argmax(1)


def label_fakes(fakes: Tensor, z: Tensor, classes: int) -> Tensor:
    """G(z) as a conditional D sees it, with the class of z (``classes`` = 0: an unconditional G, unchanged)."""
    return with_labels(fakes, latent_classes(z, classes)) if classes else fakes
