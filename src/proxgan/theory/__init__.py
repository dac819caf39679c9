"""Exact Gaussian GAN games (paper §3–4): Theorem 1's setting, Nash and λ-proximal gaps, λ_max.

Modules: ``gaussian`` (setting, generator set, Bures W₂, quadrature, projected descent), ``w2gan``
(quadratic and c-concave W2GAN), ``wgan1d`` (1-D WGAN), ``fgan`` (f-GANs) — each with its closed forms
and the analysis of one setting —, ``proximal`` (Sobolev proximal objective helpers, λ-sweep summary,
λ_max search, Proposition 4), ``analysis`` (the registry of formulations: gaps and verdicts of one
setting, σ- and λ-sweeps), ``experiment`` (the ``proxgan theorem`` experiments and their figures).
"""
