"""A training run's directory: config, atomic checkpoints, JSONL + TensorBoard logs, sample grids.

Layout of ``RUN_DIR``::

    config.yaml            the resolved experiment config
    checkpoints/last.pt    weights, optimizers, random streams, loss history (atomic: never half-written)
    log.jsonl              one JSON record per logged step: step, losses, wall_seconds
    tb/                    TensorBoard event files (scalars and sample grids)
    samples/step_*.png     sample grids every ``log.sample_every`` steps
    samples.png, losses.png, results.json   final grid, loss curves, summary

:func:`load_run` gives the trained generator and discriminator back to the metrics and equilibrium tests.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor, nn

from proxgan.config import ExperimentConfig, config_from_dict, config_to_dict, upgrade_config
from proxgan.data import InMemoryData, load_dataset
from proxgan.errors import ProxganError, ProxganWarning, check_device, check_memory, check_path
from proxgan.files import atomic_write, check_fields, load_torch_checksummed, save_torch_checksummed
from proxgan.models import build_models
from proxgan.models.batchnorm import describe as describe_batchnorm
from proxgan.models.batchnorm import with_population_statistics
from proxgan.objectives import Formulation, get_formulation

CHECKPOINT_FORMAT = "proxgan-run/2"  # /2: behind a sha256 (proxgan.files.write_checksummed)
CONFIG_NAME, LOG_NAME, CHECKPOINT_DIR, SAMPLES_DIR, TB_DIR = "config.yaml", "log.jsonl", "checkpoints", "samples", "tb"
#: config keys a resumed run may change: its length, logging, where the data lives
RESUMABLE_CHANGES = ("description", "train.steps", "log.", "data.root", "data.download")


# --- config and checkpoints ------------------------------------------------------------------------


def write_config(run_dir: Path, config: ExperimentConfig) -> None:
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    atomic_write(run_dir / CONFIG_NAME, lambda f: f.write(text.encode()))


def checkpoint_path(run_dir: str | Path, checkpoint: str = "last") -> Path:
    """``RUN_DIR/checkpoints/<checkpoint>.pt``, or ``checkpoint`` itself when it is a path to a file."""
    return Path(checkpoint) if Path(checkpoint).is_file() else Path(run_dir) / CHECKPOINT_DIR / f"{checkpoint}.pt"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (torch.save) behind a sha256 of its bytes, atomically: a crash keeps the old file."""
    save_torch_checksummed(path, {"format": CHECKPOINT_FORMAT, **payload})


#: what every training checkpoint holds, with the type each entry must have
CHECKPOINT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "step": int, "config": dict, "data_shape": list, "generator": dict, "discriminator": dict,
    "g_optimizer": dict, "d_optimizer": dict, "rng": dict, "history": list,
}  # fmt: skip


def read_checkpoint(path: Path, fields: dict[str, type | tuple[type, ...]] = CHECKPOINT_FIELDS) -> dict[str, Any]:
    """The checkpoint at ``path`` (on CPU), its checksum verified and its ``fields`` present with their types,
    its config in today's form (:func:`proxgan.config.upgrade_config`).

    A missing, damaged, truncated or foreign file is one clear :class:`ProxganError`.
    """
    if not path.is_file():
        raise ProxganError(f"no checkpoint at {str(path)!r}")
    state = load_torch_checksummed(path, "checkpoint")
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ProxganError(f"{str(path)!r} is not a proxgan training checkpoint")
    check_fields(state, fields, path, "checkpoint")
    if isinstance(state.get("config"), dict):
        state["config"] = upgrade_config(state["config"])
    return state


def first_difference(old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...] = ()) -> tuple[str, Any, Any] | None:
    """(dotted key, old value, new value) of the first key, in sorted order, where two config trees differ,
    skipping keys that start with one of ``ignore``; None when they agree."""
    old, new = flat_config(old), flat_config(new)
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) != new.get(key) and not key.startswith(ignore):
            return key, old.get(key), new.get(key)
    return None


def config_record(config: ExperimentConfig) -> dict[str, Any]:
    """``config`` as checkpoints and results.json store it (JSON types: tuples become lists)."""
    return json.loads(json.dumps(config_to_dict(config)))


def complete_config(saved: dict[str, Any]) -> dict[str, Any]:
    """A stored config in today's complete form: upgraded (:func:`proxgan.config.upgrade_config`), with today's
    defaults for the keys it predates. A new key's default keeps the old behaviour, so a run saved before the
    key existed compares equal to the same run configured today."""
    return config_record(config_from_dict(upgrade_config(saved)))


def check_resumable(saved: dict[str, Any], config: dict[str, Any], path: Path) -> None:
    """Raise unless ``config`` differs from the checkpoint's (completed) config only in :data:`RESUMABLE_CHANGES`."""
    difference = first_difference(complete_config(saved), config, RESUMABLE_CHANGES)
    if difference is not None:
        key, old, new = difference
        raise ProxganError(f"checkpoint {str(path)!r} was trained with {key}={old!r} but the config says {new!r}; "
                           "resume with the same settings or train into a new --out")


def load_model_state(module: nn.Module, state: dict[str, Tensor], what: str, path: Path) -> None:
    """``module.load_state_dict(state)`` with a mismatch reported as one line naming the checkpoint."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ProxganError(f"checkpoint {str(path)!r} does not match the {what}: {detail}") from None


def flat_config(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat_config(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


# --- logs and figures ----------------------------------------------------------------------------


class RunLog:
    """Appends step records to ``log.jsonl`` and TensorBoard; on resume, drops records after ``step``.

    Damaged lines (a write cut short by a kill, garbage) are dropped with a :class:`ProxganWarning`.
    """

    def __init__(self, run_dir: Path, step: int):
        from torch.utils.tensorboard import SummaryWriter

        self.path = run_dir / LOG_NAME
        kept = [record for record in read_log(self.path) if record["step"] <= step]
        self.path.write_text("".join(json.dumps(record) + "\n" for record in kept))
        self.file = self.path.open("a")
        self.tb = SummaryWriter(str(run_dir / TB_DIR), purge_step=step + 1 if step else None)

    def write(self, record: dict[str, float]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        for key, value in record.items():
            if key != "step":
                self.tb.add_scalar(key, value, record["step"])

    def add_grid(self, grid: Tensor, step: int) -> None:
        self.tb.add_image("samples", grid, step)

    def close(self) -> None:
        self.file.close()
        self.tb.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of ``log.jsonl``: JSON objects with an integer ``step``; other lines are skipped with a warning."""
    try:
        lines = path.read_bytes().split(b"\n") if path.is_file() else []
    except OSError as exc:
        raise ProxganError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    records, damaged = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            record = None
        if isinstance(record, dict) and isinstance(record.get("step"), int) and not isinstance(record["step"], bool):
            records.append(record)
        else:
            damaged.append(number)
    if damaged:
        shown = ", ".join(map(str, damaged[:5])) + (", ..." if len(damaged) > 5 else "")
        warnings.warn(f"{str(path)!r}: skipped {len(damaged)} damaged line(s) (line {shown}); they are not a JSON "
                      "record with an integer step", ProxganWarning, stacklevel=2)  # fmt: skip
    return records


def image_grid(samples: Tensor, nrow: int = 8, padding: int = 2) -> Tensor:
    """Images in [-1, 1] tiled ``nrow`` per row into one (3 or C, H, W) grid in [0, 1], ``padding`` white
    pixels around each (the layout of torchvision's ``make_grid``; one channel is shown as grey RGB)."""
    x = samples.detach().float().cpu().clamp(-1, 1).add(1).div(2)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    n, c, h, w = x.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = torch.ones(c, rows * (h + padding) + padding, cols * (w + padding) + padding)
    for i, image in enumerate(x):
        top, left = padding + (i // cols) * (h + padding), padding + (i % cols) * (w + padding)
        grid[:, top : top + h, left : left + w] = image
    return grid


def save_samples(samples: Tensor, data: InMemoryData, out_dir: Path, name: str) -> str:
    """Save a PNG of ``samples``: an image grid, or for points a scatter over the data (and its modes)."""
    path = out_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if data.is_image:
        from PIL import Image

        pixels = image_grid(samples).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(path)
        return name
    from proxgan.figures import plt, save_figure  # matplotlib only when a figure is drawn

    fig, ax = plt.subplots(figsize=(4, 4))
    real = data.x[:2000].cpu()
    ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", label="data")
    ax.scatter(samples[:, 0].cpu(), samples[:, 1].cpu(), s=2, c="C3", label="generator")
    if "centers" in data.meta:
        centers = data.meta["centers"].cpu()
        ax.scatter(centers[:, 0], centers[:, 1], marker="x", c="k", s=30, label="modes")
    ax.set_aspect("equal")
    legend = ax.legend(loc="upper right", fontsize=7)
    for handle in legend.legend_handles:
        handle.set_sizes([20])
    return save_figure(fig, out_dir, name)


def save_loss_curves(history: list[dict[str, float]], out_dir: Path, name: str = "losses.png") -> str:
    """Plot every logged quantity (d_loss, g_loss, value V, proximal penalty) against the step."""
    from proxgan.figures import plt, save_figure  # matplotlib only when a figure is drawn

    keys = [k for k in ("d_loss", "g_loss", "value", "penalty") if history and k in history[0]]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
    steps = [r["step"] for r in history]
    for ax, key in zip(axes[0], keys):
        ax.plot(steps, [r[key] for r in history], lw=1)
        ax.set_title(key)
        ax.set_xlabel("generator step")
    fig.tight_layout()
    return save_figure(fig, out_dir, name)


# --- loading a trained run -----------------------------------------------------------------------


@dataclass
class LoadedRun:
    """A trained run: its config, generator and discriminator (eval mode), formulation and step.

    ``generator`` is the iterate average when the run averaged its generator (``train.average``) and
    the last iterate otherwise; ``generator_kind`` says which.
    """

    run_dir: Path
    config: dict[str, Any]
    experiment: ExperimentConfig
    generator: nn.Module
    discriminator: nn.Module
    formulation: Formulation
    step: int
    history: list[dict[str, float]]
    device: torch.device
    generator_kind: str = "last iterate"
    _data: InMemoryData | None = field(default=None, repr=False)

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def data(self) -> InMemoryData:
        """The run's training data on the run's device (loaded on first use)."""
        if self._data is None:
            self._data = load_experiment_data(self.experiment).to(self.device)
        return self._data

    def latents(self, n: int, *, seed: int) -> Tensor:
        """n latent codes z ~ N(0, I), reproducible from ``seed``."""
        gen = torch.Generator(self.device).manual_seed(seed)
        return torch.randn(n, self.latent_dim, generator=gen, device=self.device)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, batch_size: int = 256) -> Tensor:
        """n generator samples G(z) (eval mode, no grad), in batches of ``batch_size``."""
        return generate(self.generator, self.latents(n, seed=seed), batch_size=batch_size)


def generate(G: nn.Module, z: Tensor, *, batch_size: int = 256) -> Tensor:
    """G(z) for many latent codes, in batches of ``batch_size`` (call under ``torch.no_grad``)."""
    return torch.cat([G(chunk) for chunk in z.split(batch_size)])


def load_experiment_data(config: ExperimentConfig) -> InMemoryData:
    """The dataset an experiment config names, on CPU."""
    d = config.data
    return load_dataset(d.name, root=d.root, download=d.download, n=d.n, seed=config.seed, dim=d.dim, mean=d.mean, std=d.std)


def build_experiment_models(config: ExperimentConfig, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for ``config`` on data of shape ``data_shape``; spectral norm as the formulation says.

    Models too large for this machine are refused first: they are built on the ``meta`` device (no memory)
    and their parameters counted, 4 bytes × (weights, gradients, two Adam moments) each.
    """
    m = config.model
    spectral = get_formulation(config.formulation).spectral_norm

    def build() -> tuple[nn.Module, nn.Module]:
        return build_models(m.arch, data_shape, latent_dim=m.latent_dim, dim=m.dim, spectral_norm=spectral, classes=m.classes)

    with torch.device("meta"):
        parameters = sum(p.numel() for model in build() for p in model.parameters())
    check_memory(f"model.arch={m.arch} with model.dim={m.dim} ({parameters:,} parameters)", 16.0 * parameters)
    return build()


def load_run(
    run_dir: str | Path, *, device: str | torch.device = "cpu", checkpoint: str = "last", average: bool = True,
    population_batchnorm: bool = True,
) -> LoadedRun:
    """The generator and discriminator of ``run_dir``'s checkpoint (``last``, a name in checkpoints/, or a path).

    With ``average`` (the default) a run that averaged its generator gives its averaged generator;
    ``average=False`` gives the last iterate θ_k. With ``population_batchnorm`` (the default) the generator's
    BatchNorm layers normalize with its own population statistics
    (:func:`proxgan.models.batchnorm.with_population_statistics`), else with the buffers kept during training.
    """
    run_dir = check_path("run directory", run_dir)
    if not run_dir.is_dir():
        raise ProxganError(f"run directory {str(run_dir)!r} " + ("is not a directory" if run_dir.exists() else "does not exist"))
    device = check_device(device)
    path = checkpoint_path(run_dir, checkpoint)
    state = read_checkpoint(path)
    experiment = config_from_dict(state["config"])
    G, D = build_experiment_models(experiment, tuple(state["data_shape"]))
    averaged = average and experiment.train.average.enabled
    if averaged and "generator_average" not in state:
        raise ProxganError(f"checkpoint {str(path)!r} has no averaged generator although its config averages one")
    load_model_state(G, state["generator_average" if averaged else "generator"], "generator", path)
    load_model_state(D, state["discriminator"], "discriminator", path)
    kind = (experiment.train.average.describe() if averaged else "last iterate") + describe_batchnorm(G, population_batchnorm)
    G = with_population_statistics(G.to(device)) if population_batchnorm else G.to(device).eval()
    return LoadedRun(
        run_dir, state["config"], experiment, G, D.to(device).eval(),
        get_formulation(experiment.formulation), state["step"], list(state["history"]), device, kind,
    )  # fmt: skip


# --- resuming --------------------------------------------------------------------------------------


def resume_state(out_dir: Path, config: dict[str, Any], *, resume: bool) -> dict[str, Any]:
    """The checkpoint a run continues from (``{}`` for a fresh run), validated before anything is written.

    A fresh run into a directory that holds one is refused; so is a resume whose ``train.steps`` is below
    the steps already done, and a resume whose config differs in more than :data:`RESUMABLE_CHANGES`.
    """
    last = checkpoint_path(out_dir)
    if not resume:
        if last.exists():
            raise ProxganError(f"{str(out_dir)!r} already holds a run; pass --resume to continue it or choose another --out")
        return {}
    state = read_checkpoint(last)
    check_resumable(state["config"], config, last)
    steps = config["train"]["steps"]
    if state["step"] > steps:
        raise ProxganError(f"{str(out_dir)!r} has already run {state['step']} generator steps; train.steps={steps} "
                           f"would not extend it (pass train.steps > {state['step']} to continue, or leave it out)")  # fmt: skip
    return state


def completed_results(out_dir: str | Path) -> dict[str, Any] | None:
    """The results document of the completed training run in ``out_dir``; None if it holds none (no
    results.json, or a run that was interrupted or diverged)."""
    from proxgan.results import RESULTS_NAME, read_results

    if not (Path(out_dir) / RESULTS_NAME).is_file():
        return None
    doc = read_results(out_dir)
    return doc if doc["results"].get("status") == "completed" and "final" in doc["results"] else None


def finished_results(out_dir: Path, state: dict[str, Any], steps: int) -> dict[str, Any] | None:
    """``out_dir``'s results document when ``state`` is the checkpoint of its run completed at ``steps``, else None.

    Resuming such a run changes nothing, so it returns this document and writes nothing.
    """
    doc = completed_results(out_dir) if state else None
    return doc if doc is not None and doc["results"].get("steps") == state["step"] == steps else None


def training_seconds(doc: dict[str, Any]) -> float:
    """Wall time of a run's training loop itself, from its results document (the last logged step's clock; no
    data loading or figures)."""
    return float(doc["results"]["final"]["wall_seconds"])
