"""The ``proxgan games`` experiments: run GDA-family methods on a game, measure ρ, classify points.

``run`` is the lecture's experiment: every chosen method from one start, its trajectory and distance
to z* per step, the empirical contraction factor beside the theoretical one, and two figures
(phase-plane trajectories; log-distance vs iteration); with ``average`` also the running average of
each method's iterates beside its closed form (:func:`average_report`). ``classify_point`` is the local
Nash / minimax test of :mod:`proxgan.games.classify` with a picture of f around the point.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from proxgan.errors import ProxganError, check_choices, check_finite, check_positive, check_positive_int
from proxgan.figures import plt, save_figure
from proxgan.games.builtin import make_game
from proxgan.games.classify import classify
from proxgan.games.game import DTYPE, Game
from proxgan.games.methods import METHOD_NAMES, PpmState, StepSizes, make_method, run_method
from proxgan.games.rates import averaged_displacement, averaged_rotation, conserved_quantity, theoretical_rho

#: a run counts as bounded if ‖z_t − z*‖ never exceeds this multiple of ‖z_0 − z*‖
BOUNDED_FACTOR = 10.0
#: a run counts as converged if ‖z_T − z*‖ ≤ this fraction of ‖z_0 − z*‖
CONVERGED_FRACTION = 1e-6
#: squared distances outside [1/LIMIT, LIMIT] (or non-finite) end the window used for ρ
LOG_LIMIT = 600.0
#: a running average converges at O(1/t) when its decay exponent is at most −1 + this slack
AVERAGE_EXPONENT_SLACK = 0.1
#: the decay exponent is fitted through the maximum of each of this many blocks of the run's second half
DECAY_BLOCKS = 8


def empirical_rho(squared_distance: Tensor) -> tuple[float | None, int]:
    """Geometric mean of the per-step ratios d²_{t+1}/d²_t = (d²_T'/d²_0)^{1/T'}.

    T' is the last step before d² leaves [e^−600, e^600] or stops being finite (over/underflow),
    so the rate of a run that diverges or converges to machine precision is still measured.
    Returns (ρ, T'); ρ is None when T' = 0.
    """
    log_d2 = squared_distance.log()
    valid = torch.isfinite(log_d2) & (log_d2.abs() <= LOG_LIMIT)
    invalid = (~valid).nonzero()
    last = (int(invalid[0]) if len(invalid) else len(log_d2)) - 1
    if last < 1:
        return None, 0
    return math.exp(float(log_d2[last] - log_d2[0]) / last), last


def method_report(game: Game, name: str, trajectory: Tensor, state: Any, lr: StepSizes, k: int,
                  ppm_tol: float) -> dict[str, Any]:
    """results.json ``methods.<name>`` for the run of one method from one start (trajectory (T+1, d))."""
    distance = game.distance(trajectory)
    rho, window = empirical_rho(distance**2)
    rho_theory, source = theoretical_rho(name, game, lr, k)
    d0 = float(distance[0])
    finite = bool(torch.isfinite(trajectory).all())
    report = {
        "rho_empirical": rho,
        "rho_theory": rho_theory,
        "rho_theory_source": source,
        "rho_window_steps": window,
        "initial_distance": d0,
        "final_distance": float(distance[-1]),
        "max_distance": float(distance.max()),
        "bounded": finite and float(distance.max()) <= BOUNDED_FACTOR * d0,
        "converged": finite and float(distance[-1]) <= CONVERGED_FRACTION * d0,
        "distance": distance,
        "trajectory": trajectory,
    }
    energy = conserved_quantity(name, game, lr, k)
    if energy is not None:
        values = energy(trajectory)
        report["conserved_quantity"] = {
            "formula": ("|θ|²/η_θ + |φ|²/η_φ − θᵀAφ" if name == "altgda" else "|θ|²/η_θ + |φ|²/(k·η_φ) + θᵀAφ")
            + " (θ, φ measured from the equilibrium)",
            "initial": float(values[0]),
            "final": float(values[-1]),
            "max_drift": float((values - values[0]).abs().max()),
        }
    if isinstance(state, PpmState):
        report["inner_solve"] = (
            "exact linear solve" if state.exact_solve is not None
            else f"fixed-point iteration to max residual <= {ppm_tol:g}"
        )
        report["inner_iterations_max"] = state.inner_iterations
    if name == "kgda":
        report["k"] = k
    return report


def running_average(trajectory: Tensor) -> Tensor:
    """Row s is z̄_{s+1} = (1/(s+1)) Σ_{j≤s} z_j, the mean of the iterates z_0, …, z_s of ``trajectory`` (T+1, …)."""
    counts = torch.arange(1, len(trajectory) + 1, dtype=DTYPE).reshape(-1, *[1] * (trajectory.dim() - 1))
    return trajectory.cumsum(0) / counts


def decay_exponent(distance: Tensor) -> float | None:
    """Slope p of log d_t against log t (d_t ~ t^p) over the second half of ``distance`` (row s is t = s + 1).

    Least squares through the maximum of each of :data:`DECAY_BLOCKS` consecutive blocks, so an
    oscillating distance (averaged altgda: |sin(tα/2)|/(t sin(α/2))) is read at its peaks. None when the
    half is shorter than the blocks or holds a distance that is not finite and positive.
    """
    t = torch.arange(1, len(distance) + 1, dtype=DTYPE)[len(distance) // 2 :]
    d = distance[len(distance) // 2 :]
    if len(d) < DECAY_BLOCKS or not bool((torch.isfinite(d) & (d > 0)).all()):
        return None
    peaks = []
    for block_t, block_d in zip(t.tensor_split(DECAY_BLOCKS), d.tensor_split(DECAY_BLOCKS)):
        i = int(block_d.argmax())
        peaks.append((block_t[i], block_d[i]))
    log_t, log_d = torch.tensor(peaks, dtype=DTYPE).log().T
    centred = log_t - log_t.mean()
    return float((centred * (log_d - log_d.mean())).sum() / (centred**2).sum())


def average_report(game: Game, name: str, trajectory: Tensor, lr: StepSizes, k: int) -> dict[str, Any]:
    """results.json ``methods.<name>.average``: the mean z̄_t of all t = T + 1 iterates of ``trajectory``
    (T+1, d), its distance to z* beside the closed form, its decay exponent and whether it converges at
    O(1/t); for altgda / kgda on bilinear games also ‖z̄_t − z*‖_E beside the rotation formula and bound."""
    average = running_average(trajectory)
    distance = game.distance(average)
    t = len(trajectory)
    closed_form = averaged_displacement(name, game, lr, trajectory[0], t, k) if game.affine is not None else None
    exponent = decay_exponent(distance)
    report = {
        "iterates": t,
        "final_distance": float(distance[-1]),
        "closed_form_distance": None if closed_form is None else float(torch.linalg.vector_norm(closed_form)),
        "decay_exponent": exponent,
        "converging": exponent is not None and exponent <= -1 + AVERAGE_EXPONENT_SLACK,
    }
    rotation = averaged_rotation(name, game, lr, trajectory[0], t, k)
    if rotation is not None:
        energy = conserved_quantity(name, game, lr, k)
        report["energy_norm"] = {"final": float(energy(average[-1]).sqrt()), "closed_form": rotation[0],
                                 "bound": rotation[1]}
    return report


def game_summary(game: Game) -> dict[str, Any]:
    """What the game is, for results.json."""
    out = {
        "name": game.name,
        "dim_theta": game.dim_theta,
        "dim_phi": game.dim_phi,
        "zero_sum": game.zero_sum,
        "equilibrium": game.equilibrium,
    }
    if game.affine is not None:
        out["field_jacobian"] = game.affine[0]
    return out


def start_point(game: Game, theta0: float, phi0: float) -> Tensor:
    """z0 = (θ0·1_m, φ0·1_n) as a batch of one; it must differ from z*."""
    z0 = torch.cat([torch.full((game.dim_theta,), check_finite("theta0", theta0), dtype=DTYPE),
                    torch.full((game.dim_phi,), check_finite("phi0", phi0), dtype=DTYPE)])[None]
    if float(game.distance(z0)[0]) == 0:
        raise ProxganError(f"start ({theta0:g}, {phi0:g}) is the equilibrium; distances would all be 0")
    return z0


def run(out_dir: str | Path, *, game: str = "bilinear", methods: str | list[str] = "simgda,altgda,ppm,eg,ogda",
        lr: float = 0.2, lr_theta: float | None = None, lr_phi: float | None = None, steps: int = 1000,
        theta0: float = 1.0, phi0: float = 1.0, k: int = 5, ppm_tol: float = 1e-12, average: bool = False,
        **game_options: Any) -> dict[str, Any]:
    """Run each method on the game from (θ0, φ0); write the two figures; return config/results/figures.

    ``game_options`` go to :func:`proxgan.games.builtin.make_game` (dim, coupling, seed, p, q, loss,
    data_mean). Per-player ``lr_theta`` / ``lr_phi`` default to ``lr``. ``average`` adds each method's
    running average (:func:`average_report`; dashed in both figures).
    """
    names = check_choices("method", methods, METHOD_NAMES)
    step_sizes = StepSizes(
        check_positive("lr" if lr_theta is None else "lr-theta", lr if lr_theta is None else lr_theta),
        check_positive("lr" if lr_phi is None else "lr-phi", lr if lr_phi is None else lr_phi),
    )
    steps = check_positive_int("steps", steps)
    k = check_positive_int("k", k)
    the_game = make_game(game, **game_options)
    z0 = start_point(the_game, theta0, phi0)
    reports = {}
    for name in names:
        trajectory, state = run_method(the_game, make_method(name, step_sizes, k=k, ppm_tol=ppm_tol), z0, steps)
        reports[name] = method_report(the_game, name, trajectory[:, 0], state, step_sizes, k, ppm_tol)
        if average:
            reports[name]["average"] = average_report(the_game, name, trajectory[:, 0], step_sizes, k)
    figures = [
        plot_phase_plane(the_game, reports, out_dir),
        plot_distances(the_game, reports, out_dir),
    ]
    config = {
        "game": game,
        "methods": names,
        "lr_theta": step_sizes.theta,
        "lr_phi": step_sizes.phi,
        "steps": steps,
        "theta0": theta0,
        "phi0": phi0,
        "k": k,
        "ppm_tol": ppm_tol,
        "average": average,
        **game_options,
    }
    results = {"game": game_summary(the_game), "start": z0[0], "methods": reports}
    return {"config": config, "results": results, "figures": figures}


def plot_phase_plane(game: Game, reports: dict[str, dict], out_dir: str | Path) -> str:
    """Trajectories of all methods in the (θ₁, φ₁) plane from one start (the lecture's picture); the
    running averages dashed when they were measured."""
    fig, ax = plt.subplots(figsize=(6, 6))
    eq = game.equilibrium
    m = game.dim_theta
    for name, report in reports.items():
        path = report["trajectory"].numpy()
        (line,) = ax.plot(path[:, 0], path[:, m], lw=1, label=name)
        if "average" in report:
            mean_path = running_average(report["trajectory"]).numpy()
            ax.plot(mean_path[:, 0], mean_path[:, m], "--", lw=1.2, color=line.get_color(), label=f"{name} average")
    start = path[0]
    ax.plot(start[0], start[m], "ko", label="start")
    ax.plot(float(eq[0]), float(eq[m]), "r*", ms=14, label="equilibrium")
    half = 2 * float(np.abs(start - eq.numpy()).max())
    ax.set_xlim(float(eq[0]) - half, float(eq[0]) + half)
    ax.set_ylim(float(eq[m]) - half, float(eq[m]) + half)
    ax.set_xlabel("θ₁ (min player)")
    ax.set_ylabel("φ₁ (max player)")
    ax.set_title(f"{game.name}: trajectories")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    return save_figure(fig, out_dir, "trajectories.png")


def plot_distances(game: Game, reports: dict[str, dict], out_dir: str | Path) -> str:
    """log ‖z_t − z*‖ against iteration t for each method; when the running averages were measured, a
    second panel: ‖z̄_t − z*‖ of the mean of t iterates against t on log-log axes (dashed), with 1/t."""
    averaged = {name: report for name, report in reports.items() if "average" in report}
    fig, axes = plt.subplots(1, 2 if averaged else 1, figsize=(12 if averaged else 7, 4), squeeze=False)
    last, mean = axes[0, 0], axes[0, -1]
    for name, report in reports.items():
        (line,) = last.semilogy(_positive(report["distance"]), lw=1, label=name)
        if name in averaged:
            distance = _positive(game.distance(running_average(report["trajectory"])))
            t = np.arange(1, len(distance) + 1)
            mean.loglog(t, distance, "--", lw=1.2, color=line.get_color(), label=f"{name} average")
    last.set_xlabel("iteration t")
    last.set_ylabel("‖z_t − z*‖")
    last.set_title("distance to the equilibrium")
    last.legend(fontsize=8)
    if averaged:
        t = np.arange(1, len(next(iter(averaged.values()))["distance"]) + 1)
        mean.loglog(t, 1 / t, ":", color="grey", label="1/t")
        mean.set_xlabel("iterates averaged t")
        mean.set_ylabel("‖z̄_t − z*‖")
        mean.set_title("running average z̄_t = mean of z_0, …, z_{t−1}")
        mean.legend(fontsize=8)
    return save_figure(fig, out_dir, "distance.png")


def _positive(distance: Tensor) -> np.ndarray:
    """``distance`` as an array with non-finite and zero values masked (NaN), for log axes."""
    values = distance.numpy()
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def classify_point(out_dir: str | Path, *, game: str = "bilinear", theta: float | None = None,
                   phi: float | None = None, **game_options: Any) -> dict[str, Any]:
    """Classify (θ·1, φ·1) (default: the equilibrium) of a built-in game; figure: f around it."""
    the_game = make_game(game, **game_options)
    m = the_game.dim_theta
    z = the_game.equilibrium.clone()
    if theta is not None:
        z[:m] = check_finite("theta", theta)
    if phi is not None:
        z[m:] = check_finite("phi", phi)
    verdict = classify(the_game, z)
    figure = plot_landscape(the_game, z, verdict.verdict, out_dir)
    config = {"game": game, "theta": theta, "phi": phi, **game_options}
    return {"config": config, "results": {"point": z, "classification": verdict}, "figures": [figure]}


def plot_landscape(game: Game, z: Tensor, verdict: str, out_dir: str | Path) -> str:
    """Contours of f over (θ₁, φ₁) around ``z`` (other coordinates fixed), the point marked."""
    m = game.dim_theta
    offsets = torch.linspace(-1.5, 1.5, 101, dtype=DTYPE)
    grid_t, grid_p = torch.meshgrid(offsets + z[0], offsets + z[m], indexing="xy")
    points = z.repeat(grid_t.numel(), 1)
    points[:, 0], points[:, m] = grid_t.reshape(-1), grid_p.reshape(-1)
    values = game.value(points).reshape(grid_t.shape)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    contour = ax.contourf(grid_t.numpy(), grid_p.numpy(), values.numpy(), levels=30, cmap="coolwarm")
    fig.colorbar(contour, ax=ax, label="f(θ, φ)")
    ax.plot(float(z[0]), float(z[m]), "k*", ms=12)
    ax.set_xlabel("θ₁ (min player)")
    ax.set_ylabel("φ₁ (max player)")
    ax.set_title(f"{game.name}: {verdict}")
    return save_figure(fig, out_dir, "landscape.png")
