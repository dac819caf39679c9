"""Sobolev proximal operator (eqs. 11, 15; Algorithm 1): closed forms, finite differences, constraints."""

import copy

import pytest
import torch
from torch import nn

from proxgan.errors import ProxganError
from proxgan.gradients import input_gradients
from proxgan.models import MLPDiscriminator
from proxgan.objectives import get_formulation
from proxgan.proximal import ProximalConfig, sobolev_distance_sq, sobolev_penalty


def inner_loop(D, formulation, real, fake, config, **options):
    """The formulation's inner loop with its statistics read back as numbers."""
    update = formulation.proximal_update(D, real, fake, config, **options)
    return {"value": -update.loss.item(), "penalty": update.sobolev.item(), "inner_losses": update.losses.tolist()}

DT = torch.float64


class Linear(nn.Module):
    """D(x) = wᵀx: ∇ₓD = w, so ||D_w - D_w0||²_Ḣ¹ = ||w - w0||² exactly."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=DT).clone())

    def forward(self, x):
        return x @ self.w


class Counting(nn.Module):
    """Counts forward passes of the wrapped discriminator."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


def gaussian_batches(n=64, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=g, dtype=DT) + torch.tensor([1.0, -2.0, 0.5], dtype=DT)
    fake = torch.randn(n, d, generator=g, dtype=DT)
    return real, fake


W0 = [0.3, -0.1, 0.7]


def test_linear_discriminator_sobolev_distance_and_penalty_are_closed_form():
    real, _ = gaussian_batches()
    D, D0 = Linear([1.0, 2.0, -1.0]), Linear(W0)
    diff = D.w.detach() - D0.w
    distance = sobolev_distance_sq(D, D0, real)
    assert distance.item() == pytest.approx(diff.pow(2).sum().item(), rel=1e-12)
    assert torch.allclose(torch.autograd.grad(distance, D.w)[0], 2 * diff)
    ref = input_gradients(D0, real, create_graph=False)
    assert torch.allclose(ref, D0.w.expand_as(real))
    penalty = sobolev_penalty(D, real, ref)
    assert penalty.item() == pytest.approx(0.5 * diff.pow(2).sum().item(), rel=1e-12)
    (grad,) = torch.autograd.grad(penalty, D.w)
    assert torch.allclose(grad, diff, atol=1e-12)  # ∇_w ½||w - w0||² = w - w0


def test_penalty_gradient_matches_finite_differences():
    """Double backprop: ∇_w of (1/2n) Σ ||∇ₓD_w(xᵢ) - refᵢ||² against central differences (float64 MLP)."""
    torch.manual_seed(0)
    D = MLPDiscriminator((3,), hidden=(6, 5)).to(DT)
    ref = input_gradients(MLPDiscriminator((3,), hidden=(6, 5)).to(DT), torch.randn(9, 3, dtype=DT), create_graph=False)
    x = torch.randn(9, 3, dtype=DT)
    params = list(D.parameters())
    analytic = torch.autograd.grad(sobolev_penalty(D, x, ref), params, allow_unused=True)
    analytic = [torch.zeros_like(p) if g is None else g for p, g in zip(params, analytic)]  # output bias: ∇ₓD-free
    assert any(g.abs().max() > 1e-3 for g in analytic)
    h = 1e-6
    with torch.no_grad():
        for p, g in zip(params, analytic):
            for i in range(p.numel()):
                flat = p.view(-1)
                old = flat[i].item()
                flat[i] = old + h
                up = sobolev_penalty(D, x, ref).item()
                flat[i] = old - h
                down = sobolev_penalty(D, x, ref).item()
                flat[i] = old
                assert (up - down) / (2 * h) == pytest.approx(g.view(-1)[i].item(), abs=1e-7)


def test_inner_maximization_converges_to_the_closed_form_maximizer():
    """WGAN V = wᵀ(m̂_real - m̂_fake), strongly concave with the penalty: w* = w0 + (m̂_real - m̂_fake)/λ."""
    real, fake = gaussian_batches()
    delta = real.mean(0) - fake.mean(0)
    for lam in (0.5, 2.0):
        D = Linear(W0)
        cfg = ProximalConfig(lam=lam, steps=80, optimizer="sgd", lr=0.5 / lam)  # contraction factor 1/2
        stats = inner_loop(D, get_formulation("wgan-sn"), real, fake, cfg)
        expected = torch.tensor(W0, dtype=DT) + delta / lam
        assert torch.allclose(D.w.detach(), expected, atol=1e-12)
        assert stats["penalty"] == pytest.approx(0.5 * (delta / lam).pow(2).sum().item(), rel=1e-9)
        assert stats["value"] == pytest.approx((expected @ delta).item(), rel=1e-9)
        assert len(stats["inner_losses"]) == 80
        assert stats["inner_losses"][0] == pytest.approx(-(torch.tensor(W0, dtype=DT) @ delta).item())


def test_default_adam_inner_loop_approaches_the_maximizer():
    real, fake = gaussian_batches()
    target = torch.tensor(W0, dtype=DT) + (real.mean(0) - fake.mean(0)) / 1.0
    D = Linear(W0)
    start = (D.w.detach() - target).norm().item()
    inner_loop(D, get_formulation("wgan-sn"), real, fake, ProximalConfig(lam=1.0, steps=300, lr=0.02))
    assert (D.w.detach() - target).norm().item() < 0.02 * start


def test_penalty_changes_the_inner_solution():
    """If the penalty did not reach w (no double backprop), λ would not matter."""
    torch.manual_seed(0)
    D0 = MLPDiscriminator((2,), hidden=(16, 16)).to(DT)
    real, fake = torch.randn(32, 2, dtype=DT) + 2, torch.randn(32, 2, dtype=DT)
    solutions = {}
    for lam in (0.0, 10.0):
        D = copy.deepcopy(D0)
        inner_loop(D, get_formulation("wgan-sn"), real, fake, ProximalConfig(lam=lam, steps=20, lr=1e-2))
        solutions[lam] = torch.cat([p.detach().flatten() for p in D.parameters()])
    start = torch.cat([p.detach().flatten() for p in D0.parameters()])
    moved = {lam: (w - start).norm().item() for lam, w in solutions.items()}
    assert (solutions[0.0] - solutions[10.0]).norm().item() > 0.05 * moved[0.0]
    assert sobolev_distance_sq(D, D0, real).item() > 0


def test_fresh_batches_use_a_frozen_reference():
    """References from a snapshot of D_{w_k} (not the moving D): same fixed point as the outer-batch loop."""
    real, fake = gaussian_batches()
    cfg = ProximalConfig(lam=2.0, steps=60, optimizer="sgd", lr=0.25, fresh_batches=True)
    calls = []

    def next_batch():
        calls.append(1)
        return real, fake

    D = Linear(W0)
    inner_loop(D, get_formulation("wgan-sn"), real, fake, cfg, next_batch=next_batch)
    assert len(calls) == 60
    expected = torch.tensor(W0, dtype=DT) + (real.mean(0) - fake.mean(0)) / 2.0
    assert torch.allclose(D.w.detach(), expected, atol=1e-12)


def test_reference_gradients_are_computed_once_and_nothing_is_recomputed():
    real, fake = gaussian_batches()
    D = Counting(Linear(W0))
    inner_loop(D, get_formulation("wgan-sn"), real, fake, ProximalConfig(steps=7))
    assert D.calls == 1 + 2 * 7  # reference, then D(real) [reused for ∇ₓD] and D(fake) per step
    D = Counting(Linear(W0))
    inner_loop(D, get_formulation("wgan-gp"), real, fake, ProximalConfig(steps=7))
    assert D.calls == 1 + 3 * 7  # + the interpolates of the gradient penalty


def test_gradient_penalty_is_part_of_the_inner_objective():
    """Linear D: inner loss = -wᵀΔ + 10 (||w|| - 1)² + λ/2 ||w - w0||²; at step 0 the last term is 0."""
    real, fake = gaussian_batches()
    D = Linear(W0)
    w0 = torch.tensor(W0, dtype=DT)
    stats = inner_loop(D, get_formulation("wgan-gp"), real, fake, ProximalConfig(steps=2))
    expected = -(w0 @ (real.mean(0) - fake.mean(0))) + 10 * (w0.norm() - 1) ** 2
    assert stats["inner_losses"][0] == pytest.approx(expected.item(), rel=1e-10)


def test_weight_clipping_is_applied_after_every_inner_step():
    real, fake = gaussian_batches()
    delta = real.mean(0) - fake.mean(0)
    D = Linear([0.0, 0.0, 0.0])
    cfg = ProximalConfig(lam=0.1, steps=3, optimizer="sgd", lr=1.0)
    stats = inner_loop(D, get_formulation("wgan-wc"), real, fake, cfg)
    w1 = 0.01 * torch.sign(delta)  # the first step overshoots; clipping projects to the box
    assert torch.equal(D.w.detach(), w1)
    step1 = -(w1 @ delta) + 0.1 * 0.5 * w1.pow(2).sum()  # loss seen by step 2 is at the clipped weights
    assert stats["inner_losses"][1] == pytest.approx(step1.item(), rel=1e-10)


def test_spectral_norm_updates_inside_the_inner_loop():
    torch.manual_seed(0)
    D = MLPDiscriminator((2,), hidden=(8, 8), spectral_norm=True).to(DT)
    real, fake = torch.randn(32, 2, dtype=DT) + 1, torch.randn(32, 2, dtype=DT)
    for _ in range(50):  # converge the power iterations
        D(real)
    first = D.body[1]
    original = first.parametrizations.weight.original
    before_w, before_u = original.detach().clone(), first.parametrizations.weight[0]._u.clone()
    (g,) = torch.autograd.grad(sobolev_penalty(D, real, torch.zeros_like(real)), original)
    assert g.abs().max() > 0  # the penalty reaches the un-normalized weights
    cfg = ProximalConfig(lam=0.1, steps=5, lr=1e-3)
    inner_loop(D, get_formulation("sngan"), real, fake, cfg)
    assert not torch.equal(original.detach(), before_w)
    assert not torch.equal(first.parametrizations.weight[0]._u, before_u)
    for layer in (m for m in D.modules() if isinstance(m, nn.Linear)):
        assert torch.linalg.matrix_norm(layer.weight.detach(), 2).item() == pytest.approx(1.0, abs=1e-2)
    fresh = ProximalConfig(steps=2, fresh_batches=True)  # the frozen snapshot of a spectral-normed D works too
    inner_loop(D, get_formulation("sngan"), real, fake, fresh, next_batch=lambda: (real, fake))


def test_input_gradients_work_under_no_grad():
    D = Linear(W0)
    with torch.no_grad():
        g = input_gradients(D, torch.randn(4, 3, dtype=DT), create_graph=False)
        d = sobolev_distance_sq(D, Linear([0.0, 0.0, 0.0]), torch.randn(4, 3, dtype=DT))
    assert torch.allclose(g, D.w.detach().expand(4, 3))
    assert d.item() == pytest.approx(sum(w * w for w in W0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lam": -1}, "proximal lam must be >= 0"),
        ({"steps": 0}, "proximal steps must be a positive integer"),
        ({"optimizer": "lbfgs"}, "unknown proximal optimizer 'lbfgs'"),
        ({"lr": float("nan")}, "proximal lr must be finite"),
    ],
)
def test_bad_proximal_settings_name_the_value(kwargs, message):
    with pytest.raises(ProxganError, match=message):
        ProximalConfig(**kwargs)
