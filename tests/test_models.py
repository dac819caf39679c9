"""DCGAN (Gulrajani et al.'s layout) and Sharma & Baptista's MLP (2022): shapes, layers, spectral norm, errors."""

import pytest
import torch
from torch import nn

from proxgan.errors import ProxganError
from proxgan.models import DCGANDiscriminator, DCGANGenerator, build_models


@pytest.mark.parametrize(
    "shape, layers", [((1, 8, 8), 2), ((1, 28, 28), 3), ((3, 32, 32), 3), ((3, 64, 64), 4)]
)
def test_dcgan_shapes_ranges_and_depth(shape, layers):
    torch.manual_seed(0)
    G, D = build_models("dcgan", shape, latent_dim=16, dim=4)
    x = G(torch.randn(5, 16))
    assert x.shape == (5, *shape)
    assert x.abs().max() <= 1
    assert D(x).shape == (5,)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules()) == layers
    assert sum(isinstance(m, nn.Conv2d) for m in D.modules()) == layers
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules())


def test_dcgan_32_parameter_count_matches_gulrajani_layout():
    """G: 128 → 4·4·4DIM (BN, ReLU) → 4DIM→2DIM→DIM→3 up-convs (5×5); D: 3→DIM→2DIM→4DIM convs → 1."""
    dim = 64
    G, D = DCGANGenerator(128, dim, 32, 3), DCGANDiscriminator(dim, 32, 3)
    g = (128 + 1) * 16 * 4 * dim + 2 * 16 * 4 * dim  # linear + BN
    g += 4 * dim * 2 * dim * 25 + 2 * dim + 2 * 2 * dim
    g += 2 * dim * dim * 25 + dim + 2 * dim
    g += dim * 3 * 25 + 3
    d = 3 * dim * 25 + dim + dim * 2 * dim * 25 + 2 * dim + 2 * dim * 4 * dim * 25 + 4 * dim
    d += 16 * 4 * dim + 1
    assert sum(p.numel() for p in G.parameters()) == g
    assert sum(p.numel() for p in D.parameters()) == d


def test_mlp_is_sharma_and_baptistas_network():
    G, D = build_models("mlp", (1, 28, 28))  # defaults: latent 100, dim 128
    linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (100, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)
    ]
    norms = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [(m.num_features, m.eps) for m in norms] == [(256, 0.8), (512, 0.8), (1024, 0.8)]
    assert isinstance(list(G.modules())[-1], nn.Tanh)
    assert [(m.in_features, m.out_features) for m in D.modules() if isinstance(m, nn.Linear)] == [
        (784, 512), (512, 256), (256, 1)
    ]
    assert all(m.negative_slope == 0.2 for m in D.modules() if isinstance(m, nn.LeakyReLU))
    assert G(torch.randn(3, 100)).shape == (3, 1, 28, 28)


def test_mlp_for_points_is_small_and_unbounded():
    torch.manual_seed(0)
    G, D = build_models("mlp", (2,), latent_dim=4, dim=8)
    assert not any(isinstance(m, nn.Tanh) for m in G.modules())
    with torch.no_grad():
        G.body[-1].bias.fill_(5.0)  # outputs beyond [-1, 1] must pass through unchanged
        assert G(torch.randn(6, 4)).min() > 1
    assert D(torch.randn(6, 2)).shape == (6,)


@pytest.mark.parametrize("arch, shape", [("dcgan", (1, 8, 8)), ("mlp", (2,))])
def test_discriminators_score_samples_independently(arch, shape):
    """No batch coupling in D: needed for per-sample input gradients and WGAN-GP."""
    torch.manual_seed(0)
    _, D = build_models(arch, shape, dim=4, spectral_norm=False)
    x = torch.randn(5, *shape)
    assert torch.allclose(D(x)[:2], D(x[:2]), atol=1e-6)


@pytest.mark.parametrize("arch, shape", [("dcgan", (1, 8, 8)), ("mlp", (2,))])
def test_spectral_norm_switch_covers_every_discriminator_layer(arch, shape):
    torch.manual_seed(0)
    _, D = build_models(arch, shape, dim=4, spectral_norm=True)
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    x = torch.randn(4, *shape)
    for _ in range(30):  # power iterations run in training-mode forward passes
        D(x)
    for m in layers:
        if isinstance(m, nn.Linear):
            assert torch.linalg.matrix_norm(m.weight.detach(), 2).item() == pytest.approx(1.0, abs=1e-3)
    _, plain = build_models(arch, shape, dim=4, spectral_norm=False)
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())


def test_bad_model_requests_name_the_value():
    with pytest.raises(ProxganError, match="unknown architecture 'resnet'"):
        build_models("resnet", (3, 32, 32))
    with pytest.raises(ProxganError, match="resolution 16"):
        build_models("dcgan", (3, 16, 16))
    with pytest.raises(ProxganError, match=r"square images.*\(2,\)"):
        build_models("dcgan", (2,))
    with pytest.raises(ProxganError, match="dim must be a positive integer"):
        build_models("mlp", (2,), dim=-3)
    with pytest.raises(ProxganError, match="latent_dim must be a positive integer"):
        build_models("dcgan", (1, 8, 8), latent_dim=0)
