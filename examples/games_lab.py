# %% [markdown]
# # The games lab from Python
#
# Simultaneous and alternating gradient descent-ascent, the proximal point method, extragradient and
# optimistic GDA on min_θ max_φ θ·φ (the bilinear game whose only equilibrium is the origin), as
# `proxgan games` runs them. Run as a script (`python examples/games_lab.py --steps 200`) or cell by
# cell in an editor that understands `# %%` cells.

# %%
import argparse
import tempfile

from proxgan.games.experiment import run

parser = argparse.ArgumentParser(description="the games lab from Python")
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--out", default=None, help="folder for the figures (default: a temporary one)")
args, _ = parser.parse_known_args()  # tolerate a notebook kernel's own arguments
out = args.out or tempfile.mkdtemp(prefix="games-")

# %% [markdown]
# Every method from (θ, φ) = (1, 1) with step size 0.2.

# %%
lab = run(out, game="bilinear", methods="simgda,altgda,ppm,eg,ogda", lr=0.2, steps=args.steps)
for name, report in lab["results"]["methods"].items():
    print(f"{name:<7} distance to the equilibrium: {report['initial_distance']:.3f} -> {report['final_distance']:.3g}"
          f"  (converged: {report['converged']}, bounded: {report['bounded']})")

# %% [markdown]
# Simultaneous GDA spirals outwards, alternating GDA cycles on a bounded orbit, and the proximal point
# method, extragradient and optimistic GDA converge. The figures:

# %%
for figure in lab["figures"]:
    print(f"{out}/{figure}")
