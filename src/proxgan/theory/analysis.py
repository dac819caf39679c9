"""One formulation in one setting (Nash gaps, proximal gaps, λ_max, Stackelberg value) and the σ- and
λ-sweeps (Theorem 1, Remark 1, Theorems 2–3, Propositions 2–4, Corollary 1): the registry of the
formulations, dispatching to each one's analysis beside its closed forms (:mod:`proxgan.theory.w2gan`,
:mod:`proxgan.theory.wgan1d`, :mod:`proxgan.theory.fgan`).

Every gap is an optimisation result: the generator's deviation gain V(G*, D*) − min_{G∈𝒢} V(G, D*)
and the discriminator's max_D V(G*, D) − V(G*, D*); the λ-proximal generator gap is
V(G*, D*) − min_{G∈𝒢} V_λ^prox(G, D*) and the proximal discriminator gap max_D V_λ^prox(G*, D) −
V_λ^prox(G*, D*) = max_D V(G*, D) − V_λ^prox(G*, D*) (max_D max_D̃ = max_D̃). By Proposition 2,
(G*, D*) is a λ-proximal equilibrium iff both are ≤ tolerance.
"""

from __future__ import annotations

import numpy as np

from proxgan.errors import ProxganError
from proxgan.theory import fgan, w2gan, wgan1d
from proxgan.theory.gaussian import LinearGenerator, Setting, gap_tolerance

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


def tolerance(formulation: str, value):
    """The absolute tolerance on the gaps of ``formulation`` at game value V (elementwise on arrays)."""
    base = w2gan.TOLERANCE if formulation.startswith("w2gan") else wgan1d.TOLERANCE if formulation == "wgan" else fgan.TOLERANCE
    return gap_tolerance(base, value)


def default_lambdas(setting: Setting, count: int = 50) -> np.ndarray:
    """Log-spaced λ over [1e-3, 1e2]/η (Theorem 2's 1/(4η) sits inside)."""
    return np.geomspace(1e-3, 1e2, count) / setting.eta


def check_size(formulation: str, setting: Setting, *, verify: bool, samples: int) -> None:
    """Refuse up front what would run for many minutes or exhaust memory (:func:`proxgan.theory.w2gan.check_size`,
    :func:`proxgan.theory.fgan.check_size`)."""
    if formulation.startswith("w2gan"):
        w2gan.check_size(setting, verify=verify)
    elif formulation.startswith("fgan"):
        fgan.check_size(setting, samples)


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
    """Gaps, verdicts, λ_max and the Stackelberg value of one formulation in one setting (module docstring).

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
        result = w2gan.analyze(setting, lambdas, cconcave=formulation == "w2gan", verify=verify)
    elif formulation == "wgan":
        result = wgan1d.analyze(setting, lambdas)
    else:
        result = fgan.analyze(setting, formulation.removeprefix("fgan-"), samples, seed)
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
            result["nash_gap_generator"] <= fgan.MC_SIGMAS * result["nash_gap_generator_standard_error"]
            and result["nash_gap_discriminator"] <= fgan.MC_SIGMAS * result["nash_gap_discriminator_standard_error"]
        )
    else:
        tol = result.setdefault("tolerance", tolerance(formulation, result["value"]))
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
        value, gen_min, best = w2gan.nash_gaps(setting, sigmas, cconcave=formulation == "w2gan")
    elif formulation == "wgan":
        value, gen_min, best = wgan1d.nash_gaps(setting, sigmas, s_star)
    else:
        value, gen_min, best = fgan.nash_gaps(setting, formulation.removeprefix("fgan-"), sigmas, s_star)
    tol = tolerance(formulation, value)
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
        result = w2gan.analyze(setting, lambdas, cconcave=formulation == "w2gan", verify=False)
    else:
        result = wgan1d.analyze(setting, lambdas)
    proximal = result["proximal"]
    return {**proximal, "lambda_theorem": result["lambda_theorem"], "value": result["value"]}


def deviation_path(formulation: str, setting: Setting, result: dict, *, steps: int = 21, samples=20000, seed=0) -> dict:
    """V(G_s, D*) and max_D V(G_s, D) along G_s = (1 − s)G* + s·G_best, s ∈ [0, 1]: the generator's
    unilateral deviation lowers V against the frozen D* while the divergence it is meant to minimise grows."""
    G0 = LinearGenerator(np.asarray(result["G_star"]["W"], float), np.asarray(result["G_star"]["u"], float))
    G1 = LinearGenerator(np.asarray(result["generator_best_response"]["W"], float), np.asarray(result["generator_best_response"]["u"], float))
    s = np.linspace(0.0, 1.0, steps)
    Ws = [(1 - a) * G0.W + a * G1.W for a in s]
    us = [(1 - a) * G0.u + a * G1.u for a in s]
    if formulation.startswith("w2gan"):
        against, best = w2gan.deviation_values(setting, result, Ws, us)
    elif formulation == "wgan":
        against, best = wgan1d.deviation_values(setting, result, Ws, us)
    else:
        against, best = fgan.deviation_values(setting, formulation.removeprefix("fgan-"), Ws, us, samples=samples, seed=seed)
    return {"s": s, "value_against_D_star": np.asarray(against, float), "max_D_value": np.asarray(best, float)}
