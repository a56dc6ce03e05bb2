"""Input pipeline: seeded, resumable shuffled batches, one-factor batches (DC-IGN), and a
ground-truth sampler."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

import numpy as np

from vaejax.data import factors
from vaejax.data import renderer as render_lib
from vaejax.data.dsprites import DSprites, _take_rows


def to_float(imgs: np.ndarray) -> np.ndarray:
    """uint8 0/1 images (N, 64, 64) -> float32 (N, 64, 64, 1)."""
    return imgs.astype(np.float32)[..., None]


class _WorkerError:
    def __init__(self, error: Exception):
        self.error = error


class ShuffledBatches:
    """Shuffled batches of images (B, 64, 64, 1), one permutation per epoch.

    Step ``k`` always holds the same examples for a given seed, so an iterator
    started at ``start_step=k`` yields exactly the batches an uninterrupted
    one yields from step ``k`` on. Batches run across epoch boundaries; no
    example is dropped or repeated within an epoch.

    Args:
      images: uint8 (N, 64, 64) array (a memory map is fine).
      batch_size: examples per batch.
      seed: shuffling seed; or a sequence of N seeds, one data order each:
        every batch then stacks the N batches on a new leading axis,
        (N, [steps_per_item,] B / count, 64, 64, 1) (the batches of a
        replicated run).
      start_step: the first step to yield.
      prefetch: batches prepared ahead in a background thread (0: none).
      shard: (index, count): yield only rows ``[index * B / count, (index + 1)
        * B / count)`` of every global batch (one process's part in a
        multi-process run; the processes together read each batch once).
      dtype: ``float32`` (default: values 0.0 and 1.0) or ``uint8`` (the
        stored 0/1 bytes, a quarter of the bytes to copy to an accelerator;
        cast them there).
      transform: applied to each batch where it is prepared (in the prefetch
        thread when there is one), e.g. a ``jax.device_put`` so the copy to
        the device overlaps the train step.
      steps_per_item: each item stacks the batches of this many consecutive
        steps, (steps_per_item, B / count, 64, 64, 1), and ``step`` advances
        by as many.
    """

    def __init__(self, images: np.ndarray, *, batch_size: int, seed: int,
                 start_step: int = 0, prefetch: int = 2, shard: tuple[int, int] = (0, 1),
                 dtype=np.float32, transform: Callable[[np.ndarray], Any] | None = None,
                 steps_per_item: int = 1):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        index, count = shard
        if count <= 0 or not 0 <= index < count or batch_size % count:
            raise ValueError(f"shard {shard} must be (index, count) with 0 <= index < count "
                             f"and count dividing batch_size {batch_size}")
        self.shard = (index, count)
        if start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {start_step}")
        if len(images) == 0:
            raise ValueError("cannot draw batches from an empty image array")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.uint8):
            raise ValueError(f"dtype must be float32 or uint8, got {dtype}")
        if steps_per_item <= 0:
            raise ValueError(f"steps_per_item must be positive, got {steps_per_item}")
        self.dtype = dtype
        self.transform = transform
        self.steps_per_item = steps_per_item
        self.images = images
        self._source = images  # what the constructor took (a subclass may take more)
        self.batch_size = batch_size
        self.seed = seed
        self._stacked = not isinstance(seed, (int, np.integer))
        self._seeds = tuple(int(s) for s in seed) if self._stacked else (int(seed),)
        if not self._seeds:
            raise ValueError("seed must be an integer or a non-empty sequence of integers")
        self.step = start_step  # the next step to yield
        self._prefetch = prefetch
        self._perm_cache: dict[int, np.ndarray] = {}
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def permutation(self, epoch: int, replica: int = 0) -> np.ndarray:
        """The example order of one epoch (of the ``replica``-th seed), (N,) int64."""
        cache_key = (epoch, replica)
        if cache_key not in self._perm_cache:
            if len(self._perm_cache) > 2 * len(self._seeds):
                self._perm_cache.pop(min(self._perm_cache))
            rng = np.random.default_rng([self._seeds[replica], epoch])
            self._perm_cache[cache_key] = rng.permutation(len(self.images))
        return self._perm_cache[cache_key]

    def indices(self, step: int, replica: int = 0) -> np.ndarray:
        """Example indices of batch ``step`` (of the ``replica``-th seed), (B,) int64."""
        n = len(self.images)
        positions = step * self.batch_size + np.arange(self.batch_size)
        epochs, offsets = np.divmod(positions, n)
        out = np.empty(self.batch_size, np.int64)
        for epoch in np.unique(epochs):
            sel = epochs == epoch
            out[sel] = self.permutation(int(epoch), replica)[offsets[sel]]
        return out

    def batch(self, step: int, replica: int = 0) -> np.ndarray:
        """This shard's rows of batch ``step`` (of the ``replica``-th seed),
        (B / count, 64, 64, 1) of ``dtype`` (before ``transform``)."""
        index, count = self.shard
        rows = self.batch_size // count
        picked = self.indices(step, replica)[index * rows:(index + 1) * rows]
        imgs = _take_rows(self.images, picked)
        return to_float(imgs) if self.dtype == np.float32 else imgs[..., None]

    def _prepared(self, step: int):
        k = self.steps_per_item

        def one(replica):
            if k == 1:
                return self.batch(step, replica)
            return np.stack([self.batch(step + i, replica) for i in range(k)])

        out = np.stack([one(r) for r in range(len(self._seeds))]) if self._stacked else one(0)
        return out if self.transform is None else self.transform(out)

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        if self._prefetch <= 0:
            out = self._prepared(self.step)
        else:
            if self._thread is None:
                self._start_worker()
            step, out = self._queue.get()
            assert step == self.step
            if isinstance(out, _WorkerError):
                raise RuntimeError(f"preparing batch {step} failed") from out.error
        self.step += self.steps_per_item
        return out

    def _start_worker(self) -> None:
        self._queue = out = queue.Queue(maxsize=self._prefetch)
        stop = self._stop
        first = self.step
        # The worker holds no reference to self, so a dropped iterator is
        # collected and its __del__ stops the thread; it has its own
        # permutation cache since the main thread may call indices().
        worker = self._worker()

        def run():
            step = first
            failed = False
            while not (stop.is_set() or failed):
                try:
                    item = (step, worker._prepared(step))  # pylint: disable=protected-access
                except Exception as error:  # pylint: disable=broad-except
                    item, failed = (step, _WorkerError(error)), True  # __next__ raises it
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                step += worker.steps_per_item

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def _worker(self) -> "ShuffledBatches":
        """A copy without prefetching, for the prefetch thread."""
        return type(self)(self._source, batch_size=self.batch_size, seed=self.seed,
                          prefetch=0, shard=self.shard, dtype=self.dtype,
                          transform=self.transform, steps_per_item=self.steps_per_item)

    def close(self) -> None:
        """Stops the prefetch thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __del__(self):
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()


class GroundTruth:
    """The dSprites ground-truth simulator for the metrics: factors in, images out.

    Samples factor classes uniformly over the grid (optionally holding one
    factor at a value) and returns their images, from the data set's
    ``imgs`` when it holds the whole grid, else from the renderer.

    Args:
      data: a :class:`DSprites`, or None to draw every image with the renderer.
    """

    factor_names = factors.FACTOR_NAMES
    factor_sizes = factors.FACTOR_SIZES
    # Color has one value; the metrics pick among the factors that vary.
    varying_factors = tuple(i for i, s in enumerate(factors.FACTOR_SIZES) if s > 1)

    def __init__(self, data: DSprites | None = None):
        self._data = data if data is not None and data.is_complete else None

    def sample_factors(self, num: int, rng: np.random.Generator, *,
                       fixed_factor: int | None = None,
                       fixed_value: int | None = None) -> np.ndarray:
        """Random factor classes (num, 6) int64.

        With ``fixed_factor`` set, that column takes ``fixed_value`` (or one
        value drawn at random, shared by all rows).
        """
        sizes = np.asarray(self.factor_sizes)
        classes = rng.integers(0, sizes, size=(num, len(sizes)))
        if fixed_factor is not None:
            if not 0 <= fixed_factor < len(sizes):
                raise ValueError(f"fixed_factor must lie in [0, {len(sizes) - 1}], got {fixed_factor}")
            if fixed_value is None:
                fixed_value = int(rng.integers(sizes[fixed_factor]))
            if not 0 <= fixed_value < sizes[fixed_factor]:
                raise ValueError(f"fixed_value for factor {self.factor_names[fixed_factor]!r} "
                                 f"must lie in [0, {sizes[fixed_factor] - 1}], got {fixed_value}")
            classes[:, fixed_factor] = fixed_value
        return classes

    def images(self, latents_classes) -> np.ndarray:
        """Factor classes (N, 6) -> float32 images (N, 64, 64, 1)."""
        if self._data is not None:
            return to_float(self._data.images_for(latents_classes))
        return to_float(render_lib.render(latents_classes))

    def sample(self, num: int, rng: np.random.Generator, **kwargs):
        """Random factor classes (num, 6) and their float32 images (num, 64, 64, 1)."""
        classes = self.sample_factors(num, rng, **kwargs)
        return classes, self.images(classes)


def varied_factor(step):
    """Which of ``GroundTruth.varying_factors`` batch ``step`` of
    :class:`OneFactorBatches` varies: ``step % 5`` (a Python or traced integer)."""
    return step % len(GroundTruth.varying_factors)


class OneFactorBatches(ShuffledBatches):
    """Batches that each vary one factor (DC-IGN's training batches, Kulkarni et al. 2015).

    Batch ``step`` varies factor ``GroundTruth.varying_factors[varied_factor(step)]``
    (shape, scale, orientation, posX, posY in turn): every row takes a uniform
    random class of it, while the other factors hold the classes of one random
    grid point for the whole batch. A function of (seed, step), so resuming
    yields the same batches. Images come from ``data`` when it holds the whole
    grid, else from the renderer (the simulator supplies the supervision).

    Args:
      data: a :class:`DSprites`.
      **kwargs: as :class:`ShuffledBatches` (``batch_size``, ``seed``, ...).
    """

    def __init__(self, data: DSprites, **kwargs):
        super().__init__(data.imgs, **kwargs)
        self.data = self._source = data
        self._complete = data.is_complete

    def factor_classes(self, step: int, replica: int = 0) -> np.ndarray:
        """The factor classes of batch ``step`` (of the ``replica``-th seed), (B, 6) int64."""
        rng = np.random.default_rng([self._seeds[replica], step])
        sizes = np.asarray(factors.FACTOR_SIZES)
        varied = GroundTruth.varying_factors[varied_factor(step)]
        classes = np.tile(rng.integers(0, sizes), (self.batch_size, 1))
        classes[:, varied] = rng.integers(0, sizes[varied], self.batch_size)
        return classes

    def batch(self, step: int, replica: int = 0) -> np.ndarray:
        index, count = self.shard
        rows = self.batch_size // count
        classes = self.factor_classes(step, replica)[index * rows:(index + 1) * rows]
        imgs = (_take_rows(self.images, factors.classes_to_index(classes)) if self._complete
                else render_lib.render(classes))
        return to_float(imgs) if self.dtype == np.float32 else imgs[..., None]
