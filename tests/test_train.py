"""The Trainer: exact D and G updates, n_critic, Algorithm 1's order, whole runs, exact resume, faults."""

import copy
import json

import pytest
import torch
from torch import nn

from proxgan.config import OptimizerConfig, config_from_dict
from proxgan.data import load_dataset
from proxgan.errors import ProxganError
from proxgan.objectives import OBJECTIVES, Formulation
from proxgan.proximal import ProximalConfig
from proxgan.runs import load_run
from proxgan.train import ProximalStrategy, RegularStrategy, Trainer, TrainingDiverged, train


WGAN = Formulation("wgan", OBJECTIVES["wgan"])  # V = E w·x − E w·G(z), no constraint
SGD = OptimizerConfig(name="sgd", lr=0.1)


class LinearG(nn.Module):
    """G(z) = A z + b."""

    def __init__(self, latent_dim=3):
        super().__init__()
        self.latent_dim, self.net = latent_dim, nn.Linear(latent_dim, 2)

    def forward(self, z):
        return self.net(z)


class LinearD(nn.Module):
    """D(x) = w·x."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.3, -0.2]))

    def forward(self, x):
        return x @ self.w


def linear_trainer(strategy, formulation=WGAN, batch_size=16, **options):
    torch.manual_seed(0)
    data = load_dataset("gaussian", n=500, mean=1.0, std=0.5, seed=0)
    return Trainer(LinearG(), LinearD(), formulation, strategy, data, batch_size=batch_size, g_optimizer=SGD, seed=4,
                   **options)


def regular(n_critic):
    return RegularStrategy(config_from_dict({"train": {"n_critic": n_critic, "d_optimizer": {"name": "sgd", "lr": 0.1}}}))


def test_discriminator_step_is_one_sgd_ascent_step_on_V():
    """WGAN with D(x) = w·x: ∇_w V = mean(real) − mean(fake), so w ← w + η (mean real − mean fake)."""
    trainer = linear_trainer(regular(1))
    real, fake = torch.randn(8, 2), torch.randn(8, 2) + 1
    w0 = trainer.D.w.detach().clone()
    stats = trainer.discriminator_step(real, fake)
    assert torch.allclose(trainer.D.w, w0 + 0.1 * (real.mean(0) - fake.mean(0)), atol=1e-6)
    assert stats["value"] == pytest.approx(float((real @ w0).mean() - (fake @ w0).mean()), abs=1e-6)
    assert stats["d_loss"] == pytest.approx(-stats["value"])


def test_weight_clipping_is_applied_after_each_discriminator_step():
    trainer = linear_trainer(regular(1), Formulation("wgan-wc", OBJECTIVES["wgan"], weight_clip=0.01))
    trainer.discriminator_step(torch.randn(8, 2), torch.randn(8, 2))
    assert trainer.D.w.abs().max().item() == pytest.approx(0.01)


def test_regular_strategy_takes_n_critic_steps_on_fresh_batches():
    trainer = linear_trainer(regular(3))
    data_rng, noise_rng = copy.deepcopy(trainer.data_rng), copy.deepcopy(trainer.noise_rng)
    w = trainer.D.w.detach().clone()
    with torch.no_grad():
        for _ in range(3):
            real = trainer.data.batch(16, data_rng)
            fake = trainer.G(torch.randn(16, 3, generator=noise_rng))
            w += 0.1 * (real.mean(0) - fake.mean(0))
    trainer.strategy.update_discriminator(trainer)
    assert torch.allclose(trainer.D.w, w, atol=1e-6)


def test_generator_step_descends_the_generator_loss_at_fixed_D():
    """WGAN generator loss −mean(w·(Az+b)): ∂/∂b = −w and ∂/∂A = −w mean(z)ᵀ, so SGD moves b by +η w."""
    trainer = linear_trainer(regular(1))
    noise_rng = copy.deepcopy(trainer.noise_rng)
    A0, b0, w = (t.detach().clone() for t in (trainer.G.net.weight, trainer.G.net.bias, trainer.D.w))
    trainer.generator_step()
    z = torch.randn(16, 3, generator=noise_rng)
    assert torch.allclose(trainer.G.net.bias, b0 + 0.1 * w, atol=1e-6)
    assert torch.allclose(trainer.G.net.weight, A0 + 0.1 * torch.outer(w, z.mean(0)), atol=1e-6)
    assert torch.equal(trainer.D.w, w) and trainer.D.w.requires_grad and trainer.D.w.grad is None


@pytest.mark.parametrize("reuse_fake", [False, True])
def test_reuse_fake_steps_the_generator_on_the_discriminator_steps_batch(reuse_fake):
    """One iteration, WGAN, D(x) = w·x, G(z) = Az + b: w₁ = w₀ + η(mean real − mean G(z₁)), then
    A ← A + η w₁ mean(z)ᵀ with z = z₁ (reused: one latent batch per iteration) or a fresh z₂."""
    trainer = linear_trainer(regular(1), reuse_fake=reuse_fake)
    data_rng, noise_rng = copy.deepcopy(trainer.data_rng), copy.deepcopy(trainer.noise_rng)
    A0, b0, w0 = (t.detach().clone() for t in (trainer.G.net.weight, trainer.G.net.bias, trainer.D.w))
    real, z1 = trainer.data.batch(16, data_rng), torch.randn(16, 3, generator=noise_rng)
    w1 = w0 + 0.1 * (real.mean(0) - (z1 @ A0.T + b0).mean(0))
    z = z1 if reuse_fake else torch.randn(16, 3, generator=noise_rng)
    trainer.train_step()
    assert torch.allclose(trainer.D.w, w1, atol=1e-6)
    assert torch.allclose(trainer.G.net.bias, b0 + 0.1 * w1, atol=1e-6)
    assert torch.allclose(trainer.G.net.weight, A0 + 0.1 * torch.outer(w1, z.mean(0)), atol=1e-6)
    assert torch.equal(trainer.latents(16), torch.randn(16, 3, generator=noise_rng))  # the stream drew z₁ (, z₂) only
    assert trainer.last_fake is None  # no graph is kept across iterations


def test_proximal_step_is_algorithm_1_inner_loop_then_generator_step():
    """One proximal iteration = proximal_update from w_k on the outer batch, then θ's step at w_{k+1}."""
    config = config_from_dict({"proximal": {"lam": 0.5, "steps": 4, "optimizer": {"name": "sgd", "lr": 0.05}}})
    trainer = linear_trainer(ProximalStrategy(config))
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    data_rng, noise_rng = copy.deepcopy(trainer.data_rng), copy.deepcopy(trainer.noise_rng)
    stats = trainer.train_step()

    real = trainer.data.batch(16, data_rng)
    with torch.no_grad():
        fake = G(torch.randn(16, 3, generator=noise_rng))
    expected = WGAN.proximal_update(D, real, fake, config.proximal)
    w_new = D.w.detach().clone()
    b_new = G.net.bias.detach() + 0.1 * w_new  # the generator steps at the *updated* discriminator
    assert torch.allclose(trainer.D.w, w_new, atol=1e-6)
    assert torch.allclose(trainer.G.net.bias, b_new, atol=1e-6)
    assert stats["d_loss"] == pytest.approx(expected.losses[-1].item(), abs=1e-6)
    assert stats["penalty"] == pytest.approx(expected.sobolev.item(), abs=1e-6) and stats["penalty"] > 0
    assert stats["value"] == pytest.approx(-expected.loss.item(), abs=1e-6) and stats["inner_steps"] == 4


# --- whole runs ---------------------------------------------------------------------------------

def tiny(strategy="regular", formulation="wgan-gp", steps=6, **sections):
    raw = {
        "seed": 3, "formulation": formulation,
        "data": {"name": "digits", "n": 200}, "model": {"arch": "dcgan", "dim": 4, "latent_dim": 8},
        "train": {"strategy": strategy, "steps": steps, "batch_size": 8, "n_critic": 2},
        "proximal": {"steps": 3, "fresh_batches": True},
        "log": {"every": 1, "sample_every": 4, "checkpoint_every": 2, "n_samples": 16},
    }  # fmt: skip
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return config_from_dict(raw)


def losses(doc):
    return {k: v for k, v in doc["results"]["losses"].items() if k != "wall_seconds"}


def test_a_run_writes_its_directory_and_loads_back(tmp_path):
    seen = []
    doc = train(tiny(steps=4), tmp_path, progress=lambda s, n, st: seen.append((s, n)))
    r = doc["results"]
    assert r["status"] == "completed" and r["steps"] == 4 and seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert r["losses"]["step"] == [1, 2, 3, 4] and set(r["final"]) >= {"d_loss", "g_loss", "value"}
    assert doc["figures"] == ["samples.png", "losses.png"]
    for name in ("config.yaml", "results.json", "samples.png", "losses.png", "checkpoints/last.pt",
                 "samples/step_0000004.png"):
        assert (tmp_path / name).is_file(), name
    assert any((tmp_path / "tb").iterdir())
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [rec["step"] for rec in log] == [1, 2, 3, 4] and log[-1]["g_loss"] == r["final"]["g_loss"]
    run = load_run(tmp_path)
    assert run.step == 4 and run.latent_dim == 8 and run.data.shape == (1, 8, 8)
    assert run.sample(5, seed=1).shape == (5, 1, 8, 8)
    with pytest.raises(ProxganError, match="already holds a run"):
        train(tiny(steps=4), tmp_path)


@pytest.mark.parametrize("strategy,formulation,average,proximal,reuse_fake,classes", [
    ("regular", "wgan-gp", "none", {}, False, 0), ("proximal", "sngan", "none", {}, False, 0),
    ("regular", "wgan-gp", "ema", {}, False, 0), ("proximal", "sngan", "polyak", {}, False, 0),
    ("proximal", "wgan-gp", "none", {"penalty_batch": 3, "tol": 0.5, "fresh_batches": False}, False, 0),  # sub-batch rows, early stops
    ("regular", "nsgan-r1", "ema", {}, True, 0),  # the generator step reuses the D step's batch (mnist-fast)
    ("regular", "nsgan-r1", "ema", {}, True, 10), ("proximal", "sngan", "none", {}, False, 10),  # class-conditional
])  # fmt: skip
def test_resumed_run_matches_the_uninterrupted_run_exactly(tmp_path, strategy, formulation, average, proximal, reuse_fake,
                                                           classes):
    schedule = "constant" if average == "none" else "linear"
    config = tiny(strategy, formulation, steps=6, proximal=proximal, model={"classes": classes, "latent_dim": 16 if classes else 8},
                  train={"average": {"kind": average, "decay": 0.5, "start": 1}, "lr_schedule": schedule,
                         "reuse_fake": reuse_fake})
    full = train(config, tmp_path / "full")
    calls = []
    part = train(config, tmp_path / "part", should_stop=lambda: calls.append(1) or len(calls) == 3)
    assert part["results"]["status"] == "interrupted" and part["results"]["steps"] == 3
    with (tmp_path / "part" / "log.jsonl").open("a") as log:  # as if it crashed after logging step 4
        log.write(json.dumps({"step": 4, "d_loss": 0.0}) + "\n")
    resumed = train(config, tmp_path / "part", resume=True)
    assert resumed["results"]["status"] == "completed"
    assert losses(resumed) == losses(full)
    logged = [json.loads(line)["step"] for line in (tmp_path / "part" / "log.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 3, 4, 5, 6]  # records after the checkpoint were dropped, then the run continued
    a, b = load_run(tmp_path / "full"), load_run(tmp_path / "part")
    for x, y in zip([*a.generator.state_dict().values(), *a.discriminator.state_dict().values()],
                    [*b.generator.state_dict().values(), *b.discriminator.state_dict().values()]):
        assert torch.equal(x, y)
    last = load_run(tmp_path / "full", average=False)
    same = [torch.equal(x, y) for x, y in zip(a.generator.parameters(), last.generator.parameters())]
    assert all(same) == (average == "none")  # the averaged generator is not the last iterate
    assert a.generator_kind.startswith({"none": "last", "ema": "EMA", "polyak": "Polyak"}[average])


@pytest.mark.parametrize("reuse_fake", [False, True])
def test_conditional_trainer_labels_real_and_generated_batches(reuse_fake):
    """Real rows carry the dataset's labels of the same draw as an unconditional batch; fakes carry their latent's class."""
    from proxgan.labels import latent_classes, split_labels
    from proxgan.train import build_trainer

    config = tiny("regular", "nsgan-r1", model={"classes": 10, "latent_dim": 16}, train={"reuse_fake": reuse_fake})
    data = load_dataset("digits", n=200, seed=3)
    trainer = build_trainer(config, torch.device("cpu"), data)
    state = trainer.data_rng.get_state()
    images, labels = split_labels(trainer.real_batch())
    trainer.data_rng.set_state(state)
    index = torch.randint(len(data), (8,), generator=trainer.data_rng)
    assert torch.equal(images, data.x[index]) and torch.equal(labels, data.labels[index])
    noise = trainer.noise_rng.get_state()
    fakes, classes = split_labels(trainer.fake_batch())
    trainer.noise_rng.set_state(noise)
    z = trainer.latents(8)
    assert torch.equal(classes, latent_classes(z, 10))
    torch.testing.assert_close(fakes, trainer.G(z).float())
    stats = trainer.train_step()
    assert all(torch.isfinite(torch.as_tensor(v)) for v in stats.values())


def test_conditional_runs_need_labels_a_dcgan_and_no_interpolation_penalty():
    from proxgan.train import build_trainer

    with pytest.raises(ProxganError, match="at least 2"):
        tiny(model={"classes": 1})
    with pytest.raises(ProxganError, match="model.classes=10 needs model.latent_dim > 10"):
        tiny(formulation="sngan", model={"classes": 10, "latent_dim": 10})
    with pytest.raises(ProxganError, match="needs model.arch=dcgan"):
        tiny(formulation="sngan", model={"classes": 10, "arch": "mlp", "latent_dim": 16})
    with pytest.raises(ProxganError, match="gradient penalty interpolates"):
        tiny(formulation="wgan-gp", model={"classes": 10, "latent_dim": 16})
    with pytest.raises(ProxganError, match="labels of digits run from 0 to 9"):
        build_trainer(tiny(formulation="sngan", model={"classes": 5, "latent_dim": 16}), torch.device("cpu"), load_dataset("digits", n=50))
    unlabelled = load_dataset("digits", n=50)
    unlabelled.labels = None
    with pytest.raises(ProxganError, match="needs a labelled dataset"):
        build_trainer(tiny(formulation="sngan", model={"classes": 10, "latent_dim": 16}), torch.device("cpu"), unlabelled)


def test_adaptive_inner_loop_logs_its_inner_steps_within_the_cap(tmp_path):
    """proximal.tol: the history records the inner steps of every outer step, between 1 and T (here T = 6)."""
    doc = train(tiny("proximal", "wgan-gp", steps=4, proximal={"steps": 6, "tol": 0.5, "fresh_batches": False}), tmp_path)
    inner = doc["results"]["losses"]["inner_steps"]
    assert len(inner) == 4 and all(1 <= s <= 6 and s == int(s) for s in inner)
    full = train(tiny("proximal", "wgan-gp", steps=2, proximal={"steps": 6, "fresh_batches": False}), tmp_path / "T")
    assert full["results"]["losses"]["inner_steps"] == [6.0, 6.0]


def test_resume_can_extend_a_run_but_not_change_the_model(tmp_path):
    train(tiny(steps=2), tmp_path)
    assert train(tiny(steps=3), tmp_path, resume=True)["results"]["steps"] == 3
    with pytest.raises(ProxganError, match="trained with model.dim=4 but the config says 8"):
        train(tiny(steps=4, model={"dim": 8}), tmp_path, resume=True)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    step = Trainer.generator_step

    def exploding(self):
        stats = step(self)
        return {"g_loss": float("nan")} if self.step == 2 else stats  # self.step is the number of finished steps

    monkeypatch.setattr(Trainer, "generator_step", exploding)
    with pytest.raises(TrainingDiverged, match="non-finite loss at step 3 .*g_loss=nan.*last good checkpoint"):
        train(tiny(steps=6), tmp_path)
    assert load_run(tmp_path).step == 2
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["results"]["status"] == "diverged" and doc["results"]["final"]["g_loss"] is None


def test_amp_inner_steps_see_the_updated_discriminator():
    """bfloat16 autocast (on CPU here, the same code path as CUDA) around Algorithm 1's inner loop: every
    inner step must evaluate D at its current weights. With autocast's weight cache on, all steps would
    see w_k (constant loss, zero penalty); the result must instead match float32 to bfloat16 precision."""
    config = config_from_dict({"proximal": {"lam": 0.5, "steps": 4, "optimizer": {"name": "sgd", "lr": 0.05}}})
    outcome = {}
    for amp in (False, True):
        trainer = linear_trainer(ProximalStrategy(config))
        trainer.amp = amp
        stats = trainer.strategy.update_discriminator(trainer)
        outcome[amp] = stats, trainer.D.w.detach().clone()
    (exact, w_exact), (mixed, w_mixed) = outcome[False], outcome[True]
    exact, mixed = ({key: float(value) for key, value in stats.items()} for stats in (exact, mixed))  # 0-d tensors
    assert exact["penalty"] > 1e-3 and mixed["penalty"] == pytest.approx(exact["penalty"], rel=3e-2)
    assert mixed["d_loss"] == pytest.approx(exact["d_loss"], rel=3e-2, abs=1e-2)
    assert torch.allclose(w_mixed, w_exact, atol=1e-2)


def test_amp_training_runs_on_cpu(tmp_path):
    doc = train(tiny("proximal", train={"amp": True}, steps=2), tmp_path)
    assert doc["results"]["status"] == "completed" and doc["config"]["train"]["amp"] is True


def test_devices_are_checked(tmp_path):
    with pytest.raises(ProxganError, match="unknown device 'gpu0'"):
        train(tiny(), tmp_path, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ProxganError, match="no CUDA device is available"):
            train(tiny(), tmp_path, device="cuda")


def test_evaluation_during_training_is_recorded_and_leaves_training_unchanged(tmp_path):
    """log.eval_every scores samples every N steps (metrics registry) without touching the training RNG."""
    base = {
        "formulation": "wgan-gp", "data": {"name": "ring8", "n": 256}, "model": {"arch": "mlp", "dim": 8, "latent_dim": 4},
        "train": {"steps": 4, "batch_size": 16, "n_critic": 1},
        "log": {"every": 1, "sample_every": 1000, "checkpoint_every": 1000, "n_samples": 16},
    }  # fmt: skip
    plain = train(config_from_dict(base), tmp_path / "plain")
    scored_cfg = {**base, "log": {**base["log"], "eval_every": 2, "eval_metrics": "modes,emd", "eval_samples": 200}}
    scored = train(config_from_dict(scored_cfg), tmp_path / "scored")
    assert losses(scored) == losses(plain)
    evaluations = scored["results"]["evaluations"]
    assert [e["step"] for e in evaluations] == [2, 4]
    assert all(0 <= e["metrics"]["modes"]["high_quality_fraction"] <= 1 for e in evaluations)
    # the last evaluation scored the generator `proxgan evaluate` loads: population BatchNorm statistics (the MLP has
    # BatchNorm), not the buffers kept during training
    from proxgan.metrics import evaluate
    from proxgan.runs import generate

    latents = torch.randn(200, 4, generator=torch.Generator().manual_seed(scored["config"]["seed"] + 4))
    for population in (True, False):
        G = load_run(tmp_path / "scored", population_batchnorm=population).generator
        with torch.no_grad():
            again = evaluate(generate(G, latents), load_dataset("ring8", n=256, seed=scored["config"]["seed"]), "emd")
        assert (again["emd"]["w1"] == evaluations[-1]["metrics"]["emd"]["w1"]) == population
    with pytest.raises(ProxganError, match="unknown log.eval_metrics 'nope'"):
        train(config_from_dict({**base, "log": {**base["log"], "eval_every": 2, "eval_metrics": "nope"}}), tmp_path / "bad")
    with pytest.raises(ProxganError, match="log.eval_every"):
        config_from_dict({**base, "log": {**base["log"], "eval_every": -1}})


@pytest.mark.parametrize("strategy", ["regular", "proximal"])
def test_linear_lr_schedule_decays_both_players_to_zero(strategy):
    from proxgan.train import build_trainer

    config = tiny(strategy, steps=4, train={"lr_schedule": "linear", "d_optimizer": {"lr": 0.003}})
    trainer = build_trainer(config, torch.device("cpu"), load_dataset("digits", n=200))
    seen = []
    for _ in range(4):
        trainer.train_step()
        seen.append((trainer.g_optimizer.param_groups[0]["lr"], trainer.d_optimizer.param_groups[0]["lr"]))
    g0, d0 = config.train.g_optimizer.lr, (0.003 if strategy == "regular" else config.proximal.optimizer.lr)
    expected = [(g0 * (1 - k / 4), d0 * (1 - k / 4)) for k in range(4)]
    assert [lr for pair in seen for lr in pair] == pytest.approx([lr for pair in expected for lr in pair], rel=1e-12)


def test_the_config_names_exactly_the_trainers_strategies():
    from proxgan.config import STRATEGY_NAMES
    from proxgan.train import STRATEGIES

    assert tuple(STRATEGIES) == STRATEGY_NAMES


def test_due_actions_follow_the_log_periods_the_last_step_and_a_stop():
    from proxgan.config import LogConfig
    from proxgan.train import DueActions, due_actions

    log = LogConfig(every=5, sample_every=4, checkpoint_every=3, eval_every=0)
    due = {step: due_actions(step, 10, log, stop=False) for step in range(1, 11)}
    assert [step for step, d in due.items() if d.any] == [3, 4, 5, 6, 8, 9, 10]
    assert due[4] == DueActions(log=False, samples=True, evaluate=False, checkpoint=False)
    assert due[10] == DueActions(log=True, samples=False, evaluate=False, checkpoint=False)  # the last step logs
    assert due_actions(1, 10, log, stop=True) == DueActions(log=True, samples=False, evaluate=False, checkpoint=True)
    assert due_actions(6, 10, LogConfig(eval_every=3), stop=False).evaluate
