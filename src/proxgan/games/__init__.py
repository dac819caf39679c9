"""Game-dynamics lab: why gradient descent-ascent fails on the smallest GAN (Lecture 13,
"From GAN Training to Optimization of Differentiable Games").

``game`` (the Game type and its vector field), ``builtin`` (bilinear, quadratic, Dirac-GAN),
``methods`` (Sim/Alt-GDA, proximal point, extragradient, optimistic GDA, (k,1)-GDA), ``rates``
(closed-form contraction factors and conserved quantities), ``classify`` (local Nash / local
minimax), ``experiment`` (the ``proxgan games`` experiments).
"""

#: the built-in games (:func:`proxgan.games.builtin.make_game`) and the Dirac-GAN's losses; named here, without
#: torch, so that ``proxgan games --help`` lists them without importing it
GAMES = ("bilinear", "quadratic", "dirac")
DIRAC_LOSSES = ("vanilla", "nonsaturating", "wgan")
