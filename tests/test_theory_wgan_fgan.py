"""1-D WGAN and f-GANs in Theorem 1's Gaussian game: quadrature vs closed forms / scipy / Monte
Carlo, the pointwise proximal maximiser, gap signs on both sides of σ = 1."""

import numpy as np
import pytest
from scipy.integrate import quad

from proxgan.theory import analysis, fgan, wgan1d
from proxgan.theory.gaussian import LinearGenerator, Setting, mean_abs_normal, normal_cdf, normal_pdf

LAMBDAS = np.geomspace(1e-2, 10, 8)


# --- WGAN ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("w, u", [(1.0, 0.0), (0.6, 0.4), (0.05, -0.8)])
def test_wgan_quadrature_matches_closed_forms(w, u):
    sigma = 1.7
    # λ = 0: pointwise sup = ∫|F_Y − F_X| = W₁ (quantile coupling), independently by scipy
    w1_scipy = quad(lambda x: abs(normal_cdf(x, u, w) - normal_cdf(x, 0, sigma)), -40, 40, points=[0, u], limit=400)[0]
    assert wgan1d.proximal_value(sigma, 1.0, 0.0, w, u) == pytest.approx(w1_scipy, abs=1e-9)
    assert wgan1d.wasserstein1(sigma, w, u) == pytest.approx(w1_scipy, abs=1e-9)
    # λ = ∞: V(G, D*) with D*(x) = |x| is E|X| − E|Y|
    expected = mean_abs_normal(0.0, sigma) - mean_abs_normal(u, w)
    assert wgan1d.proximal_value(sigma, 1.0, np.inf, w, u) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("lam", [0.05, 0.5])
def test_wgan_proximal_value_matches_scipy_and_pointwise_argmax(lam):
    sigma, w, u = 2.0, 0.9, 0.35

    def integrand(x, g):
        h = normal_cdf(x, u, w) - normal_cdf(x, 0, sigma)
        return g * h - lam * normal_pdf(x, 0, sigma) * (g - np.sign(x)) ** 2

    def best(x):  # brute force over the slope g ∈ [−1, 1]
        return np.max(integrand(x, np.linspace(-1, 1, 20001)))

    x_probe = np.array([-1.0, 0.1, 0.3, 0.5, 2.0])
    h = normal_cdf(x_probe, u, w) - normal_cdf(x_probe, 0, sigma)
    g_formula = np.clip(np.sign(x_probe) + h / (2 * lam * normal_pdf(x_probe, 0, sigma)), -1, 1)
    for x, g in zip(x_probe, g_formula):
        assert integrand(x, g) >= best(x) - 1e-9
    crossing = float(wgan1d.cdf_crossing(sigma, w, u))
    g_of = lambda x: np.clip(np.sign(x) + (normal_cdf(x, u, w) - normal_cdf(x, 0, sigma)) / (2 * lam * normal_pdf(x, 0, sigma)), -1, 1)  # noqa: E731
    reference = quad(lambda x: integrand(x, g_of(x)), -40, 40, points=[0, crossing], limit=500, epsabs=1e-13)[0]
    assert wgan1d.proximal_value(sigma, 1.0, lam, w, u) == pytest.approx(reference, abs=1e-6)


def test_wgan_no_nash_beyond_one_and_remark1_below():
    r = analysis.analyze("wgan", Setting(sigma=2.0, t=1.0), lambdas=LAMBDAS)
    assert not r["is_nash"]
    # derived: D* = |x|, the generator maximises E|wZ + u| at |w| = 1, |u| = t
    assert r["nash_gap_generator"] == pytest.approx(mean_abs_normal(1.0, 1.0) - mean_abs_normal(0.0, 1.0), abs=1e-9)
    assert abs(r["nash_gap_discriminator"]) <= r["tolerance"]
    # every swept λ > 0 fails: the mean-shift gain ~ φ(0)u² beats the O(u³/λ) proximal slack
    assert r["lambda_max"] == 0.0
    assert r["theorem3"]["inf_alpha_sq"] == 0.0
    gaps = np.asarray(r["proximal"]["generator_gaps"])
    assert np.all(gaps > r["tolerance"]) and np.all(np.diff(gaps) > 0)
    remark = analysis.analyze("wgan", Setting(sigma=0.6, orthogonal=True), lambdas=LAMBDAS)
    assert remark["is_nash"] and remark["lambda_max"] == np.inf


# --- f-GANs ----------------------------------------------------------------------------------------


def test_theorem1_condition_holds_for_every_fgan():
    assert all(fgan.theorem1_condition(name) for name in fgan.DIVERGENCES)


@pytest.mark.parametrize("w, u", [(1.0, 0.0), (0.95, 0.5)])
def test_fgan_divergences_match_gaussian_closed_forms(w, u):
    sigma = 1.2
    closed = {
        "kl": np.log(w / sigma) + (sigma**2 + u**2) / (2 * w**2) - 0.5,  # KL(P_X ‖ P_G)
        "reverse-kl": np.log(sigma / w) + (w**2 + u**2) / (2 * sigma**2) - 0.5,  # KL(P_G ‖ P_X)
        "hellinger": 2 - 2 * np.sqrt(2 * sigma * w / (sigma**2 + w**2)) * np.exp(-(u**2) / (4 * (sigma**2 + w**2))),
    }
    a = 2 / sigma**2 - 1 / w**2  # Pearson χ²(P_X‖P_G) = ∫ p_X²/p_G − 1, finite iff a > 0
    closed["pearson"] = w / (sigma**2 * np.sqrt(a)) * np.exp(u**2 / (2 * w**2) + u**2 / (2 * w**4 * a)) - 1
    for name, value in closed.items():
        got, divergent = fgan.divergence_1d(name, sigma, w, u)
        assert not divergent
        assert got == pytest.approx(value, abs=1e-9), name


def test_fgan_pearson_divergence_flagged_infinite():
    assert bool(fgan.divergence_1d("pearson", 2.0, 1.0, 0.0)[1])
    r = analysis.analyze("fgan-pearson", Setting(sigma=2.0))
    assert r["value"] is None and r["is_nash"] is None


@pytest.mark.parametrize("name", list(fgan.DIVERGENCES))
def test_fgan_value_at_optimum_is_the_divergence_and_matches_monte_carlo(name):
    setting = Setting(sigma=1.3)
    value, _ = fgan.value_1d(name, setting.sigma, 1.0, 1.0, 0.0)
    divergence, _ = fgan.divergence_1d(name, setting.sigma, 1.0, 0.0)
    assert value == pytest.approx(divergence, abs=1e-8)  # Fenchel equality at D* = f'(p_X/p_G)
    G = LinearGenerator(np.array([[0.8]]), np.array([0.3]))
    quadrature, _ = fgan.value_1d(name, setting.sigma, 1.0, 0.8, 0.3)
    mc, se = fgan.monte_carlo_value(name, setting, fgan.monte_carlo_draws(setting, 100_000, 3), G.W, G.u)
    assert abs(quadrature - mc) < 4 * se


@pytest.mark.parametrize("name", ["vanilla", "reverse-kl", "hellinger"])
def test_fgan_gap_signs_on_both_sides_of_one(name):
    above = analysis.analyze(f"fgan-{name}", Setting(sigma=1.6))
    assert not above["is_nash"] and above["nash_gap_generator"] > 1e3 * above["tolerance"]
    assert above["divergence_minimizer_check"]["G_star_is_minimizer"]
    if name == "reverse-kl":  # ψ(r*) = log r* − 1 = const + (1 − 1/σ²)Y²/2: the gain is (1 − 1/σ²)t²/2
        assert above["nash_gap_generator"] == pytest.approx((1 - 1 / 1.6**2) / 2, abs=1e-7)
    below = analysis.analyze(f"fgan-{name}", Setting(sigma=0.7, orthogonal=True))
    assert abs(below["nash_gap_generator"]) <= below["tolerance"]


def test_fgan_monte_carlo_in_two_dimensions():
    # Hellinger: f*(D*) = √r* − 1 has a finite second moment, so the standard error is meaningful
    r = analysis.analyze("fgan-hellinger", Setting(sigma=1.5, dim=2), samples=4000)
    assert r["nash_gap_generator"] > 3 * r["nash_gap_generator_standard_error"]
    assert not r["is_nash"]
    # D* = f'(p_X/p_G*) is the best response: the discriminator gap is zero within Monte Carlo error
    assert abs(r["nash_gap_discriminator"]) < 4 * r["nash_gap_discriminator_standard_error"]
