"""proxgan: do GANs have Nash equilibria, and what do we train towards instead?

Reference toolkit for Farnia & Ozdaglar, *Do GANs always have Nash equilibria?* (ICML 2020).
"""

__version__ = "0.1.0"
