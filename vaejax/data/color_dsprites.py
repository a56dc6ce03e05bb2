"""color-dSprites (disentanglement_lib): each sprite drawn in a random colour.

Every observation scales the white sprite by a colour drawn per image,
uniform in [0.5, 1] per RGB channel (disentanglement_lib's
``ColorDSprites``); the colour is not a factor. Stored as uint8, so an
intensity is a multiple of 1/255 (disentanglement_lib keeps floats).
"""

from __future__ import annotations

import numpy as np

from vaejax.data.dsprites import DSpritesData


class ColorDSprites(DSpritesData):
    name = "color_dsprites"
    observation_shape = (64, 64, 3)
    max_value = 255
    deterministic = False

    def observe(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """0/1 masks (B, 64, 64[, 1]) -> coloured sprites (B, 64, 64, 3) uint8."""
        masks = rows.reshape(rows.shape[:3])
        colour = np.rint(rng.uniform(0.5, 1.0, (len(masks), 3)) * 255).astype(np.uint8)
        out = np.empty(masks.shape + (3,), np.uint8)
        for c in range(3):  # one channel at a time: ~5x faster than a broadcast product
            np.multiply(masks, colour[:, c, None, None], out=out[..., c])
        return out
