"""``proxgan games``: results.json, figures, --json, classify, and one-line exit-2 errors."""

import json

import pytest
from click.testing import CliRunner

from proxgan.cli import main

REQUIRED = {"rho_empirical", "rho_theory", "final_distance", "bounded", "converged"}


def invoke(*args):
    return CliRunner().invoke(main, ["games", *map(str, args)])


def test_bilinear_run_writes_results_and_figures(tmp_path):
    res = invoke("bilinear", "--methods", "all", "--lr", 0.4, "--steps", 200, "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "simgda" in res.output and "results:" in res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    methods = doc["results"]["methods"]
    assert list(methods) == ["simgda", "altgda", "ppm", "eg", "ogda", "kgda"]
    assert all(REQUIRED <= set(m) for m in methods.values())
    assert methods["simgda"]["rho_theory"] == pytest.approx(1.16)
    assert methods["simgda"]["rho_empirical"] == pytest.approx(1.16, rel=1e-12)
    assert methods["ppm"]["rho_empirical"] == pytest.approx(1 / 1.16, rel=1e-12)
    assert not methods["simgda"]["bounded"] and methods["ppm"]["converged"]
    assert methods["altgda"]["bounded"] and not methods["altgda"]["converged"]
    assert methods["altgda"]["conserved_quantity"]["max_drift"] < 1e-12
    assert methods["ppm"]["inner_solve"] == "exact linear solve"
    assert len(methods["eg"]["trajectory"]) == 201
    assert doc["figures"] == ["trajectories.png", "distance.png"]
    assert all((tmp_path / name).stat().st_size > 1000 for name in doc["figures"])
    assert doc["command"].startswith("proxgan ")


def test_average_flag_reports_each_running_average_beside_its_closed_form(tmp_path):
    res = invoke("bilinear", "--methods", "simgda,altgda,ppm", "--lr", 0.2, "--steps", 400, "--average",
                 "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "running average of the first t = 401 iterates" in res.output and "|zbar-z*|_E" in res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["config"]["average"] is True
    averages = {name: m["average"] for name, m in doc["results"]["methods"].items()}
    for a in averages.values():
        assert a["iterates"] == 401
        assert a["closed_form_distance"] == pytest.approx(a["final_distance"], rel=1e-10)
    start = doc["results"]["methods"]["simgda"]["initial_distance"]
    assert not averages["simgda"]["converging"] and averages["simgda"]["final_distance"] > 10 * start
    assert averages["altgda"]["converging"] and averages["ppm"]["converging"]
    energy = averages["altgda"]["energy_norm"]
    assert energy["final"] == pytest.approx(energy["closed_form"], rel=1e-10) and energy["final"] <= energy["bound"]
    assert "energy_norm" not in averages["ppm"] and "trajectory" not in averages["ppm"]
    assert all((tmp_path / name).stat().st_size > 1000 for name in doc["figures"])

    res = invoke("dirac", "--methods", "altgda", "--steps", 100, "--average", "--out", tmp_path / "dirac", "--json")
    assert res.exit_code == 0, res.output
    dirac = json.loads(res.output)["results"]["methods"]["altgda"]["average"]
    assert dirac["closed_form_distance"] is None and "energy_norm" not in dirac
    res = invoke("bilinear", "--methods", "ppm", "--steps", 20, "--out", tmp_path / "plain", "--json")
    assert "average" not in json.loads(res.output)["results"]["methods"]["ppm"]


def test_overflowing_runs_are_summarized_not_crashed(tmp_path):
    """η = 10: simgda and altgda (ω² = 100 > 4) overflow; distances, drift and averages print as inf / n/a."""
    res = invoke("bilinear", "--methods", "simgda,altgda", "--lr", 10, "--steps", 400, "--average", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "conserved drift inf" in res.output
    average = json.loads((tmp_path / "results.json").read_text())["results"]["methods"]["altgda"]["average"]
    assert average["final_distance"] is None and average["decay_exponent"] is None and not average["converging"]


def test_json_flag_prints_the_document(tmp_path):
    res = invoke("quadratic", "--p", 0.5, "--q", 0.5, "--dim", 2, "--methods", "simgda,eg", "--lr-theta", 0.1,
                 "--lr-phi", 0.2, "--steps", 50, "--out", tmp_path, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc == json.loads((tmp_path / "results.json").read_text())
    assert doc["config"]["lr_theta"] == 0.1 and doc["config"]["lr_phi"] == 0.2
    assert doc["results"]["methods"]["eg"]["rho_theory_source"] == "spectral radius of the iteration matrix"


def test_dirac_run_uses_the_inner_solve(tmp_path):
    res = invoke("dirac", "--loss", "nonsaturating", "--methods", "ppm,simgda", "--steps", 20, "--out", tmp_path,
                 "--json")
    assert res.exit_code == 0, res.output
    ppm = json.loads(res.output)["results"]["methods"]["ppm"]
    assert ppm["rho_theory"] is None and ppm["inner_iterations_max"] > 1
    assert ppm["inner_solve"].startswith("fixed-point iteration")


def test_classify_command(tmp_path):
    res = invoke("classify", "quadratic", "--p", -1, "--q", 1, "--coupling", 2, "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "local minimax (not Nash)" in res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["results"]["classification"]["eig_schur"] == pytest.approx([3.0])
    assert (tmp_path / "landscape.png").is_file()
    res = invoke("classify", "bilinear", "--theta", 1, "--phi", 0, "--out", tmp_path, "--json")
    assert json.loads(res.output)["results"]["classification"]["verdict"] == "not stationary"


def test_help_texts():
    for args in ([], ["classify"], ["bilinear"], ["dirac"], ["classify", "quadratic"]):
        res = invoke(*args, "--help")
        assert res.exit_code == 0 and "Usage" in res.output, args
    for bare in (invoke(), invoke("classify")):
        assert bare.exit_code == 0 and bare.output.startswith("Usage")
    assert "--lr-theta" in invoke("bilinear", "--help").output
    assert "--loss" in invoke("dirac", "--help").output


@pytest.mark.parametrize(
    "args, message",
    [
        (["chess"], "unknown game 'chess'"),
        (["classify", "chess"], "unknown game 'chess'"),
        (["bilinear", "--methods", "simgda,adam"], "unknown method 'adam'"),
        (["bilinear", "--lr", "0"], "lr must be > 0, got 0"),
        (["bilinear", "--lr", "-0.1"], "lr must be > 0, got -0.1"),
        (["bilinear", "--lr", "nan"], "lr must be finite, got nan"),
        (["bilinear", "--lr-theta", "-0.1"], "lr-theta must be > 0, got -0.1"),
        (["bilinear", "--methods", "simgda,,,"], "empty entry in the method list 'simgda,,,'"),
        (["bilinear", "--dim", "100000"], "a bilinear game with dim=100000 needs about 1.16 TB of memory"),
        (["bilinear", "--lr-phi", "inf"], "lr-phi must be finite, got inf"),
        (["bilinear", "--steps", "0"], "steps must be a positive integer, got 0"),
        (["bilinear", "--steps", "ten"], "'ten' is not a valid integer"),
        (["dirac", "--loss", "hinge"], "unknown loss 'hinge'"),
        (["bilinear", "--dim", "0"], "dim must be a positive integer, got 0"),
        (["bilinear", "--theta0", "0", "--phi0", "0"], "is the equilibrium"),
        (["dirac", "--methods", "ppm", "--lr", "3"], "ppm inner solve did not reach tolerance"),
        (["quadratic", "--p", "-5", "--coupling", "0", "--methods", "ppm"], "ppm step undefined"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    res = invoke(*args, "--out", tmp_path / "out")
    assert res.exit_code == 2, res.output
    assert res.output.strip().count("\n") == 0
    assert res.output.startswith("error:") and message in res.output


def test_unwritable_out_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        res = invoke("bilinear", "--steps", 5, "--out", out)
        assert res.exit_code == 2 and res.output.strip().count("\n") == 0, res.output
        assert str(out) in res.output
