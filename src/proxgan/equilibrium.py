"""Equilibrium diagnostics on a trained GAN: the Nash test and the proximal-equilibrium test.

Given a trained pair (G_θfinal, D_wfinal) the discriminator is frozen and only the generator moves:

* **Nash test** (§2, eq. 5): ``min_θ V(G_θ, D_wfinal)`` from θ_final with the run's generator optimizer.
  At a Nash equilibrium θ_final already minimizes V(·, D_wfinal), so the objective cannot fall.
* **Proximal test** (§6.1, eq. 19): ``min_θ V_λ^prox(G_θ, D_wfinal)`` where (eq. 11)
  ``V_λ^prox(G, D) = max_D̃ V(G, D̃) − λ‖D̃ − D‖²`` with the Sobolev norm of eq. (15). Each generator
  gradient is ``∇_θ V(G_θ, D_w*)`` (Proposition 4, eq. 14) with w* from the inner proximal maximization
  (``proxgan.proximal.proximal_update``), started at w_final at EVERY step on a copy of D.

Both tests track, at log-spaced steps and on fixed evaluation batches, the original objective
V(G_θ, D_wfinal) (the curve of Figures 1, 2, 4, 5), the proximal objective, an optional sample-quality
metric and fixed-noise samples. At the first and the last step the judged objective (V for the Nash test,
V and V^prox for the proximal test) is also evaluated on ``eval_batches`` fresh batches, the same ones at
both ends: their spread is the noise scale of the verdict rule (:mod:`proxgan.rules`). The state is checkpointed in the output directory, so an interrupted
test resumes exactly (every step draws its batches from a seed derived from (seed, step)).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from proxgan.config import nest_optimizer_keys
from proxgan.errors import ProxganError, check_choice, check_positive, check_positive_int
from proxgan.gradients import scores_and_input_gradients
from proxgan.labels import label_fakes
from proxgan.files import check_fields, load_torch_checksummed, save_torch_checksummed
from proxgan.locks import owns
from proxgan.objectives import Formulation, LossFormulation
from proxgan.proximal import OptimizerConfig, ProximalConfig, frozen_copy, sobolev_penalty
from proxgan.rules import describe_fall, equilibrium_verdict

TESTS = ("nash", "proximal")
#: what the generator descends: V itself (eqs. 5 and 19 as written) or the run's generator loss
#: (non-saturating where the formulation trains that way; identical to V for WGAN and hinge).
GENERATOR_LOSSES = ("value", "training")


@dataclass(frozen=True)
class EquilibriumConfig:
    """Settings of one equilibrium test; the defaults are the paper's (λ = 0.1, 50 inner Adam steps).

    ``inner_optimizer`` is an :class:`~proxgan.proximal.OptimizerConfig` or a mapping of its fields.
    """

    steps: int = 200
    lam: float = 0.1
    inner_steps: int = 50
    inner_optimizer: OptimizerConfig = OptimizerConfig()
    batch_size: int = 64
    eval_size: int = 256
    eval_batches: int = 5
    grid_size: int = 8
    log_points: int = 12
    seed: int = 0
    generator_loss: str = "value"
    track_proximal: bool = True
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        if isinstance(self.inner_optimizer, dict):
            object.__setattr__(self, "inner_optimizer", OptimizerConfig(**self.inner_optimizer))
        for name in ("steps", "inner_steps", "batch_size", "eval_size", "grid_size", "log_points", "checkpoint_every"):
            check_positive_int(name, getattr(self, name))
        if self.eval_batches < 2:
            raise ProxganError(f"eval_batches must be at least 2 (an interval needs two batches), got {self.eval_batches!r}")
        check_positive("lambda", self.lam)
        check_choice("generator loss", self.generator_loss, GENERATOR_LOSSES)
        self.inner_optimizer.check("inner_optimizer")

    @property
    def proximal(self) -> ProximalConfig:
        """The inner maximization of eq. (11): ``inner_steps`` steps of ``inner_optimizer`` from w_final."""
        return ProximalConfig(lam=self.lam, steps=self.inner_steps, optimizer=self.inner_optimizer)


@dataclass(frozen=True)
class Quality:
    """A sample-quality metric: ``score(samples) -> float``."""

    name: str
    score: Callable[[Tensor], float]
    higher_is_better: bool


@dataclass
class GameSetting:
    """What the tests need from a trained run. ``discriminator`` is D_wfinal and is never modified.

    ``formulation`` is proxgan's or, for a GAN trained elsewhere, a :class:`~proxgan.objectives.LossFormulation`.
    ``sample_real(n, seed)`` and ``sample_latents(n, seed)`` draw deterministic batches;
    ``make_optimizer(params)`` builds the run's generator optimizer. ``classes`` = K > 0: a class-conditional
    pair (:mod:`proxgan.labels`): ``sample_real`` returns labelled samples and the discriminator sees G(z) with the
    class of z.
    """

    generator: nn.Module
    discriminator: nn.Module
    formulation: Formulation | LossFormulation
    sample_real: Callable[[int, int], Tensor]
    sample_latents: Callable[[int, int], Tensor]
    make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
    quality: Quality | None = None
    classes: int = 0


# ---------------------------------------------------------------------------------------------
# small pure pieces


def log_spaced_steps(total: int, points: int) -> list[int]:
    """Steps 0, total and ``points`` roughly geometrically spaced steps in between (unique, sorted)."""
    inner = np.geomspace(1, max(total, 1), num=points).round().astype(int)
    return sorted({0, total, *(int(s) for s in inner if 0 < s <= total)})


#: independent random streams of a test: fixed evaluation batches, per-step batches, inner solves (GP interpolation)
STREAMS = {
    name: i
    for i, name in enumerate(("eval_real", "eval_latents", "grid_latents", "real", "latents", "inner", "eval_inner"))
}


def derived_seed(seed: int, stream: int, step: int) -> int:
    """A 63-bit seed for ``stream`` at ``step``: batches depend on (seed, step) only, so resume is exact."""
    return int(np.random.SeedSequence([seed, stream, step]).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


def state_fingerprint(*modules: nn.Module) -> str:
    """SHA-1 of the modules' state dicts, to refuse resuming a test state against a different run."""
    h = hashlib.sha1()
    for m in modules:
        for name, t in m.state_dict().items():
            h.update(name.encode())
            h.update(t.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def generator_objective(formulation: Formulation | LossFormulation, kind: str, d_real: Tensor, d_fake: Tensor) -> Tensor:
    """The loss the generator descends: V(G, D) itself (``"value"``, eqs. 6–8) or the run's generator loss."""
    if kind == "value":
        return formulation.objective.value(d_real.detach(), d_fake)
    return formulation.objective.generator_loss(d_fake)


def trainable(module: nn.Module) -> list[nn.Parameter]:
    """The parameters the optimizer moves."""
    return [p for p in module.parameters() if p.requires_grad]


def proximal_discriminator(D_work: nn.Module, w_final: dict[str, Tensor], formulation: Formulation | LossFormulation, real: Tensor, fake: Tensor,
                           config: ProximalConfig, *, seed: int = 0) -> nn.Module:
    """D_w* of eq. (11): reset ``D_work`` to w_final, run the inner proximal maximization, return it frozen.

    ``fake`` must be detached: the generator is fixed during the inner loop. The gradient penalty's
    interpolation draws from torch's global generator; it runs on a forked generator seeded with ``seed``,
    so the solve is a function of its inputs (and the caller's random state is untouched).
    """
    D_work.load_state_dict(w_final)
    D_work.train().requires_grad_(True)
    devices = [real.device] if real.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        formulation.proximal_update(D_work, real, fake, config)
    return D_work.eval().requires_grad_(False)


def generator_gradient(G: nn.Module, D: nn.Module, formulation: Formulation | LossFormulation, real: Tensor, fake: Tensor, kind: str) -> list[Tensor]:
    """∇_θ of the generator's loss against the fixed discriminator ``D``, one tensor per trainable parameter.

    Nash test: D = D_wfinal (eq. 5). Proximal test: D = D_w* (Proposition 4, eq. 14).
    """
    with torch.no_grad():
        d_real = D(real)
    loss = generator_objective(formulation, kind, d_real, D(fake))
    return list(torch.autograd.grad(loss, trainable(G)))


def apply_gradient(G: nn.Module, optimizer: torch.optim.Optimizer, grads: list[Tensor]) -> None:
    """One optimizer step of the generator with the given gradients."""
    for p, g in zip(trainable(G), grads):
        p.grad = g
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


# ---------------------------------------------------------------------------------------------
# evaluation on fixed batches


@dataclass
class FixedEvaluation:
    """Fixed real batch, its frozen-D outputs and reference gradients, and fixed latent codes.

    Everything that does not depend on θ is computed once: D_wfinal(x_real), ∇ₓD_wfinal(x_real).
    """

    real: Tensor
    d_real: Tensor
    ref_grads: Tensor
    z_eval: Tensor
    z_grid: Tensor

    @classmethod
    def build(cls, setting: GameSetting, D_frozen: nn.Module, config: EquilibriumConfig, batch: int = 0) -> "FixedEvaluation":
        """Evaluation batch number ``batch``: 0 is the curves' batch, 1..k the fresh batches of the verdict."""
        real = setting.sample_real(config.eval_size, derived_seed(config.seed, STREAMS["eval_real"], batch))
        d_real, ref_grads = scores_and_input_gradients(D_frozen, real, create_graph=False)
        return cls(
            real=real,
            d_real=d_real.detach(),
            ref_grads=ref_grads.detach(),
            z_eval=setting.sample_latents(config.eval_size, derived_seed(config.seed, STREAMS["eval_latents"], batch)),
            z_grid=setting.sample_latents(config.grid_size, derived_seed(config.seed, STREAMS["grid_latents"], 0)),
        )


def proximal_objective(G: nn.Module, D_work: nn.Module, w_final: dict[str, Tensor], formulation: Formulation | LossFormulation,
                       fixed: FixedEvaluation, config: ProximalConfig, *, seed: int = 0, classes: int = 0) -> float:
    """V_λ^prox(G, D_wfinal) ≈ V(G, D_w*) − λ·(1/2n)Σᵢ‖∇ₓD_w*(xᵢ) − ∇ₓD_wfinal(xᵢ)‖² on the fixed evaluation batch.

    Eq. (11) with the Sobolev norm (15) in Algorithm 1's scaling (the λ/2 that ``proxgan.proximal`` maximizes);
    the gradient penalty of WGAN-GP shapes the inner solve but is not part of the reported value. ``classes``: as
    :attr:`GameSetting.classes`.
    """
    with torch.no_grad():
        fake = label_fakes(G(fixed.z_eval), fixed.z_eval, classes)
    D_star = proximal_discriminator(D_work, w_final, formulation, fixed.real, fake, config, seed=seed)
    penalty = sobolev_penalty(D_star, fixed.real, fixed.ref_grads).detach()
    with torch.no_grad():
        value = formulation.objective.value(D_star(fixed.real), D_star(fake))
    return float(value - config.lam * penalty)


def evaluate(step: int, G: nn.Module, D_frozen: nn.Module, D_work: nn.Module | None, w_final: dict[str, Tensor],
             setting: GameSetting, fixed: FixedEvaluation, config: EquilibriumConfig) -> tuple[dict[str, Any], Tensor]:
    """One record of the curves at ``step`` and the fixed-noise samples (generator in eval mode)."""
    was_training = G.training
    G.eval()
    with torch.no_grad():
        images = G(fixed.z_eval)
        fake = label_fakes(images, fixed.z_eval, setting.classes)
        record = {"step": step, "objective": float(setting.formulation.objective.value(fixed.d_real, D_frozen(fake)))}
        grid = G(fixed.z_grid).detach().cpu()
    record["quality"] = setting.quality.score(images) if setting.quality is not None else None
    eval_seed = derived_seed(config.seed, STREAMS["eval_inner"], 0)
    record["proximal_objective"] = (
        None if D_work is None
        else proximal_objective(G, D_work, w_final, setting.formulation, fixed, config.proximal, seed=eval_seed,
                                classes=setting.classes)
    )
    G.train(was_training)
    return record, grid


def evaluate_batches(test: str, G: nn.Module, D_frozen: nn.Module, D_work: nn.Module | None, w_final: dict[str, Tensor],
                     setting: GameSetting, batches: list[FixedEvaluation], config: EquilibriumConfig) -> dict[str, list[float]]:
    """V(G, D_wfinal) on each fresh evaluation batch, and V^prox too for the proximal test (the objectives its
    verdict reads); called at the first and the last step, on the same batches, so the changes are paired."""
    was_training = G.training
    G.eval()
    with torch.no_grad():
        values = {"objective": [float(setting.formulation.objective.value(
            b.d_real, D_frozen(label_fakes(G(b.z_eval), b.z_eval, setting.classes)))) for b in batches]}
    if test == "proximal":
        eval_seed = derived_seed(config.seed, STREAMS["eval_inner"], 0)
        values["proximal_objective"] = [
            proximal_objective(G, D_work, w_final, setting.formulation, b, config.proximal, seed=eval_seed,
                               classes=setting.classes)
            for b in batches
        ]
    G.train(was_training)
    return values


# ---------------------------------------------------------------------------------------------
# the test loop with checkpoints


#: what a saved test state holds besides its header, with the type of each entry
STATE_FIELDS = {"step": int, "curve": list, "samples": dict, "generator": dict, "optimizer": dict}


#: what a fingerprint mismatch usually means (tests begun before 2026-12-04 started from the training buffers)
FINGERPRINT_HINT = (
    " (another trained pair, or other BatchNorm statistics: a test begun with --training-batchnorm, or before "
    "2026-12-04, resumes only with --training-batchnorm)"
)


def _load_state(path: Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state at ``path`` (checksum verified) if it belongs to the same test, config and run; None if absent."""
    if not path.is_file():
        return None
    what = "equilibrium checkpoint"
    state = load_torch_checksummed(path, what)
    check_fields(state, {**STATE_FIELDS, **{key: type(value) for key, value in expected.items()}}, path, what)
    header = {key: state[key] for key in expected}
    header["config"] = nest_optimizer_keys(header["config"], "inner_")  # a state saved by older proxgan
    for key, value in expected.items():
        if header[key] != value:
            hint = FINGERPRINT_HINT if key == "fingerprint" else ""
            raise ProxganError(
                f"{str(path)!r} holds a {state.get('test')} test with a different {key}{hint}; "
                "use another --out to start afresh"
            )
    return state


def run_test(
    test: str,
    setting: GameSetting,
    config: EquilibriumConfig,
    *,
    state_path: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the Nash (eq. 5) or proximal (eq. 19) test; return ``{"curve": [...], "samples": {step: Tensor}}``.

    The first and last records of the curve also hold ``batches``: :func:`evaluate_batches` on the
    ``eval_batches`` fresh evaluation batches.

    The generator is a copy of ``setting.generator`` (θ_final); ``setting.discriminator`` (D_wfinal) is never
    modified. With ``state_path`` the state is saved every ``checkpoint_every`` steps and at every logged step,
    and a later call with the same arguments resumes from it. ``progress(step, total)`` is called after each step.
    """
    check_choice("test", test, TESTS)
    G = copy.deepcopy(setting.generator).train()
    D_frozen = frozen_copy(setting.discriminator)
    w_final = {k: v.detach().clone() for k, v in setting.discriminator.state_dict().items()}
    needs_work_copy = test == "proximal" or config.track_proximal
    D_work = copy.deepcopy(setting.discriminator) if needs_work_copy else None
    optimizer = setting.make_optimizer(trainable(G))
    fixed = FixedEvaluation.build(setting, D_frozen, config)
    fresh = [FixedEvaluation.build(setting, D_frozen, config, batch=j) for j in range(1, config.eval_batches + 1)]
    logged = log_spaced_steps(config.steps, config.log_points)

    fingerprint = state_fingerprint(setting.generator, setting.discriminator)
    header = {"test": test, "config": dataclasses.asdict(config), "fingerprint": fingerprint}
    state_path = Path(state_path) if state_path is not None else None
    saved = _load_state(state_path, header) if state_path is not None else None
    if saved is None:
        step, curve, samples = 0, [], {}
    else:
        step, curve, samples = saved["step"], saved["curve"], dict(saved["samples"])
        G.load_state_dict(saved["generator"])
        optimizer.load_state_dict(saved["optimizer"])

    def checkpoint() -> None:
        if state_path is not None:
            save_torch_checksummed(state_path, {**header, "step": step, "curve": curve, "samples": samples,
                                                "generator": G.state_dict(), "optimizer": optimizer.state_dict()})

    recorded = {r["step"] for r in curve}
    while True:
        if step in logged and step not in recorded:
            record, grid = evaluate(step, G, D_frozen, D_work, w_final, setting, fixed, config)
            if step in (0, config.steps):
                record["batches"] = evaluate_batches(test, G, D_frozen, D_work, w_final, setting, fresh, config)
            curve.append(record)
            samples[step] = grid
            recorded.add(step)
            checkpoint()
        if step >= config.steps:
            break
        real = setting.sample_real(config.batch_size, derived_seed(config.seed, STREAMS["real"], step))
        z = setting.sample_latents(config.batch_size, derived_seed(config.seed, STREAMS["latents"], step))
        fake = label_fakes(G(z), z, setting.classes)
        if test == "nash":
            D = D_frozen
        else:
            inner_seed = derived_seed(config.seed, STREAMS["inner"], step)
            D = proximal_discriminator(D_work, w_final, setting.formulation, real, fake.detach(), config.proximal, seed=inner_seed)
        apply_gradient(G, optimizer, generator_gradient(G, D, setting.formulation, real, fake, config.generator_loss))
        step += 1
        if step % config.checkpoint_every == 0:
            checkpoint()
        if progress is not None:
            progress(step, config.steps)
    return {"curve": curve, "samples": samples}


# ---------------------------------------------------------------------------------------------
# summaries and verdicts


def drop(curve: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    """Start, end and drop = start − end of one tracked quantity on the curves' fixed batch."""
    start, end = curve[0][key], curve[-1][key]
    if start is None or end is None:
        return {"start": None, "end": None, "drop": None}
    return {"start": start, "end": end, "drop": start - end}


def summarize_test(test: str, curve: list[dict[str, Any]], steps: int) -> dict[str, Any]:
    """Per-test summary: V(G_θ, D_wfinal), V^prox and the quality at start and end on the fixed batch; the
    objectives on the fresh batches at both ends (``batches``); and ``rule``, the verdict rule's record
    (:func:`proxgan.rules.equilibrium_verdict`) on the objective this test judges (V for Nash, V^prox for proximal)."""
    main, prox = drop(curve, "objective"), drop(curve, "proximal_objective")
    batches = {key: {"start": curve[0]["batches"][key], "end": curve[-1]["batches"][key]} for key in curve[0]["batches"]}
    judged = batches["objective" if test == "nash" else "proximal_objective"]
    return {
        "steps": steps,
        "objective_start": main["start"],
        "objective_end": main["end"],
        "objective_drop": main["drop"],
        "proximal_objective_start": prox["start"],
        "proximal_objective_end": prox["end"],
        "proximal_objective_drop": prox["drop"],
        "quality_start": curve[0]["quality"],
        "quality_end": curve[-1]["quality"],
        "batches": batches,
        "rule": equilibrium_verdict(test, judged["start"], judged["end"]),
    }


def judge_test(test: str, summary: dict[str, Any], lam: float) -> dict[str, Any]:
    """The answer of one test from its summary's rule record (eq. 5: a fall of V refutes a Nash equilibrium;
    eq. 19: a fall of V^prox_λ refutes a λ-proximal one): ``{"verdict", "outcome", "sentence"}``."""
    rule = summary["rule"]
    against = "its own discriminator" if test == "nash" else f"the proximal objective (λ={lam:g})"
    sentence = f"{test} test, against {against}: {describe_fall(rule)} in {summary['steps']} steps: {rule['conclusion']}"
    return {"verdict": rule["verdict"], "outcome": rule["outcome"], "sentence": sentence}


# ---------------------------------------------------------------------------------------------
# a trained run as a game setting, and the experiment


#: dataset -> (metric of proxgan.metrics, the key of its result that is tracked)
QUALITY_METRICS: dict[str, tuple[str, str]] = {
    "digits": ("cls_fid", "value"),
    "mnist": ("cls_fid", "value"),
    "ring8": ("modes", "high_quality_fraction"),
    "grid25": ("modes", "high_quality_fraction"),
    "gaussian": ("w2", "value"),
}
LOWER_IS_BETTER = {"cls_fid", "w2"}


def quality_for(data, data_root: str | None = None) -> Quality | None:
    """The cheap sample-quality score of ``data``'s kind (classifier FID, mode coverage, W2), or None.

    ``data_root`` is where MNIST lives (its LeNet is trained there on a cache miss).
    """
    if data.name not in QUALITY_METRICS:
        return None
    from proxgan.metrics import evaluate

    metric, key = QUALITY_METRICS[data.name]
    score = lambda samples: float(evaluate(samples, data, [metric], data_root=data_root)[metric][key])  # noqa: E731
    return Quality(metric if key == "value" else f"{metric} {key}", score, metric not in LOWER_IS_BETTER)


def setting_from_run(run, *, quality: bool = True) -> GameSetting:
    """A :class:`GameSetting` for a loaded run: its G, D, formulation, data, latents and generator optimizer."""
    classes = run.experiment.model.classes

    def sample_real(n: int, seed: int) -> Tensor:
        return run.data.batch(n, torch.Generator(run.data.x.device).manual_seed(seed), labelled=bool(classes))

    return GameSetting(
        generator=run.generator,
        discriminator=run.discriminator,
        formulation=run.formulation,
        sample_real=sample_real,
        sample_latents=lambda n, seed: run.latents(n, seed=seed),
        make_optimizer=run.experiment.train.g_optimizer.build,
        quality=quality_for(run.data, run.experiment.data.root) if quality else None,
        classes=classes,
    )


def config_for_run(run, *, inner_optimizer: OptimizerConfig | dict[str, Any] | None = None,
                   **overrides: Any) -> EquilibriumConfig:
    """The run's own batch size and inner-optimizer settings, then ``overrides`` (None keeps the default).

    The inner optimizer is the paper's Adam (§6.2) with the lr and betas of the run's ``proximal.optimizer``,
    then the fields in ``inner_optimizer`` (e.g. ``{"lr": 1e-3}``). Point data get 512 fixed-noise samples per
    snapshot (a scatter), images 16 (a grid).
    """
    if isinstance(inner_optimizer, OptimizerConfig):
        inner_optimizer = dataclasses.asdict(inner_optimizer)
    inner = dataclasses.replace(run.experiment.proximal.optimizer, **{"name": "adam", **(inner_optimizer or {})})
    defaults = {"batch_size": run.experiment.train.batch_size, "inner_optimizer": inner,
                "grid_size": 16 if run.data.is_image else 512}  # fmt: skip
    return EquilibriumConfig(**{**defaults, **{k: v for k, v in overrides.items() if v is not None}})


def equilibrium_state_path(out_dir: str | Path, test: str) -> Path:
    """Where :func:`run_equilibrium` keeps a test's resumable state: ``OUT/state_<test>.pt``."""
    return Path(out_dir) / f"state_{test}.pt"


@owns("out_dir")
def run_equilibrium(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    tests: Iterable[str] = TESTS,
    checkpoint: str = "last",
    device: str = "cpu",
    quality: bool = True,
    population_batchnorm: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The experiment behind ``proxgan equilibrium``: both tests on a trained run, curves, verdicts, figure.

    Returns ``{"config", "results", "figures"}``; test states are checkpointed in ``out_dir`` so an
    interrupted call resumes. ``overrides`` are :class:`EquilibriumConfig` fields. The tests train G on batch
    statistics and evaluate it in eval mode with its running BatchNorm buffers, which follow the test's own training
    batches; with ``population_batchnorm`` (the default) those buffers start from the population statistics of
    θ_final (:func:`proxgan.models.batchnorm.with_population_statistics`), so the first evaluation normalizes like the
    later ones; ``False`` starts from the buffers kept during training (an EMA generator's are its last iterate's),
    as every test recorded before 2026-12-04 did.
    """
    from proxgan.runs import load_run

    tests = [check_choice("test", t, TESTS) for t in tests]
    run = load_run(run_dir, device=device, checkpoint=checkpoint, population_batchnorm=population_batchnorm)
    config = config_for_run(run, **overrides)
    setting = setting_from_run(run, quality=quality)
    outcomes = {
        test: run_test(test, setting, config, state_path=equilibrium_state_path(out_dir, test),
                       progress=None if progress is None else (lambda s, n, t=test: progress(t, s, n)))
        for test in tests
    }  # fmt: skip
    summaries = {test: summarize_test(test, o["curve"], config.steps) for test, o in outcomes.items()}
    verdicts = {t: judge_test(t, summaries[t], config.lam) for t in tests}
    figure = plot_equilibrium(outcomes, run.data, out_dir, lam=config.lam, quality=setting.quality)
    if setting.quality is not None:
        quality_note = None
    elif quality:
        quality_note = f"no cheap quality metric for dataset {run.data.name!r} (see QUALITY_METRICS); quality not tracked"
    else:
        quality_note = "quality tracking turned off"
    return {
        "config": {"run_dir": str(run_dir), "checkpoint": checkpoint, "run_step": run.step, "generator": run.generator_kind,
                   "formulation": run.formulation.name, "dataset": run.data.name, "tests": tests,
                   "device": device, **dataclasses.asdict(config)},  # fmt: skip
        "results": {
            "tests": {t: {"curve": outcomes[t]["curve"], "summary": summaries[t], **verdicts[t]} for t in tests},
            "quality_metric": setting.quality.name if setting.quality else None,
            "quality_higher_is_better": setting.quality.higher_is_better if setting.quality else None,
            "quality_note": quality_note,
            "answer": "; ".join(verdicts[t]["sentence"] for t in tests),
        },
        "figures": [figure],
    }


# ---------------------------------------------------------------------------------------------
# the tests on a GAN trained outside proxgan


def setting_from_modules(
    G: nn.Module,
    D: nn.Module,
    real_data: Tensor,
    loss: Callable[[Tensor, Tensor], Tensor],
    *,
    generator_term: Callable[[Tensor], Tensor] | None = None,
    penalty: Callable[[nn.Module, Tensor, Tensor], Tensor] | None = None,
    projection: Callable[[nn.Module], None] | None = None,
    latent_shape: int | tuple[int, ...] | None = None,
    make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
    quality: Quality | None = None,
) -> GameSetting:
    """A :class:`GameSetting` for a user's own trained pair: D minimises ``loss(D(x), D(G(z)))`` (V = -loss).

    Real batches are rows of ``real_data`` drawn with replacement; latents are standard normal of shape
    ``latent_shape`` (default ``G.latent_dim``); the generator optimizer defaults to Adam(1e-4, β = (0.5, 0.9)).
    ``generator_term(d_fake)`` is the per-sample generator loss (needed only with ``generator_loss="training"``),
    ``penalty`` and ``projection`` D's constraint inside the proximal inner loop (see :class:`LossFormulation`).
    """
    from proxgan.objectives import LossObjective

    shape = latent_shape if latent_shape is not None else getattr(G, "latent_dim", None)
    if shape is None:
        raise ProxganError("the generator has no latent_dim attribute; pass latent_shape")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    device = real_data.device

    def sample_real(n: int, seed: int) -> Tensor:
        return real_data[torch.randint(len(real_data), (n,), generator=torch.Generator().manual_seed(seed)).to(device)]

    def sample_latents(n: int, seed: int) -> Tensor:
        return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed)).to(device)

    return GameSetting(
        generator=G,
        discriminator=D,
        formulation=LossFormulation(LossObjective(loss, generator_term), penalty=penalty, projection=projection),
        sample_real=sample_real,
        sample_latents=sample_latents,
        make_optimizer=make_optimizer or (lambda params: torch.optim.Adam(params, lr=1e-4, betas=(0.5, 0.9))),
        quality=quality,
    )


def _test_on_modules(test: str, G: nn.Module, D: nn.Module, real_data: Tensor, loss,
                     progress: Callable[[int, int], None] | None, setting_options: dict[str, Any],
                     overrides: dict[str, Any]) -> dict[str, Any]:
    config = EquilibriumConfig(**overrides)
    outcome = run_test(test, setting_from_modules(G, D, real_data, loss, **setting_options), config, progress=progress)
    summary = summarize_test(test, outcome["curve"], config.steps)
    return {**outcome, "summary": summary, **judge_test(test, summary, config.lam)}


def nash_test(G: nn.Module, D: nn.Module, real_data: Tensor, loss: Callable[[Tensor, Tensor], Tensor], *,
              progress: Callable[[int, int], None] | None = None, generator_term=None, penalty=None, projection=None,
              latent_shape=None, make_optimizer=None, quality=None, **overrides: Any) -> dict[str, Any]:
    """The Nash test (eq. 5) on a pair trained anywhere: min_θ V(G_θ, D) from G's weights, D = D_wfinal frozen.

    ``loss(d_real, d_fake)`` is the discriminator's loss (V = -loss); the keyword options are those of
    :func:`setting_from_modules`, ``overrides`` :class:`EquilibriumConfig` fields (steps, batch_size, ...).
    G and D are not modified. Returns ``{"curve", "samples", "summary", "outcome", "verdict", "sentence"}``:
    ``outcome`` is "fell" when V fell beyond its batch-to-batch noise (not a Nash equilibrium), "held",
    "unclear", or "non-finite" when V diverged (:func:`proxgan.rules.equilibrium_verdict`).

    >>> import torch
    >>> from torch import nn
    >>> from proxgan import nash_test
    >>> G, D = nn.Linear(2, 2), nn.Linear(2, 1)
    >>> G.latent_dim = 2
    >>> wgan_loss = lambda d_real, d_fake: d_fake.mean() - d_real.mean()
    >>> sgd = lambda params: torch.optim.SGD(params, lr=0.5)
    >>> result = nash_test(G, D, torch.randn(500, 2) + 3, wgan_loss, make_optimizer=sgd, steps=20, track_proximal=False)
    >>> result["outcome"]  # a linear critic: G can always move its samples further along D's slope
    'fell'
    """
    options = dict(generator_term=generator_term, penalty=penalty, projection=projection, latent_shape=latent_shape,
                   make_optimizer=make_optimizer, quality=quality)  # fmt: skip
    return _test_on_modules("nash", G, D, real_data, loss, progress, options, overrides)


def proximal_test(G: nn.Module, D: nn.Module, real_data: Tensor, loss: Callable[[Tensor, Tensor], Tensor], *,
                  progress: Callable[[int, int], None] | None = None, generator_term=None, penalty=None,
                  projection=None, latent_shape=None, make_optimizer=None, quality=None,
                  **overrides: Any) -> dict[str, Any]:
    """The proximal test (eq. 19) on a pair trained anywhere: min_θ V_λ^prox(G_θ, D_wfinal), λ = ``lam`` (0.1).

    Arguments and result as in :func:`nash_test`; ``outcome`` "fell" means V^prox fell: not a λ-proximal equilibrium.
    """
    options = dict(generator_term=generator_term, penalty=penalty, projection=projection, latent_shape=latent_shape,
                   make_optimizer=make_optimizer, quality=quality)  # fmt: skip
    return _test_on_modules("proximal", G, D, real_data, loss, progress, options, overrides)


# ---------------------------------------------------------------------------------------------
# the paper-style figure (Figures 1, 2, 4, 5)


def strip_steps(steps: list[int], count: int) -> list[int]:
    """``count`` of the logged steps, evenly spread over the (log-spaced) list, first and last included."""
    idx = np.linspace(0, len(steps) - 1, num=min(count, len(steps))).round().astype(int)
    return [steps[i] for i in sorted(set(idx))]


def _draw_samples(ax, samples: Tensor, data) -> None:
    if data.is_image:
        from proxgan.runs import image_grid

        ax.imshow(image_grid(samples, nrow=int(np.ceil(np.sqrt(len(samples))))).permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    real = data.x[:1000].cpu()
    ax.scatter(real[:, 0], real[:, 1], s=1, c="0.75")
    ax.scatter(samples[:, 0], samples[:, 1], s=1, c="C3")
    both = torch.cat([real, samples.float()])
    both = both[both.isfinite().all(1)]  # a diverged generator's NaN/inf samples cannot set the limits
    lo, hi = both.min(0).values - 0.5, both.max(0).values + 0.5
    ax.set_xlim(lo[0].item(), hi[0].item())
    ax.set_ylim(lo[1].item(), hi[1].item())
    ax.set_xticks([])
    ax.set_yticks([])


TEST_TITLES = {"nash": "Nash test: min_θ V(G_θ, D_final)  (eq. 5)", "proximal": "proximal test: min_θ V^prox_λ(G_θ, D_final)  (eq. 19)"}


def plot_equilibrium(outcomes: dict[str, dict], data, out_dir: str | Path, *, lam: float, quality: Quality | None,
                     strips: int = 5, name: str = "equilibrium.png") -> str:
    """Objective V(G_θ, D_final) vs step for each test on one axis (V^prox dashed), quality beside it,
    and under it one strip of fixed-noise samples per test at ``strips`` of the logged steps."""
    from proxgan.figures import plt, save_figure

    has_quality = quality is not None
    fig = plt.figure(figsize=(2.3 * strips, 3.2 + 2.2 * len(outcomes)))
    grid = fig.add_gridspec(1 + len(outcomes), strips, height_ratios=[1.5] + [1.0] * len(outcomes))
    ax = fig.add_subplot(grid[0, : strips - 2 if has_quality else strips])
    for i, (test, outcome) in enumerate(outcomes.items()):
        steps = [r["step"] for r in outcome["curve"]]
        ax.plot(steps, [r["objective"] for r in outcome["curve"]], "o-", ms=3, color=f"C{i}", label=f"{test}: V(G_θ, D_final)")
        prox = [r["proximal_objective"] for r in outcome["curve"]]
        if prox[0] is not None:
            ax.plot(steps, prox, "--", color=f"C{i}", alpha=0.6, label=f"{test}: V^prox (λ={lam:g})")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("generator step (D frozen at w_final)")
    ax.set_ylabel("objective")
    ax.legend(fontsize=7)
    if has_quality:
        qax = fig.add_subplot(grid[0, strips - 2 :])
        for i, (test, outcome) in enumerate(outcomes.items()):
            qax.plot([r["step"] for r in outcome["curve"]], [r["quality"] for r in outcome["curve"]], "o-", ms=3, color=f"C{i}", label=test)
        qax.set_xscale("symlog", linthresh=1)
        qax.set_xlabel("generator step")
        qax.set_title(f"{quality.name} ({'higher' if quality.higher_is_better else 'lower'} is better)", fontsize=9)
        qax.legend(fontsize=7)
    for row, (test, outcome) in enumerate(outcomes.items(), start=1):
        chosen = strip_steps(sorted(outcome["samples"]), strips)
        for col, step in enumerate(chosen):
            sax = fig.add_subplot(grid[row, col])
            _draw_samples(sax, outcome["samples"][step], data)
            sax.set_title(f"step {step}", fontsize=8)
            if col == 0:
                sax.set_ylabel(test, fontsize=9)
    fig.suptitle(" / ".join(TEST_TITLES[t] for t in outcomes), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, name)
