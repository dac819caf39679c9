"""proxgan.comparison and ``proxgan compare``: Table 1's paired rule on a user's own runs."""

import json
import math
import shutil

import pytest
from click.testing import CliRunner
from scipy.stats import t as student_t

from proxgan.cli import main
from proxgan.comparison import compare_scores, comparison_title, pair_by_seed
from proxgan.errors import ProxganError

TINY = ["ring8-wgan-gp", "model.dim=8", "train.steps=3", "train.batch_size=16", "log.every=1",
        "log.sample_every=1000", "log.checkpoint_every=1000"]  # fmt: skip


def test_paired_difference_and_verdict_by_hand():
    """d = treatment − baseline = (1.1, 0.9, 1.0, 1.2, 0.8): mean 1, s = sqrt(0.1/4), CI 1 ± t₀.₉₇₅,₄·s/√5."""
    baseline = [1.0, 2.0, 3.0, 4.0, 5.0]
    treatment = [b + d for b, d in zip(baseline, (1.1, 0.9, 1.0, 1.2, 0.8))]
    result = compare_scores(baseline, treatment, higher_is_better=True)
    half = student_t.ppf(0.975, 4) * math.sqrt(0.1 / 4) / math.sqrt(5)
    assert result["difference"]["mean"] == pytest.approx(1.0)
    assert result["difference"]["ci95"] == pytest.approx([1 - half, 1 + half])
    assert result["verdict"] == "better" and result["baseline"]["mean"] == pytest.approx(3.0)
    assert compare_scores(baseline, treatment, higher_is_better=False)["verdict"] == "worse"  # a distance rose
    assert compare_scores(treatment, baseline, higher_is_better=True)["verdict"] == "worse"
    null = [b + d for b, d in zip(baseline, (0.3, -0.2, 0.1, -0.3, 0.1))]
    assert compare_scores(baseline, null, higher_is_better=True)["verdict"] == "inconclusive"
    assert compare_scores(baseline, null, higher_is_better=True)["seeds_to_decide"] is None  # mean ≈ 0: no number of seeds
    one = compare_scores([1.0], [2.0], higher_is_better=True)
    assert one["difference"]["ci95"] is None and one["verdict"] == "inconclusive" and one["seeds_to_decide"] is None
    # d = (1, -0.5, 1.5): mean 2/3, s² = 13/12; the interval of 3 pairs crosses 0, that of 12 would not
    unsure = compare_scores([0.0, 0.0, 0.0], [1.0, -0.5, 1.5], higher_is_better=True)
    assert unsure["verdict"] == "inconclusive" and unsure["seeds_to_decide"] == 12
    assert all(student_t.ppf(0.975, m - 1) * math.sqrt(13 / 12) / math.sqrt(m) >= 2 / 3 for m in range(2, 12))
    assert student_t.ppf(0.975, 11) * math.sqrt(13 / 12) / math.sqrt(12) < 2 / 3


def test_bonferroni_interval_by_hand():
    """d = (0.4, 0.2, 0.3, 0.1, 0.5): mean 0.3, s² = 0.025. One comparison: 0.3 ± t₀.₉₇₅,₄·s/√5 (half 0.196)
    excludes 0; as one of 5, the interval at 1 − 0.05/5 = 0.99 (half t₀.₉₉₅,₄·s/√5 = 0.326) does not."""
    baseline = [0.0] * 5
    treatment = [0.4, 0.2, 0.3, 0.1, 0.5]
    se = math.sqrt(0.025 / 5)
    alone = compare_scores(baseline, treatment, higher_is_better=True)
    assert "adjusted" not in alone and alone["verdict"] == "better"
    five = compare_scores(baseline, treatment, higher_is_better=True, comparisons=5)
    adjusted = five["adjusted"]
    assert five["verdict"] == "better" and five["difference"] == alone["difference"]
    assert adjusted["confidence"] == pytest.approx(0.99) and adjusted["method"] == "Bonferroni"
    half = student_t.ppf(0.995, 4) * se
    assert adjusted["interval"] == pytest.approx([0.3 - half, 0.3 + half]) and adjusted["verdict"] == "inconclusive"
    # the wider interval needs more pairs: the least m with t₀.₉₉₅,ₘ₋₁·s/√m < 0.3
    need = adjusted["seeds_to_decide"]

    def half_width(m: int) -> float:
        return student_t.ppf(0.995, m - 1) * math.sqrt(0.025 / m)

    assert half_width(need) < 0.3 <= half_width(need - 1)
    with pytest.raises(ProxganError, match="comparisons must be a positive integer"):
        compare_scores(baseline, treatment, higher_is_better=True, comparisons=0)


def test_figure_title_names_the_interval_that_decides():
    """The same d as above: alone the 95 % interval (better) titles the figure; as one of 5 the 99 % Bonferroni
    interval, inconclusive, is on it too, so a figure never shows only the interval that does not decide."""
    baseline, treatment = [0.0] * 5, [0.4, 0.2, 0.3, 0.1, 0.5]

    def doc(m):
        results = compare_scores(baseline, treatment, higher_is_better=True, comparisons=m)
        return {"config": {"samples": 100}, "results": {**results, "dataset": "digits", "pairs": [{}] * 5}}

    half95, half99 = (student_t.ppf(q, 4) * math.sqrt(0.025 / 5) for q in (0.975, 0.995))
    alone = comparison_title(doc(1)).split("\n")
    assert alone == [f"treatment better: +0.3, 95 % CI [{0.3 - half95:+.3g}, {0.3 + half95:+.3g}]",
                     "100 samples of digits, 5 seeds"]
    five = comparison_title(doc(5)).split("\n")
    assert five[0] == alone[0] and five[2] == alone[1]
    assert five[1] == f"one of 5 (Bonferroni 99 % CI [{0.3 - half99:+.3g}, {0.3 + half99:+.3g}]): inconclusive"


def test_cli_says_how_many_seeds_would_decide_an_inconclusive_comparison():
    from proxgan.cli.compare import planning_line

    assert "about 13 pairs" in planning_line(13, 3) and "planning estimate" in planning_line(13, 3)
    assert "none within 1,000" in planning_line(None, 5)
    assert "one pair has no spread" in planning_line(None, 1)


def test_pairing_is_by_seed_and_refuses_duplicates_and_unpaired_seeds(tmp_path):
    a, b, c, d = (tmp_path / n for n in "abcd")
    assert pair_by_seed({a: 3, b: 1}, {c: 1, d: 3}) == [(1, b, c), (3, a, d)]
    with pytest.raises(ProxganError, match="have the same seed 1"):
        pair_by_seed({a: 1, b: 1}, {c: 1, d: 2})
    with pytest.raises(ProxganError, match=r"seed\(s\) 2, 5 are in one set only"):
        pair_by_seed({a: 1, b: 2}, {c: 1, d: 5})


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Two regular and two proximal 3-step ring8 runs, seeds 0 and 1."""
    root = tmp_path_factory.mktemp("compare")
    runs = {}
    for strategy in ("regular", "proximal"):
        for seed in (0, 1):
            out = root / f"{strategy}-s{seed}"
            res = CliRunner().invoke(main, ["train", *TINY, f"train.strategy={strategy}", "proximal.steps=2",
                                            f"seed={seed}", "--out", str(out)])
            assert res.exit_code == 0, res.output
            runs[strategy, seed] = out
    return runs


def test_cli_compares_scores_recorded_like_evaluate(tiny_runs):
    """The scores compared are the ones `proxgan compare` records in each run (as `proxgan evaluate` does), in
    seed order whatever the order given; the difference and the time ratio follow from them."""
    regular, proximal = [tiny_runs["regular", s] for s in (1, 0)], [tiny_runs["proximal", s] for s in (0, 1)]
    res = CliRunner().invoke(main, ["compare", *map(str, regular), "vs", *map(str, proximal), "--metric", "emd",
                                    "--samples", "128", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{"):])
    pairs = doc["results"]["pairs"]
    assert [p["seed"] for p in pairs] == [0, 1]
    for pair in pairs:
        for side in ("baseline", "treatment"):
            recorded = json.loads((tiny_runs[pair[side]["strategy"], pair["seed"]] / "results.json").read_text())
            assert recorded["results"]["metrics"]["emd"]["w1"] == pair[side]["score"]
            assert recorded["results"]["metrics"]["emd"]["samples"] == 128
    w1 = [(p["baseline"]["score"], p["treatment"]["score"]) for p in pairs]
    assert doc["results"]["difference"]["values"] == pytest.approx([b - t for b, t in w1])  # lower W1 is better
    assert doc["results"]["verdict"] in ("better", "worse", "inconclusive")
    ratios = [p["treatment"]["training_seconds"] / p["baseline"]["training_seconds"] for p in pairs]
    assert doc["results"]["time_ratio"]["values"] == pytest.approx(ratios)
    assert doc["config"]["average"] and doc["config"]["population_batchnorm"]
    assert {p[s]["generator"] for p in pairs for s in ("baseline", "treatment")} == {
        "last iterate; BatchNorm: population statistics of these weights (512 latents)"}  # no average kept
    res = CliRunner().invoke(main, ["compare", *map(str, regular), "vs", *map(str, proximal), "--metric", "emd",
                                    "--samples", "128", "--last-iterate", "--training-batchnorm"])
    assert res.exit_code == 0, res.output
    assert "generator: last iterate; BatchNorm: the running statistics kept during training" in res.output


def test_cli_summary_and_pair_figure(tiny_runs, tmp_path):
    regular, proximal = [tiny_runs["regular", s] for s in (0, 1)], [tiny_runs["proximal", s] for s in (0, 1)]
    res = CliRunner().invoke(main, ["compare", *map(str, regular), "vs", *map(str, proximal), "--metric", "emd",
                                    "--samples", "128", "--plot", str(tmp_path / "pairs.png"),
                                    "--comparisons", "3"])
    assert res.exit_code == 0, res.output
    assert "improvement of the treatment" in res.output and "paired by seed" in res.output
    assert "as one of 3 comparisons (Bonferroni: 98.33 % CI [" in res.output
    assert (tmp_path / "pairs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_input_is_one_line_exit_2(tiny_runs, tmp_path):
    reg, prox = str(tiny_runs["regular", 0]), str(tiny_runs["proximal", 1])
    unfinished = tmp_path / "unfinished"
    shutil.copytree(tiny_runs["regular", 1], unfinished)
    doc = json.loads((unfinished / "results.json").read_text())
    doc["results"]["status"] = "interrupted"
    (unfinished / "results.json").write_text(json.dumps(doc))
    for args, message in (([reg, prox], "one 'vs' between them"),
                          ([reg, "vs", prox], "seed(s) 0, 1 are in one set only"),
                          ([reg, "vs", str(tiny_runs["proximal", 0]), "--metric", "fidd"], "unknown metric 'fidd'"),
                          ([reg, "vs", str(tmp_path)], "is not a training run"),
                          ([reg, "vs", str(unfinished)], "is not a finished training run (status 'interrupted')"),
                          ([reg, "vs", str(tiny_runs["proximal", 0]), "--samples", "0"], "samples must be a positive"),
                          ([reg, "vs", str(tiny_runs["proximal", 0]), "--comparisons", "0"], "--comparisons"),
                          ([reg, "vs", str(tiny_runs["proximal", 0]), "--plot", str(tmp_path / "no" / "p.png")],
                           "--plot: no directory")):
        res = CliRunner().invoke(main, ["compare", *args])
        assert res.exit_code == 2, res.output
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in res.output, res.output
