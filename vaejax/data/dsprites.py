"""dSprites: the simulated full set (cached on disk) and loaders for the real data.

Every source gives a :class:`DSprites` with the real file's arrays ``imgs``,
``latents_classes`` and ``latents_values``, so code written for the real file
works unchanged. Pick a source with a string (see :func:`load`):

* ``simulated`` (default): all 737,280 images drawn by :mod:`vaejax.data.render`
  on first use and cached in ``cache_dir``, ``$VAEJAX_DATA`` or
  ``~/.cache/vaejax``;
* ``npz:PATH``: the released ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``;
* ``hdf5:PATH``: the released ``.hdf5`` file (needs h5py);
* ``tfds`` or ``tfds:DATA_DIR``: the tensorflow-datasets ``dsprites`` dataset;
* ``sample:N``: N distinct random grid images rendered in memory (for tests
  and quick runs; nothing is written to disk).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vaejax.data import factors, files
from vaejax.data import renderer as render_lib
from vaejax.data.ground_truth import GroundTruthData, lookup_rows, take_rows
from vaejax.errors import DataError, DataFileNotFoundError

_IMG_SHAPE = (factors.IMAGE_SIZE, factors.IMAGE_SIZE)
_NUM_FACTORS = len(factors.FACTOR_SIZES)


@dataclasses.dataclass(frozen=True, eq=False)
class DSprites:
    """dSprites arrays as in the real file.

    Attributes:
      imgs: uint8 (N, 64, 64) of 0/1 (a read-only memory map for cached data).
      latents_classes: int64 (N, 6), columns as ``factors.FACTOR_NAMES``.
      latents_values: float64 (N, 6).
      source: where the data came from.

    The arrays are read, never written: :attr:`is_complete` and the lookup
    table of :meth:`images_for` are computed once per instance.
    """

    imgs: np.ndarray
    latents_classes: np.ndarray
    latents_values: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.imgs)

    @functools.cached_property
    def is_complete(self) -> bool:
        """True when the data hold the whole factor grid in file order."""
        return len(self) == factors.NUM_IMAGES and np.array_equal(
            factors.classes_to_index(self.latents_classes),
            np.arange(factors.NUM_IMAGES))

    @functools.cached_property
    def _sorted_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(grid index of each held image (N,), the order that sorts it (N,))."""
        held = factors.classes_to_index(self.latents_classes)
        return held, np.argsort(held)

    def images_for(self, latents_classes) -> np.ndarray:
        """The images of given factor classes (N, 6) -> uint8 (N, 64, 64).

        Looks them up in ``imgs``; raises ``KeyError`` for a combination the
        data do not hold.
        """
        wanted = factors.classes_to_index(latents_classes)
        if self.is_complete:
            rows = wanted
        else:
            rows, missing = lookup_rows(*self._sorted_index, wanted)
            if missing.any():
                raise KeyError(
                    f"{int(missing.sum())} requested factor combinations are not in "
                    f"{self.source}, e.g. classes {factors.index_to_classes(wanted[missing][:1])[0].tolist()}")
        return take_rows(self.imgs, rows)



class DSpritesData(GroundTruthData):
    """dSprites through the dataset interface (:mod:`vaejax.data.ground_truth`).

    Images of any factor combination come from ``data.imgs`` when it holds
    the whole grid, else from the renderer; training reads ``data.imgs``.
    Observations are (64, 64, 1), stored as 0/1 bytes (``max_value`` 1).

    Args:
      data: a :class:`DSprites` (a loaded source), or None to draw every
        image with the renderer (then there is nothing to train on).
      seed: seed of the generator a variant draws from when
        :meth:`images` gets no ``rng``.
    """

    name = "dsprites"
    factor_names = factors.FACTOR_NAMES
    factor_sizes = factors.FACTOR_SIZES
    nuisance_factors = (0,)  # colour: one value
    observation_shape = (64, 64, 1)
    num_images = factors.NUM_IMAGES  # the release's size
    max_value = 1

    def __init__(self, data: DSprites | None = None, *, seed: int = 0):
        self.data = data
        self._grid = data if data is not None and data.is_complete else None
        self.source = data.source if data is not None else "renderer"
        self._rng = np.random.default_rng(seed)

    @property
    def train_images(self) -> np.ndarray:
        if self.data is None:
            raise DataError("dSprites drawn by the renderer alone hold no training images: "
                            "load a source (vaejax.data.dsprites.load)")
        return self.data.imgs

    def classes_to_index(self, classes) -> np.ndarray:
        try:
            return factors.classes_to_index(classes)
        except ValueError as err:
            raise DataError(f"{self.name}: {err}") from None

    def classes_to_values(self, classes) -> np.ndarray:
        return factors.classes_to_values(classes)

    def masks(self, classes) -> np.ndarray:
        """Factor classes (N, 6) -> the 0/1 sprite masks, uint8 (N, 64, 64)."""
        if self._grid is not None:
            return self._grid.images_for(classes)
        return render_lib.render(classes)

    def images_uint8(self, classes, rng=None) -> np.ndarray:
        return self.observe(self.masks(classes), self._rng if rng is None else rng)

    def sample_images(self, num: int, rng: np.random.Generator) -> np.ndarray:
        return self.images(self.sample_factors(num, rng), rng)


# --- simulated ---------------------------------------------------------------

def default_cache_dir() -> Path:
    """``$VAEJAX_DATA``, else ``$XDG_CACHE_HOME/vaejax``, else ``~/.cache/vaejax``
    (:func:`vaejax.data.files.cache_dir`, shared by every dataset)."""
    return files.cache_dir()


def _geometry_tag() -> str:
    geometry = repr((render_lib.CENTRE_OFFSET_PX, render_lib.POSITION_SPAN_PX,
                     render_lib.SQUARE_HALF_SIDE_PX, render_lib.ELLIPSE_SEMI_AXES_PX,
                     render_lib.HEART_SCALE_PX, render_lib.HEART_OFFSET_PX))
    return hashlib.sha256(geometry.encode()).hexdigest()[:10]


def simulated_cache_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the simulated images are cached; the name changes with the geometry."""
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return root / f"dsprites_simulated_{_geometry_tag()}.npy"


def build_simulated(path: str | os.PathLike, *, chunk_size: int = 16384,
                    progress: bool = True) -> None:
    """Renders all 737,280 images into ``path`` (a .npy file), atomically."""
    with files.writing_npy(Path(path), np.uint8, (factors.NUM_IMAGES,) + _IMG_SHAPE) as imgs:
        with tqdm(total=factors.NUM_IMAGES, unit="img", disable=not progress,
                  desc="Rendering dSprites") as bar:
            for start in range(0, factors.NUM_IMAGES, chunk_size):
                stop = min(start + chunk_size, factors.NUM_IMAGES)
                imgs[start:stop] = render_lib.render(
                    factors.index_to_classes(np.arange(start, stop)))
                bar.update(stop - start)


def simulated(cache_dir: str | os.PathLike | None = None, *,
              progress: bool = True) -> DSprites:
    """The full simulated data set, rendered on first use and cached on disk."""
    path = simulated_cache_path(cache_dir)
    imgs = None
    if path.exists():
        try:
            imgs = np.load(path, mmap_mode="r", allow_pickle=False)
            if imgs.shape != (factors.NUM_IMAGES,) + _IMG_SHAPE or imgs.dtype != np.uint8:
                raise ValueError(f"shape {imgs.shape}, dtype {imgs.dtype}")
        except (ValueError, OSError) as err:
            warnings.warn(f"Cached dSprites at {path} is unreadable ({err}); rendering it again.")
            imgs = None
    if imgs is None:
        build_simulated(path, progress=progress)
        imgs = np.load(path, mmap_mode="r", allow_pickle=False)
    classes = factors.all_classes()
    return DSprites(imgs, classes, factors.classes_to_values(classes), f"simulated:{path}")


def sampled(num: int, *, seed: int = 0) -> DSprites:
    """``num`` distinct grid images, drawn uniformly and rendered in memory, in file order."""
    if not 0 < num <= factors.NUM_IMAGES:
        raise DataError(f"sample size must lie in [1, {factors.NUM_IMAGES}], got {num}")
    index = np.sort(np.random.default_rng(seed).choice(factors.NUM_IMAGES, num, replace=False))
    classes = factors.index_to_classes(index)
    return DSprites(render_lib.render(classes), classes, factors.classes_to_values(classes),
                    f"sample:{num}")


# --- real files --------------------------------------------------------------

def _validated(imgs, classes, values, source: str) -> DSprites:
    """Checks arrays against the real layout; raises DataError naming the problem."""
    expected = {
        "imgs": (imgs, (None,) + _IMG_SHAPE, np.uint8),
        "latents_classes": (classes, (None, _NUM_FACTORS), np.integer),
        "latents_values": (values, (None, _NUM_FACTORS), np.floating),
    }
    for name, (array, shape, kind) in expected.items():
        if array.ndim != len(shape) or any(s is not None and s != a
                                           for s, a in zip(shape, array.shape)):
            want = "(N, " + ", ".join(str(s) for s in shape[1:]) + ")"
            raise DataError(f"{source}: '{name}' has shape {array.shape}, expected {want}")
        if not np.issubdtype(array.dtype, kind):
            raise DataError(f"{source}: '{name}' has dtype {array.dtype}, expected {np.dtype(kind).name}")
    if not len(imgs) == len(classes) == len(values):
        raise DataError(f"{source}: imgs, latents_classes and latents_values have different "
                        f"lengths ({len(imgs)}, {len(classes)}, {len(values)})")
    try:
        classes = factors.check_classes(classes)
    except ValueError as err:
        raise DataError(f"{source}: {err}") from None
    if not np.allclose(values, factors.classes_to_values(classes), rtol=0, atol=1e-6):
        raise DataError(f"{source}: latents_values do not match latents_classes "
                        "(expected the dSprites factor values)")
    return DSprites(imgs, classes, np.asarray(values, np.float64), source)


def _check_binary(imgs: np.ndarray, source: str) -> None:
    """Checks images are 0/1, in chunks so a memory-mapped array stays cheap."""
    for start in range(0, len(imgs), 65536):
        if imgs[start:start + 65536].max(initial=0) > 1:
            raise DataError(f"{source}: 'imgs' must hold 0/1 pixels, found values above 1")


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileNotFoundError(f"dSprites file not found: {path}")
    return path


def load_npz(path: str | os.PathLike) -> DSprites:
    """Loads the released ``.npz`` (or one in its layout) without pickle.

    Raises:
      FileNotFoundError: no such file.
      DataError: not an npz, truncated, pickled arrays, or wrong keys, shapes,
        dtypes or values; the message names the problem.
    """
    path = _existing(path)
    source = f"npz:{path}"
    keys = ("imgs", "latents_classes", "latents_values")
    found = files.npz_keys(path)
    missing = set(keys) - set(found)
    if missing:
        raise DataError(f"{source}: missing keys {sorted(missing)} (found {sorted(found)})")
    arrays = {key: files.npz_array(path, key) for key in keys}
    data = _validated(arrays["imgs"], arrays["latents_classes"], arrays["latents_values"], source)
    _check_binary(data.imgs, source)
    return data


def load_hdf5(path: str | os.PathLike) -> DSprites:
    """Loads the released ``.hdf5`` (datasets imgs, latents/classes, latents/values)."""
    try:
        import h5py  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ImportError("Loading dSprites from .hdf5 needs h5py: "
                          "pip install 'vaejax[hdf5]'") from None
    path = _existing(path)
    source = f"hdf5:{path}"
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("imgs", "latents/classes", "latents/values") if k not in f]
            if missing:
                raise DataError(f"{source}: missing datasets {missing}")
            imgs = f["imgs"][()]
            classes = f["latents/classes"][()]
            values = f["latents/values"][()]
    except OSError as err:
        raise DataError(f"{source}: not a readable HDF5 file ({err})") from None
    data = _validated(imgs, classes, values, source)
    _check_binary(data.imgs, source)
    return data


_TFDS_LABELS = ("label_shape", "label_scale", "label_orientation",
                "label_x_position", "label_y_position")


def load_tfds(data_dir: str | None = None, *, split: str = "train",
              progress: bool = True) -> DSprites:
    """Loads tensorflow-datasets ``dsprites`` through ``tfds.data_source``.

    ``tfds.data_source`` reads datasets prepared in the array_record format
    without TensorFlow; a dataset prepared as tfrecord needs TensorFlow.
    """
    try:
        import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ImportError("The tfds source needs tensorflow-datasets: "
                          "pip install 'vaejax[tfds]'") from None
    source = f"tfds:{data_dir or 'default'}:{split}"
    records = tfds.data_source("dsprites", split=split, data_dir=data_dir)
    n = len(records)
    imgs = np.empty((n,) + _IMG_SHAPE, np.uint8)
    classes = np.zeros((n, _NUM_FACTORS), np.int64)
    for i in tqdm(range(n), desc="Reading tfds dsprites", disable=not progress):
        record = records[i]
        image = np.asarray(record["image"])
        if image.shape != _IMG_SHAPE + (1,):
            raise DataError(f"{source}: image {i} has shape {image.shape}, expected (64, 64, 1)")
        imgs[i] = image[..., 0]
        classes[i, 1:] = [int(record[k]) for k in _TFDS_LABELS]
    data = _validated(imgs, classes, factors.classes_to_values(classes), source)
    _check_binary(data.imgs, source)
    return data


def load(source: str = "simulated", *, cache_dir: str | os.PathLike | None = None,
         progress: bool = True) -> DSprites:
    """dSprites from a source string: ``simulated``, ``npz:PATH``, ``hdf5:PATH``,
    ``tfds``, ``tfds:DATA_DIR`` or ``sample:N``."""
    kind, _, arg = source.partition(":")
    if kind == "simulated" and not arg:
        return simulated(cache_dir, progress=progress)
    if kind == "npz" and arg:
        return load_npz(arg)
    if kind == "hdf5" and arg:
        return load_hdf5(arg)
    if kind == "tfds":
        return load_tfds(arg or None, progress=progress)
    if kind == "sample" and arg.isdigit():
        return sampled(int(arg))
    raise DataError(f"unknown dSprites source {source!r}; expected 'simulated', "
                    "'npz:PATH', 'hdf5:PATH', 'tfds', 'tfds:DATA_DIR' or 'sample:N'")
