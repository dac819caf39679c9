"""In-memory datasets: ranges, shapes, mixture geometry, index batching, and clear errors for missing data."""

import math
import os
from pathlib import Path

import pytest
import torch

from proxgan.data import DATASETS, load_dataset, mixture_centers, to_unit_range
from proxgan.errors import ProxganError

#: the MNIST copy beside the checkout (../shared/data), or $PROXGAN_MNIST_ROOT; the test skips without it
MNIST_ROOT = Path(os.environ.get("PROXGAN_MNIST_ROOT", Path(__file__).resolve().parents[2] / "shared" / "data"))


def test_digits_is_embedded_and_scaled_to_the_tanh_range():
    data = load_dataset("digits")
    assert data.x.shape == (1797, 1, 8, 8) and data.shape == (1, 8, 8) and data.is_image
    assert data.x.min() == -1.0 and data.x.max() == 1.0
    assert data.labels.shape == (1797,) and set(data.labels.tolist()) == set(range(10))


def test_to_unit_range_is_the_affine_map_to_minus_one_one():
    assert to_unit_range(torch.tensor([0, 51, 255], dtype=torch.uint8)).tolist() == pytest.approx([-1.0, -0.6, 1.0])


def test_mixture_centers_geometry():
    ring = mixture_centers("ring8")
    assert torch.allclose(ring.norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(ring[:, 1], ring[:, 0]).remainder(2 * math.pi).sort().values
    assert torch.allclose(angles.diff(), torch.full((7,), math.pi / 4), atol=1e-6)
    grid = mixture_centers("grid25")
    assert grid.shape == (25, 2) and set(grid[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_samples_sit_at_their_centers_with_the_stated_std(name):
    data = load_dataset(name, n=20_000, seed=3)
    centers, std = data.meta["centers"], data.meta["std"]
    residual = data.x - centers[data.labels]
    assert residual.std().item() == pytest.approx(std, rel=0.03)
    counts = torch.bincount(data.labels, minlength=len(centers)).float()
    assert counts.min() > 0.8 * counts.mean()  # equal weights


def test_gaussian_moments_and_reproducibility():
    data = load_dataset("gaussian", n=40_000, dim=3, mean=1.5, std=0.5, seed=7)
    assert data.x.shape == (40_000, 3)
    assert torch.allclose(data.x.mean(0), torch.full((3,), 1.5), atol=0.02)
    assert torch.allclose(data.x.std(0), torch.full((3,), 0.5), atol=0.02)
    assert torch.equal(data.x, load_dataset("gaussian", n=40_000, dim=3, mean=1.5, std=0.5, seed=7).x)
    assert data.meta["sigma"] == 0.5 and data.meta["mean"].tolist() == [1.5] * 3


def test_batch_is_indexed_by_the_generator_and_reproducible():
    data = load_dataset("digits", n=100, seed=1)
    assert len(data) == 100
    a = data.batch(32, torch.Generator().manual_seed(5))
    b = data.batch(32, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (32, 1, 8, 8)
    idx = torch.randint(100, (32,), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, data.x[idx])


def test_to_moves_tensors_and_meta():
    data = load_dataset("ring8", n=10).to("meta")
    assert data.x.device.type == "meta" and data.meta["centers"].device.type == "meta"


def test_subset_is_seeded():
    a, b = load_dataset("digits", n=50, seed=2), load_dataset("digits", n=50, seed=3)
    assert torch.equal(a.x, load_dataset("digits", n=50, seed=2).x) and not torch.equal(a.x, b.x)


@pytest.mark.parametrize("name,expected", [("mnist", "train-images-idx3-ubyte"), ("cifar10", "data_batch_1"),
                                           ("celeba", "img_align_celeba")])
def test_missing_torchvision_data_names_path_and_files(tmp_path, name, expected):
    with pytest.raises(ProxganError) as err:
        load_dataset(name, root=tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message and expected in message and "\n" not in message


def test_bad_input_is_a_proxgan_error():
    with pytest.raises(ProxganError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
    with pytest.raises(ProxganError, match="needs a data root"):
        load_dataset("mnist")
    with pytest.raises(ProxganError, match="data.n"):
        load_dataset("digits", n=0)
    with pytest.raises(ProxganError, match="data.std"):
        load_dataset("ring8", std=-1.0)
    assert set(DATASETS) == {"digits", "mnist", "cifar10", "celeba", "gaussian", "ring8", "grid25"}


@pytest.mark.skipif(not (MNIST_ROOT / "MNIST" / "raw").is_dir(), reason="MNIST not present")
def test_mnist_loads_as_one_tensor():
    data = load_dataset("mnist", root=MNIST_ROOT, n=1000)
    assert data.x.shape == (1000, 1, 28, 28) and data.x.min() == -1.0 and data.x.max() == 1.0


def test_read_idx_reads_the_mnist_format_and_refuses_damage(tmp_path):
    import struct

    from proxgan.data import read_idx

    data = torch.arange(2 * 3 * 4, dtype=torch.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(b"\0\0\x08\x03" + struct.pack(">3I", 2, 3, 4) + data.numpy().tobytes())
    assert torch.equal(read_idx(path), data)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ProxganError, match="truncated or damaged"):
        read_idx(path)
    path.write_bytes(b"hello world")
    with pytest.raises(ProxganError, match="not an IDX file"):
        read_idx(path)


def test_mnist_reader_equals_torchvisions_when_the_data_is_here():
    from proxgan.data import mnist_split

    root = MNIST_ROOT
    if not (root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file():
        pytest.skip(f"MNIST not found under {root}")
    from torchvision.datasets import MNIST

    x, y = mnist_split(root, "test")
    reference = MNIST(root=str(root), train=False)
    assert torch.equal(x, reference.data.float().mul(2 / 255).sub(1).unsqueeze(1)) and torch.equal(y, reference.targets)
