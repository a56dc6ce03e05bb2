"""MPI3D (Gondal et al. 2019, the NeurIPS 2019 disentanglement challenge).

Three releases share one layout: ``mpi3d_toy.npz``, ``mpi3d_realistic.npz``
and ``mpi3d_real.npz``, each with one key, ``images``: uint8
(1036800, 64, 64, 3) in grid order (or that grid as (6, 6, 2, 3, 3, 40, 40,
64, 64, 3)); no labels. Factors, in index order: object colour (6), object
shape (6), object size (2), camera height (3), background colour (3), the
arm's horizontal (40) and vertical (40) axis. (disentanglement_lib gives the
simulated sets 4 colours and 4 shapes; their files hold 6 x 6, as the
1,036,800 images say.) Source: ``npz:PATH``. A file of fewer images is read
as the first images of the grid.
"""

from __future__ import annotations

import math

import numpy as np

from vaejax.data import files
from vaejax.data.ground_truth import ArrayGroundTruth
from vaejax.errors import DataError

FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height",
                "background_color", "horizontal_axis", "vertical_axis")
FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
NUM_IMAGES = math.prod(FACTOR_SIZES)  # 1,036,800


class MPI3D(ArrayGroundTruth):
    name = "mpi3d"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (64, 64, 3)
    num_images = NUM_IMAGES  # the release's size


def load(source: str, *, progress: bool = True) -> MPI3D:
    """MPI3D (toy, realistic or real) from ``npz:PATH``."""
    del progress
    _, arg = files.parse_source(source, "mpi3d", ("npz",))
    path = files.existing_file(arg, "mpi3d")
    name = f"npz:{path}"
    images = files.npz_array(path, "images", cache_tag="mpi3d")
    if images.ndim == 10:
        images = images.reshape((-1,) + images.shape[7:])
    files.check_array(images, "images", name, (None, 64, 64, 3), np.uint8)
    if len(images) > NUM_IMAGES:
        raise DataError(f"{name}: 'images' holds {len(images):,} images, more than the "
                        f"{NUM_IMAGES:,} of the factor grid")
    index = np.arange(len(images))
    classes = (index[:, None] // _bases()) % np.asarray(FACTOR_SIZES)
    return MPI3D(images, classes, name)


def _bases() -> np.ndarray:
    sizes = np.asarray(FACTOR_SIZES, np.int64)
    return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]])
