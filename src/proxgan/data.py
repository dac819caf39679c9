"""Datasets held in memory as one tensor on the training device and batched by random index.

Images are scaled to [-1, 1] (the range of the generators' tanh output) with shape (N, C, H, W);
synthetic data are points (N, d). All preprocessing happens once at load time, so a training step
costs one ``randint`` and one ``index_select`` — no per-sample PIL transforms in the loop.

- ``digits``: scikit-learn's 8×8 handwritten digits (1,797 images, shipped with scikit-learn: the
  embedded default, no download).
- ``mnist`` (28×28): read from its IDX files in torchvision's layout under ``root``; ``cifar10`` (32×32)
  and ``celeba`` (64×64, aligned faces center-cropped to 108×108, then resized): the torchvision layouts
  under ``root`` (CIFAR-10's pickled batches and CelebA's JPEGs + list_eval_partition.txt read here, their
  contents validated). Downloaded (by torchvision) only when asked.
- ``gaussian``: N(μ·1, σ²I) in ``dim`` dimensions (the Gaussian games of §3–4).
- ``ring8``: 8 Gaussians of std 0.02 on the circle of radius 2; ``grid25``: 25 Gaussians of std 0.05
  on the grid {-4, -2, 0, 2, 4}² (the mode-collapse benchmarks of Metz et al. 2017 and
  Srivastava et al. 2017).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from proxgan.errors import ProxganError, check_choice, check_positive, check_positive_int
from proxgan.labels import with_labels

IMAGE_DATASETS = ("digits", "mnist", "cifar10", "celeba")
POINT_DATASETS = ("gaussian", "ring8", "grid25")
DATASETS: tuple[str, ...] = IMAGE_DATASETS + POINT_DATASETS

#: default number of points drawn for the synthetic datasets
DEFAULT_POINTS = 50_000
#: per-dataset default std of each mixture component (``gaussian``: σ)
DEFAULT_STD = {"gaussian": 1.0, "ring8": 0.02, "grid25": 0.05}


@dataclass
class InMemoryData:
    """A dataset held as one tensor: images in [-1, 1] of shape (N, C, H, W), or points (N, d)."""

    name: str
    x: Tensor
    labels: Tensor | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for images, (d,) for points."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    def batch(self, batch_size: int, generator: torch.Generator, *, labelled: bool = False) -> Tensor:
        """``batch_size`` samples drawn uniformly with replacement, indices from ``generator``; ``labelled``: with
        their labels as one more channel (:func:`proxgan.labels.with_labels`), the same draw."""
        idx = torch.randint(len(self), (batch_size,), generator=generator, device=generator.device).to(self.x.device)
        x = self.x.index_select(0, idx)
        return with_labels(x, self.labels.index_select(0, idx)) if labelled else x

    def check_classes(self, classes: int) -> None:
        """ProxganError unless the dataset has labels, all in 0..classes-1 (a conditional GAN's model.classes)."""
        if self.labels is None:
            raise ProxganError(f"model.classes={classes} needs a labelled dataset; {self.name} has no labels")
        if int(self.labels.min()) < 0 or int(self.labels.max()) >= classes:
            raise ProxganError(f"model.classes={classes}, but the labels of {self.name} run from {int(self.labels.min())} "
                               f"to {int(self.labels.max())}")

    def to(self, device: str | torch.device) -> InMemoryData:
        """The same dataset with its tensors on ``device``."""

        def move(value):
            return value.to(device) if isinstance(value, Tensor) else value

        return InMemoryData(self.name, self.x.to(device), move(self.labels), {k: move(v) for k, v in self.meta.items()})


def load_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    download: bool = False,
    n: int | None = None,
    seed: int = 0,
    dim: int = 2,
    mean: float = 0.0,
    std: float | None = None,
) -> InMemoryData:
    """Load dataset ``name`` into memory (CPU); ``n`` keeps a seeded random subset (or draws ``n`` points).

    ``dim``, ``mean`` and ``std`` parametrize the synthetic data: ``gaussian`` is N(mean·1, std²I) in
    ``dim`` dimensions; for the mixtures ``std`` is each component's std.
    """
    check_choice("dataset", name, DATASETS)
    if n is not None:
        n = check_positive_int("data.n", n)
    if name in POINT_DATASETS:
        std = DEFAULT_STD[name] if std is None else check_positive("data.std", std)
        return _synthetic(name, n or DEFAULT_POINTS, seed, dim=check_positive_int("data.dim", dim), mean=mean, std=std)
    if name == "digits":
        data = _digits()
    else:
        if root is None:
            raise ProxganError(f"dataset {name!r} needs a data root: pass --data-root DIR or data.root=DIR")
        data = _TORCHVISION[name](Path(root), download)
    if n is not None and n < len(data):
        keep = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
        data = InMemoryData(data.name, data.x[keep], None if data.labels is None else data.labels[keep], data.meta)
    return data


def to_unit_range(pixels: Tensor, max_value: float = 255.0) -> Tensor:
    """Map pixel intensities in [0, max_value] to [-1, 1] as float32: x ↦ 2x/max − 1."""
    return pixels.float().mul_(2.0 / max_value).sub_(1.0)


def _digits() -> InMemoryData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = to_unit_range(torch.as_tensor(bunch.images), 16.0).unsqueeze(1)
    return InMemoryData("digits", x, torch.as_tensor(bunch.target), {"resolution": 8})


def _missing(name: str, root: Path, expected: str) -> ProxganError:
    return ProxganError(
        f"{name} not found under {str(root)!r}: expected {expected}; "
        f"pass --download (data.download=true) to fetch it, or --data-root DIR where it is"
    )


#: MNIST's files in torchvision's layout, ``ROOT/MNIST/raw/``: (images, labels) of the train and test splits
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: Path) -> Tensor:
    """An IDX file of unsigned bytes (LeCun's MNIST format: magic 0x00 0x00 0x08 NDIM, NDIM big-endian
    uint32 sizes, then the data) as a uint8 tensor of those sizes."""
    raw = path.read_bytes()
    if len(raw) < 4 or raw[:3] != b"\0\0\x08":
        raise ProxganError(f"{str(path)!r} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    sizes = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = raw[4 + 4 * ndim :]
    if len(body) != math.prod(sizes):
        raise ProxganError(f"{str(path)!r} is truncated or damaged: {len(body)} data bytes for sizes {list(sizes)}")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(sizes)


def mnist_split(root: Path, split: str, download: bool = False) -> tuple[Tensor, Tensor]:
    """(images in [-1, 1] of shape (N, 1, 28, 28), labels) of MNIST's ``train`` or ``test`` split.

    Read directly from the uncompressed IDX files of torchvision's layout; torchvision is used only to
    download them when they are missing and ``download`` is set.
    """
    folder = Path(root) / "MNIST" / "raw"
    images, labels = (folder / name for name in MNIST_FILES[split])
    if download and not (images.is_file() and labels.is_file()):
        from torchvision.datasets import MNIST

        MNIST(root=str(root), train=split == "train", download=True)
    if not (images.is_file() and labels.is_file()):
        raise _missing(f"MNIST ({split} split)", Path(root), f"MNIST/raw/{MNIST_FILES[split][0]} and {MNIST_FILES[split][1]}")
    return to_unit_range(read_idx(images)).unsqueeze(1), read_idx(labels).long()


def _mnist(root: Path, download: bool) -> InMemoryData:
    x, labels = mnist_split(root, "train", download)
    return InMemoryData("mnist", x, labels, {"resolution": 28, "root": str(root)})  # where the test split is, for metrics


CIFAR10_FOLDER, CIFAR10_TRAIN_BATCHES = "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6))


def _cifar10(root: Path, download: bool) -> InMemoryData:
    """CIFAR-10's 50,000 training images read from the python-version batches (``root/cifar-10-batches-py``).

    Each ``data_batch_i`` is a pickled dict: ``data`` a uint8 array (N, 3072) of N 32×32 images in
    channel-major (R, G, B planes) order and ``labels`` N classes in 0..9. Downloads go through torchvision.
    """
    import numpy as np

    folder = root / CIFAR10_FOLDER
    if download:
        from torchvision.datasets import CIFAR10

        CIFAR10(root=str(root), train=True, download=True)  # fetches and md5-checks the archive
    if not all((folder / name).is_file() for name in CIFAR10_TRAIN_BATCHES):
        raise _missing("CIFAR-10", root, f"{CIFAR10_FOLDER}/data_batch_1 … data_batch_5 and batches.meta")
    images, labels = [], []
    for name in CIFAR10_TRAIN_BATCHES:
        batch = _unpickle(folder / name)
        data = np.asarray(batch.get("data") if isinstance(batch, dict) else None)
        targets = np.asarray(batch.get("labels", []) if isinstance(batch, dict) else [])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or targets.shape != (len(data),) \
                or not np.isin(targets, np.arange(10)).all():
            raise ProxganError(f"damaged CIFAR-10 batch {str(folder / name)!r}: expected 'data' uint8 (N, 3072) "
                               "and N 'labels' in 0..9")  # fmt: skip
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(targets)
    x = to_unit_range(torch.from_numpy(np.concatenate(images)))
    return InMemoryData("cifar10", x, torch.from_numpy(np.concatenate(labels)).long(), {"resolution": 32})


def _unpickle(path: Path) -> object:
    """A CIFAR batch as torchvision reads it (``pickle`` with latin-1 strings); unreadable is a ProxganError."""
    import pickle

    try:
        with path.open("rb") as f:
            return pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError, OSError) as exc:
        raise ProxganError(f"damaged CIFAR-10 batch {str(path)!r}: cannot unpickle it ({type(exc).__name__})") from None


CELEBA_FOLDER, CELEBA_PARTITION, CELEBA_IMAGES = "celeba", "list_eval_partition.txt", "img_align_celeba"


def _celeba(root: Path, download: bool, crop: int = 108, resolution: int = 64) -> InMemoryData:
    """CelebA's aligned training faces (partition 0 of ``list_eval_partition.txt``: ``<image> <0|1|2>`` lines),
    JPEGs from ``img_align_celeba/``, center-cropped to ``crop`` pixels and resized to ``resolution`` (once).
    Downloads go through torchvision."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.v2 import functional as F

    folder = root / CELEBA_FOLDER
    if download:
        from torchvision.datasets import CelebA

        CelebA(root=str(root), split="train", target_type=[], download=True)
    partition = folder / CELEBA_PARTITION
    if not partition.is_file() or not (folder / CELEBA_IMAGES).is_dir():
        raise _missing("CelebA", root, f"{CELEBA_FOLDER}/{CELEBA_IMAGES}/ and {CELEBA_FOLDER}/{CELEBA_PARTITION} "
                       "(with the other list_*.txt)")  # fmt: skip
    names = []
    for number, line in enumerate(partition.read_bytes().decode("utf-8", "replace").splitlines(), 1):
        fields = line.split()
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            if line.strip():
                raise ProxganError(f"damaged {str(partition)!r}: line {number} is not '<image> <0|1|2>'")
            continue
        if fields[1] == "0":
            names.append(fields[0])
    if not names:
        raise ProxganError(f"{str(partition)!r} lists no training image (partition 0)")
    x = torch.empty(len(names), 3, resolution, resolution, dtype=torch.uint8)
    for i, name in enumerate(names):
        path = folder / CELEBA_IMAGES / name
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise ProxganError(f"cannot read CelebA image {str(path)!r}: {type(exc).__name__}") from None
        image = torch.from_numpy(pixels.copy()).permute(2, 0, 1)
        x[i] = F.resize(F.center_crop(image, [crop, crop]), [resolution, resolution], antialias=True)
    return InMemoryData("celeba", to_unit_range(x), None, {"resolution": resolution})


_TORCHVISION: dict[str, Callable[[Path, bool], InMemoryData]] = {
    "mnist": _mnist,
    "cifar10": _cifar10,
    "celeba": _celeba,
}


def mixture_centers(name: str) -> Tensor:
    """Component means: 8 points 2·(cos 2πk/8, sin 2πk/8) for ``ring8``; {-4,-2,0,2,4}² for ``grid25``."""
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return (2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)).float()
    grid = torch.arange(-4.0, 5.0, 2.0)
    return torch.cartesian_prod(grid, grid)


def _synthetic(name: str, n: int, seed: int, *, dim: int, mean: float, std: float) -> InMemoryData:
    """``n`` points: N(mean·1, std²I) for ``gaussian``; an equal-weight mixture N(c_k, std²I) otherwise."""
    gen = torch.Generator().manual_seed(seed)
    if name == "gaussian":
        mu = torch.full((dim,), float(mean))
        x = mu + std * torch.randn(n, dim, generator=gen)
        return InMemoryData(name, x, None, {"mean": mu, "sigma": std})
    centers = mixture_centers(name)
    labels = torch.randint(len(centers), (n,), generator=gen)
    x = centers[labels] + std * torch.randn(n, 2, generator=gen)
    return InMemoryData(name, x, labels, {"centers": centers, "std": std})
