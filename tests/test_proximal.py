"""Sobolev proximal operator (eqs. 11, 15; Algorithm 1): closed forms, finite differences, constraints."""

import copy
import doctest
import itertools

import pytest
import torch
from torch import nn

import proxgan
from proxgan import proximal as proximal_module
from proxgan.errors import ProxganError
from proxgan.gradients import input_gradients
from proxgan.models import MLPDiscriminator
from proxgan.objectives import get_formulation, r1_penalty
from proxgan.proximal import (
    OptimizerConfig,
    ProximalConfig,
    penalty_rows,
    proximal_loss,
    proximal_update,
    sobolev_distance_sq,
    sobolev_penalty,
)


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
        cfg = ProximalConfig(lam=lam, steps=80, optimizer=OptimizerConfig("sgd", lr=0.5 / lam))  # contraction factor 1/2
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
    inner_loop(D, get_formulation("wgan-sn"), real, fake, ProximalConfig(lam=1.0, steps=300, optimizer=OptimizerConfig(lr=0.02)))
    assert (D.w.detach() - target).norm().item() < 0.02 * start


def test_penalty_changes_the_inner_solution():
    """If the penalty did not reach w (no double backprop), λ would not matter."""
    torch.manual_seed(0)
    D0 = MLPDiscriminator((2,), hidden=(16, 16)).to(DT)
    real, fake = torch.randn(32, 2, dtype=DT) + 2, torch.randn(32, 2, dtype=DT)
    solutions = {}
    for lam in (0.0, 10.0):
        D = copy.deepcopy(D0)
        inner_loop(D, get_formulation("wgan-sn"), real, fake, ProximalConfig(lam=lam, steps=20, optimizer=OptimizerConfig(lr=1e-2)))
        solutions[lam] = torch.cat([p.detach().flatten() for p in D.parameters()])
    start = torch.cat([p.detach().flatten() for p in D0.parameters()])
    moved = {lam: (w - start).norm().item() for lam, w in solutions.items()}
    assert (solutions[0.0] - solutions[10.0]).norm().item() > 0.05 * moved[0.0]
    assert sobolev_distance_sq(D, D0, real).item() > 0


def test_fresh_batches_use_a_frozen_reference():
    """References from a snapshot of D_{w_k} (not the moving D): same fixed point as the outer-batch loop."""
    real, fake = gaussian_batches()
    cfg = ProximalConfig(lam=2.0, steps=60, optimizer=OptimizerConfig("sgd", lr=0.25), fresh_batches=True)
    calls = []

    def next_batch():
        calls.append(1)
        return real, fake

    D = Linear(W0)
    inner_loop(D, get_formulation("wgan-sn"), real, fake, cfg, next_batch=next_batch)
    assert len(calls) == 60
    expected = torch.tensor(W0, dtype=DT) + (real.mean(0) - fake.mean(0)) / 2.0
    assert torch.allclose(D.w.detach(), expected, atol=1e-12)


class SizeRecording(nn.Module):
    """Records (training mode, rows) of every forward pass, its deep copies (the frozen D_wk) included."""

    seen: list[tuple[bool, int]] = []  # a class attribute: shared with copies

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        SizeRecording.seen.append((self.training, len(x)))
        return self.inner(x)


def test_fresh_batches_take_the_frozen_references_on_the_penalty_rows_only():
    """With fresh batches and penalty_batch = m, D_wk's input gradients are taken on the m penalty rows of each batch,
    and the inner loop is the one with whole-batch references indexed by those rows."""
    torch.manual_seed(0)
    D0 = MLPDiscriminator((3,), hidden=(5,)).to(DT)
    batches = [gaussian_batches(n=8, seed=s) for s in range(3)]
    D = SizeRecording(copy.deepcopy(D0))
    SizeRecording.seen.clear()
    stream = iter(batches)
    proximal_update(D, *batches[0], wgan_loss, torch.optim.SGD(D.parameters(), lr=0.1), lam=0.5, steps=3,
                    penalty_batch=2, next_batch=lambda: next(stream), generator=torch.Generator().manual_seed(1))
    assert [rows for training, rows in SizeRecording.seen if not training] == [2, 2, 2]  # D_wk: the rows only
    expected = copy.deepcopy(D0)  # by hand: whole-batch references of D_wk, then the step's rows
    opt, rows_rng = torch.optim.SGD(expected.parameters(), lr=0.1), torch.Generator().manual_seed(1)
    for real, fake in batches:
        rows = penalty_rows(8, 2, rows_rng)
        refs = input_gradients(D0, real, create_graph=False)[rows]
        opt.zero_grad()
        proximal_loss(expected, real, fake, wgan_loss, refs, 0.5, rows=rows)[0].backward()
        opt.step()
    for mine, theirs in zip(D.inner.parameters(), expected.parameters()):
        assert torch.allclose(mine, theirs, atol=1e-12)


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
    cfg = ProximalConfig(lam=0.1, steps=3, optimizer=OptimizerConfig("sgd", lr=1.0))
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
    cfg = ProximalConfig(lam=0.1, steps=5, optimizer=OptimizerConfig(lr=1e-3))
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
        ({"lam": -1}, "proximal.lam must be >= 0"),
        ({"steps": 0}, "proximal.steps must be a positive integer"),
        ({"optimizer": OptimizerConfig("lbfgs")}, "unknown proximal.optimizer.name 'lbfgs'"),
        ({"optimizer": OptimizerConfig(lr=float("nan"))}, "proximal.optimizer.lr must be finite"),
    ],
)
def test_bad_proximal_settings_name_the_value(kwargs, message):
    with pytest.raises(ProxganError, match=message):
        ProximalConfig(**kwargs)


# --- the drop-in API: any loss, the caller's optimizer, hooks, no host sync --------------------------


def wgan_loss(d_real, d_fake):
    return d_fake.mean() - d_real.mean()


def test_docstring_example_runs():
    assert doctest.testmod(proximal_module).failed == 0
    assert proxgan.proximal_update is proximal_update


def test_user_loss_and_optimizer_reach_the_closed_form_maximizer():
    """The same fixed point as the formulation's loop: w* = w0 + (m̂_real - m̂_fake)/λ, with a plain lambda loss."""
    real, fake = gaussian_batches()
    D = Linear(W0)
    update = proximal_update(D, real, fake, wgan_loss, torch.optim.SGD(D.parameters(), lr=0.25), lam=2.0, steps=60)
    expected = torch.tensor(W0, dtype=DT) + (real.mean(0) - fake.mean(0)) / 2.0
    assert torch.allclose(D.w.detach(), expected, atol=1e-12)
    assert update.steps == 60 and update.losses.shape == (60,)


def test_hooks_run_around_every_step_and_a_grad_scaler_changes_nothing():
    real, fake = gaussian_batches()
    real, fake = real.float(), fake.float()
    seen = []

    def clip(D):  # before the step: gradients exist and are unscaled
        seen.append(("before", D.w.grad.clone()))
        torch.nn.utils.clip_grad_norm_(D.parameters(), 0.5)

    def project(D):
        seen.append(("after", None))
        with torch.no_grad():
            D.w.clamp_(-0.4, 0.4)

    results = []
    for scaler in (None, torch.amp.GradScaler("cpu", init_scale=2.0**10)):
        D = Linear(W0).float()
        opt = torch.optim.SGD(D.parameters(), lr=0.3)
        proximal_update(D, real, fake, wgan_loss, opt, steps=5, before_step=clip, after_step=project, scaler=scaler)
        results.append(D.w.detach().clone())
    assert [kind for kind, _ in seen] == ["before", "after"] * 10
    for (_, g_plain), (_, g_scaled) in zip(seen[0:10:2], seen[10:20:2]):
        assert torch.equal(g_plain, g_scaled)  # the scale 2^10 is undone exactly
    assert torch.equal(results[0], results[1]) and results[0].abs().max() <= 0.4


def test_no_host_sync_unless_tol_is_set(monkeypatch):
    def forbidden(self, *args):
        raise AssertionError("host sync")

    real, fake = gaussian_batches()
    for name in ("item", "tolist", "__bool__", "__float__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    D = Linear(W0)  # SGD: torch's CPU Adam reads its step counter with .item()
    proximal_update(D, real, fake, wgan_loss, torch.optim.SGD(D.parameters(), lr=0.1), steps=3, penalty_batch=16)
    with pytest.raises(AssertionError, match="host sync"):
        proximal_update(D, real, fake, wgan_loss, torch.optim.SGD(D.parameters(), lr=0.1), steps=3, tol=0.1)


# --- the adaptive inner loop (proximal.tol) ------------------------------------------------------------


def test_adaptive_loop_stops_where_its_criterion_says_and_never_exceeds_t():
    """Linear D, SGD with lr = c/λ: w_t - w* = (1-c)^t (w0 - w*), so Φ* - Φ_t = (λ/2) q^t ||w0 - w*||² with
    q = (1-c)². The stopping ratio (Φ_t - Φ_{t-1}) / (Φ_t - Φ_0) = q^(t-1)(1-q)/(1-q^t): for c = 1/2 it is
    1, 0.2, 0.0476, ... at t = 1, 2, 3, so tol = 0.1 stops at w_3 after 3 steps, tol = 0.3 at w_2."""
    real, fake = gaussian_batches()
    lam, c = 2.0, 0.5
    w0 = torch.tensor(W0, dtype=DT)
    w_star = w0 + (real.mean(0) - fake.mean(0)) / lam
    q = (1 - c) ** 2
    for tol, cap in ((0.1, 20), (0.3, 20), (0.1, 2), (1e-9, 7)):
        ratios = [q ** (t - 1) * (1 - q) / (1 - q**t) for t in range(1, 50)]
        expected = min(next(t for t, r in enumerate(ratios, start=1) if r <= tol), cap)
        D = Linear(W0)
        update = proximal_update(D, real, fake, wgan_loss, torch.optim.SGD(D.parameters(), lr=c / lam),
                                 lam=lam, steps=cap, tol=tol)  # fmt: skip
        assert update.steps == expected <= cap
        assert torch.allclose(D.w.detach(), w_star + (1 - c) ** expected * (w0 - w_star), atol=1e-12)
        evaluated = expected + (expected < cap)  # one more evaluation when the criterion (not the cap) stopped it
        assert update.losses.shape == (evaluated,)
        gaps = [(lam / 2) * q**t * (w0 - w_star).pow(2).sum().item() for t in range(evaluated)]
        phi = (-update.losses).tolist()
        assert [phi[-1] - p for p in phi] == pytest.approx([gaps[t] - gaps[-1] for t in range(evaluated)], abs=1e-12)


def test_adaptive_loop_that_has_gained_nothing_goes_on_to_t():
    """SGD with lr = 2.5/λ overshoots: w_t - w* = (-1.5)^t (w0 - w*), Φ falls every step; never 'converged'."""
    real, fake = gaussian_batches()
    D = Linear(W0)
    update = proximal_update(D, real, fake, wgan_loss, torch.optim.SGD(D.parameters(), lr=2.5 / 2.0), lam=2.0,
                             steps=6, tol=0.5)  # fmt: skip
    assert update.steps == 6 and bool((update.losses.diff() > 0).all())


# --- the Sobolev penalty on a sub-batch (proximal.penalty_batch) ---------------------------------------


def test_sub_batch_penalty_and_its_gradient_are_unbiased_over_all_subsets():
    """Averaged over all C(6, 2) row subsets, the sub-batch inner loss and its w-gradient equal the full batch's."""
    torch.manual_seed(0)
    D = MLPDiscriminator((3,), hidden=(5,)).to(DT)
    real, fake = gaussian_batches(n=6)
    ref = input_gradients(MLPDiscriminator((3,), hidden=(5,)).to(DT), real, create_graph=False)
    params = list(D.parameters())[:-1]  # the output bias does not enter ∇ₓD

    def loss_and_grad(rows):
        refs = ref if rows is None else ref[rows]  # the references of the penalty rows
        total, _, sobolev = proximal_loss(D, real, fake, wgan_loss, refs, 0.7, rows=rows)
        return sobolev.detach(), torch.cat([g.flatten() for g in torch.autograd.grad(total, params)])

    full_penalty, full_grad = loss_and_grad(None)
    subsets = [torch.tensor(s) for s in itertools.combinations(range(6), 2)]
    penalties, grads = zip(*(loss_and_grad(rows) for rows in subsets))
    assert torch.stack(penalties).mean().item() == pytest.approx(full_penalty.item(), rel=1e-12)
    assert torch.allclose(torch.stack(grads).mean(0), full_grad, atol=1e-12)
    assert not torch.allclose(grads[0], full_grad)  # each subset alone is only an estimate


def test_r1_in_the_inner_loss_reuses_the_sobolev_input_gradients():
    """(γ/2)·R1 from the Sobolev term's input gradients equals a separate R1 pass on the same rows, value and w-gradient;
    with λ = 0 the rows' gradients are still taken for R1 alone."""
    torch.manual_seed(0)
    D = MLPDiscriminator((3,), hidden=(5,)).to(DT)
    real, fake = gaussian_batches(n=6)
    ref = input_gradients(MLPDiscriminator((3,), hidden=(5,)).to(DT), real, create_graph=False)
    params = list(D.parameters())[:-1]
    for lam, rows in ((0.7, torch.tensor([4, 0, 2])), (0.7, None), (0.0, torch.tensor([1, 5]))):
        on = slice(None) if rows is None else rows
        refs = ref[on]
        shared = proximal_loss(D, real, fake, wgan_loss, refs, lam, r1=3.0, rows=rows)[0]
        separate = proximal_loss(D, real, fake, wgan_loss, refs, lam, rows=rows,
                                 penalty=lambda D, r, f, on=on: 1.5 * r1_penalty(D, r[on]))[0]  # fmt: skip
        assert shared.item() == pytest.approx(separate.item(), rel=1e-12)
        assert shared.item() != pytest.approx(proximal_loss(D, real, fake, wgan_loss, refs, lam, rows=rows)[0].item())
        g_shared, g_separate = (torch.cat([g.flatten() for g in torch.autograd.grad(t, params)]) for t in (shared, separate))
        assert torch.allclose(g_shared, g_separate, atol=1e-12)


def test_nsgan_r1_inner_loop_carries_its_r1_term():
    """The formulation's inner loss at w_k is V's loss + (γ/2)·R1 on the penalty rows (the Sobolev term is 0 there)."""
    torch.manual_seed(0)
    D = MLPDiscriminator((3,), hidden=(5,)).to(DT)
    real, fake = gaussian_batches(n=6)
    f = get_formulation("nsgan-r1")
    update = f.proximal_update(D, real, fake, proximal_module.ProximalConfig(lam=0.1, steps=1),
                               optimizer=torch.optim.SGD(D.parameters(), lr=0.0))  # fmt: skip
    with torch.no_grad():
        expected = f.objective.discriminator_loss(D(real), D(fake))
    expected = expected + 0.5 * f.r1 * r1_penalty(D, real)
    assert update.losses[0].item() == pytest.approx(expected.item(), rel=1e-12)


def test_penalty_rows_are_a_uniform_subset():
    """Every 2-subset of 6 rows equally likely: 15,000 seeded draws, each subset within 5 standard deviations of 1,000."""
    g = torch.Generator().manual_seed(0)
    counts: dict[tuple[int, ...], int] = {}
    for _ in range(15_000):
        key = tuple(sorted(penalty_rows(6, 2, g).tolist()))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 15
    sd = (15_000 * (1 / 15) * (14 / 15)) ** 0.5
    assert all(abs(c - 1000) < 5 * sd for c in counts.values())


def test_sub_batch_penalty_keeps_every_real_score_in_order():
    """V sees the whole real batch in its original order, whichever rows carry the penalty."""
    real, fake = gaussian_batches(n=8)
    D, seen = Linear(W0), []

    def recording_loss(d_real, d_fake):
        seen.append(d_real.detach())
        return wgan_loss(d_real, d_fake)

    rows = torch.tensor([5, 1, 6])
    proximal_loss(D, real, fake, recording_loss, input_gradients(D, real[rows], create_graph=False), 0.1, rows=rows)
    assert torch.equal(seen[0], real @ D.w.detach())


def test_sub_batch_inner_loop_approaches_the_full_batch_solution():
    """Linear D: ∇ₓD = w for every row, so any sub-batch penalty equals the full one and the solutions coincide."""
    real, fake = gaussian_batches()
    solutions = []
    for penalty_batch in (None, 8):
        D = Linear(W0)
        proximal_update(D, real, fake, wgan_loss, torch.optim.SGD(D.parameters(), lr=0.25), lam=2.0, steps=60,
                        penalty_batch=penalty_batch, generator=torch.Generator().manual_seed(1))  # fmt: skip
        solutions.append(D.w.detach())
    assert torch.allclose(solutions[0], solutions[1], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tol": 0.0}, "proximal.tol must be > 0"),
        ({"tol": 1.0}, r"proximal.tol must be in \(0, 1\), got 1"),
        ({"tol": float("inf")}, "proximal.tol must be finite"),
        ({"penalty_batch": 0}, "proximal.penalty_batch must be a positive integer"),
        ({"penalty_batch": 2.5}, "proximal.penalty_batch must be a positive integer"),
    ],
)
def test_bad_cheaper_proximal_settings_name_the_value(kwargs, message):
    with pytest.raises(ProxganError, match=message):
        ProximalConfig(**kwargs)


def test_config_rejects_a_penalty_batch_larger_than_the_batch():
    from proxgan.config import config_from_dict

    with pytest.raises(ProxganError, match="proximal.penalty_batch=65 exceeds train.batch_size=64"):
        config_from_dict({"train": {"batch_size": 64}, "proximal": {"penalty_batch": 65}})
    assert config_from_dict({"proximal": {"penalty_batch": 16, "tol": 0.01}}).proximal.tol == 0.01


def test_a_penalty_batch_larger_than_the_real_batch_is_one_error_line():
    real, fake = gaussian_batches(n=8)
    D = Linear(W0)
    with pytest.raises(ProxganError, match="proximal.penalty_batch=9 exceeds the real batch of 8"):
        proximal_update(D, real, fake, wgan_loss, torch.optim.SGD(D.parameters(), lr=0.1), penalty_batch=9)


def test_import_proxgan_stays_torch_free_and_the_gradient_helpers_are_a_leaf():
    """``import proxgan`` loads torch only when a public function is first used; proxgan.gradients imports no proxgan
    module, proximal does not import objectives (objectives names proximal's types: one direction, no circle), and
    piecewise (proximal's gradient for chain discriminators) imports only the labels leaf."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    probe = "import sys, proxgan; a = 'torch' in sys.modules; proxgan.proximal_update; print(a, 'torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split() == [
        "False", "True"]
    src = Path(proxgan.__file__).parent

    def imported(name):
        tree = ast.parse((src / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}

    assert not {m for m in imported("gradients") if m.startswith("proxgan")}
    assert "proxgan.gradients" in imported("objectives") and "proxgan.gradients" in imported("proximal")
    assert not {m for m in imported("proximal") if m.startswith("proxgan")} - {
        "proxgan.errors", "proxgan.gradients", "proxgan.piecewise"}
    assert {m for m in imported("piecewise") if m.startswith("proxgan")} == {"proxgan.labels"}
