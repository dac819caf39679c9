"""The theorem lab: one formulation in one setting (Nash gaps, proximal gaps, λ_max, Stackelberg
value), and the σ- and λ-sweeps with their figures (Theorem 1, Remark 1, Theorems 2–3, Props 2–4,
Corollary 1).

Every gap is an optimisation result: the generator's deviation gain V(G*, D*) − min_{G∈𝒢} V(G, D*)
and the discriminator's max_D V(G*, D) − V(G*, D*); the λ-proximal generator gap is
V(G*, D*) − min_{G∈𝒢} V_λ^prox(G, D*) and the proximal discriminator gap max_D V_λ^prox(G*, D) −
V_λ^prox(G*, D*) = max_D V(G*, D) − V_λ^prox(G*, D*) (max_D max_D̃ = max_D̃). By Proposition 2,
(G*, D*) is a λ-proximal equilibrium iff both are ≤ tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from proxgan.errors import ProxganError, check_memory
from proxgan.theory import fgan, w2gan, wgan1d
from proxgan.theory.gaussian import (
    LinearGenerator,
    Setting,
    generator_starts,
    isotropic_generator,
    projected_generator_descent,
)
from proxgan.theory.proximal import lambda_max_search, nesting_violations, penalty_strong_convexity

FORMULATIONS = (
    "w2gan-quadratic",
    "w2gan",
    "wgan",
    "fgan-vanilla",
    "fgan-kl",
    "fgan-reverse-kl",
    "fgan-pearson",
    "fgan-hellinger",
)
PROXIMAL_FORMULATIONS = ("w2gan-quadratic", "w2gan", "wgan")
#: absolute tolerance on gaps, scaled by (1 + |V|): closed forms / bisection, and quadrature
TOLERANCE = {"w2gan-quadratic": 1e-9, "w2gan": 1e-9, "wgan": 1e-8, "fgan": 1e-8}
MC_SIGMAS = 3.0
GAP_FLOOR = 1e-12  # log-scale figures draw gaps below this at the floor  # Monte Carlo verdicts: a gain is significant beyond 3 standard errors


def default_lambdas(setting: Setting, count: int = 50) -> np.ndarray:
    """Log-spaced λ over [1e-3, 1e2]/η (Theorem 2's 1/(4η) sits inside)."""
    return np.geomspace(1e-3, 1e2, count) / setting.eta


def _tolerance(formulation: str, value: float) -> float:
    key = "fgan" if formulation.startswith("fgan") else formulation
    return TOLERANCE[key] * (1 + abs(value))


def _reduced_generator(setting: Setting, p, R, q) -> LinearGenerator:
    """The generator with variance p along e₁ (where u = √R e₁ points) and q across."""
    scales = np.full(setting.dim, np.sqrt(float(q)))
    scales[0] = np.sqrt(float(p))
    u = np.zeros(setting.dim)
    u[0] = np.sqrt(float(R))
    return LinearGenerator(np.diag(scales), u)


def _proximal_summary(lambdas, gen_gaps, disc_gaps, tol, gap_at, value, stackelberg) -> dict:
    """λ-sweep verdicts, λ_max (bisection-refined), Prop. 3 nesting count and Corollary 1's check."""
    ok = (gen_gaps <= tol) & (disc_gaps <= tol)
    search = lambda_max_search(gap_at, lambdas, np.maximum(gen_gaps, disc_gaps), tol)
    return {
        "lambdas": lambdas,
        "generator_gaps": gen_gaps,
        "discriminator_gaps": disc_gaps,
        "is_proximal_equilibrium": ok,
        "lambda_max": search["lambda_max"],
        "lambda_max_bracket": search["bracket"],
        "nesting_violations": nesting_violations(lambdas, np.maximum(gen_gaps, disc_gaps), tol),
        "corollary1": {
            "stackelberg_value": stackelberg,
            "value_at_G_star": value,
            "G_star_attains_stackelberg_value": bool(abs(value - stackelberg) <= tol),
            "proximal_equilibria_in_sweep": int(ok.sum()),
        },
    }


# --- W2GAN -----------------------------------------------------------------------------------------


def _analyze_w2gan(setting: Setting, formulation: str, lambdas: np.ndarray, verify: bool) -> dict:
    sigma = setting.sigma
    G = w2gan.divergence_minimizer(setting)
    A, b = w2gan.brenier_discriminator(setting, G)
    value = w2gan.value(setting, G.W, G.u, A, b)
    divergence = w2gan.transport_cost(setting, G)
    tol = _tolerance(formulation, value)
    p_star, m_star = w2gan.reduced_equilibrium(setting, sigma)
    cconcave = formulation == "w2gan"
    # discriminator's best response: OT duality (Bures) over c-concave D, or the concave
    # maximisation over quadratic D (reduced λ = 0 problem)
    disc_best = divergence if cconcave else float(w2gan.reduced_discriminator_max(setting, sigma, p_star))
    gen_min, p, R, q = (float(x) for x in w2gan.reduced_generator_min(setting, sigma, m_star, np.inf))
    G_best = _reduced_generator(setting, p, R, q)
    stackelberg = float(w2gan.reduced_generator_min(setting, sigma, m_star, 0.0)[0])

    def gen_gap_at(lam):
        return value - w2gan.reduced_generator_min(setting, sigma, m_star, lam)[0]

    prox_at_star = w2gan.reduced_value(setting, sigma, m_star, lambdas, p_star)
    proximal = _proximal_summary(
        lambdas, gen_gap_at(lambdas), disc_best - prox_at_star, tol, gen_gap_at, value, stackelberg
    )
    if cconcave:
        proximal["lambda_max_kind"] = "lower bound: inner max over quadratic D̃, a subset of the c-concave functions"
    else:
        proximal["lambda_max_kind"] = "exact for quadratic D̃"
    shifted = LinearGenerator(G.W, G.u + np.eye(setting.dim)[0] * setting.t)
    eta1 = penalty_strong_convexity(sigma)
    eta2 = max(w2gan.smoothness(setting, G, A, b), w2gan.smoothness(setting, shifted, A, b))
    result = {
        "G_star": G.to_dict(),
        "D_star": {"A": A, "b": b, "form": "D(x) = xᵀAx + bᵀx"},
        "value": value,
        "divergence": divergence,
        "discriminator_best_response_value": disc_best,
        "generator_best_response": {**G_best.to_dict(), "value": gen_min},
        "nash_gap_generator": value - gen_min,
        "nash_gap_discriminator": disc_best - value,
        "stackelberg_value": stackelberg,
        "lambda_theorem": 1 / (4 * setting.eta),
        "proposition4": {
            "eta1": eta1,
            "eta2_local": eta2,
            "lambda_strongly_concave": eta2 / eta1,
            "note": "η₂ is the local smoothness of V(G, D_w) at D* (max over G*, G* + t e₁); V is "
            "concave in w, so the inner problem is already strongly concave for every λ > 0",
        },
        "proximal": proximal,
    }
    if not cconcave:
        radius = 1e-3 * setting.t
        local_min = float(w2gan.reduced_generator_min(setting, sigma, m_star, np.inf, radius=radius)[0])
        result["local_generator_gain"] = {"radius": radius, "gain": value - local_min}
    if verify:
        result["verification"] = _verify_w2gan(setting, G, A, b, value, gen_min, proximal, tol)
    return result


def _verify_w2gan(setting, G, A, b, value, gen_min, proximal, tol) -> dict:
    """Full-coordinate projected descent over (W, u) (no symmetry reduction) for the Nash best
    response and for V_λ^prox at λ = 1/(4η) and 2·λ_max: agreement with the reduced solver."""
    out = {}
    starts = generator_starts(setting, G, n_random=2)
    _, v = projected_generator_descent(w2gan.proximal_generator_objective(setting, A, b, np.inf), setting, starts)
    out["nash_generator_min_full"] = v
    out["nash_generator_min_reduced"] = gen_min
    lam_theorem = 1 / (4 * setting.eta)
    checks = [lam_theorem]
    if np.isfinite(proximal["lambda_max"]) and proximal["lambda_max"] > 0:
        checks.append(2 * proximal["lambda_max"])
    for lam in checks:
        objective = w2gan.proximal_generator_objective(setting, A, b, lam)
        _, v = projected_generator_descent(objective, setting, starts[:3], steps=40)
        reduced = float(w2gan.reduced_generator_min(setting, setting.sigma, w2gan.reduced_equilibrium(setting, setting.sigma)[1], lam)[0])
        out[f"proximal_generator_min_full@{lam:.6g}"] = v
        out[f"proximal_generator_min_reduced@{lam:.6g}"] = reduced
    out["agree"] = bool(all(
        abs(out[k] - out[k.replace("full", "reduced")]) <= 1e-6 * (1 + abs(value)) for k in out if "full" in k
    ))
    return out


# --- WGAN ------------------------------------------------------------------------------------------


def _analyze_wgan(setting: Setting, lambdas: np.ndarray) -> dict:
    from proxgan.theory.gaussian import require_dim_one

    require_dim_one(setting, "wgan")
    sigma, s_star = setting.sigma, setting.closest_scale
    slope = wgan1d.optimal_slope_sign(setting)
    value = float(wgan1d.proximal_value(sigma, slope, np.inf, s_star, 0.0))
    divergence = float(wgan1d.wasserstein1(sigma, s_star, 0.0))
    disc_best = float(wgan1d.proximal_value(sigma, slope, 0.0, s_star, 0.0))
    tol = _tolerance("wgan", value)
    gen_min, w, u = (float(x) for x in wgan1d.generator_min(setting, sigma, np.inf))
    stackelberg = float(wgan1d.generator_min(setting, sigma, 0.0)[0])

    def gen_gap_at(lam):
        return value - wgan1d.generator_min(setting, sigma, lam)[0]

    prox_at_star = wgan1d.proximal_value(sigma, slope, lambdas, s_star, 0.0)
    proximal = _proximal_summary(lambdas, gen_gap_at(lambdas), disc_best - prox_at_star, tol, gen_gap_at, value, stackelberg)
    proximal["lambda_max_kind"] = "exact inner max (pointwise over 1-Lipschitz D̃); outer grid search"
    return {
        "G_star": {"W": [[s_star]], "u": [0.0]},
        "D_star": {"slope_sign": slope, "form": "D(x) = slope_sign·|x| (constant when 0)"},
        "value": value,
        "divergence": divergence,
        "discriminator_best_response_value": disc_best,
        "generator_best_response": {"W": [[w]], "u": [u], "value": gen_min},
        "nash_gap_generator": value - gen_min,
        "nash_gap_discriminator": disc_best - value,
        "stackelberg_value": stackelberg,
        "lambda_theorem": None,
        "theorem3": {
            "inf_alpha_sq": wgan1d.theorem3_eta(setting),
            "note": "α²(x) = |x − T(x)| = |x|·|1 − s*/σ| vanishes at x = 0, so Theorem 3 certifies no λ > 0 "
            "here (and its convexity hypothesis on {α_θ∇D^θ} fails for this family)",
        },
        "proximal": proximal,
    }


# --- f-GANs ----------------------------------------------------------------------------------------


def _analyze_fgan(setting: Setting, formulation: str, samples: int, seed: int) -> dict:
    name = formulation.removeprefix("fgan-")
    s_star = setting.closest_scale
    G = isotropic_generator(setting, s_star)
    base = {
        "G_star": G.to_dict(),
        "D_star": {"form": "D*(x) = f'(p_X(x)/p_G*(x))", "f_divergence": fgan.DIVERGENCES[name]},
        "theorem1_condition_t2_fpp_nondecreasing": fgan.theorem1_condition(name),
        "lambda_theorem": None,
        "proximal": None,
        "proximal_note": "the Sobolev-proximal inner problem over unconstrained D is an elliptic "
        "boundary-value problem; not computed for f-GANs",
    }
    if setting.dim == 1:
        value, value_div = fgan.value_1d(name, setting.sigma, s_star, s_star, 0.0)
        divergence, div_div = fgan.divergence_1d(name, setting.sigma, s_star, 0.0)
        if bool(value_div) or bool(div_div):
            return {**base, "divergent": True, "value": None, "divergence": None, "nash_gap_generator": None,
                    "nash_gap_discriminator": None, "is_nash": None, "stackelberg_value": None,
                    "note": "the f-divergence (or E f*(D*)) is infinite in this setting (e.g. Pearson χ² for σ ≥ √2·s*)"}
        gen_min, w, u, gen_div = fgan.generator_min_1d(setting, name, setting.sigma)
        check = fgan.divergence_minimizer_check_1d(setting, name)
        tol = _tolerance(formulation, float(value))
        return {
            **base,
            "divergent": False,
            "value": float(value),
            "divergence": float(divergence),
            "discriminator_best_response_value": float(divergence),
            "generator_best_response": {"W": [[float(w)]], "u": [float(u)], "value": None if gen_div else float(gen_min)},
            "nash_gap_generator": float("inf") if gen_div else float(value - gen_min),
            "nash_gap_discriminator": float(divergence - value),
            "stackelberg_value": check["search_minimum"],
            "divergence_minimizer_check": check,
            "tolerance": tol,
            "expectations": "composite Gauss–Legendre quadrature",
        }
    draws = fgan.monte_carlo_draws(setting, samples, seed)
    value, value_se = fgan.monte_carlo_value(name, setting, draws, G.W, G.u)
    # d_f(P_G*, P_X) = E_{G*} f(r*) = E_X f(r*)/r*: the X-form has the lighter tail when σ > s*
    ratio = np.exp(np.clip(fgan.log_ratio(np.sum(draws[0] ** 2, 1), setting.sigma, setting.dim, s_star), -300, 300))
    divergence_terms = fgan.f_value(name, ratio) / ratio
    divergence = float(divergence_terms.mean())
    divergence_se = float(divergence_terms.std(ddof=1) / np.sqrt(samples))
    objective = fgan.monte_carlo_generator_objective(name, setting, draws)
    G_best, _ = projected_generator_descent(objective, setting, generator_starts(setting, G, n_random=1, seed=seed), steps=60)
    gain, gain_se = fgan.monte_carlo_gain(name, setting, draws, G, G_best)
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


# --- entry points ----------------------------------------------------------------------------------


#: largest d of the full-coordinate W2GAN re-solve: it took 37 s at d = 10 and over 2 minutes at d = 20
#: on a 2-core CPU (``proxgan theorem w2gan-quadratic --dim 10|20``)
VERIFY_MAX_DIM = 10
#: largest d of the W2GAN analysis without the re-solve (``--no-verify``): 12 s at d = 40, over 100 s at d = 100
CLOSED_FORM_MAX_DIM = 40


def check_size(formulation: str, setting: Setting, *, verify: bool, samples: int) -> None:
    """Refuse up front what would run for many minutes or exhaust memory: the W2GAN analysis beyond
    :data:`VERIFY_MAX_DIM` (with ``verify``) or :data:`CLOSED_FORM_MAX_DIM` dimensions, and Monte Carlo
    draws whose arrays (a few copies of samples × d float64) exceed the available memory."""
    if formulation.startswith("w2gan"):
        if verify and setting.dim > VERIFY_MAX_DIM:
            raise ProxganError(f"--dim {setting.dim} is too large for the full-coordinate re-solve (--verify took 37 s at "
                               f"d = 10 and over 2 minutes at d = 20); the limit is {VERIFY_MAX_DIM}: pass --no-verify")
        if setting.dim > CLOSED_FORM_MAX_DIM:
            raise ProxganError(f"--dim {setting.dim} is too large: the W2GAN analysis took 12 s at d = 40 and over "
                               f"100 s at d = 100; the limit is {CLOSED_FORM_MAX_DIM}")
    elif formulation.startswith("fgan"):
        check_memory(f"{samples} Monte Carlo draws in {setting.dim} dimensions", 8.0 * samples * setting.dim * 6)


@fgan.single_threaded_torch()
def analyze(
    formulation: str,
    setting: Setting,
    *,
    lambdas: np.ndarray | None = None,
    lam: float | None = None,
    verify: bool = True,
    samples: int = 20000,
    seed: int = 0,
) -> dict:
    """Everything the issue asks for one formulation in one setting (see the module docstring).

    ``lam`` adds the λ-proximal gaps at that λ; ``verify`` re-solves the W2GAN best responses in
    full (W, u) coordinates by projected descent with restarts. Sizes beyond :func:`check_size` are refused.
    """
    if formulation not in FORMULATIONS:
        raise ProxganError(f"unknown formulation {formulation!r}; choose from: {', '.join(FORMULATIONS)}")
    check_size(formulation, setting, verify=verify, samples=samples)
    lambdas = default_lambdas(setting) if lambdas is None else np.asarray(lambdas, float)
    if lam is not None:
        lambdas = np.unique(np.append(lambdas, lam))
    if formulation.startswith("w2gan"):
        result = _analyze_w2gan(setting, formulation, lambdas, verify)
    elif formulation == "wgan":
        result = _analyze_wgan(setting, lambdas)
    else:
        result = _analyze_fgan(setting, formulation, samples, seed)
    result = {"formulation": formulation, **result}
    _add_verdicts(result, formulation, lam)
    return result


def _add_verdicts(result: dict, formulation: str, lam: float | None) -> None:
    """is_nash (with the tolerance or the Monte Carlo rule), lambda_max, and the gaps at ``lam``."""
    if result.get("value") is None:
        result.setdefault("lambda_max", None)
        return
    if "nash_gap_generator_standard_error" in result:
        result["is_nash"] = bool(
            result["nash_gap_generator"] <= MC_SIGMAS * result["nash_gap_generator_standard_error"]
            and result["nash_gap_discriminator"] <= MC_SIGMAS * result["nash_gap_discriminator_standard_error"]
        )
    else:
        tol = result.setdefault("tolerance", _tolerance(formulation, result["value"]))
        result["is_nash"] = bool(result["nash_gap_generator"] <= tol and result["nash_gap_discriminator"] <= tol)
    proximal = result.get("proximal")
    result["lambda_max"] = None if proximal is None else proximal["lambda_max"]
    if proximal is not None and lam is not None:
        i = int(np.argmin(np.abs(proximal["lambdas"] - lam)))
        result["at_lambda"] = {
            "lambda": lam,
            "generator_gap": float(proximal["generator_gaps"][i]),
            "discriminator_gap": float(proximal["discriminator_gaps"][i]),
            "is_proximal_equilibrium": bool(proximal["is_proximal_equilibrium"][i]),
        }


@fgan.single_threaded_torch()
def nash_gaps_vs_sigma(formulation: str, setting: Setting, sigmas: np.ndarray) -> dict:
    """Generator and discriminator Nash gaps at (G*, D*) for each σ (batched solvers)."""
    sigmas = np.asarray(sigmas, float)
    lo, hi = setting.singular_value_range
    s_star = np.clip(sigmas, lo, hi)
    if formulation.startswith("w2gan"):
        p_star, m_star = w2gan.reduced_equilibrium(setting, sigmas)
        value = w2gan.reduced_value(setting, sigmas, m_star, np.inf, p_star)
        gen_min = w2gan.reduced_generator_min(setting, sigmas, m_star, np.inf)[0]
        if formulation == "w2gan":
            best = np.array([w2gan.transport_cost(setting.replace(sigma=s), w2gan.divergence_minimizer(setting.replace(sigma=s))) for s in sigmas])
        else:
            best = w2gan.reduced_discriminator_max(setting, sigmas, p_star)
        tol = TOLERANCE[formulation] * (1 + np.abs(value))
    elif formulation == "wgan":
        slope = np.sign(sigmas - s_star)
        value = wgan1d.nash_value(sigmas, slope, s_star, 0.0)
        gen_min = wgan1d.generator_min(setting, sigmas, np.inf)[0]
        best = wgan1d.proximal_value(sigmas, slope, 0.0, s_star, 0.0)
        tol = TOLERANCE["wgan"] * (1 + np.abs(value))
    else:
        name = formulation.removeprefix("fgan-")
        value, divergent = fgan.value_1d(name, sigmas, s_star, s_star, 0.0)
        gen_min, _, _, gen_divergent = fgan.generator_min_1d(setting, name, sigmas)
        best, best_divergent = fgan.divergence_1d(name, sigmas, s_star, 0.0)
        divergent = divergent | best_divergent
        gen_min = np.where(gen_divergent, -np.inf, gen_min)
        value, best = np.where(divergent, np.nan, value), np.where(divergent, np.nan, best)
        tol = TOLERANCE["fgan"] * (1 + np.abs(value))
    gen_gap, disc_gap = value - gen_min, best - value
    return {
        "sigmas": sigmas,
        "value": value,
        "generator_gaps": gen_gap,
        "discriminator_gaps": disc_gap,
        "is_nash": (gen_gap <= tol) & (disc_gap <= tol),
        "tolerance": tol,
    }


def proximal_gaps_vs_lambda(formulation: str, setting: Setting, lambdas: np.ndarray) -> dict:
    """λ-proximal gaps at (G*, D*) over λ, λ_max and the theorem's threshold (Theorem 2: 1/(4η))."""
    lambdas = np.asarray(lambdas, float)
    if formulation.startswith("w2gan"):
        result = _analyze_w2gan(setting, formulation, lambdas, verify=False)
    else:
        result = _analyze_wgan(setting, lambdas)
    proximal = result["proximal"]
    return {**proximal, "lambda_theorem": result["lambda_theorem"], "value": result["value"]}


@fgan.single_threaded_torch()
def run_single(out_dir: Path, formulation: str, setting: Setting, *, lam=None, verify=True, samples=20000, seed=0) -> dict:
    """Experiment for ``proxgan theorem FORMULATION``: results plus the deviation-path figure
    (and the proximal-gap figure where λ applies)."""
    result = analyze(formulation, setting, lam=lam, verify=verify, samples=samples, seed=seed)
    figures = []
    if result.get("value") is not None and "generator_best_response" in result:
        path = deviation_path(formulation, setting, result, samples=samples, seed=seed)
        result["deviation_path"] = path
        figures.append(plot_deviation_path(path, formulation, setting, out_dir))
    if result.get("proximal") is not None:
        figures.append(plot_lambda_sweep({formulation: result["proximal"] | {"lambda_theorem": result["lambda_theorem"]}}, out_dir, setting))
    config = {"formulation": formulation, "setting": setting, "lambda": lam, "verify": verify}
    if formulation.startswith("fgan") and setting.dim > 1:
        config |= {"samples": samples, "seed": seed}
    return {"config": config, "results": result, "figures": figures}


@fgan.single_threaded_torch()
def run_sweep(
    out_dir: Path,
    formulations: list[str],
    setting: Setting,
    sigmas: np.ndarray,
    lambdas: np.ndarray,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Experiment for ``proxgan theorem sweep``: Nash gaps vs σ under both constraint sets
    (σ_max(W) ≤ 1, and Remark 1's additional σ_min(W) ≥ 1), proximal gaps vs λ at ``setting.sigma``."""
    sigma_results, lambda_results, skipped = {}, {}, {}
    for formulation in formulations:
        if progress:
            progress(formulation)
        if setting.dim > 1 and not formulation.startswith("w2gan"):
            skipped[formulation] = "σ/λ sweeps of WGAN and f-GANs run in d = 1 (WGAN is 1-D; f-GANs need Monte Carlo in d > 1)"
            continue
        sigma_results[formulation] = {
            "standard": nash_gaps_vs_sigma(formulation, setting.replace(orthogonal=False), sigmas),
            "remark1": nash_gaps_vs_sigma(formulation, setting.replace(orthogonal=True), sigmas),
        }
        if formulation in PROXIMAL_FORMULATIONS:
            lambda_results[formulation] = proximal_gaps_vs_lambda(formulation, setting, lambdas)
    figures = [plot_sigma_sweep(sigma_results, out_dir)]
    if lambda_results:
        figures.append(plot_lambda_sweep(lambda_results, out_dir, setting))
    def verdict(sweep: dict, where: np.ndarray, nash: bool):
        """All finite σ in ``where`` have (is_nash == nash); None when there are none."""
        finite = where & np.isfinite(sweep["value"])
        return bool(np.all(sweep["is_nash"][finite] == nash)) if finite.any() else None

    summary = {
        f: {
            "theorem1_no_nash_for_sigma_gt_1": verdict(r["standard"], sigmas > 1, False),
            "remark1_nash_for_sigma_lt_1": verdict(r["remark1"], sigmas < 1, True),
            "sigmas_with_infinite_divergence": int(np.sum(~np.isfinite(r["standard"]["value"]))),
        }
        for f, r in sigma_results.items()
    }
    for f, r in lambda_results.items():
        summary[f]["lambda_max"] = r["lambda_max"]
        summary[f]["lambda_theorem"] = r["lambda_theorem"]
        summary[f]["nesting_violations"] = r["nesting_violations"]
    return {
        "config": {"formulations": formulations, "setting": setting, "sigmas": sigmas, "lambdas": lambdas},
        "results": {"summary": summary, "sigma_sweep": sigma_results, "lambda_sweep": lambda_results, "skipped": skipped},
        "figures": figures,
    }


def deviation_path(formulation: str, setting: Setting, result: dict, *, steps: int = 21, samples=20000, seed=0) -> dict:
    """V(G_s, D*) and max_D V(G_s, D) along G_s = (1 − s)G* + s·G_best, s ∈ [0, 1]: the generator's
    unilateral deviation lowers V against the frozen D* while the divergence it is meant to minimise grows."""
    G0 = LinearGenerator(np.asarray(result["G_star"]["W"], float), np.asarray(result["G_star"]["u"], float))
    G1 = LinearGenerator(np.asarray(result["generator_best_response"]["W"], float), np.asarray(result["generator_best_response"]["u"], float))
    s = np.linspace(0.0, 1.0, steps)
    Ws = [(1 - a) * G0.W + a * G1.W for a in s]
    us = [(1 - a) * G0.u + a * G1.u for a in s]
    if formulation.startswith("w2gan"):
        A, b = np.asarray(result["D_star"]["A"]), np.asarray(result["D_star"]["b"])
        against = [w2gan.value(setting, W, u, A, b) for W, u in zip(Ws, us)]
        best = [w2gan.transport_cost(setting, LinearGenerator(W, u)) for W, u in zip(Ws, us)]
    elif formulation == "wgan":
        w, u = np.array([W[0, 0] for W in Ws]), np.array([u[0] for u in us])
        against = wgan1d.nash_value(setting.sigma, result["D_star"]["slope_sign"], w, u)
        best = wgan1d.wasserstein1(setting.sigma, w, u)
    elif setting.dim == 1:
        name = formulation.removeprefix("fgan-")
        w, u = np.array([W[0, 0] for W in Ws]), np.array([u[0] for u in us])
        against = fgan.value_1d(name, setting.sigma, setting.closest_scale, w, u)[0]
        best = fgan.divergence_1d(name, setting.sigma, w, u)[0]
    else:
        name = formulation.removeprefix("fgan-")
        draws = fgan.monte_carlo_draws(setting, samples, seed)
        against = [fgan.monte_carlo_value(name, setting, draws, W, u)[0] for W, u in zip(Ws, us)]
        best = [np.nan] * steps
    return {"s": s, "value_against_D_star": np.asarray(against, float), "max_D_value": np.asarray(best, float)}


# --- figures ---------------------------------------------------------------------------------------


def plot_sigma_sweep(results: dict, out_dir: Path) -> str:
    """Generator deviation gain vs σ (σ = 1 marked), both constraint sets, one panel per formulation."""
    from proxgan.figures import plt, save_figure

    n = max(len(results), 1)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False, layout="constrained")
    for ax, (formulation, r) in zip(axes.flat, results.items()):
        for key, style, label in (("standard", "-", "σ_max(W) ≤ 1"), ("remark1", "--", "+ σ_min(W) ≥ 1")):
            sweep = r[key]
            ax.plot(sweep["sigmas"], sweep["generator_gaps"], style, label=label)
        ax.axvline(1.0, color="k", lw=0.8, ls=":")
        ax.set_title(formulation, fontsize=9)
        ax.set_xlabel("σ")
        ax.set_ylabel("V(G*,D*) − min_G V(G,D*)", fontsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Theorem 1 / Remark 1: generator's deviation gain at (G*, D*)", fontsize=10)
    return save_figure(fig, out_dir, "nash_gap_vs_sigma.png")


def plot_deviation_path(path: dict, formulation: str, setting: Setting, out_dir: Path) -> str:
    """The generator's deviation from G* towards its best response against D*."""
    from proxgan.figures import plt, save_figure

    fig, ax = plt.subplots(figsize=(4.6, 3.2), layout="constrained")
    ax.plot(path["s"], path["value_against_D_star"], label="V(G_s, D*)")
    if np.isfinite(path["max_D_value"]).any():
        ax.plot(path["s"], path["max_D_value"], "--", label="max_D V(G_s, D) (divergence)")
    ax.set_xlabel("s  (G_s = (1−s)·G* + s·G_best)")
    ax.set_title(f"{formulation}, σ = {setting.sigma:g}, d = {setting.dim}", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, out_dir, "deviation_path.png")


def plot_lambda_sweep(results: dict, out_dir: Path, setting: Setting) -> str:
    """λ-proximal generator gap vs λ with λ_max and the theorem's threshold marked; the shaded
    equilibrium set {λ ≤ λ_max} is an interval (Proposition 3's nesting)."""
    from proxgan.figures import plt, save_figure

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.2), squeeze=False, layout="constrained")
    for ax, (formulation, r) in zip(axes.flat, results.items()):
        lambdas = np.asarray(r["lambdas"])
        ax.plot(lambdas, np.clip(r["generator_gaps"], GAP_FLOOR, None), "o-", ms=3, label=f"generator gap (floored at {GAP_FLOOR:g})")
        ok = np.asarray(r["is_proximal_equilibrium"])
        if ok.any():
            ax.axvspan(lambdas.min(), lambdas[ok].max(), color="tab:green", alpha=0.15, label="λ-proximal equilibrium")
        if r.get("lambda_theorem") is not None:
            ax.axvline(r["lambda_theorem"], color="tab:red", ls="--", label="Theorem 2: 1/(4η)")
        else:
            ax.text(0.02, 0.02, "no theorem threshold (Theorem 3: inf α² = 0)", transform=ax.transAxes, fontsize=7)
        if r["lambda_max"] is not None and np.isfinite(r["lambda_max"]) and r["lambda_max"] > 0:
            ax.axvline(r["lambda_max"], color="k", ls=":", label=f"λ_max = {r['lambda_max']:.4g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("λ")
        ax.set_ylabel("V(G*,D*) − min_G V_λ^prox(G,D*)", fontsize=7)
        ax.set_title(f"{formulation}, σ = {setting.sigma:g}, η = {setting.eta:g}", fontsize=9)
        ax.legend(fontsize=6)
    return save_figure(fig, out_dir, "proximal_gap_vs_lambda.png")
