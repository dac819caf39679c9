"""proxgan: do GANs have Nash equilibria, and what do we train towards instead?

Reference toolkit for Farnia & Ozdaglar, *Do GANs always have Nash equilibria?* (ICML 2020).

For use inside your own GAN code: ``proxgan.proximal_update`` (Algorithm 1's proximal discriminator update,
documented in :mod:`proxgan.proximal`), ``proxgan.nash_test`` and ``proxgan.proximal_test`` (the equilibrium
tests of §2 and §6.1 on your trained pair, in :mod:`proxgan.equilibrium`). They load torch on first use, so
``import proxgan`` stays light (no ``__all__``: the API reference walks every submodule instead).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first access)
_EXPORTS = {
    "proximal_update": "proxgan.proximal",
    "ProximalUpdate": "proxgan.proximal",
    "nash_test": "proxgan.equilibrium",
    "proximal_test": "proxgan.equilibrium",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'proxgan' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
