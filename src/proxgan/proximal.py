"""The Sobolev proximal operator of a GAN objective: eqs. (11), (15), Proposition 4, Algorithm 1.

The proximal objective (eq. 11) with the Sobolev semi-norm ||D||_{Ḣ¹}² = E_P[||∇ₓD(X)||²] (eq. 15) is

    V_λ^prox(G, D_{w_k}) = max_w  V(G, D_w) - λ/(2n) Σᵢ ||∇ₓD_w(xᵢ) - ∇ₓD_{w_k}(xᵢ)||²,

estimated on a real batch x_1..x_n exactly as in Algorithm 1 (whose 1/2 factor we keep). The
penalty depends on w only through input gradients, so autograd gets its w-gradient by double
backpropagation: ∇ₓD_w is computed with ``create_graph=True`` and the penalty is backpropagated
through it. For a piecewise-linear discriminator that declares its layers (proxgan's DCGAN and MLP) the same
gradient comes from four passes without double backprop (:mod:`proxgan.piecewise`), about 7/6 of a plain
step's work instead of 3/2. :func:`proximal_update` runs the inner ascent of Algorithm 1 from w_k for any PyTorch
discriminator, loss and optimizer; proxgan's own formulations call it through
:meth:`proxgan.objectives.Formulation.proximal_update`.

Two options go beyond the paper (both off by default, so Algorithm 1 is what runs):

* ``penalty_batch = m``: the Sobolev penalty of each inner step on m rows of the real batch drawn
  uniformly without replacement, (1/(2m)) Σ_{i∈S} ||∇ₓD_w(xᵢ) - ∇ₓD_{w_k}(xᵢ)||², an unbiased estimate
  of the full-batch penalty (every row is in S with probability m/n); only those m rows pay for the
  double backward (and, with fresh batches, for D_{w_k}'s reference gradients). V still sees the whole real batch.
* ``tol``: stop the inner loop early (T stays the cap). Write Φ(w) = -(loss + penalty + λ·sobolev) for
  the inner objective and Φ_t = Φ(w_t). Proposition 4 rests on Φ being λ-strongly concave in D's
  function space under the Sobolev norm, so for the maximizer D*, (λ/2)||D_t - D*||²_{Ḣ¹} ≤ Φ* - Φ_t,
  with equality when V is linear in D (WGAN). If the ascent contracts the gap at a rate ρ < 1
  (Φ* - Φ_{t} ≤ ρ (Φ* - Φ_{t-1}), as gradient ascent does on a strongly concave, smooth objective), then
  Φ* - Φ_t ≤ ρ/(1-ρ) · (Φ_t - Φ_{t-1}): the gain of the last step bounds the remaining gap. The loop
  therefore stops at the first t ≥ 1 with

      Φ_t > Φ_0   and   |Φ_t - Φ_{t-1}| ≤ tol · (Φ_t - Φ_0),

  i.e. the last step changed Φ by at most a fraction tol of everything gained from w_k. A loop that has
  gained nothing yet, or whose last step lost more than that (an ascent that is not contracting yet, e.g.
  Adam's momentum carried over from the previous outer step), is not converged and goes on. This bounds the
  relative suboptimality (Φ* - Φ_t)/(Φ* - Φ_0) ≤ tol·ρ/(1-ρ) (for WGAN: the relative squared Sobolev
  distance ||D_t - D*||²/||D_k - D*||²). w_t is returned without the update from w_t. The check costs
  one scalar copied to the host per inner step (only when ``tol`` is set); with ``penalty_batch`` or
  fresh batches Φ_t is a noisy estimate, so the test can fire early on noise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from proxgan.errors import (
    ProxganError,
    check_choice,
    check_in_range,
    check_nonnegative,
    check_positive,
    check_positive_int,
)
from proxgan.gradients import input_gradients, mean_sq_gradient_distance, mean_sq_norm, scores_and_input_gradients
from proxgan.piecewise import Chain, chain_of, chain_step, penalty_rows_first

#: ``loss(d_real, d_fake)``: the scalar the discriminator minimises, from its scores on a real and a fake batch
DiscriminatorLoss = Callable[[Tensor, Tensor], Tensor]
#: ``penalty(D, real, fake)``: an extra term of D's loss that needs D and the samples (e.g. WGAN-GP's)
Penalty = Callable[[nn.Module, Tensor, Tensor], Tensor]
#: ``hook(D)``: called before (gradient clipping) or after (projection, weight clipping) each optimizer step
StepHook = Callable[[nn.Module], None]


def sobolev_penalty(D: nn.Module, x: Tensor, ref_grads: Tensor) -> Tensor:
    """(1/(2n)) Σᵢ ||∇ₓD_w(xᵢ) - refᵢ||² (Algorithm 1), differentiable in w by double backprop."""
    grads = input_gradients(D, x, create_graph=True)
    return 0.5 * mean_sq_gradient_distance(grads, ref_grads.detach())


def sobolev_distance_sq(D1: nn.Module, D2: nn.Module, x: Tensor) -> Tensor:
    """||D1 - D2||²_{Ḣ¹} estimated on x (eq. 15): (1/n) Σᵢ ||∇ₓD1(xᵢ) - ∇ₓD2(xᵢ)||².

    Differentiable in D1's weights when grad mode is on; D2 is treated as fixed.
    """
    grads1 = input_gradients(D1, x, create_graph=torch.is_grad_enabled())
    grads2 = input_gradients(D2, x, create_graph=False)
    return mean_sq_gradient_distance(grads1, grads2)


OPTIMIZERS = ("adam", "rmsprop", "sgd")


@dataclass(frozen=True)
class OptimizerConfig:
    """A torch optimizer: ``adam`` (lr, betas), ``rmsprop`` or ``sgd`` (lr); the defaults are the WGAN-GP Adam
    settings (Gulrajani et al. 2017). Used for both players (``train.g_optimizer``, ``train.d_optimizer``), the
    proximal inner loop (``proximal.optimizer``) and the equilibrium tests' inner loop."""

    name: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(self.betas))  # a list from JSON or YAML compares equal as a tuple

    def check(self, key: str) -> OptimizerConfig:
        """Validate name, lr > 0 and betas in [0, 1); each error names the dotted ``key`` (``key.lr``, ...)."""
        check_choice(f"{key}.name", self.name, OPTIMIZERS)
        check_positive(f"{key}.lr", self.lr)
        if len(self.betas) != 2:
            raise ProxganError(f"{key}.betas must be two numbers, got {list(self.betas)!r}")
        for i, beta in enumerate(self.betas):
            check_in_range(f"{key}.betas[{i}]", beta, 0.0, 0.999999)
        return self

    def build(self, params) -> torch.optim.Optimizer:
        """The torch optimizer over ``params`` (betas are Adam's only)."""
        if self.name == "adam":
            return torch.optim.Adam(params, lr=self.lr, betas=self.betas)
        if self.name == "rmsprop":
            return torch.optim.RMSprop(params, lr=self.lr)
        return torch.optim.SGD(params, lr=self.lr)


def check_inner_settings(lam: float, steps: int, tol: float | None, penalty_batch: int | None) -> None:
    """Validate λ ≥ 0, T ≥ 1, tol in (0, 1) and penalty_batch ≥ 1 (None: off), one ProxganError line each."""
    check_nonnegative("proximal.lam", lam)
    check_positive_int("proximal.steps", steps)
    if tol is not None and check_positive("proximal.tol", tol) >= 1:
        raise ProxganError(f"proximal.tol must be in (0, 1), got {tol:g}")
    if penalty_batch is not None:
        check_positive_int("proximal.penalty_batch", penalty_batch)


@dataclass(frozen=True)
class ProximalConfig:
    """Inner maximization of Algorithm 1; defaults from paper §6.2 (λ = 0.1, T = 20 Adam steps).

    ``optimizer`` defaults to the WGAN-GP Adam settings (Gulrajani et al. 2017). ``fresh_batches``
    draws a new (real, fake) pair for every inner step instead of reusing the outer batch.
    ``tol`` (adaptive stop, T the cap) and ``penalty_batch`` (Sobolev penalty on a sub-batch) are
    the cheaper variants described in this module's docstring; None keeps Algorithm 1.
    """

    lam: float = 0.1
    steps: int = 20
    optimizer: OptimizerConfig = OptimizerConfig()
    fresh_batches: bool = False
    tol: float | None = None
    penalty_batch: int | None = None

    def __post_init__(self) -> None:
        check_inner_settings(self.lam, self.steps, self.tol, self.penalty_batch)
        self.optimizer.check("proximal.optimizer")

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        """A fresh inner optimizer over ``params``."""
        return self.optimizer.build(params)

    def update(
        self,
        D: nn.Module,
        real: Tensor,
        fake: Tensor,
        loss: DiscriminatorLoss,
        *,
        optimizer: torch.optim.Optimizer | None = None,
        penalty: Penalty | None = None,
        r1: float = 0.0,
        after_step: StepHook | None = None,
        next_batch: Callable[[], tuple[Tensor, Tensor]] | None = None,
        generator: torch.Generator | None = None,
    ) -> ProximalUpdate:
        """:func:`proximal_update` with these settings; ``optimizer`` defaults to a fresh :meth:`make_optimizer`.

        ``next_batch`` is required with ``fresh_batches`` and ignored otherwise.
        """
        if self.fresh_batches and next_batch is None:
            raise ValueError("fresh_batches needs next_batch() returning a (real, fake) pair")
        return proximal_update(
            D, real, fake, loss, optimizer or self.make_optimizer(D.parameters()),
            lam=self.lam, steps=self.steps, tol=self.tol, penalty_batch=self.penalty_batch, penalty=penalty, r1=r1,
            after_step=after_step, next_batch=next_batch if self.fresh_batches else None, generator=generator,
        )  # fmt: skip


def frozen_copy(D: nn.Module) -> nn.Module:
    """A detached snapshot of D_{w_k} (eval mode: spectral-norm estimates stop updating); a D wrapped in
    DistributedDataParallel is snapshotted without its wrapper."""
    snapshot = copy.deepcopy(D.module if isinstance(D, DistributedDataParallel) else D).eval()
    snapshot.requires_grad_(False)
    return snapshot


def penalty_rows(n: int, m: int, generator: torch.Generator | None = None) -> Tensor:
    """m of the indices 0..n-1 drawn uniformly without replacement (every m-subset equally likely), on the CPU."""
    return torch.randperm(n, generator=generator)[:m]


def proximal_loss(
    D: nn.Module,
    real: Tensor,
    fake: Tensor,
    loss: DiscriminatorLoss,
    ref_grads: Tensor | None,
    lam: float,
    *,
    penalty: Penalty | None = None,
    r1: float = 0.0,
    rows: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(total, d_loss, sobolev) with total = d_loss + penalty(D, real, fake) + λ·sobolev [+ (r1/2)·R1], the inner loss
    of Algorithm 1.

    d_loss = loss(D(real), D(fake)); sobolev = (1/(2|S|)) Σ_{i∈S} ||∇ₓD_w(xᵢ) - ref_gradsᵢ||² over the rows S
    (all of them when ``rows`` is None), ``ref_grads`` holding the references of S's rows in the order of ``rows``
    (of the whole batch when ``rows`` is None). One forward pass on the real rows in S gives both their scores and
    their input gradients; the other real rows get a plain forward. ``r1`` = γ adds the R1 penalty of a
    formulation that has one (Mescheder et al. 2018), (γ/2)·(1/|S|) Σ_{i∈S} ||∇ₓD_w(xᵢ)||², from the same input
    gradients (no second pass). With λ = 0 and no R1 no input gradient is taken.
    """
    if lam == 0 and not r1:
        d_real, grads = D(real), None
    elif rows is None:
        d_real, grads = scores_and_input_gradients(D, real, create_graph=True)
    else:
        order, inverse = penalty_rows_first(rows, real.shape[0], real.device)
        chosen = order[: len(rows)]
        d_rows, grads = scores_and_input_gradients(D, real[chosen], create_graph=True)
        d_real = torch.cat([d_rows, D(real[order[len(rows) :]])])[inverse]
    sobolev = 0.5 * mean_sq_gradient_distance(grads, ref_grads) if lam else real.new_zeros(())
    d_loss = loss(d_real, D(fake))
    total = d_loss if penalty is None else d_loss + penalty(D, real, fake)
    if r1:
        total = total + 0.5 * r1 * mean_sq_norm(grads)
    return total + lam * sobolev, d_loss, sobolev


def inner_step(
    D: nn.Module,
    chain: Chain | None,
    real: Tensor,
    fake: Tensor,
    loss: DiscriminatorLoss,
    ref_grads: Tensor | None,
    lam: float,
    *,
    penalty: Penalty | None = None,
    r1: float = 0.0,
    rows: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Callable[[], None]]:
    """(total, d_loss, sobolev, backward) of one inner step, ``backward()`` accumulating ∂total/∂w into D's grads.

    With D's ``chain`` (:func:`proxgan.piecewise.chain_of`; only without ``penalty``) the gradient comes from
    :func:`proxgan.piecewise.chain_step`, without double backprop; otherwise from :func:`proximal_loss` and
    ``total.backward``. The two give the same values and gradients up to floating-point reassociation.
    """
    if chain is not None and penalty is None:
        return chain_step(chain, real, fake, loss, ref_grads, lam, r1=r1, rows=rows)
    total, d_loss, sobolev = proximal_loss(D, real, fake, loss, ref_grads, lam, penalty=penalty, r1=r1, rows=rows)
    return total, d_loss, sobolev, total.backward


@dataclass(frozen=True)
class ProximalUpdate:
    """What :func:`proximal_update` did. Tensors stay on D's device (reading them syncs with it).

    losses: the inner loss at every iterate evaluated, w_k = w_0, w_1, ... (one per step; one more when
    ``tol`` stopped the loop, the loss at the returned weights). loss and sobolev: the caller's loss and
    the Sobolev term (1/(2n)) Σ ||∇ₓD_w - ∇ₓD_{w_k}||² at the last iterate evaluated. steps: optimizer steps taken.
    """

    losses: Tensor
    loss: Tensor
    sobolev: Tensor
    steps: int


def _rows_of(t: Tensor | None, rows: Tensor | None) -> Tensor | None:
    """The rows ``rows`` of t (all of t when ``rows`` is None), indexed on t's device."""
    return t if rows is None or t is None else t[rows.to(t.device)]


def _gained_little(losses: list[Tensor], tol: float) -> bool:
    """The adaptive stop: Φ_t > Φ_0 and |Φ_t - Φ_{t-1}| ≤ tol · (Φ_t - Φ_0), Φ = -loss (one scalar copied to the host)."""
    gained = losses[0] - losses[-1]
    return bool((gained > 0) & ((losses[-2] - losses[-1]).abs() <= tol * gained))


def proximal_update(
    D: nn.Module,
    real: Tensor,
    fake: Tensor,
    loss: DiscriminatorLoss,
    optimizer: torch.optim.Optimizer,
    *,
    lam: float = 0.1,
    steps: int = 20,
    tol: float | None = None,
    penalty_batch: int | None = None,
    penalty: Penalty | None = None,
    r1: float = 0.0,
    before_step: StepHook | None = None,
    after_step: StepHook | None = None,
    scaler: torch.amp.GradScaler | None = None,
    next_batch: Callable[[], tuple[Tensor, Tensor]] | None = None,
    generator: torch.Generator | None = None,
) -> ProximalUpdate:
    """Algorithm 1's inner loop: up to ``steps`` optimizer steps from w_k on

        loss(D_w(x), D_w(x̃)) [+ penalty(D_w, x, x̃)] + λ/(2n) Σᵢ ||∇ₓD_w(xᵢ) - ∇ₓD_{w_k}(xᵢ)||²,

    i.e. ascent on V(G, D_w) - λ·||D_w - D_{w_k}||²_{Ḣ¹}/2 (eqs. 11, 15) when loss = -V. D (any module that
    scores samples independently, DDP-wrapped or not) is updated in place by the caller's ``optimizer``.
    ``r1`` = γ adds the R1 penalty (γ/2)·E||∇ₓD_w(x)||² on the penalty's rows, from the Sobolev term's input
    gradients (:func:`proximal_loss`). ``real`` and ``fake`` are one batch each (detached here: the generator
    is fixed); the reference gradients ∇ₓD_{w_k}(x) are taken once. ``next_batch() -> (real, fake)`` draws a new
    pair for every step, its references (on the penalty rows) from a frozen snapshot of D_{w_k}. ``before_step(D)``
    runs between backward and the optimizer step (gradients unscaled when a ``scaler`` is given),
    ``after_step(D)`` after it (projection). ``penalty_batch`` and ``tol`` are the cheaper variants of the module
    docstring; ``generator`` (a CPU torch.Generator, default torch's global one) draws the penalty rows. Nothing is
    copied to the host unless ``tol`` is set. A D with a ``chain()`` (:mod:`proxgan.piecewise`) gets its gradient
    without double backprop unless a ``penalty`` or a ``scaler`` is in play (then, and for any other D,
    only input gradients are taken with ``torch.autograd.grad`` and the parameter gradients come from one
    ``backward()`` per step, so DDP works: a DDP-wrapped D has no ``chain()``).

    Drop-in use in a GAN's training loop, instead of its n_critic discriminator steps:

    >>> import torch
    >>> from torch import nn
    >>> from proxgan import proximal_update
    >>> D = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    >>> opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    >>> wgan_loss = lambda d_real, d_fake: d_fake.mean() - d_real.mean()
    >>> real, fake = torch.randn(64, 2) + 1, torch.randn(64, 2)
    >>> update = proximal_update(D, real, fake, wgan_loss, opt, lam=0.1, steps=20)
    >>> update.steps, update.losses.shape
    (20, torch.Size([20]))
    >>> bool(update.losses[-1] < update.losses[0])
    True
    """
    check_inner_settings(lam, steps, tol, penalty_batch)
    n = real.shape[0]
    if penalty_batch is not None and penalty_batch > n:
        raise ProxganError(f"proximal.penalty_batch={penalty_batch} exceeds the real batch of {n}")
    subsample = penalty_batch is not None and penalty_batch < n and (lam > 0 or r1 > 0)
    real, fake = real.detach(), fake.detach()
    chain = chain_of(D) if scaler is None else None  # a scaler scales total.backward(); inner_step checks penalty
    anchor = frozen_copy(D) if next_batch is not None else None
    ref_grads = input_gradients(D, real, create_graph=False) if lam > 0 and anchor is None else None
    losses: list[Tensor] = []
    taken = 0
    while True:
        if anchor is not None:
            real, fake = (t.detach() for t in next_batch())
        rows = penalty_rows(n, penalty_batch, generator) if subsample else None
        if anchor is not None:  # the frozen D_wk's references, on the penalty rows only
            refs = input_gradients(anchor, _rows_of(real, rows), create_graph=False) if lam > 0 else None
        else:
            refs = _rows_of(ref_grads, rows)
        total, d_loss, sobolev, backward = inner_step(
            D, chain, real, fake, loss, refs, lam, penalty=penalty, r1=r1, rows=rows
        )
        losses.append(total.detach())
        if tol is not None and taken > 0 and _gained_little(losses, tol):
            break
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            backward()
        else:
            scaler.scale(total).backward()
            if before_step is not None:
                scaler.unscale_(optimizer)
        if before_step is not None:
            before_step(D)
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()
        if after_step is not None:
            after_step(D)
        taken += 1
        if taken == steps:
            break
    return ProximalUpdate(torch.stack(losses), d_loss.detach(), sobolev.detach(), taken)
