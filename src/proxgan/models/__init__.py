"""Generator/discriminator pairs of the paper's experiments (§6) and of Sharma & Baptista's
reproduction ("Do GAN's always have Nash Equilibria?", 2022).

``build_models(arch, data_shape, ...)`` is the one entry point: ``"dcgan"`` for square images
(C, R, R) with R in 8, 28, 32, 64; ``"mlp"`` for any data, images (C, H, W) with a tanh output or
points (d,) with an unbounded output. Discriminators return raw scores of shape (N,).
``batchnorm.with_population_statistics(G)``: the generator proxgan samples, with its own BatchNorm statistics.
"""

from __future__ import annotations

from torch import nn

from proxgan.errors import ProxganError, check_choice, check_positive_int
from proxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from proxgan.models.mlp import MLPDiscriminator, MLPGenerator

ARCHS = ("dcgan", "mlp")
#: arch -> (latent_dim, dim): Gulrajani et al.'s DCGAN (128, DIM 64); Sharma & Baptista's MLP (100, 128)
DEFAULTS = {"dcgan": (128, 64), "mlp": (100, 128)}

__all__ = [
    "ARCHS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "batchnorm",
    "build_models",
    "dcgan",
    "layers",
    "mlp",
]


def build_models(
    arch: str,
    data_shape: tuple[int, ...],
    *,
    latent_dim: int | None = None,
    dim: int | None = None,
    spectral_norm: bool = False,
    classes: int = 0,
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for data of shape ``data_shape`` (one sample, no batch axis).

    dcgan: ``dim`` is DIM. mlp: ``dim`` scales Sharma & Baptista's widths, G hidden (dim, 2dim, 4dim,
    8dim) and D hidden (4dim, 2dim); dim = 128 is exactly their network. Points (d,) get
    no tanh on G's output. ``None`` picks the architecture's default latent_dim/dim. ``classes`` = K > 0: a
    class-conditional dcgan pair (:mod:`proxgan.labels`; D a projection discriminator).
    """
    check_choice("architecture", arch, ARCHS)
    data_shape = tuple(int(s) for s in data_shape)
    default_latent, default_dim = DEFAULTS[arch]
    latent_dim = check_positive_int("latent_dim", default_latent if latent_dim is None else latent_dim)
    dim = check_positive_int("dim", default_dim if dim is None else dim)
    if classes and arch != "dcgan":
        raise ProxganError(f"model.classes={classes} (a class-conditional GAN) needs model.arch=dcgan, not {arch}")
    if arch == "mlp":
        generator = MLPGenerator(
            data_shape, latent_dim, hidden=(dim, 2 * dim, 4 * dim, 8 * dim), tanh=len(data_shape) > 1
        )
        return generator, MLPDiscriminator(data_shape, hidden=(4 * dim, 2 * dim), spectral_norm=spectral_norm)
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ProxganError(f"dcgan needs square images (C, R, R), got data shape {data_shape}")
    channels, resolution = data_shape[0], data_shape[1]
    generator = DCGANGenerator(latent_dim, dim, resolution, channels, classes)
    return generator, DCGANDiscriminator(dim, resolution, channels, spectral_norm=spectral_norm, classes=classes)
