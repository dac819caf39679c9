"""``proxgan theorem``: results.json contents, figures, and one-line errors (exit 2) on bad input."""

import json

import pytest
from click.testing import CliRunner

from proxgan.cli import main


def run_cli(args):
    return CliRunner().invoke(main, args)


def test_single_formulation_writes_results_and_figures(tmp_path):
    out = tmp_path / "w2"
    res = run_cli(["theorem", "w2gan-quadratic", "--sigma", "2", "--dim", "2", "--lambda", "0.3", "--no-verify", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "results.json").read_text())
    r = doc["results"]
    for key in ("G_star", "D_star", "value", "nash_gap_generator", "nash_gap_discriminator", "is_nash",
                "lambda_max", "lambda_theorem", "tolerance", "stackelberg_value"):
        assert key in r
    assert r["is_nash"] is False and r["lambda_theorem"] == 0.25
    assert r["at_lambda"]["is_proximal_equilibrium"] is True  # 0.3 ≤ λ_max = 0.5
    assert r["lambda_max"] >= r["lambda_theorem"]
    assert set(doc["figures"]) == {"deviation_path.png", "proximal_gap_vs_lambda.png"}
    assert all((out / name).is_file() for name in doc["figures"])
    assert "is_nash = False" in res.stdout


def test_sweep_writes_both_figures(tmp_path):
    out = tmp_path / "sweep"
    args = ["theorem", "sweep", "--formulations", "w2gan,wgan,fgan-kl", "--sigmas", "6", "--lambdas", "6", "--out", str(out), "--json"]
    res = run_cli(args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["results"]["summary"] == json.loads((out / "results.json").read_text())["results"]["summary"]
    doc = json.loads((out / "results.json").read_text())
    summary = doc["results"]["summary"]
    assert summary["w2gan"]["theorem1_no_nash_for_sigma_gt_1"] and summary["w2gan"]["remark1_nash_for_sigma_lt_1"]
    assert summary["wgan"]["lambda_max"] == 0.0
    assert set(doc["figures"]) == {"nash_gap_vs_sigma.png", "proximal_gap_vs_lambda.png"}


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["theorem", "w2gan-cubic"], "No such command"),
        (["theorem", "wgan", "--sigma", "-1"], "--sigma must be > 0"),
        (["theorem", "wgan", "--sigma", "nan"], "--sigma must be finite"),
        (["theorem", "w2gan", "--dim", "0"], "--dim must be a positive integer"),
        (["theorem", "wgan", "--dim", "2"], "d = 1 only"),
        (["theorem", "w2gan", "--lambda", "0"], "--lambda must be > 0"),
        (["theorem", "fgan-kl", "--lambda", "0.1"], "f-GAN proximal gaps are not computed"),
        (["theorem", "sweep", "--formulations", "gan"], "unknown formulation 'gan'"),
        (["theorem", "sweep", "--sigma-min", "2", "--sigma-max", "1"], "--sigma-max must be in"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragment, tmp_path):
    res = run_cli([*args, "--out", str(tmp_path / "x")] if args[1] != "w2gan-cubic" else args)
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert fragment in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x").exists()  # rejected before anything is written
