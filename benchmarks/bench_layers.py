"""Where a ``mnist-fast`` step's time goes: each DCGAN layer's forward + backward, and two exact rewrites.

The convolutions of the library's DCGAN (:mod:`proxgan.models.dcgan`, DIM 32, 1×28×28), taken from the models
themselves, at the batch sizes of a ``mnist-fast`` step (batch 128: G on 128 rows, D on cat(real, fake), 256 rows), each timed alone under
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

from proxgan.allocator import retain_freed_memory
from proxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator

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


def dcgan_layers() -> list[tuple[str, nn.Module, tuple[int, ...], bool, int]]:
    """The convolutions of ``mnist-fast``'s G and D (the library's DCGAN at DIM 32 on 1×28×28) as one step runs them:
    (name, layer, input shape, whether the step needs the input's gradient, multiply-adds of the forward pass).

    Shapes come from one forward pass with hooks: G on BATCH rows, D on cat(real, fake), 2·BATCH rows. Only D's
    first layer sees data, which needs no gradient in the D step.
    """
    G, D = DCGANGenerator(128, DIM, 28, 1), DCGANDiscriminator(DIM, 28, 1)
    convs = [m for model in (G, D) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    data_layer = next(m for m in convs if isinstance(m, nn.Conv2d))  # D's first
    found = []

    def record(layer: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        x, up = inputs[0], isinstance(layer, nn.ConvTranspose2d)
        positions = (x if up else output)[0, 0].numel()  # a transposed conv's taps run over its input positions
        name = f"{'G up' if up else 'D'} {x.shape[1]}->{output.shape[1]}, {x.shape[-1]}->{output.shape[-1]}"
        found.append((name, layer, tuple(x.shape), layer is not data_layer, positions * layer.weight.numel()))

    hooks = [layer.register_forward_hook(record) for layer in convs]
    with torch.no_grad():
        fake = G(torch.randn(BATCH, G.latent_dim))
        D(torch.cat([fake, fake]))
    for hook in hooks:
        hook.remove()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    retain_freed_memory()  # as the proxgan CLI does (proxgan.allocator)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers = dcgan_layers()
    print(f"DCGAN DIM {DIM} layers, batch {BATCH} (D: {2 * BATCH} rows), forward + backward, "
          f"{args.threads} threads, {args.repeats} repeats")  # fmt: skip
    print(f"{'layer':<24}{'bf16 ms':>9}{'GFLOP/s':>9}{'fp32 ms':>9}{'GFLOP/s':>9}")
    for name, layer, shape, grad_in, macs in layers:
        x = torch.randn(shape).requires_grad_(grad_in)
        gflop = 2 * macs * shape[0] * (3 if grad_in else 2) / 1e9
        ms = [milliseconds(forward_backward(layer, x, bf16), args.repeats) for bf16 in (True, False)]
        print(f"{name:<24}{ms[0]:9.2f}{gflop / ms[0] * 1e3:9.0f}{ms[1]:9.2f}{gflop / ms[1] * 1e3:9.0f}")
    print("\nexact rewrites of the one-channel layers, bf16 autocast (ms; max |difference| of the outputs in float32)")
    ups = [entry for entry in layers if isinstance(entry[1], nn.ConvTranspose2d)]
    downs = [entry for entry in layers if isinstance(entry[1], nn.Conv2d)]
    (_, last, last_shape, *_), (_, first, first_shape, *_) = ups[-1], downs[0]  # G's last layer, D's first
    cases = [
        (f"G's last ({last_shape[0]} rows)", last, lambda x: subpixel(x, last), last_shape, True, "sub-pixel"),
        (f"D's first ({first_shape[0]} rows)", first, lambda x: space_to_depth(x, first), first_shape, False,
         "space-to-depth"),
        (f"D's first, input grad ({BATCH})", first, lambda x: space_to_depth(x, first), (BATCH, *first_shape[1:]),
         True, "space-to-depth"),
    ]  # fmt: skip
    for name, layer, rewrite, shape, grad_in, label in cases:
        x = torch.randn(shape).requires_grad_(grad_in)
        with torch.no_grad():
            error = (rewrite(x) - layer(x)).abs().max().item()
        before = milliseconds(forward_backward(layer, x, True), args.repeats)
        after = milliseconds(forward_backward(rewrite, x, True), args.repeats)
        print(f"{name:<28} layer {before:6.2f}  {label} {after:6.2f}  ({after / before:4.2f}x; error {error:.1e})")


if __name__ == "__main__":
    main()
