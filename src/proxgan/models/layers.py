"""Layer helpers shared by the discriminators."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


def maybe_spectral_norm(layer: nn.Module, enabled: bool) -> nn.Module:
    """``layer`` with its weight divided by its largest singular value (Miyato et al. 2018) if enabled.

    Uses PyTorch's parametrization: one power iteration per training-mode forward pass.
    """
    return _spectral_norm(layer) if enabled else layer
