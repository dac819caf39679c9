"""The scales of ``proxgan reproduce``: the step counts, data and configs of every stage (:data:`SCALES`).

``tiny`` is a seconds-long smoke test, ``quick`` runs on embedded data, ``cpu`` on MNIST at reduced step
counts, ``gpu`` follows the paper's protocol (§6: DCGAN, 200,000 generator steps, Inception scores on
CIFAR-10). :func:`get_scale` with ``smoke=True`` cuts any of them to a handful of steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from proxgan.errors import ProxganError, check_choice


@dataclass(frozen=True)
class GamesSettings:
    """The ``games`` stage: the GDA-family ``methods`` (comma list) on min θ·φ, ``steps`` steps of size ``lr``."""

    methods: str
    lr: float
    steps: int


@dataclass(frozen=True)
class TheorySettings:
    """The ``theory`` stage: the Gaussian setting (σ, dimension, t, η) of :class:`proxgan.theory.gaussian.Setting`,
    ``sigmas`` values of σ in [sigma_min, sigma_max] (Theorem 1, Remark 1) and ``lambdas`` values of λη
    geometrically spaced in [lambda_min, lambda_max] (Theorems 2–3, Proposition 3)."""

    formulations: tuple[str, ...]
    sigma: float
    dim: int
    t: float
    eta: float
    sigma_min: float
    sigma_max: float
    sigmas: int
    lambda_min: float
    lambda_max: float
    lambdas: int


@dataclass(frozen=True, kw_only=True)
class EquilibriumSettings:
    """The ``nash`` and ``proximal`` stages: :class:`proxgan.equilibrium.EquilibriumConfig` fields; ``None``
    leaves that field at the paper's default."""

    steps: int
    inner_steps: int
    inner_optimizer: dict[str, Any] | None = None
    log_points: int
    eval_size: int
    eval_batches: int
    batch_size: int | None = None

    def overrides(self) -> dict[str, Any]:
        """The fields that are set: the :class:`proxgan.equilibrium.EquilibriumConfig` overrides."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` stage: the GANs of §2/§6.1, regular training, the scale's first seed, each scored by
    ``metric`` on ``samples`` generator samples (none: not scored).

    ``config`` is a shipped config name, a template in ``formulation`` (e.g. ``mnist-{formulation}``);
    ``overrides`` are ``key=value`` strings applied to it before the run's own settings.
    """

    config: str
    dataset: str
    formulations: tuple[str, ...]
    steps: int
    overrides: tuple[str, ...] = ()
    metric: str | None = None
    samples: int = 2000


@dataclass(frozen=True)
class ProximalVariant:
    """One proximal-training setting of Table 1: its ``name`` (``proximal``: the config's own ``proximal``
    block), ``proximal.*`` overrides, and whether it is also trained at regular training's generator-step
    budget (``same_steps``; off where that would not fit the scale's time budget). Its cost per step, which sets
    the equal-wall-clock step count, comes from its same-steps runs, or with ``pilot`` from a ``pilot_steps``
    run of one seed (required without ``same_steps``; kept when ``--same-steps`` adds that column, so the
    equal-time runs stay the ones the scale trains)."""

    name: str = "proximal"
    overrides: tuple[str, ...] = ()
    same_steps: bool = True
    pilot: bool = False

    def __post_init__(self) -> None:
        if not (self.same_steps or self.pilot):
            raise ValueError(f"proximal variant {self.name!r} needs same_steps or a pilot to be timed")


@dataclass(frozen=True)
class Table1Settings(TrainSettings):
    """The ``table1`` stage: regular vs proximal runs on every seed, scored by ``metric`` on ``samples``
    generator samples; ``config`` may also use ``{dim}``; one row per formulation × DIM × proximal variant."""

    metric: str = "cls_is"
    dims: tuple[int, ...] = (32,)
    variants: tuple[ProximalVariant, ...] = (ProximalVariant(),)
    pilot_steps: int = 20

    def variant(self, name: str) -> ProximalVariant:
        return next(v for v in self.variants if v.name == name)


@dataclass(frozen=True)
class Scale:
    """Step counts and data of every stage at one scale (the settings of the scales are in :data:`SCALES`);
    recorded in each stage's config. ``seeds``: Table 1's seeds; the trained GANs use the first."""

    name: str
    summary: str
    games: GamesSettings
    theory: TheorySettings
    train: TrainSettings
    equilibrium: EquilibriumSettings
    table1: Table1Settings
    seeds: tuple[int, ...]
    data_root: str | None = None
    options: tuple[str, ...] = ()
    #: sample with the generators' population BatchNorm statistics (False: the training buffers, as before 2026-12-04)
    population_batchnorm: bool = True

    @property
    def label(self) -> str:
        """The scale as given on the command line, ``NAME`` and the options that changed it (``--smoke``,
        ``--table1 LIST``): recorded with every result, so results of one are never reused for another."""
        return " ".join((self.name, *self.options))

    def parameters(self) -> dict[str, Any]:
        """Every setting as plain data (the equilibrium settings as their overrides), for results.json."""
        return asdict(self) | {"equilibrium": self.equilibrium.overrides()}


_FORMULATIONS = ("wgan-wc", "wgan-gp", "sngan")
_TABLE1_FORMULATIONS = ("wgan-wc", "sngan")
_THEORY = TheorySettings(
    formulations=("w2gan-quadratic", "w2gan", "wgan", "fgan-vanilla", "fgan-kl", "fgan-reverse-kl", "fgan-pearson",
                  "fgan-hellinger"),
    sigma=2.0, dim=1, t=1.0, eta=1.0, sigma_min=0.5, sigma_max=2.0, sigmas=50, lambda_min=1e-3, lambda_max=1e2,
    lambdas=50,
)
_GAMES = GamesSettings(methods="simgda,altgda,ppm,eg,ogda", lr=0.2, steps=1000)
#: the equilibrium tests of the quick and cpu scales: 200 generator steps of 20 inner Adam steps each
_SHORT_TESTS = EquilibriumSettings(steps=200, inner_steps=20, inner_optimizer={"lr": 1e-3}, log_points=8,
                                   eval_size=512, eval_batches=5)
#: embedded toy runs write no intermediate sample grids or checkpoints (the run is minutes long)
_TOY_LOG = ("log.sample_every=1000000", "log.checkpoint_every=1000000")
_TINY = ("model.dim=8", "train.batch_size=32", "train.n_critic=2", "proximal.steps=2", "log.every=1", *_TOY_LOG)
#: seeds of Table 1 (and the first one of the trained GANs): five, the fewest the paired t interval is run on
_SEEDS = (0, 1, 2, 3, 4)

#: ``--scale cpu`` trains the unconditional fast MNIST recipe (configs/mnist-fast-unconditional.yaml: the paper's
#: question is about unconditional GANs) in every stage: GANs that reach
#: classifier IS ≥ 8 on a CPU. Its loss is the non-saturating GAN with R1 (``nsgan-r1``), which stands in for
#: the paper's WGAN-WC (RMSprop 5e-5, 5 critic steps: far too slow to a good MNIST GAN on a CPU); SN-GAN keeps
#: its name with the recipe's optimizer settings.
CPU_CONFIG = "mnist-fast-unconditional"
#: the recipe as the cpu scale's recorded results were measured (mnist-fast before batch 128 and reuse_fake), so
#: they stay reproducible and their runs reusable
_CPU_OVERRIDES = ("train.batch_size=64", "train.reuse_fake=false",
            "log.every=50", "log.sample_every=1000", "log.checkpoint_every=1000", "log.eval_every=0")
#: Table 1's proximal settings at cpu scale: the paper's (T = 20, λ = 0.1) costs over 10 regular steps per
#: generator step here (20 double-backward inner steps on the whole batch), so it is trained at regular
#: training's wall-clock time only (``--same-steps t20`` adds its equal-steps column: 2 h 06 min more on 2 cores);
#: the cheaper setting (T = 5, Sobolev penalty on 16 rows) also at equal steps.
CPU_PROXIMAL_VARIANTS = (
    ProximalVariant("t20", ("proximal.steps=20", "proximal.lam=0.1"), same_steps=False, pilot=True),
    ProximalVariant("t5-pb16", ("proximal.steps=5", "proximal.lam=0.1", "proximal.penalty_batch=16")),
)

SCALES: dict[str, Scale] = {
    "tiny": Scale(
        "tiny", "a smoke test of every stage in seconds; the numbers mean nothing.",
        games=GamesSettings("simgda,altgda,ppm,eg", lr=0.2, steps=400),  # the averages reach t⁻¹
        theory=replace(_THEORY, formulations=("w2gan", "wgan", "fgan-vanilla"), sigmas=4, lambda_min=1e-2,
                       lambda_max=10.0, lambdas=7),
        train=TrainSettings("ring8-wgan-gp", "ring8", ("sngan",), steps=4, overrides=_TINY, metric="emd", samples=256),
        equilibrium=EquilibriumSettings(steps=3, inner_steps=2, log_points=3, eval_size=64, eval_batches=3),
        table1=Table1Settings("ring8-wgan-gp", "ring8", ("wgan-wc",), steps=4, overrides=_TINY, metric="emd",
                              samples=256, dims=(8,),
                              variants=(ProximalVariant(), ProximalVariant("t3", ("proximal.steps=3",), same_steps=False, pilot=True)),
                              pilot_steps=2),
        seeds=_SEEDS,
    ),
    "quick": Scale(
        "quick", "embedded data only (scikit-learn's 8x8 digits, DCGAN DIM 32, classifier scores), about 6 "
        "minutes on a 2-core CPU with --jobs 2; shows the direction of every claim, not the paper's numbers.",
        games=_GAMES,
        theory=replace(_THEORY, sigmas=25, lambdas=40),
        train=TrainSettings("digits", "digits", _FORMULATIONS, steps=600, overrides=_TOY_LOG, metric="cls_is"),
        equilibrium=_SHORT_TESTS,
        table1=Table1Settings("digits-proximal", "digits", _TABLE1_FORMULATIONS, steps=300,
                              overrides=("train.n_critic=5", *_TOY_LOG), metric="cls_is", samples=2000, dims=(32,)),
        seeds=_SEEDS,
    ),
    "cpu": Scale(
        "cpu", "MNIST with the unconditional fast CPU recipe (mnist-fast-unconditional: DCGAN DIM 32, non-saturating GAN with R1, bf16, EMA); "
        "Table 1 as regular vs two proximal settings, 3,000 generator steps, 5 seeds; needs MNIST under --data-root.",
        games=_GAMES,
        theory=_THEORY,
        train=TrainSettings(CPU_CONFIG, "mnist", ("nsgan-r1", "sngan"), steps=3000, overrides=_CPU_OVERRIDES, metric="cls_is",
                            samples=5000),
        equilibrium=_SHORT_TESTS,
        table1=Table1Settings(CPU_CONFIG, "mnist", ("nsgan-r1",), steps=3000, overrides=_CPU_OVERRIDES, metric="cls_is",
                              samples=5000, dims=(32,), variants=CPU_PROXIMAL_VARIANTS),
        seeds=_SEEDS,
    ),
    "gpu": Scale(
        "gpu", "the paper's protocol: DCGAN, 200,000 generator steps with 5 discriminator steps each, 10,000-step "
        "equilibrium tests with 50 inner Adam steps, Inception scores on CIFAR-10 (MNIST and CIFAR-10 under "
        "--data-root; Inception weights with a classifier head).",
        games=_GAMES,
        theory=_THEORY,
        train=TrainSettings("mnist-{formulation}", "mnist", _FORMULATIONS, steps=200_000, metric="cls_is", samples=10_000),
        equilibrium=EquilibriumSettings(steps=10_000, inner_steps=50, log_points=16, eval_size=512, eval_batches=5),
        table1=Table1Settings("table1-{formulation}-dim{dim}", "cifar10", _TABLE1_FORMULATIONS, steps=200_000,
                              metric="is", samples=50_000, dims=(64, 128)),
        seeds=_SEEDS,
    ),
}


_SMOKE_TRAINING = ("train.batch_size=8", "train.n_critic=1", "proximal.steps=2", "log.every=1",
                   "log.sample_every=1000000", "log.checkpoint_every=1000000")
#: what ``smoke`` sets in every scale: a handful of steps per stage (one critic step, two inner proximal steps),
#: batches of 8 (16 in Table 1: room for a 16-row penalty sub-batch), the fewest samples each metric takes (the
#: Inception Score: one per split); training overrides are appended to the scale's own
_SMOKE: dict[str, dict[str, Any]] = {
    "games": {"steps": 20},
    "theory": {"sigmas": 3, "lambdas": 3},
    "train": {"steps": 2, "samples": 10, "overrides": _SMOKE_TRAINING},
    "equilibrium": {"steps": 2, "inner_steps": 2, "log_points": 2, "eval_size": 16, "batch_size": 8},
    "table1": {"steps": 2, "samples": 10, "overrides": (*_SMOKE_TRAINING, "train.batch_size=16"), "pilot_steps": 2},
}


def _cut(settings: Any, changes: dict[str, Any]) -> Any:
    """``settings`` with ``changes``; ``overrides`` in ``changes`` are appended to the settings' own."""
    if "overrides" in changes:
        changes = changes | {"overrides": (*settings.overrides, *changes["overrides"])}
    return replace(settings, **changes)


def get_scale(name: str, *, data_root: str | None = None, smoke: bool = False,
              table1: tuple[str, ...] | None = None, same_steps: tuple[str, ...] | None = None,
              training_batchnorm: bool = False) -> Scale:
    """The scale called ``name``, with ``data_root`` (where MNIST/CIFAR-10/CelebA live) filled in.

    ``table1``: Table 1's formulations instead of the scale's (e.g. the paper's ``sngan`` row at ``cpu``,
    whose default row alone fills its time budget). ``same_steps``: Table 1's proximal variants that the scale
    trains at equal wall-clock time only, trained at equal generator steps too (``cpu``'s ``t20``: the paper's
    T = 20, 2 h 06 min more on 2 cores). ``smoke`` keeps the scale's data, configs, models, DIMs
    and metrics but cuts every stage to a handful of steps (:data:`_SMOKE`), one seed and Table 1's first
    formulation: the whole pipeline of, say, ``gpu`` runs end to end on a CPU. ``training_batchnorm`` scores
    and tests the generators with the BatchNorm buffers kept during training instead of their population
    statistics, as every result recorded before 2026-12-04 was. Each is recorded in the scale's
    :attr:`Scale.label` (``gpu --smoke``), so results of the named scale are never reused for it.
    """
    from proxgan.objectives import get_formulation

    scale = replace(SCALES[check_choice("scale", name, SCALES)], data_root=data_root)
    if table1 is not None:
        if not table1:
            raise ProxganError("--table1 needs at least one formulation")
        for formulation in table1:
            get_formulation(formulation)  # an unknown name is one clear error here, not an hour into the run
        scale = replace(scale, table1=replace(scale.table1, formulations=tuple(table1)),
                        options=(*scale.options, "--table1", ",".join(table1)))
    if same_steps is not None:
        scale = _with_same_steps(scale, same_steps)
    if training_batchnorm:
        scale = replace(scale, population_batchnorm=False, options=(*scale.options, "--training-batchnorm"))
    if not smoke:
        return scale
    smoked = {stage: _cut(getattr(scale, stage), changes) for stage, changes in _SMOKE.items()}
    smoked["table1"] = replace(smoked["table1"], formulations=scale.table1.formulations[:1])
    return replace(scale, seeds=scale.seeds[:1], options=(*scale.options, "--smoke"), **smoked)


def _with_same_steps(scale: Scale, names: tuple[str, ...]) -> Scale:
    """``scale`` with the proximal variants ``names`` (trained at equal time only) trained at equal steps too."""
    timed_only = [v.name for v in scale.table1.variants if not v.same_steps]
    if not names:
        raise ProxganError("--same-steps needs at least one proximal variant")
    for name in names:
        if name not in timed_only:
            raise ProxganError(f"--same-steps: {name!r} is not a variant that scale {scale.name!r} trains at equal "
                               f"time only (choose from: {', '.join(timed_only) or 'none'})")
    variants = tuple(replace(v, same_steps=True) if v.name in names else v for v in scale.table1.variants)
    return replace(scale, table1=replace(scale.table1, variants=variants),
                   options=(*scale.options, "--same-steps", ",".join(names)))
