"""Experiment configuration: a dataclass tree read from YAML, with dotted ``key=value`` overrides.

A config file may start from another shipped config with ``extends: NAME`` and override only what
differs (the proximal variant of an experiment is its regular config plus ``train.strategy: proximal``).
Every field is type-checked and validated; a bad field raises one :class:`ProxganError` naming it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from proxgan.errors import (
    ProxganError,
    check_choice,
    check_finite,
    check_positive,
    check_positive_int,
)
from proxgan.averaging import AveragingConfig
from proxgan.proximal import OptimizerConfig, ProximalConfig


@dataclass
class DataConfig:
    """Which dataset (see :mod:`proxgan.data`) and how much of it; ``dim``/``mean``/``std`` for synthetic data."""

    name: str = "digits"
    root: str | None = None
    download: bool = False
    n: int | None = None
    dim: int = 2
    mean: float = 0.0
    std: float | None = None


@dataclass
class ModelConfig:
    """Generator/discriminator architecture (``dcgan``, or ``mlp``: Sharma & Baptista's MLP), width DIM and latent size
    (``null``: the architecture's default, see :data:`proxgan.models.DEFAULTS`); ``classes`` = K ≥ 2 trains a
    class-conditional dcgan pair on the dataset's labels 0..K-1 (:mod:`proxgan.labels`), 0 an unconditional one."""

    arch: str = "dcgan"
    dim: int | None = None
    latent_dim: int | None = None
    classes: int = 0


LR_SCHEDULES = ("constant", "linear")
#: the discriminator updates of :mod:`proxgan.train` (its ``STRATEGIES`` implements exactly these)
STRATEGY_NAMES = ("regular", "proximal")


@dataclass
class TrainConfig:
    """The outer loop: ``steps`` generator iterations, each after ``n_critic`` D steps (regular) or
    the proximal inner maximization (proximal, Algorithm 1); ``lr_schedule``: ``constant``, or ``linear``
    decay of both players' learning rates to 0 at ``steps``; ``average``: the generator's iterate
    average (EMA or Polyak, :mod:`proxgan.averaging`) used for sampling and evaluation; ``reuse_fake``: the
    generator step reuses the last generated batch of the discriminator update (one G forward per iteration
    instead of two, as in PyTorch's DCGAN example)."""

    strategy: str = "regular"
    steps: int = 1000
    batch_size: int = 64
    n_critic: int = 5
    g_optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    d_optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    amp: bool = False
    lr_schedule: str = "constant"
    average: AveragingConfig = field(default_factory=AveragingConfig)
    reuse_fake: bool = False


@dataclass
class LogConfig:
    """Every how many generator steps to log losses, write a sample grid, save a checkpoint and
    (``eval_every`` > 0) score ``eval_samples`` samples with ``eval_metrics`` (proxgan.metrics names or "auto")."""

    every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 500
    n_samples: int = 64
    eval_every: int = 0
    eval_metrics: str = "auto"
    eval_samples: int = 1000


@dataclass
class ExperimentConfig:
    """One training run: data, models, the GAN formulation, the training strategy and logging."""

    description: str = ""
    seed: int = 0
    formulation: str = "wgan-gp"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    proximal: ProximalConfig = field(default_factory=ProximalConfig)
    log: LogConfig = field(default_factory=LogConfig)


# --- loading ------------------------------------------------------------------------------------


def shipped_configs() -> dict[str, str]:
    """Names of the configs shipped in ``proxgan/configs`` mapped to their descriptions."""
    return {name: _read_yaml(name).get("description", "") for name in _shipped_names()}


def load_config(source: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """The validated config from a YAML path or a shipped config name, with ``key=value`` overrides."""
    raw = _resolve_extends(_read_yaml(source), Path(source).parent, seen={str(source)})
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(raw, key, value)
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> ExperimentConfig:
    """Build and validate an :class:`ExperimentConfig` from plain data (YAML, results.json, a checkpoint)."""
    return validate(_build(ExperimentConfig, raw, ""))


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Plain-data form of ``config`` (tuples become lists), the inverse of :func:`config_from_dict`."""
    return _plain(dataclasses.asdict(config))


def parse_override(item: str) -> tuple[str, Any]:
    """Split ``a.b=value``; the value is parsed as YAML (numbers, true/false, null, lists)."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ProxganError(f"override {item!r} must look like key=value (e.g. train.steps=100)")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key.strip(), value


def _shipped_names() -> list[str]:
    folder = resources.files("proxgan") / "configs"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(source: str | Path) -> dict[str, Any]:
    path = Path(source)
    if not path.is_file():
        if str(source) not in _shipped_names():
            raise ProxganError(
                f"config {str(source)!r} is neither a file nor a shipped config; shipped: {', '.join(_shipped_names())}"
            )
        path = Path(str(resources.files("proxgan") / "configs" / f"{source}.yaml"))
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ProxganError(f"cannot parse config {str(path)!r}: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError as exc:
        raise ProxganError(f"config {str(path)!r} is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    except OSError as exc:
        raise ProxganError(f"cannot read config {str(path)!r}: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise ProxganError(f"config {str(path)!r} must be a mapping of keys to values")
    return upgrade_config(raw)


#: older configs' flat optimizer keys -> the OptimizerConfig field each became
_FLAT_OPTIMIZER_KEYS = {"optimizer": "name", "lr": "lr", "betas": "betas"}


def nest_optimizer_keys(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``settings`` with older proxgan's flat ``{prefix}optimizer: NAME``, ``{prefix}lr`` and ``{prefix}betas``
    nested as ``{prefix}optimizer: {name, lr, betas}`` (the form of :class:`OptimizerConfig`); unchanged without them."""
    flat_keys = [prefix + key for key in _FLAT_OPTIMIZER_KEYS]
    flat = {field: settings[prefix + key] for key, field in _FLAT_OPTIMIZER_KEYS.items()
            if prefix + key in settings and not isinstance(settings[prefix + key], dict)}  # fmt: skip
    if not flat:
        return settings
    nested = settings.get(prefix + "optimizer")
    rest = {key: value for key, value in settings.items() if key not in flat_keys}
    return {**rest, prefix + "optimizer": {**(nested if isinstance(nested, dict) else {}), **flat}}


def upgrade_config(raw: dict[str, Any]) -> dict[str, Any]:
    """An experiment config in older proxgan's form (a run directory's config.yaml or checkpoint) in today's:
    ``proximal: {optimizer: adam, lr: L, betas: B}`` becomes ``proximal: {optimizer: {name: adam, lr: L, betas: B}}``."""
    if not isinstance(raw.get("proximal"), dict):
        return raw
    return {**raw, "proximal": nest_optimizer_keys(raw["proximal"])}


def _resolve_extends(raw: dict[str, Any], folder: Path, seen: set[str]) -> dict[str, Any]:
    """Merge ``raw`` over the config named by its ``extends`` key (recursively).

    ``extends`` is a shipped config name or a YAML path, relative paths taken from ``folder`` (the child's folder).
    """
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if (folder / str(parent)).is_file():
        parent = folder / str(parent)
    if str(parent) in seen:
        raise ProxganError(f"config extends itself through {str(parent)!r}")
    return _merge(_resolve_extends(_read_yaml(parent), Path(parent).parent, seen | {str(parent)}), raw)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        both_dicts = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both_dicts else value
    return out


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = raw
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# --- typing: one clear error per bad field -------------------------------------------------------


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "the config"
    if not isinstance(raw, dict):
        raise ProxganError(f"{where} must be a mapping of keys to values, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            raise ProxganError(f"unknown config key {prefix + str(key)!r}; valid keys: {', '.join(prefix + n for n in names)}")
    return cls(**{key: _coerce(hints[key], value, prefix + key) for key, value in raw.items()})


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """``value`` converted to the field type ``tp``, or a ProxganError naming ``key``."""
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        if value is None:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ProxganError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ProxganError(f"{key} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ProxganError(f"{key} must be a number, got {value!r}")
        return check_finite(key, value)  # also parses "5e-5", which YAML 1.1 reads as a string
    if tp is str:
        if isinstance(value, str):
            return value
        raise ProxganError(f"{key} must be a string, got {value!r}")
    if tp is tuple or typing.get_origin(tp) is tuple:
        if not isinstance(value, (list, tuple)) or (args and args[-1] is not Ellipsis and len(value) != len(args)):
            raise ProxganError(f"{key} must be a list of {len(args) or 'some'} numbers, got {value!r}")
        return tuple(check_finite(f"{key}[{i}]", v) for i, v in enumerate(value))
    raise TypeError(f"config field {key} has unsupported type {tp!r}")


# --- semantic validation -------------------------------------------------------------------------


def check_conditional(config: ExperimentConfig) -> None:
    """model.classes: at least 2, fewer than the latent coordinates, a dcgan pair, and no loss term that mixes the
    classes of real and generated samples. Called by :func:`validate` after model.arch is checked."""
    from proxgan.models import DEFAULTS
    from proxgan.objectives import get_formulation

    m = config.model
    if m.classes < 2:
        raise ProxganError(f"model.classes must be 0 (unconditional) or at least 2, got {m.classes}")
    latent_dim = m.latent_dim or DEFAULTS[m.arch][0]
    if m.classes >= latent_dim:
        raise ProxganError(f"model.classes={m.classes} needs model.latent_dim > {m.classes} (the last {m.classes} "
                           f"latent coordinates choose the class), got {latent_dim}")
    if m.arch != "dcgan":
        raise ProxganError(f"model.classes={m.classes} (a class-conditional GAN) needs model.arch=dcgan, not {m.arch}")
    if get_formulation(config.formulation).gradient_penalty:
        raise ProxganError(f"model.classes does not work with {config.formulation}: its gradient penalty interpolates "
                           "between real and generated samples of different classes")


def validate(config: ExperimentConfig) -> ExperimentConfig:
    """Check every field's range and every name against its registry; return ``config``."""
    from proxgan.data import DATASETS
    from proxgan.models import ARCHS
    from proxgan.objectives import FORMULATIONS

    if config.seed < 0:
        raise ProxganError(f"seed must be >= 0, got {config.seed}")
    check_choice("formulation", config.formulation, FORMULATIONS)
    d, m, t, p, log = config.data, config.model, config.train, config.proximal, config.log
    check_choice("data.name", d.name, DATASETS)
    if d.n is not None:
        check_positive_int("data.n", d.n)
    check_positive_int("data.dim", d.dim)
    if d.std is not None:
        check_positive("data.std", d.std)
    check_choice("model.arch", m.arch, ARCHS)
    for name in ("dim", "latent_dim"):
        if getattr(m, name) is not None:
            check_positive_int(f"model.{name}", getattr(m, name))
    if m.classes:
        check_conditional(config)
    check_choice("train.strategy", t.strategy, STRATEGY_NAMES)
    check_choice("train.lr_schedule", t.lr_schedule, LR_SCHEDULES)
    for name in ("steps", "batch_size", "n_critic"):
        check_positive_int(f"train.{name}", getattr(t, name))
    t.g_optimizer.check("train.g_optimizer")
    t.d_optimizer.check("train.d_optimizer")  # ProximalConfig checks its own fields, proximal.optimizer included
    if p.penalty_batch is not None and p.penalty_batch > t.batch_size:
        raise ProxganError(f"proximal.penalty_batch={p.penalty_batch} exceeds train.batch_size={t.batch_size}")
    for name in ("every", "sample_every", "checkpoint_every", "n_samples", "eval_samples"):
        check_positive_int(f"log.{name}", getattr(log, name))
    if log.eval_every != 0:
        check_positive_int("log.eval_every", log.eval_every)
    return config

