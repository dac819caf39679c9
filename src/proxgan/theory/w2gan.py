"""W2GAN (eq. 9) with cost c(x, x') = η‖x − x'‖² in Theorem 1's Gaussian game.

Quadratic discriminator D(x) = xᵀAx + bᵀx (A symmetric). Its c-transform (eq. 9) is finite iff
M := ηI − A ≻ 0, and then the sup over x' is attained at x' = M⁻¹(ηy + b/2):

    D^c(y) = ¼(b + 2ηy)ᵀM⁻¹(b + 2ηy) − η‖y‖².

With X ~ N(0, σ²I) and Y = G(Z) ~ N(u, Σ), Σ = WWᵀ, the game value is then closed form:

    V(G, D) = σ² tr A − ¼(b + 2ηu)ᵀM⁻¹(b + 2ηu) − η² tr(M⁻¹Σ) + η(‖u‖² + tr Σ).

V is concave in (A, b) (matrix-fractional terms), linear in (Σ, uuᵀ, u) for fixed D.
The optimal (c-concave) discriminator is the Brenier potential: the optimal map X ↦ Σ^{1/2}X/σ + u
satisfies T(x) = x − ∇D(x)/(2η), so D^G(x) = xᵀ η(I − Σ^{1/2}/σ) x − 2ηuᵀx — quadratic. Hence the
best response over c-concave functions and over quadratics coincide, with value
W_c = η W₂²(N(0,σ²I), N(u,Σ)) = η(‖u‖² + Σᵢ(σ − sᵢ)²) (Bures; sᵢ the singular values of W).

Reduced coordinates (exact, see docs/theorem.md): for the reference D_ref = (a_ref I, 0) of every
G* here, V and the proximal objective are invariant under rotations fixing u; the inner problem is
concave and the outer one convex in Σ, so optima are attained at Σ = p ûûᵀ + q(I − ûûᵀ),
Ã = a_∥ûûᵀ + a_⊥(I − ûûᵀ), b̃ = βû, and the problem splits into one direction along u (with
R = ‖u‖²) and d − 1 identical directions orthogonal to it (R = 0). Eliminating β in closed form
leaves, per direction, a 1-D strongly concave problem in m = η − a.
"""

from __future__ import annotations

import numpy as np

from proxgan.errors import ProxganError
from proxgan.theory.gaussian import (
    LinearGenerator,
    Setting,
    bures_w2_squared,
    gap_tolerance,
    generator_starts,
    isotropic_generator,
    projected_generator_descent,
    sqrtm_psd,
)
from proxgan.theory.proximal import penalty_strong_convexity, proximal_summary

#: tolerance on gaps, times (1 + |V|): closed forms and bisection
TOLERANCE = 1e-9
#: largest d of the full-coordinate re-solve (``verify``): it took 37 s at d = 10 and over 2 minutes at d = 20
#: on a 2-core CPU (``proxgan theorem w2gan-quadratic --dim 10|20``)
VERIFY_MAX_DIM = 10
#: largest d of the analysis without the re-solve (``--no-verify``): 12 s at d = 40, over 100 s at d = 100
CLOSED_FORM_MAX_DIM = 40


def value_and_gradients(setting: Setting, W, u, A, b):
    """V(G, D) of eq. (9) for quadratic D (closed form above) and its gradients.

    Returns (V, ∂V/∂W, ∂V/∂u, ∂V/∂A, ∂V/∂b); V = −∞ (gradients None) if ηI − A ⊁ 0. With
    c = b + 2ηu:  ∂V/∂W = 2(ηI − η²M⁻¹)W,  ∂V/∂u = 2ηu − ηM⁻¹c,
    ∂V/∂A = σ²I − ¼M⁻¹ccᵀM⁻¹ − η²M⁻¹ΣM⁻¹ (dM = −dA),  ∂V/∂b = −½M⁻¹c.
    """
    W, u, A, b = (np.asarray(x, dtype=float) for x in (W, u, A, b))
    A = (A + A.T) / 2
    eta, var = setting.eta, setting.sigma**2
    eye = np.eye(len(u))
    M = eta * eye - A
    try:
        chol = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return -np.inf, None, None, None, None
    Minv = np.linalg.inv(chol).T @ np.linalg.inv(chol)
    c = b + 2 * eta * u
    Minv_c = Minv @ c
    Minv_W = Minv @ W
    V = var * np.trace(A) - 0.25 * c @ Minv_c - eta**2 * np.sum(W * Minv_W) + eta * (u @ u + np.sum(W * W))
    dW = 2 * (eta * W - eta**2 * Minv_W)
    du = 2 * eta * u - eta * Minv_c
    dA = var * eye - 0.25 * np.outer(Minv_c, Minv_c) - eta**2 * Minv_W @ Minv_W.T
    db = -0.5 * Minv_c
    return float(V), dW, du, dA, db


def value(setting: Setting, W, u, A, b) -> float:
    """V(G, D) of eq. (9) for quadratic D (−∞ if ηI − A ⊁ 0)."""
    return value_and_gradients(setting, W, u, A, b)[0]


def c_transform(A: np.ndarray, b: np.ndarray, eta: float, y: np.ndarray) -> np.ndarray:
    """D^c(y) = ¼(b + 2ηy)ᵀM⁻¹(b + 2ηy) − η‖y‖² for rows y (M = ηI − A ≻ 0 required)."""
    M = eta * np.eye(len(b)) - A
    c = b + 2 * eta * y
    return 0.25 * np.einsum("ni,ni->n", c, np.linalg.solve(M, c.T).T) - eta * np.sum(y * y, axis=1)


def transport_cost(setting: Setting, G: LinearGenerator) -> float:
    """W_c(P_X, P_G) = η·W₂²(N(0, σ²I), N(u, WWᵀ)) by the Bures formula."""
    d = setting.dim
    return setting.eta * bures_w2_squared(np.zeros(d), setting.sigma**2 * np.eye(d), G.u, G.covariance)


def brenier_discriminator(setting: Setting, G: LinearGenerator) -> tuple[np.ndarray, np.ndarray]:
    """Optimal D for G: A = η(I − Σ^{1/2}/σ), b = −2ηu (from ∇D(x) = 2η(x − T(x)))."""
    d = setting.dim
    A = setting.eta * (np.eye(d) - sqrtm_psd(G.covariance) / setting.sigma)
    return A, -2 * setting.eta * G.u


def divergence_minimizer(setting: Setting) -> LinearGenerator:
    """argmin_{G∈𝒢} W_c: W_c = η(‖u‖² + Σᵢ(σ − sᵢ)²) is separable, so sᵢ = clip(σ, s_lo, 1), u = 0."""
    return isotropic_generator(setting, setting.closest_scale)


# --- reduced coordinates ----------------------------------------------------------------------


def _curvature_root(sigma, eta, m_ref, lam, p, R, bisections: int = 24, newton: int = 5):
    """Root m > 0 of the decreasing, convex stationarity condition of :func:`direction_value`:

    g(m) = −σ² + η²p/m² + 16η²Rλ²/(1 + 4mλ)² + 8λσ²(m_ref − m) = 0,

    bracketed by bisection on (0, m_hi] with m_hi = max(m_ref, η√(2(p+R))/σ) (where g ≤ −σ²/2),
    then polished by Newton steps from the bracket's left end (monotone for convex decreasing g).
    """
    def g(m):
        return (
            -(sigma**2) + eta**2 * np.divide(p, m**2, out=np.zeros_like(m), where=p > 0) + 16 * eta**2 * R * lam**2 / (1 + 4 * m * lam) ** 2
            + 8 * lam * sigma**2 * (m_ref - m)
        )

    def slope(m):
        return -2 * eta**2 * np.divide(p, m**3, out=np.zeros_like(m), where=p > 0) - 128 * eta**2 * R * lam**3 / (1 + 4 * m * lam) ** 3 - 8 * lam * sigma**2

    lo = np.zeros_like(p)
    hi = np.maximum(m_ref, eta * np.sqrt(2 * (p + R)) / sigma) + 1e-300
    for _ in range(bisections):
        m = (lo + hi) / 2
        positive = g(m) > 0
        lo = np.where(positive, m, lo)
        hi = np.where(positive, hi, m)
    lo = np.maximum(lo, 1e-150)
    m = np.where(lo > 1e-150, lo, (lo + hi) / 2)
    for _ in range(newton):
        d = slope(m)
        m = np.clip(m - np.divide(g(m), d, out=np.zeros_like(m), where=d < 0), lo, hi)
    return m


def direction_value(sigma, eta, m_ref, lam, p, R):
    """One direction's share of V_λ^prox(G, D_ref) = max_D̃ V(G, D̃) − λ‖D̃ − D_ref‖²_{Ḣ¹}.

    Variance p of G along the direction, squared mean R along it, D_ref = a_ref with m_ref = η − a_ref.
    With m = η − ã and the b̃ coordinate maximised in closed form (b̃ = −2ηr/(1 + 4mλ)):

    f(m) = σ²(η − m) − η²p/m − 4η²Rλ/(1 + 4mλ) + η(R + p) − 4λσ²(m_ref − m)²,

    strongly concave in m for λ > 0 and maximised at :func:`_curvature_root`. λ = ∞ gives the plain
    V(G, D_ref) (m = m_ref, b̃ = 0); λ = 0 gives max_D V(G, D) = η((σ − √p)² + R).
    All arguments broadcast.
    """
    sigma, eta, m_ref, lam, p, R = np.broadcast_arrays(*[np.asarray(x, float) for x in (sigma, eta, m_ref, lam, p, R)])
    nash = np.isinf(lam)
    lam_f = np.where(nash, 0.0, lam)
    m = np.where(nash, m_ref, _curvature_root(sigma, eta, m_ref, lam_f, p, R))
    safe_m = np.where(m > 0, m, 1.0)
    variance_term = np.where(p > 0, eta**2 * p / safe_m, 0.0)
    mean_term = np.where(nash, eta**2 * R / safe_m, 4 * eta**2 * R * lam_f / (1 + 4 * m * lam_f))
    penalty = np.where(nash, 0.0, 4 * lam_f * sigma**2 * (m_ref - m) ** 2)
    return sigma**2 * (eta - m) - variance_term - mean_term + eta * (R + p) - penalty


def reduced_generator_min(setting: Setting, sigma, m_ref, lam, *, radius=None):
    """min_{G∈𝒢} V_λ^prox(G, D_ref) in reduced coordinates (λ = ∞: the plain best response).

    p, q ∈ [s_lo², 1] (variances along / across u), R = ‖u‖² ∈ [0, t²]; the objective is
    f(p, R) + (d − 1) f(q, 0), convex in (p, R) and in q, minimised by :func:`grid_zoom_minimize`.
    ``radius`` restricts to a neighbourhood of the isotropic G* (‖u‖ ≤ radius, |s − s*| ≤ radius)
    for the local-Nash question. Broadcasts over sigma, m_ref, lam. Returns (value, p, R, q).
    """
    from proxgan.theory.gaussian import grid_zoom_minimize

    eta, d = setting.eta, setting.dim
    sigma, m_ref, lam = np.broadcast_arrays(*[np.asarray(x, float) for x in (sigma, m_ref, lam)])
    s_lo, s_hi = setting.singular_value_range
    p_lo, p_hi, R_hi = np.full(sigma.shape, s_lo**2), np.full(sigma.shape, s_hi**2), np.full(sigma.shape, setting.t**2)
    if radius is not None:
        s_star = np.clip(sigma, s_lo, s_hi)
        p_lo = np.maximum(p_lo, np.clip(s_star - radius, 0, None) ** 2)
        p_hi = np.minimum(p_hi, (s_star + radius) ** 2)
        R_hi = np.minimum(R_hi, radius**2)
    expand = (lambda a, k: a.reshape(a.shape + (1,) * k))

    def along(p, R):
        k = p.ndim - sigma.ndim
        return direction_value(expand(sigma, k), eta, expand(m_ref, k), expand(lam, k), p, R)

    best, (p, R) = grid_zoom_minimize(along, [p_lo, 0.0 * R_hi], [p_hi, R_hi])
    q = np.zeros_like(best)
    if d > 1:
        across, (q,) = grid_zoom_minimize(lambda q: along(q, 0.0 * q), [p_lo], [p_hi])
        best = best + (d - 1) * across
    return best, p, R, q


def reduced_discriminator_max(setting: Setting, sigma, p):
    """max over quadratic D of V(G, D) for G = (√p·I, 0), via the λ = 0 reduced problem."""
    return setting.dim * direction_value(sigma, setting.eta, 1.0, 0.0, p, 0.0)


def reduced_value(setting: Setting, sigma, m_ref, lam, p):
    """V_λ^prox(G, D_ref) at the isotropic G = (√p·I, 0) (λ = ∞: V(G, D_ref))."""
    return setting.dim * direction_value(sigma, setting.eta, m_ref, lam, p, 0.0)


def reduced_equilibrium(setting: Setting, sigma):
    """(p*, m*) of G* = s*I and its Brenier D* = η(1 − s*/σ)‖x‖²: p* = s*², m* = η s*/σ."""
    lo, hi = setting.singular_value_range
    s_star = np.clip(np.asarray(sigma, float), lo, hi)
    return s_star**2, setting.eta * s_star / np.asarray(sigma, float)


# --- full coordinates (independent of the reduction; used to verify it) -------------------------


def proximal_inner_max(setting: Setting, W, u, A_ref, b_ref, lam: float, start=None):
    """V_λ^prox(G, D_ref) = max over quadratic D̃ of V(G, D̃) − λ‖D̃ − D_ref‖²_{Ḣ¹} (eq. 11).

    Newton ascent on the concave problem in w = (Ã in orthonormal symmetric coordinates, b̃) from
    D_ref, or from ``start`` = (Ã₀, b̃₀) when that is feasible; returns (value, Ã, b̃).
    λ = ∞ returns V(G, D_ref).
    """
    from proxgan.theory.proximal import (
        maximize_concave,
        sobolev_distance_sq_quadratic,
        symmetric_from_vector,
        vector_from_symmetric,
    )

    A_ref, b_ref = np.asarray(A_ref, float), np.asarray(b_ref, float)
    if np.isinf(lam):
        return value(setting, W, u, A_ref, b_ref), A_ref, b_ref
    d = setting.dim
    k = d * (d + 1) // 2

    def objective(w):
        A, b = symmetric_from_vector(w[:k], d), w[k:]
        V, _, _, dA, db = value_and_gradients(setting, W, u, A, b)
        if not np.isfinite(V):
            return V, None
        V -= lam * sobolev_distance_sq_quadratic(A - A_ref, b - b_ref, setting.sigma)
        grad_A = dA - 8 * lam * setting.sigma**2 * (A - A_ref)
        return V, np.concatenate([vector_from_symmetric(grad_A), db - 2 * lam * (b - b_ref)])

    w0 = np.concatenate([vector_from_symmetric(A_ref), b_ref])
    if start is not None:
        w_start = np.concatenate([vector_from_symmetric(start[0]), start[1]])
        if objective(w_start)[0] > objective(w0)[0]:
            w0 = w_start
    w, best = maximize_concave(objective, w0)
    return best, symmetric_from_vector(w[:k], d), w[k:]


def proximal_generator_objective(setting: Setting, A_ref, b_ref, lam: float):
    """(W, u) ↦ (V_λ^prox(G, D_ref), ∂/∂W, ∂/∂u) for projected descent.

    By Danskin's theorem (unique inner maximiser for λ > 0, Prop. 4) ∇_G V_λ^prox(G, D_ref) =
    ∇_G V(G, D̃*) at the inner maximiser D̃*.
    """

    last = {}

    def objective(W, u):
        prox, A, b = proximal_inner_max(setting, W, u, A_ref, b_ref, lam, start=last.get("D"))
        last["D"] = (A, b)
        _, dW, du, _, _ = value_and_gradients(setting, W, u, A, b)
        return prox, dW, du

    return objective


def smoothness(setting: Setting, G: LinearGenerator, A, b, step: float = 1e-5) -> float:
    """Local η₂ of Proposition 4: ‖∇²_w V(G, D_w)‖₂ at D = (A, b), by central differences of the
    analytic gradient (V is concave in w, so this is −H's top eigenvalue)."""
    from proxgan.theory.proximal import symmetric_from_vector, vector_from_symmetric

    d = setting.dim
    k = d * (d + 1) // 2

    def grad(w):
        _, _, _, dA, db = value_and_gradients(setting, G.W, G.u, symmetric_from_vector(w[:k], d), w[k:])
        return np.concatenate([vector_from_symmetric(dA), db])

    w = np.concatenate([vector_from_symmetric(np.asarray(A, float)), np.asarray(b, float)])
    H = np.stack([(grad(w + step * e) - grad(w - step * e)) / (2 * step) for e in np.eye(len(w))])
    return float(np.linalg.eigvalsh(-(H + H.T) / 2).max())


# --- the analysis of one setting (Theorems 1–2, Remark 1, Proposition 4, Corollary 1) ----------------


def check_size(setting: Setting, *, verify: bool) -> None:
    """Refuse dimensions beyond :data:`VERIFY_MAX_DIM` (with ``verify``) or :data:`CLOSED_FORM_MAX_DIM`."""
    if verify and setting.dim > VERIFY_MAX_DIM:
        raise ProxganError(f"--dim {setting.dim} is too large for the full-coordinate re-solve (--verify took 37 s at "
                           f"d = 10 and over 2 minutes at d = 20); the limit is {VERIFY_MAX_DIM}: pass --no-verify")
    if setting.dim > CLOSED_FORM_MAX_DIM:
        raise ProxganError(f"--dim {setting.dim} is too large: the W2GAN analysis took 12 s at d = 40 and over "
                           f"100 s at d = 100; the limit is {CLOSED_FORM_MAX_DIM}")


def _reduced_generator(setting: Setting, p, R, q) -> LinearGenerator:
    """The generator with variance p along e₁ (where u = √R e₁ points) and q across."""
    scales = np.full(setting.dim, np.sqrt(float(q)))
    scales[0] = np.sqrt(float(p))
    u = np.zeros(setting.dim)
    u[0] = np.sqrt(float(R))
    return LinearGenerator(np.diag(scales), u)


def analyze(setting: Setting, lambdas: np.ndarray, *, cconcave: bool, verify: bool) -> dict:
    """(G*, D*) = (the divergence minimiser, its Brenier potential): Nash gaps, λ-proximal gaps over
    ``lambdas`` with λ_max, Theorem 2's λ = 1/(4η), Proposition 4's constants, the Stackelberg value.
    ``cconcave``: D ranges over c-concave functions (``w2gan``), else over quadratics
    (``w2gan-quadratic``); ``verify`` re-solves the best responses in full (W, u) coordinates."""
    sigma = setting.sigma
    G = divergence_minimizer(setting)
    A, b = brenier_discriminator(setting, G)
    game_value = value(setting, G.W, G.u, A, b)
    divergence = transport_cost(setting, G)
    tol = gap_tolerance(TOLERANCE, game_value)
    p_star, m_star = reduced_equilibrium(setting, sigma)
    # discriminator's best response: OT duality (Bures) over c-concave D, or the concave
    # maximisation over quadratic D (reduced λ = 0 problem)
    disc_best = divergence if cconcave else float(reduced_discriminator_max(setting, sigma, p_star))
    gen_min, p, R, q = (float(x) for x in reduced_generator_min(setting, sigma, m_star, np.inf))
    G_best = _reduced_generator(setting, p, R, q)
    stackelberg = float(reduced_generator_min(setting, sigma, m_star, 0.0)[0])

    def gen_gap_at(lam):
        return game_value - reduced_generator_min(setting, sigma, m_star, lam)[0]

    prox_at_star = reduced_value(setting, sigma, m_star, lambdas, p_star)
    proximal = proximal_summary(
        lambdas, gen_gap_at(lambdas), disc_best - prox_at_star, tol, gen_gap_at, game_value, stackelberg
    )
    if cconcave:
        proximal["lambda_max_kind"] = "lower bound: inner max over quadratic D̃, a subset of the c-concave functions"
    else:
        proximal["lambda_max_kind"] = "exact for quadratic D̃"
    shifted = LinearGenerator(G.W, G.u + np.eye(setting.dim)[0] * setting.t)
    eta1 = penalty_strong_convexity(sigma)
    eta2 = max(smoothness(setting, G, A, b), smoothness(setting, shifted, A, b))
    result = {
        "G_star": G.to_dict(),
        "D_star": {"A": A, "b": b, "form": "D(x) = xᵀAx + bᵀx"},
        "value": game_value,
        "divergence": divergence,
        "discriminator_best_response_value": disc_best,
        "generator_best_response": {**G_best.to_dict(), "value": gen_min},
        "nash_gap_generator": game_value - gen_min,
        "nash_gap_discriminator": disc_best - game_value,
        "stackelberg_value": stackelberg,
        "lambda_theorem": 1 / (4 * setting.eta),
        "proposition4": {
            "eta1": eta1,
            "eta2_local": eta2,
            "lambda_strongly_concave": eta2 / eta1,
            "note": "η₂ is the local smoothness of V(G, D_w) at D* (max over G*, G* + t e₁); V is "
            "concave in w, so the inner problem is already strongly concave for every λ > 0",
        },
        "proximal": proximal,
    }
    if not cconcave:
        radius = 1e-3 * setting.t
        local_min = float(reduced_generator_min(setting, sigma, m_star, np.inf, radius=radius)[0])
        result["local_generator_gain"] = {"radius": radius, "gain": game_value - local_min}
    if verify:
        result["verification"] = _verify(setting, G, A, b, game_value, gen_min, proximal)
    return result


def _verify(setting: Setting, G: LinearGenerator, A, b, game_value: float, gen_min: float, proximal: dict) -> dict:
    """Full-coordinate projected descent over (W, u) (no symmetry reduction) for the Nash best
    response and for V_λ^prox at λ = 1/(4η) and 2·λ_max: agreement with the reduced solver."""
    out = {}
    starts = generator_starts(setting, G, n_random=2)
    _, v = projected_generator_descent(proximal_generator_objective(setting, A, b, np.inf), setting, starts)
    out["nash_generator_min_full"] = v
    out["nash_generator_min_reduced"] = gen_min
    lam_theorem = 1 / (4 * setting.eta)
    checks = [lam_theorem]
    if np.isfinite(proximal["lambda_max"]) and proximal["lambda_max"] > 0:
        checks.append(2 * proximal["lambda_max"])
    for lam in checks:
        objective = proximal_generator_objective(setting, A, b, lam)
        _, v = projected_generator_descent(objective, setting, starts[:3], steps=40)
        reduced = float(reduced_generator_min(setting, setting.sigma, reduced_equilibrium(setting, setting.sigma)[1], lam)[0])
        out[f"proximal_generator_min_full@{lam:.6g}"] = v
        out[f"proximal_generator_min_reduced@{lam:.6g}"] = reduced
    out["agree"] = bool(all(
        abs(out[k] - out[k.replace("full", "reduced")]) <= 1e-6 * (1 + abs(game_value)) for k in out if "full" in k
    ))
    return out


def nash_gaps(setting: Setting, sigmas: np.ndarray, *, cconcave: bool):
    """Batched over σ: (V(G*, D*), min_G V(G, D*), max_D V(G*, D)) at each σ's equilibrium candidate."""
    p_star, m_star = reduced_equilibrium(setting, sigmas)
    game_value = reduced_value(setting, sigmas, m_star, np.inf, p_star)
    gen_min = reduced_generator_min(setting, sigmas, m_star, np.inf)[0]
    if cconcave:
        best = np.array([transport_cost(setting.replace(sigma=s), divergence_minimizer(setting.replace(sigma=s)))
                         for s in sigmas])
    else:
        best = reduced_discriminator_max(setting, sigmas, p_star)
    return game_value, gen_min, best


def deviation_values(setting: Setting, result: dict, Ws: list, us: list) -> tuple[list, list]:
    """V(G, D*) against the frozen quadratic D* of ``result``, and max_D V(G, D) = W_c, at each G = (W, u)."""
    A, b = np.asarray(result["D_star"]["A"]), np.asarray(result["D_star"]["b"])
    against = [value(setting, W, u, A, b) for W, u in zip(Ws, us)]
    best = [transport_cost(setting, LinearGenerator(W, u)) for W, u in zip(Ws, us)]
    return against, best
