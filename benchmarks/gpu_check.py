"""One prepared GPU check, run as is by whoever has a CUDA device (≤ 8 minutes on one GPU):

    python benchmarks/gpu_check.py [--data-root DIR] [--out runs/gpu-check]

1. training steps on CUDA, regular and proximal (Algorithm 1), float32 and bfloat16 autocast, DCGAN at
   DIM 64 on 32×32 images: every loss and every weight finite after the steps;
2. the proximal inner loss −V + λ/(2n) Σᵢ ‖∇ₓD_w(xᵢ) − ∇ₓD_{w_k}(xᵢ)‖² (eq. 14's inner problem):
   its gradient in w on CUDA against the CPU's, both in float64 on one fixed batch (max relative error), by
   double backprop and by the chain gradient of proxgan.piecewise (the path proxgan's own D takes);
3. throughput, generator iterations per second, of regular (n_critic 5) and proximal (T = 5 and the paper's
   T = 20) training at DIM 64 and 128, batch 64, float32 and bf16 autocast, measured after warm-up in this one
   run, and each one's time per iteration over regular float32's;
4. peak GPU memory of each throughput cell (torch.cuda.max_memory_allocated);
5. with ``--data-root`` (MNIST and CIFAR-10 there): ``proxgan reproduce --scale gpu --smoke`` on the device.

Without CUDA it runs the same code on the CPU with small sizes (DIM 8, 2 iterations: the CPU fallback,
which tests/test_reliability.py runs), reports ``"device": "cpu"`` and compares CPU float64 with itself.
Prints one JSON document (also written to OUT/gpu_check.json); exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path

import torch

from proxgan.config import config_from_dict
from proxgan.data import InMemoryData
from proxgan.train import build_trainer

#: relative tolerance of the float64 CUDA-vs-CPU gradient comparison (different reduction orders only)
GRADIENT_RTOL = 1e-9


def experiment(strategy: str, dim: int, *, amp: bool, batch: int, inner_steps: int = 5):
    """SN-GAN regular (n_critic 5) or proximal (T = ``inner_steps`` inner Adam steps, λ = 0.1) on 32×32 RGB images."""
    return config_from_dict({
        "formulation": "sngan", "data": {"name": "cifar10"}, "model": {"arch": "dcgan", "dim": dim},
        "train": {"strategy": strategy, "batch_size": batch, "n_critic": 5, "amp": amp, "steps": 1},
        "proximal": {"steps": inner_steps, "lam": 0.1},
    })  # fmt: skip


def images(n: int, device: torch.device, seed: int = 0) -> InMemoryData:
    gen = torch.Generator().manual_seed(seed)
    return InMemoryData("cifar10", (torch.rand(n, 3, 32, 32, generator=gen) * 2 - 1).to(device), None, {"resolution": 32})


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_steps(device: torch.device, dim: int, steps: int) -> list[dict]:
    """Check 1: ``steps`` iterations per (strategy, amp); finiteness of the losses and the weights."""
    rows = []
    for strategy in ("regular", "proximal"):
        for amp in (False, True):
            trainer = build_trainer(experiment(strategy, dim, amp=amp, batch=16), device, images(256, device))
            stats = [trainer.train_step() for _ in range(steps)]
            finite_losses = all(math.isfinite(v) for s in stats for v in s.values())
            finite_weights = all(bool(p.isfinite().all()) for m in (trainer.G, trainer.D) for p in m.parameters())
            rows.append({"strategy": strategy, "bf16": amp, "steps": steps, "last": stats[-1],
                         "finite": finite_losses and finite_weights})  # fmt: skip
    return rows


def inner_gradient(device: torch.device, dim: int) -> dict:
    """Check 2: ∇_w of the proximal inner loss on CUDA vs CPU, float64, one fixed batch, w ≠ w_k."""
    from proxgan.models import build_models
    from proxgan.objectives import get_formulation
    from proxgan.gradients import input_gradients
    from proxgan.piecewise import chain_of, chain_step
    from proxgan.proximal import frozen_copy, proximal_loss

    torch.manual_seed(0)
    # WGAN-WC: no spectral norm and no random draws in the loss (WGAN-GP's interpolation points would come from
    # the CPU's and the GPU's different generators), so the loss is the same function of w on both devices
    formulation = get_formulation("wgan-wc")
    _, D = build_models("dcgan", (3, 32, 32), dim=dim, spectral_norm=False)
    D = D.double()
    reference = frozen_copy(D)
    with torch.no_grad():
        for p in D.parameters():
            p.add_(0.01 * torch.randn_like(p))  # w = w_k + a perturbation, so the penalty is not zero
    gen = torch.Generator().manual_seed(1)
    real = torch.rand(16, 3, 32, 32, generator=gen, dtype=torch.float64) * 2 - 1
    fake = torch.rand(16, 3, 32, 32, generator=gen, dtype=torch.float64) * 2 - 1

    def gradient(on: torch.device, chain: bool = False) -> list[torch.Tensor]:
        D_on, ref_on = D.to(on), reference.to(on)
        ref_grads = input_gradients(ref_on, real.to(on), create_graph=False)
        loss = formulation.objective.discriminator_loss
        if chain:  # the inner step of proxgan's own discriminators: no double backprop (proxgan.piecewise)
            D_on.zero_grad(set_to_none=True)
            chain_step(chain_of(D_on), real.to(on), fake.to(on), loss, ref_grads, 0.1)[3]()
            return [p.grad.cpu() for p in D_on.parameters()]
        total, _, _ = proximal_loss(D_on, real.to(on), fake.to(on), loss, ref_grads, 0.1, penalty=formulation.regularizer)
        return [g.cpu() for g in torch.autograd.grad(total, list(D_on.parameters()))]

    cpu = gradient(torch.device("cpu"))
    scale = max(g.abs().max().item() for g in cpu)
    errors = {name: max((a - b).abs().max().item() for a, b in zip(cpu, gradient(device, chain))) / scale
              for name, chain in (("max_relative_error", False), ("chain_max_relative_error", True))}
    return {"dtype": "float64", **errors, "tolerance": GRADIENT_RTOL, "ok": max(errors.values()) <= GRADIENT_RTOL}


#: the throughput cells: name -> (strategy, inner steps T, bf16 autocast)
CELLS = {"regular": ("regular", 5, False), "proximal": ("proximal", 5, False), "proximal_t20": ("proximal", 20, False),
         "regular_bf16": ("regular", 5, True), "proximal_t20_bf16": ("proximal", 20, True)}


def throughput(device: torch.device, dims: tuple[int, ...], iterations: int, warmup: int) -> list[dict]:
    """Checks 3 and 4: generator iterations per second and peak memory of each of :data:`CELLS`, per DIM,
    and each cell's time per iteration over the regular (float32) one's."""
    rows = []
    for dim in dims:
        cell = {}
        for name, (strategy, inner_steps, amp) in CELLS.items():
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            config = experiment(strategy, dim, amp=amp, batch=64, inner_steps=inner_steps)
            trainer = build_trainer(config, device, images(1024, device))
            for _ in range(warmup):
                trainer.train_step()
            synchronize(device)
            start = time.perf_counter()
            for _ in range(iterations):
                trainer.train_step()
            synchronize(device)
            seconds = time.perf_counter() - start
            peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
                    else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # fmt: skip
            cell[name] = {"iterations_per_second": iterations / seconds, "peak_memory_mib": peak / 2**20}
        regular = cell["regular"]["iterations_per_second"]
        rows.append({"dim": dim, **cell, "time_over_regular": {name: regular / c["iterations_per_second"]
                                                               for name, c in cell.items()}})  # fmt: skip
    return rows


def reproduce_slice(device: torch.device, data_root: str, out: Path) -> dict:
    """Check 5: ``proxgan reproduce --scale gpu --smoke`` on the device (train, nash, proximal, table1)."""
    from proxgan.reproduce import run_pipeline

    start = time.perf_counter()
    doc = run_pipeline(out / "reproduce", scale="gpu", smoke=True, stages="train,nash,proximal,table1",
                       data_root=data_root, device=str(device))
    statuses = {name: stage["status"] for name, stage in doc["results"]["stages"].items()}
    ok = all(statuses[s] == "done" for s in ("train", "nash", "proximal", "table1"))
    return {"stages": statuses, "seconds": time.perf_counter() - start, "ok": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=None, help="MNIST and CIFAR-10 (torchvision layout) for the reproduce slice")
    parser.add_argument("--out", default="runs/gpu-check", help="where gpu_check.json (and the reproduce slice) go")
    parser.add_argument("--cpu", action="store_true", help="run the CPU fallback even where CUDA is available")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available() and not args.cpu
    device = torch.device("cuda" if cuda else "cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = {"dim": 64, "steps": 5, "dims": (64, 128), "iterations": 30, "warmup": 5} if cuda else \
            {"dim": 8, "steps": 2, "dims": (8,), "iterations": 2, "warmup": 1}  # fmt: skip
    start = time.perf_counter()
    report = {
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda, "sizes": sizes,
        "training_steps": training_steps(device, sizes["dim"], sizes["steps"]),
        "inner_gradient_vs_cpu": inner_gradient(device, sizes["dim"]),
        "throughput": throughput(device, sizes["dims"], sizes["iterations"], sizes["warmup"]),
    }  # fmt: skip
    if args.data_root:
        report["reproduce_gpu_smoke"] = reproduce_slice(device, args.data_root, out)
    report["seconds"] = time.perf_counter() - start
    report["ok"] = (all(r["finite"] for r in report["training_steps"]) and report["inner_gradient_vs_cpu"]["ok"]
                    and report.get("reproduce_gpu_smoke", {"ok": True})["ok"])  # fmt: skip
    text = json.dumps(report, indent=2, default=float)
    (out / "gpu_check.json").write_text(text + "\n")
    print(text)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
