"""Tiny datasets written in their real on-disk formats (the layouts torchvision reads), for the tests."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def write_cifar10(root: Path, per_batch: int = 8, seed: int = 0) -> np.ndarray:
    """``root/cifar-10-batches-py``: five pickled training batches, a test batch and batches.meta, each
    batch a dict with ``data`` uint8 (N, 3072) in R, G, B planes and ``labels``. Returns all training pixels."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    pixels = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        batch = {"batch_label": name, "labels": rng.integers(0, 10, per_batch).tolist(), "data": data,
                 "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        if name != "test_batch":
            pixels.append(data)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
            "num_cases_per_batch": per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return np.concatenate(pixels)


def write_celeba(root: Path, n: int = 6, seed: int = 0) -> list[str]:
    """``root/celeba``: 178×218 aligned-face JPEGs in img_align_celeba/ and the list files torchvision reads
    (list_eval_partition.txt, list_attr_celeba.txt, identity, bbox, landmarks). Returns the training names."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    for name in names:
        Image.fromarray(rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8)).save(folder / "img_align_celeba" / name)
    splits = [0] * (n - 2) + [1, 2]
    (folder / "list_eval_partition.txt").write_text("".join(f"{a} {s}\n" for a, s in zip(names, splits)))
    attributes = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Smiling"]
    rows = "".join(f"{a} " + " ".join(rng.choice(["1", "-1"], len(attributes))) + "\n" for a in names)
    (folder / "list_attr_celeba.txt").write_text(f"{n}\n{' '.join(attributes)}\n{rows}")
    (folder / "identity_CelebA.txt").write_text("".join(f"{a} {i}\n" for i, a in enumerate(names, 1)))
    (folder / "list_bbox_celeba.txt").write_text(f"{n}\nimage_id x_1 y_1 width height\n"
                                                 + "".join(f"{a} 10 10 100 100\n" for a in names))
    (folder / "list_landmarks_align_celeba.txt").write_text(
        f"{n}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n"
        + "".join(f"{a} 69 109 106 113 77 142 73 152 108 154\n" for a in names))
    return [a for a, s in zip(names, splits) if s == 0]


def write_mnist(root: Path, n: int = 32, seed: int = 0) -> np.ndarray:
    """``root/MNIST/raw``: the four IDX files (big-endian magic, counts, then uint8 pixels / labels)."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())
    return images
