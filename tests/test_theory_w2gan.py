"""W2GAN in Theorem 1's Gaussian game: closed forms vs independent computations, gap signs on both
sides of σ = 1, λ_max vs Theorem 2's 1/(4η), Proposition 3's nesting, Corollary 1."""

import numpy as np
import ot
import pytest
from scipy.optimize import minimize

from proxgan.theory import analysis, w2gan
from proxgan.theory.gaussian import (
    LinearGenerator,
    Setting,
    bures_w2_squared,
    generator_starts,
    project_generator,
    projected_generator_descent,
)
from proxgan.theory.proximal import (
    penalty_strong_convexity,
    sobolev_distance_sq_quadratic,
    symmetric_from_vector,
    vector_from_symmetric,
)

RNG = np.random.default_rng(0)
LAMBDAS = np.geomspace(1e-2, 10, 12)  # a short sweep; λ_max is refined by bisection anyway


def random_generator(setting: Setting, rng=RNG) -> LinearGenerator:
    W, u = project_generator(rng.normal(size=(setting.dim, setting.dim)), rng.normal(size=setting.dim), setting)
    return LinearGenerator(W, u)


def test_bures_formula_matches_pot():
    d = 3
    for _ in range(3):
        m1, m2 = RNG.normal(size=d), RNG.normal(size=d)
        B1, B2 = RNG.normal(size=(d, d)), RNG.normal(size=(d, d))
        S1, S2 = B1 @ B1.T + 0.1 * np.eye(d), B2 @ B2.T
        pot = float(ot.gaussian.bures_wasserstein_distance(m1, m2, S1, S2)) ** 2
        assert bures_w2_squared(m1, S1, m2, S2) == pytest.approx(pot, rel=1e-9)


def test_brenier_discriminator_is_the_pot_transport_map_and_attains_w2():
    setting = Setting(sigma=1.7, dim=3, t=1.0, eta=0.8)
    G = random_generator(setting)
    A, b = w2gan.brenier_discriminator(setting, G)
    # POT's Gaussian OT map x ↦ T_A x + T_b from N(0, σ²I) to N(u, WWᵀ)
    T_A, T_b = ot.gaussian.bures_wasserstein_mapping(np.zeros(3), G.u, setting.sigma**2 * np.eye(3), G.covariance)
    # ∇D(x) = 2Ax + b = 2η(x − T(x))
    assert 2 * A == pytest.approx(2 * setting.eta * (np.eye(3) - T_A), abs=1e-8)
    assert b == pytest.approx(-2 * setting.eta * T_b, abs=1e-10)
    # closed-form V at the Brenier D equals η·W₂² (Bures): the dual is tight
    assert w2gan.value(setting, G.W, G.u, A, b) == pytest.approx(w2gan.transport_cost(setting, G), rel=1e-10)


def test_c_transform_closed_form_matches_numerical_sup():
    eta = 1.3
    A = np.array([[0.4, 0.2], [0.2, -0.5]])
    b = np.array([0.3, -1.0])
    y = RNG.normal(size=(4, 2))
    closed = w2gan.c_transform(A, b, eta, y)
    for yi, ci in zip(y, closed):
        res = minimize(lambda x: -(x @ A @ x + b @ x - eta * np.sum((x - yi) ** 2)), np.zeros(2), tol=1e-12)
        assert -res.fun == pytest.approx(ci, abs=1e-8)


def test_value_matches_monte_carlo():
    setting = Setting(sigma=1.5, dim=2, eta=0.7)
    G = random_generator(setting)
    A = np.array([[0.2, 0.1], [0.1, -0.3]])
    b = np.array([0.5, -0.2])
    n = 200_000
    rng = np.random.default_rng(1)
    x = setting.sigma * rng.standard_normal((n, 2))
    y = rng.standard_normal((n, 2)) @ G.W.T + G.u
    terms_x = np.einsum("ni,ij,nj->n", x, A, x) + x @ b
    terms_y = w2gan.c_transform(A, b, setting.eta, y)
    mc = terms_x.mean() - terms_y.mean()
    se = np.sqrt(terms_x.var() / n + terms_y.var() / n)
    assert abs(w2gan.value(setting, G.W, G.u, A, b) - mc) < 4 * se


def test_gradients_match_finite_differences():
    setting = Setting(sigma=1.4, dim=2, eta=0.9)
    G = random_generator(setting)
    A = np.array([[0.2, 0.1], [0.1, -0.3]])
    b = np.array([0.5, -0.2])
    _, dW, du, dA, db = w2gan.value_and_gradients(setting, G.W, G.u, A, b)
    h = 1e-6

    def fd(fn, x):
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[idx] = h
            grad[idx] = (fn(x + e) - fn(x - e)) / (2 * h)
        return grad

    assert dW == pytest.approx(fd(lambda W: w2gan.value(setting, W, G.u, A, b), G.W), abs=1e-6)
    assert du == pytest.approx(fd(lambda u: w2gan.value(setting, G.W, u, A, b), G.u), abs=1e-6)
    assert db == pytest.approx(fd(lambda bb: w2gan.value(setting, G.W, G.u, A, bb), b), abs=1e-6)
    # symmetric A: compare along symmetric directions through the orthonormal coordinates
    w = vector_from_symmetric(A)
    grad_w = fd(lambda v: w2gan.value(setting, G.W, G.u, symmetric_from_vector(v, 2), b), w)
    assert vector_from_symmetric(dA) == pytest.approx(grad_w, abs=1e-6)


def test_sobolev_distance_of_quadratics_matches_monte_carlo():
    sigma = 1.3
    dA = np.array([[0.3, -0.2], [-0.2, 0.1]])
    db = np.array([0.4, -0.7])
    x = sigma * np.random.default_rng(2).standard_normal((400_000, 2))
    grads = 2 * x @ dA.T + db
    sq = np.sum(grads**2, axis=1)
    assert abs(sobolev_distance_sq_quadratic(dA, db, sigma) - sq.mean()) < 4 * sq.std() / np.sqrt(len(sq))


@pytest.mark.parametrize("sigma, t, eta", [(2.0, 1.0, 1.0), (1.5, 0.5, 2.0)])
def test_theorem1_generator_gain_beyond_sigma_one(sigma, t, eta):
    setting = Setting(sigma=sigma, dim=2, t=t, eta=eta)
    r = analysis.analyze("w2gan-quadratic", setting, lambdas=LAMBDAS, verify=False)
    assert not r["is_nash"]
    assert r["nash_gap_generator"] > 100 * r["tolerance"]
    assert abs(r["nash_gap_discriminator"]) <= r["tolerance"]
    # hand derivation: V(G, D*) = const + η(1 − σ)(tr Σ + ‖u‖²), so the best deviation is ‖u‖ = t
    assert r["nash_gap_generator"] == pytest.approx(eta * (sigma - 1) * t**2, rel=1e-9)
    assert r["local_generator_gain"]["gain"] > 0  # not even a local Nash equilibrium


@pytest.mark.parametrize("formulation", ["w2gan-quadratic", "w2gan"])
def test_remark1_nash_below_sigma_one_with_orthogonal_generators(formulation):
    r = analysis.analyze(formulation, Setting(sigma=0.6, dim=2, orthogonal=True), lambdas=LAMBDAS, verify=False)
    assert r["is_nash"]
    assert abs(r["nash_gap_generator"]) <= r["tolerance"]
    assert r["lambda_max"] == np.inf


def test_reduced_solver_agrees_with_full_coordinate_projected_descent():
    setting = Setting(sigma=2.0, dim=2, t=1.0, eta=1.0)
    G = w2gan.divergence_minimizer(setting)
    A, b = w2gan.brenier_discriminator(setting, G)
    p_star, m_star = w2gan.reduced_equilibrium(setting, setting.sigma)
    starts = generator_starts(setting, G, n_random=1)
    for lam in (np.inf, 1.0):
        objective = w2gan.proximal_generator_objective(setting, A, b, lam)
        _, full = projected_generator_descent(objective, setting, starts, steps=40)
        reduced = float(w2gan.reduced_generator_min(setting, setting.sigma, m_star, lam)[0])
        assert full == pytest.approx(reduced, abs=1e-6)


def test_proximal_inner_max_is_strongly_concave_as_proposition4_says():
    setting = Setting(sigma=1.8, dim=2, eta=1.0)
    G = random_generator(setting)
    G_star = w2gan.divergence_minimizer(setting)
    A, b = w2gan.brenier_discriminator(setting, G_star)
    lam = 0.7
    value, A_opt, b_opt = w2gan.proximal_inner_max(setting, G.W, G.u, A, b, lam)
    # optimality: no random perturbation improves the penalised objective
    def objective(A_, b_):
        return w2gan.value(setting, G.W, G.u, A_, b_) - lam * sobolev_distance_sq_quadratic(A_ - A, b_ - b, setting.sigma)

    assert objective(A_opt, b_opt) == pytest.approx(value)
    for _ in range(10):
        dA = RNG.normal(size=(2, 2)) * 1e-3
        assert objective(A_opt + (dA + dA.T) / 2, b_opt + RNG.normal(size=2) * 1e-3) <= value + 1e-12
    # Proposition 4's η₁: the penalty's Hessian in w = (A in orthonormal coordinates, b)
    eta1 = penalty_strong_convexity(setting.sigma)
    w0, h = np.zeros(5), 1e-4

    def penalty(w):
        return sobolev_distance_sq_quadratic(symmetric_from_vector(w[:3], 2), w[3:], setting.sigma)

    H = np.array([[(penalty(w0 + h * (ei + ej)) - penalty(w0 + h * (ei - ej)) - penalty(w0 - h * (ei - ej))
                    + penalty(w0 - h * (ei + ej))) / (4 * h * h) for ej in np.eye(5)] for ei in np.eye(5)])
    assert np.linalg.eigvalsh(H).min() == pytest.approx(eta1, rel=1e-6)
    # V is concave in w (so the inner problem is strongly concave for every λ > 0, with η₂ ≥ 0)
    for _ in range(10):
        w1, w2 = RNG.normal(size=5) * 0.2, RNG.normal(size=5) * 0.2
        Vs = [w2gan.value(setting, G.W, G.u, symmetric_from_vector(w[:3], 2), w[3:]) for w in (w1, w2, (w1 + w2) / 2)]
        assert Vs[2] >= (Vs[0] + Vs[1]) / 2 - 1e-12
    assert w2gan.smoothness(setting, G, A_opt, b_opt) > 0


@pytest.mark.parametrize("sigma, eta", [(2.0, 1.0), (3.0, 0.5), (1.25, 2.0)])
def test_lambda_max_is_at_least_theorem2_threshold(sigma, eta):
    r = analysis.analyze("w2gan-quadratic", Setting(sigma=sigma, dim=2, eta=eta), lambdas=LAMBDAS / eta, verify=False)
    lam_theorem = 1 / (4 * eta)
    assert r["lambda_theorem"] == lam_theorem
    assert r["lambda_max"] >= lam_theorem
    # derived in docs/theorem.md: the binding deviation is the mean shift, λ_max = σ / (4η(σ − 1))
    lo, hi = r["proximal"]["lambda_max_bracket"]
    assert lo <= sigma / (4 * eta * (sigma - 1)) * (1 + 1e-3)
    assert hi >= sigma / (4 * eta * (sigma - 1))


def test_nesting_and_corollary1_on_the_lambda_sweep():
    r = analysis.analyze("w2gan", Setting(sigma=2.0, dim=1), lambdas=LAMBDAS, verify=False)
    prox = r["proximal"]
    ok = np.asarray(prox["is_proximal_equilibrium"])
    lambdas = np.asarray(prox["lambdas"])
    assert ok.any() and not ok.all()
    assert prox["nesting_violations"] == 0
    # PE_λ₂ ⊆ PE_λ₁ for λ₁ ≤ λ₂: every λ below an equilibrium λ is an equilibrium
    assert np.all(ok[lambdas <= lambdas[ok].max()])
    assert prox["corollary1"]["G_star_attains_stackelberg_value"]
    assert r["stackelberg_value"] == pytest.approx(r["value"], abs=1e-9)
