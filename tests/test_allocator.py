"""proxgan.allocator: glibc accepts the settings, the CLI applies them, and a run's numbers do not change."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from proxgan import allocator

GLIBC = (getattr(os, "confstr", lambda name: None)("CS_GNU_LIBC_VERSION") or "").startswith("glibc")

#: three mnist-fast-unconditional steps (bf16, R1's double backward, reuse_fake) on random images in a fresh process;
#: prints a digest of every weight of G and D
TRAIN = """
import hashlib, sys, torch
from proxgan.allocator import retain_freed_memory
if sys.argv[1] == "retained":
    assert retain_freed_memory()
from proxgan.config import load_config
from proxgan.data import InMemoryData
from proxgan.train import build_trainer
torch.set_num_threads(1)
torch.manual_seed(0)
data = InMemoryData("random", torch.rand(512, 1, 28, 28) * 2 - 1)
trainer = build_trainer(load_config("mnist-fast-unconditional", ["train.batch_size=64"]), torch.device("cpu"), data)
for _ in range(3):
    trainer.train_step()
digest = hashlib.sha256()
for module in (trainer.G, trainer.D):
    for tensor in module.state_dict().values():
        digest.update(tensor.detach().contiguous().numpy().tobytes())
print(digest.hexdigest())
"""


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_glibc_accepts_every_setting():
    """mallopt returns 1 for each value (it refuses an mmap threshold above 32 MiB, for one)."""
    assert allocator.SETTINGS[allocator.M_MMAP_THRESHOLD] <= 32 << 20
    assert allocator.retain_freed_memory() is True


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_training_is_bit_identical_with_the_settings():
    runs = {name: subprocess.run([sys.executable, "-c", TRAIN, name], capture_output=True, text=True, check=True)
            for name in ("default", "retained")}
    digests = {name: run.stdout.strip().splitlines()[-1] for name, run in runs.items()}
    assert len(digests["default"]) == 64 and digests["default"] == digests["retained"]


def test_the_cli_applies_the_settings(monkeypatch):
    import proxgan.cli

    calls = []
    monkeypatch.setattr(proxgan.cli, "retain_freed_memory", lambda: calls.append(1))
    with pytest.raises(SystemExit) as done:
        proxgan.cli.main.main(["--version"])
    assert done.value.code == 0 and calls == [1]
