"""Suite-wide settings: the test models are tiny, and on a 2-core machine one intra-op thread is
several times faster for them than two (no OpenMP contention between the test process's threads)."""

import torch

torch.set_num_threads(1)


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def fewer_batchnorm_latents(monkeypatch):
    """Population BatchNorm statistics on 512 latents (one batch) instead of 16,384: every sampled generator
    computes them, and the pipeline smoke tests sample DCGANs at DIM 128; the formula is what the tests check
    (test_models.py passes its own latent counts)."""
    from proxgan.models import batchnorm

    monkeypatch.setattr(batchnorm, "LATENTS", 512)
