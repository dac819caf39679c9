"""The ``proxgan`` command line: argument parsing, one-line errors (exit 2), printing.

Each subcommand lives in its own module under ``proxgan.cli`` and is loaded lazily, so
``proxgan --help`` stays fast. Library code never prints; only this package does.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from proxgan import __version__
from proxgan.allocator import retain_freed_memory
from proxgan.errors import ProxganError, ProxganWarning

#: subcommand name -> "module:attribute" of its click command
SUBCOMMANDS: dict[str, str] = {
    "theorem": "proxgan.cli.theorem:theorem",
    "equilibrium": "proxgan.cli.equilibrium:equilibrium",
    "evaluate": "proxgan.cli.evaluate:evaluate",
    "classifier": "proxgan.cli.classifier:classifier",
    "compare": "proxgan.cli.compare:compare",
    "games": "proxgan.cli.games:games",
    "train": "proxgan.cli.train:train",
    "reproduce": "proxgan.cli.reproduce:reproduce_command",
    "report": "proxgan.cli.reproduce:report_command",
}
#: the one-line help ``proxgan --help`` lists, so that listing imports no subcommand (nor torch);
#: a test checks each line against its command's own short help
SHORT_HELP: dict[str, str] = {
    "classifier": "Retrain DATASET's LeNet exactly as the shipped one was trained, and compare with it.",
    "compare": "Compare two sets of finished runs seed by seed: did the TREATMENT runs beat the BASELINE runs?",
    "equilibrium": "Freeze RUN_DIR's discriminator and keep optimizing its generator: against V (Nash test) and against the proximal objective V_λ^prox (proximal test).",
    "evaluate": "Score RUN_DIR's generator and add the scores to RUN_DIR/results.json under results.metrics.",
    "games": "Game dynamics: why gradient descent-ascent fails on the smallest GAN.",
    "report": "Rewrite DIRECTORY/report.html from the results of an earlier 'proxgan reproduce --out DIRECTORY'.",
    "reproduce": "Run the paper end to end and write OUT/report.html (self-contained) and OUT/results.json.",
    "theorem": "Exact Gaussian GAN games (Theorem 1, Remark 1, Theorems 2–3, Props 2–4, Corollary 1).",
    "train": "Train a GAN regularly or proximally (paper Algorithm 1).",
}


class _LazyGroup(click.Group):
    """A group that imports each subcommand on first use and turns bad input into one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of ``proxgan --help`` from :data:`SHORT_HELP`, without importing them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, SHORT_HELP[name]) for name in self.list_commands(ctx)])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module, attr = SUBCOMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def main(self, args=None, prog_name=None, **extra):  # noqa: D401 - click signature
        extra.pop("standalone_mode", None)
        retain_freed_memory()  # the heap keeps each step's freed buffers for the next (proxgan.allocator)
        warnings.showwarning = _show_warning
        warnings.simplefilter("always", ProxganWarning)
        try:
            code = super().main(args=args, prog_name=prog_name or "proxgan", standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # a bare group: its help, not an error
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(2)
        except ProxganError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


_python_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A :class:`ProxganWarning` (something damaged was skipped or repaired) as one ``warning:`` line."""
    if issubclass(category, ProxganWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


class PathType(click.Path):
    """``click.Path`` that refuses an empty string, which ``Path("")`` would silently turn into ``.``."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("empty path; name it (use '.' for the current directory)", param, ctx)
        return super().convert(value, param, ctx)


#: a random seed: an integer torch.manual_seed accepts (0 ≤ seed < 2⁶³)
SEED = click.IntRange(0, 2**63 - 1)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="proxgan")
def main() -> None:
    """proxgan: do GANs have Nash equilibria, and what do we train towards instead?

    Farnia & Ozdaglar, ICML 2020, end to end: game dynamics (games), exact Gaussian GAN games
    (theorem), proximal training (train), equilibrium tests (equilibrium), metrics (evaluate)
    and the whole paper in one command (reproduce).
    """


def out_option(default_name: str) -> Callable:
    """``--out DIR``: where results.json and figures go (default ``runs/<default_name>``)."""
    return click.option(
        "--out",
        type=PathType(path_type=Path, file_okay=False),
        default=Path("runs") / default_name,
        show_default=True,
        help="Output directory for results.json and PNG figures.",
    )


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the results JSON to stdout instead of the summary."
)

training_batchnorm_option = click.option(
    "--training-batchnorm", is_flag=True,
    help="Sample (and start the equilibrium tests) with the generator's BatchNorm buffers kept during training, "
         "as everything recorded before 2026-12-04 did; by default they are recomputed for the sampled weights "
         "(population statistics of 16,384 latents, or of $PROXGAN_BATCHNORM_LATENTS).",
)


def record_experiment(
    out: Path,
    as_json: bool,
    run: Callable[[Path], dict[str, Any]],
    summarize: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    """Run an experiment into ``out`` (owning it, see :mod:`proxgan.locks`), write results.json, and print
    the summary (or the JSON).

    ``run(out_dir)`` returns ``{"config": ..., "results": ..., "figures": [...]}`` and writes the
    figures it names into ``out_dir``.
    """
    from proxgan.locks import owned_directory
    from proxgan.results import command_line, write_results

    with owned_directory(out, command_line()) as out_dir:
        start = time.perf_counter()
        payload = run(out_dir)
        doc = write_results(out_dir, command=command_line(), wall_seconds=time.perf_counter() - start, **payload)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(summarize(doc))
        click.echo(f"results: {out_dir / 'results.json'}")
    return doc
