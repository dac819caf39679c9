"""The shared foundation: validators, atomic JSON, results.json, and the CLI's error contract."""

import json
import math

import pytest
from click.testing import CliRunner

from proxgan.cli import SUBCOMMANDS, main
from proxgan.errors import (
    ProxganError,
    check_choice,
    check_choices,
    check_positive,
    check_positive_int,
)
from proxgan.files import atomic_write, to_jsonable, write_json
from proxgan.results import prepare_out_dir, read_results, write_results


def test_validators_name_the_value():
    with pytest.raises(ProxganError, match="lr must be > 0, got -1"):
        check_positive("lr", -1)
    with pytest.raises(ProxganError, match="finite"):
        check_positive("lr", float("nan"))
    with pytest.raises(ProxganError, match="positive integer"):
        check_positive_int("steps", 0)
    with pytest.raises(ProxganError, match="unknown method 'sgd'; choose from: a, b"):
        check_choice("method", "sgd", ["a", "b"])
    assert check_choices("method", "all", ["a", "b"]) == ["a", "b"]
    assert check_choices("method", "b, a", ["a", "b"]) == ["b", "a"]


def test_to_jsonable_handles_tensors_and_nonfinite():
    import numpy as np
    import torch

    doc = to_jsonable({"t": torch.tensor([1.0, 2.0]), "n": np.float64(3.5), "bad": math.inf})
    assert doc == {"t": [1.0, 2.0], "n": 3.5, "bad": None}


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": 1})

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom)
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_results_roundtrip_and_corrupt_file(tmp_path):
    doc = write_results(tmp_path, command="proxgan x", config={"a": 1}, results={"b": 2.0}, wall_seconds=0.1)
    assert read_results(tmp_path) == doc
    assert set(doc) == {"command", "versions", "config", "results", "figures", "wall_seconds"}
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ProxganError, match="corrupt"):
        read_results(tmp_path)


def test_prepare_out_dir_rejects_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ProxganError, match="not a directory"):
        prepare_out_dir(f)


def test_cli_unknown_subcommand_is_one_line_exit_2():
    res = CliRunner().invoke(main, ["nope"])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0
    assert "nope" in res.output


def test_cli_help_and_version():
    runner = CliRunner()
    bare = runner.invoke(main, [])
    assert bare.exit_code == 0 and "Usage" in bare.output and "error" not in bare.output
    assert runner.invoke(main, ["--help"]).exit_code == 0
    res = runner.invoke(main, ["--version"])
    assert res.exit_code == 0 and "proxgan" in res.output


def test_top_level_help_imports_no_subcommand_nor_torch():
    """``proxgan --help`` lists the commands from SHORT_HELP (each equal to its command's own short
    help) without importing them, so it never pays for torch."""
    import importlib
    import subprocess
    import sys

    from proxgan.cli import SHORT_HELP, SUBCOMMANDS

    for name, target in SUBCOMMANDS.items():
        module, attr = target.split(":")
        assert SHORT_HELP[name] == getattr(importlib.import_module(module), attr).get_short_help_str(limit=200)
    code = ("import sys; from proxgan.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('proxgan.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_subcommand_help_imports_no_torch(command):
    """``proxgan COMMAND --help`` builds its help from click options alone: torch is imported only to run."""
    import subprocess
    import sys

    code = ("import sys; from proxgan.cli import main\n"
            f"try: main([{command!r}, '--help'])\nexcept SystemExit: pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
