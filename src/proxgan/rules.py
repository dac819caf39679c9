"""The verdict rules of the paper's empirical claims: one rule per claim, used by every command.

``proxgan equilibrium`` (its answer sentence), ``proxgan reproduce`` and ``proxgan report`` (the claim
verdicts) all call these functions; nothing else decides an empirical verdict. This module is core: it
imports no other proxgan module.

Statistics. Every interval is a two-sided 95 % Student-t confidence interval for a mean,
``mean ± t_{0.975, n−1} · s / √n`` with ``s`` the sample standard deviation (ddof = 1); with fewer than two
values there is no interval.

Three verdicts for every empirical claim:

- ``reproduced``: the measurement excludes "no effect" in the paper's direction;
- ``contradicted``: it excludes "no effect" in the other direction;
- ``inconclusive at this scale``: it does neither (the effect, if any, is inside the noise).

**Table 1 and the equal-wall-clock check** (§6.2): regular and proximal runs are paired by seed,
dᵢ = ±(proximalᵢ − regularᵢ) (sign: + when higher is better), and the 95 % t interval of the mean of dᵢ
decides: above 0 → reproduced, below 0 → contradicted, containing 0 → inconclusive. Beside an inconclusive
comparison, :func:`seeds_to_decide` estimates how many pairs would decide it if the observed mean and spread held
(a planning figure, never a verdict).

**Equilibrium tests** (§2 eq. 5, §6.1 eq. 19): the generator descends an objective against the frozen
discriminator. At a Nash equilibrium θ_final minimizes V(·, D_final) (eq. 5), so V cannot fall; at a
λ-proximal equilibrium it minimizes V^prox_λ(·, D_final) (eqs. 12, 19), so V^prox cannot fall (V itself may
move). Each objective is evaluated at the start and at the end on the same k fresh evaluation batches;
the fall on batch j is fⱼ = startⱼ − endⱼ. The noise scale s is the standard deviation of the objective over
the k batches at the start: a change smaller than s is one that re-evaluating on another batch would
produce. With the 95 % t interval [lo, hi] of the mean fall:

- ``fell``: lo > s — the objective fell, surely and by more than the noise;
- ``held``: hi ≤ s — it did not fall by more than the noise (it may have risen);
- ``unclear``: otherwise;
- ``non-finite``: the objective is NaN or infinite on some batch at the start or the end (the test diverged):
  no interval can be computed, and a change "within the noise" would be the wrong thing to say.

Absolute changes are used, never relative ones: objectives that start near 0 or change sign (WGAN's can)
make a relative drop meaningless. The Nash test refutes a Nash equilibrium when V ``fell`` (the paper's
§2 finding: reproduced), finds no evidence against one when V ``held`` (contradicted); the proximal test
is consistent with a λ-proximal equilibrium when V^prox ``held`` (the paper's §6.1 finding: reproduced)
and refutes one when V^prox ``fell`` (contradicted). ``unclear`` and ``non-finite`` are inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

REPRODUCED = "reproduced"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive at this scale"
#: the verdicts a statistical rule can give
STATISTICAL_VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE)

CONFIDENCE = 0.95
INTERVAL_METHOD = "Student t, 95 %"

FELL, HELD, UNCLEAR, NONFINITE = "fell", "held", "unclear", "non-finite"
#: the equilibrium tests: which objective each judges, and the verdict of each outcome of its rule
EQUILIBRIUM_RULES: dict[str, dict[str, Any]] = {
    "nash": {"objective": "objective", "symbol": "V",
             FELL: (REPRODUCED, "not a Nash equilibrium"),
             HELD: (CONTRADICTED, "no evidence against a Nash equilibrium at this step budget"),
             UNCLEAR: (INCONCLUSIVE, "inconclusive: the change of V is within the evaluation noise"),
             NONFINITE: (INCONCLUSIVE, "inconclusive: V is not finite (NaN or ±inf) at the start or the end: the test diverged")},
    "proximal": {"objective": "proximal_objective", "symbol": "V^prox",
                 FELL: (CONTRADICTED, "not a λ-proximal equilibrium"),
                 HELD: (REPRODUCED, "consistent with a λ-proximal equilibrium"),
                 UNCLEAR: (INCONCLUSIVE, "inconclusive: the change of V^prox is within the evaluation noise"),
                 NONFINITE: (INCONCLUSIVE, "inconclusive: V^prox is not finite (NaN or ±inf) at the start or the end: "
                                           "the test diverged")},
}


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """t_{(1+confidence)/2, n−1}: the two-sided Student-t critical value for n ≥ 2 values."""
    from scipy.stats import t

    return float(t.ppf((1 + confidence) / 2, n - 1))


def mean_interval(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample std (ddof = 1), n, the values and ``ci95``, their 95 % :func:`t_interval` (None if n < 2)."""
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        return {"mean": None, "std": None, "n": 0, "values": [], "ci95": None}
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "n": n, "values": values, "ci95": t_interval(mean, std, n, CONFIDENCE)}


def t_interval(mean: float, std: float, n: int, confidence: float) -> list[float] | None:
    """The Student-t interval of a mean, ``mean ± t_{(1+confidence)/2, n−1}·std/√n`` (None when n < 2)."""
    if n < 2:
        return None
    half = t_quantile(n, confidence) * std / math.sqrt(n)
    return [mean - half, mean + half]


def paired_difference(regular: Sequence[float], proximal: Sequence[float], higher_is_better: bool) -> dict[str, Any]:
    """The per-seed improvement dᵢ = ±(proximalᵢ − regularᵢ) (+ when higher is better) and its t interval."""
    if len(regular) != len(proximal):
        raise ValueError(f"paired values need equal counts, got {len(regular)} and {len(proximal)}")
    sign = 1.0 if higher_is_better else -1.0
    return mean_interval([sign * (p - r) for r, p in zip(regular, proximal)])


def comparison_verdict(difference: dict[str, Any]) -> str:
    """Table 1's rule on a :func:`paired_difference`: interval above 0 → reproduced, below → contradicted."""
    return interval_verdict(difference["ci95"])


def interval_verdict(ci: Sequence[float] | None) -> str:
    """An interval of an improvement above 0 → reproduced, below 0 → contradicted, else (or None) inconclusive."""
    if ci is None:
        return INCONCLUSIVE
    if ci[0] > 0:
        return REPRODUCED
    if ci[1] < 0:
        return CONTRADICTED
    return INCONCLUSIVE


#: the most pairs :func:`seeds_to_decide` considers
SEEDS_LIMIT = 1000


def seeds_to_decide(difference: dict[str, Any], confidence: float = CONFIDENCE, limit: int = SEEDS_LIMIT) -> int | None:
    """A planning estimate, not a result: the fewest pairs m for which the t interval of a paired
    :func:`paired_difference` with the observed mean d̄ and spread s would exclude 0, i.e. the least m ≥ 2 with
    t_{(1+confidence)/2, m−1} · s / √m < |d̄|, if d̄ and s held. None without a spread (fewer than 2 pairs),
    when d̄ = 0, or when no m ≤ ``limit`` would do."""
    n, mean, std = difference["n"], difference["mean"], difference["std"]

    def decides(m: int) -> bool:
        return t_quantile(m, confidence) * std / math.sqrt(m) < abs(mean)

    if n < 2 or not mean or not decides(limit):
        return None
    lo, hi = 1, limit  # t·s/√m falls with m: bisect for the least m that decides (decides(1) taken as false)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid, hi)
    return hi


def objective_fall(start: Sequence[float], end: Sequence[float]) -> dict[str, Any]:
    """The fall fⱼ = startⱼ − endⱼ of an objective on k paired evaluation batches: its t interval, the noise
    scale (std of ``start``) and the outcome ``fell`` / ``held`` / ``unclear`` / ``non-finite`` of the rule above."""
    if len(start) != len(end) or len(start) < 2:
        raise ValueError(f"need the same k ≥ 2 batches at start and end, got {len(start)} and {len(end)}")
    # results.json stores a non-finite value as null: read back, it is judged as what it was
    start, end = ([math.nan if v is None else float(v) for v in values] for values in (start, end))
    fall = mean_interval([s - e for s, e in zip(start, end)])
    noise = mean_interval(start)["std"]
    lo, hi = fall["ci95"]
    if not all(math.isfinite(v) for v in (*start, *end)):
        outcome = NONFINITE
    else:
        outcome = FELL if lo > noise else HELD if hi <= noise else UNCLEAR
    return {"fall": fall["mean"], "ci95": fall["ci95"], "noise": noise, "batches": len(start),
            "start": mean_interval(start), "end": mean_interval(end), "outcome": outcome}


def equilibrium_verdict(test: str, start: Sequence[float], end: Sequence[float]) -> dict[str, Any]:
    """The verdict of the Nash (eq. 5) or proximal (eq. 19) test from its objective on k batches at start
    and end: the :func:`objective_fall` record plus ``verdict`` (of the paper's claim) and ``conclusion``."""
    rule = EQUILIBRIUM_RULES[test]
    fall = objective_fall(start, end)
    verdict, conclusion = rule[fall["outcome"]]
    return fall | {"test": test, "symbol": rule["symbol"], "verdict": verdict, "conclusion": conclusion}


def describe_fall(record: dict[str, Any]) -> str:
    """``V fell by 1.23 (95 % CI [1.1, 1.4], noise 0.05, 5 batches)`` for an :func:`objective_fall` record."""
    lo, hi = record["ci95"]
    moved = f"fell by {record['fall']:.4g}" if record["fall"] >= 0 else f"rose by {-record['fall']:.4g}"
    return (f"{record.get('symbol', 'the objective')} {moved} (95 % CI of the fall [{lo:.4g}, {hi:.4g}], "
            f"noise {record['noise']:.3g} over {record['batches']} batches)")


def combine(verdicts: Iterable[str]) -> str:
    """A claim over several rows or runs: reproduced if every one is, contradicted if any is, else inconclusive."""
    verdicts = list(verdicts)
    if verdicts and all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    return INCONCLUSIVE
