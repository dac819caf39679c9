"""Suite-wide settings: the test models are tiny, and on a 2-core machine one intra-op thread is
several times faster for them than two (no OpenMP contention between the test process's threads)."""

import torch

torch.set_num_threads(1)
