"""The ``proxgan theorem`` experiments: one formulation in one setting (:func:`run_single`) and the σ- and
λ-sweeps (:func:`run_sweep`), each with its figures (Theorem 1, Remark 1, Theorems 2–3, Proposition 3).
The numbers come from :mod:`proxgan.theory.analysis`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from proxgan.theory.analysis import PROXIMAL_FORMULATIONS, analyze, deviation_path, nash_gaps_vs_sigma, proximal_gaps_vs_lambda
from proxgan.theory.fgan import single_threaded_torch
from proxgan.theory.gaussian import Setting

#: log-scale figures draw gaps below this at the floor
GAP_FLOOR = 1e-12


@single_threaded_torch()
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


@single_threaded_torch()
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
