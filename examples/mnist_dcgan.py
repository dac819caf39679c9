"""Your own small DCGAN on MNIST, trained regularly or with proxgan's proximal discriminator update.

    python examples/mnist_dcgan.py --steps 2000 [--proximal] [--root ../shared/data] [--out samples.png]

Everything here is plain PyTorch; proximal training is the one `proximal_update` call (Algorithm 1 of
Farnia & Ozdaglar 2020: T ascent steps on V(G, D) - λ/2 ||D - D_k||²_Sobolev instead of one D step).
"""

import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import datasets
from torchvision.utils import save_image

from proxgan import proximal_update

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--root", default="../shared/data", help="folder holding MNIST/raw")
parser.add_argument("--steps", type=int, default=2000, help="generator steps")
parser.add_argument("--proximal", action="store_true", help="proximal discriminator update (else one plain D step)")
parser.add_argument("--inner-steps", type=int, default=5, help="T of the proximal update")
parser.add_argument("--batch", type=int, default=64)
parser.add_argument("--out", default="mnist_samples.png")
args = parser.parse_args()
torch.manual_seed(0)

images = datasets.MNIST(args.root, train=True, download=False).data.float().div(127.5).sub(1).unsqueeze(1)

G = nn.Sequential(  # z (64) -> 1x28x28
    nn.Linear(64, 128 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
    nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
    nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
)
D = nn.Sequential(  # no batch statistics: D scores every sample on its own
    nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
    nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
    nn.Flatten(), nn.Linear(128 * 7 * 7, 1), nn.Flatten(0),
)
g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))


def d_loss(d_real, d_fake):  # the non-saturating GAN's discriminator loss, -V(G, D)
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


for step in range(1, args.steps + 1):
    real = images[torch.randint(len(images), (args.batch,))]
    with torch.no_grad():
        fake = G(torch.randn(args.batch, 64))
    if args.proximal:
        proximal_update(D, real, fake, d_loss, d_opt, lam=0.1, steps=args.inner_steps)
    else:
        d_opt.zero_grad()
        d_loss(D(real), D(fake)).backward()
        d_opt.step()
    D.requires_grad_(False)
    g_loss = F.softplus(-D(G(torch.randn(args.batch, 64)))).mean()
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    D.requires_grad_(True)
    if step % 100 == 0 or step == args.steps:
        print(f"step {step}: g_loss {g_loss.item():.3f}")

G.eval()
with torch.no_grad():
    save_image(G(torch.randn(64, 64)) * 0.5 + 0.5, args.out, nrow=8)
print(f"samples: {args.out}")
