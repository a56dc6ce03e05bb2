"""3D Shapes (Burgess & Kim 2018, DeepMind; "Disentangling by Factorising").

480,000 RGB images (64, 64, 3) of an object in a room, the full grid of six
factors in this (the file's) order: floor hue (10), wall hue (10), object
hue (10), scale (8), shape (4), orientation (15). Sources:

* ``hdf5:PATH``: DeepMind's ``3dshapes.h5``: ``images`` (480000, 64, 64, 3)
  uint8, ``labels`` (480000, 6) float64 (the factor values);
* ``npz:PATH``: disentanglement_lib's npz (``images``, ``labels``; images
  either (480000, 64, 64, 3) or the grid (10, 10, 10, 8, 4, 15, 64, 64, 3));
* ``tfds`` / ``tfds:DATA_DIR``: tensorflow-datasets ``shapes3d`` (its
  ``label_*`` class features).

Labels are checked against the factor values and may cover part of the grid.
"""

from __future__ import annotations

import numpy as np

from vaejax.data import files
from vaejax.data.ground_truth import ArrayGroundTruth, classes_from_values
from vaejax.errors import DataError

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
FACTOR_VALUES = (np.arange(10) / 10, np.arange(10) / 10, np.arange(10) / 10,
                 np.linspace(0.75, 1.25, 8), np.arange(4.0), np.linspace(-30.0, 30.0, 15))
SOURCES = ("hdf5", "npz", "tfds")
_TFDS_LABELS = tuple(f"label_{n}" for n in FACTOR_NAMES)


class Shapes3D(ArrayGroundTruth):
    name = "shapes3d"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (64, 64, 3)
    num_images = 480_000  # the release's size

    def classes_to_values(self, classes) -> np.ndarray:
        classes = self.check_classes(classes)
        return np.stack([FACTOR_VALUES[j][classes[:, j]] for j in range(6)], axis=1)


def _from_arrays(images: np.ndarray, labels: np.ndarray, source: str) -> Shapes3D:
    if images.ndim == 9:  # disentanglement_lib's grid layout
        images = images.reshape((-1,) + images.shape[6:])
    labels = np.asarray(labels)
    if labels.ndim > 2:
        labels = labels.reshape(-1, labels.shape[-1])
    files.check_array(images, "images", source, (None, 64, 64, 3), np.uint8)
    files.check_array(labels, "labels", source, (None, 6), np.floating)
    if len(images) != len(labels):
        raise DataError(f"{source}: {len(images)} images but {len(labels)} labels")
    return Shapes3D(images, classes_from_values(labels, FACTOR_VALUES, source, FACTOR_NAMES),
                    source)


def load(source: str, *, progress: bool = True) -> Shapes3D:
    """3D Shapes from ``hdf5:PATH``, ``npz:PATH``, ``tfds`` or ``tfds:DATA_DIR``."""
    kind, arg = files.parse_source(source, "shapes3d", SOURCES)
    if kind == "tfds":
        images, classes, name = files.tfds_records(
            "shapes3d", arg or None, "train", image_key="image", label_keys=_TFDS_LABELS,
            shape=(64, 64, 3), progress=progress)
        return Shapes3D(images, classes, name)
    path = files.existing_file(arg, "shapes3d")
    if kind == "hdf5":
        arrays = files.hdf5_arrays(path, ("images", "labels"), "shapes3d", cache_tag="shapes3d")
        return _from_arrays(arrays["images"], arrays["labels"], f"hdf5:{path}")
    images = files.npz_array(path, "images", cache_tag="shapes3d")
    labels = files.npz_array(path, "labels")
    return _from_arrays(images, labels, f"npz:{path}")
