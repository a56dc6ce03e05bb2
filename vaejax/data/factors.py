"""The dSprites factor space, exactly as the released file lays it out.

Columns, in the real file's order: color, shape, scale, orientation, posX,
posY. Image ``i`` of the full data set has
``latents_classes[i] @ FACTOR_BASES == i``.
"""

from __future__ import annotations

import numpy as np

FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
FACTOR_BASES = (737280, 245760, 40960, 1024, 32, 1)
NUM_IMAGES = 737280
IMAGE_SIZE = 64
SHAPE_NAMES = ("square", "ellipse", "heart")


def factor_values() -> tuple[np.ndarray, ...]:
    """Possible values of each factor, float64, as in the real ``latents_values``.

    Returns six arrays of lengths ``FACTOR_SIZES``: color [1.0], shape
    [1, 2, 3], scale linspace(0.5, 1, 6), orientation linspace(0, 2*pi, 40)
    (radians; the first and last are the same picture), posX and posY
    linspace(0, 1, 32).
    """
    return (
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2.0 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


def check_classes(latents_classes) -> np.ndarray:
    """Validates factor classes and returns them as int64 (N, 6).

    Raises:
      ValueError: naming the problem (shape, dtype, or the factor out of range).
    """
    classes = np.asarray(latents_classes)
    if classes.ndim != 2 or classes.shape[1] != len(FACTOR_SIZES):
        raise ValueError(
            f"latents_classes must have shape (N, 6) in the order {FACTOR_NAMES}, "
            f"got shape {classes.shape}")
    if not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"latents_classes must be integers, got dtype {classes.dtype}")
    classes = classes.astype(np.int64, copy=False)
    for j, (name, size) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES)):
        col = classes[:, j]
        if col.size and (col.min() < 0 or col.max() >= size):
            raise ValueError(
                f"factor {name!r} (column {j}) must lie in [0, {size - 1}], "
                f"got values in [{col.min()}, {col.max()}]")
    return classes


def classes_to_index(latents_classes) -> np.ndarray:
    """Factor classes (N, 6) -> image indices (N,) int64 in the real file."""
    return check_classes(latents_classes) @ np.asarray(FACTOR_BASES, np.int64)


def index_to_classes(index) -> np.ndarray:
    """Image indices (N,) -> factor classes (N, 6) int64."""
    index = np.asarray(index)
    if not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"index must be integers, got dtype {index.dtype}")
    index = index.astype(np.int64).reshape(-1)
    if index.size and (index.min() < 0 or index.max() >= NUM_IMAGES):
        raise ValueError(
            f"index must lie in [0, {NUM_IMAGES - 1}], "
            f"got values in [{index.min()}, {index.max()}]")
    bases = np.asarray(FACTOR_BASES, np.int64)
    sizes = np.asarray(FACTOR_SIZES, np.int64)
    return (index[:, None] // bases) % sizes


def classes_to_values(latents_classes) -> np.ndarray:
    """Factor classes (N, 6) -> factor values (N, 6) float64, as ``latents_values``."""
    classes = check_classes(latents_classes)
    values = factor_values()
    return np.stack([values[j][classes[:, j]] for j in range(len(values))], axis=1)


def all_classes() -> np.ndarray:
    """Factor classes of the whole grid, (737280, 6) int64, in file order."""
    return index_to_classes(np.arange(NUM_IMAGES))
