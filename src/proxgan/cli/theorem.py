"""``proxgan theorem``: the exact Gaussian GAN games of Theorems 1–3 (one formulation, or sweeps)."""

from __future__ import annotations

from pathlib import Path

import click

from proxgan.cli import SEED, json_option, out_option, record_experiment
from proxgan.errors import ProxganError, check_choices, check_in_range, check_positive, check_positive_int

FORMULATION_HELP = {
    "w2gan-quadratic": "W2GAN, quadratic D(x) = xᵀAx + bᵀx (closed-form c-transform)",
    "w2gan": "W2GAN over c-concave D (Brenier potential, Bures W₂)",
    "wgan": "WGAN, d = 1, 1-Lipschitz D",
    "fgan-vanilla": "f-GAN, Jensen–Shannon (vanilla GAN)",
    "fgan-kl": "f-GAN, KL",
    "fgan-reverse-kl": "f-GAN, reverse KL",
    "fgan-pearson": "f-GAN, Pearson χ²",
    "fgan-hellinger": "f-GAN, squared Hellinger",
}


def _setting(sigma, dim, t, eta, sigma_min_one):
    from proxgan.theory.gaussian import Setting

    return Setting(
        sigma=check_positive("--sigma", sigma),
        dim=check_positive_int("--dim", dim),
        t=check_positive("--t", t),
        eta=check_positive("--eta", eta),
        orthogonal=sigma_min_one,
    )


def _setting_options(f):
    for option in reversed(
        [
            click.option("--sigma", type=float, default=2.0, show_default=True, help="Data scale: X ~ N(0, σ²I)."),
            click.option("--dim", type=int, default=1, show_default=True, help="Dimension d of X and Z."),
            click.option("--t", "t", type=float, default=1.0, show_default=True, help="Bound ‖u‖₂ ≤ t on the generator's shift."),
            click.option("--eta", type=float, default=1.0, show_default=True, help="W2GAN cost scale: c(x, x') = η‖x − x'‖²."),
            click.option(
                "--sigma-min-one/--no-sigma-min-one",
                default=False,
                show_default=True,
                help="Remark 1's extra constraint σ_min(W) ≥ 1 (W orthogonal).",
            ),
        ]
    ):
        f = option(f)
    return f


def _summarize_single(doc: dict) -> str:
    r = doc["results"]
    lines = [f"{r['formulation']}: σ = {doc['config']['setting']['sigma']:g}, d = {doc['config']['setting']['dim']}"]
    if r.get("value") is None:
        lines.append("  " + r.get("note", "value undefined"))
        return "\n".join(lines)
    lines.append(f"  V(G*, D*) = {r['value']:.8g}   max_G-min Stackelberg value = {r.get('stackelberg_value')}")
    lines.append(
        f"  Nash gaps: generator {r['nash_gap_generator']:.3e}, discriminator {r['nash_gap_discriminator']:.3e}"
        f"  → is_nash = {r['is_nash']}"
    )
    if r.get("lambda_max") is not None:
        lines.append(f"  λ_max = {r['lambda_max']:.6g}   theorem's λ = {r['lambda_theorem']}")
    if "at_lambda" in r:
        a = r["at_lambda"]
        lines.append(f"  at λ = {a['lambda']:g}: generator gap {a['generator_gap']:.3e} → λ-proximal equilibrium = {a['is_proximal_equilibrium']}")
    if "verification" in r:
        lines.append(f"  full-coordinate projected descent agrees with the reduced solver: {r['verification']['agree']}")
    return "\n".join(lines)


def _summarize_sweep(doc: dict) -> str:
    lines = ["formulation        no NE for σ>1   NE for σ<1 (σ_min≥1)   λ_max        theorem λ"]
    for f, s in doc["results"]["summary"].items():
        lam = s.get("lambda_max")
        lam = "-" if lam is None else f"{lam:.6g}"
        theorem = s.get("lambda_theorem")
        lines.append(
            f"{f:<18} {str(s['theorem1_no_nash_for_sigma_gt_1']):<15} {str(s['remark1_nash_for_sigma_lt_1']):<22} {lam:<12} {theorem}"
        )
    for f, why in doc["results"]["skipped"].items():
        lines.append(f"{f}: skipped ({why})")
    return "\n".join(lines)


def _run_command(formulation: str) -> click.Command:
    gaps = "Nash gaps" if formulation.startswith("fgan") else "Nash and λ-proximal gaps"
    @click.command(name=formulation, help=f"{FORMULATION_HELP[formulation]}: {gaps} at (G*, D*).")
    @_setting_options
    @click.option("--lambda", "lam", type=float, default=None, help="Also report the λ-proximal gaps at this λ (W2GAN, WGAN).")
    @click.option("--verify/--no-verify", default=True, show_default=True, help="W2GAN: re-solve in full (W, u) coordinates.")
    @click.option("--samples", type=int, default=20000, show_default=True, help="Monte Carlo draws (f-GANs, d > 1).")
    @click.option("--seed", type=SEED, default=0, show_default=True, help="Monte Carlo seed.")
    @out_option(f"theorem-{formulation}")
    @json_option
    def command(sigma, dim, t, eta, sigma_min_one, lam, verify, samples, seed, out: Path, as_json: bool):
        from proxgan.theory.gaussian import require_dim_one
        from proxgan.theory.experiment import run_single

        setting = _setting(sigma, dim, t, eta, sigma_min_one)
        if lam is not None:
            lam = check_positive("--lambda", lam)
            if formulation.startswith("fgan"):
                raise ProxganError("--lambda applies to w2gan-quadratic, w2gan and wgan; f-GAN proximal gaps are not computed")
        samples = check_positive_int("--samples", samples)
        if formulation == "wgan":
            require_dim_one(setting, formulation)
        record_experiment(
            out,
            as_json,
            lambda out_dir: run_single(out_dir, formulation, setting, lam=lam, verify=verify, samples=samples, seed=seed),
            _summarize_single,
        )

    return command


@click.command(name="sweep")
@_setting_options
@click.option("--formulations", default="all", show_default=True, help="Comma-separated formulations, or 'all'.")
@click.option("--sigma-min", type=float, default=0.5, show_default=True, help="Smallest σ of the σ-sweep.")
@click.option("--sigma-max", type=float, default=2.0, show_default=True, help="Largest σ of the σ-sweep.")
@click.option("--sigmas", "n_sigmas", type=int, default=50, show_default=True, help="Number of σ values.")
@click.option("--lambda-min", type=float, default=1e-3, show_default=True, help="Smallest λ (log grid).")
@click.option("--lambda-max", type=float, default=1e2, show_default=True, help="Largest λ (log grid).")
@click.option("--lambdas", "n_lambdas", type=int, default=50, show_default=True, help="Number of λ values.")
@out_option("theorem-sweep")
@json_option
def sweep(sigma, dim, t, eta, sigma_min_one, formulations, sigma_min, sigma_max, n_sigmas, lambda_min, lambda_max, n_lambdas, out, as_json):
    """Nash gaps vs σ (both constraint sets; σ = 1 marked) and λ-proximal gaps vs λ at --sigma."""
    import numpy as np

    from proxgan.theory.analysis import FORMULATIONS
    from proxgan.theory.experiment import run_sweep

    setting = _setting(sigma, dim, t, eta, sigma_min_one)
    names = check_choices("formulation", formulations, FORMULATIONS)
    lo, hi = check_positive("--sigma-min", sigma_min), check_positive("--sigma-max", sigma_max)
    check_in_range("--sigma-max", hi, lo, float("inf"))
    lam_lo, lam_hi = check_positive("--lambda-min", lambda_min), check_positive("--lambda-max", lambda_max)
    check_in_range("--lambda-max", lam_hi, lam_lo, float("inf"))
    sigmas = np.linspace(lo, hi, check_positive_int("--sigmas", n_sigmas))
    lambdas = np.geomspace(lam_lo, lam_hi, check_positive_int("--lambdas", n_lambdas))

    def progress(name: str) -> None:
        if not as_json:
            click.echo(f"  sweeping {name} ...", err=True)

    record_experiment(out, as_json, lambda out_dir: run_sweep(out_dir, names, setting, sigmas, lambdas, progress), _summarize_sweep)


class _TheoremGroup(click.Group):
    """``proxgan theorem FORMULATION ...`` or ``proxgan theorem sweep ...``."""

    def list_commands(self, ctx):
        return ["sweep", *FORMULATION_HELP]

    def get_command(self, ctx, name):
        if name == "sweep":
            return sweep
        if name in FORMULATION_HELP:
            return _run_command(name)
        return None


@click.group(name="theorem", cls=_TheoremGroup)
def theorem() -> None:
    """Exact Gaussian GAN games (Theorem 1, Remark 1, Theorems 2–3, Props 2–4, Corollary 1).

    X ~ N(0, σ²I), G(z) = Wz + u with σ_max(W) ≤ 1, ‖u‖ ≤ t. For FORMULATION, reports (G*, D*),
    the generator's and discriminator's Nash gaps, λ_max for the Sobolev-proximal equilibrium next
    to Theorem 2's 1/(4η), and the Stackelberg value. Example:

        proxgan theorem w2gan-quadratic --sigma 2 --dim 2 --lambda 0.25 --out runs/w2
    """
