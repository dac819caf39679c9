"""Issue 14: no run lost to a second process, damaged files or odd input; datasets read in their real formats.

Every reproducer of the issue is a case here: one clear ``error:`` line and exit 2 (or a correct result),
with nothing the run had written lost or rewritten.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from formats import write_celeba, write_cifar10, write_mnist
from proxgan.cli import main
from proxgan.data import load_dataset
from proxgan.errors import ProxganError
from proxgan.files import atomic_write, read_checksummed, write_checksummed
from proxgan.locks import LOCK_NAME, owned_directory
from proxgan.runs import checkpoint_path, load_run, read_checkpoint, save_checkpoint

SRC = str(Path(__file__).resolve().parents[1] / "src")
TINY = ["digits", "data.n=200", "model.dim=4", "model.latent_dim=8", "train.steps=2", "train.batch_size=8",
        "log.every=1", "log.sample_every=1000"]  # fmt: skip


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(res, *fragments):
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (the lock file aside): to prove nothing was rewritten."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "R"
    res = invoke("train", *TINY, "--out", out)
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture
def run_copy(run_dir, tmp_path):
    import shutil

    shutil.copytree(run_dir, tmp_path / "R")
    return tmp_path / "R"


# --- 1. two processes, one --out -----------------------------------------------------------------


def proxgan(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", "from proxgan.cli import main; main()", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)  # fmt: skip


@pytest.mark.parametrize("command", [["train", *TINY, "--out", "{d}"], ["equilibrium", "{run}", "--out", "{d}"],
                                     ["reproduce", "--scale", "tiny", "--stages", "games", "--out", "{d}"],
                                     ["theorem", "w2gan-quadratic", "--out", "{d}"]])
def test_a_second_process_is_refused_naming_the_holder(run_dir, tmp_path, command):
    target = tmp_path / "D"
    with owned_directory(target, "proxgan train digits --out D"):
        before = digests(target)
        res = proxgan(*[a.format(d=target, run=run_dir) for a in command])
        assert digests(target) == before
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert f"is in use by pid {os.getpid()} on host" in res.stderr and "(proxgan train digits --out D)" in res.stderr


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    target = tmp_path / "D"
    target.mkdir()
    (target / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": "h", "command": "x", "since": 0}))
    with owned_directory(target, "again") as d:
        assert json.loads((d / LOCK_NAME).read_text())["pid"] == os.getpid()
    with owned_directory(target), owned_directory(target / "."):  # re-entrant within one process
        pass


def test_owning_a_directory_removes_interrupted_temporaries_but_not_a_nested_owners(tmp_path):
    (tmp_path / "checkpoints").mkdir(parents=True)
    stale = tmp_path / "checkpoints" / ".last.pt.abc123.tmp"
    stale.write_bytes(b"x" * 100)
    nested = tmp_path / "sub"
    nested.mkdir()
    (nested / LOCK_NAME).write_text("{}")
    theirs = nested / ".results.json.x.tmp"
    theirs.write_text("in flight")
    with owned_directory(tmp_path):
        pass
    assert not stale.exists() and theirs.exists()


def test_atomic_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a", lambda f: f.write(b"1"))
        plain = tmp_path / "b"
        plain.write_text("1")
    finally:
        os.umask(old)
    assert (tmp_path / "a").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o640


# --- 3. damaged checkpoint data is detected ------------------------------------------------------


def flip_byte(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]


def garble(data: bytes) -> bytes:
    i = len(data) // 3
    return data[:i] + os.urandom(4096) + data[i + 4096 :]


@pytest.mark.parametrize("damage", [flip_byte, garble, lambda d: d[: len(d) // 2], lambda d: d[:10]])
def test_damaged_checkpoint_bytes_are_detected(tmp_path, damage):
    write_checksummed(tmp_path / "f", os.urandom(20_000))
    (tmp_path / "f").write_bytes(damage((tmp_path / "f").read_bytes()))
    with pytest.raises(ProxganError, match="damaged thing .*(does not match|truncated|no checksum header)"):
        read_checksummed(tmp_path / "f", "thing")


@pytest.mark.parametrize("damage", [flip_byte, garble])
@pytest.mark.parametrize("command", [["train", "--resume", "--out", "{R}"], ["equilibrium", "{R}", "--out", "{E}"],
                                     ["evaluate", "{R}", "--samples", "20"]])
def test_damaged_weights_are_refused_and_the_run_is_kept(run_copy, tmp_path, damage, command):
    last = checkpoint_path(run_copy)
    last.write_bytes(damage(last.read_bytes()))
    before = digests(run_copy)
    res = invoke(*[a.format(R=run_copy, E=tmp_path / "E") for a in command])
    one_line_error(res, "damaged checkpoint", str(last))
    assert digests(run_copy) == before


# --- 4. tracebacks on damaged files ---------------------------------------------------------------


def foreign_torch_file(path: Path) -> None:
    import io

    buffer = io.BytesIO()
    torch.save({"format": "proxgan-run/2", "step": 1}, buffer)  # checksummed, but no config and no weights
    write_checksummed(path, buffer.getvalue())


@pytest.mark.parametrize("write,message", [
    (lambda p: p.write_text("hello\n"), "no checksum header"),
    (lambda p: p.write_text("seed: 3\ntrain: {steps: 2}\n"), "no checksum header"),
    (lambda p: p.write_bytes(b""), "no checksum header"),
    (lambda p: torch.save({"weights": torch.zeros(2)}, p), "no checksum header"),
    (foreign_torch_file, "'config' is missing or not a dict"),
])  # fmt: skip
def test_overwritten_checkpoints_are_one_line(run_copy, write, message):
    write(checkpoint_path(run_copy))
    for args in (["train", "--resume", "--out", run_copy], ["evaluate", run_copy, "--samples", "20"]):
        one_line_error(invoke(*args), message)


@pytest.mark.parametrize("damage,steps", [
    (lambda text: text[:-7], [1, 3]),  # a kill while the last record (step 2) was being written
    (lambda text: text + '{"step": \n', [1, 2, 3]),
    (lambda text: text.replace("}\n", "}\n\udcff\udcfe garbage\n", 1), [1, 2, 3]),  # bytes that are not UTF-8
])  # fmt: skip
def test_a_damaged_log_line_is_skipped_with_a_warning_on_resume(run_copy, damage, steps):
    log = run_copy / "log.jsonl"
    log.write_bytes(damage(log.read_text()).encode("utf-8", "surrogateescape"))
    res = invoke("train", "--resume", "--out", run_copy, "train.steps=3")
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "log.jsonl" in res.output and "damaged line" in res.output
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == steps
    assert load_run(run_copy).step == 3


def test_a_binary_config_on_resume_is_refused_before_anything_is_rewritten(run_copy):
    (run_copy / "config.yaml").write_bytes(b"\xff\xfe\x00binary")
    before = digests(run_copy)
    one_line_error(invoke("train", "--resume", "--out", run_copy), "is not UTF-8 text")
    assert digests(run_copy) == before


@pytest.mark.parametrize("text,message", [("[]", "a JSON list"), ("{}", "'command' is missing"), ("{", "corrupt"),
                                          ('{"command": "x", "versions": {}, "config": {}, "results": 3, '
                                           '"figures": [], "wall_seconds": 1}', "'results' is missing or of the wrong type")])
def test_damaged_results_json_is_one_line_for_evaluate(run_copy, text, message):
    (run_copy / "results.json").write_text(text)
    before = digests(run_copy)
    one_line_error(invoke("evaluate", run_copy, "--samples", "20"), "results.json", message)
    assert digests(run_copy) == before


@pytest.fixture(scope="module")
def tiny_reproduction(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "OUT"
    res = invoke("reproduce", "--scale", "tiny", "--stages", "games,theory", "--out", out)
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize("text,message", [("{}", "'command' is missing"),
                                          ('{"command": "x", "versions": {}, "config": {"scale": "tiny"}, "results": {}, '
                                           '"figures": [], "wall_seconds": 1}', "'results.summary' is missing")])
def test_damaged_stage_results_are_one_line_for_report_and_reproduce(tiny_reproduction, tmp_path, text, message):
    import shutil

    out = tmp_path / "OUT"
    shutil.copytree(tiny_reproduction, out)
    (out / "games" / "results.json").write_text(text)
    for args in (["report", out], ["reproduce", "--scale", "tiny", "--stages", "games", "--out", out]):
        one_line_error(invoke(*args), str(out / "games" / "results.json"), message)


def test_damaged_equilibrium_state_is_one_line(run_dir, tmp_path):
    from proxgan.equilibrium import equilibrium_state_path

    out = tmp_path / "E"
    assert invoke("equilibrium", run_dir, "--steps", "2", "--test", "nash", "--no-quality", "--out", out).exit_code == 0
    state = equilibrium_state_path(out, "nash")
    state.write_bytes(flip_byte(state.read_bytes()))
    one_line_error(invoke("equilibrium", run_dir, "--steps", "2", "--test", "nash", "--no-quality", "--out", out),
                   "damaged equilibrium checkpoint")


def test_equilibrium_refuses_to_write_into_the_run_it_tests(run_dir):
    before = (run_dir / "results.json").read_bytes()
    one_line_error(invoke("equilibrium", run_dir, "--steps", "2", "--out", run_dir / "."), "is the run directory itself")
    assert (run_dir / "results.json").read_bytes() == before


# --- 5. divergence --------------------------------------------------------------------------------


def test_divergence_before_the_first_checkpoint_says_there_is_none(tmp_path):
    res = invoke("train", "ring8-wgan-gp", "train.d_optimizer.lr=1e30", "train.g_optimizer.lr=1e30", "train.steps=50",
                 "model.dim=8", "log.every=1", "log.checkpoint_every=1000", "--out", tmp_path / "D")
    one_line_error(res, "non-finite loss", "no checkpoint was written before it")
    assert not checkpoint_path(tmp_path / "D").exists()


def test_equilibrium_figure_with_non_finite_samples(tmp_path):
    from proxgan.equilibrium import plot_equilibrium

    data = load_dataset("ring8", n=100)
    samples = torch.full((16, 2), float("nan"))
    samples[0] = torch.tensor([float("inf"), 0.0])
    curve = [{"step": 0, "objective": float("nan"), "proximal_objective": None, "quality": None}]
    name = plot_equilibrium({"nash": {"curve": curve, "samples": {0: samples}}}, data, tmp_path, lam=0.1, quality=None)
    assert (tmp_path / name).is_file()


def test_equilibrium_on_a_run_whose_objective_is_nan(tmp_path):
    run = tmp_path / "N"
    assert invoke("train", "ring8-wgan-gp", "model.dim=8", "train.steps=2", "--out", run).exit_code == 0
    state = read_checkpoint(checkpoint_path(run))
    for value in state["discriminator"].values():
        if value.is_floating_point():
            value.fill_(float("nan"))
    save_checkpoint(checkpoint_path(run), state)
    res = invoke("equilibrium", run, "--steps", "3", "--out", tmp_path / "E")
    assert res.exit_code == 0, res.output
    assert "nash: V(G, D_final) nan -> nan" in res.output and (tmp_path / "E" / "equilibrium.png").is_file()


# --- 6-8. wrong messages, tracebacks and silent accepts on invalid input --------------------------


@pytest.mark.parametrize("args,message", [
    (["evaluate", "{R}", "--device", "foo"], "unknown device 'foo'"),
    (["equilibrium", "{R}", "--device", "foo", "--out", "{T}/e"], "unknown device 'foo'"),
    (["games", "bilinear", "--lr", "-0.2", "--out", "{T}/g"], "error: lr must be > 0, got -0.2"),
    (["equilibrium", "{R}/config.yaml", "--out", "{T}/e"], "is not a directory"),
    (["equilibrium", "{R}", "--seed", "-1", "--out", "{T}/e"], "'--seed': -1 is not in the range"),
    (["evaluate", "{R}", "--seed", "-1"], "'--seed': -1 is not in the range"),
    (["evaluate", "{R}", "--metrics", "cls_fid", "--samples", "1"], "cls_fid needs at least 2 samples"),
    (["evaluate", "{R}", "--cache-dir", "/proc/x", "--samples", "20"], "cannot use '/proc/x' as the cache directory"),
    (["evaluate", "{R}", "--data-root", "/nonexistent", "--samples", "20"], "'/nonexistent' does not exist"),
    (["theorem", "w2gan-quadratic", "--sigma", "1e300", "--out", "{T}/t"], "sigma must be in [1e-06, 1e+06]"),
    (["games", "bilinear", "--dim", "100000", "--out", "{T}/g"], "needs about 1.16 TB of memory, more than the"),
    (["train", *TINY, "model.dim=100000", "--out", "{T}/t"], "needs about 14.6 TB of memory, more than the"),
    (["theorem", "fgan-kl", "--dim", "3", "--samples", "1000000000", "--out", "{T}/t"], "needs about 134 GB of memory"),
    (["theorem", "w2gan-quadratic", "--dim", "5000", "--out", "{T}/t"], "the limit is 10: pass --no-verify"),
    (["theorem", "w2gan-quadratic", "--dim", "5000", "--no-verify", "--out", "{T}/t"], "the limit is 40"),
    (["games", "bilinear", "--methods", "simgda,,,", "--out", "{T}/g"], "empty entry in the method list"),
    (["reproduce", "--stages", "", "--out", "{T}/r"], "empty stage list"),
    (["train", "--out", ""], "'--out': empty path"),
    (["theorem", "w2gan-quadratic", "--out", ""], "'--out': empty path"),
    (["equilibrium", ""], "'RUN_DIR': empty path"),
    (["evaluate", ""], "'RUN_DIR': empty path"),
    (["report", ""], "'DIRECTORY': empty path"),
])  # fmt: skip
def test_invalid_input_is_one_line_and_exit_2(run_dir, tmp_path, args, message):
    before = digests(run_dir)
    one_line_error(invoke(*[a.format(R=run_dir, T=tmp_path) for a in args]), message)
    assert digests(run_dir) == before


def test_commands_that_update_a_directory_do_not_create_it(tmp_path):
    one_line_error(invoke("evaluate", tmp_path / "a"), "run directory", "does not exist")
    one_line_error(invoke("report", tmp_path / "b"), "holds no reproduction")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_without_cuda_is_named_as_such(run_dir, tmp_path):
    one_line_error(invoke("equilibrium", run_dir, "--device", "cuda", "--out", tmp_path / "e"), "no CUDA device")


def test_a_binary_config_file_is_one_line(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)))
    one_line_error(invoke("train", tmp_path / "bin.yaml", "--out", tmp_path / "o"), "is not UTF-8 text")


def test_huge_step_sizes_report_an_infinite_drift(tmp_path):
    res = invoke("games", "bilinear", "--lr", "1e300", "--steps", "20", "--out", tmp_path / "g")
    assert res.exit_code == 0 and "conserved drift inf" in res.output


def test_resume_with_fewer_steps_is_refused_and_with_the_same_steps_rewrites_nothing(run_copy):
    before = digests(run_copy)
    one_line_error(invoke("train", "--resume", "--out", run_copy, "train.steps=1"), "has already run 2 generator steps")
    assert digests(run_copy) == before
    res = invoke("train", "--resume", "--out", run_copy)
    assert res.exit_code == 0 and "completed: 2 generator steps" in res.output
    assert digests(run_copy) == before


# --- 10. real formats ------------------------------------------------------------------------------


def test_cifar10_batches_are_read_in_their_layout(tmp_path):
    pixels = write_cifar10(tmp_path, per_batch=3)
    data = load_dataset("cifar10", root=tmp_path)
    assert data.shape == (3, 32, 32) and len(data) == 15 and data.labels.shape == (15,)
    expected = torch.from_numpy(pixels.reshape(15, 3, 32, 32)).float() * (2 / 255) - 1
    assert torch.allclose(data.x, expected)  # channel planes R, G, B, row-major, scaled to [-1, 1]
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02garbage")
    with pytest.raises(ProxganError, match="damaged CIFAR-10 batch .*data_batch_3"):
        load_dataset("cifar10", root=tmp_path)


def test_celeba_partition_and_jpegs_are_read(tmp_path):
    train_names = write_celeba(tmp_path)
    data = load_dataset("celeba", root=tmp_path)
    assert data.shape == (3, 64, 64) and len(data) == len(train_names) == 4
    assert data.x.min() >= -1 and data.x.max() <= 1 and data.x.std() > 0.1
    (tmp_path / "celeba" / "img_align_celeba" / train_names[1]).write_bytes(b"not a jpeg")
    with pytest.raises(ProxganError, match=f"cannot read CelebA image .*{train_names[1]}"):
        load_dataset("celeba", root=tmp_path)


FID_SAMPLES = ["--metrics", "fid", "--samples", "4", "--reference-samples", "4"]


@pytest.fixture(scope="module")
def inception_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")  # the converted Inception weights, shared by the evaluations


@pytest.mark.parametrize("config,writer", [("table1-sngan-dim64", write_cifar10), ("celeba-sngan", write_celeba)])
def test_train_and_evaluate_on_real_format_data(tmp_path, inception_cache, config, writer):
    from proxgan.metrics.inception import fid_helper_weights_path

    writer(tmp_path / "data")
    out = tmp_path / "run"
    res = invoke("train", config, "model.dim=4", "train.steps=2", "train.batch_size=4", "train.n_critic=1",
                 "log.every=1", "log.sample_every=1000", "--data-root", tmp_path / "data", "--out", out)
    assert res.exit_code == 0, res.output
    assert load_run(out).data.name == config.split("-")[0].replace("table1", "cifar10")
    if fid_helper_weights_path() is None:
        pytest.skip("no Inception weights to evaluate with")
    res = invoke("evaluate", out, *FID_SAMPLES, "--cache-dir", inception_cache)
    assert res.exit_code == 0, res.output
    assert json.loads((out / "results.json").read_text())["results"]["metrics"]["fid"]["samples"] == 4


class PixelMeanInception(torch.nn.Module):
    """Stands in for InceptionV3 (tested against its reference in test_metrics_inception.py): the same outputs,
    2048 pool features and 1008 logits, from the channel means, so the smoke test costs seconds."""

    def __init__(self):
        from proxgan.metrics.inception import LOGITS, N_LOGITS, POOL_FEATURES

        super().__init__()
        self.features_list = [POOL_FEATURES, LOGITS]
        self.pool, self.logits = torch.nn.Linear(3, 2048), torch.nn.Linear(3, N_LOGITS)

    def forward(self, images):
        means = images.float().mean((2, 3)) / 255
        return self.pool(means), self.logits(means)


def test_reproduce_gpu_scale_smoke_runs_the_whole_pipeline_on_cpu(tmp_path, monkeypatch):
    """``--scale gpu --smoke`` on tiny MNIST (train, nash, proximal) and CIFAR-10 (Table 1's first row at DIM 64 and 128,
    Inception Score through a stand-in network: the numbers mean nothing, the pipeline is what is tested)."""
    from proxgan.metrics import inception

    write_mnist(tmp_path / "data")
    write_cifar10(tmp_path / "data", per_batch=4)
    torch.manual_seed(0)
    monkeypatch.setattr(inception, "load_inception", lambda *a, **k: inception.InceptionNet(
        PixelMeanInception(), True, "pixel-mean:test", "test stand-in"))
    monkeypatch.setenv("PROXGAN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "OUT"
    res = invoke("reproduce", "--scale", "gpu", "--smoke", "--stages", "train,nash,proximal,table1", "--jobs", "1", "--threads", "1",
                 "--data-root", tmp_path / "data", "--out", out, "--json")  # one process: the stand-in is patched here
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["config"]["scale"] == "gpu --smoke"
    stage_command = json.loads((out / "table1" / "results.json").read_text())["command"]
    assert stage_command == "proxgan reproduce --scale gpu --smoke --stages table1"  # a command that runs
    assert all(doc["results"]["stages"][s]["status"] == "done" for s in ("train", "nash", "proximal", "table1"))
    table1 = json.loads((out / "table1" / "results.json").read_text())["results"]["summary"]
    assert table1["dataset"] == "cifar10" and table1["metric"] == "is"
    assert [(r["formulation"], r["dim"]) for r in table1["rows"]] == [("wgan-wc", 64), ("wgan-wc", 128)]
    assert all(r["regular"]["mean"] >= 1 for r in table1["rows"])  # an Inception Score is at least 1
    assert (out / "report.html").is_file()


def benchmark_module(name: str):
    """benchmarks/NAME.py imported as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_cpu_fallback(tmp_path, capsys):
    """benchmarks/gpu_check.py's CPU path: every check runs and passes, the JSON names the device."""
    module = benchmark_module("gpu_check")
    assert module.main(["--cpu", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["device"] == "cpu" and report["ok"] and report["inner_gradient_vs_cpu"]["max_relative_error"] == 0
    assert {(r["strategy"], r["bf16"]) for r in report["training_steps"]} == {
        ("regular", False), ("regular", True), ("proximal", False), ("proximal", True)}
    assert all(r["finite"] for r in report["training_steps"]) and report["throughput"][0]["proximal"]["iterations_per_second"] > 0
    assert json.loads(capsys.readouterr().out) == report


def test_a_checkpoint_from_before_checksums_is_named_as_such(tmp_path):
    from proxgan.runs import read_checkpoint

    path = tmp_path / "last.pt"
    torch.save({"format": "proxgan-run/1", "step": 1}, path)
    with pytest.raises(ProxganError, match="no checksum header, a bare torch file .*before version 2 of its format"):
        read_checkpoint(path)


def test_gpu_table1_summary_compares_every_arm_at_the_last_step_all_runs_reached(tmp_path):
    """benchmarks/gpu_table1.py's pre-registered rule: the common step is the smallest last evaluation over all
    runs; differences are paired by seed (treatment − baseline for IS, baseline − treatment for FID)."""
    module = benchmark_module("gpu_table1")
    last = {"regular": 4, "proximal": 2, "lam0": 3}  # proximal stops first: common step 2
    for arm, steps in last.items():
        for seed in (0, 1, 2):
            run = tmp_path / f"{arm}-s{seed}"
            run.mkdir()
            records = []
            for step in range(1, steps + 1):
                score = step + seed + (0.5 if arm == "proximal" else 0.0)  # proximal +0.5 IS on every seed
                records.append({"step": step, "d_loss": 0.0, "wall_seconds": step * (3.0 if arm == "proximal" else 1.0)})
                records.append({"step": step, "eval/cls_is/mean": score, "eval/cls_fid/value": 10.0 - score,
                                "eval/cls_fid/floor": 2.0})
            (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    doc = module.summarize(module.read_runs(tmp_path))
    assert doc["common_step"] == 2 and doc["seeds"] == [0, 1, 2]
    primary = doc["comparisons"]["proximal vs regular"]
    assert primary["cls_is"]["values"] == [0.5, 0.5, 0.5] and primary["cls_fid"]["values"] == [0.5, 0.5, 0.5]
    assert primary["time_ratio"]["values"] == [3.0, 3.0, 3.0]
    assert doc["arms"]["lam0"]["cls_is"]["values"] == [2.0, 3.0, 4.0]
    # regular given at most proximal's 6 s at step 2 reaches step 4 (4 s): proximal 2.5 + seed against 4 + seed
    assert doc["equal_time_exploratory"]["regular_steps"] == [4, 4, 4]
    assert doc["equal_time_exploratory"]["cls_is"]["values"] == [-1.5, -1.5, -1.5]
    assert doc["runs"]["proximal-s0"]["status"] == "no results.json"


def test_mnist_recipe_summary_pairs_the_average_with_the_last_iterate(tmp_path):
    """benchmarks/mnist_recipe.py --summarize: with both generators scored in each run, d = average − last for
    cls_is and last − average for cls_fid (positive: the average better), its t interval and the verdict."""
    module = benchmark_module("mnist_recipe")
    runs = []
    for seed, (is_avg, is_last, fid_avg, fid_last) in enumerate([(8.7, 8.8, 3.0, 4.0), (8.8, 8.8, 3.0, 3.5),
                                                                  (8.9, 8.8, 3.0, 4.5)]):
        run = tmp_path / f"s{seed}"
        run.mkdir()
        floor = {"value": 2.0}
        (run / "results.json").write_text(json.dumps({"results": {
            "metrics": {"cls_is": {"mean": is_avg}, "cls_fid": {"value": fid_avg, "floor": floor}},
            "metrics_last_iterate": {"cls_is": {"mean": is_last}, "cls_fid": {"value": fid_last, "floor": floor}}}}))
        runs.append(run)
    text = module.summarize(runs)
    is_line, fid_line = text.splitlines()[-2:]
    # cls_is: d = (-0.1, 0, +0.1), mean 0 (up to round-off, either sign), std 0.1: 0 ± 4.303 · 0.1 / √3
    assert is_line.startswith("cls_is, average over last iterate") and "0.000, 95 % CI [-0.248, +0.248]" in is_line
    assert "1 of 3 runs better: inconclusive" in is_line
    # cls_fid: d = (1.0, 0.5, 1.5), mean 1, std 0.5, t(0.975, 2) = 4.303: 1 ± 1.242
    assert "+1.000, 95 % CI [-0.242, +2.242], 3 of 3 runs better: inconclusive" in fid_line
    # --last-iterate tabulates the last iterates: cls_is 8.8 on every run, cls_fid (4.0, 3.5, 4.5) mean 4, std 0.5
    last = module.summarize(runs, last_iterate=True).splitlines()
    assert last[2] == f"| {runs[0]} | 8.800 | 4.000 | 2.000 | 2.00 |"
    assert last[5].startswith("cls_is: mean 8.800, std 0.000") and last[6].startswith("cls_fid: mean 4.000, std 0.500")
    assert last[-2:] == [is_line, fid_line]  # the paired lines still compare the average with the last iterate
    # one run without a last-iterate score: no paired lines, and no last-iterate table
    (runs[0] / "results.json").write_text(json.dumps({"results": {
        "metrics": {"cls_is": {"mean": 8.7}, "cls_fid": {"value": 3.0, "floor": {"value": 2.0}}}}}))
    assert "last iterate" not in module.summarize(runs)
    with pytest.raises(SystemExit, match="no last-iterate scores"):
        module.summarize(runs, last_iterate=True)
