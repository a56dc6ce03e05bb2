"""Training objectives, one module each, behind one interface (:mod:`vaejax.objectives.base`).

``get(config.objective)`` is what training and evaluation call; a new
objective is a module here with an ``OBJECTIVE`` and a line in ``_MODULES``.
"""

from __future__ import annotations

from vaejax.errors import ConfigError
from vaejax.objectives import (autoencoder, beta_tcvae, beta_vae, capacity, dc_ign,
                                dip_vae, factor_vae, infogan)
from vaejax.objectives.base import Objective

_MODULES = (autoencoder, beta_vae, capacity, beta_tcvae, factor_vae, dip_vae, dc_ign, infogan)
_REGISTRY = {m.OBJECTIVE.name: m.OBJECTIVE for m in _MODULES}
NAMES = tuple(_REGISTRY)


def get(name: str) -> Objective:
    """The objective ``config.objective`` names."""
    if name not in _REGISTRY:
        raise ConfigError(f"config.objective must be one of {NAMES}, got {name!r}")
    return _REGISTRY[name]


__all__ = ["Objective", "NAMES", "get"]
