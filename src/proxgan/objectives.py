"""GAN objectives V(G, D) as pure functions of the discriminator's raw outputs (paper eqs. 6-8).

Every objective has the form

    V(G, D) = E[real_term(D(x))] - E[fake_term(D(G(z)))],   x ~ P_data, z ~ P_Z,

where D(.) is the discriminator's raw, unbounded score (a logit for the vanilla GAN, Nowozin et
al.'s "variational function" V_w for f-GANs, the critic for WGAN). The discriminator maximizes V
(``discriminator_loss = -V``), the generator minimizes ``generator_loss`` (= the part of V that
depends on G, or a non-saturating surrogate where the formulation prescribes one).

A :class:`Formulation` is a GAN of the paper's experiments: an objective plus the constraint that
keeps the discriminator in its function class (weight clipping, gradient penalty, spectral norm).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from proxgan.errors import ProxganError, check_choice
from proxgan.gradients import input_gradients, mean_sq_norm

if TYPE_CHECKING:
    from proxgan.proximal import Penalty, ProximalConfig, ProximalUpdate

LOG2 = math.log(2.0)

ScoreFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Objective:
    """V(G, D) = E[real_term(D(x))] - E[fake_term(D(G(z)))] on raw discriminator scores.

    ``generator_term`` is the per-sample generator loss; ``None`` means the minimax loss, i.e.
    the generator minimizes V itself: generator_loss = -E[fake_term(D(G(z)))].
    """

    name: str
    equation: str
    real_term: ScoreFn
    fake_term: ScoreFn
    generator_term: ScoreFn | None = None

    def value(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """Monte Carlo estimate of V(G, D) from the scores of a real and a generated batch."""
        return self.real_term(d_real).mean() - self.fake_term(d_fake).mean()

    def discriminator_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """-V(G, D): the discriminator ascends V."""
        return -self.value(d_real, d_fake)

    def generator_loss(self, d_fake: Tensor) -> Tensor:
        """The loss the generator descends (the minimax -E[fake_term] unless overridden)."""
        if self.generator_term is None:
            return -self.fake_term(d_fake).mean()
        return self.generator_term(d_fake).mean()


# --- f-divergences (Nowozin, Cseke & Tomioka 2016, Table 2) ---------------------------------------


@dataclass(frozen=True)
class FDivergence:
    """An f-divergence D_f(P || Q) = ∫ q(x) f(p(x)/q(x)) dx with its f-GAN ingredients.

    ``activation`` is Nowozin et al.'s output activation g_f mapping a raw score v to T = g_f(v)
    in the domain of the conjugate f*(t) = sup_u (u t - f(u)); ``conjugate_of_activation`` is
    f*(g_f(v)) written in a numerically stable closed form. The variational bound (eq. 7)
    E_P[T(x)] - E_Q[f*(T(x))] <= D_f(P || Q) is tight at T*(x) = f'(p(x)/q(x)).
    """

    name: str
    f: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]
    activation: ScoreFn
    conjugate_of_activation: ScoreFn


FDIVERGENCES: dict[str, FDivergence] = {
    d.name: d
    for d in (
        FDivergence(  # Kullback-Leibler: f(u) = u log u
            "kl",
            f=lambda u: u * torch.log(u),
            conjugate=lambda t: torch.exp(t - 1),
            activation=lambda v: v,
            conjugate_of_activation=lambda v: torch.exp(v - 1),
        ),
        FDivergence(  # reverse KL: f(u) = -log u, g_f(v) = -exp(-v) < 0
            "reverse-kl",
            f=lambda u: -torch.log(u),
            conjugate=lambda t: -1 - torch.log(-t),
            activation=lambda v: -torch.exp(-v),
            conjugate_of_activation=lambda v: v - 1,
        ),
        FDivergence(  # Jensen-Shannon: f(u) = u log u - (u + 1) log((u + 1)/2), g_f(v) = log 2 - log(1 + e^-v)
            "js",
            f=lambda u: u * torch.log(u) - (u + 1) * torch.log((u + 1) / 2),
            conjugate=lambda t: -torch.log(2 - torch.exp(t)),
            activation=lambda v: LOG2 + F.logsigmoid(v),
            conjugate_of_activation=lambda v: -LOG2 - F.logsigmoid(-v),
        ),
        FDivergence(  # Pearson chi^2: f(u) = (u - 1)^2
            "pearson",
            f=lambda u: (u - 1) ** 2,
            conjugate=lambda t: t**2 / 4 + t,
            activation=lambda v: v,
            conjugate_of_activation=lambda v: v**2 / 4 + v,
        ),
        FDivergence(  # squared Hellinger: f(u) = (sqrt(u) - 1)^2, g_f(v) = 1 - e^-v < 1
            "hellinger",
            f=lambda u: (torch.sqrt(u) - 1) ** 2,
            conjugate=lambda t: t / (1 - t),
            activation=lambda v: 1 - torch.exp(-v),
            conjugate_of_activation=lambda v: torch.expm1(v),
        ),
        FDivergence(  # total variation: f(u) = |u - 1| / 2, g_f(v) = tanh(v) / 2 in (-1/2, 1/2)
            "tv",
            f=lambda u: (u - 1).abs() / 2,
            conjugate=lambda t: t,
            activation=lambda v: torch.tanh(v) / 2,
            conjugate_of_activation=lambda v: torch.tanh(v) / 2,
        ),
    )
}


def fgan_objective(divergence: FDivergence) -> Objective:
    """f-GAN, eq. (7): V = E[g_f(D(x))] - E[f*(g_f(D(G(z))))], generator minimizes V."""
    return Objective(
        name=f"fgan-{divergence.name}",
        equation="eq. (7)",
        real_term=divergence.activation,
        fake_term=divergence.conjugate_of_activation,
    )


def _hinge_real(v: Tensor) -> Tensor:
    return -F.relu(1 - v)


def _hinge_fake(v: Tensor) -> Tensor:
    return F.relu(1 + v)


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        # eq. (6): V = E[log σ(D(x))] + E[log(1 - σ(D(G(z))))], σ(D) the probability "real".
        Objective(
            "vanilla",
            "eq. (6)",
            real_term=F.logsigmoid,
            fake_term=lambda v: -F.logsigmoid(-v),
        ),
        # eq. (6) for D; the generator descends -E[log σ(D(G(z)))] (Goodfellow et al. 2014, §3).
        Objective(
            "nsgan",
            "eq. (6)",
            real_term=F.logsigmoid,
            fake_term=lambda v: -F.logsigmoid(-v),
            generator_term=lambda v: -F.logsigmoid(v),
        ),
        # eq. (8): V = E[D(x)] - E[D(G(z))] over (approximately) 1-Lipschitz critics.
        Objective("wgan", "eq. (8)", real_term=lambda v: v, fake_term=lambda v: v),
        # Hinge (Miyato et al. 2018; Lim & Ye 2017): D ascends E[min(0, D(x) - 1)] + E[min(0, -D(G(z)) - 1)],
        # the generator descends -E[D(G(z))]. Not zero-sum: value() is the discriminator's objective.
        Objective(
            "hinge",
            "not in the paper (Lim & Ye 2017; Miyato et al. 2018)",
            real_term=_hinge_real,
            fake_term=_hinge_fake,
            generator_term=lambda v: -v,
        ),
        *(fgan_objective(d) for d in FDIVERGENCES.values()),
    )
}


# --- formulations: objective + the discriminator's constraint ------------------------------------


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, eq. 3): E[(||∇ D(x̂)||_2 - 1)^2].

    x̂ = ε x + (1 - ε) x̃ with one ε ~ U[0, 1] per sample; the penalty is differentiable in D's
    weights (double backpropagation).
    """
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, device=real.device, dtype=real.dtype)
    interpolates = eps * real.detach() + (1 - eps) * fake.detach()
    grads = input_gradients(D, interpolates, create_graph=True)
    return ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(D: nn.Module, real: Tensor) -> Tensor:
    """R1 penalty (Mescheder, Geiger & Nowozin 2018, eq. 9): E_{P_X}‖∇ₓD(x)‖² on real data.

    It is the squared Sobolev norm ‖D‖² of the paper's eq. (15), so D's R1-regularized loss ascends
    V(G, D) − (γ/2)‖D‖²: a proximal term centred at the zero function instead of at D_{w_k}.
    """
    return mean_sq_norm(input_gradients(D, real, create_graph=True))


@dataclass(frozen=True)
class Formulation:
    """A GAN of the paper's experiments: an :class:`Objective` and the discriminator's constraint.

    weight_clip: clip every D parameter to [-c, c] after each D step (WGAN-WC, Arjovsky et al. 2017).
    gradient_penalty: weight of :func:`gradient_penalty` added to D's loss (WGAN-GP, Gulrajani et al. 2017).
    r1: γ of the R1 penalty, (γ/2)·:func:`r1_penalty` added to D's loss (Mescheder et al. 2018), estimated on
    the first ``r1_rows`` rows of the real batch when set (the batch is a uniform draw, so the estimate is
    unbiased; the double backward then costs a fraction of the batch's).
    spectral_norm: build D with spectral normalization on every layer (SN-GAN, Miyato et al. 2018).
    """

    name: str
    objective: Objective
    weight_clip: float | None = None
    gradient_penalty: float = 0.0
    r1: float = 0.0
    r1_rows: int | None = None
    spectral_norm: bool = False
    reference: str = ""

    def regularizer(
        self, D: nn.Module, real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """The constraint's additive term in D's loss: λ_GP · GP for WGAN-GP, (γ/2) · R1 with R1, else 0."""
        term = self.gradient_penalty_term(D, real, fake, generator=generator)
        if self.r1:
            term = term + 0.5 * self.r1 * r1_penalty(D, real[: self.r1_rows])
        return term

    def gradient_penalty_term(
        self, D: nn.Module, real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """λ_GP · :func:`gradient_penalty` (0 without one)."""
        if not self.gradient_penalty:
            return real.new_zeros(())
        return self.gradient_penalty * gradient_penalty(D, real, fake, generator=generator)

    def discriminator_loss(
        self, D: nn.Module, real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """-V(G, D) on the batches, plus the gradient penalty when the formulation has one."""
        loss = self.objective.discriminator_loss(D(real), D(fake))
        return loss + self.regularizer(D, real, fake, generator=generator)

    def project(self, D: nn.Module) -> None:
        """Weight clipping after a D optimizer step (in place); a no-op without a clip value."""
        if self.weight_clip is None:
            return
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-self.weight_clip, self.weight_clip)

    def proximal_update(self, D: nn.Module, real: Tensor, fake: Tensor, config: ProximalConfig, **options) -> ProximalUpdate:
        """Algorithm 1's inner loop for this formulation: :meth:`ProximalConfig.update` on -V, with the gradient
        penalty inside the loss and the projection after every step; ``options`` go to it (optimizer, next_batch, ...).

        R1 is estimated on the Sobolev penalty's rows from its input gradients (one pass for both), not on
        ``r1_rows``: the same expectation, at no extra double backward."""
        penalty = self.gradient_penalty_term if self.gradient_penalty else None
        return config.update(D, real, fake, self.objective.discriminator_loss, penalty=penalty, r1=self.r1,
                             after_step=self.project, **options)  # fmt: skip


@dataclass(frozen=True)
class LossObjective:
    """The objective of a GAN written elsewhere, from its discriminator loss: V(G, D) = -loss(D(x), D(G(z))).

    ``generator_term`` is the per-sample generator loss on D(G(z)) (e.g. -log σ(v) for the non-saturating GAN);
    without it only V itself can be descended by the generator.
    """

    loss: Callable[[Tensor, Tensor], Tensor]
    generator_term: ScoreFn | None = None

    def value(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """V(G, D) = -loss(d_real, d_fake)."""
        return -self.loss(d_real, d_fake)

    def discriminator_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """The discriminator's own loss."""
        return self.loss(d_real, d_fake)

    def generator_loss(self, d_fake: Tensor) -> Tensor:
        """E[generator_term(D(G(z)))]; a ProxganError when no generator loss was given."""
        if self.generator_term is None:
            raise ProxganError("this GAN's generator loss is unknown: pass generator_term, or descend V itself")
        return self.generator_term(d_fake).mean()


@dataclass(frozen=True)
class LossFormulation:
    """A GAN written elsewhere in the role of a :class:`Formulation`: its :class:`LossObjective`, an optional
    ``penalty(D, real, fake)`` added to D's loss (e.g. its own gradient penalty) and an optional ``projection(D)``
    after each D step (e.g. its weight clipping)."""

    objective: LossObjective
    penalty: Penalty | None = None
    projection: Callable[[nn.Module], None] | None = None
    name: str = "custom"

    def proximal_update(self, D: nn.Module, real: Tensor, fake: Tensor, config: ProximalConfig, **options) -> ProximalUpdate:
        """Algorithm 1's inner loop for this GAN (:meth:`ProximalConfig.update` on its loss, penalty and projection)."""
        return config.update(D, real, fake, self.objective.loss, penalty=self.penalty, after_step=self.projection, **options)


_ARJOVSKY = "Arjovsky, Chintala & Bottou 2017 (WGAN): clip c = 0.01"
_GULRAJANI = "Gulrajani et al. 2017 (WGAN-GP): λ_GP = 10, per-sample interpolation"
_MIYATO = "Miyato et al. 2018 (SN-GAN): spectral norm on every D layer"

FORMULATIONS: dict[str, Formulation] = {
    f.name: f
    for f in (
        Formulation("vanilla", OBJECTIVES["vanilla"], reference="Goodfellow et al. 2014, eq. (6)"),
        Formulation("nsgan", OBJECTIVES["nsgan"], reference="Goodfellow et al. 2014, non-saturating G loss"),
        Formulation("nsgan-r1", OBJECTIVES["nsgan"], r1=10.0, r1_rows=16,
                    reference="Goodfellow et al. 2014 with the R1 penalty of Mescheder et al. 2018 (γ = 10, on 16 rows)"),
        Formulation("wgan-wc", OBJECTIVES["wgan"], weight_clip=0.01, reference=_ARJOVSKY),
        Formulation("wgan-gp", OBJECTIVES["wgan"], gradient_penalty=10.0, reference=_GULRAJANI),
        Formulation("wgan-sn", OBJECTIVES["wgan"], spectral_norm=True, reference="paper §6: WGAN with " + _MIYATO),
        # Miyato et al. train the standard GAN loss with the non-saturating generator loss (their eq. 4).
        Formulation("sngan", OBJECTIVES["nsgan"], spectral_norm=True, reference=_MIYATO),
        Formulation("sngan-hinge", OBJECTIVES["hinge"], spectral_norm=True, reference=_MIYATO + ", hinge loss"),
        *(
            Formulation(name, obj, reference="Nowozin et al. 2016, Table 2")
            for name, obj in OBJECTIVES.items()
            if name.startswith("fgan-")
        ),
    )
}


def get_formulation(name: str) -> Formulation:
    """The formulation called ``name``; a :class:`ProxganError` naming the valid choices otherwise."""
    return FORMULATIONS[check_choice("formulation", name, FORMULATIONS)]
