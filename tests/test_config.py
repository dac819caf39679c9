"""Experiment configs: YAML + extends + dotted overrides, one clear error per bad field, shipped configs valid."""

import dataclasses

import pytest

from proxgan.config import (
    ExperimentConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_override,
    shipped_configs,
    upgrade_config,
)
from proxgan.errors import ProxganError


def test_every_shipped_config_loads_and_roundtrips():
    names = shipped_configs()
    assert "digits" in names and all(names.values()), "every shipped config has a description"
    for name in names:
        config = load_config(name)
        assert config_from_dict(config_to_dict(config)) == config


def test_mnist_fast_is_the_unconditional_recipe_with_labels_and_a_shorter_ema():
    """What docs/training.md says the class-conditional recipe is, field by field."""
    conditional = load_config("mnist-fast")
    expected = load_config("mnist-fast-unconditional",
                           ["model.classes=10", "train.average.decay=0.995", "train.average.start=2000"])
    assert dataclasses.replace(conditional, description="") == dataclasses.replace(expected, description="")
    assert load_config("mnist-fast-unconditional").model.classes == 0


def test_overrides_are_typed_by_the_schema():
    config = load_config("digits", ["train.steps=7", "proximal.lam=0.5", "train.d_optimizer.lr=5e-5",
                                    "train.strategy=proximal", "data.n=100", "model.dim=null",
                                    "train.g_optimizer.betas=[0.0, 0.99]", "train.amp=false"])
    assert config.train.steps == 7 and config.proximal.lam == 0.5 and config.train.d_optimizer.lr == 5e-5
    assert config.train.strategy == "proximal" and config.data.n == 100 and config.model.dim is None
    assert config.train.g_optimizer.betas == (0.0, 0.99)
    assert parse_override("a.b=1e-4") == ("a.b", "1e-4")  # YAML 1.1 keeps it a string; the float field parses it


def test_extends_merges_over_the_parent(tmp_path):
    path = tmp_path / "child.yaml"
    path.write_text("extends: digits\ntrain: {strategy: proximal}\nproximal: {steps: 3}\n")
    child, parent = load_config(path), load_config("digits")
    assert child.train.strategy == "proximal" and child.proximal.steps == 3
    assert child.train.batch_size == parent.train.batch_size and child.formulation == parent.formulation
    (tmp_path / "sub").mkdir()
    grandchild = tmp_path / "sub" / "grandchild.yaml"
    grandchild.write_text("extends: ../child.yaml\nproximal: {lam: 0.3}\n")  # relative to its own folder
    assert load_config(grandchild).proximal == dataclasses.replace(child.proximal, lam=0.3)


@pytest.mark.parametrize(
    "override,message",
    [
        ("train.stpes=5", "unknown config key 'train.stpes'"),
        ("train.steps=0", "train.steps must be a positive integer"),
        ("train.steps=1.5", "train.steps must be an integer"),
        ("train.batch_size=abc", "train.batch_size must be an integer"),
        ("train.d_optimizer.lr=-1", "train.d_optimizer.lr must be > 0"),
        ("train.d_optimizer.lr=nan", "train.d_optimizer.lr must be finite"),
        ("train.g_optimizer.name=adagrad", "unknown train.g_optimizer.name 'adagrad'"),
        ("train.g_optimizer.betas=[0.5]", "train.g_optimizer.betas must be a list of 2 numbers"),
        ("train.g_optimizer.betas=[0.5, 1.5]", "train.g_optimizer.betas[1] must be in"),
        ("train.strategy=extragradient", "unknown train.strategy 'extragradient'"),
        ("train.amp=maybe", "train.amp must be true or false"),
        ("formulation=lsgan", "unknown formulation 'lsgan'"),
        ("data.name=imagenet", "unknown data.name 'imagenet'"),
        ("model.arch=resnet", "unknown model.arch 'resnet'"),
        ("proximal.lam=-0.1", "lam must be >= 0"),
        ("proximal.optimizer.name=lbfgs", "unknown proximal.optimizer.name 'lbfgs'"),
        ("proximal.optimizer.lr=0", "proximal.optimizer.lr must be > 0"),
        ("proximal.optimizer.betas=[0.5, 1.5]", "proximal.optimizer.betas[1] must be in"),
        ("proximal.lr=1e-3", "unknown config key 'proximal.lr'"),
        ("log.every=0", "log.every must be a positive integer"),
        ("seed=-3", "seed must be >= 0"),
        ("model.classes=-2", "model.classes must be 0"),
        ("model.classes=2.5", "model.classes"),
        ("train=5", "train must be a mapping"),
        ("noequals", "must look like key=value"),
    ],
)
def test_bad_fields_raise_one_line_naming_the_field(override, message):
    with pytest.raises(ProxganError, match=message.replace("[", r"\[").replace("(", r"\(")) as err:
        load_config("digits", [override])
    assert "\n" not in str(err.value)


def test_older_flat_proximal_optimizer_keys_are_read_nested(tmp_path):
    flat = {"seed": 2, "proximal": {"lam": 0.3, "optimizer": "sgd", "lr": 0.05, "betas": [0.0, 0.9]}}
    nested = {"seed": 2, "proximal": {"lam": 0.3, "optimizer": {"name": "sgd", "lr": 0.05, "betas": [0.0, 0.9]}}}
    assert upgrade_config(flat) == nested and upgrade_config(nested) == nested and upgrade_config({}) == {}
    assert upgrade_config({"proximal": {"lr": 0.05}}) == {"proximal": {"optimizer": {"lr": 0.05}}}
    child = tmp_path / "child.yaml"  # an older file that extends today's shipped config changes only the lr
    child.write_text("extends: digits-proximal\nproximal: {lr: 1.0e-3}\n")
    parent = load_config("digits-proximal").proximal.optimizer
    assert load_config(child).proximal.optimizer == dataclasses.replace(parent, lr=1e-3)


def test_missing_or_broken_config_files(tmp_path):
    with pytest.raises(ProxganError, match="neither a file nor a shipped config; shipped: .*digits"):
        load_config("no-such-config")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ProxganError, match="cannot parse config"):
        load_config(bad)
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"extends: {loop}\n")
    with pytest.raises(ProxganError, match="extends itself"):
        load_config(loop)


def test_defaults_are_the_schema_defaults():
    assert config_from_dict({}) == ExperimentConfig()
    assert dataclasses.asdict(ExperimentConfig().proximal)["lam"] == 0.1  # paper §6.1: λ = 0.1
