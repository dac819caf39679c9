"""Cost and accuracy of Algorithm 1's proximal discriminator update, and of its cheaper variants.

CPU, DCGAN (Gulrajani et al.) at DIM = 64, 32×32 images, batch 64, λ = 0.1 by default. Three sections:

``steps`` — one discriminator step on fixed batches (as inside one outer step; references computed once):

  plain:       loss(D(x), D(x̃)) (+ constraint), backward, optimizer step, projection
  sobolev:     one inner step of proxgan.proximal_update on loss + λ/(2n) Σ ||∇ₓD(xᵢ) - refᵢ||²: for proxgan's
               DCGAN the gradient of proxgan.piecewise (forward on cat(x, x̃), backward, tangent pass, weight
               gradients; no double backprop), step, projection
  autograd:    the same gradient by double backprop (the path of any other D): D(x) and ∇ₓD(x) from one forward
               pass with create_graph, D(x̃), backward
  sobolev_sub: ``penalty_batch = m`` (--penalty-batch): the penalty on m real rows (proxgan.piecewise)

``iteration`` — one ``Trainer.train_step()`` (G step included): regular (n_critic = 5) against proximal with
T = 20 (the paper), with ``penalty_batch``, with ``tol`` (the first --tol, T = 20 the cap, inner Adam lr
--adaptive-lr) and with both; the mean inner steps taken. ``--warmup W`` untimed steps first (default 1): how
many inner steps ``tol`` takes depends on how far training has gone.

``accuracy`` — the inner solution from one w_k on one batch (``--instances K``: on K batch draws, then each
variant's mean steps and mean gap, and its gap minus the paper's paired by draw with a 95 % interval): the
paper's T = 20 loop, the sub-batch penalty and the adaptive loop at each --tol, on the full batch and with the
sub-batch penalty (``pb=m tol=…``), at the paper's inner lr 1e-4 and at --adaptive-lr, against a reference solve
of --reference-steps full-batch steps (Adam, lr 1e-4): steps and seconds taken, the relative suboptimality
(Φ_ref - Φ)/(Φ_ref - Φ_0) of the inner objective Φ, and the Sobolev distance to the reference and to the T = 20
solution, each relative to the distance from w_k to that target. w_k is the initial D with
a fresh Adam, or with --warm the result of one T = 20 solve on another batch with its Adam state kept (what
the Trainer does between outer steps), or with --warm-steps W the Trainer's own D, inner Adam state and next
batch after W proximal T = 20 training steps of the iteration section's setup.

Times are medians over interleaved repeats (robust to a shared, busy machine). Peak memory (steps section)
is the peak resident set above the models and batches while the steps run (Linux /proc/self VmHWM, reset
before the steps), measured in a fresh subprocess per cell.

    python benchmarks/bench_proximal.py [--section steps,iteration,accuracy] [--dim 64] [--batch 64]
        [--repeats 10] [--penalty-batch 16] [--tol 0.002] [--adaptive-lr 1e-4] [--reference-steps 60] [--warm] [--no-memory]
        [--instances 1] [--warmup 1]
"""

from __future__ import annotations

import copy
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _memory import benchmark_parser, peak_memory_in_subprocess, peak_rss_growth_mib  # noqa: E402

from proxgan.allocator import retain_freed_memory  # noqa: E402
from proxgan.config import config_from_dict  # noqa: E402
from proxgan.data import InMemoryData  # noqa: E402
from proxgan.gradients import input_gradients  # noqa: E402
from proxgan.models import build_models  # noqa: E402
from proxgan.objectives import get_formulation  # noqa: E402
from proxgan.piecewise import chain_of  # noqa: E402
from proxgan.proximal import (  # noqa: E402
    OptimizerConfig, ProximalConfig, frozen_copy, inner_step, penalty_rows, proximal_loss, sobolev_distance_sq,
)
from proxgan.rules import mean_interval  # noqa: E402
from proxgan.train import build_trainer  # noqa: E402

LAM = 0.1
SECTIONS = ("steps", "iteration", "accuracy")


def make_setup(formulation_name: str, dim: int, resolution: int, batch: int, seed: int = 0):
    """(D, formulation, real, fake, optimizer) with fixed batches, as inside one outer step. The models are the same
    for every ``seed`` (drawn from seed 0); the batches, and later draws, follow them in seed 0's stream for
    ``seed`` = 0 (the single-instance draw), or come from ``seed`` otherwise."""
    torch.manual_seed(0)
    formulation = get_formulation(formulation_name)
    G, D = build_models("dcgan", (3, resolution, resolution), dim=dim, spectral_norm=formulation.spectral_norm)
    if seed:
        torch.manual_seed(seed)
    real = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    with torch.no_grad():
        fake = G(torch.randn(batch, G.latent_dim))
    return D, formulation, real, fake, ProximalConfig().make_optimizer(D.parameters())


def optimizer_step(D, formulation, optimizer, backward) -> None:
    optimizer.zero_grad(set_to_none=True)
    backward()
    optimizer.step()
    formulation.project(D)


def plain_step(D, formulation, real, fake, optimizer, ref, rows) -> None:
    optimizer_step(D, formulation, optimizer, formulation.discriminator_loss(D, real, fake).backward)


def inner_penalty(formulation):
    """The penalty the formulation's proximal_update passes (WGAN-GP's gradient penalty; R1 goes as r1)."""
    return formulation.gradient_penalty_term if formulation.gradient_penalty else None


def sobolev_step(D, formulation, real, fake, optimizer, ref, rows, chain: bool = True) -> None:
    """One inner step as proximal_update takes it (the chain gradient for this DCGAN; ``chain=False``: autograd's)."""
    loss = formulation.objective.discriminator_loss
    refs = ref if rows is None else ref[rows]  # the penalty rows' references
    backward = inner_step(D, chain_of(D) if chain else None, real, fake, loss, refs, LAM,
                          penalty=inner_penalty(formulation), r1=formulation.r1, rows=rows)[3]  # fmt: skip
    optimizer_step(D, formulation, optimizer, backward)


def autograd_step(*step) -> None:
    sobolev_step(*step, chain=False)


STEPS = {"plain": plain_step, "sobolev": sobolev_step, "autograd": autograd_step, "sobolev_sub": sobolev_step}
MEMORY_MODES = ("plain", "sobolev", "autograd", "sobolev_sub")


def step_times(formulation: str, args) -> dict[str, float]:
    """Median seconds per step of each kind (fresh penalty rows per sobolev_sub step, as in the loop)."""
    setup = make_setup(formulation, args.dim, args.resolution, args.batch)
    D, _, real, _, _ = setup
    ref = input_gradients(D, real, create_graph=False)
    rows_rng = torch.Generator().manual_seed(0)
    samples: dict[str, list[float]] = {name: [] for name in STEPS}
    for i in range(args.repeats + 1):  # the first round warms up
        for name, step in STEPS.items():
            rows = penalty_rows(args.batch, args.penalty_batch, rows_rng) if name == "sobolev_sub" else None
            start = time.perf_counter()
            step(*setup, ref, rows)
            if i:
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def peak_rss_growth(mode: str, formulation: str, args) -> float:
    """Peak resident memory (MiB) above models + batches during 3 steps of ``mode`` (sobolev: + its references)."""
    setup = make_setup(formulation, args.dim, args.resolution, args.batch)

    def work() -> None:
        ref = input_gradients(setup[0], setup[2], create_graph=False) if mode != "plain" else None
        for _ in range(3):
            rows = penalty_rows(args.batch, args.penalty_batch) if mode == "sobolev_sub" else None
            STEPS[mode](*setup, ref, rows)

    return peak_rss_growth_mib(work)


def report_steps(formulation: str, args) -> None:
    t = step_times(formulation, args)
    cells = " ".join(f"{1e3 * t[m]:>9.1f} {t[m] / t['plain']:>5.2f}" for m in ("sobolev", "autograd", "sobolev_sub"))
    mem = "" if args.no_memory else " " + " ".join(
        f"{peak_memory_in_subprocess(__file__, m, formulation, args):>9.1f}" for m in MEMORY_MODES
    )
    print(f"{formulation:<12} {1e3 * t['plain']:>9.1f} {cells}{mem}", flush=True)


# --- whole iterations ---------------------------------------------------------------------------------


def iteration_variants(args) -> dict[str, dict]:
    """The Trainer settings compared: regular (n_critic 5) and proximal T = 20 with and without the cheaper options."""
    return {
        "regular": {"train": {"strategy": "regular"}},
        "paper T=20": {},
        f"penalty_batch={args.penalty_batch}": {"proximal": {"penalty_batch": args.penalty_batch}},
        f"tol={args.tol[0]:g} lr={args.adaptive_lr:g}": {"proximal": {"tol": args.tol[0], "optimizer": {"lr": args.adaptive_lr}}},
        "both": {"proximal": {"penalty_batch": args.penalty_batch, "tol": args.tol[0], "optimizer": {"lr": args.adaptive_lr}}},
    }


def make_trainer(formulation: str, variant: dict, args, seed: int = 0):
    raw = {"formulation": formulation, "seed": seed, "model": {"arch": "dcgan", "dim": args.dim},
           "train": {"strategy": "proximal", "batch_size": args.batch, "n_critic": 5}, "proximal": {"steps": 20, "lam": LAM}}
    for key, value in variant.items():
        raw[key] = {**raw[key], **value}
    torch.manual_seed(0)
    data = InMemoryData("random-cifar", torch.rand(10_000, 3, args.resolution, args.resolution) * 2 - 1)
    return build_trainer(config_from_dict(raw), torch.device("cpu"), data)


def report_iterations(formulation: str, args) -> None:
    variants = iteration_variants(args)
    trainers = {name: make_trainer(formulation, v, args) for name, v in variants.items()}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    inner: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(args.warmup + args.repeats):  # the first --warmup rounds are not timed
        for name, trainer in trainers.items():
            start = time.perf_counter()
            stats = trainer.train_step()
            if i >= args.warmup:
                seconds[name].append(time.perf_counter() - start)
                inner[name].append(stats.get("inner_steps", 5.0))
    regular = statistics.median(seconds["regular"])
    for name in variants:
        s = statistics.median(seconds[name])
        print(f"{formulation:<12} {name:<20} {s:>9.3f} {s / regular:>6.2f} {statistics.mean(inner[name]):>12.1f}", flush=True)


# --- accuracy of the inner solution ---------------------------------------------------------------------


def report_accuracy(formulation_name: str, args) -> None:
    """One row per variant and instance; with --instances K > 1, then each variant's mean steps and gap over the K
    instances, and its gap minus the paper's, paired by instance, with a 95 % Student-t interval."""
    rows: dict[str, list[tuple[int, float]]] = {}
    for instance in range(args.instances):
        for name, steps, gap in accuracy_instance(formulation_name, args, instance):
            rows.setdefault(name, []).append((steps, gap))
    if args.instances > 1:
        paper = [gap for _, gap in rows["paper T=20"]]
        print(f"{formulation_name:<12} over {args.instances} instances: mean steps, mean gap, gap − paper's (95 % CI)")
        for name, values in rows.items():
            d = mean_interval([gap - p for (_, gap), p in zip(values, paper)])
            ci = f"[{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]" if name != "paper T=20" else ""
            print(f"{formulation_name:<12} {name:<20} {statistics.mean(s for s, _ in values):>6.1f} "
                  f"{statistics.mean(g for _, g in values):>10.3f} {d['mean']:>+10.3f} {ci}", flush=True)


def warm_optimizer(config: ProximalConfig, D, warm_state: dict, lr: float) -> torch.optim.Optimizer:
    """config's inner optimizer over D started from a copy of ``warm_state`` at learning rate lr. A copy: on a
    state dict made in memory ``load_state_dict`` keeps its tensors, so Adam would update ``warm_state`` in place
    and every later variant would start where this one ended (as in the warm tables withdrawn on 2026-12-04)."""
    optimizer = config.make_optimizer(D.parameters())
    optimizer.load_state_dict(copy.deepcopy(warm_state))
    for group in optimizer.param_groups:
        group["lr"] = lr
    return optimizer


def accuracy_instance(formulation_name: str, args, instance: int) -> list[tuple[str, int, float]]:
    """The accuracy rows of one instance: batches (and the warm start's batch) drawn from seed ``instance``."""
    warm_state = None
    if args.warm_steps:  # w_k, its inner Adam state and the next batch of a Trainer after that many T = 20 steps
        trainer = make_trainer(formulation_name, {}, args, seed=instance)
        for _ in range(args.warm_steps):
            trainer.train_step()
        D0, formulation = copy.deepcopy(trainer.D), trainer.formulation
        warm_state = copy.deepcopy(trainer.d_optimizer.state_dict())
        real, fake = trainer.real_batch(), trainer.fake_batch()
    else:
        D0, formulation, real, fake, _ = make_setup(formulation_name, args.dim, args.resolution, args.batch, seed=instance)
    if args.warm and not args.warm_steps:  # w_k = the result of one paper T = 20 solve on another batch, its Adam state
        warm = ProximalConfig().make_optimizer(D0.parameters())
        formulation.proximal_update(D0, torch.rand_like(real) * 2 - 1, fake, ProximalConfig(), optimizer=warm)
        warm_state = warm.state_dict()
    ref = input_gradients(D0, real, create_graph=False)
    loss = formulation.objective.discriminator_loss

    def objective(D) -> float:
        """Φ(D) = -(loss + constraint + λ·sobolev) on the full batch."""
        return -proximal_loss(D, real, fake, loss, ref, LAM, penalty=formulation.regularizer)[0].item()

    def solve(steps: int, lr: float = OptimizerConfig.lr, **options):
        D, config = copy.deepcopy(D0), ProximalConfig(steps=steps, lam=LAM, optimizer=OptimizerConfig(lr=lr), **options)
        optimizer = config.make_optimizer(D.parameters()) if warm_state is None else warm_optimizer(config, D, warm_state, lr)
        start = time.perf_counter()
        update = formulation.proximal_update(D, real, fake, config, optimizer=optimizer,
                                             generator=torch.Generator().manual_seed(0))  # fmt: skip
        return D, update.steps, time.perf_counter() - start

    reference = solve(args.reference_steps)[0]
    paper = solve(20)
    m = args.penalty_batch
    runs = {"paper T=20": paper, f"penalty_batch={m}": solve(20, penalty_batch=m)}
    lrs = dict.fromkeys((OptimizerConfig.lr, args.adaptive_lr))
    for tol, lr, sub in itertools.product(args.tol, lrs, (None, m)):
        name = f"{'' if sub is None else f'pb={m} '}tol={tol:g}{'' if lr == OptimizerConfig.lr else f' lr={lr:g}'}"
        runs[name] = solve(20, tol=tol, lr=lr, penalty_batch=sub)
    # measured in eval mode: a spectral-norm power iteration would change a D between two evaluations
    D0, reference, paper = frozen_copy(D0), frozen_copy(reference), (frozen_copy(paper[0]), *paper[1:])
    phi0, phi_ref = objective(D0), objective(reference)

    def relative_distance(D, target) -> float:
        return (sobolev_distance_sq(D, target, real) / sobolev_distance_sq(D0, target, real)).sqrt().item()

    start = "warm (after one T = 20 solve, its Adam state kept)" if args.warm else "cold (initial D, fresh Adam)"
    if args.warm_steps:
        start = f"the Trainer's state after {args.warm_steps} proximal T = 20 steps (its inner Adam state, its next batch)"
    print(f"{formulation_name:<12} instance {instance}, {start}; reference: {args.reference_steps} steps, "
          f"Φ_ref - Φ_0 = {phi_ref - phi0:.4g}")
    out = []
    for name, (D, steps, seconds) in runs.items():
        D = frozen_copy(D)
        with torch.no_grad():
            gap = (phi_ref - objective(D)) / (phi_ref - phi0)
            to_ref, to_paper = relative_distance(D, reference), relative_distance(D, paper[0])
        print(f"{formulation_name:<12} {name:<20} {steps:>6} {seconds:>9.2f} {gap:>10.3f} {to_ref:>10.3f} {to_paper:>11.3f}",
              flush=True)  # fmt: skip
        out.append((name, steps, gap))
    return out


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=10, modes=list(MEMORY_MODES), threads=torch.get_num_threads())
    parser.add_argument("--section", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--penalty-batch", type=int, default=16)
    parser.add_argument("--tol", default="0.002", help="comma-separated tolerances (iteration uses the first)")
    parser.add_argument("--adaptive-lr", type=float, default=OptimizerConfig.lr,
                        help="inner Adam lr of the adaptive variants")  # fmt: skip
    parser.add_argument("--reference-steps", type=int, default=60)
    parser.add_argument("--instances", type=int, default=1,
                        help="accuracy: repeat on this many batch draws and summarize the gaps against the paper's")
    parser.add_argument("--warmup", type=int, default=1,
                        help="iteration: untimed training steps of every variant before the --repeats timed ones")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--warm", action="store_true", help="accuracy from a warm w_k and Adam state, as in the Trainer")
    parser.add_argument("--warm-steps", type=int, default=0, metavar="W",
                        help="accuracy from the Trainer's own w_k, inner Adam state and next batch after W proximal "
                             "T = 20 training steps (the iteration section's setup; instance i trains with seed i)")
    args = parser.parse_args()
    retain_freed_memory()  # as the proxgan CLI does (proxgan.allocator)
    args.tol = [float(t) for t in args.tol.split(",")]
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(peak_rss_growth(args.memory_probe, args.formulations, args))
        return
    sections = args.section.split(",")
    formulations = args.formulations.split(",")
    print(f"CPU, {args.threads} threads, DCGAN DIM={args.dim}, {args.resolution}x{args.resolution}, batch {args.batch}, "
          f"λ={LAM}, penalty_batch={args.penalty_batch}")  # fmt: skip
    if "steps" in sections:
        print(f"\nD step, median of {args.repeats} interleaved steps (ms, ratio to plain)")
        mem = "" if args.no_memory else " " + " ".join(f"{m + ' MiB':>9}" for m in ("plain", "sob", "autog", "sub"))
        print(f"{'formulation':<12} {'plain':>9} {'sobolev':>9} {'x':>5} {'autograd':>9} {'x':>5} {'sub':>9} {'x':>5}{mem}")
        for formulation in formulations:
            report_steps(formulation, args)
        print("target: sobolev (or sub) / plain <= 1.5")
    if "iteration" in sections:
        print(f"\nTrainer iteration incl. the G step, median of {args.repeats} interleaved after {args.warmup} "
              f"untimed (s, ratio to regular)")
        print(f"{'formulation':<12} {'variant':<20} {'seconds':>9} {'ratio':>6} {'inner steps':>12}")
        for formulation in formulations:
            report_iterations(formulation, args)
        print("targets: paper T=20 / regular <= 4.0; adaptive at the paper's inner accuracy <= 2.5")
    if "accuracy" in sections:
        print("\nInner solution from one w_k (relative: gap = (Φ_ref - Φ)/(Φ_ref - Φ_0); distances over the distance from w_k)")
        print(f"{'formulation':<12} {'variant':<20} {'steps':>6} {'seconds':>9} {'gap':>10} {'to ref':>10} {'to T=20':>11}")
        for formulation in formulations:
            report_accuracy(formulation, args)


if __name__ == "__main__":
    main()
