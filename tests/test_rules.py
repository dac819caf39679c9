"""The verdict rules: Student-t intervals, Table 1's paired comparison, the equilibrium tests' rule, and one
rule per claim across `proxgan equilibrium` and `proxgan reproduce`/`report`."""

import math

import pytest
from scipy import stats

from proxgan import rules
from proxgan.equilibrium import judge_test, summarize_test
from proxgan.report import verdicts as V
from proxgan.reproduce.stages import _equilibrium_summary

# --- the t interval -----------------------------------------------------------------------------


def test_t_interval_against_a_hand_computed_case():
    # values 2, 4, 6: mean 4, s = 2, n = 3; t_{0.975, 2} = 4.302652729749464 (table value 4.303)
    s = rules.mean_interval([2.0, 4.0, 6.0])
    assert (s["mean"], s["std"], s["n"]) == (4.0, 2.0, 3)
    half = 4.302652729749464 * 2.0 / math.sqrt(3)
    assert s["ci95"] == pytest.approx([4.0 - half, 4.0 + half], rel=1e-12)
    assert rules.t_quantile(3) == pytest.approx(stats.t.ppf(0.975, 2), rel=1e-12)


def test_t_interval_matches_scipy_on_five_values():
    values = [1.3, 0.2, -0.4, 2.2, 0.9]
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=stats.tmean(values), scale=stats.sem(values))
    assert rules.mean_interval(values)["ci95"] == pytest.approx([lo, hi], rel=1e-12)


def test_t_interval_at_another_confidence_matches_scipy_and_decides_by_its_sign():
    values = [1.3, 0.2, -0.4, 2.2, 0.9]
    s = rules.mean_interval(values)
    lo, hi = stats.t.interval(0.99, 4, loc=stats.tmean(values), scale=stats.sem(values))
    assert rules.t_interval(s["mean"], s["std"], s["n"], 0.99) == pytest.approx([lo, hi], rel=1e-12)
    assert lo < s["ci95"][0] < 0 < s["ci95"][1] < hi  # wider than the 95 % interval
    assert [rules.interval_verdict(ci) for ci in ([0.1, 2.0], [-2.0, -0.1], [-1.0, 1.0], None)] == [
        rules.REPRODUCED, rules.CONTRADICTED, rules.INCONCLUSIVE, rules.INCONCLUSIVE]


def test_one_value_has_no_interval_and_no_verdict():
    assert rules.mean_interval([3.0]) == {"mean": 3.0, "std": 0.0, "n": 1, "values": [3.0], "ci95": None}
    assert rules.comparison_verdict(rules.paired_difference([1.0], [5.0], True)) == rules.INCONCLUSIVE


# --- Table 1: paired by seed --------------------------------------------------------------------

#: seed effects shared by both columns (large), and a small per-seed jitter of the difference
SEED_EFFECT = [-0.6, 0.4, 0.9, -0.3, 0.1]
JITTER = [0.05, -0.04, 0.02, -0.03, 0.0]


def columns(difference):
    regular = [5.0 + e for e in SEED_EFFECT]
    return regular, [r + difference + j for r, j in zip(regular, JITTER)]


@pytest.mark.parametrize("difference, higher_is_better, verdict", [
    (0.5, True, rules.REPRODUCED),        # a known improvement, far outside the seed-to-seed jitter
    (0.0, True, rules.INCONCLUSIVE),      # the null case: the interval straddles 0
    (-0.5, True, rules.CONTRADICTED),     # proximal worse on every seed
    (-0.5, False, rules.REPRODUCED),      # ... which is better when lower is better
])
def test_paired_comparison_gives_all_three_verdicts(difference, higher_is_better, verdict):
    regular, proximal = columns(difference)
    d = rules.paired_difference(regular, proximal, higher_is_better)
    assert d["mean"] == pytest.approx((1 if higher_is_better else -1) * (difference + sum(JITTER) / 5))
    assert rules.comparison_verdict(d) == verdict


def test_pairing_by_seed_sees_what_unpaired_stds_hide():
    """The seed effect (std ≈ 0.6) dwarfs a +0.2 improvement, but every seed improves: paired, it is clear."""
    regular, proximal = columns(0.2)
    assert rules.mean_interval(proximal)["ci95"][0] < rules.mean_interval(regular)["mean"]
    assert rules.comparison_verdict(rules.paired_difference(regular, proximal, True)) == rules.REPRODUCED


def test_seeds_to_decide_is_the_first_n_whose_interval_excludes_zero():
    """d̄ = 1, s = 1: t_{0.975,5}/√6 = 2.5706/2.4495 = 1.049 ≥ 1 but t_{0.975,6}/√7 = 2.4469/2.6458 = 0.925 < 1, so 7
    pairs; the interval of those 7 pairs excludes 0 and that of 6 does not."""
    d = {"n": 3, "mean": 1.0, "std": 1.0}
    assert rules.seeds_to_decide(d) == 7
    for m, decides in ((6, False), (7, True)):
        z = [i - (m - 1) / 2 for i in range(m)]
        scale = math.sqrt(sum(v * v for v in z) / (m - 1))
        values = [1.0 + v / scale for v in z]  # mean 1, sample std 1
        assert (rules.mean_interval(values)["ci95"][0] > 0) is decides
    assert rules.seeds_to_decide({"n": 5, "mean": -1.0, "std": 1.0}) == 7  # the sign does not matter


def test_seeds_to_decide_has_no_answer_without_a_spread_or_an_effect():
    assert rules.seeds_to_decide(rules.paired_difference([1.0], [2.0], True)) is None  # one pair
    assert rules.seeds_to_decide({"n": 5, "mean": 0.0, "std": 1.0}) is None
    assert rules.seeds_to_decide({"n": 5, "mean": 0.01, "std": 1.0}) is None  # needs ≈ (1.96/0.01)² ≈ 38,000 pairs
    assert rules.seeds_to_decide({"n": 5, "mean": 0.01, "std": 1.0}, limit=50_000) == pytest.approx(38_418, abs=5)
    assert rules.seeds_to_decide({"n": 2, "mean": 1.0, "std": 0.0}) == 2  # no spread: any two pairs decide


def test_combine_rows():
    R, C, I = rules.REPRODUCED, rules.CONTRADICTED, rules.INCONCLUSIVE
    assert rules.combine([R, R]) == R and rules.combine([R, C]) == C and rules.combine([R, I]) == I
    assert rules.combine([]) == I


# --- equilibrium tests: the fall against the noise scale ------------------------------------------

#: objective on 5 fresh batches at the start: std exactly 1 × NOISE around the start value
PATTERN = [-1.2649110640673518, -0.6324555320336759, 0.0, 0.6324555320336759, 1.2649110640673518]
NOISE = 0.05


def batches(start, fall, jitter=0.01):
    """k = 5 paired start/end values: the fall on batch j is fall + jitter·(j − 2)."""
    begin = [start + NOISE * p for p in PATTERN]
    return begin, [b - fall - jitter * (j - 2) for j, b in enumerate(begin)]


@pytest.mark.parametrize("fall, outcome", [(0.9, rules.FELL), (0.0, rules.HELD), (-0.5, rules.HELD),
                                           (NOISE, rules.UNCLEAR)])
def test_objective_fall_against_the_noise_scale(fall, outcome):
    record = rules.objective_fall(*batches(1.0, fall))
    assert record["noise"] == pytest.approx(NOISE)
    assert record["fall"] == pytest.approx(fall)
    assert record["outcome"] == outcome


def test_absolute_not_relative_change():
    """A start near 0 that changes sign (a 200 % relative drop) is inside the noise; a 1 % relative drop of a
    large objective is far outside it."""
    assert rules.objective_fall(*batches(0.001, 0.002))["outcome"] == rules.HELD
    assert rules.objective_fall(*batches(100.0, 1.0))["outcome"] == rules.FELL


def test_each_test_maps_its_outcomes_to_the_papers_claim():
    fell, held = batches(1.0, 0.9), batches(1.0, 0.0)
    assert rules.equilibrium_verdict("nash", *fell)["verdict"] == rules.REPRODUCED  # V fell: not Nash (§2)
    assert rules.equilibrium_verdict("nash", *held)["verdict"] == rules.CONTRADICTED
    assert rules.equilibrium_verdict("proximal", *held)["verdict"] == rules.REPRODUCED  # V^prox held (§6.1)
    assert rules.equilibrium_verdict("proximal", *fell)["verdict"] == rules.CONTRADICTED
    with pytest.raises(ValueError, match="k ≥ 2"):
        rules.objective_fall([1.0], [0.5])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None])
def test_a_non_finite_objective_is_inconclusive_and_says_the_test_diverged(bad):
    """NaN or ±inf at either end (None: as results.json stores them): no interval exists, so the outcome is its
    own, never "within the noise"."""
    start, end = batches(1.0, 0.9)
    for s, e in ((start, [*end[:-1], bad]), ([bad, *start[1:]], end)):
        for test, symbol in (("nash", "V"), ("proximal", "V^prox")):
            record = rules.equilibrium_verdict(test, s, e)
            assert (record["outcome"], record["verdict"]) == (rules.NONFINITE, rules.INCONCLUSIVE)
            assert record["conclusion"].startswith(f"inconclusive: {symbol} is not finite")
            assert "noise" not in record["conclusion"]


# --- one rule per claim: `proxgan equilibrium` and `proxgan reproduce`/`report` agree ---------------


def curve_for(test, v, vprox):
    """A two-point curve as run_test records it, with the fresh-batch values at both ends."""
    def record(step, i):
        out = {"step": step, "objective": v[i][0], "proximal_objective": vprox[i][0], "quality": None,
               "batches": {"objective": v[i]}}
        if test == "proximal":
            out["batches"]["proximal_objective"] = vprox[i]
        return out

    return [record(0, 0), record(50, 1)]


@pytest.mark.parametrize("test", ["nash", "proximal"])
@pytest.mark.parametrize("fall", [0.9, 0.0, NOISE])
def test_equilibrium_command_and_report_give_one_verdict(test, fall):
    v, vprox = batches(-0.3, fall), batches(0.2, fall)
    summary = summarize_test(test, curve_for(test, v, vprox), 50)
    command = judge_test(test, summary, lam=0.1)
    doc = {"results": {"tests": {test: {"summary": summary}}, "quality_metric": None,
                       "quality_higher_is_better": None}}
    stage = {"results": {"summary": {"steps": 50, "runs": {"sngan": _equilibrium_summary(test, doc)}}}, "figures": []}
    record = {"nash": V.judge_nash_test, "proximal": V.judge_proximal_test}[test]({test: stage})
    assert record["measured"]["runs"][0]["verdict"] == command["verdict"] == record["verdict"]
    assert record["measured"]["runs"][0]["outcome"] == command["outcome"]
    expected = {0.9: rules.FELL, 0.0: rules.HELD, NOISE: rules.UNCLEAR}[fall]
    assert command["outcome"] == expected
