"""noisy-dSprites (disentanglement_lib): white sprites on uniform noise.

Every observation is ``min(sprite + noise, 1)`` with noise uniform in [0, 1]
per pixel and RGB channel, drawn per image (disentanglement_lib's
``NoisyDSprites``). Stored as uint8 (multiples of 1/255).
"""

from __future__ import annotations

import numpy as np

from vaejax.data.dsprites import DSpritesData


class NoisyDSprites(DSpritesData):
    name = "noisy_dsprites"
    observation_shape = (64, 64, 3)
    max_value = 255
    deterministic = False

    def observe(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """0/1 masks (B, 64, 64[, 1]) -> sprites on noise (B, 64, 64, 3) uint8."""
        masks = rows.reshape(rows.shape[:3])
        out = np.frombuffer(rng.bytes(masks.size * 3), np.uint8).reshape(masks.shape + (3,))
        out = out.copy()  # writable
        white = masks * np.uint8(255)
        for c in range(3):  # min(sprite + noise, 1): the sprite's pixels white
            np.maximum(out[..., c], white, out=out[..., c])
        return out
