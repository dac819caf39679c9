"""``proxgan games``: GDA-family dynamics on small games, and local Nash / minimax classification.

    proxgan games bilinear --methods all --lr 0.2 --steps 1000 --out runs/games
    proxgan games bilinear --average --out runs/games-average
    proxgan games classify quadratic --p -1 --q 1 --coupling 2
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from proxgan.cli import SEED, json_option, out_option, record_experiment
from proxgan.errors import check_choice
from proxgan.games import DIRAC_LOSSES, GAMES

GAME_HELP = {
    "bilinear": "f = θᵀAφ (default θ·φ); --dim > 1 draws a seeded A = coupling·G/√dim; "
    "--data-mean μ gives the linear WGAN f = φᵀ(μ − θ).",
    "quadratic": "f = ½p|θ|² + θᵀAφ − ½q|φ|²: convex-concave iff p, q ≥ 0 (A as for bilinear).",
    "dirac": "Dirac-GAN (Mescheder et al. 2018): generator δ_θ, data δ_0, discriminator D(x) = φᵀx, "
    f"--loss {'/'.join(DIRAC_LOSSES)}.",
}


def _game_options(game: str) -> list[Callable]:
    """The click options that build ``game`` (arguments of proxgan.games.builtin.make_game)."""
    options = [click.option("--dim", type=int, default=1, show_default=True, help="Dimension of θ and of φ.")]
    if game in ("bilinear", "quadratic"):
        options += [
            click.option("--coupling", type=float, default=1.0, show_default=True, help="Scale of A."),
            click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the random A (dim > 1)."),
        ]
    if game == "bilinear":
        options.append(click.option("--data-mean", type=float, default=None,
                                    help="Linear WGAN f = φᵀ(μ − θ) with data mean μ in every coordinate."))
    if game == "quadratic":
        options += [
            click.option("--p", type=float, default=1.0, show_default=True, help="Curvature of θ: P = p·I."),
            click.option("--q", type=float, default=1.0, show_default=True, help="Concavity in φ: Q = q·I."),
        ]
    if game == "dirac":
        options.append(click.option("--loss", default="vanilla", show_default=True,
                                    help=f"GAN loss: {', '.join(DIRAC_LOSSES)}."))
    return options


def _decorate(command: Callable, options: list[Callable]) -> Callable:
    for option in reversed(options):
        command = option(command)
    return command


_RUN_OPTIONS = [
    click.option("--methods", default="simgda,altgda,ppm,eg,ogda", show_default=True,
                 help="Comma-separated from simgda, altgda, ppm, eg, ogda, kgda; or 'all'."),
    click.option("--lr", type=float, default=0.2, show_default=True, help="Step size η of both players."),
    click.option("--lr-theta", type=float, default=None, help="Step size of θ (default --lr)."),
    click.option("--lr-phi", type=float, default=None, help="Step size of φ (default --lr)."),
    click.option("--steps", type=int, default=1000, show_default=True, help="Iterations per method."),
    click.option("--theta0", type=float, default=1.0, show_default=True, help="Start θ (every coordinate)."),
    click.option("--phi0", type=float, default=1.0, show_default=True, help="Start φ (every coordinate)."),
    click.option("--k", type=int, default=5, show_default=True, help="Ascent steps per descent step of kgda."),
    click.option("--ppm-tol", type=float, default=1e-12, show_default=True,
                 help="Residual tolerance of ppm's inner fixed-point solve (non-affine games)."),
    click.option("--average", is_flag=True,
                 help="Also measure each method's running average of iterates against its closed form."),
]


def _number(value: float | None, spec: str, missing: str = "n/a") -> str:
    """``value`` formatted by ``spec``; ``missing`` where results.json holds null (no value, or not finite)."""
    return missing if value is None else format(value, spec)


def summarize_run(doc: dict[str, Any]) -> str:
    """One line per method: ρ measured vs theory, final distance, bounded / converged; then the running
    averages when they were measured."""
    res = doc["results"]
    cfg = doc["config"]
    lines = [f"{cfg['game']}: {cfg['steps']} steps, lr θ {cfg['lr_theta']:g}, φ {cfg['lr_phi']:g}",
             f"{'method':8} {'rho':>10} {'theory':>10} {'final |z-z*|':>13}  bounded  converged"]
    for name, m in res["methods"].items():
        line = (f"{name:8} {_number(m['rho_empirical'], '.6f'):>10} {_number(m['rho_theory'], '.6f'):>10} "
                f"{_number(m['final_distance'], '.3e', 'inf'):>13}  {str(m['bounded']):7}  {m['converged']}")
        if "conserved_quantity" in m:
            line += f"   conserved drift {_number(m['conserved_quantity']['max_drift'], '.1e', 'inf')}"
        lines.append(line)
    averaged = {name: m["average"] for name, m in res["methods"].items() if "average" in m}
    if averaged:
        lines += [f"running average of the first t = {cfg['steps'] + 1} iterates (z_0 included):",
                  f"{'method':8} {'|zbar-z*|':>10} {'closed form':>11} {'exponent':>9}  converging (O(1/t))"]
        for name, a in averaged.items():
            line = (f"{name:8} {_number(a['final_distance'], '.3e', 'inf'):>10} "
                    f"{_number(a['closed_form_distance'], '.3e'):>11} {_number(a['decay_exponent'], '.3f'):>9}  "
                    f"{a['converging']}")
            if "energy_norm" in a:
                e = a["energy_norm"]
                line += f"   |zbar-z*|_E {e['final']:.3e} = {e['closed_form']:.3e} <= bound {e['bound']:.3e}"
            lines.append(line)
    return "\n".join(lines)


def summarize_classification(doc: dict[str, Any]) -> str:
    c = doc["results"]["classification"]
    return (f"{doc['config']['game']} at {doc['results']['point']}: {c['verdict']}\n"
            f"  |grad f| {c['gradient_norm']:.2e}; eig H_θθ {c['eig_theta_theta']}; eig H_φφ {c['eig_phi_phi']}; "
            f"eig Schur {c['eig_schur']}")


def _run_command(game: str) -> click.Command:
    def command(out, as_json, **options):
        from proxgan.games import experiment

        record_experiment(out, as_json, lambda out_dir: experiment.run(out_dir, game=game, **options), summarize_run)

    command.__doc__ = (f"Run GDA-family methods on the {game} game and compare measured and theoretical ρ.\n\n"
                       f"{GAME_HELP[game]}\n\nWrites results.json, trajectories.png and distance.png to --out.")
    options = [*_game_options(game), *_RUN_OPTIONS, out_option(f"games-{game}"), json_option]
    return click.command(game)(_decorate(command, options))


def _classify_command(game: str) -> click.Command:
    def command(out, as_json, **options):
        from proxgan.games import experiment

        record_experiment(out, as_json, lambda out_dir: experiment.classify_point(out_dir, game=game, **options),
                          summarize_classification)

    command.__doc__ = (f"Local Nash / local minimax / neither at a point of the {game} game (exact Hessian).\n\n"
                       f"{GAME_HELP[game]}\n\nWrites results.json and landscape.png to --out.")
    options = [
        *_game_options(game),
        click.option("--theta", type=float, default=None, help="θ at the point (every coordinate; default θ*)."),
        click.option("--phi", type=float, default=None, help="φ at the point (every coordinate; default φ*)."),
        out_option(f"classify-{game}"),
        json_option,
    ]
    return click.command(game)(_decorate(command, options))


class _GameGroup(click.Group):
    """Subcommands are the game names (plus ``extra``); an unknown name is a one-line ProxganError."""

    def __init__(self, *args, extra: dict[str, click.Command] | None = None,
                 factory: Callable[[str], click.Command], **kwargs):
        super().__init__(*args, invoke_without_command=True, callback=self._help_without_game, **kwargs)
        self.factory = factory
        self.extra = extra or {}

    @staticmethod
    @click.pass_context
    def _help_without_game(ctx: click.Context) -> None:
        """Bare ``proxgan games`` (or ``... classify``) shows the help instead of a usage error."""
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*GAMES, *self.extra]

    def get_command(self, ctx: click.Context, name: str) -> click.Command:
        if name in self.extra:
            return self.extra[name]
        return self.factory(check_choice("game", name, GAMES))


classify = _GameGroup(
    "classify",
    factory=_classify_command,
    help="Classify a point of a game: local Nash (H_θθ ⪰ 0, H_φφ ⪯ 0), local minimax (Jin et al. 2019: "
    "H_φφ ≺ 0 and Schur complement ⪰ 0) or neither.\n\nExample: proxgan games classify quadratic --p -1 --q 1 "
    "--coupling 2  (local minimax, not Nash).",
)

games = _GameGroup(
    "games",
    factory=_run_command,
    extra={"classify": classify},
    help="Game dynamics: why gradient descent-ascent fails on the smallest GAN.\n\n"
    "proxgan games GAME runs simultaneous/alternating GDA, proximal point, extragradient, optimistic GDA "
    "and (k,1)-GDA from one start and reports measured vs theoretical contraction factors ρ.\n\n"
    "Example: proxgan games bilinear --methods all --lr 0.2 --steps 1000 --out runs/games",
)
