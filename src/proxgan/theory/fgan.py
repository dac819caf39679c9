"""f-GANs (eq. 7) with an unconstrained discriminator in Theorem 1's Gaussian game.

V(G, D) = E D(X) − E f*(D(Y)) with d_f(P_G, P_X) = ∫ p_G f(p_X/p_G) = max_D V(G, D), attained at
D^G = f'(p_X/p_G) (pointwise Fenchel equality). The f, f* pairs are proxgan.objectives.FDIVERGENCES
("vanilla" is Jensen–Shannon, f(t) = t log t − (t + 1) log((t + 1)/2)); f' and f'' come from autograd.

At G* (the closest-scale generator s*·z, u = 0, checked to minimise d_f) with r* = p_X/p_{G*}:
the generator's side reads V(G, D*) = const − E_Y ψ(r*(Y)), ψ(r) = f*(f'(r)) = r f'(r) − f(r),
ψ' = r f'' ≥ 0; r* is radial and increasing in ‖y‖ when σ > 1, so spreading Y (u ≠ 0) lowers V:
no Nash equilibrium (Theorem 1, first bullet; its condition "t² f''(t) non-decreasing" is checked
numerically by :func:`theorem1_condition`).

Expectations: in d = 1 a composite Gauss–Legendre rule on each density's scale (error ~1e-10 on
these smooth integrands; an integrand still non-negligible at the window edge is reported as a
divergent expectation); in d > 1 Monte Carlo with common random numbers and a standard error.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from proxgan.errors import check_memory
from proxgan.objectives import FDIVERGENCES
from proxgan.theory.gaussian import (
    Setting,
    gap_tolerance,
    gaussian_edges,
    generator_starts,
    grid_zoom_minimize,
    isotropic_generator,
    line_rule,
    projected_generator_descent,
)

#: formulation suffix → FDIVERGENCES key
DIVERGENCES = {"vanilla": "js", "kl": "kl", "reverse-kl": "reverse-kl", "pearson": "pearson", "hellinger": "hellinger"}
SCALE_FLOOR = 0.05
TAIL_TOL = 1e-9
#: tolerance on gaps in d = 1, times (1 + |V|): quadrature
TOLERANCE = 1e-8
#: Monte Carlo verdicts (d > 1): a gain is significant beyond this many standard errors
MC_SIGMAS = 3.0


@contextmanager
def single_threaded_torch():
    """Run torch's elementwise kernels on one thread (restored afterwards): on these small,
    many-call workloads intra-op threading costs ~5× more CPU than it saves."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _f(name: str):
    return FDIVERGENCES[DIVERGENCES[name]]


def f_prime(name: str, r: np.ndarray, *, second: bool = False) -> np.ndarray:
    """f'(r) (or f''(r) with ``second``) by autograd on the f of proxgan.objectives."""
    rt = torch.as_tensor(r, dtype=torch.float64).requires_grad_(True)
    (d1,) = torch.autograd.grad(_f(name).f(rt).sum(), rt, create_graph=second)
    if not second:
        return d1.numpy()
    (d2,) = torch.autograd.grad(d1.sum(), rt)
    return d2.numpy()


def conjugate(name: str, v: np.ndarray) -> np.ndarray:
    """f*(v) of proxgan.objectives, for v in dom f*.

    D* = f'(r) can round onto the open upper edge of dom f* when r is astronomically large
    (JS: log 2, Hellinger: 1), where f* = +∞; such v are moved down by a doubling number of ulps until f* is
    finite. This only touches points of negligible probability (r > 1e15).
    """
    v = np.asarray(v, dtype=float)
    out = _f(name).conjugate(torch.as_tensor(v)).numpy()
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        edge = v.flat[bad]
        fixed = out.flat[bad]
        for k in range(60):
            still = ~np.isfinite(fixed)
            if not still.any():
                break
            edge[still] -= np.spacing(np.abs(edge[still]) + 1.0) * 2.0**k
            fixed[still] = _f(name).conjugate(torch.as_tensor(edge[still])).numpy()
        out.flat[bad] = fixed
    return out


def f_value(name: str, r: np.ndarray) -> np.ndarray:
    return _f(name).f(torch.as_tensor(r, dtype=torch.float64)).numpy()


def theorem1_condition(name: str, grid: np.ndarray | None = None) -> bool:
    """Theorem 1's hypothesis: t² f''(t) non-decreasing on (0, ∞), checked on a log grid 1e-6…1e6."""
    t = np.geomspace(1e-6, 1e6, 2001) if grid is None else grid
    curve = t**2 * f_prime(name, t, second=True)
    return bool(np.all(np.diff(curve) >= -1e-12 * np.abs(curve[1:])))


def log_ratio(x_sq, sigma, dim: int, s_star):
    """log r*(x) = log p_X(x) − log p_{G*}(x) = d log(s*/σ) + ‖x‖²(1/s*² − 1/σ²)/2 (x_sq = ‖x‖²)."""
    return dim * np.log(s_star / sigma) + 0.5 * x_sq * (1 / s_star**2 - 1 / sigma**2)


def optimal_discriminator(name: str, x_sq, sigma, dim: int, s_star):
    """D*(x) = f'(r*(x)), with log r* clipped to ±300 so far tails stay finite."""
    r = np.exp(np.clip(log_ratio(x_sq, sigma, dim, s_star), -300, 300))
    return f_prime(name, r)


# --- d = 1: quadrature ----------------------------------------------------------------------------


def _expect(densities_and_values, edges, order: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """∫ integrand on the composite rule; also flags integrals whose integrand is still
    non-negligible on the outermost pieces (a divergent expectation)."""
    x, weights = line_rule(edges, order=order)
    terms = weights * densities_and_values(x)
    total = np.sum(terms, axis=-1)
    tail = np.abs(terms[..., :order]).sum(-1) + np.abs(terms[..., -order:]).sum(-1)
    return total, tail > TAIL_TOL * (1 + np.abs(total))


def _normal_pdf_safe(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (np.sqrt(2 * np.pi) * std)


def _real_term(name: str, sigma, s_star):
    """E_X D*(X) by quadrature (broadcasts over σ)."""
    ex = (lambda a: a[..., None])
    return _expect(
        lambda x: _normal_pdf_safe(x, 0.0, ex(sigma)) * optimal_discriminator(name, x * x, ex(sigma), 1, ex(s_star)),
        gaussian_edges([0.0 * sigma], [sigma], [], pieces=24, width=14.0),
        order=12,
    )


def _fake_windows(sigma, s_star, w, u):
    """Gaussian windows for E_Y f*(D*(Y)): the data's, Y's, and Y tilted by r*^k (k = 1, 2), i.e.
    p_Y r*^k ∝ N(u/(1 − 2kaw²), w²/(1 − 2kaw²)) with a = (1/s*² − 1/σ²)/2 — where KL (r*) and
    Pearson (r*²) put their mass (Y's own window stands in when the tilt is not normalisable)."""
    a = 0.5 * (1 / s_star**2 - 1 / sigma**2)
    means, stds = [0.0 * w, u], [sigma + 0.0 * w, w]
    for k in (1, 2):
        precision = 1 - 2 * k * a * w**2
        ok = precision > 1e-6
        safe = np.where(ok, precision, 1.0)
        means.append(np.where(ok, u / safe, u))
        stds.append(np.where(ok, w / np.sqrt(safe), w))
    return means, stds


def _fake_term(name: str, sigma, s_star, w, u):
    """E_Y f*(D*(Y)), Y ~ N(u, w²), by quadrature (broadcasts)."""
    ex = (lambda a: a[..., None])
    means, stds = _fake_windows(sigma, s_star, w, u)
    return _expect(
        lambda x: _normal_pdf_safe(x, ex(u), ex(w))
        * conjugate(name, optimal_discriminator(name, x * x, ex(sigma), 1, ex(s_star))),
        gaussian_edges(means, stds, [], pieces=6, width=14.0),
        order=12,
    )


def value_1d(name: str, sigma, s_star, w, u):
    """V(G, D*) = E_X D*(X) − E_Y f*(D*(Y)) for Y ~ N(u, w²), by quadrature (broadcasts).

    Returns (value, divergent flag)."""
    sigma, s_star = np.broadcast_arrays(np.asarray(sigma, float), np.asarray(s_star, float))
    w = np.maximum(np.abs(np.asarray(w, float)), SCALE_FLOOR)
    real, real_div = _real_term(name, sigma, s_star)
    extra = (1,) * (np.ndim(w) - sigma.ndim) if np.ndim(w) > sigma.ndim else ()
    sigma_b, s_star_b, w, u = np.broadcast_arrays(sigma.reshape(sigma.shape + extra), s_star.reshape(sigma.shape + extra), w, u)
    fake, fake_div = _fake_term(name, sigma_b, s_star_b, w, u)
    return real.reshape(real.shape + extra) - fake, real_div.reshape(real.shape + extra) | fake_div


def divergence_1d(name: str, sigma, w, u):
    """d_f(P_G, P_X) = ∫ p_G f(p_X/p_G) by quadrature (broadcasts). Returns (value, divergent flag)."""
    sigma, w, u = np.broadcast_arrays(*[np.asarray(a, float) for a in (sigma, w, u)])
    w = np.maximum(np.abs(w), SCALE_FLOOR)
    ex = (lambda a: a[..., None])

    def integrand(x):
        log_r = -0.5 * (x / ex(sigma)) ** 2 + 0.5 * ((x - ex(u)) / ex(w)) ** 2 + np.log(ex(w) / ex(sigma))
        return _normal_pdf_safe(x, ex(u), ex(w)) * f_value(name, np.exp(np.clip(log_r, -300, 300)))

    # windows: P_X, P_G, and p_X²/p_G ∝ N(−u/(w²a), 1/a), a = 2/σ² − 1/w² (Pearson's integrand)
    a = 2 / sigma**2 - 1 / w**2
    ok = a > 1e-6
    safe = np.where(ok, a, 1.0)
    tilt_mean, tilt_std = np.where(ok, -u / (w**2 * safe), u), np.where(ok, 1 / np.sqrt(safe), w)
    return _expect(integrand, gaussian_edges([0.0 * sigma, u, tilt_mean], [sigma, w, tilt_std], [], pieces=8, width=14.0))


def generator_min_1d(setting: Setting, name: str, sigma):
    """min over (|w|, u) ∈ [max(s_lo, 0.05), 1] × [0, t] of V(G, D*) (u ≥ 0 by the evenness of
    D* and X), batched over σ by :func:`grid_zoom_minimize`. Returns (value, w, u, divergent),
    divergent meaning E f*(D*(Y)) = ∞ at the minimiser (V = −∞: unbounded deviation gain)."""
    sigma = np.asarray(sigma, float)
    lo, hi = setting.singular_value_range
    s_star = np.clip(sigma, lo, hi)
    expand = (lambda a, k: a.reshape(a.shape + (1,) * k))

    def objective(w, u):
        k = w.ndim - sigma.ndim
        return value_1d(name, expand(sigma, k), expand(s_star, k), w, u)[0]

    w_lo = np.full(sigma.shape, max(lo, SCALE_FLOOR))
    value, (w, u) = grid_zoom_minimize(objective, [w_lo, 0 * w_lo], [w_lo * 0 + hi, w_lo * 0 + setting.t], points=7, levels=6)
    return value, w, u, value_1d(name, sigma, s_star, w, u)[1]


def divergence_minimizer_check_1d(setting: Setting, name: str) -> dict:
    """min over 𝒢 of d_f by grid search vs d_f at the closest-scale G*: G* is the minimiser when
    the search finds nothing lower (beyond 1e-9)."""
    lo, hi = setting.singular_value_range
    sigma = np.asarray(setting.sigma)
    found, (w, u) = grid_zoom_minimize(
        lambda w, u: divergence_1d(name, sigma, w, u)[0],
        [np.asarray(max(lo, SCALE_FLOOR)), np.asarray(-setting.t)],
        [np.asarray(hi), np.asarray(setting.t)],
        points=15,
        levels=8,
    )
    at_star, divergent = divergence_1d(name, sigma, setting.closest_scale, 0.0)
    return {
        "divergence_at_G_star": None if divergent else float(at_star),
        "search_minimum": float(found),
        "search_argmin": {"w": float(w), "u": float(u)},
        "G_star_is_minimizer": bool(not divergent and at_star <= found + 1e-9 * (1 + abs(found))),
    }


# --- d > 1: Monte Carlo ---------------------------------------------------------------------------


def fake_terms(name: str, setting: Setting, z: np.ndarray, W, u) -> torch.Tensor:
    """f*(D*(W zᵢ + u)) per draw, differentiable in (W, u) when they require grad (D* = f'(r*) by
    autograd on the f of proxgan.objectives)."""
    s_star = setting.closest_scale
    y = torch.as_tensor(z) @ torch.as_tensor(W).T + torch.as_tensor(u)
    log_r = setting.dim * np.log(s_star / setting.sigma) + 0.5 * (y * y).sum(-1) * (1 / s_star**2 - 1 / setting.sigma**2)
    r = torch.exp(torch.clamp(log_r, -300, 300))
    if not r.requires_grad:
        r.requires_grad_(True)
    (d_star,) = torch.autograd.grad(_f(name).f(r).sum(), r, create_graph=True)
    return _f(name).conjugate(d_star)


def monte_carlo_draws(setting: Setting, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draws (X, Z) shared by every Monte Carlo estimate of a run (common random numbers)."""
    rng = np.random.default_rng(seed)
    return setting.sigma * rng.standard_normal((samples, setting.dim)), rng.standard_normal((samples, setting.dim))


def monte_carlo_value(name: str, setting: Setting, draws, W, u) -> tuple[float, float]:
    """V(G, D*) = mean D*(Xᵢ) − mean f*(D*(W Zᵢ + u)); returns (value, standard error)."""
    x, z = draws
    real = optimal_discriminator(name, np.sum(x * x, 1), setting.sigma, setting.dim, setting.closest_scale)
    fake = fake_terms(name, setting, z, W, u).detach().numpy()
    n = len(x)
    return float(real.mean() - fake.mean()), float(np.sqrt(real.var(ddof=1) / n + fake.var(ddof=1) / n))


def monte_carlo_gain(name: str, setting: Setting, draws, G_star, G) -> tuple[float, float]:
    """V(G*, D*) − V(G, D*) on the same Z draws: mean of paired differences and its standard error."""
    z = draws[1]
    diff = (fake_terms(name, setting, z, G.W, G.u) - fake_terms(name, setting, z, G_star.W, G_star.u)).detach().numpy()
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


def monte_carlo_generator_objective(name: str, setting: Setting, draws):
    """(W, u) ↦ (−mean f*(D*(W Zᵢ + u)), ∂/∂W, ∂/∂u): the G-dependent part of V(G, D*) on fixed
    draws, for projected descent."""
    z = draws[1]

    def objective(W, u):
        Wt = torch.as_tensor(W).requires_grad_(True)
        ut = torch.as_tensor(u).requires_grad_(True)
        value = -fake_terms(name, setting, z, Wt, ut).mean()
        gW, gu = torch.autograd.grad(value, (Wt, ut))
        return float(value.detach()), gW.numpy(), gu.numpy()

    return objective


# --- the analysis of one setting (Theorem 1, Remark 1) ----------------------------------------------


def check_size(setting: Setting, samples: int) -> None:
    """Refuse Monte Carlo draws whose arrays (a few copies of samples × d float64) exceed the available memory."""
    check_memory(f"{samples} Monte Carlo draws in {setting.dim} dimensions", 8.0 * samples * setting.dim * 6)


def analyze(setting: Setting, name: str, samples: int, seed: int) -> dict:
    """(G*, D*) = (s*·z, f'(p_X/p_G*)) for the f-divergence ``name``: Nash gaps by quadrature in d = 1
    (with the Stackelberg value), by Monte Carlo with standard errors in d > 1."""
    s_star = setting.closest_scale
    G = isotropic_generator(setting, s_star)
    base = {
        "G_star": G.to_dict(),
        "D_star": {"form": "D*(x) = f'(p_X(x)/p_G*(x))", "f_divergence": DIVERGENCES[name]},
        "theorem1_condition_t2_fpp_nondecreasing": theorem1_condition(name),
        "lambda_theorem": None,
        "proximal": None,
        "proximal_note": "the Sobolev-proximal inner problem over unconstrained D is an elliptic "
        "boundary-value problem; not computed for f-GANs",
    }
    if setting.dim == 1:
        return base | _analyze_1d(setting, name)
    draws = monte_carlo_draws(setting, samples, seed)
    value, value_se = monte_carlo_value(name, setting, draws, G.W, G.u)
    # d_f(P_G*, P_X) = E_{G*} f(r*) = E_X f(r*)/r*: the X-form has the lighter tail when σ > s*
    ratio = np.exp(np.clip(log_ratio(np.sum(draws[0] ** 2, 1), setting.sigma, setting.dim, s_star), -300, 300))
    divergence_terms = f_value(name, ratio) / ratio
    divergence = float(divergence_terms.mean())
    divergence_se = float(divergence_terms.std(ddof=1) / np.sqrt(samples))
    objective = monte_carlo_generator_objective(name, setting, draws)
    G_best, _ = projected_generator_descent(objective, setting, generator_starts(setting, G, n_random=1, seed=seed), steps=60)
    gain, gain_se = monte_carlo_gain(name, setting, draws, G, G_best)
    return {
        **base,
        "divergent": False,
        "value": value,
        "value_standard_error": value_se,
        "divergence": divergence,
        "divergence_standard_error": divergence_se,
        "discriminator_best_response_value": divergence,
        "generator_best_response": G_best.to_dict(),
        "nash_gap_generator": gain,
        "nash_gap_generator_standard_error": gain_se,
        "nash_gap_discriminator": divergence - value,
        "nash_gap_discriminator_standard_error": float(np.hypot(value_se, divergence_se)),
        "stackelberg_value": None,
        "expectations": f"Monte Carlo, {samples} draws (seed {seed}); verdict at {MC_SIGMAS:g} standard errors "
        "(meaningful only where f*(D*(Y)) has a finite variance: not for KL or Pearson once σ² ≥ 2·s*²)",
        "tolerance": None,
    }


def _analyze_1d(setting: Setting, name: str) -> dict:
    """The d = 1 gaps by quadrature; null gaps where the divergence (or E f*(D*)) is infinite."""
    s_star = setting.closest_scale
    value, value_div = value_1d(name, setting.sigma, s_star, s_star, 0.0)
    divergence, div_div = divergence_1d(name, setting.sigma, s_star, 0.0)
    if bool(value_div) or bool(div_div):
        return {"divergent": True, "value": None, "divergence": None, "nash_gap_generator": None,
                "nash_gap_discriminator": None, "is_nash": None, "stackelberg_value": None,
                "note": "the f-divergence (or E f*(D*)) is infinite in this setting (e.g. Pearson χ² for σ ≥ √2·s*)"}
    gen_min, w, u, gen_div = generator_min_1d(setting, name, setting.sigma)
    check = divergence_minimizer_check_1d(setting, name)
    return {
        "divergent": False,
        "value": float(value),
        "divergence": float(divergence),
        "discriminator_best_response_value": float(divergence),
        "generator_best_response": {"W": [[float(w)]], "u": [float(u)], "value": None if gen_div else float(gen_min)},
        "nash_gap_generator": float("inf") if gen_div else float(value - gen_min),
        "nash_gap_discriminator": float(divergence - value),
        "stackelberg_value": check["search_minimum"],
        "divergence_minimizer_check": check,
        "tolerance": gap_tolerance(TOLERANCE, float(value)),
        "expectations": "composite Gauss–Legendre quadrature",
    }


def nash_gaps(setting: Setting, name: str, sigmas: np.ndarray, s_star: np.ndarray):
    """Batched over σ in d = 1: (V(G*, D*), min_G V(G, D*), max_D V(G*, D) = d_f); V and d_f are NaN
    where either is infinite, min_G V is −∞ where the generator's deviation makes it diverge."""
    value, divergent = value_1d(name, sigmas, s_star, s_star, 0.0)
    gen_min, _, _, gen_divergent = generator_min_1d(setting, name, sigmas)
    best, best_divergent = divergence_1d(name, sigmas, s_star, 0.0)
    divergent = divergent | best_divergent
    gen_min = np.where(gen_divergent, -np.inf, gen_min)
    return np.where(divergent, np.nan, value), gen_min, np.where(divergent, np.nan, best)


def deviation_values(setting: Setting, name: str, Ws: list, us: list, *, samples: int, seed: int):
    """V(G, D*) against the frozen D* = f'(p_X/p_G*), and max_D V(G, D) = d_f (NaN in d > 1, where V
    is a Monte Carlo estimate on ``samples`` draws), at each G = (W, u)."""
    if setting.dim == 1:
        w, u = np.array([W[0, 0] for W in Ws]), np.array([u[0] for u in us])
        return value_1d(name, setting.sigma, setting.closest_scale, w, u)[0], divergence_1d(name, setting.sigma, w, u)[0]
    draws = monte_carlo_draws(setting, samples, seed)
    return [monte_carlo_value(name, setting, draws, W, u)[0] for W, u in zip(Ws, us)], [np.nan] * len(Ws)
