"""Metrics that need no Inception: a LeNet trained on the dataset itself (MNIST, digits), shipped with proxgan.

- classifier Inception score: exp(E_x KL(p(y|x) ‖ p(y))) with the LeNet's class posteriors (max 10);
- classifier FID: the Fréchet distance (``frechet.frechet_distance``) between Gaussians fitted to the
  LeNet's penultimate features of the samples and of the training data.

The two LeNets ship inside the package (``classifiers/lenet-<dataset>.pt``, listed in :data:`SHIPPED_SHA256`)
so every installation scores with the same network; loading checks the sha256 of the weights. Each was
trained by :func:`retrain` — on the training split (MNIST: 60,000 images; digits: a seeded 80 % of the
1,797 images), one torch thread, seed 0 — which reproduces it bit for bit on the same torch build and
CPU (``proxgan classifier DATASET --out FILE``). Its accuracy on the held-out split (MNIST: the 10,000
test images; digits: the other 20 %) is stored in the file and reported next to every score.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor, nn

from proxgan.errors import ProxganError, check_choice, check_existing_file
from proxgan.files import atomic_write
from proxgan.metrics.features import Progress, batched_apply

CLASSIFIER_DATASETS = ("digits", "mnist")
EPOCHS = {"digits": 40, "mnist": 4}
DIGITS_TEST_FRACTION = 0.2
#: sha256 (:func:`weights_digest`) of the weights shipped in ``proxgan/metrics/classifiers/lenet-<dataset>.pt``
SHIPPED_SHA256 = {
    "digits": "fc9d15a8a4bb915adba34b4be17f039ee72e189eef5b4ef76d43afcd99212454",
    "mnist": "7120474782b71f48000edd3ef874cdd448b56ac44d319b1b13fe235a1c2b1076",
}


class LeNet(nn.Module):
    """conv5-32 → pool → conv5-64 → pool → fc-128 (the feature layer) → fc-10, for [-1, 1] images."""

    def __init__(self, channels: int = 1, resolution: int = 28, n_classes: int = 10, feature_dim: int = 128):
        super().__init__()
        self.channels, self.resolution = channels, resolution
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
    """A LeNet with the dataset it was trained on, its held-out accuracy and the sha256 of its weights."""

    model: LeNet
    dataset: str
    test_accuracy: float
    sha256: str

    @property
    def identity(self) -> str:
        """``lenet-<dataset>-<first 8 hex digits of the weights' sha256>``: recorded with every score."""
        return f"lenet-{self.dataset}-{self.sha256[:8]}"

    def outputs(self, images: Tensor, *, batch_size: int = 512, device="cpu", progress: Progress | None = None):
        """(penultimate features, logits) of ``images`` in [-1, 1], computed in batches on ``device``."""
        self.model.to(device).eval()
        return batched_apply(
            self.model.features_and_logits, images, batch_size=batch_size, device=device, progress=progress
        )


def weights_digest(model: nn.Module) -> str:
    """sha256 of the weights: each state-dict entry's name, dtype, shape and bytes, in order.

    It names the numbers, not the file, so it does not depend on torch's serialization format.
    """
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


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


def split(dataset: str, part: str, root: str | Path | None = None) -> tuple[Tensor, Tensor]:
    """(images in [-1, 1], labels) of the classifier's ``part``: ``"train"`` or the held-out ``"test"``.

    MNIST: its official 60,000 / 10,000 split (``root``: torchvision's layout). digits: a seeded
    (seed 0) permutation of the 1,797 images, the first 20 % held out.
    """
    from proxgan.data import load_dataset, mnist_split

    check_choice("classifier dataset", dataset, CLASSIFIER_DATASETS)
    check_choice("classifier split", part, ("train", "test"))
    if dataset == "mnist":
        if part == "train":
            train = load_dataset("mnist", root=root)
            return train.x, train.labels
        if root is None:
            raise ProxganError("MNIST's held-out test split needs a data root: pass --data-root DIR")
        return mnist_split(Path(root), "test")
    data = load_dataset("digits")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    n_test = int(round(DIGITS_TEST_FRACTION * len(data)))
    keep = order[:n_test] if part == "test" else order[n_test:]
    return data.x[keep], data.labels[keep]


def retrain(dataset: str, *, root: str | Path | None = None,
            progress: Callable[[int, int], None] | None = None) -> TrainedClassifier:
    """The recipe of the shipped LeNets: :func:`train_classifier` on the ``"train"`` split for
    ``EPOCHS[dataset]`` epochs, seed 0, scored on the ``"test"`` split.

    It runs on one torch thread (restored afterwards), so that float reductions happen in one order and
    the weights are identical bit for bit on the same torch build and CPU; the caller's RNG state is kept.
    """
    check_choice("classifier dataset", dataset, CLASSIFIER_DATASETS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            model = train_classifier(*split(dataset, "train", root), epochs=EPOCHS[dataset], progress=progress)
        acc = accuracy(model, *split(dataset, "test", root))
    finally:
        torch.set_num_threads(threads)
    return TrainedClassifier(model, dataset, acc, weights_digest(model))


def save_classifier(classifier: TrainedClassifier, path: str | Path) -> Path:
    """Write ``classifier`` to ``path`` (atomically) as :func:`load_classifier` reads it."""
    record = {"dataset": classifier.dataset, "test_accuracy": classifier.test_accuracy,
              "sha256": weights_digest(classifier.model), "shape": [classifier.model.channels, classifier.model.resolution],
              "state": classifier.model.state_dict()}
    buffer = io.BytesIO()  # a file object has no name for torch to put in the archive: equal weights, equal bytes
    torch.save(record, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def shipped_path(dataset: str) -> Path:
    """Where the package keeps the shipped LeNet of ``dataset``."""
    check_choice("classifier dataset", dataset, CLASSIFIER_DATASETS)
    return Path(str(resources.files("proxgan.metrics") / "classifiers" / f"lenet-{dataset}.pt"))


def load_classifier(dataset: str, path: str | Path | None = None) -> TrainedClassifier:
    """The shipped LeNet of ``dataset`` (``path`` None, its sha256 checked against :data:`SHIPPED_SHA256`),
    or a file written by :func:`save_classifier` (``proxgan classifier``), checked against its own record.

    Any unreadable file, a classifier of another dataset, or weights whose sha256 differs: one ProxganError.
    """
    shipped = path is None
    path = shipped_path(dataset) if shipped else check_existing_file("classifier file", path)
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
        channels, resolution = record["shape"]
        model = LeNet(channels, resolution)
        model.load_state_dict(record["state"])
        stored_dataset, test_accuracy, stored_sha = record["dataset"], float(record["test_accuracy"]), record["sha256"]
    except (OSError, EOFError, RuntimeError, struct.error, pickle.UnpicklingError, KeyError, TypeError, ValueError) as exc:
        raise ProxganError(f"cannot read classifier {str(path)!r}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    if stored_dataset != dataset:
        raise ProxganError(f"classifier {str(path)!r} was trained on {stored_dataset!r}, not {dataset!r}")
    sha = weights_digest(model)
    expected = SHIPPED_SHA256[dataset] if shipped else stored_sha
    if sha != expected:
        raise ProxganError(f"classifier {str(path)!r} has weights with sha256 {sha[:16]}…, expected {expected[:16]}…: "
                           "the file is damaged (reinstall proxgan, or retrain it with 'proxgan classifier')")
    return TrainedClassifier(model.eval(), dataset, test_accuracy, sha)
