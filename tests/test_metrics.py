"""Metrics: Fréchet/Bures closed forms, Inception-score limits, the digits LeNet, modes and Wasserstein."""

import math

import numpy as np
import pytest
import torch

from proxgan.data import load_dataset, mixture_centers
from proxgan.errors import ProxganError
from proxgan.metrics import METRICS, evaluate, evaluate_generator
from proxgan.metrics.frechet import features_frechet_distance, frechet_distance, gaussian_moments
from proxgan.metrics.inception import inception_score, kernel_inception_distance
from proxgan.metrics.mixtures import mode_coverage
from proxgan.metrics.wasserstein import empirical_wasserstein, gaussian_w2


def random_spd(d, seed):
    a = np.random.default_rng(seed).normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_frechet_1d_is_squared_bures_closed_form():
    # W2²(N(m1, s1²), N(m2, s2²)) = (m1 − m2)² + (s1 − s2)²
    assert frechet_distance([1.0], [[4.0]], [-0.5], [[0.25]]) == pytest.approx(1.5**2 + 1.5**2, rel=1e-12)


def test_frechet_commuting_covariances_closed_form():
    # diagonal Σ: W2² = ‖Δμ‖² + Σ_i (√a_i − √b_i)²
    a, b = np.array([1.0, 4.0, 9.0]), np.array([0.25, 1.0, 16.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_frechet_general_covariances_match_sqrtm_and_torch_fidelity():
    from scipy.linalg import sqrtm
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    s1, s2 = random_spd(6, 0), random_spd(6, 1)
    m1, m2 = np.arange(6.0), np.ones(6)
    r1 = sqrtm(s1).real
    bures = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * sqrtm(r1 @ s2 @ r1).real)
    ours = frechet_distance(m1, s1, m2, s2)
    assert ours == pytest.approx(bures, rel=1e-9)
    assert ours == pytest.approx(frechet_distance(m2, s2, m1, s1), rel=1e-9)  # a metric: symmetric
    tf = fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2}, verbose=False)
    assert ours == pytest.approx(tf["frechet_inception_distance"], rel=1e-8)


def test_fid_of_a_feature_set_against_itself_is_zero_even_when_rank_deficient():
    f = torch.randn(50, 64, generator=torch.Generator().manual_seed(0))  # 50 < 64: singular covariance
    assert features_frechet_distance(f, f) == pytest.approx(0.0, abs=1e-8)
    assert features_frechet_distance(f, f + 1.0) == pytest.approx(64.0, rel=1e-6)  # pure mean shift


def test_inception_score_limits():
    k, n = 10, 1000
    one_hot = torch.full((n, k), -1e4)
    one_hot[torch.arange(n), torch.arange(n) % k] = 0.0  # confident and balanced: IS = K
    assert inception_score(one_hot, splits=1)["mean"] == pytest.approx(k, rel=1e-9)
    # with splits, each split's IS is exp(entropy of its class frequencies): at most K
    assert 9.0 < inception_score(one_hot, splits=10)["mean"] <= k
    assert inception_score(torch.zeros(n, k))["mean"] == pytest.approx(1.0, abs=1e-12)  # uniform: IS = 1
    assert inception_score(one_hot[:, :1].expand(n, k).contiguous())["mean"] == pytest.approx(1.0)  # collapse
    with pytest.raises(ProxganError, match="at least 10 samples"):
        inception_score(one_hot[:5])


def test_inception_score_splits_into_class_and_conditional_entropy():
    k, n = 10, 1000
    logits = torch.randn(n, k, generator=torch.Generator().manual_seed(0)) * 3
    out = inception_score(logits, splits=1)  # one split: IS = exp(H(p̄) − E H(p(y|x))) exactly
    assert math.exp(out["class_entropy"] - out["conditional_entropy"]) == pytest.approx(out["mean"], rel=1e-9)
    p = torch.softmax(logits.double(), 1)  # by hand: the entropy of the mean prediction, the mean entropy
    assert out["class_entropy"] == pytest.approx(float(-(p.mean(0) * p.mean(0).log()).sum()), rel=1e-12)
    assert out["conditional_entropy"] == pytest.approx(float(-(p * p.log()).sum(1).mean()), rel=1e-12)
    assert out["max_entropy"] == pytest.approx(math.log(k)) and 0 < out["conditional_entropy"] < out["class_entropy"]
    one_hot = torch.full((n, k), -1e4)
    one_hot[torch.arange(n), torch.arange(n) % k] = 0.0  # balanced and sure: all coverage, no doubt
    balanced = inception_score(one_hot)
    assert balanced["class_entropy"] == pytest.approx(math.log(k)) and balanced["conditional_entropy"] == 0.0
    collapsed = inception_score(torch.where(torch.arange(k) == 3, 0.0, -1e4).expand(n, k))  # sure, one class
    assert collapsed["class_entropy"] == 0.0 and collapsed["conditional_entropy"] == 0.0
    unsure = inception_score(torch.zeros(n, k))  # uniform predictions: all doubt
    assert unsure["class_entropy"] == pytest.approx(math.log(k)) == pytest.approx(unsure["conditional_entropy"])


def test_kid_near_zero_for_same_distribution_and_positive_for_shift():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 16, generator=gen), torch.randn(400, 16, generator=gen)
    same = kernel_inception_distance(a, b, subsets=20, subset_size=200)
    shifted = kernel_inception_distance(a, b + 1.0, subsets=20, subset_size=200)
    assert abs(same["mean"]) < 0.02 < shifted["mean"]


def test_kid_with_fewer_samples_than_a_subset_still_reports_a_spread():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(300, 16, generator=gen), torch.randn(300, 16, generator=gen) + 0.5
    out = kernel_inception_distance(a, b, subsets=20)  # default subset size 1000 > 300 samples
    assert out["subset_size"] == 150 and out["std"] > 0 and out["mean"] > 0
    with pytest.raises(ProxganError, match="at least 4 samples"):
        kernel_inception_distance(a[:3], b)


@pytest.fixture(scope="module")
def digits_classifier_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")  # reference and held-out statistics; the LeNet ships with proxgan


def test_classifier_scores_on_real_and_collapsed_digits(digits_classifier_dir):
    data = load_dataset("digits")
    real = evaluate(data.x, data, ["cls_is", "cls_fid"], cache_dir=digits_classifier_dir)
    assert 8.5 < real["cls_is"]["mean"] <= 10.0
    assert real["cls_fid"]["value"] == pytest.approx(0.0, abs=1e-6)  # the training set against itself
    assert real["cls_fid"]["test_accuracy"] >= 0.98
    zeros = data.x[data.labels == 0]  # mode collapse onto one class
    collapsed = evaluate(zeros, data, "cls_is,cls_fid", cache_dir=digits_classifier_dir)
    assert collapsed["cls_is"]["mean"] < 1.2
    assert collapsed["cls_fid"]["value"] > 10 * max(real["cls_fid"]["value"], 1e-3)


def test_mode_coverage_on_constructed_samples():
    centers, std = mixture_centers("ring8"), 0.02
    gen = torch.Generator().manual_seed(0)
    on_modes = torch.cat([centers[k] + 0.5 * std * torch.randn(100, 2, generator=gen) for k in range(5)])
    few = centers[5] + torch.zeros(3, 2)  # 3 high-quality samples: under the 20-of-2,500 threshold
    far = torch.full((47, 2), 10.0)  # nowhere near a mode
    out = mode_coverage(torch.cat([on_modes, few, far]), centers, std, min_count=5)
    assert out["modes_covered"] == 5
    assert out["high_quality_fraction"] == pytest.approx(503 / 550)
    assert out["counts"] == [100] * 5 + [3, 0, 0]
    edge = centers[:1] + torch.tensor([[3.01 * std, 0.0], [2.99 * std, 0.0]])  # the 3σ boundary
    assert mode_coverage(edge, centers, std, min_count=1)["high_quality_fraction"] == 0.5


def test_gaussian_w2_1d_closed_form():
    x = 3.0 + 2.0 * torch.randn(500, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    m, s = x.mean().item(), x.std().item()  # the fitted Gaussian (unbiased variance)
    assert gaussian_w2(x, torch.tensor([1.0]), torch.tensor(0.25)) == pytest.approx(
        math.hypot(m - 1.0, s - 0.5), rel=1e-9)


def test_empirical_wasserstein_1d_sorted_coupling():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(200, 1, generator=gen), 0.5 + 2 * torch.rand(200, 1, generator=gen)
    xs, ys = x.sort(0).values.double(), y.sort(0).values.double()  # optimal coupling in 1-D: sort both
    assert empirical_wasserstein(x, y, 1) == pytest.approx((xs - ys).abs().mean().item(), rel=1e-9)
    assert empirical_wasserstein(x, y, 2) == pytest.approx(((xs - ys) ** 2).mean().sqrt().item(), rel=1e-9)


def test_evaluate_generator_on_point_data():
    data = load_dataset("gaussian", n=2000, dim=3, mean=1.0, std=2.0)
    sampler = lambda n: 1.0 + 2.0 * torch.randn(n, 3, generator=torch.Generator().manual_seed(5))  # noqa: E731
    out = evaluate_generator(sampler, data, ["w2"], n_samples=2000)
    assert out["w2"]["value"] < 0.15 and out["w2"]["samples"] == 2000
    shifted = evaluate(lambda n: sampler(n) + 1.0, data, "w2", n_samples=2000)["w2"]["value"]
    assert shifted == pytest.approx(math.sqrt(3.0), abs=0.15)  # W2 of a pure shift by 1·1 in 3-D
    emd = evaluate(sampler, data, "emd", n_samples=300)["emd"]
    assert emd["points"] == [300, 2000] and emd["w1"] <= emd["w2"]  # Jensen: W1 ≤ W2
    ring = load_dataset("ring8", n=2500)
    assert evaluate(ring.x, ring, "modes")["modes"]["modes_covered"] == 8


def test_evaluate_rejects_bad_requests():
    digits, ring = load_dataset("digits"), load_dataset("ring8", n=100)
    with pytest.raises(ProxganError, match="unknown metric 'fidd'"):
        evaluate(digits.x, digits, "fidd")
    with pytest.raises(ProxganError, match="needs a mixture dataset"):
        evaluate(digits.x, digits, "modes")
    with pytest.raises(ProxganError, match="needs image data"):
        evaluate(ring.x, ring, "fid")
    with pytest.raises(ProxganError, match="needs dataset digits or mnist"):
        evaluate(ring.x, ring, "cls_is")
    with pytest.raises(ProxganError, match="n_samples is required"):
        evaluate(lambda n: ring.x[:n], ring, "emd")
    assert set(METRICS) >= {"fid", "is", "kid", "cls_is", "cls_fid", "modes", "w2", "emd"}
