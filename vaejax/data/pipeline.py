"""Input pipeline: seeded, resumable shuffled batches and one-factor batches (DC-IGN)."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

import numpy as np

from vaejax.data.dsprites import DSprites, DSpritesData
from vaejax.data.ground_truth import Dataset, GroundTruthData, take_rows

# The dSprites dataset under its former name (the metrics' "ground truth").
GroundTruth = DSpritesData


def to_float(imgs: np.ndarray, max_value: int = 1) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) -> float32 (N, H, W, C) in [0, 1]
    (``max_value``: the byte of intensity 1; dSprites' 0/1 bytes: 1)."""
    out = imgs.astype(np.float32)
    if out.ndim == 3:
        out = out[..., None]
    return out if max_value == 1 else out * np.float32(1.0 / max_value)


class _WorkerError:
    def __init__(self, error: Exception):
        self.error = error


class ShuffledBatches:
    """Shuffled batches of images (B, H, W, C), one permutation per epoch.

    Step ``k`` always holds the same examples for a given seed, so an iterator
    started at ``start_step=k`` yields exactly the batches an uninterrupted
    one yields from step ``k`` on. Batches run across epoch boundaries; no
    example is dropped or repeated within an epoch.

    Args:
      images: uint8 (N, H, W) or (N, H, W, C) array (a memory map is fine),
        or a :class:`vaejax.data.ground_truth.Dataset` (its ``train_images``
        through its ``observe``: colours or noise drawn per batch from
        (seed, step), so resuming yields the same batches).
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
      dtype: ``float32`` (default: values in [0, 1]) or ``uint8`` (the
        stored bytes, a quarter of the bytes to copy to an accelerator; cast
        and scale them there: 0/1 for dSprites, 0..255 otherwise).
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
        self._source = images  # what the constructor took (a subclass may take more)
        if isinstance(images, Dataset):
            self.dataset = images
            self.images = images.train_images
            self._observe = None if images.deterministic else images.observe
            self.max_value = images.max_value
        else:
            self.dataset = None
            self.images = images
            self._observe = None
            self.max_value = 1
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
        (B / count, H, W, C) of ``dtype`` (before ``transform``)."""
        index, count = self.shard
        rows = self.batch_size // count
        part = slice(index * rows, (index + 1) * rows)
        if self._observe is None:
            imgs = take_rows(self.images, self.indices(step, replica)[part])
        else:  # drawn for the global batch, so the processes' shards agree
            rng = np.random.default_rng([self._seeds[replica], step, 1])
            imgs = self._observe(take_rows(self.images, self.indices(step, replica)), rng)[part]
        return self._output(imgs)

    def _output(self, imgs: np.ndarray) -> np.ndarray:
        if self.dtype == np.float32:
            return to_float(imgs, self.max_value)
        return imgs if imgs.ndim == 4 else imgs[..., None]

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


def varied_factor(step, num_factors: int = 5):
    """Which of a dataset's ``num_factors`` ``varying_factors`` batch ``step`` of
    :class:`OneFactorBatches` varies: ``step % num_factors`` (a Python or traced
    integer; dSprites: 5)."""
    return step % num_factors


class OneFactorBatches(ShuffledBatches):
    """Batches that each vary one factor (DC-IGN's training batches, Kulkarni et al. 2015).

    Batch ``step`` varies factor ``data.varying_factors[varied_factor(step, K)]``
    (for dSprites shape, scale, orientation, posX, posY in turn): every row
    takes a uniform random class of it, while the other factors hold the
    classes of one random grid point for the whole batch. A function of
    (seed, step), so resuming yields the same batches. Images come from
    ``data.images_uint8`` (the grid's images, or the renderer's: the
    simulator supplies the supervision).

    Args:
      data: a :class:`vaejax.data.ground_truth.GroundTruthData` that can give
        any factor combination (a :class:`DSprites` is read as dSprites).
      **kwargs: as :class:`ShuffledBatches` (``batch_size``, ``seed``, ...).
    """

    def __init__(self, data: GroundTruthData | DSprites, **kwargs):
        if isinstance(data, DSprites):
            data = DSpritesData(data)
        if not data.has_factors:
            raise ValueError(f"one-factor batches need a dataset with factors, got {data.name}")
        super().__init__(data.train_images, **kwargs)
        self.data = self._source = data
        self.max_value = data.max_value

    def factor_classes(self, step: int, replica: int = 0) -> np.ndarray:
        """The factor classes of batch ``step`` (of the ``replica``-th seed), (B, K) int64."""
        rng = np.random.default_rng([self._seeds[replica], step])
        sizes = np.asarray(self.data.factor_sizes)
        varying = self.data.varying_factors
        varied = varying[varied_factor(step, len(varying))]
        classes = np.tile(rng.integers(0, sizes), (self.batch_size, 1))
        classes[:, varied] = rng.integers(0, sizes[varied], self.batch_size)
        return classes

    def batch(self, step: int, replica: int = 0) -> np.ndarray:
        index, count = self.shard
        rows = self.batch_size // count
        part = slice(index * rows, (index + 1) * rows)
        classes = self.factor_classes(step, replica)
        if self.data.deterministic:
            imgs = self.data.images_uint8(classes[part])
        else:
            rng = np.random.default_rng([self._seeds[replica], step, 1])
            imgs = self.data.images_uint8(classes, rng)[part]
        return self._output(imgs)
