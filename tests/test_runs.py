"""Run directories: atomic checkpoints, clear errors for bad ones, load_run, and the ``proxgan train`` CLI."""

import json
import os
import signal
import threading
import time

import pytest
import torch
from click.testing import CliRunner

from proxgan.cli import main
from proxgan.config import config_from_dict, config_to_dict
from proxgan.errors import ProxganError
from proxgan.runs import check_resumable, checkpoint_path, load_run, read_checkpoint, save_checkpoint
from proxgan.train import train


POINTS = {
    "seed": 1, "formulation": "wgan-gp", "data": {"name": "ring8", "n": 512},
    "model": {"arch": "mlp", "dim": 8, "latent_dim": 4}, "train": {"steps": 3, "batch_size": 16, "n_critic": 2},
    "log": {"every": 1, "sample_every": 2, "checkpoint_every": 1, "n_samples": 64},
}  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(config_from_dict(POINTS), out)
    return out


def test_checkpoint_write_is_atomic(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"step": 1})
    with pytest.raises(Exception):
        save_checkpoint(path, {"step": 2, "bad": lambda: 0})  # cannot be pickled: fails mid-write
    assert read_checkpoint(path, fields={"step": int})["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_bad_checkpoints_are_one_clear_line(tmp_path):
    with pytest.raises(ProxganError, match="no checkpoint at"):
        read_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    for path, message in ((garbage, "damaged checkpoint .* no checksum header"), (foreign, "damaged checkpoint .* no checksum header")):
        with pytest.raises(ProxganError, match=message) as err:
            read_checkpoint(path)
        assert "\n" not in str(err.value)


def test_truncated_checkpoint_of_a_real_run_is_reported(run_dir, tmp_path):
    data = checkpoint_path(run_dir).read_bytes()
    (tmp_path / "checkpoints").mkdir()
    checkpoint_path(tmp_path).write_bytes(data[: len(data) // 2])
    with pytest.raises(ProxganError, match=r"damaged checkpoint .* the header says \d+ \(truncated"):
        load_run(tmp_path)


def test_mismatched_weights_name_the_model(run_dir, tmp_path):
    state = read_checkpoint(checkpoint_path(run_dir))
    state["config"]["model"]["dim"] = 16  # the weights were trained with dim 8
    path = tmp_path / "other.pt"
    save_checkpoint(path, state)
    with pytest.raises(ProxganError, match="does not match the generator"):
        load_run(run_dir, checkpoint=str(path))


def test_check_resumable_allows_only_length_logging_and_data_location():
    old = config_to_dict(config_from_dict(POINTS))
    new = config_to_dict(config_from_dict({**POINTS, "train": {**POINTS["train"], "steps": 99},
                                           "log": {"every": 5}, "data": {**POINTS["data"], "root": "/x"}}))
    check_resumable(old, new, checkpoint_path("r"))
    del old["train"]["reuse_fake"]  # a checkpoint from before the key existed: its default is the old behaviour
    check_resumable(old, new, checkpoint_path("r"))
    new["train"]["reuse_fake"] = True
    with pytest.raises(ProxganError, match="train.reuse_fake=False but the config says True"):
        check_resumable(old, new, checkpoint_path("r"))
    new["train"]["reuse_fake"] = False
    new["proximal"]["lam"] = 0.5
    with pytest.raises(ProxganError, match="proximal.lam=0.1 but the config says 0.5"):
        check_resumable(old, new, checkpoint_path("r"))


def test_load_run_samples_in_eval_mode_reproducibly(run_dir):
    run = load_run(run_dir)
    assert run.step == 3 and run.formulation.name == "wgan-gp" and run.config["data"]["name"] == "ring8"
    assert not run.generator.training and not run.discriminator.training
    a = run.sample(10, seed=5, batch_size=3)
    assert torch.allclose(a, run.sample(10, seed=5), atol=1e-6) and not torch.allclose(a, run.sample(10, seed=6))
    assert torch.allclose(a, run.generator(run.latents(10, seed=5)).detach(), atol=1e-6)  # eval mode: per sample
    assert run.data.name == "ring8" and len(run.history) == 3


def test_load_run_samples_with_population_batchnorm_unless_told_otherwise(run_dir):
    """The sampled generator's BatchNorm buffers are its population statistics (proxgan.models.batchnorm);
    population_batchnorm=False keeps the checkpoint's (training) buffers; the weights are the same in both."""
    from proxgan.models.batchnorm import with_population_statistics

    kept, population = load_run(run_dir, population_batchnorm=False), load_run(run_dir)
    saved = read_checkpoint(checkpoint_path(run_dir))["generator"]
    assert all(torch.equal(v, saved[k]) for k, v in kept.generator.state_dict().items())
    expected = with_population_statistics(kept.generator).state_dict()
    for k, v in population.generator.state_dict().items():
        assert torch.equal(v, expected[k]), k
        assert torch.equal(v, saved[k]) == ("running_" not in k and "num_batches" not in k), k
    assert kept.generator_kind.endswith("the running statistics kept during training")
    assert population.generator_kind.endswith("population statistics of these weights (512 latents)")  # conftest


def flat_proximal_optimizer(config):
    """``config`` as proxgan wrote it before ``proximal.optimizer`` was nested: optimizer, lr, betas beside lam."""
    optimizer = config["proximal"].pop("optimizer")
    config["proximal"].update(optimizer=optimizer["name"], lr=optimizer["lr"], betas=optimizer["betas"])
    return config


def test_a_run_written_with_flat_proximal_optimizer_keys_loads_and_resumes_as_today(run_dir, tmp_path):
    import shutil

    import yaml

    new, old = tmp_path / "new", tmp_path / "old"
    shutil.copytree(run_dir, new)
    shutil.copytree(run_dir, old)
    state = read_checkpoint(checkpoint_path(old))
    save_checkpoint(checkpoint_path(old), {**state, "config": flat_proximal_optimizer(state["config"])})
    (old / "config.yaml").write_text(yaml.safe_dump(flat_proximal_optimizer(yaml.safe_load((old / "config.yaml").read_text()))))
    assert load_run(old).experiment == load_run(new).experiment
    for out in (new, old):
        res = cli("train.steps=5", "--out", str(out), "--resume")  # config read back from the run
        assert res.exit_code == 0, res.output
    assert yaml.safe_load((old / "config.yaml").read_text()) == yaml.safe_load((new / "config.yaml").read_text())
    a, b = read_checkpoint(checkpoint_path(new)), read_checkpoint(checkpoint_path(old))
    assert a["step"] == b["step"] == 5 and a["config"] == b["config"]
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])


# --- the CLI ------------------------------------------------------------------------------------

def cli(*args):
    return CliRunner().invoke(main, ["train", *args])


def points_config(tmp_path):
    import yaml

    path = tmp_path / "points.yaml"
    path.write_text(yaml.safe_dump(POINTS))
    return str(path)


def test_cli_lists_the_shipped_configs():
    res = cli("--list")
    assert res.exit_code == 0 and "digits" in res.output


def test_cli_trains_resumes_and_reports(tmp_path):
    config, out = points_config(tmp_path), str(tmp_path / "run")
    res = cli(config, "train.steps=2", "--out", out)
    assert res.exit_code == 0, res.output
    assert "completed: 2 generator steps of regular wgan-gp training on ring8" in res.output
    res = cli("train.steps=3", "--out", out, "--resume", "--json")  # config read back from the run
    assert res.exit_code == 0, res.output
    assert json.loads(res.output[res.output.index("{"):])["results"]["steps"] == 3


@pytest.mark.parametrize("args,message", [
    (["train.stpes=2"], "unknown config key 'train.stpes'"),
    (["nonexistent-config"], "neither a file nor a shipped config"),
    (["data.name=mnist"], "needs a data root"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, message):
    config = points_config(tmp_path)
    res = cli(*([] if args[0] == "nonexistent-config" else [config]), *args, "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and message in res.output and res.output.strip().count("\n") == 0


def test_cli_corrupt_checkpoint_on_resume_is_one_line(tmp_path, run_dir):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(run_dir, out)
    checkpoint_path(out).write_bytes(b"garbage")
    res = cli("--resume", "--out", str(out))
    assert res.exit_code == 2 and "damaged checkpoint" in res.output and res.output.strip().count("\n") == 0


def test_sigterm_checkpoints_then_exits(tmp_path):
    """SIGTERM (sent to this process once training runs) stops the loop, checkpoints, exits 128 + 15."""
    out = tmp_path / "run"
    log = out / "log.jsonl"

    def terminate_when_training():
        deadline = time.time() + 60
        while not (log.is_file() and log.read_text().count("\n") >= 3) and time.time() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_when_training)
    killer.start()
    res = cli(points_config(tmp_path), "train.steps=100000", "log.checkpoint_every=100000", "--out", str(out))
    killer.join()
    assert res.exit_code == 128 + signal.SIGTERM, res.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["results"]["status"] == "interrupted" and load_run(out).step == doc["results"]["steps"] >= 3
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the CLI restored the handler


@pytest.mark.parametrize("shape,nrow", [((5, 1, 6, 6), 2), ((8, 3, 4, 5), 8), ((3, 1, 4, 4), 8)])
def test_image_grid_matches_torchvisions_layout(shape, nrow):
    from torchvision.utils import make_grid

    from proxgan.runs import image_grid

    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 2.4 - 1.2  # values beyond [-1, 1] are clipped
    expected = make_grid(x.clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), pad_value=1)
    torch.testing.assert_close(image_grid(x, nrow=nrow), expected, rtol=0, atol=1e-6)
