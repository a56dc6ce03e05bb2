"""Cars3D (Reed et al. 2015, "Deep Visual Analogy-Making"): renders of 183 car models.

Source ``dir:PATH``: the directory of the release's ``.mat`` files (MATLAB,
one per car, e.g. ``car_001_mesh.mat``), each with ``im``: uint8
(128, 128, 3, 24, 4), i.e. (height, width, RGB, azimuth, elevation). Files
are taken in name order, car i the i-th; images are shrunk to 64 x 64 with
antialiasing, as disentanglement_lib's ``Cars3D`` reads them. Factors, in
this order: elevation (4), azimuth (24), car (183). A directory of fewer
cars holds part of the grid.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import io as sio
from tqdm.auto import tqdm

from vaejax.data import files
from vaejax.data.ground_truth import ArrayGroundTruth
from vaejax.errors import DataError

FACTOR_NAMES = ("elevation", "azimuth", "car")
FACTOR_SIZES = (4, 24, 183)


class Cars3D(ArrayGroundTruth):
    name = "cars3d"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (64, 64, 3)
    num_images = 17_568  # the release's size


def _read_car(path) -> np.ndarray:
    """One car's file -> uint8 (24 azimuths, 4 elevations, 64, 64, 3)."""
    try:
        contents = sio.loadmat(path)
    except (sio.matlab.MatReadError, ValueError, OSError, TypeError, IndexError) as err:
        raise DataError(f"{path}: not a readable .mat file ({type(err).__name__}: "
                        f"{err})") from None
    if "im" not in contents:
        raise DataError(f"{path}: no 'im' array in the .mat file (found "
                        f"{sorted(k for k in contents if not k.startswith('__'))})")
    im = contents["im"]
    if im.ndim != 5 or im.shape[2:] != (3, 24, 4) or im.dtype != np.uint8:
        raise DataError(f"{path}: 'im' has {im.dtype} {im.shape}, expected uint8 "
                        "(H, W, 3, 24, 4)")
    out = np.empty((24, 4, 64, 64, 3), np.uint8)
    for a in range(24):
        for e in range(4):
            picture = Image.fromarray(np.ascontiguousarray(im[:, :, :, a, e]))
            picture.thumbnail((64, 64), Image.LANCZOS)
            if picture.size != (64, 64):
                picture = picture.resize((64, 64), Image.LANCZOS)
            out[a, e] = np.asarray(picture)
    return out


def load(source: str, *, progress: bool = True) -> Cars3D:
    """Cars3D from ``dir:PATH`` (the release's ``.mat`` files)."""
    _, arg = files.parse_source(source, "cars3d", ("dir",))
    directory = files.existing_dir(arg, "cars3d")
    paths = sorted(p for p in directory.iterdir() if p.suffix == ".mat")
    if not paths:
        raise DataError(f"dir:{directory}: no .mat files (expected Cars3D's car_*_mesh.mat)")
    if len(paths) > FACTOR_SIZES[2]:
        raise DataError(f"dir:{directory}: {len(paths)} .mat files, more than Cars3D's "
                        f"{FACTOR_SIZES[2]} cars")
    images = np.empty((len(paths) * 96, 64, 64, 3), np.uint8)
    classes = np.empty((len(paths) * 96, 3), np.int64)
    azimuth, elevation = np.meshgrid(np.arange(24), np.arange(4), indexing="ij")
    for car, path in enumerate(tqdm(paths, desc="Reading cars3d", disable=not progress)):
        rows = slice(car * 96, (car + 1) * 96)
        images[rows] = _read_car(path).reshape(96, 64, 64, 3)
        classes[rows] = np.column_stack([elevation.ravel(), azimuth.ravel(),
                                         np.full(96, car)])
    return Cars3D(images, classes, f"dir:{directory}")
