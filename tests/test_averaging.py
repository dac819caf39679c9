"""Generator iterate averaging: the EMA and Polyak recurrences, buffers, validation."""

import pytest
import torch
from torch import nn

from proxgan.averaging import AveragingConfig, IterateAverage
from proxgan.config import config_from_dict
from proxgan.errors import ProxganError


def iterates(steps: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 2, generator=gen, dtype=torch.float64) for _ in range(steps)]


def run_average(config: AveragingConfig, thetas: list[torch.Tensor]) -> torch.Tensor:
    """The average after steps 1..T of a model whose weights are θ_0 (at construction), θ_1, …, θ_T."""
    model = nn.Linear(2, 3, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(thetas[0])
    average = IterateAverage(model, config)
    for step, theta in enumerate(thetas[1:], start=1):
        with torch.no_grad():
            model.weight.copy_(theta)
        average.update(model, step)
    return average.module.weight.detach()


@pytest.mark.parametrize("start", [0, 3])
def test_ema_equals_its_recurrence(start):
    thetas, beta = iterates(13), 0.7  # θ_0 … θ_12
    expected = thetas[0]
    for k in range(1, len(thetas)):
        expected = thetas[k] if k <= start else beta * expected + (1 - beta) * thetas[k]
    got = run_average(AveragingConfig("ema", decay=beta, start=start), thetas)
    torch.testing.assert_close(got, expected, rtol=1e-14, atol=1e-14)
    T = len(thetas) - 1  # closed form: β^(T−s) θ_s + Σ_{k=s+1}^{T} (1−β) β^(T−k) θ_k
    closed = beta ** (T - start) * thetas[start] + sum((1 - beta) * beta ** (T - k) * thetas[k] for k in range(start + 1, T + 1))
    torch.testing.assert_close(got, closed, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("start", [0, 4])
def test_polyak_is_the_mean_of_the_iterates_from_start(start):
    thetas = iterates(11, seed=1)  # θ_0 … θ_10
    got = run_average(AveragingConfig("polyak", start=start), thetas)
    torch.testing.assert_close(got, torch.stack(thetas[start:]).mean(0), rtol=1e-13, atol=1e-13)


def test_buffers_are_copied_not_averaged():
    model = nn.BatchNorm1d(2)
    average = IterateAverage(model, AveragingConfig("ema", decay=0.9))
    model.train()(torch.randn(16, 2) * 5 + 3)
    average.update(model, 1)
    average.update(model, 2)
    assert torch.equal(average.module.running_mean, model.running_mean)
    assert not average.module.weight.requires_grad


@pytest.mark.parametrize("raw,message", [
    ({"kind": "swa"}, "train.average.kind"),
    ({"kind": "ema", "decay": 1.0}, r"train.average.decay must be in \[0, 1\)"),
    ({"kind": "ema", "decay": float("nan")}, "train.average.decay"),
    ({"kind": "ema", "start": -1}, "train.average.start must be >= 0"),
])
def test_bad_averaging_settings_are_one_clear_error(raw, message):
    with pytest.raises(ProxganError, match=message):
        config_from_dict({"train": {"average": raw}})
