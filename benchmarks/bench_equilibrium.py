"""Cost of one proximal-test generator step as a multiple of one plain (Nash-test) generator step.

A Nash-test step is one forward/backward of G through the frozen D. A proximal-test step first runs
the inner maximization of eq. (11) from w_final (``--inner-steps`` Adam steps, each a double-backprop
through D for the Sobolev penalty, plus the gradient penalty for WGAN-GP), then the same generator
step against D_w* (Proposition 4). The reference gradients ∇ₓD_wfinal(x) are computed once per
generator step, not once per inner step. Prints measured milliseconds and the ratio from one run.

    python benchmarks/bench_equilibrium.py                      # digits DCGAN (the embedded default), WGAN-GP
    python benchmarks/bench_equilibrium.py --arch mlp --data ring8 --formulation wgan-gp
"""

from __future__ import annotations

import argparse
import time

import torch

from proxgan.data import load_dataset
from proxgan.equilibrium import EquilibriumConfig, apply_gradient, generator_gradient, proximal_discriminator, trainable
from proxgan.models import build_models
from proxgan.objectives import get_formulation
from proxgan.proximal import frozen_copy


def time_steps(step, repeats: int) -> float:
    """Median wall seconds of ``step()`` over ``repeats`` calls, after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan", choices=["dcgan", "mlp"])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--formulation", default="wgan-gp")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--inner-steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    data = load_dataset(args.data).to(args.device)
    formulation = get_formulation(args.formulation)
    G, D = build_models(args.arch, data.shape, dim=args.dim, spectral_norm=formulation.spectral_norm)
    G, D = G.to(args.device).train(), D.to(args.device)
    D_frozen, D_work = frozen_copy(D), frozen_copy(D)
    w_final = {k: v.clone() for k, v in D.state_dict().items()}
    config = EquilibriumConfig(inner_steps=args.inner_steps)
    optimizer = torch.optim.Adam(trainable(G), lr=1e-4, betas=(0.5, 0.9))
    gen = torch.Generator(args.device).manual_seed(0)

    def batch():
        return data.batch(args.batch_size, gen), torch.randn(args.batch_size, G.latent_dim, generator=gen, device=args.device)

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    def nash_step():
        real, z = batch()
        fake = G(z)
        apply_gradient(G, optimizer, generator_gradient(G, D_frozen, formulation, real, fake, "value"))
        sync()

    def proximal_step():
        real, z = batch()
        fake = G(z)
        D_star = proximal_discriminator(D_work, w_final, formulation, real, fake.detach(), config.proximal)
        apply_gradient(G, optimizer, generator_gradient(G, D_star, formulation, real, fake, "value"))
        sync()

    plain = time_steps(nash_step, args.repeats)
    proximal = time_steps(proximal_step, max(1, args.repeats // 2))
    print(f"setting: {args.arch} on {args.data} ({tuple(data.shape)}), {args.formulation}, batch {args.batch_size}, "
          f"dim {args.dim}, {args.inner_steps} inner steps, {args.threads} thread(s), {args.device}")
    print(f"plain (Nash-test) generator step:     {plain * 1e3:9.2f} ms")
    print(f"proximal-test generator step:          {proximal * 1e3:9.2f} ms")
    print(f"ratio proximal / plain:                {proximal / plain:9.1f} x")
    print(f"per inner step, in plain steps:        {(proximal - plain) / args.inner_steps / plain:9.2f} x")


if __name__ == "__main__":
    main()
