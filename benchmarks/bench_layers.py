"""Where a ``mnist-fast`` step's time goes: each DCGAN layer's forward + backward, and two exact rewrites.

The layers of Gulrajani et al.'s MNIST DCGAN at DIM 32 (5×5 kernels, stride 2) at the batch sizes of a
``mnist-fast`` step (batch 128: G on 128 rows, D on cat(real, fake), 256 rows), each timed alone under
bfloat16 autocast (as the recipe trains) and in float32: milliseconds and GFLOP/s (2 FLOPs per multiply-add;
the backward counts the input gradient where the step needs one, and the weight gradient). Then the two
one-channel layers against exact rewrites that compute the same function from the same weights:

  sub-pixel     G's last up-convolution (32 → 1 channels, 14 → 28) as one stride-1 3×3 convolution to 4
                channels and pixel_shuffle(2) (Shi et al. 2016)
  space-to-depth  D's first convolution (1 → 32 channels, 28 → 14) as pixel_unshuffle(2) of the padded
                image (4 channels, 16×16) and one stride-1 3×3 convolution

    python benchmarks/bench_layers.py [--threads N] [--repeats 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DIM, BATCH = 32, 128
#: output phase a (0, 1) and 3×3 tap u -> row of the 5×5 kernel (5: the zero row appended), for k=5, s=2, p=2
SUBPIXEL_TAPS = torch.tensor([[4, 2, 0], [5, 3, 1]])


def subpixel(x: Tensor, up: nn.ConvTranspose2d) -> Tensor:
    """``up(x)`` for ConvTranspose2d(C, O, 5, stride=2, padding=2, output_padding=1), via conv2d + pixel_shuffle."""
    w = F.pad(up.weight, (0, 1, 0, 1))[:, :, SUBPIXEL_TAPS][:, :, :, :, SUBPIXEL_TAPS]  # (C, O, a, u, b, v)
    channels, out = up.weight.shape[:2]
    kernel = w.permute(1, 2, 4, 0, 3, 5).reshape(4 * out, channels, 3, 3)
    return F.pixel_shuffle(F.conv2d(x, kernel, padding=1), 2) + up.bias.view(1, -1, 1, 1)


def space_to_depth(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """``conv(x)`` for Conv2d(1, O, 5, stride=2, padding=2), via pixel_unshuffle + a stride-1 3×3 conv2d."""
    out = conv.weight.shape[0]
    kernel = F.pad(conv.weight[:, 0], (0, 1, 0, 1)).view(out, 3, 2, 3, 2).permute(0, 2, 4, 1, 3).reshape(out, 4, 3, 3)
    return F.conv2d(F.pixel_unshuffle(F.pad(x, (2, 2, 2, 2)), 2), kernel, conv.bias)


def milliseconds(f: Callable[[], None], repeats: int) -> float:
    for _ in range(5):
        f()
    start = time.perf_counter()
    for _ in range(repeats):
        f()
    return 1000 * (time.perf_counter() - start) / repeats


def forward_backward(forward: Callable[[Tensor], Tensor], x: Tensor, bf16: bool) -> Callable[[], None]:
    def f() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = forward(x)
        y.float().sum().backward()

    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    up = lambda i, o: nn.ConvTranspose2d(i, o, 5, stride=2, padding=2, output_padding=1)  # noqa: E731
    down = lambda i, o: nn.Conv2d(i, o, 5, stride=2, padding=2)  # noqa: E731
    # name, layer, input shape, input needs a gradient, multiply-adds of the forward pass
    layers = [
        ("G up 4DIM->2DIM, 4->8", up(4 * DIM, 2 * DIM), (BATCH, 4 * DIM, 4, 4), True, 16 * 4 * DIM * 2 * DIM * 25),
        ("G up 2DIM->DIM, 7->14", up(2 * DIM, DIM), (BATCH, 2 * DIM, 7, 7), True, 49 * 2 * DIM * DIM * 25),
        ("G up DIM->1, 14->28", up(DIM, 1), (BATCH, DIM, 14, 14), True, 196 * DIM * 25),
        ("D 1->DIM, 28->14", down(1, DIM), (2 * BATCH, 1, 28, 28), False, 196 * DIM * 25),
        ("D DIM->2DIM, 14->7", down(DIM, 2 * DIM), (2 * BATCH, DIM, 14, 14), True, 49 * 2 * DIM * DIM * 25),
        ("D 2DIM->4DIM, 7->4", down(2 * DIM, 4 * DIM), (2 * BATCH, 2 * DIM, 7, 7), True, 16 * 4 * DIM * 2 * DIM * 25),
    ]
    print(f"DCGAN DIM {DIM} layers, batch {BATCH} (D: {2 * BATCH} rows), forward + backward, "
          f"{args.threads} threads, {args.repeats} repeats")  # fmt: skip
    print(f"{'layer':<24}{'bf16 ms':>9}{'GFLOP/s':>9}{'fp32 ms':>9}{'GFLOP/s':>9}")
    for name, layer, shape, grad_in, macs in layers:
        x = torch.randn(shape).requires_grad_(grad_in)
        gflop = 2 * macs * shape[0] * (3 if grad_in else 2) / 1e9
        ms = [milliseconds(forward_backward(layer, x, bf16), args.repeats) for bf16 in (True, False)]
        print(f"{name:<24}{ms[0]:9.2f}{gflop / ms[0] * 1e3:9.0f}{ms[1]:9.2f}{gflop / ms[1] * 1e3:9.0f}")
    print("\nexact rewrites of the one-channel layers, bf16 autocast (ms; max |difference| of the outputs in float32)")
    last, first = layers[2][1], layers[3][1]
    cases = [
        ("G up DIM->1 (128 rows)", last, lambda x: subpixel(x, last), torch.randn(BATCH, DIM, 14, 14), True, "sub-pixel"),
        ("D 1->DIM (256 rows)", first, lambda x: space_to_depth(x, first), torch.randn(2 * BATCH, 1, 28, 28), False,
         "space-to-depth"),
        ("D 1->DIM, input grad (128)", first, lambda x: space_to_depth(x, first), torch.randn(BATCH, 1, 28, 28), True,
         "space-to-depth"),
    ]  # fmt: skip
    for name, layer, rewrite, x, grad_in, label in cases:
        x.requires_grad_(grad_in)
        with torch.no_grad():
            error = (rewrite(x) - layer(x)).abs().max().item()
        before = milliseconds(forward_backward(layer, x, True), args.repeats)
        after = milliseconds(forward_backward(rewrite, x, True), args.repeats)
        print(f"{name:<28} layer {before:6.2f}  {label} {after:6.2f}  ({after / before:4.2f}x; error {error:.1e})")


if __name__ == "__main__":
    main()
