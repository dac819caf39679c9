"""Metrics that need no Inception: a LeNet trained by proxgan on the dataset itself (MNIST, digits).

- classifier Inception score: exp(E_x KL(p(y|x) ‖ p(y))) with the LeNet's class posteriors (max 10);
- classifier FID: the Fréchet distance (``frechet.frechet_distance``) between Gaussians fitted to the
  LeNet's penultimate features of the samples and of the training data.

The LeNet is trained once on the training split (MNIST: 60,000 images; digits: a seeded 80 % of the
1,797 images) and cached on disk with its held-out accuracy (MNIST: the 10,000 test images; digits:
the other 20 %), which every score reports next to itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from proxgan.errors import ProxganError, check_choice
from proxgan.io import atomic_write
from proxgan.metrics.features import Progress, batched_apply

CLASSIFIER_DATASETS = ("digits", "mnist")
#: bump when the architecture or training recipe changes: old cache files are then ignored
RECIPE_VERSION = 2
EPOCHS = {"digits": 40, "mnist": 4}
DIGITS_TEST_FRACTION = 0.2


class LeNet(nn.Module):
    """conv5-32 → pool → conv5-64 → pool → fc-128 (the feature layer) → fc-10, for [-1, 1] images."""

    def __init__(self, channels: int = 1, resolution: int = 28, n_classes: int = 10, feature_dim: int = 128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * (resolution // 4) ** 2, feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations (N, feature_dim): the space of the classifier FID."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.body(x)
        return features, self.head(features)


@dataclass
class TrainedClassifier:
    """A LeNet with the dataset it was trained on and its held-out accuracy."""

    model: LeNet
    dataset: str
    test_accuracy: float
    cache_path: str

    @property
    def identity(self) -> str:
        return f"lenet-{self.dataset}-v{RECIPE_VERSION}"

    def outputs(self, images: Tensor, *, batch_size: int = 512, device="cpu", progress: Progress | None = None):
        """(penultimate features, logits) of ``images`` in [-1, 1], computed in batches on ``device``."""
        self.model.to(device).eval()
        return batched_apply(
            self.model.features_and_logits, images, batch_size=batch_size, device=device, progress=progress
        )


def train_classifier(
    x: Tensor, labels: Tensor, *, epochs: int, seed: int = 0, batch_size: int = 128, lr: float = 1e-3,
    progress: Callable[[int, int], None] | None = None,
) -> LeNet:
    """Adam on the cross-entropy of a fresh :class:`LeNet`, ``epochs`` passes over (x, labels), the
    learning rate decaying linearly from ``lr`` to 0."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = LeNet(x.shape[1], x.shape[-1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    total = epochs * -(-len(x) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 - step / total)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            loss = nn.functional.cross_entropy(model(x[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        if progress is not None:
            progress(epoch + 1, epochs)
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, labels: Tensor) -> float:
    """Fraction of ``x`` whose arg-max logit equals the label."""
    (logits,) = batched_apply(model.eval(), x, batch_size=1024)
    return float((logits.argmax(1) == labels).double().mean())


def train_test_split(dataset: str, root: str | Path | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x_train, y_train, x_test, y_test): MNIST's official split; digits: a seeded 80/20 split."""
    from proxgan.data import load_dataset, to_unit_range

    if dataset == "mnist":
        from torchvision.datasets import MNIST

        train = load_dataset("mnist", root=root)
        try:
            test = MNIST(root=str(root), train=False)
        except RuntimeError:
            raise ProxganError(f"MNIST test split not found under {str(root)!r}: expected "
                               "MNIST/raw/t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte") from None
        return train.x, train.labels, to_unit_range(test.data).unsqueeze(1), test.targets.clone()
    data = load_dataset("digits")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    n_test = int(round(DIGITS_TEST_FRACTION * len(data)))
    test, train = order[:n_test], order[n_test:]
    return data.x[train], data.labels[train], data.x[test], data.labels[test]


def load_classifier(
    dataset: str, *, root: str | Path | None = None, cache_dir: str | Path, progress: Progress | None = None
) -> TrainedClassifier:
    """The cached LeNet for ``dataset`` (``cache_dir/classifier-<dataset>-v<recipe>.pt``), trained on a miss."""
    check_choice("classifier dataset", dataset, CLASSIFIER_DATASETS)
    path = Path(cache_dir) / f"classifier-{dataset}-v{RECIPE_VERSION}.pt"
    cached = _read_cached(path)
    if cached is not None:
        return TrainedClassifier(cached[0], dataset, cached[1], str(path))
    x_train, y_train, x_test, y_test = train_test_split(dataset, root)
    model = train_classifier(x_train, y_train, epochs=EPOCHS[dataset], progress=progress)
    acc = accuracy(model, x_test, y_test)
    record = {"state": model.state_dict(), "shape": tuple(x_train.shape[1:]), "test_accuracy": acc}
    atomic_write(path, lambda f: torch.save(record, f))
    return TrainedClassifier(model, dataset, acc, str(path))


def _read_cached(path: Path) -> tuple[LeNet, float] | None:
    """(model, accuracy) from a cache file, or None when absent or unreadable (then it is retrained)."""
    if not path.is_file():
        return None
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
        channels, _, resolution = record["shape"]
        model = LeNet(channels, resolution)
        model.load_state_dict(record["state"])
        return model.eval(), float(record["test_accuracy"])
    except Exception:  # noqa: BLE001 - any corrupt cache entry is simply retrained
        return None
