"""GAN objectives (eqs. 6-8): values at hand-derived optimal discriminators, conjugates, penalties."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from proxgan.errors import ProxganError
from proxgan.objectives import (
    FDIVERGENCES,
    FORMULATIONS,
    OBJECTIVES,
    get_formulation,
    gradient_penalty,
    r1_penalty,
)

# Two 1-D Gaussians, P = data, Q = generator. σ_Q > σ_P keeps p/q bounded (every divergence finite).
MU_P, SD_P, MU_Q, SD_Q = 0.0, 1.0, 1.0, 1.2
N_QUANTILES = 40_000


def quantile_sample(mu, sd, n=N_QUANTILES):
    """Deterministic 'sample' x_i = μ + σ Φ⁻¹((i + ½)/n): its mean of h(x) is a midpoint rule for E[h(X)]."""
    u = (np.arange(n) + 0.5) / n
    return torch.tensor(mu + sd * stats.norm.ppf(u), dtype=torch.float64)


def log_p(x):
    return torch.tensor(stats.norm.logpdf(x.numpy(), MU_P, SD_P))


def log_q(x):
    return torch.tensor(stats.norm.logpdf(x.numpy(), MU_Q, SD_Q))


def divergence_by_quadrature(f):
    """D_f(P || Q) = ∫ q f(p/q) dx by the trapezoid rule on a fine grid (independent of the objectives code)."""
    x = torch.linspace(-15, 15, 60_001, dtype=torch.float64)
    log_ratio = log_p(x) - log_q(x)
    return torch.trapezoid(torch.exp(log_q(x)) * f(torch.exp(log_ratio)), x).item()


def kl_gauss(m1, s1, m2, s2):
    """KL(N(m1, s1²) || N(m2, s2²)) in closed form."""
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def derivative(f, u):
    u = u.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(u).sum(), u)
    return g


# Raw scores v with g_f(v) = T, derived by hand from Nowozin et al.'s Table 2 activations.
INVERSE_ACTIVATION = {
    "kl": lambda t: t,
    "pearson": lambda t: t,
    "reverse-kl": lambda t: -torch.log(-t),
    "hellinger": lambda t: -torch.log(1 - t),
    "js": lambda t: torch.logit(torch.exp(t) / 2),
    "tv": lambda t: 40.0 * torch.sign(t),  # T* = ±1/2 is reached only in the limit v -> ±∞
}


def test_registry_names_match_the_agreed_interface():
    assert set(OBJECTIVES) == {
        "vanilla", "nsgan", "wgan", "hinge",
        "fgan-kl", "fgan-reverse-kl", "fgan-js", "fgan-pearson", "fgan-hellinger", "fgan-tv",
    }
    assert {"wgan-wc", "wgan-gp", "sngan", "sngan-hinge", "vanilla", "nsgan", "fgan-kl"} <= set(FORMULATIONS)
    assert set(INVERSE_ACTIVATION) == set(FDIVERGENCES)


def test_vanilla_value_at_the_constant_half_discriminator_is_minus_2_log_2():
    d = torch.zeros(7)  # logit 0 <=> D = 1/2, the optimal D when P = Q
    for name in ("vanilla", "nsgan"):
        assert OBJECTIVES[name].value(d, d).item() == pytest.approx(-2 * math.log(2))
    assert OBJECTIVES["vanilla"].generator_loss(d).item() == pytest.approx(-math.log(2))  # E log(1 - D)
    assert OBJECTIVES["nsgan"].generator_loss(d).item() == pytest.approx(math.log(2))  # -E log D


def test_vanilla_value_at_the_optimal_discriminator_is_2_js_minus_log_4():
    """Goodfellow et al. 2014, Thm 1: with D*(x) = p/(p+q), V = 2·JS(P, Q) - log 4."""
    xp, xq = quantile_sample(MU_P, SD_P), quantile_sample(MU_Q, SD_Q)
    logit = lambda x: log_p(x) - log_q(x)  # noqa: E731 - logit of p/(p+q)
    js = divergence_by_quadrature(FDIVERGENCES["js"].f) / 2  # f_JS of Table 2 gives 2·JS
    value = OBJECTIVES["vanilla"].value(logit(xp), logit(xq)).item()
    assert value == pytest.approx(2 * js - math.log(4), abs=2e-4)


def test_vanilla_is_stable_for_confident_discriminators():
    v = torch.tensor([-200.0, 200.0])
    for name in ("vanilla", "nsgan"):
        obj = OBJECTIVES[name]
        assert torch.isfinite(obj.value(v, v)) and torch.isfinite(obj.generator_loss(v))
    assert OBJECTIVES["vanilla"].value(torch.tensor([200.0]), torch.tensor([-200.0])).item() == pytest.approx(0)


def test_nsgan_generator_gradient_does_not_saturate():
    """At D(G(z)) ≈ 0 (logit -10) the minimax loss has a vanishing gradient, the non-saturating one ≈ -1."""
    v = torch.tensor([-10.0], requires_grad=True)
    (g_minimax,) = torch.autograd.grad(OBJECTIVES["vanilla"].generator_loss(v), v)
    (g_ns,) = torch.autograd.grad(OBJECTIVES["nsgan"].generator_loss(v), v)
    assert abs(g_minimax.item()) < 1e-4
    assert g_ns.item() == pytest.approx(-1, abs=1e-4)


@pytest.mark.parametrize("name", sorted(FDIVERGENCES))
def test_conjugate_identity(name):
    """f*(f'(u)) = u f'(u) - f(u) (Fenchel-Young with equality at t = f'(u))."""
    div = FDIVERGENCES[name]
    u = torch.cat([torch.linspace(0.05, 0.95, 19), torch.linspace(1.05, 6, 19)]).double()
    t = derivative(div.f, u)
    assert torch.allclose(div.conjugate(t), u * t - div.f(u), atol=1e-10)


@pytest.mark.parametrize("name", sorted(FDIVERGENCES))
def test_conjugate_is_the_supremum(name):
    """f*(t) = sup_u (u t - f(u)), checked by brute force over a fine grid of u."""
    div = FDIVERGENCES[name]
    u = torch.linspace(0, 40, 100_001, dtype=torch.float64)[1:]  # step 4e-4, contains u = 1
    v = torch.linspace(-1.5, 1.5, 7, dtype=torch.float64)
    for t in div.activation(v):  # points of the conjugate's domain
        brute = (u * t - div.f(u)).max()
        assert brute.item() == pytest.approx(div.conjugate(t).item(), abs=1e-5)


@pytest.mark.parametrize("name", sorted(FDIVERGENCES))
def test_stable_conjugate_of_activation_equals_the_composition(name):
    div = FDIVERGENCES[name]
    v = torch.linspace(-3, 3, 61, dtype=torch.float64)
    assert torch.allclose(div.conjugate_of_activation(v), div.conjugate(div.activation(v)), atol=1e-12)


@pytest.mark.parametrize("name", sorted(FDIVERGENCES))
def test_fgan_value_at_the_optimal_critic_is_the_divergence(name):
    """Eq. (7) at T*(x) = f'(p(x)/q(x)) equals D_f(P || Q) = ∫ q f(p/q) (Nowozin et al. 2016, eq. 4)."""
    div = FDIVERGENCES[name]
    xp, xq = quantile_sample(MU_P, SD_P), quantile_sample(MU_Q, SD_Q)

    def optimal_scores(x):
        t = derivative(div.f, torch.exp(log_p(x) - log_q(x)))
        v = INVERSE_ACTIVATION[name](t)
        if name != "tv":
            assert torch.allclose(div.activation(v), t)
        return v

    value = OBJECTIVES[f"fgan-{name}"].value(optimal_scores(xp), optimal_scores(xq)).item()
    assert value == pytest.approx(divergence_by_quadrature(div.f), abs=2e-3)


def test_kl_orientations_match_closed_forms():
    assert divergence_by_quadrature(FDIVERGENCES["kl"].f) == pytest.approx(kl_gauss(MU_P, SD_P, MU_Q, SD_Q))
    assert divergence_by_quadrature(FDIVERGENCES["reverse-kl"].f) == pytest.approx(
        kl_gauss(MU_Q, SD_Q, MU_P, SD_P)
    )
    # total variation: ½∫|p - q| for equal variances is 2Φ(Δ/2) - 1
    tv = integrate.quad(lambda x: abs(stats.norm.pdf(x) - stats.norm.pdf(x, 1.0)) / 2, -15, 15, points=[0.5])[0]
    assert tv == pytest.approx(2 * stats.norm.cdf(0.5) - 1)


def test_suboptimal_fgan_critic_gives_a_lower_bound():
    """Any critic lower-bounds the divergence (eq. 7 is a variational bound)."""
    xp, xq = quantile_sample(MU_P, SD_P), quantile_sample(MU_Q, SD_Q)
    for name, div in FDIVERGENCES.items():
        v = 0.3 * xp - 0.2, 0.3 * xq - 0.2
        assert OBJECTIVES[f"fgan-{name}"].value(*v).item() <= divergence_by_quadrature(div.f) + 1e-6


def test_wgan_and_hinge_values():
    real, fake = torch.tensor([2.0, 0.0, 0.5]), torch.tensor([-2.0, 1.0])
    assert OBJECTIVES["wgan"].value(real, fake).item() == pytest.approx(2.5 / 3 - (-1.0 / 2))
    assert OBJECTIVES["wgan"].generator_loss(fake).item() == pytest.approx(0.5)
    # hinge: E[min(0, v - 1)] + E[min(0, -v - 1)] = (0 - 1 - 0.5)/3 + (0 - 2)/2
    assert OBJECTIVES["hinge"].value(real, fake).item() == pytest.approx(-0.5 - 1.0)
    assert OBJECTIVES["hinge"].discriminator_loss(real, fake).item() == pytest.approx(1.5)
    assert OBJECTIVES["hinge"].generator_loss(fake).item() == pytest.approx(0.5)


class Linear(torch.nn.Module):
    """D(x) = wᵀ vec(x): ∇ₓD = w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w.clone())

    def forward(self, x):
        return x.flatten(1) @ self.w


class HalfSquare(torch.nn.Module):
    """D(x) = a ||x||² / 2: ∇ₓD(x) = a x."""

    def __init__(self, a=1.0):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, x):
        return self.a * x.flatten(1).pow(2).sum(1) / 2


def test_gradient_penalty_matches_its_formula_with_per_sample_interpolation():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 2, 3, dtype=torch.float64), torch.randn(6, 2, 3, dtype=torch.float64)
    D = HalfSquare(1.3)
    gp = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(5))
    eps = torch.rand(6, 1, 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert eps.unique().numel() == 6  # one ε per sample
    x_hat = eps * real + (1 - eps) * fake
    expected = ((1.3 * x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-12)


def test_gradient_penalty_reaches_the_weights():
    """Linear D: GP = (||w|| - 1)², so ∇_w GP = 2 (||w|| - 1) w / ||w||."""
    w = torch.tensor([3.0, -4.0], dtype=torch.float64)
    D = Linear(w)
    gp = gradient_penalty(D, torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64))
    assert gp.item() == pytest.approx(16.0)
    (g,) = torch.autograd.grad(gp, D.w)
    assert torch.allclose(g, 2 * (5 - 1) * w / 5)


def test_r1_penalty_is_the_mean_squared_input_gradient_on_real_data():
    """HalfSquare D(x) = a‖x‖²/2 has ∇ₓD = a x: R1 = a² E‖x‖², and ∂R1/∂a = 2a E‖x‖²; nsgan-r1 adds (γ/2)·R1."""
    torch.manual_seed(2)
    real, fake = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    D = HalfSquare(0.7)
    r1 = r1_penalty(D, real)
    second_moment = real.pow(2).sum(1).mean()
    assert r1.item() == pytest.approx((0.49 * second_moment).item(), rel=1e-12)
    (g,) = torch.autograd.grad(r1, D.a)
    assert g.item() == pytest.approx((1.4 * second_moment).item(), rel=1e-12)
    f = get_formulation("nsgan-r1")
    assert f.r1_rows == 16  # the whole batch of 7 here
    assert f.regularizer(D, real, fake).item() == pytest.approx(5.0 * r1.item(), rel=1e-12)  # fake is not used
    assert dataclasses.replace(f, r1_rows=3).regularizer(D, real, fake).item() == pytest.approx(
        5.0 * r1_penalty(D, real[:3]).item(), rel=1e-12)
    assert get_formulation("nsgan").regularizer(D, real, fake).item() == 0.0


def test_formulation_losses_and_constraints():
    torch.manual_seed(1)
    D = Linear(torch.tensor([0.5, -2.0]))
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    wgp = get_formulation("wgan-gp")
    assert (wgp.gradient_penalty, wgp.weight_clip, wgp.spectral_norm) == (10.0, None, False)
    expected = -(real @ D.w - fake @ D.w).mean() + 10 * (D.w.norm() - 1) ** 2
    assert wgp.discriminator_loss(D, real, fake).item() == pytest.approx(expected.item(), rel=1e-5)

    wc = get_formulation("wgan-wc")
    assert wc.weight_clip == 0.01 and wc.objective.name == "wgan"
    wc.project(D)
    assert torch.equal(D.w.detach(), torch.tensor([0.01, -0.01]))
    get_formulation("sngan").project(D)  # no clipping outside WGAN-WC
    assert torch.equal(D.w.detach(), torch.tensor([0.01, -0.01]))

    sn = get_formulation("sngan")
    assert sn.spectral_norm and sn.objective.name == "nsgan" and sn.regularizer(D, real, fake).item() == 0
    assert get_formulation("sngan-hinge").objective.name == "hinge"


def test_unknown_formulation_names_the_choices():
    with pytest.raises(ProxganError, match=r"unknown formulation 'wgan-xx'; choose from: .*wgan-gp"):
        get_formulation("wgan-xx")
