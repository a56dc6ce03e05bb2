"""The dataset interface every data set implements, and what the array-backed ones share.

A dataset holds uint8 images and says how to turn them into the model's
float input (values in [0, 1], shape (H, W, C)). Two kinds:

* :class:`GroundTruthData`: images indexed by a grid of discrete factors
  (``factor_names``, ``factor_sizes``). Factor class vectors are (N, K)
  int64 in the dataset's own column order; ``nuisance_factors`` are grid
  columns drawn at random and never scored (SmallNORB's instance, dSprites'
  one-valued colour); ``varying_factors`` are the ones the metrics score.
  ``sample_factors`` draws class vectors, ``images`` renders or looks them up.
* :class:`ImageData`: pictures without factors (CelebA, a user's folder):
  training, reconstructions and traversals only.

Training reads ``train_images`` (uint8 (N, H, W) or (N, H, W, C), a memory
map is fine) through :meth:`Dataset.observe`, which turns stored rows into
observations (B, H, W, C) uint8; it draws colours or noise where a dataset
does (color-, noisy-, scream-dSprites). ``max_value`` is the stored value of
intensity 1 (1 for dSprites' 0/1 bytes, else 255).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from vaejax.errors import DataError


class Dataset:
    """What every dataset offers (class attributes describe it without loading it)."""

    name = ""
    observation_shape: tuple[int, int, int] = (64, 64, 1)
    has_factors = False
    max_value = 255
    # True when observe() draws nothing at random: the image of a grid point is fixed.
    deterministic = True
    source = ""
    num_images: int | None = None  # the official release's size (None: it varies)

    @property
    def train_images(self) -> np.ndarray:
        """Stored images, uint8 (N, H, W) or (N, H, W, C)."""
        raise NotImplementedError

    def observe(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Stored rows (B, H, W[, C]) uint8 -> observations (B, H, W, C) uint8."""
        del rng
        return rows if rows.ndim == 4 else rows[..., None]

    def to_float(self, observations: np.ndarray) -> np.ndarray:
        """uint8 observations -> float32 in [0, 1], same shape."""
        out = observations.astype(np.float32)
        return out if self.max_value == 1 else out * np.float32(1.0 / self.max_value)

    def sample_images(self, num: int, rng: np.random.Generator) -> np.ndarray:
        """``num`` random observations, float32 (num, H, W, C) in [0, 1]."""
        rows = rng.integers(len(self.train_images), size=num)
        return self.to_float(self.observe(take_rows(self.train_images, rows), rng))

    def __len__(self) -> int:
        return len(self.train_images)

    def __repr__(self) -> str:
        return f"<{self.name} dataset from {self.source}>"


class ImageData(Dataset):
    """Unlabelled images held in an array (N, H, W, C) uint8."""

    observation_shape = (64, 64, 3)

    def __init__(self, imgs: np.ndarray, source: str):
        self.imgs = imgs
        self.source = source
        self.observation_shape = tuple(int(s) for s in imgs.shape[1:])

    @property
    def train_images(self) -> np.ndarray:
        return self.imgs

    def sample_factors(self, *args, **kwargs):
        raise DataError(f"the {self.name} dataset has no ground-truth factors: the metrics, "
                        "DC-IGN and the metric table need a dataset with factors")


class _ScoredFactors:
    """``varying_factors`` on the class and on instances: :meth:`GroundTruthData.scored_factors`."""

    def __get__(self, obj, cls) -> tuple[int, ...]:
        return cls.scored_factors()


class GroundTruthData(Dataset):
    """Images of a grid of discrete factors.

    Subclasses set ``factor_names`` and ``factor_sizes`` (and
    ``nuisance_factors``) and implement :meth:`images_uint8`.
    """

    has_factors = True
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    nuisance_factors: tuple[int, ...] = ()

    @classmethod
    def scored_factors(cls) -> tuple[int, ...]:
        """Columns the metrics score: those with more than one value, not nuisance."""
        return tuple(i for i, s in enumerate(cls.factor_sizes)
                     if s > 1 and i not in cls.nuisance_factors)

    varying_factors = _ScoredFactors()

    @property
    def num_combinations(self) -> int:
        return math.prod(self.factor_sizes)

    @functools.cached_property
    def factor_bases(self) -> np.ndarray:
        """(K,) int64: the grid index of classes ``c`` is ``c @ factor_bases`` (C order)."""
        sizes = np.asarray(self.factor_sizes, np.int64)
        return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)

    def check_classes(self, classes) -> np.ndarray:
        """Validates factor classes, returns int64 (N, K); DataError naming the problem."""
        classes = np.asarray(classes)
        k = len(self.factor_sizes)
        if classes.ndim != 2 or classes.shape[1] != k:
            raise DataError(f"{self.name}: factor classes must have shape (N, {k}) in the order "
                            f"{self.factor_names}, got shape {classes.shape}")
        if not np.issubdtype(classes.dtype, np.integer):
            raise DataError(f"{self.name}: factor classes must be integers, got {classes.dtype}")
        classes = classes.astype(np.int64, copy=False)
        for j, (name, size) in enumerate(zip(self.factor_names, self.factor_sizes)):
            col = classes[:, j]
            if col.size and (col.min() < 0 or col.max() >= size):
                raise DataError(f"{self.name}: factor {name!r} (column {j}) must lie in "
                                f"[0, {size - 1}], got values in [{col.min()}, {col.max()}]")
        return classes

    def classes_to_index(self, classes) -> np.ndarray:
        """Factor classes (N, K) -> grid indices (N,) int64."""
        return self.check_classes(classes) @ self.factor_bases

    def index_to_classes(self, index) -> np.ndarray:
        """Grid indices (N,) -> factor classes (N, K) int64."""
        index = np.asarray(index, np.int64).reshape(-1)
        if index.size and (index.min() < 0 or index.max() >= self.num_combinations):
            raise DataError(f"{self.name}: grid index must lie in [0, "
                            f"{self.num_combinations - 1}]")
        return (index[:, None] // self.factor_bases) % np.asarray(self.factor_sizes, np.int64)

    def classes_to_values(self, classes) -> np.ndarray:
        """Factor classes -> factor values (N, K) float64 (the classes, unless a dataset
        knows its values)."""
        return self.check_classes(classes).astype(np.float64)

    def sample_factors(self, num: int, rng: np.random.Generator, *,
                       fixed_factor: int | None = None,
                       fixed_value: int | None = None) -> np.ndarray:
        """Uniform random factor classes (num, K) int64; with ``fixed_factor``, that
        column takes ``fixed_value`` (or one random value shared by all rows)."""
        sizes = np.asarray(self.factor_sizes)
        classes = rng.integers(0, sizes, size=(num, len(sizes)))
        if fixed_factor is not None:
            if not 0 <= fixed_factor < len(sizes):
                raise ValueError(f"fixed_factor must lie in [0, {len(sizes) - 1}], "
                                 f"got {fixed_factor}")
            if fixed_value is None:
                fixed_value = int(rng.integers(sizes[fixed_factor]))
            if not 0 <= fixed_value < sizes[fixed_factor]:
                raise ValueError(f"fixed_value for factor {self.factor_names[fixed_factor]!r} "
                                 f"must lie in [0, {sizes[fixed_factor] - 1}], got {fixed_value}")
            classes[:, fixed_factor] = fixed_value
        return classes.astype(np.int64)

    @property
    def is_complete(self) -> bool:
        """True when every factor combination has an image."""
        return True

    def missing_message(self) -> str | None:
        """None when complete, else one line saying what is missing."""
        return None

    def images_uint8(self, classes, rng: np.random.Generator | None = None) -> np.ndarray:
        """Factor classes (N, K) -> observations uint8 (N, H, W, C)."""
        raise NotImplementedError

    def images(self, classes, rng: np.random.Generator | None = None) -> np.ndarray:
        """Factor classes (N, K) -> float32 observations (N, H, W, C) in [0, 1].

        A dataset that draws at random (``deterministic`` False) uses ``rng``,
        or its own generator (seeded at construction) when None.
        """
        return self.to_float(self.images_uint8(classes, rng))

    def sample(self, num: int, rng: np.random.Generator, **kwargs):
        """Random factor classes (num, K) and their float32 images."""
        classes = self.sample_factors(num, rng, **kwargs)
        return classes, self.images(classes, rng)

    def sample_images(self, num: int, rng: np.random.Generator) -> np.ndarray:
        if self.is_complete:
            return self.images(self.sample_factors(num, rng), rng)
        return super().sample_images(num, rng)


class ArrayGroundTruth(GroundTruthData):
    """A ground-truth dataset whose images sit in an array, one row per factor
    combination it holds (in any order; fewer than the grid is allowed).

    Args:
      imgs: uint8 (N, H, W, C).
      classes: int (N, K) factor classes of each row.
      source: where the data came from (named in errors).
    """

    def __init__(self, imgs: np.ndarray, classes: np.ndarray, source: str):
        self.source = source
        if imgs.dtype != np.uint8 or imgs.ndim != 4 or tuple(imgs.shape[1:]) != tuple(
                self.observation_shape):
            raise DataError(f"{source}: images must be uint8 (N, "
                            f"{', '.join(map(str, self.observation_shape))}), "
                            f"got {imgs.dtype} {imgs.shape}")
        if len(classes) != len(imgs):
            raise DataError(f"{source}: {len(imgs)} images but {len(classes)} label rows")
        if len(imgs) == 0:
            raise DataError(f"{source}: holds no images")
        self.imgs = imgs
        self.classes = self.check_classes(classes)
        held = self.classes_to_index(self.classes)
        self._held = held
        self._order = np.argsort(held, kind="stable")
        sorted_held = held[self._order]
        if np.any(sorted_held[1:] == sorted_held[:-1]):
            dup = int(sorted_held[1:][sorted_held[1:] == sorted_held[:-1]][0])
            raise DataError(f"{source}: factor classes {self.index_to_classes([dup])[0].tolist()} "
                            "appear more than once")
        self._in_grid_order = (len(held) == self.num_combinations
                               and np.array_equal(held, np.arange(len(held))))

    @property
    def train_images(self) -> np.ndarray:
        return self.imgs

    @property
    def is_complete(self) -> bool:
        return len(self._held) == self.num_combinations

    def missing_message(self) -> str | None:
        if self.is_complete:
            return None
        return (f"{self.source} holds {len(self._held):,} of the {self.num_combinations:,} "
                f"factor combinations of {self.name}; the metrics need all of them")

    def rows_for(self, classes) -> np.ndarray:
        """Rows of ``imgs`` holding factor classes (N, K); DataError naming a missing one."""
        wanted = self.classes_to_index(classes)
        if self._in_grid_order:
            return wanted
        rows, missing = lookup_rows(self._held, self._order, wanted)
        if missing.any():
            example = self.index_to_classes(wanted[missing][:1])[0].tolist()
            raise DataError(f"{int(missing.sum())} requested factor combinations are not in "
                            f"{self.source} (it holds {len(self._held):,} of "
                            f"{self.num_combinations:,}), e.g. classes {example} of "
                            f"{self.factor_names}")
        return rows

    def images_uint8(self, classes, rng=None) -> np.ndarray:
        return take_rows(self.imgs, self.rows_for(classes))


def lookup_rows(held: np.ndarray, order: np.ndarray,
                wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the grid indices ``wanted`` (N,) among ``held`` (M,) (unique, sorted
    by ``order``): (rows (N,), missing (N,) bool, True where not held; its row is
    then meaningless)."""
    pos = np.clip(np.searchsorted(held, wanted, sorter=order), 0, len(held) - 1)
    rows = order[pos]
    return rows, held[rows] != wanted


def take_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """array[rows], reading a memory map in ascending order for speed."""
    rows = np.asarray(rows)
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows),) + array.shape[1:], array.dtype)
    out[order] = array[rows[order]]
    return out


def classes_from_values(values: np.ndarray, grid: tuple[np.ndarray, ...], source: str,
                        names: tuple[str, ...], *, atol: float = 1e-4) -> np.ndarray:
    """Label values (N, K) float -> classes (N, K) int64: each column's nearest grid
    value, which must lie within ``atol``; DataError naming the column otherwise."""
    values = np.asarray(values, np.float64)
    if values.ndim != 2 or values.shape[1] != len(grid):
        raise DataError(f"{source}: labels must have shape (N, {len(grid)}), got {values.shape}")
    out = np.empty(values.shape, np.int64)
    for j, (column, levels) in enumerate(zip(values.T, grid)):
        levels = np.asarray(levels, np.float64)
        nearest = np.abs(column[:, None] - levels[None, :]).argmin(axis=1)
        err = np.abs(levels[nearest] - column)
        if err.size and err.max() > atol:
            bad = int(err.argmax())
            raise DataError(f"{source}: label {names[j]!r} of row {bad} is {float(column[bad]):g}, "
                            f"not one of its {len(levels)} grid values")
        out[:, j] = nearest
    return out
