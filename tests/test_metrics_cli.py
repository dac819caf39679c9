"""``proxgan evaluate RUN_DIR``: scores land in results.json beside the run's own results; bad input → exit 2."""

import json

import pytest
import torch
from click.testing import CliRunner

from proxgan.cli import main


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    from proxgan.config import load_config
    from proxgan.train import train

    run_dir = tmp_path_factory.mktemp("ring-run")
    overrides = ["data.name=ring8", "data.n=500", "model.arch=mlp", "model.dim=16", "model.latent_dim=4",
                 "train.steps=2", "train.n_critic=1", "train.batch_size=16", "log.sample_every=1000"]
    train(load_config("digits", overrides), run_dir)
    return run_dir


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_evaluate_scores_the_average_or_with_last_iterate_the_last_iterate(tmp_path):
    """A run that kept an EMA is scored on it by default and on θ_k with --last-iterate; each record names its
    generator, each score is the metric of that generator's samples (latent seed 0), and the two are kept
    side by side in results.json (metrics, metrics_last_iterate): neither evaluation replaces the other's."""
    from proxgan.config import load_config
    from proxgan.metrics import evaluate
    from proxgan.runs import load_run
    from proxgan.train import train

    overrides = ["data.name=ring8", "data.n=500", "model.arch=mlp", "model.dim=16", "model.latent_dim=4",
                 "train.steps=3", "train.n_critic=1", "train.batch_size=16", "log.sample_every=1000",
                 "train.average.kind=ema", "train.average.decay=0.5", "train.average.start=0"]
    train(load_config("digits", overrides), tmp_path)
    scores = {}
    for flag in ([], ["--last-iterate"]):
        res = invoke("evaluate", tmp_path, "--metrics", "emd", "--samples", 200, *flag, "--json")
        assert res.exit_code == 0, res.output
        record = json.loads(res.output)
        key = "metrics_last_iterate" if flag else "metrics"
        assert record["results_key"] == key
        recorded = json.loads((tmp_path / "results.json").read_text())["results"][key]["emd"]
        assert recorded["generator"] == record["generator"] and recorded["w1"] == record["metrics"]["emd"]["w1"]
        run = load_run(tmp_path, average=not flag)
        assert record["generator"] == run.generator_kind
        expected = evaluate(lambda n: run.sample(n, seed=0), run.data, "emd", n_samples=200)["emd"]["w1"]
        assert record["metrics"]["emd"]["w1"] == pytest.approx(expected)
        scores[record["generator"]] = expected
    population = "; BatchNorm: population statistics of these weights (512 latents)"
    assert set(scores) == {"last iterate" + population,
                           "EMA of the generator's weights (decay 0.5, from step 0)" + population}
    assert len(set(scores.values())) == 2  # θ̄_3 ≠ θ_3: the flag changed what was scored
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert {results[key]["emd"]["w1"] for key in ("metrics", "metrics_last_iterate")} == set(scores.values())
    # --training-batchnorm: the EMA with the buffers it kept from training (the scores before 2026-12-04)
    res = invoke("evaluate", tmp_path, "--metrics", "emd", "--samples", 200, "--training-batchnorm", "--json")
    record, run = json.loads(res.output), load_run(tmp_path, population_batchnorm=False)
    assert record["generator"] == ("EMA of the generator's weights (decay 0.5, from step 0); "
                                   "BatchNorm: the running statistics kept during training")
    expected = evaluate(lambda n: run.sample(n, seed=0), run.data, "emd", n_samples=200)["emd"]["w1"]
    assert record["metrics"]["emd"]["w1"] == pytest.approx(expected) and expected not in scores.values()


def test_evaluate_appends_metrics_and_keeps_the_run_results(ring_run):
    before = json.loads((ring_run / "results.json").read_text())
    res = invoke("evaluate", ring_run, "--metrics", "modes,emd", "--samples", 300, "--json")
    assert res.exit_code == 0, res.output
    printed = json.loads(res.output)
    after = json.loads((ring_run / "results.json").read_text())
    assert after["results"]["losses"] == before["results"]["losses"]  # the run's own data survives
    assert after["results"]["status"] == before["results"]["status"]
    metrics = after["results"]["metrics"]
    assert metrics == json.loads(json.dumps(printed["metrics"]))
    assert metrics["modes"]["n_modes"] == 8 and metrics["modes"]["samples"] == 300 and metrics["modes"]["step"] == 2
    assert 0.0 <= metrics["emd"]["w1"] <= metrics["emd"]["w2"]
    res = invoke("evaluate", ring_run, "--metrics", "emd", "--samples", 100)  # a second call adds, not replaces
    assert res.exit_code == 0 and "emd: W1" in res.output
    again = json.loads((ring_run / "results.json").read_text())["results"]["metrics"]
    assert again["modes"] == metrics["modes"] and again["emd"]["samples"] == 100


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metrics", "fidd"], "unknown metric 'fidd'"),
        (["--metrics", "w2"], "needs the gaussian dataset"),
        (["--metrics", "fid"], "needs image data"),
        (["--samples", "0"], "samples must be a positive integer"),
        (["--checkpoint", "nope"], "no checkpoint"),
    ],
)
def test_evaluate_bad_input_is_one_line_exit_2(ring_run, args, message):
    res = invoke("evaluate", ring_run, *args)
    assert res.exit_code == 2
    assert message in res.output and res.output.strip().count("\n") == 0


def test_evaluate_missing_run_and_corrupt_results(tmp_path, ring_run):
    res = invoke("evaluate", tmp_path / "absent")
    assert res.exit_code == 2 and "does not exist" in res.output and not (tmp_path / "absent").exists()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "checkpoints").mkdir()
    (broken / "checkpoints" / "last.pt").write_bytes((ring_run / "checkpoints" / "last.pt").read_bytes())
    (broken / "results.json").write_text("{half a file")
    res = invoke("evaluate", broken, "--metrics", "emd", "--samples", 50)
    assert res.exit_code == 2 and "corrupt" in res.output
    assert (broken / "results.json").read_text() == "{half a file"  # never overwritten


def test_evaluate_corrupt_inception_weights_exit_2(tmp_path):
    from proxgan.config import load_config
    from proxgan.train import train

    run_dir = tmp_path / "digits"
    train(load_config("digits", ["train.steps=1", "train.n_critic=1", "model.dim=8", "model.latent_dim=4",
                                 "log.sample_every=1000"]), run_dir)
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"not weights")
    res = invoke("evaluate", run_dir, "--metrics", "fid", "--samples", 10, "--inception-weights", weights,
                 "--cache-dir", tmp_path)
    assert res.exit_code == 2 and "cannot read Inception weights" in res.output
