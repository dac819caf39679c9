"""Algorithm 1's inner-step gradient without double backpropagation, for piecewise-linear discriminators.

A discriminator built of convolutions, linear layers and (leaky) ReLUs is affine on each activation pattern, so
its input gradient ∇ₓD_w(x) = W_1ᵀ M_1 W_2ᵀ M_2 ⋯ w_headᵀ depends on w only through the weights (the masks M_l
are locally constant: every second derivative through an activation is 0).
For the inner loss of Algorithm 1 (eqs. 11, 15),

    loss(D_w(x), D_w(x̃)) + P(∇ₓD_w(x)),   P = λ/(2|S|) Σ_{i∈S} ||∇ₓD_w(xᵢ) - refᵢ||²  [+ R1's (γ/2)·mean ||∇ₓD_w||²],

write φ'ᵢ = ∂loss/∂D(xᵢ), vᵢ = ∂P/∂(∇ₓD(xᵢ)) (held fixed), δ_l(xᵢ) the backward signal of D(xᵢ) at layer l's
output (what ∇ₓD_w(xᵢ) is computed from), a_{l-1}(xᵢ) layer l's input and t_{l-1}(xᵢ) the forward tangent of vᵢ
through the frozen masks (the Jacobian-vector product of D at xᵢ). Then ∂⟨∇ₓD_w(xᵢ), vᵢ⟩/∂W_l = δ_l ⊗ t_{l-1},
∂D(xᵢ)/∂W_l = δ_l ⊗ a_{l-1}, and both terms fold into one weight gradient per layer:

    ∂/∂W_l [loss + P] = Σᵢ δ_l(xᵢ) ⊗ (φ'ᵢ a_{l-1}(xᵢ) + [i∈S] t_{l-1}(xᵢ)),   ∂/∂b_l = Σᵢ φ'ᵢ δ_l(xᵢ).

:func:`chain_step` computes it in four passes: forward on cat(x, x̃), backward (δ, seeded with 1 on the penalty
rows S and φ' elsewhere), a tangent pass on S, and the weight gradients. For n real and n fake rows that is about
7n layer-passes against 6n for a plain step (7/6), where double backpropagation costs 9n (3/2). It is the gradient
autograd's double backward gives, up to floating-point reassociation (tests/test_piecewise.py). Spectral norm
(Miyato et al. 2018) is applied once per step: each layer's normalized weight is read once (one power iteration,
where autograd's path runs one per forward of D: two per step, three with a sub-batch penalty) and its gradient
is passed back through the normalization by autograd. Under autocast the layers run in its dtype, as autocast
would run them.

A discriminator opts in with a ``chain()`` method returning its :class:`Chain` (proxgan's DCGAN and MLP
discriminators do); :func:`chain_of` returns None for anything else, and the caller falls back to double backprop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.grad import conv2d_input, conv2d_weight

from proxgan.labels import split_labels

#: the layers a chain may hold before its head (each with its stock forward)
PIECES = (nn.Conv2d, nn.Linear, nn.LeakyReLU, nn.ReLU, nn.Flatten)


@dataclass(frozen=True)
class Chain:
    """D(x) = head(layers(x)) for an unconditional D; with ``embed`` (a projection discriminator, Miyato & Koyama
    2018) D(x, y) = head(φ(x)) + ⟨embed(y), φ(x)⟩, φ = layers, y read from the input's last channel
    (:func:`proxgan.labels.split_labels`). ``head`` maps the features to one score."""

    layers: tuple[nn.Module, ...]
    head: nn.Linear
    embed: nn.Embedding | None = None


def _stock(module: nn.Module) -> bool:
    """A layer of a supported kind with its stock forward (a spectral-norm parametrization keeps it)."""
    kind = next((k for k in PIECES if isinstance(module, k)), None)
    if kind is None or type(module).forward is not kind.forward:
        return False
    if isinstance(module, nn.Conv2d):
        return module.padding_mode == "zeros" and not isinstance(module.padding, str)
    if isinstance(module, nn.Flatten):
        return module.start_dim == 1 and module.end_dim == -1
    return True


def chain_of(D: nn.Module) -> Chain | None:
    """D's :class:`Chain` when D declares one made only of supported layers, else None."""
    declare: Callable[[], Chain] | None = getattr(D, "chain", None)
    if declare is None:
        return None
    chain = declare()
    supported = all(_stock(m) for m in chain.layers) and _stock(chain.head) and chain.head.out_features == 1
    return chain if supported else None


def _slope(module: nn.Module) -> float:
    return module.negative_slope if isinstance(module, nn.LeakyReLU) else 0.0


def _through(activation: nn.Module, signal: Tensor, pre: Tensor) -> Tensor:
    """signal times the activation's derivative at ``pre``: 1 where pre > 0, else the slope (0 for ReLU)."""
    return torch.ops.aten.leaky_relu_backward(signal, pre, _slope(activation), False)


def _conv_args(conv: nn.Conv2d) -> tuple:
    return conv.stride, conv.padding, conv.dilation, conv.groups


@dataclass
class _Layer:
    """One weight layer during a step: its normalized weight (in the graph to the parameters), the detached copy
    the passes use (in the compute dtype), and what the passes record for it."""

    module: nn.Module
    weight: Tensor
    w: Tensor
    b: Tensor | None
    inputs: Tensor
    delta: Tensor | None = None
    tangent: Tensor | None = None
    rest: tuple[Tensor, Tensor | None] | None = None

    def apply(self, a: Tensor, bias: bool = True) -> Tensor:
        b = self.b if bias else None
        if isinstance(self.module, nn.Conv2d):
            return F.conv2d(a, self.w, b, *_conv_args(self.module))
        return F.linear(a, self.w, b)


@dataclass
class _Trace:
    """The forward pass on cat(real, fake): the pieces (weight layers as :class:`_Layer`), each activation's input
    (its mask is pre > 0, else the slope), each Flatten's input shape, the features, the per-row head weights
    u = w_head [+ e_y] and the scores."""

    pieces: list
    pre: dict[int, Tensor]
    shapes: dict[int, torch.Size]
    features: Tensor
    u: Tensor
    labels: Tensor | None
    head_weight: Tensor
    scores: Tensor


def _read_weight(module: nn.Module, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor | None]:
    """(weight in the graph, detached in ``dtype``, detached bias): a parametrized weight is computed here, once."""
    with torch.enable_grad():
        weight = module.weight
    bias = None if module.bias is None else module.bias.detach().to(dtype)
    return weight, weight.detach().to(dtype), bias


def _forward(chain: Chain, x: Tensor, dtype: torch.dtype) -> _Trace:
    """D on the rows of x, in ``dtype``, recording what the backward, tangent and weight-gradient passes need."""
    labels = None
    if chain.embed is not None:
        x, labels = split_labels(x)
    pieces: list = []
    pre: dict[int, Tensor] = {}
    shapes: dict[int, torch.Size] = {}
    a = x.to(dtype)
    for i, module in enumerate(chain.layers):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            pieces.append(_Layer(module, *_read_weight(module, dtype), inputs=a))
            a = pieces[-1].apply(a)
            continue
        pieces.append(module)
        if isinstance(module, nn.Flatten):
            shapes[i] = a.shape
            a = module(a)
        else:
            pre[i] = a
            a = F.leaky_relu(a, _slope(module))
    head_weight, w, b = _read_weight(chain.head, dtype)
    u = w.expand(len(a), -1)
    if labels is not None:
        u = u + chain.embed.weight.detach().to(dtype)[labels]
    scores = (u * a).sum(1) + (0.0 if b is None else b)
    return _Trace(pieces, pre, shapes, a, u, labels, head_weight, scores)


def _backward_rest(piece: _Layer, delta: Tensor, inputs: Tensor, input_grad: bool) -> Tensor | None:
    """Input (if ``input_grad``), weight and bias gradients of the rows that need no tangent, in one call (a fused
    convolution backward); the weight and bias parts are kept on ``piece.rest``."""
    bias = piece.b is not None
    if isinstance(piece.module, nn.Conv2d):
        grad_in, grad_w, grad_b = torch.ops.aten.convolution_backward(
            delta, inputs, piece.w, [piece.w.shape[0]] if bias else None, *_conv_args(piece.module)[:3], False,
            [0, 0], piece.module.groups, [input_grad, True, bias])
    else:
        grad_in = delta @ piece.w if input_grad else None
        grad_w, grad_b = delta.t() @ inputs, delta.sum(0) if bias else None
    piece.rest = (grad_w, grad_b)
    return grad_in


def _input_gradient(piece: _Layer, delta: Tensor) -> Tensor:
    """The gradient at the layer's input from the gradient ``delta`` at its output."""
    if isinstance(piece.module, nn.Conv2d):
        shape = (delta.shape[0], *piece.inputs.shape[1:])
        return conv2d_input(shape, piece.w, delta, *_conv_args(piece.module))
    return delta @ piece.w


def _input_gradients(trace: _Trace, seed: Tensor, size: int) -> Tensor | None:
    """Backward from the scores with per-row ``seed``. The first ``size`` rows (the penalty rows: seed 1) keep each
    weight layer's output gradient δ for :func:`_weight_gradients`; the other rows (seed φ') get their weight and
    bias gradients here, fused with their input gradients. Returns the penalty rows' input gradient ∇ₓD (None when
    ``size`` is 0)."""
    delta = seed[:, None] * trace.u
    first = next((i for i, p in enumerate(trace.pieces) if isinstance(p, _Layer)), -1)
    for i in range(len(trace.pieces) - 1, -1, -1):
        piece = trace.pieces[i]
        if isinstance(piece, _Layer):
            rest = _backward_rest(piece, delta[size:], piece.inputs[size:], input_grad=i != first)
            piece.delta = delta[:size]
            if not size:
                if i == first:
                    return None
                delta = rest
            else:
                head = _input_gradient(piece, piece.delta)
                delta = head if i == first else torch.cat([head, rest])
        elif isinstance(piece, nn.Flatten):
            delta = delta.reshape(delta.shape[0], *trace.shapes[i][1:])
        else:
            delta = _through(piece, delta, trace.pre[i][: len(delta)])
    return delta if size else None


def _tangents(trace: _Trace, v: Tensor) -> Tensor:
    """The forward tangent of v (the first len(v) rows) through the frozen masks, recorded at every weight layer's
    input; returns the features' tangent."""
    tangent = v
    for i, piece in enumerate(trace.pieces):
        if isinstance(piece, _Layer):
            piece.tangent = tangent
            tangent = piece.apply(tangent, bias=False)
        elif isinstance(piece, nn.Flatten):
            tangent = piece(tangent)
        else:
            tangent = _through(piece, tangent, trace.pre[i][: len(v)])
    return tangent


def _weight_gradients(trace: _Trace, chain: Chain, phi: Tensor, tangent: Tensor | None):
    """(tensors, gradients) for autograd: Σᵢ δ_l ⊗ (φ'ᵢ a + [i∈S] tᵢ) per weight layer (the module docstring's
    formula; the penalty rows S, the first len(tangent), had seed 1 and the others seed φ', whose part
    :func:`_input_gradients` took), Σᵢ φ'ᵢ δ_l per bias, then the head and the class embedding. Overwrites the
    penalty rows of the recorded layer inputs."""
    size = 0 if tangent is None else len(tangent)
    tensors, grads = [], []
    for piece in trace.pieces:
        if not isinstance(piece, _Layer):
            continue
        grad, grad_b = piece.rest
        if size:
            inputs = piece.inputs[:size]
            inputs.mul_(phi[:size].view(-1, *[1] * (inputs.dim() - 1))).add_(piece.tangent)
            if isinstance(piece.module, nn.Conv2d):
                grad = grad + conv2d_weight(inputs, piece.w.shape, piece.delta, *_conv_args(piece.module))
                per_row = piece.delta.sum((2, 3))
            else:
                grad = grad + piece.delta.t() @ inputs
                per_row = piece.delta
            grad_b = None if grad_b is None else grad_b + phi[:size] @ per_row
        tensors.append(piece.weight)
        grads.append(grad)
        if grad_b is not None:
            tensors.append(piece.module.bias)
            grads.append(grad_b)
    zeta = phi[:, None] * trace.features  # ∂/∂uᵢ: φ'ᵢ fᵢ, plus the tangent on S
    if tangent is not None:
        zeta[:size] += tangent
    tensors.append(trace.head_weight)
    grads.append(zeta.sum(0, keepdim=True))
    if chain.head.bias is not None:
        tensors.append(chain.head.bias)
        grads.append(phi.sum().reshape(chain.head.bias.shape))
    if trace.labels is not None:
        tensors.append(chain.embed.weight)
        grads.append(torch.zeros_like(zeta[: chain.embed.num_embeddings]).index_add_(0, trace.labels, zeta))
    return tensors, [g.to(t.dtype) for t, g in zip(tensors, grads)]


def penalty_rows_first(rows: Tensor, n: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """(order, inverse): the permutation of 0..n-1 that puts ``rows`` first (in their order), and its inverse. The
    bookkeeping runs on the CPU (a device nonzero() would wait for the device), then one copy over."""
    rows = rows.cpu()
    rest = torch.ones(n, dtype=torch.bool)
    rest[rows] = False
    order = torch.cat([rows, rest.nonzero().squeeze(1)])
    return order.to(device), torch.argsort(order).to(device)


def chain_step(
    chain: Chain,
    real: Tensor,
    fake: Tensor,
    loss: Callable[[Tensor, Tensor], Tensor],
    ref_grads: Tensor | None,
    lam: float,
    *,
    r1: float = 0.0,
    rows: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Callable[[], None]]:
    """(total, d_loss, sobolev, backward) of :func:`proxgan.proximal.proximal_loss` for a chain discriminator.

    Same arguments and values; ``backward()`` (call it once) accumulates ∂total/∂w into the parameters' ``.grad``
    (the formula of the module docstring) instead of ``total.backward()``. The values come from the forward and
    backward passes; the tangent pass and the weight gradients run when ``backward()`` is called. Under autocast
    the layers run in its dtype (as autocast runs them) and the loss, the penalty and the gradients handed to the
    parameters are in the parameters' dtype.
    """
    n = real.shape[0]
    penalized = lam > 0 or r1 > 0
    size = n if rows is None else len(rows)
    inverse = None
    if rows is not None:  # the penalty rows first, so that every pass takes them as one slice
        order, inverse = penalty_rows_first(rows, n, real.device)
        real = real[order]
    device = real.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else real.dtype
    with torch.autocast(device, enabled=False):
        with torch.no_grad():
            trace = _forward(chain, torch.cat([real, fake]), dtype)
        with torch.enable_grad():
            s = trace.scores.to(real.dtype).requires_grad_(True)
            d_loss = loss(s[:n] if inverse is None else s[:n][inverse], s[n:])
            (phi,) = torch.autograd.grad(d_loss, s)
        d_loss = d_loss.detach()
        with torch.no_grad():
            seed = phi.clone()
            if penalized:
                seed[:size] = 1.0  # the penalty rows' δ unscaled: they give ∇ₓD(xᵢ)
            grads = _input_gradients(trace, seed.to(dtype), size if penalized else 0)
            sobolev, total, v = real.new_zeros(()), d_loss, None
            if penalized:
                grads = grads.to(real.dtype)
                if lam:  # a conditional D's references carry the (zero) label channel
                    diff = grads - ref_grads[:, : grads.shape[1]]
                    sobolev = 0.5 * diff.pow(2).flatten(1).sum(1).mean()
                    v = lam * diff
                total = d_loss + lam * sobolev
                if r1:
                    total = total + 0.5 * r1 * grads.pow(2).flatten(1).sum(1).mean()
                    v = r1 * grads if v is None else v + r1 * grads
                v = None if v is None else v / size

    def backward() -> None:
        with torch.autocast(device, enabled=False), torch.no_grad():
            tangent = None if v is None else _tangents(trace, v.to(dtype))
            tensors, grads = _weight_gradients(trace, chain, phi.to(dtype), tangent)
        torch.autograd.backward(tensors, grads)

    return total, d_loss, sobolev, backward
