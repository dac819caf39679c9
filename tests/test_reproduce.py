"""The reproduction pipeline: stage selection, resumability, missing modules, the tiny end-to-end smoke run, CLI."""

import json
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from proxgan import reproduce as R
from proxgan.reproduce import pipeline
from proxgan.cli import main
from proxgan.errors import ProxganError
from proxgan.figures import plt, save_figure
from proxgan.report.verdicts import CLAIMS, NOT_APPLICABLE, VERDICTS


# --- the pipeline's mechanics on stand-in stages -------------------------------------------------


def fake_stage(name, calls, modules=(), requires=()):
    def run(stage_dir, ctx):
        calls.append(name)
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1])
        return {"config": {"n": len(calls)}, "results": {"summary": {"stage": name}},
                "figures": [save_figure(fig, stage_dir, f"{name}.png")]}

    return R.Stage(name, f"stand-in {name}", modules, run, requires)


@pytest.fixture
def stand_ins(monkeypatch):
    calls = []
    stages = (fake_stage("alpha", calls), fake_stage("beta", calls, modules=("proxgan.no_such_lab",)),
              fake_stage("gamma", calls), fake_stage("delta", calls, requires=("gamma",)))
    monkeypatch.setattr(pipeline, "STAGES", stages)
    return calls


def test_select_stages_adds_what_a_stage_reads():
    assert [s.name for s in R.select_stages("nash")] == ["train", "nash"]
    assert [s.name for s in R.select_stages("table1,games")] == ["games", "table1"]
    assert [s.name for s in R.select_stages(None)] == [s.name for s in R.STAGES]
    with pytest.raises(ProxganError, match="unknown stage 'nope'"):
        R.select_stages("nope")


def test_resumable_missing_module_and_force(tmp_path, stand_ins):
    doc = R.run_pipeline(tmp_path, scale="tiny")
    stages = doc["results"]["stages"]
    assert stand_ins == ["alpha", "gamma", "delta"]
    assert stages["beta"]["status"] == "not run: proxgan.no_such_lab unavailable"
    assert not (tmp_path / "beta").exists()
    assert stages["alpha"]["status"] == "done" and stages["alpha"]["summary"] == {"stage": "alpha"}
    assert doc["figures"] == ["alpha/alpha.png", "gamma/gamma.png", "delta/delta.png"]
    assert {r["verdict"] for r in doc["results"]["verdicts"]} == {NOT_APPLICABLE}  # no paper stage ran
    # second call: nothing reruns; --force reruns only the chosen stage
    R.run_pipeline(tmp_path, scale="tiny")
    assert stand_ins == ["alpha", "gamma", "delta"]
    doc = R.run_pipeline(tmp_path, scale="tiny", stages="alpha", force=True)
    assert stand_ins == ["alpha", "gamma", "delta", "alpha"]
    assert doc["results"]["stages"]["delta"]["status"] == "done (existing results reused)"
    assert (tmp_path / "report.html").is_file()
    with pytest.raises(ProxganError, match="scale 'tiny', not 'quick'"):
        R.run_pipeline(tmp_path, scale="quick", stages="alpha")
    with pytest.raises(ProxganError, match="scale 'tiny', not 'tiny --table1 sngan'"):
        R.run_pipeline(tmp_path, scale="tiny", stages="alpha", table1=("sngan",))


def test_table1_option_replaces_the_formulations_and_is_recorded_in_the_label():
    full, other = R.get_scale("cpu"), R.get_scale("cpu", table1=("sngan",))
    assert other.table1.formulations == ("sngan",) and other.table1.steps == full.table1.steps
    assert other.train == full.train and (full.label, other.label) == ("cpu", "cpu --table1 sngan")
    assert R.get_scale("cpu", table1=("sngan",), smoke=True).label == "cpu --table1 sngan --smoke"
    with pytest.raises(ProxganError, match="unknown formulation 'sgan'"):
        R.get_scale("cpu", table1=("sgan",))


def test_a_stage_whose_input_is_missing_is_not_run(tmp_path, stand_ins, monkeypatch):
    monkeypatch.setattr(pipeline, "STAGES", (fake_stage("gamma", stand_ins, modules=("proxgan.no_such_trainer",)),
                                      fake_stage("delta", stand_ins, requires=("gamma",))))
    doc = R.run_pipeline(tmp_path, scale="tiny")
    assert stand_ins == []
    assert doc["results"]["stages"]["delta"]["status"] == "not run: needs stage 'gamma'"


def test_unknown_scale_and_report_without_results(tmp_path):
    with pytest.raises(ProxganError, match="unknown scale 'huge'"):
        R.run_pipeline(tmp_path, scale="huge")
    with pytest.raises(ProxganError, match="no reproduction"):
        R.write_report(tmp_path)


@pytest.mark.parametrize("scale", sorted(R.SCALES))
def test_every_scale_builds_valid_configs_for_all_its_runs(scale):
    """The cpu and gpu scales cannot run in the suite; their wiring (config templates, overrides, datasets,
    equilibrium settings) is validated here, so a typo fails now and not an hour into a run."""
    from proxgan.equilibrium import EquilibriumConfig

    the_scale = R.get_scale(scale, data_root="/data")
    train, table1 = the_scale.train, the_scale.table1
    for p, dims in ((train, (None,)), (table1, table1.dims)):
        for formulation in p.formulations:
            for dim in dims:
                variants = table1.variants if p is table1 else (R.ProximalVariant(),)
                for strategy, extra in (("regular", ()), *(("proximal", v.overrides) for v in variants)):
                    config = R.training_config(replace(p, overrides=(*p.overrides, *extra)), formulation,
                                               strategy=strategy, seed=1, steps=p.steps, dim=dim,
                                               data_root=the_scale.data_root)
                    assert (config.formulation, config.train.strategy, config.train.steps) == (formulation, strategy, p.steps)
                    assert config.data.name == p.dataset and (dim is None or config.model.dim == dim)
    assert table1.metric in R.METRIC_VALUES and train.metric in (None, *R.METRIC_VALUES)
    assert len(the_scale.seeds) >= 5  # Table 1's paired t interval on at least five seeds
    EquilibriumConfig(**the_scale.equilibrium.overrides())


# docs/reproduce.md's ablations start from these, so they run without the 80-minute reproduction first.
_DOCUMENTED_REGULAR = "mnist-fast-unconditional train.steps=3000 train.batch_size=64 train.reuse_fake=false log.eval_every=0"
DOCUMENTED_TABLE1_CPU = {
    "regular": _DOCUMENTED_REGULAR,
    "t5-pb16": f"{_DOCUMENTED_REGULAR} train.strategy=proximal proximal.penalty_batch=16",
}


@pytest.mark.parametrize("variant", sorted(DOCUMENTED_TABLE1_CPU))
def test_cpu_table1_configs_are_the_documented_mnist_fast_overrides(variant):
    from proxgan.config import load_config

    p = R.get_scale("cpu", data_root="/data").table1
    extra = () if variant == "regular" else p.variant(variant).overrides
    built = R.training_config(replace(p, overrides=(*p.overrides, *extra)), "nsgan-r1",
                              strategy="regular" if variant == "regular" else "proximal", seed=0,
                              steps=3000, dim=32, data_root="/data")
    documented = load_config("mnist-fast-unconditional", [*DOCUMENTED_TABLE1_CPU[variant].split()[1:], "data.root=/data"])
    assert replace(built, description="") == replace(documented, description="")


@pytest.mark.parametrize("scale", sorted(R.SCALES))
def test_smoke_cuts_every_stage_and_keeps_the_scale_s_own_settings(scale):
    full, smoke = R.get_scale(scale), R.get_scale(scale, smoke=True)
    assert smoke.label == f"{scale} --smoke" and smoke.seeds == full.seeds[:1]
    assert smoke.table1.formulations == full.table1.formulations[:1] and smoke.table1.dims == full.table1.dims
    for stage in ("train", "table1"):  # the scale's overrides first, the smoke cut's after them
        own = getattr(full, stage).overrides
        assert getattr(smoke, stage).overrides[:len(own)] == own and getattr(smoke, stage).steps == 2
    assert smoke.games.steps == 20 and (smoke.theory.sigmas, smoke.theory.lambdas) == (3, 3)
    assert smoke.equilibrium.overrides()["batch_size"] == 8
    assert smoke.parameters()["equilibrium"] == smoke.equilibrium.overrides()  # unset fields are not recorded
    assert "inner_optimizer" not in R.get_scale("tiny").equilibrium.overrides()


# --- the real pipeline, tiny scale ---------------------------------------------------------------


class _Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs["src"])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch

    out = tmp_path_factory.mktemp("reproduce")
    messages = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and the suite shares the cores
    try:
        doc = R.run_pipeline(out, scale="tiny", progress=messages.append)
    finally:
        torch.set_num_threads(threads)
    return out, doc, messages


def test_tiny_pipeline_runs_every_available_stage(tiny):
    out, doc, messages = tiny
    for stage in R.STAGES:
        status = doc["results"]["stages"][stage.name]["status"]
        missing = R.unavailable_module(stage)
        assert status == (f"not run: {missing} unavailable" if missing else "done"), (stage.name, status)
        if status == "done":
            assert (out / stage.name / "results.json").is_file()
    records = doc["results"]["verdicts"]
    assert [r["claim"] for r in records] == [c.key for c in CLAIMS]
    assert all(r["verdict"] in VERDICTS and r["reason"] for r in records)
    assert any(m.startswith("[1/") for m in messages) and messages[-1].startswith("report:")


def test_tiny_report_is_self_contained(tiny):
    out, doc, _ = tiny
    parser = _Sections()
    parser.feed((out / "report.html").read_text())
    assert parser.ids == [f"claim-{c.key}" for c in CLAIMS]
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    shown = sum(len(r["figures"]) for r in doc["results"]["verdicts"])
    assert len(parser.images) == shown


def test_the_trained_gans_are_scored_and_the_equilibrium_verdicts_show_it(tiny):
    """The train stage scores each GAN with the scale's metric (tiny: EMD on 256 samples); the Nash and proximal
    tests carry that score to their verdict rows, so the report says how good a GAN each test ran on."""
    from proxgan.results import read_results

    out, doc, _ = tiny
    trained = read_results(out / "train")["results"]["summary"]["runs"]["sngan"]["score"]
    assert trained["metric"] == "emd" and trained["samples"] == 256 and trained["value"] > 0
    verdicts = {r["claim"]: r for r in doc["results"]["verdicts"]}
    for claim in ("nash-test", "proximal-test"):
        row, = verdicts[claim]["measured"]["runs"]
        assert row["trained GAN's emd (256 samples)"] == trained["value"]


def test_a_finished_run_of_the_same_config_is_copied_not_retrained(tmp_path):
    """A finished run is reused only for its own config (the data's location aside): another seed or step
    budget in its directory is an error naming the difference, never silently returned or overwritten."""
    from proxgan.reproduce.runs import reuse_finished_run, train_run

    p = R.get_scale("tiny").train
    config = R.training_config(p, "sngan", strategy="regular", seed=0, steps=2)
    trained = train_run(config, tmp_path / "train", device="cpu", label="t", progress=lambda m: None)
    other_seed = R.training_config(p, "sngan", strategy="regular", seed=1, steps=2)
    assert not reuse_finished_run(other_seed, tmp_path / "train", tmp_path / "seed1")
    assert not reuse_finished_run(config, tmp_path / "nothing-here", tmp_path / "none")
    assert reuse_finished_run(config, tmp_path / "train", tmp_path / "copy")
    assert not reuse_finished_run(config, tmp_path / "train", tmp_path / "copy")  # never over an existing run
    reused = train_run(config, tmp_path / "copy", device="cpu", label="t", progress=lambda m: None)
    assert reused["results"]["final"] == trained["results"]["final"] and not (tmp_path / "seed1").exists()
    moved = R.training_config(p, "sngan", strategy="regular", seed=0, steps=2, data_root=str(tmp_path / "elsewhere"))
    assert train_run(moved, tmp_path / "copy", device="cpu", label="t", progress=lambda m: None) == reused
    longer = R.training_config(p, "sngan", strategy="regular", seed=0, steps=3)
    with pytest.raises(ProxganError, match=r"'.*copy' holds a finished run trained with train.steps=2, but this stage needs 3"):
        train_run(longer, tmp_path / "copy", device="cpu", label="t", progress=lambda m: None)
    with pytest.raises(ProxganError, match="trained with seed=0, but this stage needs 1"):
        train_run(other_seed, tmp_path / "copy", device="cpu", label="t", progress=lambda m: None)


def test_run_cost_counts_discriminator_sized_steps():
    """Regular: steps × (n_critic + 1); proximal: steps × (T + 1), whatever n_critic says."""
    from proxgan.config import load_config
    from proxgan.reproduce.stages import run_cost

    regular = load_config("mnist-fast", ["train.steps=300", "train.n_critic=2"])
    proximal = load_config("mnist-fast", ["train.steps=300", "train.strategy=proximal", "proximal.steps=20"])
    assert run_cost(regular) == 900.0 and run_cost(proximal) == 6300.0


def test_two_jobs_give_the_numbers_of_one(tiny, tmp_path):
    """Table 1's runs in two worker processes (one thread each) score exactly as the serial fixture's
    (one thread); so do the trained GAN and its Nash test. The equal-time column is left out: its step count
    comes from measured wall-clock time."""
    from proxgan.results import read_results

    serial, _, _ = tiny
    messages = []
    doc = R.run_pipeline(tmp_path, scale="tiny", stages="nash,table1", jobs=2, threads=1, progress=messages.append)
    assert doc["results"]["machine"]["jobs"] == 2 and doc["results"]["machine"]["threads_per_job"] == 1
    assert any("seed4: generator step 4/4" in m for m in messages)  # progress from the workers
    for stage in ("train", "nash", "table1"):
        one, two = (read_results(root / stage)["results"]["summary"] for root in (serial, tmp_path))
        if stage == "train":
            strip = lambda s: {f: {k: v for k, v in r["final"].items() if k != "wall_seconds"} for f, r in s["runs"].items()}  # noqa: E731
            assert strip(one) == strip(two)
        elif stage == "nash":
            assert one["runs"] == two["runs"]
        else:
            for a, b in zip(one["rows"], two["rows"]):
                assert a["regular"]["values"] == b["regular"]["values"] and len(a["regular"]["values"]) == 5
                assert (a["proximal"] is None) == (b["proximal"] is None)  # an equal-time-only variant has none
                if a["proximal"] is not None:
                    assert a["proximal"]["values"] == b["proximal"]["values"]


def test_tiny_table1_has_a_row_per_proximal_variant(tiny):
    """tiny's Table 1 has the config's proximal setting (both columns) and a variant trained only at equal time:
    timed by a one-seed pilot, absent from the same-steps verdict, present in the equal-time one."""
    from proxgan.results import read_results

    out, doc, _ = tiny
    summary = read_results(out / "table1")["results"]["summary"]
    same, timed = summary["rows"]
    assert (same["variant"], same["label"], timed["variant"], timed["label"]) == (
        "proximal", "wgan-wc DIM=8", "t3", "wgan-wc DIM=8 t3")
    assert timed["proximal"] is None and len(timed["equal_time"]["proximal"]["values"]) == 5
    assert timed["overrides"] == ["proximal.steps=3"]
    runs = read_results(out / "table1")["results"]["runs"]
    assert "wgan-wc-dim8-t3-2steps-seed0" in runs  # the pilot (reused when equal time also gives 2 steps)
    n = timed["equal_time"]["proximal_steps"]
    assert all(f"wgan-wc-dim8-t3-{n}steps-seed{seed}" in runs for seed in range(5))
    verdicts = {r["claim"]: r for r in doc["results"]["verdicts"]}
    assert [r["row"] for r in verdicts["table1"]["measured"]["rows"]] == ["wgan-wc DIM=8"]
    assert [r["row"] for r in verdicts["equal-time"]["measured"]["rows"]] == ["wgan-wc DIM=8", "wgan-wc DIM=8 t3"]
    assert (out / "table1" / "table1-pairs-wgan-wc-dim8-t3.png").is_file()


def test_same_steps_adds_the_equal_steps_column_and_keeps_the_pilot_timed_equal_time_runs(tiny, tmp_path):
    """--same-steps t3 trains tiny's equal-time-only variant at regular training's steps too; its equal-time step
    count still comes from the pilot, so with the fixture's runs copied in, the equal-time runs are the fixture's
    own (reused, not retrained) and only the same-steps runs are new."""
    import shutil

    from proxgan.results import read_results

    out, _, _ = tiny
    shutil.copytree(out / "table1" / "runs", tmp_path / "table1" / "runs")
    copied = {path.name for path in (tmp_path / "table1" / "runs").iterdir()}
    doc = R.run_pipeline(tmp_path, scale="tiny", stages="table1", same_steps=("t3",), threads=1)
    assert doc["config"]["scale"] == "tiny --same-steps t3"
    timed = read_results(out / "table1")["results"]["summary"]["rows"][1]
    row = read_results(tmp_path / "table1")["results"]["summary"]["rows"][1]
    assert row["variant"] == "t3" and len(row["proximal"]["values"]) == 5
    assert row["equal_time"] == timed["equal_time"]
    after = {path.name for path in (tmp_path / "table1" / "runs").iterdir()}
    same_steps_runs = {f"wgan-wc-dim8-t3-4steps-seed{seed}" for seed in range(5)}
    # only the same-steps runs train (the fixture has them already when its measured equal time was the full 4 steps)
    assert same_steps_runs <= after and after - copied == same_steps_runs - copied
    verdicts = {r["claim"]: r for r in doc["results"]["verdicts"]}
    assert [r["row"] for r in verdicts["table1"]["measured"]["rows"]] == ["wgan-wc DIM=8", "wgan-wc DIM=8 t3"]


def test_same_steps_option_names_a_variant_trained_at_equal_time_only():
    scale = R.get_scale("cpu", same_steps=("t20",))
    assert scale.label == "cpu --same-steps t20"
    t20 = scale.table1.variant("t20")
    assert t20.same_steps and t20.pilot and scale.table1.variant("t5-pb16") == R.get_scale("cpu").table1.variant("t5-pb16")
    for names, message in ((("t5-pb16",), "'t5-pb16' is not a variant that scale 'cpu' trains at equal time only"),
                           (("bogus",), r"choose from: t20\)"), ((), "needs at least one proximal variant")):
        with pytest.raises(ProxganError, match=message):
            R.get_scale("cpu", same_steps=names)
    with pytest.raises(ValueError, match="needs same_steps or a pilot"):
        R.ProximalVariant("t1", same_steps=False)


def test_cli_report_regenerates_and_reproduce_skips(tiny):
    out, doc, _ = tiny
    (out / "report.html").unlink()
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").is_file() and "claims:" in result.output
    result = CliRunner().invoke(main, ["reproduce", "--scale", "tiny", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output[result.output.index("{"):])
    done = [n for n, s in parsed["results"]["stages"].items() if s["status"].startswith("done")]
    assert all(parsed["results"]["stages"][n]["status"] == "done (existing results reused)" for n in done)


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    runner = CliRunner()
    for args, message in ((["reproduce", "--scale", "huge", "--out", str(tmp_path)], "unknown scale 'huge'"),
                          (["reproduce", "--stages", "games,bogus", "--out", str(tmp_path)], "unknown stage 'bogus'"),
                          (["report", str(tmp_path / "none")], "no reproduction"),
                          (["reproduce", "--jobs", "0", "--out", str(tmp_path)], "jobs must be a positive integer"),
                          (["reproduce", "--threads", "0", "--out", str(tmp_path)], "threads must be a positive integer"),
                          (["reproduce", "--table1", "nsgan,bogus", "--out", str(tmp_path)],
                           "unknown formulation 'bogus'"),
                          (["reproduce", "--table1", ",", "--out", str(tmp_path)], "--table1 needs at least one"),
                          (["reproduce", "--scale", "cpu", "--same-steps", "t5", "--out", str(tmp_path)],
                           "'t5' is not a variant that scale 'cpu' trains at equal time only")):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("training_batchnorm", [False, True])
def test_training_batchnorm_is_in_the_label_and_reaches_the_scores_and_the_tests(tmp_path, monkeypatch, training_batchnorm):
    """``--training-batchnorm`` (as everything recorded before 2026-12-04) is a scale option: recorded in the label,
    so results of one mode are never reused for the other, and handed to every scoring and every equilibrium test."""
    from proxgan import equilibrium
    from proxgan.reproduce import runs as reproduce_runs
    from proxgan.reproduce.stages import Context, train_stage

    scale = R.get_scale("cpu", training_batchnorm=training_batchnorm)
    assert scale.label == ("cpu --training-batchnorm" if training_batchnorm else "cpu")
    assert scale.population_batchnorm is not training_batchnorm

    class Captured(Exception):
        pass

    def capture(tasks, progress):
        raise Captured(tasks)

    ctx = Context(root=tmp_path, scale=scale, pool=type("Pool", (), {"run": staticmethod(capture)})())
    with pytest.raises(Captured) as caught:
        train_stage(tmp_path / "train", ctx)
    tasks = caught.value.args[0]
    assert tasks and all(t.kwargs["population_batchnorm"] is not training_batchnorm for t in tasks)
    seen = {}
    monkeypatch.setattr(equilibrium, "run_equilibrium", lambda *a, **k: seen.update(k))
    reproduce_runs.equilibrium_run("nash", tmp_path / "run", tmp_path / "out", tmp_path / "none.pt", scale.equilibrium,
                                   device="cpu", label="t", progress=print, population_batchnorm=scale.population_batchnorm)
    assert seen["population_batchnorm"] is not training_batchnorm
