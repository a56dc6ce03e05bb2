"""SmallNORB (LeCun et al. 2004): greyscale photographs of toys, resized to 64 x 64.

Source ``dir:PATH``: a directory with the six original files
``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`` and
``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat`` (NORB's
binary matrix format, not MATLAB files); both halves together, as
disentanglement_lib reads them: the first camera's image, resized with
antialiasing, category from ``-cat``, (instance, elevation, azimuth / 2,
lighting) from ``-info``. Or ``tfds`` / ``tfds:DATA_DIR``: tensorflow-datasets
``smallnorb`` (its train and test splits, ``image``).

Factors, in this order: category (5), instance (10, a nuisance factor:
drawn at random, not scored), elevation (9), azimuth (18), lighting (6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vaejax.data import files
from vaejax.data.ground_truth import ArrayGroundTruth
from vaejax.errors import DataError

FACTOR_NAMES = ("category", "instance", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 10, 9, 18, 6)
CHUNKS = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")
# NORB's binary matrix magic numbers
_DTYPES = {0x1E3D4C55: np.uint8, 0x1E3D4C54: np.int32, 0x1E3D4C51: np.float32,
           0x1E3D4C53: np.float64, 0x1E3D4C56: np.int16}
_TFDS_LABELS = ("label_category", "instance", "label_elevation", "label_azimuth",
                "label_lighting")


class SmallNORB(ArrayGroundTruth):
    name = "smallnorb"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    nuisance_factors = (1,)
    observation_shape = (64, 64, 1)
    num_images = 48_600  # the release's size


def read_binary_matrix(path: Path) -> np.ndarray:
    """A NORB binary matrix file -> its array (little-endian header: magic, ndim,
    max(3, ndim) dims)."""
    raw = path.read_bytes()
    if len(raw) < 20:
        raise DataError(f"{path}: too short for a NORB matrix header ({len(raw)} bytes)")
    magic, ndim = (int(v) for v in np.frombuffer(raw, "<i4", 2))
    if magic not in _DTYPES:
        raise DataError(f"{path}: not a NORB binary matrix (magic {magic:#x})")
    if not 1 <= ndim <= 8:
        raise DataError(f"{path}: NORB header gives {ndim} dimensions")
    header_dims = max(3, ndim)
    dims = tuple(int(d) for d in np.frombuffer(raw, "<i4", header_dims, 8)[:ndim])
    offset = 8 + 4 * header_dims
    dtype = np.dtype(_DTYPES[magic]).newbyteorder("<")
    need = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset < need:
        raise DataError(f"{path}: truncated: {len(raw) - offset} data bytes for shape {dims}, "
                        f"expected {need}")
    return np.frombuffer(raw, dtype, int(np.prod(dims)), offset).reshape(dims)


def _resize(images: np.ndarray) -> np.ndarray:
    out = np.empty((len(images), 64, 64, 1), np.uint8)
    for i, image in enumerate(images):
        out[i, ..., 0] = np.asarray(Image.fromarray(image).resize((64, 64), Image.LANCZOS))
    return out


def load(source: str, *, progress: bool = True) -> SmallNORB:
    """SmallNORB from ``dir:PATH`` (the original files) or ``tfds`` / ``tfds:DATA_DIR``."""
    kind, arg = files.parse_source(source, "smallnorb", ("dir", "tfds"))
    if kind == "tfds":
        parts = [files.tfds_records("smallnorb", arg or None, split, image_key="image",
                                    label_keys=_TFDS_LABELS, shape=(64, 64, 1), size=64,
                                    progress=progress) for split in ("train", "test")]
        classes = np.concatenate([p[1] for p in parts])
        return SmallNORB(np.concatenate([p[0] for p in parts]), classes,
                         f"tfds:{arg or 'default'}:smallnorb")
    directory = files.existing_dir(arg, "smallnorb")
    images, classes = [], []
    for chunk in CHUNKS:
        paths = {part: directory / f"smallnorb-{chunk}-{part}.mat" for part in ("dat", "cat", "info")}
        for path in paths.values():
            files.existing_file(path, "smallnorb")
        dat = read_binary_matrix(paths["dat"])
        cat = read_binary_matrix(paths["cat"])
        info = read_binary_matrix(paths["info"])
        if dat.ndim != 4 or dat.shape[1] != 2 or dat.dtype != np.uint8:
            raise DataError(f"{paths['dat']}: expected uint8 images (N, 2, H, W), got "
                            f"{dat.dtype} {dat.shape}")
        if cat.shape != (len(dat),) or info.shape != (len(dat), 4):
            raise DataError(f"{directory}: {chunk} has {len(dat)} images, {cat.shape} categories "
                            f"and {info.shape} info rows; expected ({len(dat)},) and "
                            f"({len(dat)}, 4)")
        features = np.column_stack([cat, info]).astype(np.int64)
        features[:, 3] //= 2  # azimuth is stored as 0, 2, ..., 34
        images.append(_resize(dat[:, 0]))
        classes.append(features)
    return SmallNORB(np.concatenate(images), np.concatenate(classes), f"dir:{directory}")
