"""The inner-step gradient of piecewise-linear discriminators (proxgan.piecewise) against autograd's double backward."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from proxgan import proximal
from proxgan.gradients import input_gradients
from proxgan.labels import with_labels
from proxgan.models import build_models
from proxgan.objectives import OBJECTIVES
from proxgan.piecewise import Chain, chain_of, chain_step
from proxgan.proximal import proximal_loss, proximal_update


def setup(arch="dcgan", spectral_norm=False, classes=0, n=6, seed=0):
    """(D, real, fake, refs) in float64; a conditional D gets a non-zero class embedding."""
    torch.manual_seed(seed)
    shape = (1, 28, 28) if arch == "dcgan" else (1, 8, 8)
    _, D = build_models(arch, shape, dim=4, spectral_norm=spectral_norm, classes=classes)
    D = D.double()
    if classes:
        nn.init.normal_(D.embed.weight)
    real, fake = torch.randn(n, *shape, dtype=torch.float64), torch.randn(n, *shape, dtype=torch.float64)
    if classes:
        real = with_labels(real, torch.randint(0, classes, (n,)))
        fake = with_labels(fake, torch.randint(0, classes, (n,)))
    refs = input_gradients(copy.deepcopy(D).eval(), real + 0.1, create_graph=False)  # some other D's gradients
    return D, real, fake, refs


def both_gradients(D, real, fake, refs, loss, lam, r1=0.0, rows=None):
    """(values, gradients) from double backprop (one spectral-norm power iteration, as the chain uses) and the chain."""
    D1, D2 = copy.deepcopy(D), copy.deepcopy(D)
    refs = refs if rows is None else refs[rows]
    with parametrize.cached():
        values1 = proximal_loss(D1, real, fake, loss, refs, lam, r1=r1, rows=rows)
        values1[0].backward()
    *values2, backward = chain_step(chain_of(D2), real, fake, loss, refs, lam, r1=r1, rows=rows)
    backward()
    grads = [(p1.grad, p2.grad) for p1, p2 in zip(D1.parameters(), D2.parameters())]
    return list(zip(values1, values2)), grads


CASES = [
    # arch, spectral norm, classes, loss, λ, γ (R1), penalty rows
    ("dcgan", False, 0, "nsgan", 0.1, 0.0, None),
    ("dcgan", True, 0, "nsgan", 0.1, 0.0, None),
    ("dcgan", True, 10, "hinge", 0.1, 10.0, None),
    ("dcgan", False, 0, "wgan", 0.1, 10.0, [3, 0, 5]),
    ("dcgan", False, 10, "nsgan", 0.0, 10.0, [1, 4]),
    ("dcgan", False, 0, "vanilla", 0.0, 0.0, None),
    ("mlp", True, 0, "nsgan", 0.1, 0.0, [1, 2]),
    ("mlp", False, 0, "fgan-kl", 2.0, 0.0, None),
]


@pytest.mark.parametrize("arch,sn,classes,loss,lam,r1,rows", CASES)
def test_chain_step_is_the_double_backward_gradient(arch, sn, classes, loss, lam, r1, rows):
    D, real, fake, refs = setup(arch, sn, classes)
    rows = None if rows is None else torch.tensor(rows)
    values, grads = both_gradients(D, real, fake, refs, OBJECTIVES[loss].discriminator_loss, lam, r1, rows)
    for v1, v2 in values:  # total, d_loss, sobolev
        torch.testing.assert_close(v2, v1.detach(), rtol=1e-12, atol=1e-14)
    scale = max(g.abs().max().item() for g, _ in grads)
    assert scale > 0
    for g1, g2 in grads:
        torch.testing.assert_close(g2, g1, rtol=1e-10, atol=1e-12 * scale)
    if lam:  # the penalty reaches every weight: its gradient is not the plain loss's
        plain = both_gradients(D, real, fake, refs, OBJECTIVES[loss].discriminator_loss, 0.0, 0.0, None)[1]
        assert any((g - p).abs().max() > 1e-6 * scale for (g, _), (p, _) in zip(grads, plain))


def power_iteration_vectors(D):
    return [m.parametrizations.weight[0]._u.clone() for m in D.modules() if parametrize.is_parametrized(m)]


def test_chain_step_runs_one_power_iteration_per_step():
    D, real, fake, refs = setup(spectral_norm=True)
    once = copy.deepcopy(D)
    for m in once.modules():
        if parametrize.is_parametrized(m):
            _ = m.weight  # one training-mode read: one power iteration
    before = power_iteration_vectors(D)
    chain_step(chain_of(D), real, fake, OBJECTIVES["nsgan"].discriminator_loss, refs, 0.1)[3]()
    after = power_iteration_vectors(D)
    assert len(after) == 4 and all(not torch.equal(u0, u1) for u0, u1 in zip(before[:3], after[:3]))  # head's u: ±1
    for u1, u_once in zip(after, power_iteration_vectors(once)):
        torch.testing.assert_close(u1, u_once, rtol=0, atol=0)


class Hidden(nn.Module):
    """D without a chain() (the autograd path only)."""

    def __init__(self, D):
        super().__init__()
        self.D = D

    def forward(self, x):
        return self.D(x)


@pytest.mark.parametrize("penalty_batch,tol", [(None, None), (3, None), (None, 0.3)])
def test_proximal_update_takes_the_chain_to_the_same_weights(penalty_batch, tol):
    D, real, fake, _ = setup()
    loss = OBJECTIVES["nsgan"].discriminator_loss
    results = []
    for model in (copy.deepcopy(D), Hidden(copy.deepcopy(D))):
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        update = proximal_update(model, real, fake, loss, opt, lam=0.5, steps=8, tol=tol, penalty_batch=penalty_batch,
                                 r1=1.0, generator=torch.Generator().manual_seed(1))  # fmt: skip
        results.append((update, [p.detach().clone() for p in model.parameters()]))
    (fast, w_fast), (slow, w_slow) = results
    assert fast.steps == slow.steps and (fast.steps < 8 if tol else fast.steps == 8)  # tol: the stop was taken
    torch.testing.assert_close(fast.losses, slow.losses, rtol=1e-10, atol=1e-12)
    for a, b in zip(w_fast, w_slow):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_proximal_update_falls_back_where_the_chain_does_not_apply(monkeypatch):
    D, real, fake, _ = setup()
    loss = OBJECTIVES["wgan"].discriminator_loss
    calls = []
    original = proximal.chain_step
    monkeypatch.setattr(proximal, "chain_step", lambda *a, **k: calls.append(1) or original(*a, **k))

    def run(model, real=real, fake=fake, **options):
        calls.clear()
        proximal_update(model, real, fake, loss, torch.optim.SGD(model.parameters(), lr=0.01), steps=2, **options)
        return len(calls)

    assert run(copy.deepcopy(D)) == 2
    assert run(Hidden(copy.deepcopy(D))) == 0  # no chain()
    assert run(copy.deepcopy(D), penalty=lambda D, r, f: D(r).pow(2).mean()) == 0  # a penalty needs D itself
    scaler = torch.amp.GradScaler("cpu")
    assert run(copy.deepcopy(D).float(), real.float(), fake.float(), scaler=scaler) == 0  # scaled gradients
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert run(copy.deepcopy(D).float(), real.float(), fake.float()) == 2


@pytest.mark.parametrize("sn,classes", [(False, 0), (True, 10)])
def test_chain_step_under_bfloat16_autocast_is_as_accurate_as_autograd_under_it(sn, classes):
    D, real, fake, refs = setup("dcgan", sn, classes, n=16)
    D, real, fake, refs = D.float(), real.float(), fake.float(), refs.float()
    loss = OBJECTIVES["nsgan"].discriminator_loss
    exact = torch.cat([g.flatten() for g, _ in both_gradients(D, real, fake, refs, loss, 0.1, 10.0)[1]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        values, grads = both_gradients(D, real, fake, refs, loss, 0.1, 10.0)
    errors = [(torch.cat([g[k].flatten() for g in grads]) - exact).norm() / exact.norm() for k in (0, 1)]
    assert all(chain_value.dtype == torch.float32 for _, chain_value in values)
    assert 0 < errors[1] < 0.1 and errors[1] < 2 * errors[0]  # bf16 rounding, no worse than autograd's under autocast


def test_chain_of_refuses_layers_it_cannot_differentiate():
    _, D = build_models("mlp", (1, 8, 8), dim=4)
    assert chain_of(D) is not None
    tanh = Chain((nn.Flatten(), nn.Linear(64, 8), nn.Tanh()), nn.Linear(8, 1))
    same = Chain((nn.Conv2d(1, 2, 3, padding="same"), nn.Flatten()), nn.Linear(2 * 64, 1))
    reflect = Chain((nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), nn.Flatten()), nn.Linear(2 * 64, 1))
    wide = Chain((nn.Flatten(),), nn.Linear(64, 2))
    partial = Chain((nn.Flatten(2), nn.Linear(64, 8)), nn.Linear(8, 1))
    for chain in (tanh, same, reflect, wide, partial):
        holder = nn.Module()
        holder.chain = lambda chain=chain: chain
        assert chain_of(holder) is None


class UserChain(nn.Module):
    """A user's own piecewise-linear D declaring its chain: grouped and dilated convolutions, ReLU, no head bias."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=2, dilation=2, groups=2), nn.ReLU(),
            nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.LeakyReLU(0.1),
            nn.Flatten(), nn.Linear(6 * 4 * 4, 8), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(8, 1, bias=False)

    def forward(self, x):
        return self.head(self.body(x)).squeeze(-1)

    def chain(self):
        return Chain(tuple(self.body), self.head)


def test_a_users_chain_gets_the_double_backward_gradient():
    torch.manual_seed(3)
    D = UserChain().double()
    real, fake = torch.randn(5, 2, 8, 8, dtype=torch.float64), torch.randn(5, 2, 8, 8, dtype=torch.float64)
    refs = input_gradients(copy.deepcopy(D), real - 0.2, create_graph=False)
    loss = OBJECTIVES["nsgan"].discriminator_loss
    values, grads = both_gradients(D, real, fake, refs, loss, 0.3, 1.0, torch.tensor([4, 1]))
    for v1, v2 in values:
        torch.testing.assert_close(v2, v1.detach(), rtol=1e-12, atol=1e-14)
    for g1, g2 in grads:
        torch.testing.assert_close(g2, g1, rtol=1e-10, atol=1e-13)
