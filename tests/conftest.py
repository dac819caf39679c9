"""Suite-wide settings: the test models are tiny, and on a 2-core machine one intra-op thread is
several times faster for them than two (no OpenMP contention between the test process's threads).

Population BatchNorm statistics (proxgan.models.batchnorm) on 512 latents, one batch, instead of 16,384: every
sampled generator computes them, and the pipeline smoke tests sample DCGANs at DIM 128; the formula is what the
tests check (test_models.py passes its own latent counts). Set for the whole session, before any fixture, in the
environment, so that module-scoped fixtures and spawned workers use the same count as the tests.
"""

import os

import torch

torch.set_num_threads(1)
os.environ["PROXGAN_BATCHNORM_LATENTS"] = "512"
