"""The game lab's mathematics: closed-form rates, conserved quantity, proximal solves, classification."""

import math

import pytest
import torch
import torch.nn.functional as F

from proxgan.errors import ProxganError
from proxgan.games.builtin import bilinear, coupling_matrix, dirac, linear_wgan, make_game, quadratic
from proxgan.games.classify import classify
from proxgan.games.game import DTYPE, Game
from proxgan.games.experiment import average_report, decay_exponent, empirical_rho, method_report, running_average
from proxgan.games.methods import METHOD_NAMES, StepSizes, make_method, ppm, run_method
from proxgan.games.rates import (
    averaged_displacement,
    averaged_rotation,
    bilinear_factor,
    bilinear_rho,
    conserved_quantity,
    iteration_matrix,
    spectral_rho,
)

DIMS = (1, 3, 5)


def random_bilinear(dim: int) -> Game:
    return bilinear(coupling_matrix(dim, 1.0, seed=10 + dim))


def squared_distances(game, name, lr, z0, steps, k=3):
    trajectory, _ = run_method(game, make_method(name, lr, k=k), z0, steps)
    return game.distance(trajectory[:, 0]) ** 2


def test_lecture_rates_for_theta_phi():
    """θ·φ with step η: Sim-GDA 1 + η², proximal point 1/(1 + η²), extragradient 1 − η² + η⁴."""
    for eta in (0.05, 0.2, 0.7):
        lr = StepSizes(eta, eta)
        assert float(bilinear_factor("simgda", 1.0, lr)) == pytest.approx(1 + eta**2, rel=1e-14)
        assert float(bilinear_factor("ppm", 1.0, lr)) == pytest.approx(1 / (1 + eta**2), rel=1e-14)
        assert float(bilinear_factor("eg", 1.0, lr)) == pytest.approx(1 - eta**2 + eta**4, rel=1e-14)
        assert float(bilinear_factor("altgda", 1.0, lr)) == 1.0


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("lr", [StepSizes(0.1, 0.1), StepSizes(0.3, 0.1), StepSizes(0.05, 0.4), StepSizes(1.5, 1.5),
                                StepSizes(2.5, 2.0)])
def test_closed_forms_equal_spectral_radius_of_the_iteration_matrix(dim, lr):
    """Two independent derivations of ρ: singular-value formulas vs eigenvalues of the step's matrix
    (covers ogda with ω > ½ and altgda/kgda beyond the ω² = 4 stability edge)."""
    game = random_bilinear(dim)
    A = game.affine[0][:dim, dim:]
    for name in METHOD_NAMES:
        assert bilinear_rho(name, A, lr, k=3) == pytest.approx(spectral_rho(name, game, lr, k=3), rel=1e-9), name


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("eta", [0.05, 0.2, 0.5])
def test_empirical_rho_matches_the_exact_finite_horizon_prediction(dim, eta):
    """With η_θ = η_φ each singular block is a scaled rotation, so after T steps
    ‖z_T‖² = Σᵢ rᵢᵀ (|uᵢᵀθ₀|² + |vᵢᵀφ₀|²) exactly, rᵢ the block factor of singular value sᵢ."""
    game = random_bilinear(dim)
    A = game.affine[0][:dim, dim:]
    U, s, Vh = torch.linalg.svd(A)
    z0 = torch.randn(1, 2 * dim, generator=torch.Generator().manual_seed(dim), dtype=DTYPE)
    weights = (z0[0, :dim] @ U) ** 2 + (Vh @ z0[0, dim:]) ** 2
    T = 200
    lr = StepSizes(eta, eta)
    for name in ("simgda", "ppm", "eg"):
        rho, window = empirical_rho(squared_distances(game, name, lr, z0, T))
        predicted = float(((bilinear_factor(name, s, lr) ** T * weights).sum() / weights.sum()) ** (1 / T))
        assert window == T
        assert rho == pytest.approx(predicted, rel=1e-10), name
        if dim == 1:
            assert rho == pytest.approx(bilinear_rho(name, A, lr), rel=1e-12)


@pytest.mark.parametrize("dim", DIMS)
def test_empirical_rho_approaches_closed_form_with_per_player_steps(dim):
    """From the slowest/fastest singular block the geometric-mean ratio tends to max |λ|² at rate O(1/T)."""
    game = random_bilinear(dim)
    A = game.affine[0][:dim, dim:]
    U, s, Vh = torch.linalg.svd(A)
    lr = StepSizes(0.3, 0.12)
    for name in ("simgda", "ppm", "eg", "ogda", "altgda", "kgda"):
        worst = int(bilinear_factor(name, s, lr, k=3).argmax())
        z0 = torch.cat([U[:, worst], 0.5 * Vh[worst]])[None]
        rho, _ = empirical_rho(squared_distances(game, name, lr, z0, 1000))
        assert rho == pytest.approx(bilinear_rho(name, A, lr, k=3), rel=1e-3), name


def test_empirical_rho_survives_overflow():
    """Sim-GDA with η = 10 multiplies ‖z‖² by 101 per step and overflows; ρ uses the finite window."""
    game = random_bilinear(1)
    d2 = squared_distances(game, "simgda", StepSizes(10.0, 10.0), torch.tensor([[1.0, 1.0]], dtype=DTYPE), 400)
    assert not torch.isfinite(d2[-1])
    rho, window = empirical_rho(d2)
    assert 0 < window < 400
    assert rho == pytest.approx(101.0, rel=1e-12)


@pytest.mark.parametrize("dim", DIMS)
def test_alternating_gda_conserves_its_quadratic_form(dim):
    """E = ‖θ‖²/η_θ + ‖φ‖²/η_φ − θᵀAφ (altgda) and ‖θ‖²/η_θ + ‖φ‖²/(kη_φ) + θᵀAφ (kgda) stay
    constant along the orbit; Sim-GDA's E is not conserved (so the check can fail)."""
    game = random_bilinear(dim)
    lr = StepSizes(0.3, 0.2)
    z0 = torch.randn(1, 2 * dim, generator=torch.Generator().manual_seed(7), dtype=DTYPE)
    for name in ("altgda", "kgda"):
        trajectory, _ = run_method(game, make_method(name, lr, k=3), z0, 500)
        energy = conserved_quantity(name, game, lr, k=3)(trajectory[:, 0])
        assert (energy - energy[0]).abs().max() <= 1e-11 * energy[0].abs()
        report = method_report(game, name, trajectory[:, 0], None, lr, 3, 1e-12)
        assert report["bounded"] and not report["converged"]
    trajectory, _ = run_method(game, make_method("simgda", lr), z0, 500)
    energy = conserved_quantity("altgda", game, lr)(trajectory[:, 0])
    assert (energy - energy[0]).abs().max() > 1e-2 * energy[0].abs()


def test_alternating_gda_invariant_of_the_lecture():
    """θ·φ with step η: θ² + φ² − ηθφ is constant (the conserved form times η)."""
    eta = 0.4
    trajectory, _ = run_method(bilinear([[1.0]]), make_method("altgda", StepSizes(eta, eta)),
                               torch.tensor([[1.0, 0.0]], dtype=DTYPE), 300)
    theta, phi = trajectory[:, 0, 0], trajectory[:, 0, 1]
    invariant = theta**2 + phi**2 - eta * theta * phi
    assert torch.allclose(invariant, torch.ones_like(invariant), atol=1e-12)


def test_methods_are_vectorised_over_starting_points():
    game = random_bilinear(3)
    lr = StepSizes(0.2, 0.1)
    batch = torch.randn(4, 6, generator=torch.Generator().manual_seed(0), dtype=DTYPE)
    for name in METHOD_NAMES:
        together, _ = run_method(game, make_method(name, lr), batch, 30)
        alone, _ = run_method(game, make_method(name, lr), batch[2:3], 30)
        assert torch.allclose(together[:, 2], alone[:, 0], atol=1e-13), name


def test_autograd_field_equals_the_analytic_affine_field():
    """A quadratic game's field from autograd on f equals J z + v."""
    game = quadratic([[0.5, 0.1], [0.1, -0.3]], [[1.0, -2.0], [0.5, 0.3]], [[0.2, 0.0], [0.0, 1.0]],
                     b=[0.1, -0.2], c=[0.3, 0.0])
    generic = Game("generic", game.f, 2, 2)
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    assert torch.allclose(generic.field(z), game.field(z), atol=1e-13)
    assert torch.allclose(game.field(game.equilibrium[None]), torch.zeros(1, 4, dtype=DTYPE), atol=1e-13)


def test_dirac_fields_by_hand_and_by_autograd():
    """Vanilla: V = (−φσ(φθ), θσ(φθ)); non-saturating generator: V_θ = −φσ(−φθ); WGAN: V = (−φ, θ).
    The closed-form field equals autograd on f (and g), also for θ, φ ∈ R³."""
    z = torch.tensor([[0.7, -1.3], [-0.2, 0.4]], dtype=DTYPE)
    theta, phi = z[:, 0], z[:, 1]
    sig = torch.sigmoid(phi * theta)
    assert torch.allclose(dirac("vanilla").field(z), torch.stack([-phi * sig, theta * sig], 1), atol=1e-14)
    ns = dirac("nonsaturating").field(z)
    assert torch.allclose(ns[:, 0], -phi * torch.sigmoid(-phi * theta), atol=1e-14)
    assert torch.allclose(dirac("wgan").field(z), torch.stack([-phi, theta], 1), atol=1e-14)
    assert float(dirac().f(torch.zeros(1, 1), torch.zeros(1, 1))) == pytest.approx(2 * F.logsigmoid(torch.tensor(0.0)))
    z3 = torch.randn(4, 6, generator=torch.Generator().manual_seed(2), dtype=DTYPE)
    for loss in ("vanilla", "nonsaturating", "wgan"):
        game = dirac(loss, dim=3)
        by_autograd = Game("autograd", game.f, 3, 3, generator_loss=game.generator_loss)
        assert torch.allclose(game.field(z3), by_autograd.field(z3), atol=1e-13), loss


def test_ppm_inner_solve_on_dirac_converges_to_the_implicit_step():
    """The fixed-point inner solve meets z⁺ = z − D V(z⁺) to the stated tolerance, and on the WGAN
    Dirac game (f = −φθ) it reproduces the exact linear solve on the bilinear game A = [[−1]]."""
    lr = StepSizes(0.3, 0.2)
    game = Game("generic dirac", dirac().f, 1, 1)  # the autograd field, as for a user's callable
    method = ppm(lr, tol=1e-13)
    z = torch.tensor([[1.0, -0.5], [0.3, 2.0]], dtype=DTYPE)
    state = method.init(game, z)
    z_next, state = method.step(game, z, state)
    assert state.exact_solve is None and state.inner_iterations > 1
    residual = z_next - (z - torch.tensor([0.3, 0.2], dtype=DTYPE) * game.field(z_next))
    assert residual.abs().max() <= 1e-12

    iterative, _ = run_method(dirac("wgan"), ppm(lr, tol=1e-14), z, 50)
    exact, _ = run_method(bilinear([[-1.0]]), ppm(lr), z, 50)
    assert torch.allclose(iterative, exact, atol=1e-12)


def test_ppm_inner_solve_refuses_a_step_too_large_to_contract():
    with pytest.raises(ProxganError, match="did not reach tolerance"):
        run_method(dirac("wgan"), ppm(StepSizes(1.5, 1.5), max_inner=200), torch.ones(1, 2, dtype=DTYPE), 3)


def test_linear_wgan_equilibrium_and_convergence():
    """f = φ·(μ − θ): z* = (μ, 0); proximal point converges to it."""
    game = linear_wgan([2.0])
    assert game.equilibrium.tolist() == [2.0, 0.0]
    trajectory, _ = run_method(game, make_method("ppm", StepSizes(0.5, 0.5)), torch.zeros(1, 2, dtype=DTYPE), 300)
    assert game.distance(trajectory[-1, 0]) < 1e-10


def one_d(f):
    return Game("hand", lambda theta, phi: f(theta[:, 0], phi[:, 0]), 1, 1, equilibrium=torch.zeros(2, dtype=DTYPE))


def test_local_minimax_but_not_nash():
    """f = −θ²/2 + 2θφ − φ²/2 at 0: H_θθ = −1 < 0 so not Nash (θ = 0 is a local max of f(·, 0));
    H_φφ = −1 < 0 and the Schur complement −1 − 2·(−1)⁻¹·2 = 3 > 0: φ best-responds with φ = 2θ and
    f(θ, 2θ) = 3θ²/2 is minimised at 0, so local minimax (Jin et al. 2019). The same Hessian arises from
    the non-polynomial f = −θ²/2 + 2φ·sin θ − φ²/2 (through torch.func on a generic callable)."""
    for game in (quadratic([[-1.0]], [[2.0]], [[1.0]]),
                 one_d(lambda t, p: -t**2 / 2 + 2 * p * torch.sin(t) - p**2 / 2),
                 make_game("quadratic", p=-1.0, q=1.0, coupling=2.0)):
        c = classify(game, game.equilibrium)
        assert c.verdict == "local minimax (not Nash)"
        assert c.local_minimax and not c.local_nash
        assert c.eig_schur == pytest.approx([3.0])


def test_local_nash_neither_and_not_stationary():
    """f = θ² + θφ − φ²: H_θθ = 2 ≥ 0, H_φφ = −2 ≤ 0: local Nash (and minimax: Schur 2 + 1/2 > 0).
    f = −θ² + θφ − φ²: H_θθ = −2, Schur = −2 + 1/2 = −3/2 < 0: neither.
    f = θ² + φ²: φ = 0 minimises f(0, ·) instead of maximising it: neither.
    θ·φ at (1, 0): ∇_φ f = θ = 1 ≠ 0: not stationary."""
    nash = classify(quadratic([[2.0]], [[1.0]], [[2.0]]), torch.zeros(2))
    assert nash.verdict == "local Nash" and nash.local_minimax and nash.eig_schur == pytest.approx([2.5])
    neither = classify(quadratic([[-2.0]], [[1.0]], [[2.0]]), torch.zeros(2))
    assert neither.verdict == "neither" and neither.eig_schur == pytest.approx([-1.5])
    assert classify(one_d(lambda t, p: t**2 + p**2), torch.zeros(2)).verdict == "neither"
    moving = classify(bilinear([[1.0]]), torch.tensor([1.0, 0.0]))
    assert moving.verdict == "not stationary" and moving.gradient_norm == pytest.approx(1.0)


def test_classification_in_two_dimensions_and_on_dirac():
    """θ ∈ R², f = θ₁² − θ₂²/2 + 2θ₂φ − φ²/2: H_θθ = diag(2, −1) (not Nash),
    Schur = diag(2, −1) + diag(0, 4) = diag(2, 3) (local minimax). The vanilla Dirac-GAN at 0 has
    H_θθ = H_φφ = 0, H_θφ = −1/2: local Nash, and H_φφ is singular so the minimax test does not apply."""
    game = Game("2d", lambda t, p: t[:, 0] ** 2 - t[:, 1] ** 2 / 2 + 2 * t[:, 1] * p[:, 0] - p[:, 0] ** 2 / 2, 2, 1)
    c = classify(game, torch.zeros(3))
    assert c.verdict == "local minimax (not Nash)" and c.eig_schur == pytest.approx([2.0, 3.0])
    d = classify(dirac(), torch.zeros(2))
    assert d.verdict == "local Nash" and d.eig_schur is None
    with pytest.raises(ProxganError, match="not zero-sum"):
        classify(dirac("nonsaturating"), torch.zeros(2))


def test_game_parameters_are_validated():
    with pytest.raises(ProxganError, match="unknown game 'chess'"):
        make_game("chess")
    with pytest.raises(ProxganError, match="unknown loss 'hinge'"):
        make_game("dirac", loss="hinge")
    with pytest.raises(ProxganError, match="dim must be a positive integer, got 0"):
        make_game("bilinear", dim=0)
    with pytest.raises(ProxganError, match="coupling must be finite"):
        make_game("bilinear", coupling=math.inf)


# --- iterate averaging: z̄_t = mean of z_0, …, z_{t−1} (issue 11) ----------------------------------


def averages(game, name, lr, z0, steps, k=3):
    """(trajectory (T+1, d), z̄_t − z* for t = 1, …, T+1) of one run from the point ``z0`` (d,)."""
    trajectory, _ = run_method(game, make_method(name, lr, k=k), z0[None], steps)
    return trajectory[:, 0], running_average(trajectory[:, 0]) - game.equilibrium


def closed_forms(game, name, lr, z0, steps, k=3):
    return torch.stack([averaged_displacement(name, game, lr, z0, t, k) for t in range(1, steps + 2)])


@pytest.mark.parametrize("lr", [StepSizes(0.2, 0.2), StepSizes(0.3, 0.1), StepSizes(1.5, 1.2)])
def test_averaged_alternating_gda_on_theta_phi_is_a_sum_of_rotations(lr):
    """θ·φ: M = [[1, −η_θ], [η_φ, 1 − η_θη_φ]] has det 1 and trace 2 − ω², so its eigenvalues are e^{±iα} with
    sin(α/2) = ω/2 (checked on the eigenvalues). The running average of the iterates equals
    (I − M)⁻¹(I − M^t)(z_0 − z*)/t to round-off at every t; in the conserved norm √E it is exactly
    |sin(tα/2)|/(t sin(α/2))·‖z_0 − z*‖_E ≤ 2/(ωt)·‖z_0 − z*‖_E, and it decays like t⁻¹ while the last
    iterate keeps its distance."""
    game = bilinear([[1.0]])
    omega = math.sqrt(lr.theta * lr.phi)
    M = iteration_matrix("altgda", game, lr)
    alpha = float(torch.linalg.eigvals(M).angle().abs().max())
    assert alpha == pytest.approx(2 * math.asin(omega / 2), rel=1e-12)
    z0 = torch.tensor([1.0, -0.5], dtype=DTYPE)
    steps = 1000
    trajectory, mean = averages(game, "altgda", lr, z0, steps)
    assert (mean - closed_forms(game, "altgda", lr, z0, steps)).abs().max() <= 1e-12
    energy_norm = conserved_quantity("altgda", game, lr)(mean + game.equilibrium).sqrt()
    start_norm = float(conserved_quantity("altgda", game, lr)(z0).sqrt())
    t = torch.arange(1, steps + 2, dtype=DTYPE)
    rotation = (t * alpha / 2).sin().abs() / (t * math.sin(alpha / 2)) * start_norm
    assert torch.allclose(energy_norm, rotation, rtol=0, atol=1e-12)
    assert bool((energy_norm <= 2 / (omega * t) * start_norm + 1e-12).all())
    for n in (1, 7, steps + 1):
        exact, bound = averaged_rotation("altgda", game, lr, z0, n)
        assert exact == pytest.approx(float(rotation[n - 1]), rel=1e-12)
        assert bound == pytest.approx(min(1.0, 2 / (omega * n)) * start_norm, rel=1e-12)
    assert decay_exponent(game.distance(mean + game.equilibrium)) == pytest.approx(-1.0, abs=0.03)
    assert game.distance(trajectory[-1]) > 0.5 * game.distance(trajectory[0])  # the last iterate cycles
    report = average_report(game, "altgda", trajectory, lr, 5)
    assert report["converging"] and report["energy_norm"]["final"] <= report["energy_norm"]["bound"]
    assert report["closed_form_distance"] == pytest.approx(report["final_distance"], rel=1e-10)


@pytest.mark.parametrize("dim", (2, 3))
def test_averaged_alternating_and_k_gda_on_a_random_bilinear_game(dim):
    """f = θᵀAφ: block by block in A's singular bases the rotation formula holds, so ‖z̄_t − z*‖_E
    equals averaged_rotation's exact value and stays under its bound at every t (altgda and kgda,
    per-player steps), and both equal the iteration-matrix closed form."""
    game = random_bilinear(dim)
    lr = StepSizes(0.3, 0.2)
    z0 = torch.randn(2 * dim, generator=torch.Generator().manual_seed(3), dtype=DTYPE)
    steps = 400
    for name in ("altgda", "kgda"):
        _, mean = averages(game, name, lr, z0, steps)
        assert (mean - closed_forms(game, name, lr, z0, steps)).abs().max() <= 1e-12
        energy_norm = conserved_quantity(name, game, lr, k=3)(mean + game.equilibrium).sqrt()
        for t in range(1, steps + 2, 13):
            exact, bound = averaged_rotation(name, game, lr, z0, t, k=3)
            assert float(energy_norm[t - 1]) == pytest.approx(exact, rel=1e-10, abs=1e-13), (name, t)
            assert exact <= bound * (1 + 1e-12)


def test_averaged_rotation_on_a_non_square_game_keeps_the_stationary_directions():
    """A 2×3: φ's third singular direction has s = 0 and never moves, so its energy stays in the average."""
    A = torch.tensor([[1.0, 0.5, 0.0], [0.0, 0.7, 0.2]], dtype=DTYPE)
    game = bilinear(A)
    lr = StepSizes(0.4, 0.3)
    z0 = torch.tensor([0.3, -1.0, 0.5, 0.2, 0.8], dtype=DTYPE)
    _, mean = averages(game, "altgda", lr, z0, 300)
    energy_norm = conserved_quantity("altgda", game, lr)(mean + game.equilibrium).sqrt()
    for t in (1, 50, 301):
        exact, bound = averaged_rotation("altgda", game, lr, z0, t)
        assert float(energy_norm[t - 1]) == pytest.approx(exact, rel=1e-10)
        assert bound == pytest.approx(float(energy_norm[0]), rel=1e-12)  # the s = 0 block: factor 1
    assert averaged_displacement("altgda", game, lr, z0, 10) is None  # I − M is singular there
    assert averaged_rotation("altgda", game, StepSizes(3.0, 3.0), z0, 10) is None  # ω² ≥ 4: no rotation
    assert averaged_rotation("simgda", game, lr, z0, 10) is None


def test_averaged_simultaneous_gda_still_spirals_out():
    """θ·φ, η_θ = η_φ = η: M is the scaled rotation λ = 1 − iη (|λ|² = ρ = 1 + η²), so
    |z̄_t − z*| = |1 − λ^t|/(tη)·|z_0 − z*| ≥ (ρ^{t/2} − 1)/(tη)·|z_0 − z*|, which grows without bound."""
    eta, steps = 0.2, 1000
    game = bilinear([[1.0]])
    lr = StepSizes(eta, eta)
    z0 = torch.tensor([1.0, 1.0], dtype=DTYPE)
    trajectory, mean = averages(game, "simgda", lr, z0, steps)
    t = torch.arange(1, steps + 2, dtype=DTYPE)
    lam = torch.complex(torch.tensor(1.0, dtype=DTYPE), torch.tensor(-eta, dtype=DTYPE))
    exact = (1 - lam ** t.to(torch.complex128)).abs() / (t * eta) * float(torch.linalg.vector_norm(z0))
    distance = torch.linalg.vector_norm(mean, dim=-1)
    assert torch.allclose(distance, exact, rtol=1e-12)
    assert bool((distance >= ((1 + eta**2) ** (t / 2) - 1) / (t * eta) * distance[0] * (1 - 1e-12)).all())
    assert distance[-1] > 1e5 * distance[0]
    report = average_report(game, "simgda", trajectory, lr, 5)
    assert not report["converging"] and report["decay_exponent"] > 1


@pytest.mark.parametrize("name", ["ppm", "eg", "ogda"])
def test_averages_of_convergent_methods_decay_like_one_over_t(name):
    """PPM, EG, OGDA on a random bilinear game with per-player steps: the average equals the closed form
    at every t and decays like t⁻¹, slower than the geometrically convergent last iterate."""
    game = random_bilinear(3)
    lr = StepSizes(0.4, 0.3)
    z0 = torch.randn(6, generator=torch.Generator().manual_seed(5), dtype=DTYPE)
    steps = 800
    trajectory, mean = averages(game, name, lr, z0, steps)
    assert (mean - closed_forms(game, name, lr, z0, steps)).abs().max() <= 1e-12
    report = average_report(game, name, trajectory, lr, 5)
    assert report["decay_exponent"] == pytest.approx(-1.0, abs=0.02)
    assert report["converging"]
    assert report["final_distance"] > 1e3 * float(game.distance(trajectory[-1]))


def test_decay_exponent_reads_power_laws_and_oscillations_at_their_peaks():
    t = torch.arange(1, 2001, dtype=DTYPE)
    assert decay_exponent(3 * t**-1.5) == pytest.approx(-1.5, rel=1e-12)
    assert decay_exponent(t**0.5) == pytest.approx(0.5, rel=1e-12)
    assert decay_exponent((0.3 * t).sin().abs() / t) == pytest.approx(-1.0, abs=0.02)
    assert decay_exponent(torch.cat([t[:1500], torch.full((500,), math.inf, dtype=DTYPE)])) is None
    assert decay_exponent(t[:10]) is None
