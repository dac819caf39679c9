"""DCGAN (Gulrajani et al.'s layout) and Sharma & Baptista's MLP (2022): shapes, layers, spectral norm, errors."""

import copy

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


class LinearBatchNormG(nn.Module):
    """G(z) = BatchNorm(W z + b): its population mean is b and its population variance ‖W_i‖² per unit."""

    def __init__(self, latent_dim=3, units=4):
        super().__init__()
        self.latent_dim, self.linear, self.norm = latent_dim, nn.Linear(latent_dim, units), nn.BatchNorm1d(units)

    def forward(self, z):
        return self.norm(self.linear(z))


def test_population_statistics_are_the_closed_form_mean_and_variance():
    from proxgan.models.batchnorm import with_population_statistics

    torch.manual_seed(0)
    G = LinearBatchNormG()
    G.norm.running_mean.fill_(5.0)  # stale buffers, as if kept from other weights
    before = {k: v.clone() for k, v in G.state_dict().items()}
    rng = torch.get_rng_state()
    n = 65_536
    H = with_population_statistics(G, latents=n, batch=4096)
    mean, var = G.linear.bias.detach(), G.linear.weight.detach().pow(2).sum(1)
    # the estimates' standard errors: √(var/n) for the mean, var·√(2/n) for the variance; 5 of them
    assert ((H.norm.running_mean - mean).abs() < 5 * (var / n).sqrt()).all()
    assert ((H.norm.running_var - var).abs() < 5 * var * (2 / n) ** 0.5).all()
    assert not H.training and H.norm.momentum == G.norm.momentum == 0.1
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in before.items())  # G untouched
    assert torch.equal(torch.get_rng_state(), rng)  # and the global RNG stream too


def test_population_statistics_average_each_batchs_mean_and_unbiased_variance():
    """Several BatchNorm layers, each estimated under the batch statistics of the layers before it (train mode)."""
    from proxgan.models.batchnorm import BATCH, SEED, with_population_statistics

    torch.manual_seed(1)
    G = DCGANGenerator(latent_dim=8, dim=4, resolution=8, channels=1)
    LATENTS = 4 * BATCH
    H = with_population_statistics(G, latents=LATENTS)
    replay, inputs = copy.deepcopy(G).train(), {}
    norms = [m for m in replay.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for i, layer in enumerate(norms):
        layer.register_forward_hook(lambda m, args, out, i=i: inputs.setdefault(i, []).append(args[0].detach()))
    stream = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for _ in range(LATENTS // BATCH):
            replay(torch.randn(BATCH, 8, generator=stream))
    got = [m for m in H.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(got) == len(norms) == 2
    for i, layer in enumerate(got):
        dims = [0, 2, 3] if inputs[i][0].dim() == 4 else [0]
        means = torch.stack([h.mean(dims) for h in inputs[i]])
        variances = torch.stack([h.var(dims, unbiased=True) for h in inputs[i]])
        assert torch.allclose(layer.running_mean, means.mean(0), rtol=1e-5, atol=1e-6)
        assert torch.allclose(layer.running_var, variances.mean(0), rtol=1e-5, atol=1e-6)
        assert layer.num_batches_tracked == LATENTS // BATCH


def test_population_statistics_leave_a_generator_without_batchnorm_as_it_is():
    from proxgan.models.batchnorm import describe, with_population_statistics

    G = nn.Sequential(nn.Linear(3, 2))
    G.latent_dim = 3
    assert with_population_statistics(G) is G and describe(G, True) == ""
    with pytest.raises(ProxganError, match="whole number of batches of 512, got 1000 latents"):
        with_population_statistics(LinearBatchNormG(), latents=1000)


def test_population_latents_come_from_the_environment_and_are_checked(monkeypatch):
    from proxgan.models.batchnorm import default_latents, describe, with_population_statistics

    monkeypatch.setenv("PROXGAN_BATCHNORM_LATENTS", "1024")
    H = with_population_statistics(LinearBatchNormG())
    assert default_latents() == 1024 and H.norm.num_batches_tracked == 2 and "(1,024 latents)" in describe(H, True)
    monkeypatch.delenv("PROXGAN_BATCHNORM_LATENTS")
    assert default_latents() == 16_384
    monkeypatch.setenv("PROXGAN_BATCHNORM_LATENTS", "many")
    with pytest.raises(ProxganError, match=r"\$PROXGAN_BATCHNORM_LATENTS must be a whole number of latents, got 'many'"):
        with_population_statistics(LinearBatchNormG())
