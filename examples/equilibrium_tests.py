"""The Nash test (eq. 5) and the proximal test (eq. 19) on a G/D pair trained outside proxgan.

    python examples/equilibrium_tests.py --steps 500 [--test-steps 100]

A tiny WGAN-GP pair (MLPs) is trained here on scikit-learn's 8x8 digits in plain PyTorch, as it would be
in your own code; then `nash_test` and `proximal_test` take the two modules, the real data and the
discriminator loss. The Nash test lets the generator descend V(G, D) against the frozen D: if V falls,
(G, D) is not a Nash equilibrium. The proximal test descends V_λ^prox instead (Farnia & Ozdaglar 2020).
"""

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn

from proxgan import nash_test, proximal_test

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--steps", type=int, default=500, help="training steps of the pair")
parser.add_argument("--test-steps", type=int, default=100, help="generator steps of each test")
args = parser.parse_args()
torch.manual_seed(0)

digits = torch.tensor(load_digits().data, dtype=torch.float32) / 8 - 1  # 1797 x 64, in [-1, 1]
G = nn.Sequential(nn.Linear(16, 128), nn.ReLU(), nn.Linear(128, 64), nn.Tanh())
D = nn.Sequential(nn.Linear(64, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1), nn.Flatten(0))
g_opt = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
d_opt = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))


def wgan_loss(d_real, d_fake):  # the critic's loss, -V(G, D)
    return d_fake.mean() - d_real.mean()


def gradient_penalty(D, real, fake):
    eps = torch.rand(len(real), 1)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return 10 * ((grad.norm(dim=1) - 1) ** 2).mean()


for step in range(args.steps):
    for _ in range(5):
        real = digits[torch.randint(len(digits), (64,))]
        fake = G(torch.randn(64, 16)).detach()
        d_opt.zero_grad()
        (wgan_loss(D(real), D(fake)) + gradient_penalty(D, real, fake)).backward()
        d_opt.step()
    g_opt.zero_grad()
    (-D(G(torch.randn(64, 16))).mean()).backward()
    g_opt.step()

options = dict(latent_shape=16, steps=args.test_steps, inner_steps=20, batch_size=64, eval_size=256)
nash = nash_test(G, D, digits, wgan_loss, **options)
proximal = proximal_test(G, D, digits, wgan_loss, penalty=gradient_penalty, **options)
print(nash["sentence"])  # outcome "fell": V fell beyond its batch-to-batch noise, so not a Nash equilibrium
print(proximal["sentence"])
