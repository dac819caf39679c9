"""The scripts in benchmarks/ still start: each one's ``--help`` parses its options against today's API.

(A renamed config attribute once broke a benchmark's argument defaults without any test noticing.)
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def test_every_benchmark_is_listed():
    assert {"bench_proximal.py", "bench_train.py", "mnist_recipe.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_help_runs(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_bench_proximal_accuracy_over_draws_and_iteration_after_warmup(monkeypatch, capsys):
    """--instances K prints one block per draw and a summary whose paper row is its own baseline (gap − paper's = 0)
    and whose steps are the draws' mean; --warmup W times only the steps after W untimed ones."""
    common = ["--formulations", "sngan", "--dim", "8", "--batch", "4", "--penalty-batch", "2", "--threads", "1", "--no-memory"]
    argv = ["bench_proximal.py", "--section", "accuracy", "--warm", "--instances", "2", "--reference-steps", "3",
            "--tol", "0.5", *common]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    runpy.run_path(str(BENCHMARKS / "bench_proximal.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "instance 0," in out and "instance 1," in out and "over 2 instances" in out
    summary = out.split("over 2 instances")[1].splitlines()[1:]
    paper = next(line for line in summary if "paper T=20" in line).split()
    assert paper[3] == "20.0" and paper[-1] == "+0.000"  # 20 steps on every draw; its gap against itself
    tol_rows = [line.split() for line in out.splitlines() if line.split()[1:2] == ["tol=0.5"]]
    draws, mean_row = tol_rows[:2], tol_rows[2]
    assert float(mean_row[2]) == (int(draws[0][2]) + int(draws[1][2])) / 2
    monkeypatch.setattr(sys, "argv", ["bench_proximal.py", "--section", "iteration", "--warmup", "2", "--repeats", "1", *common])
    runpy.run_path(str(BENCHMARKS / "bench_proximal.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "median of 1 interleaved after 2 untimed" in out and "paper T=20" in out


def test_bench_proximal_warm_variants_each_start_from_the_same_state(monkeypatch):
    """Stepping one variant's warm optimizer leaves the warm state, and so the next variant's start, unchanged."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = runpy.run_path(str(BENCHMARKS / "bench_proximal.py"))
    import torch

    from proxgan.proximal import ProximalConfig

    D = torch.nn.Linear(3, 1)
    warm = ProximalConfig().make_optimizer(D.parameters())
    D(torch.randn(4, 3)).sum().backward()
    warm.step()
    state = warm.state_dict()
    before = {k: v.clone() for k, v in state["state"][0].items()}
    for _ in range(2):
        optimizer = bench["warm_optimizer"](ProximalConfig(), D, state, 3e-4)
        D(torch.randn(4, 3)).sum().backward()
        optimizer.step()
        assert optimizer.param_groups[0]["lr"] == 3e-4
    assert all(torch.equal(state["state"][0][k], v) for k, v in before.items())


def test_bench_proximal_accuracy_from_the_trainers_state_and_both_step_paths(monkeypatch, capsys):
    """--warm-steps W starts every variant from the Trainer's own state after W proximal steps; the steps section
    times the chain step beside the same gradient by double backprop."""
    common = ["--formulations", "sngan", "--dim", "8", "--batch", "4", "--penalty-batch", "2", "--threads", "1", "--no-memory"]
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for argv in (["--section", "accuracy", "--warm-steps", "2", "--reference-steps", "3", "--tol", "0.5"],
                 ["--section", "steps", "--repeats", "1"]):  # fmt: skip
        monkeypatch.setattr(sys, "argv", ["bench_proximal.py", *argv, *common])
        runpy.run_path(str(BENCHMARKS / "bench_proximal.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "the Trainer's state after 2 proximal T = 20 steps" in out and "paper T=20" in out
    header = next(line for line in out.splitlines() if line.startswith("formulation") and "autograd" in line)
    assert header.split()[1:5] == ["plain", "sobolev", "x", "autograd"]
