"""Equilibrium diagnostics: the Nash test (eq. 5) and the proximal test (eq. 19, Prop. 4) against closed forms."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from proxgan.equilibrium import (
    EquilibriumConfig,
    FixedEvaluation,
    GameSetting,
    generator_gradient,
    judge_test,
    log_spaced_steps,
    proximal_discriminator,
    proximal_objective,
    run_test,
    summarize_test,
)
from proxgan.errors import ProxganError
from proxgan.objectives import OBJECTIVES, Formulation
from proxgan.gradients import scores_and_input_gradients
from proxgan.proximal import OptimizerConfig, ProximalConfig
from proxgan.rules import CONTRADICTED, REPRODUCED

#: WGAN objective V = E D(x) − E D(G(z)) (eq. 8) with no constraint on D, so everything is smooth
WGAN = Formulation("wgan-unconstrained", OBJECTIVES["wgan"])


# --- tiny games ---------------------------------------------------------------------------------


class Dirac(nn.Module):
    """The Dirac generator G_θ(z) = θ for every z (a point mass δ_θ on the line)."""

    def __init__(self, theta: float):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta], dtype=torch.float64))

    def forward(self, z):
        return self.theta.expand(len(z), 1)


class Location(nn.Module):
    """G_θ(z) = μ + S z: a Gaussian N(μ, S Sᵀ) when z ~ N(0, I)."""

    def __init__(self, mu, S):
        super().__init__()
        self.mu = nn.Parameter(torch.as_tensor(mu, dtype=torch.float64).clone())
        self.S = nn.Parameter(torch.as_tensor(S, dtype=torch.float64).clone())

    def forward(self, z):
        return self.mu + z @ self.S.T


class Quadratic(nn.Module):
    """D_w(x) = xᵀ A x + bᵀ x with A = [[w0, w1], [w1, w2]], b = (w3, w4): linear in w, quadratic in x."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float64).clone())

    def A(self):
        w = self.w
        return torch.stack([torch.stack([w[0], w[1]]), torch.stack([w[1], w[2]])])

    def forward(self, x):
        return ((x @ self.A()) * x).sum(dim=1) + x @ self.w[3:]


def linear_critic(phi: float) -> nn.Module:
    D = nn.Sequential(nn.Linear(1, 1, bias=False, dtype=torch.float64), nn.Flatten(0))
    with torch.no_grad():
        D[0].weight.fill_(phi)
    return D


def constant_real(x: float):
    return lambda n, seed: torch.full((n, 1), x, dtype=torch.float64)


def whitened_latents(n, seed):
    """{±√2 e₁, ±√2 e₂} tiled: empirical mean 0 and second moment I exactly, for every batch size divisible by 4."""
    base = math.sqrt(2.0) * torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=torch.float64)
    return base.repeat(n // 4, 1)


def gaussian_real(n, seed, mean=(1.0, -0.5), std=0.7):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g, dtype=torch.float64) * std + torch.tensor(mean, dtype=torch.float64)


def sgd(lr):
    return lambda params: torch.optim.SGD(params, lr=lr)


def adam(lr):
    return lambda params: torch.optim.Adam(params, lr=lr)


def config(**kw):
    base = dict(steps=40, batch_size=8, eval_size=8, grid_size=4, log_points=8, inner_steps=5, track_proximal=False)
    return EquilibriumConfig(**{**base, **kw})


def dirac_setting(theta=0.3, phi=0.8, x=1.0, optimizer=sgd(0.05)):
    return GameSetting(Dirac(theta), linear_critic(phi), WGAN, constant_real(x), lambda n, s: torch.zeros(n, 1, dtype=torch.float64), optimizer)


def curve(result, key="objective"):
    return np.array([r[key] for r in result["curve"]])


# --- the Nash test against closed forms -----------------------------------------------------------


def test_log_spaced_steps_cover_both_ends():
    steps = log_spaced_steps(10_000, 12)
    assert steps[0] == 0 and steps[-1] == 10_000 and steps == sorted(set(steps))
    assert np.all(np.diff(np.log(steps[1:])) > 0.5)  # geometric, not linear


def test_nash_test_on_dirac_wgan_falls_at_rate_lr_phi_squared():
    """V(θ) = φ*(x − θ) with D frozen: SGD moves θ by lr·φ* per step, so V_t = V_0 − t·lr·φ*² exactly."""
    lr, phi, x, theta = 0.05, 0.8, 1.0, 0.3
    result = run_test("nash", dirac_setting(theta, phi, x, sgd(lr)), config())
    steps = np.array([r["step"] for r in result["curve"]])
    np.testing.assert_allclose(curve(result), phi * (x - theta) - steps * lr * phi**2, rtol=0, atol=1e-12)


def test_nash_test_on_dirac_wgan_with_adam_moves_lr_per_step():
    """With a constant gradient g Adam's bias-corrected step is lr·g/(|g| + ε): V_t = V_0 − t·lr·φ²/(|φ| + ε)."""
    lr, phi, x, theta = 0.01, -0.6, 1.0, 0.3
    result = run_test("nash", dirac_setting(theta, phi, x, adam(lr)), config())
    steps = np.array([r["step"] for r in result["curve"]])
    np.testing.assert_allclose(curve(result), phi * (x - theta) - steps * lr * phi**2 / (abs(phi) + 1e-8), atol=1e-12)


def quadratic_setting(A, b, mu, S, lr):
    w = [A[0][0], A[0][1], A[1][1], b[0], b[1]]
    return GameSetting(Location(mu, S), Quadratic(w), WGAN, gaussian_real, whitened_latents, sgd(lr))


def quadratic_nash_curve(A, b, mu, S, lr, steps, d_real_mean):
    """Hand-derived: with E z = 0, E zzᵀ = I, V(μ, S) = E D(x) − (μᵀAμ + bᵀμ + tr SᵀAS), so SGD gives
    μ ← μ + lr(2Aμ + b), S ← (I + 2 lr A) S and V_t follows in closed form."""
    A, b, mu, S = (np.asarray(v, dtype=float) for v in (A, b, mu, S))
    out = {}
    for t in range(max(steps) + 1):
        if t in steps:
            out[t] = d_real_mean - (mu @ A @ mu + b @ mu + np.trace(S.T @ A @ S))
        mu, S = mu + lr * (2 * A @ mu + b), S + 2 * lr * A @ S
    return np.array([out[t] for t in steps])


def test_nash_test_on_gaussian_quadratic_critic_matches_closed_form():
    """A frozen quadratic critic with an ascent direction (A has eigenvalue 0.5 > 0): V falls without bound."""
    A, b, mu, S, lr = [[0.5, 0.1], [0.1, -0.3]], [0.2, -0.1], [0.4, 0.2], [[0.8, 0.0], [0.1, 0.6]], 0.02
    setting = quadratic_setting(A, b, mu, S, lr)
    result = run_test("nash", setting, config(steps=60))
    steps = [r["step"] for r in result["curve"]]
    fixed = FixedEvaluation.build(setting, setting.discriminator, config(steps=60))
    expected = quadratic_nash_curve(A, b, mu, S, lr, steps, float(fixed.d_real.mean()))
    np.testing.assert_allclose(curve(result), expected, rtol=1e-10)
    assert curve(result)[-1] < curve(result)[0] - 1.0


def test_nash_test_cannot_lower_objective_at_a_nash_point():
    """A concave quadratic critic and the generator at its maximizer μ = −A⁻¹b/2, S = 0: ∇_θ V = 0, V stays put."""
    A, b = np.array([[-0.5, 0.1], [0.1, -0.4]]), np.array([0.3, -0.2])
    mu = -0.5 * np.linalg.solve(A, b)
    result = run_test("nash", quadratic_setting(A.tolist(), b.tolist(), mu, np.zeros((2, 2)), 0.05), config(steps=30))
    obj = curve(result)
    np.testing.assert_allclose(obj, obj[0], atol=1e-12)
    verdict = judge_test("nash", summarize_test("nash", result["curve"], 30), lam=0.1)
    assert verdict["outcome"] == "held" and verdict["verdict"] == CONTRADICTED
    assert "no evidence against a Nash equilibrium" in verdict["sentence"]


# --- the proximal test: Proposition 4 ------------------------------------------------------------


def test_proximal_gradient_matches_finite_differences_of_the_proximal_objective():
    """∇_θ V_λ^prox(G_θ, D_w0) = ∇_θ V(G_θ, D_w*) (eq. 14) vs central differences of V^prox from long inner solves."""
    torch.manual_seed(0)
    lam = 2.0
    # the inner loss has Hessian λ·H, H = (1/n) Σ Jᵢᵀ Jᵢ with Jᵢ = ∂∇ₓD_w(xᵢ)/∂w; eig(H) in [0.54, 2.24] on this
    # batch, so gradient ascent with lr = 1/(2.3 λ) contracts by ≤ 0.77 a step: 120 steps reach 1e-13
    inner = ProximalConfig(lam=lam, steps=120, optimizer=OptimizerConfig("sgd", lr=1 / (2.3 * lam)))
    G = Location([0.4, 0.2], [[0.8, 0.0], [0.1, 0.6]])
    D_final = Quadratic([0.3, 0.1, -0.2, 0.2, -0.1])
    real, z = gaussian_real(16, 0, mean=(0.0, 0.0), std=0.5), whitened_latents(16, 0)
    D_work = Quadratic(D_final.w.detach())
    w_final = {k: v.clone() for k, v in D_final.state_dict().items()}
    fake = G(z)
    D_star = proximal_discriminator(D_work, w_final, WGAN, real, fake.detach(), inner)
    analytic = torch.cat([g.flatten() for g in generator_gradient(G, D_star, WGAN, real, fake, "value")])

    _, ref = scores_and_input_gradients(D_final, real, create_graph=False)
    fixed = FixedEvaluation(real=real, d_real=D_final(real).detach(), ref_grads=ref.detach(), z_eval=z, z_grid=z[:4])
    params = [G.mu, G.S]
    numeric, h = [], 1e-5
    for p in params:
        for i in range(p.numel()):
            values = []
            for sign in (1, -1):
                with torch.no_grad():
                    p.view(-1)[i] += sign * h
                values.append(proximal_objective(G, D_work, w_final, WGAN, fixed, inner))
                with torch.no_grad():
                    p.view(-1)[i] -= sign * h
            numeric.append((values[0] - values[1]) / (2 * h))
    np.testing.assert_allclose(analytic.numpy(), np.array(numeric), rtol=1e-6, atol=1e-8)
    # and the proximal gradient is not the Nash gradient: the inner step moved D
    nash = torch.cat([g.flatten() for g in generator_gradient(G, D_final.requires_grad_(False), WGAN, real, G(z), "value")])
    assert torch.linalg.norm(nash - analytic) > 1e-2


def test_dirac_at_its_proximal_point_passes_the_proximal_test_and_fails_the_nash_test():
    """Dirac WGAN with Sobolev prox (Algorithm 1's λ/2 convention): ∇ₓD_w = w, so
    V^prox(θ, φ) = max_w w(x − θ) − (λ/2)(w − φ)² = φ(x − θ) + (x − θ)²/(2λ), minimized over θ at θ* = x + λφ.
    One inner SGD step with lr = 1/λ solves the inner problem exactly. At θ*: the proximal test cannot move θ,
    while the Nash test lowers V(θ, φ) = φ(x − θ) by lr·φ² per step."""
    lam, phi, x, lr = 0.5, 0.8, 1.0, 0.05
    theta_star = x + lam * phi
    exact = dict(lam=lam, inner_steps=1, inner_optimizer=OptimizerConfig("sgd", lr=1 / lam), track_proximal=True, steps=30)
    prox = run_test("proximal", dirac_setting(theta_star, phi, x, sgd(lr)), config(**exact))
    nash = run_test("nash", dirac_setting(theta_star, phi, x, sgd(lr)), config(**exact))
    v0 = phi * (x - theta_star)
    np.testing.assert_allclose(curve(prox), v0, atol=1e-12)
    np.testing.assert_allclose(curve(prox, "proximal_objective"), v0 + (x - theta_star) ** 2 / (2 * lam), atol=1e-12)
    steps = np.array([r["step"] for r in nash["curve"]])
    np.testing.assert_allclose(curve(nash), v0 - steps * lr * phi**2, atol=1e-12)
    # V^prox along the Nash trajectory θ_t = θ* + t·lr·φ, closed form
    theta_t = theta_star + steps * lr * phi
    np.testing.assert_allclose(curve(nash, "proximal_objective"), phi * (x - theta_t) + (x - theta_t) ** 2 / (2 * lam), atol=1e-12)

    nash_summary, prox_summary = summarize_test("nash", nash["curve"], 30), summarize_test("proximal", prox["curve"], 30)
    assert judge_test("nash", nash_summary, lam)["outcome"] == "fell"  # not a Nash equilibrium
    assert judge_test("proximal", prox_summary, lam)["verdict"] == REPRODUCED  # V^prox held: λ-proximal
    # every fresh batch sees the same Dirac game: the fall is exact, with zero noise
    assert nash_summary["rule"]["fall"] == pytest.approx(30 * lr * phi**2, abs=1e-12)
    assert nash_summary["rule"]["noise"] == 0.0


def test_dirac_away_from_its_proximal_point_fails_the_proximal_test():
    """From θ₀ < x + λφ the proximal gradient −w* = −φ − (x − θ)/λ is nonzero: V^prox falls, as it must."""
    lam, phi, x = 0.5, 0.8, 1.0
    exact = dict(lam=lam, inner_steps=1, inner_optimizer=OptimizerConfig("sgd", lr=1 / lam), track_proximal=True, steps=30)
    prox = run_test("proximal", dirac_setting(0.0, phi, x, sgd(0.05)), config(**exact))
    summary = summarize_test("proximal", prox["curve"], 30)
    # SGD on V^prox: x − θ_{t+1} = (x − θ_t)(1 − lr/λ) − lr·φ, a contraction towards θ* = x + λφ
    r, t = 1.0 - 0.05 / lam, 30
    gap = (x - 0.0 + lam * phi) * r**t - lam * phi  # x − θ_t
    assert summary["proximal_objective_end"] == pytest.approx(phi * gap + gap**2 / (2 * lam), abs=1e-12)
    verdict = judge_test("proximal", summary, lam)
    assert verdict["outcome"] == "fell" and verdict["verdict"] == CONTRADICTED
    assert "not a λ-proximal equilibrium" in verdict["sentence"]


def test_docstring_example_runs():
    import doctest

    import proxgan.equilibrium

    assert doctest.testmod(proxgan.equilibrium).attempted > 0 and doctest.testmod(proxgan.equilibrium).failed == 0


def test_user_pair_tests_match_the_closed_forms_without_a_run():
    """nash_test / proximal_test on modules and a loss callable (no proxgan run, no Formulation): the Dirac
    WGAN at its proximal point θ* = x + λφ, as above, through the public entry points."""
    from proxgan import nash_test, proximal_test

    lam, phi, x, lr = 0.5, 0.8, 1.0, 0.05
    theta_star = x + lam * phi
    options = dict(latent_shape=1, make_optimizer=sgd(lr), lam=lam, inner_steps=1,
                   inner_optimizer=OptimizerConfig("sgd", lr=1 / lam), track_proximal=True, steps=30, batch_size=8, eval_size=8, grid_size=4, log_points=8)
    real_data = torch.full((50, 1), x, dtype=torch.float64)

    def wgan_loss(d_real, d_fake):
        return d_fake.mean() - d_real.mean()

    G, D = Dirac(theta_star), linear_critic(phi)
    nash = nash_test(G, D, real_data, wgan_loss, **options)
    prox = proximal_test(G, D, real_data, wgan_loss, **options)
    assert G.theta.item() == theta_star and D[0].weight.item() == phi  # the user's modules are untouched
    v0 = phi * (x - theta_star)
    steps = np.array([r["step"] for r in nash["curve"]])
    np.testing.assert_allclose(curve(nash), v0 - steps * lr * phi**2, atol=1e-12)
    np.testing.assert_allclose(curve(prox), v0, atol=1e-12)
    np.testing.assert_allclose(curve(prox, "proximal_objective"), v0 + (x - theta_star) ** 2 / (2 * lam), atol=1e-12)
    assert nash["outcome"] == "fell" and prox["outcome"] == "held"
    assert nash["summary"]["objective_drop"] == pytest.approx(30 * lr * phi**2)
    with pytest.raises(ProxganError, match="pass latent_shape"):
        nash_test(G, D, real_data, wgan_loss, steps=1)
    with pytest.raises(ProxganError, match="generator loss is unknown"):
        nash_test(G, D, real_data, wgan_loss, **{**options, "generator_loss": "training"})


# --- mechanics on a small neural GAN --------------------------------------------------------------


#: spectral norm (buffers that a careless forward pass would update) and a gradient penalty (random interpolation)
WGAN_GP_SN = Formulation("wgan-gp-sn", OBJECTIVES["wgan"], gradient_penalty=10.0, spectral_norm=True)


def mlp_setting(seed=0):
    from proxgan.models import build_models

    torch.manual_seed(seed)
    G, D = build_models("mlp", (2,), latent_dim=4, dim=4, spectral_norm=True)
    return GameSetting(
        G, D, WGAN_GP_SN,
        lambda n, s: gaussian_real(n, s).float(),
        lambda n, s: torch.randn(n, 4, generator=torch.Generator().manual_seed(s)),
        adam(1e-2),
    )


def small(**kw):
    return config(steps=12, batch_size=16, eval_size=32, log_points=5, inner_steps=3, inner_optimizer=OptimizerConfig(lr=1e-2), track_proximal=True, **kw)


def test_d_final_is_never_modified_and_runs_are_deterministic():
    setting = mlp_setting()
    before = {k: v.clone() for k, v in setting.discriminator.state_dict().items()}
    g_before = {k: v.clone() for k, v in setting.generator.state_dict().items()}
    flags = [p.requires_grad for p in setting.discriminator.parameters()]
    first = run_test("proximal", setting, small())
    for k, v in setting.discriminator.state_dict().items():
        assert torch.equal(v, before[k]), k
    for k, v in setting.generator.state_dict().items():
        assert torch.equal(v, g_before[k]), k  # the test moves a copy of θ_final
    assert [p.requires_grad for p in setting.discriminator.parameters()] == flags
    again = run_test("proximal", setting, small())
    assert first["curve"] == again["curve"]
    assert all(torch.equal(first["samples"][s], again["samples"][s]) for s in first["samples"])
    other = run_test("proximal", setting, small(seed=1))
    assert other["curve"] != first["curve"]
    assert first["curve"][-1]["objective"] != first["curve"][0]["objective"]


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("test", ["nash", "proximal"])
def test_resume_after_interruption_gives_the_uninterrupted_curve(tmp_path, test):
    setting = mlp_setting()
    cfg = small(checkpoint_every=4)
    uninterrupted = run_test(test, setting, cfg)

    def crash_at_7(step, total):
        if step == 7:
            raise Interrupt

    state = tmp_path / f"{test}.pt"
    with pytest.raises(Interrupt):
        run_test(test, setting, cfg, state_path=state, progress=crash_at_7)
    seen = []
    resumed = run_test(test, setting, cfg, state_path=state, progress=lambda s, n: seen.append(s))
    assert seen[0] > 1  # it really resumed
    assert resumed["curve"] == uninterrupted["curve"]
    assert sorted(resumed["samples"]) == sorted(uninterrupted["samples"])
    # a finished state is reused as is
    assert run_test(test, setting, cfg, state_path=state)["curve"] == uninterrupted["curve"]


def test_a_state_saved_with_flat_inner_optimizer_keys_resumes(tmp_path):
    """Older proxgan saved inner_optimizer (a name), inner_lr and inner_betas side by side in the state's config."""
    import io

    from proxgan.files import read_checksummed, write_checksummed

    setting, state = mlp_setting(), tmp_path / "nash.pt"
    finished = run_test("nash", setting, small(), state_path=state)
    saved = torch.load(io.BytesIO(read_checksummed(state, "state")), weights_only=True)
    optimizer = saved["config"].pop("inner_optimizer")
    saved["config"].update(inner_optimizer=optimizer["name"], inner_lr=optimizer["lr"], inner_betas=optimizer["betas"])
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    write_checksummed(state, buffer.getvalue())
    assert run_test("nash", setting, small(), state_path=state,
                    progress=lambda s, n: pytest.fail("the finished test ran again"))["curve"] == finished["curve"]


def test_resume_refuses_a_different_config_or_a_corrupt_state(tmp_path):
    setting, state = mlp_setting(), tmp_path / "nash.pt"
    run_test("nash", setting, small(), state_path=state)
    with pytest.raises(ProxganError, match="different config"):
        run_test("nash", setting, small(seed=3), state_path=state)
    with pytest.raises(ProxganError, match="different fingerprint .*resumes only with --training-batchnorm"):
        run_test("nash", mlp_setting(seed=1), small(), state_path=state)
    state.write_bytes(b"not a checkpoint")
    with pytest.raises(ProxganError, match="damaged equilibrium checkpoint .* no checksum header"):
        run_test("nash", setting, small(), state_path=state)


def test_config_validation_names_the_value():
    with pytest.raises(ProxganError, match="lambda must be > 0"):
        EquilibriumConfig(lam=0)
    with pytest.raises(ProxganError, match="steps must be a positive integer"):
        EquilibriumConfig(steps=0)
    with pytest.raises(ProxganError, match="inner_optimizer.lr must be > 0"):
        EquilibriumConfig(inner_optimizer={"lr": 0})
    assert EquilibriumConfig(inner_optimizer={"name": "sgd"}).inner_optimizer == OptimizerConfig("sgd")
    with pytest.raises(ProxganError, match="unknown test 'both'"):
        run_test("both", dirac_setting(), config())


# --- the command line on a tiny trained run -----------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A WGAN-GP MLP trained for 20 steps on the 8-mode ring (seconds)."""
    from proxgan.config import config_from_dict
    from proxgan.train import train

    run_dir = tmp_path_factory.mktemp("tiny_run")
    config = config_from_dict({
        "formulation": "wgan-gp", "data": {"name": "ring8", "n": 512}, "model": {"arch": "mlp", "dim": 8, "latent_dim": 4},
        "train": {"steps": 20, "batch_size": 32, "n_critic": 2},
        "log": {"every": 10, "sample_every": 1000, "checkpoint_every": 20, "n_samples": 64},
    })  # fmt: skip
    train(config, run_dir)
    return run_dir


def invoke(*args):
    from click.testing import CliRunner

    from proxgan.cli import main

    return CliRunner().invoke(main, ["equilibrium", *map(str, args)])


def test_cli_runs_both_tests_and_writes_curves_summaries_and_figure(tiny_run, tmp_path):
    import json

    out = tmp_path / "eq"
    res = invoke(tiny_run, "--steps", 6, "--inner-steps", 2, "--log-points", 3, "--eval-size", 64, "--out", out, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["figures"] == ["equilibrium.png"] and (out / "equilibrium.png").stat().st_size > 10_000
    tests = doc["results"]["tests"]
    assert set(tests) == {"nash", "proximal"}
    for name, t in tests.items():
        assert [r["step"] for r in t["curve"]] == log_spaced_steps(6, 3) == [0, 1, 2, 6]
        s = t["summary"]
        assert s["objective_start"] == t["curve"][0]["objective"] and s["objective_end"] == t["curve"][-1]["objective"]
        assert s["objective_drop"] == pytest.approx(s["objective_start"] - s["objective_end"])
        judged = s["batches"]["objective" if name == "nash" else "proximal_objective"]
        assert len(judged["start"]) == len(judged["end"]) == 5  # the default --eval-batches
        assert t["verdict"] == s["rule"]["verdict"] and t["sentence"].endswith(s["rule"]["conclusion"])
        assert s["quality_start"] is not None  # ring8: mode coverage's high-quality fraction
    nash0, prox0 = tests["nash"]["curve"][0], tests["proximal"]["curve"][0]
    assert {k: nash0[k] for k in nash0 if k != "batches"} == {k: prox0[k] for k in prox0 if k != "batches"}
    assert nash0["batches"]["objective"] == prox0["batches"]["objective"]  # same θ_final, same fresh batches
    assert doc["results"]["quality_metric"] == "modes high_quality_fraction"
    assert "against its own discriminator" in doc["results"]["answer"]
    # a rerun into the same --out resumes from the finished states: same curves
    again = invoke(tiny_run, "--steps", 6, "--inner-steps", 2, "--log-points", 3, "--eval-size", 64, "--out", out, "--json")
    assert json.loads((out / "results.json").read_text())["results"]["tests"] == tests, again.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lambda", "0"], "lambda must be > 0"),
        (["--lambda", "nan"], "lambda must be finite"),
        (["--steps", "0"], "steps must be a positive integer"),
        (["--inner-steps", "-3"], "inner_steps must be a positive integer"),
        (["--eval-batches", "1"], "eval_batches must be at least 2"),
        (["--test", "stackelberg"], "stackelberg"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tiny_run, tmp_path, args, message):
    res = invoke(tiny_run, "--out", tmp_path / "eq", *args)
    assert res.exit_code == 2, res.output
    assert res.output.strip().count("\n") == 0 and message in res.output


def test_cli_missing_run_and_corrupt_checkpoint_are_one_line_exit_2(tiny_run, tmp_path):
    import shutil

    res = invoke(tmp_path / "nope", "--out", tmp_path / "eq")
    assert res.exit_code == 2 and "does not exist" in res.output and res.output.strip().count("\n") == 0
    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    (broken / "checkpoints" / "last.pt").write_bytes(b"garbage")
    res = invoke(broken, "--out", tmp_path / "eq")
    assert res.exit_code == 2 and "damaged checkpoint" in res.output and res.output.strip().count("\n") == 0


# --- cross-check with the theorem lab's exact gaps (Theorem 1, 1-D WGAN) --------------------------


class Shift(nn.Module):
    """G_u(z) = z + u with u = clamp(b, −t, t): Theorem 1's generators with w = s* = 1 and ‖u‖ ≤ t."""

    def __init__(self, b: float, t: float):
        super().__init__()
        self.b, self.t = nn.Parameter(torch.tensor(b, dtype=torch.float64)), t

    def forward(self, z):
        return z + self.b.clamp(-self.t, self.t)


class ScaledAbs(nn.Module):
    """The theorem lab's optimal 1-Lipschitz critic D*(x) = s·|x| for the 1-D WGAN."""

    def __init__(self, slope: float):
        super().__init__()
        self.register_buffer("slope", torch.tensor(slope, dtype=torch.float64))

    def forward(self, x):
        return self.slope * x.abs().flatten()


def test_nash_test_reaches_the_theorem_labs_exact_nash_gap_for_the_1d_wgan():
    """X ~ N(0, σ²) with σ = 2, 𝒢 = {wz + u : |w| ≤ 1, |u| ≤ t}: G* = z and D*(x) = |x| (proxgan.theory).
    Against the frozen D*, V(G_u, D*) = E|X| − E|Z + u| is maximal at u = 0 (a stationary point, so the test
    starts at u = 0.05) and its minimum over 𝒢 is the lab's generator best response; the Nash test must reach
    V(G*, D*) − nash_gap_generator and never go below it. Expectations use n midpoint quantiles of N(0, 1)."""
    from proxgan.theory.gaussian import Setting
    from proxgan.theory.analysis import analyze

    theory = analyze("wgan", Setting(sigma=2.0, dim=1, t=1.0), lambdas=np.array([0.1]))
    assert theory["D_star"]["slope_sign"] == 1.0 and theory["G_star"] == {"W": [[1.0]], "u": [0.0]}
    n = 2000
    quantiles = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n)[:, None]

    def setting(u0):
        return GameSetting(Shift(u0, 1.0), ScaledAbs(theory["D_star"]["slope_sign"]), WGAN,
                           lambda m, s: 2.0 * quantiles[:m], lambda m, s: quantiles[:m], adam(0.1))  # fmt: skip

    cfg = config(steps=60, batch_size=n, eval_size=n)
    at_star = run_test("nash", setting(0.0), cfg)
    assert curve(at_star)[0] == pytest.approx(theory["value"], abs=1e-4)  # V(G*, D*) = W₁ = 2·E|Z| − E|Z|
    np.testing.assert_array_equal(curve(at_star), curve(at_star)[0])  # ∇_u V = 0 at G*: a first-order test sees no gap
    result = run_test("nash", setting(0.05), cfg)
    best_response = theory["value"] - theory["nash_gap_generator"]
    assert curve(result)[-1] == pytest.approx(best_response, abs=1e-4)
    assert curve(result).min() >= best_response - 1e-4
    assert theory["nash_gap_generator"] > 0.3  # Theorem 1: no Nash equilibrium here


@pytest.mark.parametrize("population", [True, False])
def test_the_tests_start_from_the_generators_own_batchnorm_statistics(tmp_path, monkeypatch, population):
    """An EMA generator carries its last iterate's BatchNorm buffers: by default the tests start from θ_final's own
    population statistics (the first evaluation then normalizes like the later ones); ``population_batchnorm=False``
    starts from the buffers in the checkpoint, as before."""
    from proxgan import equilibrium
    from proxgan.config import config_from_dict
    from proxgan.models.batchnorm import batchnorm_layers, with_population_statistics
    from proxgan.runs import load_run
    from proxgan.train import train

    run_dir = tmp_path / "run"
    config = config_from_dict({
        "formulation": "nsgan", "data": {"name": "digits"}, "model": {"arch": "dcgan", "dim": 4, "latent_dim": 8},
        "train": {"steps": 6, "batch_size": 16, "n_critic": 1, "average": {"kind": "ema", "decay": 0.5, "start": 1}},
        "log": {"every": 3, "sample_every": 1000, "checkpoint_every": 6, "n_samples": 16},
    })  # fmt: skip
    train(config, run_dir)
    started = {}
    run_test = equilibrium.run_test

    def spy(test, setting, config, **kwargs):
        started[test] = [(b.running_mean.clone(), b.running_var.clone()) for b in batchnorm_layers(setting.generator)]
        return run_test(test, setting, config, **kwargs)

    monkeypatch.setattr(equilibrium, "run_test", spy)
    equilibrium.run_equilibrium(run_dir, tmp_path / "eq", tests=("nash",), steps=1, log_points=2, eval_size=32,
                                population_batchnorm=population)  # fmt: skip
    kept = load_run(run_dir, population_batchnorm=False).generator  # EMA weights with the last iterate's buffers
    recomputed = with_population_statistics(kept)
    layers = batchnorm_layers(recomputed if population else kept)
    assert len(layers) == len(started["nash"]) > 0
    for (mean, var), layer in zip(started["nash"], layers):
        assert torch.equal(mean, layer.running_mean) and torch.equal(var, layer.running_var)
    assert not torch.allclose(batchnorm_layers(kept)[0].running_mean, batchnorm_layers(recomputed)[0].running_mean)  # the two starts differ here


def test_tests_on_a_conditional_run_score_labelled_pairs(tmp_path):
    """A class-conditional run: real batches carry the dataset's labels, and D sees each fake with its latent's class
    (V at step 0 is D's value on those pairs, not on the images with any other label)."""
    from proxgan.config import config_from_dict
    from proxgan.equilibrium import FixedEvaluation, evaluate, run_equilibrium, setting_from_run
    from proxgan.labels import label_fakes, split_labels, with_labels
    from proxgan.runs import load_run
    from proxgan.train import train

    experiment = config_from_dict({
        "formulation": "sngan", "data": {"name": "digits", "n": 200}, "model": {"dim": 4, "latent_dim": 16, "classes": 10},
        "train": {"steps": 4, "batch_size": 16, "n_critic": 1},
        "log": {"every": 2, "sample_every": 1000, "checkpoint_every": 4, "n_samples": 16},
    })  # fmt: skip
    train(experiment, tmp_path / "run")
    run = load_run(tmp_path / "run")
    setting = setting_from_run(run, quality=False)
    images, labels = split_labels(setting.sample_real(12, 5))
    index = torch.randint(len(run.data), (12,), generator=torch.Generator().manual_seed(5))
    assert torch.equal(images, run.data.x[index]) and torch.equal(labels, run.data.labels[index])
    cfg = config(steps=2, batch_size=16, eval_size=32, log_points=2)
    D = setting.discriminator
    fixed = FixedEvaluation.build(setting, D, cfg)
    record, grid = evaluate(0, setting.generator, D, None, {}, setting, fixed, cfg)
    with torch.no_grad():
        G = setting.generator.eval()
        fakes = G(fixed.z_eval)
        value = run.formulation.objective.value(fixed.d_real, D(label_fakes(fakes, fixed.z_eval, 10)))
        shifted = (split_labels(label_fakes(fakes, fixed.z_eval, 10))[1] + 1) % 10
        other = run.formulation.objective.value(fixed.d_real, D(with_labels(fakes, shifted)))
    assert record["objective"] == pytest.approx(float(value)) and float(value) != pytest.approx(float(other))
    assert grid.shape[1] == 1  # the sample grid holds images
    doc = run_equilibrium(tmp_path / "run", tmp_path / "eq", steps=3, log_points=2, eval_size=32, eval_batches=2,
                          batch_size=16, quality=False)
    assert set(doc["results"]["tests"]) == {"nash", "proximal"}
    assert all(len(test["curve"]) >= 2 for test in doc["results"]["tests"].values())
