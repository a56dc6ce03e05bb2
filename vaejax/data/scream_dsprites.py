"""scream-dSprites (disentanglement_lib): sprites cut into a patch of a painting.

Every observation takes a random 64 x 64 patch of the background picture
(disentanglement_lib uses Munch's *The Scream*, shrunk to fit 350 x 274),
averages it with a random colour (uniform in [0, 1] per channel) and
inverts the colour at the sprite's pixels (``ScreamDSprites``).

The painting is not shipped: ``--config.data_source=image:PATH`` reads the
user's copy (any picture PIL opens). Without one, a *generated texture*
(:func:`generated_texture`: swirls of colour, not the painting) stands in;
scores on it do not compare with published scream-dSprites figures.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vaejax.data.dsprites import DSprites, DSpritesData
from vaejax.errors import DataError, DataFileNotFoundError

THUMBNAIL = (350, 274)  # (width, height) the picture is shrunk to fit, as disentanglement_lib


def load_background(path: str | os.PathLike) -> np.ndarray:
    """A picture file -> uint8 (H, W, 3), shrunk to fit 350 x 274 (at least 65 px a side)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileNotFoundError(f"scream background picture not found: {path}")
    try:
        with Image.open(path) as picture:
            picture = picture.convert("RGB")
            picture.thumbnail(THUMBNAIL)
            out = np.asarray(picture, np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"image:{path}: not a readable picture ({err})") from None
    if min(out.shape[:2]) <= 64:
        raise DataError(f"image:{path}: the picture is {out.shape[1]} x {out.shape[0]} px after "
                        "shrinking to fit 350 x 274; it needs more than 64 px a side")
    return out


def generated_texture(height: int = 274, width: int = 222, seed: int = 0) -> np.ndarray:
    """A stand-in background, uint8 (height, width, 3): smooth swirls of colour from a
    few random sinusoids per channel (not the painting)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((height, width, 3))
    for c in range(3):
        for _ in range(4):
            fx, fy = rng.uniform(-0.06, 0.06, 2)
            phase, swirl = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.02)
            out[..., c] += np.sin(fx * x + fy * y + phase + swirl * np.hypot(x - width / 2,
                                                                               y - height / 2))
    out = (out - out.min()) / (out.max() - out.min())
    return np.rint(out * 255).astype(np.uint8)


class ScreamDSprites(DSpritesData):
    """Args: ``data`` and ``seed`` as :class:`DSpritesData`; ``background`` uint8
    (H, W, 3) (None: :func:`generated_texture`); ``background_source`` names it."""

    name = "scream_dsprites"
    observation_shape = (64, 64, 3)
    max_value = 255
    deterministic = False

    def __init__(self, data: DSprites | None = None, *, background: np.ndarray | None = None,
                 background_source: str = "generated texture", seed: int = 0):
        super().__init__(data, seed=seed)
        self.background = generated_texture() if background is None else background
        self.background_source = background_source if background is not None else (
            "generated texture")
        self.source = f"{self.source} on {self.background_source}"

    def observe(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """0/1 masks (B, 64, 64[, 1]) -> sprites inverted over patches (B, 64, 64, 3) uint8."""
        masks = rows.reshape(rows.shape[:3])
        b = len(masks)
        h, w = self.background.shape[:2]
        top = rng.integers(0, h - 64, b)
        left = rng.integers(0, w - 64, b)
        shift = np.rint(rng.uniform(0.0, 1.0, (b, 3)) * 255).astype(np.uint16)
        out = np.empty((b, 64, 64, 3), np.uint8)
        for i in range(b):
            # (patch + colour) / 2 in bytes, rounded; inverted (255 - x) on the sprite
            patch = self.background[top[i]:top[i] + 64, left[i]:left[i] + 64].astype(np.uint16)
            ground = ((patch + shift[i] + 1) >> 1).astype(np.uint8)
            out[i] = np.where(masks[i, :, :, None].astype(bool), 255 - ground, ground)
        return out
