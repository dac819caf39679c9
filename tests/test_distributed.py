"""Data parallelism on CPU (gloo, 2 processes): gradients are averaged through double backprop, and
regular and proximal training keep every process's G and D identical while each sees its own data."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from proxgan.config import config_from_dict
from proxgan.proximal import sobolev_penalty
from proxgan.train import average_gradients, train

WORLD = 2


def penalized_loss(model, x):
    """A loss that reaches the weights only through ∇ₓ model(x) plus a plain term: needs double backprop."""
    return sobolev_penalty(model, x, torch.zeros_like(x)) + model(x).mean()


def small_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))


def check_gradient_average(rank):
    """After the step pre-hook, each process holds ∇ of the mean of both processes' losses."""
    batches = [torch.randn(4, 3, generator=torch.Generator().manual_seed(100 + r)) for r in range(WORLD)]
    model = small_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    optimizer.register_step_pre_hook(average_gradients)
    penalized_loss(model, batches[rank]).backward()
    optimizer.step()
    reference = small_mlp()
    (sum(penalized_loss(reference, b) for b in batches) / WORLD).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), (p.grad, q.grad)
    alone = small_mlp()
    penalized_loss(alone, batches[rank]).backward()
    assert not torch.allclose(alone[0].weight.grad, reference[0].weight.grad)  # the data do differ


def check_training_stays_in_sync(rank, out_dir, strategy):
    config = config_from_dict({
        "seed": 2, "formulation": "wgan-gp", "data": {"name": "ring8", "n": 256},
        "model": {"arch": "mlp", "dim": 4, "latent_dim": 2},
        "train": {"strategy": strategy, "steps": 2, "batch_size": 16, "n_critic": 2},
        "proximal": {"steps": 2, "lam": 0.1},
        "log": {"every": 1, "sample_every": 100, "checkpoint_every": 100, "n_samples": 16},
    })  # fmt: skip
    import proxgan.train as train_module

    captured = {}
    build = train_module.build_trainer
    train_module.build_trainer = lambda *a: captured.setdefault("trainer", build(*a))
    doc = train(config, f"{out_dir}/{strategy}")
    train_module.build_trainer = build
    trainer = captured["trainer"]
    assert trainer.batch_size == 8  # the global batch of 16 is split over the 2 processes
    flat = torch.cat([t.detach().flatten() for t in (*trainer.G.parameters(), *trainer.D.parameters())])
    gathered = [torch.empty_like(flat) for _ in range(WORLD)]
    dist.all_gather(gathered, flat)
    assert torch.equal(gathered[0], gathered[1])
    if rank == 0:
        assert doc["results"]["processes"] == WORLD and doc["results"]["status"] == "completed"
    else:
        assert doc == {}


def worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        check_gradient_average(rank)
        for strategy in ("regular", "proximal"):
            check_training_stays_in_sync(rank, out_dir, strategy)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="gloo backend unavailable")
def test_two_process_gloo_training(tmp_path):
    mp.start_processes(worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, start_method="fork")
    assert (tmp_path / "proximal" / "results.json").is_file() and (tmp_path / "regular" / "checkpoints" / "last.pt").is_file()
