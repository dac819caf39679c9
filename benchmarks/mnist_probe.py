"""Probes behind the ``mnist-fast`` recipe (docs/training.md): quality per generator step, and what limits it.

``train``: trains ``mnist-fast-unconditional`` (the recipe the search was for; ``model.classes=10`` gives today's
class-conditional ``mnist-fast``) with OVERRIDES in-process (no run directory) and every ``--every`` steps and at
the last step scores G and its EMA (once the EMA has started) on 2,000 samples (classifier IS / FID, the shipped
LeNet); ``--bn-modes`` also scores them with BatchNorm in train mode and with the EMA's BatchNorm statistics
recomputed; ``--r1-rows N`` sets the rows R1 is estimated on (0: the whole batch), ``--r1-gamma G`` its weight γ;
``--average KIND:DECAY:START`` (repeatable) keeps and scores further averages of G beside the config's (e.g.
``ema:0.9995:2000``, ``polyak:0:6000``): averaging never changes training, so one run compares them all. One
JSON line per evaluation.

``steptime``: milliseconds per training step of ``mnist-fast-unconditional`` under each ``--variant`` OVERRIDES, interleaved.

Both take two architecture probes that no config offers (the library's DCGAN is Gulrajani et al.'s): ``--kernel 3``
(3×3 kernels in G and D instead of 5×5, padding 1) or ``--kernel 4`` (4×4, Radford et al.'s DCGAN kernels) and
``--g-dim N`` (G at DIM N, D at the config's DIM).

``train --top-k NU`` probes top-k generator training (Sinha et al. 2020, "Top-k Training of GANs"): the
generator's loss is taken on the k fake samples D scores highest, k annealed linearly from the whole batch to
NU × batch over the run (NU = 1: the recipe).

``train --lookahead K:ALPHA`` probes Lookahead-minmax (Chavdarova et al. 2021, "Taming GANs with
Lookahead-Minmax"): every K generator steps both players' weights move to slow + ALPHA·(fast − slow), which becomes
the new slow copy (ALPHA = 1: the recipe); the optimizers' states and G's BatchNorm statistics are left as they are,
and the config's EMA of G averages the weights as each training step leaves them (before that step's pull).

``train --info-codes K`` probes InfoGAN's categorical code (Chen et al. 2016), no labels used: G reads the last K
latent coordinates as the one-hot code c = argmax(z_{-K:}) (uniform over K: argmax of K iid Gaussians), and a
linear head Q on D's features predicts c from a fake; both players add ``--info-weight`` × the cross-entropy of
Q(c | G(z)) to their losses (D's body and Q in the D step, G in the G step). A continuous latent must bridge the
disconnected digit classes; a discrete code lets G jump between them instead.

``train --relativistic`` probes the relativistic pairing loss (RpGAN; Huang et al. 2024 pair it with R1 and R2): D
minimizes E softplus(D(G(zᵢ)) − D(xᵢ)), G minimizes E softplus(D(xᵢ) − D(G(zᵢ))) on the D step's real batch;
``--r2 GAMMA`` adds R2, (γ/2)·E‖∇ₓD(x̃)‖² on 16 fakes, to D's loss beside the config's R1.

``reject``: discriminator rejection of a finished run's samples (the share D scores highest, and Azadi et al.'s
rejection sampling), scored.

``diagnose``: for a finished run, the class histogram of 5,000 samples under the LeNet, the mean top-class
probability, H(y), E H(y|x), and the classifier IS the samples would have with exactly uniform classes —
which tells class coverage from per-sample confidence.

    python benchmarks/mnist_probe.py train --data-root ../shared/data --steps 6000 [--r1-rows 0] [--r1-gamma 1]
        [--average ema:0.9995:2000 ...] [--relativistic] [--r2 GAMMA] [OVERRIDE ...]
    python benchmarks/mnist_probe.py diagnose RUN_DIR
    python benchmarks/mnist_probe.py reject RUN_DIR [--keep 1 0.9 0.8 0.6] [--drs-quantile 0.5 0.99]
    python benchmarks/mnist_probe.py steptime --data-root ../shared/data --variant "" --variant "train.batch_size=64" ...
    python benchmarks/mnist_probe.py train --data-root ../shared/data --steps 6000 --kernel 3
    python benchmarks/mnist_probe.py train --data-root ../shared/data --steps 4000 --top-k 0.5
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import statistics
import time

import torch

from proxgan import models
from proxgan.allocator import retain_freed_memory
from proxgan.averaging import AveragingConfig, IterateAverage
from proxgan.config import load_config
from proxgan.metrics import evaluate
from proxgan.metrics.classifier import load_classifier
from proxgan.metrics.inception import score_entropies
from proxgan.objectives import r1_penalty
from proxgan.models.batchnorm import with_population_statistics
from proxgan.runs import load_experiment_data, load_run
from proxgan.train import build_trainer


def draw(G: torch.nn.Module, mode: str, n: int = 2000, seed: int = 123) -> torch.Tensor:
    """n samples of a copy of G with BatchNorm in ``mode``: eval (the buffers kept during training), train (batch
    statistics) or recal (the population statistics the library samples with, ``with_population_statistics``)."""
    g = torch.Generator().manual_seed(seed)
    G = with_population_statistics(G) if mode == "recal" else copy.deepcopy(G)
    G.train(mode == "train")
    with torch.no_grad():
        return torch.cat([G(z) for z in torch.randn(n, G.latent_dim, generator=g).split(500)]).float()


def same_padding(size: int) -> tuple[int, int, int, int]:
    """TensorFlow's 'SAME' padding of a 4×4, stride-2 convolution on a size×size input (output ⌈size/2⌉), as
    (left, right, top, bottom): the odd total goes to the right/bottom (7 → 4 pads (1, 2))."""
    total = max((math.ceil(size / 2) - 1) * 2 + 4 - size, 0)
    return (total // 2, total - total // 2) * 2


class Kernel4Discriminator(models.dcgan.DCGANDiscriminator):
    """The DCGAN discriminator with 4×4 kernels and 'SAME' padding (28 → 14 → 7 → 4, as with 5×5)."""

    def __init__(self, dim: int = 64, resolution: int = 32, channels: int = 3, spectral_norm: bool = False):
        super().__init__(dim, resolution, channels, spectral_norm)
        layers, size = [], resolution
        for layer in self.body:
            if isinstance(layer, torch.nn.Conv2d):
                left, right, top, bottom = same_padding(size)
                layer.padding = (left, left) if left == right else (0, 0)  # the convolution's own padding if even
                if left != right:
                    layers.append(torch.nn.ZeroPad2d((left, right, top, bottom)))
                size = math.ceil(size / 2)
            layers.append(layer)
        self.body = torch.nn.Sequential(*layers)


def set_architecture(kernel: int, g_dim: int | None, g_up: str = "transposed", g_norm: str = "batch") -> None:
    """Patch the DCGAN that ``build_trainer`` builds: kernel size of every layer, G's DIM apart from D's, how G
    up-samples and G's normalization.

    Kernel 4 (Radford et al.'s DCGAN) divides the stride, so every output pixel of an up-convolution gets the same
    number of kernel taps (no uneven overlap, Odena et al. 2016): padding 1 and no output padding in G, 'SAME'
    padding in D. ``g_up="nearest"``: nearest-neighbour 2× up-sampling then a 'SAME' convolution (the resize-convolution
    of Odena et al. 2016, no checkerboard by construction; 4× the transposed convolution's multiply-adds at the same kernel).
    ``g_norm="none"``: G without BatchNorm (each BatchNorm layer an identity)."""
    models.dcgan.KERNEL = kernel
    if kernel == 4:
        models.dcgan._up = lambda c_in, c_out: torch.nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
        models.DCGANDiscriminator = Kernel4Discriminator
    if g_up == "nearest":
        models.dcgan._up = lambda c_in, c_out: torch.nn.Sequential(
            torch.nn.Upsample(scale_factor=2, mode="nearest"), torch.nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2))
    base = models.DCGANGenerator

    class Generator(base):
        def __init__(self, latent_dim: int, dim: int, resolution: int, channels: int, classes: int = 0):
            super().__init__(latent_dim, g_dim or dim, resolution, channels, classes)
            if g_norm == "none":
                for seq in (self.project, self.body):
                    for i, layer in enumerate(seq):
                        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                            seq[i] = torch.nn.Identity()

    models.DCGANGenerator = Generator


class TopK:
    """An objective whose generator loss keeps only the k highest-scored fakes, k = B·(1 − (1 − ν)·step/steps)."""

    def __init__(self, objective, trainer, nu: float, steps: int):
        self.objective, self.trainer, self.nu, self.steps = objective, trainer, nu, steps

    def __getattr__(self, name):
        return getattr(self.objective, name)

    def generator_loss(self, d_fake: torch.Tensor) -> torch.Tensor:
        fraction = 1 - (1 - self.nu) * min(1.0, self.trainer.step / self.steps)
        k = max(1, math.ceil(fraction * len(d_fake)))
        return self.objective.generator_loss(d_fake.flatten().topk(k).values)


class Lookahead:
    """Slow copies of the parameters of both players; ``step(k)`` pulls every K steps (Chavdarova et al. 2021)."""

    def __init__(self, modules: list[torch.nn.Module], every: int, alpha: float):
        self.params = [p for m in modules for p in m.parameters()]
        self.slow = [p.detach().clone() for p in self.params]
        self.every, self.alpha = every, alpha

    @torch.no_grad()
    def step(self, step: int) -> None:
        if step % self.every:
            return
        for p, slow in zip(self.params, self.slow):
            slow.add_(p - slow, alpha=self.alpha)
            p.copy_(slow)


def set_info_codes(codes: int) -> None:
    """Patch the DCGAN pair for ``--info-codes``: G maps z to (z_{:-K}, one-hot argmax z_{-K:}) and remembers c;
    D keeps Q's logits of its last forward pass beside the scores it returns."""
    base_G, base_D = models.DCGANGenerator, models.DCGANDiscriminator

    class Generator(base_G):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            self.last_code = z[:, -codes:].argmax(1)
            one_hot = torch.nn.functional.one_hot(self.last_code, codes).to(z.dtype)
            return super().forward(torch.cat([z[:, :-codes], one_hot], 1))

    class Discriminator(base_D):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.q = torch.nn.Linear(self.head.in_features, codes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            features = self.body(x)
            self.last_q = self.q(features)
            return self.head(features).squeeze(-1)

    models.DCGANGenerator, models.DCGANDiscriminator = Generator, Discriminator


class InfoLoss:
    """An objective plus weight × CE(Q(c | fake), c) for both players, read from the patched G and D (the fakes
    are the last rows of D's last forward pass, generated by G's last forward pass)."""

    def __init__(self, objective, G: torch.nn.Module, D: torch.nn.Module, weight: float):
        self.objective, self.G, self.D, self.weight = objective, G, D, weight

    def __getattr__(self, name):
        return getattr(self.objective, name)

    def mutual_information_loss(self, n: int) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(self.D.last_q[-n:].float(), self.G.last_code)

    def discriminator_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        info = self.mutual_information_loss(len(d_fake))  # before the regularizer's own forward pass of D
        return self.objective.discriminator_loss(d_real, d_fake) + self.weight * info

    def generator_loss(self, d_fake: torch.Tensor) -> torch.Tensor:
        return self.objective.generator_loss(d_fake) + self.weight * self.mutual_information_loss(len(d_fake))


class Relativistic:
    """The relativistic pairing GAN loss (RpGAN, Jolicoeur-Martineau 2019; with R1 and R2 the loss of Huang et al.
    2024, "The GAN is dead; long live the GAN!"): D minimizes E softplus(D(G(zᵢ)) − D(xᵢ)), G minimizes
    E softplus(D(xᵢ) − D(G(zᵢ))) at the updated D on the D step's real batch (remembered from ``real_batch``)."""

    def __init__(self, objective, trainer):
        self.objective, self.trainer, self.real = objective, trainer, None
        draw_real = trainer.real_batch

        def real_batch():
            self.real = draw_real()
            return self.real

        trainer.real_batch = real_batch

    def __getattr__(self, name):
        return getattr(self.objective, name)

    def discriminator_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(d_fake - d_real).mean()

    def generator_loss(self, d_fake: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            d_real = self.trainer.D(self.real)
        return torch.nn.functional.softplus(d_real - d_fake).mean()


class WithR2:
    """A formulation plus (γ/2)·E‖∇ₓD(x̃)‖² on the first 16 fakes (R2, Mescheder et al. 2018)."""

    def __init__(self, formulation, gamma: float):
        self.formulation, self.gamma = formulation, gamma

    def __getattr__(self, name):
        return getattr(self.formulation, name)

    def regularizer(self, D, real, fake, **options):
        return self.formulation.regularizer(D, real, fake, **options) + 0.5 * self.gamma * r1_penalty(D, fake[:16])


def parse_lookahead(spec: str | None) -> tuple[int, float] | None:
    """``K:ALPHA`` (``5:0.5``) as (K ≥ 1, ALPHA in (0, 1]); None when not given."""
    if spec is None:
        return None
    try:
        every, alpha = spec.split(":")
        every, alpha = int(every), float(alpha)
    except ValueError:
        raise SystemExit(f"--lookahead wants K:ALPHA, e.g. 5:0.5; got {spec!r}") from None
    if every < 1 or not 0 < alpha <= 1:
        raise SystemExit(f"--lookahead wants K >= 1 and ALPHA in (0, 1], got {spec!r}")
    return every, alpha


def train(args: argparse.Namespace) -> None:
    if not 0 < args.top_k <= 1:
        raise SystemExit(f"--top-k wants a fraction of the batch in (0, 1], got {args.top_k:g}")
    lookahead = parse_lookahead(args.lookahead)
    if args.info_codes == 1 or args.info_codes < 0 or not args.info_weight >= 0:
        raise SystemExit(f"--info-codes wants K >= 2 (0: off) and --info-weight >= 0, got {args.info_codes}, "
                         f"{args.info_weight:g}")
    set_architecture(args.kernel, args.g_dim, args.g_up, args.g_norm)
    if args.info_codes:
        set_info_codes(args.info_codes)
    averages = {spec: parse_average(spec) for spec in args.average}
    config = load_config("mnist-fast-unconditional", [f"data.root={args.data_root}", f"train.steps={args.steps}", *args.overrides])
    if args.info_codes >= (config.model.latent_dim or models.DEFAULTS["dcgan"][0]):
        raise SystemExit(f"--info-codes {args.info_codes} leaves no continuous latent coordinate "
                         f"(model.latent_dim={config.model.latent_dim}); use fewer codes")
    data = load_experiment_data(config)
    trainer = build_trainer(config, torch.device("cpu"), data)
    if args.r1_rows is not None:
        trainer.formulation = dataclasses.replace(trainer.formulation, r1_rows=args.r1_rows or None)
    if args.r1_gamma is not None:
        trainer.formulation = dataclasses.replace(trainer.formulation, r1=args.r1_gamma)
    if args.info_codes:
        trainer.formulation = dataclasses.replace(
            trainer.formulation, objective=InfoLoss(trainer.formulation.objective, trainer.G, trainer.D, args.info_weight))
    if args.relativistic:
        trainer.formulation = dataclasses.replace(
            trainer.formulation, objective=Relativistic(trainer.formulation.objective, trainer))
    if args.r2:
        trainer.formulation = WithR2(trainer.formulation, args.r2)
    if args.top_k < 1:
        trainer.formulation = dataclasses.replace(
            trainer.formulation, objective=TopK(trainer.formulation.objective, trainer, args.top_k, config.train.steps))
    extra = {spec: IterateAverage(trainer.G, average) for spec, average in averages.items()}
    slow = Lookahead([trainer.G, trainer.D], *lookahead) if lookahead else None
    modes = ("eval", "train", "recal") if args.bn_modes else ("eval",)
    start = time.perf_counter()
    for step in range(1, config.train.steps + 1):
        trainer.train_step()
        if slow is not None:
            slow.step(step)
        for average in extra.values():
            average.update(trainer.G, step)
        if step % args.every and step != config.train.steps:  # every --every steps, and at the end
            continue
        record = {"step": step, "seconds": round(time.perf_counter() - start, 1)}
        # an average that has not started yet is a copy of G: not scored again
        averages = {"ema": trainer.G_average, **extra} if trainer.G_average else extra
        generators = {"G": trainer.G, **{name: average.module for name, average in averages.items()
                                         if step > average.config.start}}
        for name, G in generators.items():
            for mode in modes:
                m = evaluate(draw(G, mode), data, "cls_is,cls_fid")
                record[f"{name}-{mode}"] = [round(m["cls_is"]["mean"], 3), round(m["cls_fid"]["value"], 2)]
        print(json.dumps(record), flush=True)


def parse_average(spec: str) -> AveragingConfig:
    """``KIND:DECAY:START`` (``ema:0.9995:2000``; Polyak ignores DECAY) as an averaging config."""
    try:
        kind, decay, start = spec.split(":")
        return AveragingConfig(kind, float(decay), int(start))
    except ValueError:
        raise SystemExit(f"--average wants KIND:DECAY:START, e.g. ema:0.9995:2000; got {spec!r}") from None


def diagnose(args: argparse.Namespace) -> None:
    run = load_run(args.run_dir)
    _, logits = load_classifier("mnist").outputs(run.sample(5000, seed=0))
    p = torch.softmax(logits, 1)
    top = p.max(1).values
    parts = score_entropies(logits)  # the same two halves that proxgan evaluate prints beside cls_is
    h_y, h_y_given_x = parts["class_entropy"], parts["conditional_entropy"]
    print(f"class histogram of 5,000 samples: {torch.bincount(p.argmax(1), minlength=10).tolist()}")
    print(f"mean top-class probability {top.mean():.4f}; share above 0.99: {(top > 0.99).float().mean():.4f}")
    print(f"H(y) = {h_y:.4f} (uniform: ln 10 = {math.log(10):.4f}); E H(y|x) = {h_y_given_x:.4f}")
    print(f"classifier IS {math.exp(h_y - h_y_given_x):.3f}; with exactly uniform classes {math.exp(math.log(10) - h_y_given_x):.3f}")


def reject(args: argparse.Namespace) -> None:
    """Discriminator rejection of 20,000 samples of a finished run, two ways, each scored on 5,000 kept samples
    (classifier IS and FID): ``--keep`` shares kept by D's score (the highest), and Azadi et al.'s (2019)
    rejection sampling, which accepts x with probability min(1, exp(D(x) − M)) — D's logit estimates
    log p_data/p_G for the GAN loss — with M the ``--drs-quantile`` quantile of the logits."""
    run = load_run(args.run_dir)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        x = torch.cat([run.generator(z) for z in torch.randn(20_000, run.generator.latent_dim, generator=gen).split(1000)])
        logit = torch.cat([run.discriminator(b).flatten() for b in x.split(1000)]).double()
    uniform = torch.rand(len(x), generator=gen, dtype=torch.float64)
    order = logit.argsort(descending=True)
    kept = {f"keep {keep}": order[: int(keep * len(x))][torch.randperm(int(keep * len(x)), generator=gen)] for keep in args.keep}
    for q in args.drs_quantile:
        accept = torch.exp((logit - torch.quantile(logit, q)).clamp(max=0))
        kept[f"drs quantile {q} (acceptance {accept.mean():.3f})"] = (uniform < accept).nonzero().flatten()
    for name, index in kept.items():
        scores = evaluate(x[index[:5000]], run.data, "cls_is,cls_fid")
        print(json.dumps({"rule": name, "cls_is": scores["cls_is"]["mean"], "H(y|x)": scores["cls_is"]["conditional_entropy"],
                          "H(y)": scores["cls_is"]["class_entropy"], "cls_fid": scores["cls_fid"]["value"],
                          "floor": scores["cls_fid"]["floor"]}), flush=True)  # fmt: skip


def steptime(args: argparse.Namespace) -> None:
    """Median milliseconds per ``train_step`` of ``mnist-fast-unconditional`` under each variant (a space-separated override
    list; "" is the recipe as shipped), variants interleaved in rounds so that machine load hits them alike."""
    torch.set_num_threads(args.threads)
    set_architecture(args.kernel, args.g_dim, args.g_up, args.g_norm)
    trainers = {}
    for variant in args.variant:
        config = load_config("mnist-fast-unconditional", [f"data.root={args.data_root}", *variant.split()])
        trainers[variant] = build_trainer(config, torch.device("cpu"), load_experiment_data(config))
        for _ in range(10):  # warm-up
            trainers[variant].train_step()
    times: dict[str, list[float]] = {variant: [] for variant in trainers}
    for _ in range(args.rounds):
        for variant, trainer in trainers.items():
            start = time.perf_counter()
            for _ in range(20):
                trainer.train_step()
            times[variant].append((time.perf_counter() - start) / 20)
    first = statistics.median(times[args.variant[0]])
    print(f"mnist-fast-unconditional train_step, CPU, {args.threads} threads, median of {args.rounds} rounds of 20 steps")
    for variant, values in times.items():
        ms = 1000 * statistics.median(values)
        print(f"{variant or '(as shipped)':<50} {ms:8.1f} ms  {ms / 1000 / first:5.2f}x the first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train")
    t.add_argument("--data-root", required=True)
    t.add_argument("--steps", type=int, default=6000)
    t.add_argument("--every", type=int, default=1000)
    t.add_argument("--bn-modes", action="store_true")
    t.add_argument("--r1-rows", type=int)
    t.add_argument("--r1-gamma", type=float)
    t.add_argument("--top-k", type=float, default=1.0, metavar="NU", help="top-k generator loss, k annealed to NU·batch")
    t.add_argument("--info-codes", type=int, default=0, metavar="K", help="InfoGAN categorical code with K values")
    t.add_argument("--info-weight", type=float, default=1.0, help="weight of the InfoGAN loss (default 1)")
    t.add_argument("--lookahead", metavar="K:ALPHA", help="Lookahead-minmax on both players, e.g. 5:0.5")
    t.add_argument("--relativistic", action="store_true", help="RpGAN loss (relativistic pairing)")
    t.add_argument("--r2", type=float, default=0.0, metavar="GAMMA", help="add R2 (γ/2)·E|∇D(fake)|² on 16 fakes")
    t.add_argument("--average", action="append", default=[], metavar="KIND:DECAY:START")
    t.add_argument("overrides", nargs="*")
    d = commands.add_parser("diagnose")
    d.add_argument("run_dir")
    r = commands.add_parser("reject")
    r.add_argument("run_dir")
    r.add_argument("--keep", type=float, nargs="+", default=[1.0, 0.9, 0.8, 0.6], help="shares of samples kept")
    r.add_argument("--drs-quantile", type=float, nargs="*", default=[0.5, 0.99], help="M of rejection sampling")
    st = commands.add_parser("steptime")
    st.add_argument("--data-root", required=True)
    st.add_argument("--variant", action="append", required=True, metavar="OVERRIDES")
    st.add_argument("--threads", type=int, default=torch.get_num_threads())
    st.add_argument("--rounds", type=int, default=5)
    for sub in (t, st):
        sub.add_argument("--kernel", type=int, choices=(3, 4, 5), default=5, help="kernel size of every DCGAN layer")
        sub.add_argument("--g-dim", type=int, help="the generator's DIM (default: the config's model.dim, as D's)")
        sub.add_argument("--g-up", choices=("transposed", "nearest"), default="transposed",
                         help="G's 2× up-sampling: transposed convolution (the library's) or nearest + convolution")
        sub.add_argument("--g-norm", choices=("batch", "none"), default="batch", help="G's normalization layers")
    args = parser.parse_args()
    retain_freed_memory()  # as the proxgan CLI does (proxgan.allocator)
    {"train": train, "diagnose": diagnose, "reject": reject, "steptime": steptime}[args.command](args)


if __name__ == "__main__":
    main()
