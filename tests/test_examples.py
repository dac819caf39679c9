"""The scripts in examples/ run end to end with a few steps, through proxgan's public API only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MNIST_ROOT = ROOT.parent / "shared" / "data"


def run_example(name: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}  # fmt: skip
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_examples_import_only_the_public_api():
    """A user's script needs nothing but ``proxgan``'s top-level names (and the games lab's ``run``)."""
    allowed = {"proxgan": None, "proxgan.games.experiment": {"run"}}
    for script in EXAMPLES.glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("proxgan"):
                assert node.module in allowed, f"{script.name} imports {node.module}"
                if allowed[node.module] is not None:
                    assert {a.name for a in node.names} <= allowed[node.module]
    assert len((EXAMPLES / "mnist_dcgan.py").read_text().splitlines()) <= 80


def test_mnist_dcgan_example_trains_proximally(tmp_path):
    if not (MNIST_ROOT / "MNIST" / "raw").is_dir():
        pytest.skip(f"MNIST not found under {MNIST_ROOT}")
    out = run_example("mnist_dcgan.py", "--steps", "2", "--proximal", "--inner-steps", "2", "--root", str(MNIST_ROOT),
                      "--out", "s.png", cwd=tmp_path)  # fmt: skip
    assert "step 2:" in out and (tmp_path / "s.png").stat().st_size > 0


def test_equilibrium_tests_example_gives_both_verdicts(tmp_path):
    out = run_example("equilibrium_tests.py", "--steps", "2", "--test-steps", "2", cwd=tmp_path)
    assert "nash test, against its own discriminator" in out and "proximal test, against the proximal objective" in out


def test_games_lab_example_runs(tmp_path):
    out = run_example("games_lab.py", "--steps", "20", "--out", str(tmp_path), cwd=tmp_path)
    assert "simgda" in out and (tmp_path / "trajectories.png").is_file()
