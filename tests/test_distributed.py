"""Data parallelism on CPU (gloo, 2 processes) through DistributedDataParallel: gradients are averaged
through the Sobolev penalty's double backprop, and regular and proximal training keep every process's
G and D identical while each sees its own data."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from proxgan.config import config_from_dict
from proxgan.objectives import get_formulation
from proxgan.gradients import input_gradients
from proxgan.proximal import proximal_loss
from proxgan.train import train

WORLD = 2


def small_critic():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64, 1), nn.Flatten(0))


def penalized_loss(D, real, fake):
    """Algorithm 1's inner loss with λ = 0.5; it reaches the weights through ∇ₓD(x) (double backprop)."""
    reference = 0.5 * input_gradients(small_critic(), real, create_graph=False)
    wgan_gp = get_formulation("wgan-gp")
    return proximal_loss(D, real, fake, wgan_gp.objective.discriminator_loss, reference, 0.5, penalty=wgan_gp.regularizer)[0]


def check_gradient_average(rank):
    """A DDP-wrapped critic's backward leaves ∇ of the mean of both processes' losses on each process."""
    batches = [torch.randn(2, 6, 1, 8, 8, generator=torch.Generator().manual_seed(100 + r)) for r in range(WORLD)]
    model = DistributedDataParallel(small_critic())
    torch.manual_seed(7)  # the gradient penalty's interpolation weights
    penalized_loss(model, *batches[rank]).backward()
    reference = small_critic()
    total = 0.0
    for b in batches:
        torch.manual_seed(7)
        total = total + penalized_loss(reference, *b) / WORLD
    total.backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), (p.grad, q.grad)
    alone = small_critic()
    torch.manual_seed(7)
    penalized_loss(alone, *batches[rank]).backward()
    assert not torch.allclose(alone[0].weight.grad, reference[0].weight.grad)  # the data do differ


def check_training_stays_in_sync(rank, out_dir, strategy):
    config = config_from_dict({
        "seed": 2, "formulation": "wgan-gp", "data": {"name": "ring8", "n": 256},
        "model": {"arch": "mlp", "dim": 4, "latent_dim": 2},
        "train": {"strategy": strategy, "steps": 2, "batch_size": 16, "n_critic": 2,
                  "average": {"kind": "ema", "decay": 0.5}},
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
    assert isinstance(trainer.D_parallel, DistributedDataParallel) and trainer.D_parallel.module is trainer.D
    flat = torch.cat([t.detach().flatten() for t in (*trainer.G.parameters(), *trainer.D.parameters(),
                                                      *trainer.G_average.module.parameters())])
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
