import itertools

import numpy as np
import pytest

from vaejax import data
from vaejax.data import factors


@pytest.fixture(scope="module")
def images():
    # 100 distinct images: image i has i white pixels, so values identify rows.
    imgs = np.zeros((100, 64, 64), np.uint8)
    for i in range(100):
        imgs[i].flat[:i] = 1
    return imgs


def _ids(batch):
    return batch.reshape(len(batch), -1).sum(1).astype(int)


def test_batches_shape_dtype_and_content(images):
    it = data.ShuffledBatches(images, batch_size=8, seed=0)
    batch = next(it)
    assert batch.shape == (8, 64, 64, 1) and batch.dtype == np.float32
    np.testing.assert_array_equal(_ids(batch), it.indices(0))
    it.close()


@pytest.mark.parametrize("prefetch", [0, 3])
def test_each_epoch_is_a_permutation(images, prefetch):
    it = data.ShuffledBatches(images, batch_size=7, seed=3, prefetch=prefetch)
    seen = np.concatenate([_ids(b) for b in itertools.islice(it, 30)])  # 210 examples
    it.close()
    np.testing.assert_array_equal(np.sort(seen[:100]), np.arange(100))
    np.testing.assert_array_equal(np.sort(seen[100:200]), np.arange(100))
    assert not np.array_equal(seen[:100], seen[100:200])  # reshuffled


def test_same_seed_same_batches_other_seed_other_batches(images):
    a = data.ShuffledBatches(images, batch_size=16, seed=5, prefetch=0)
    b = data.ShuffledBatches(images, batch_size=16, seed=5, prefetch=2)
    c = data.ShuffledBatches(images, batch_size=16, seed=6, prefetch=0)
    for _ in range(10):
        x, y, z = next(a), next(b), next(c)
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(x, z)
    b.close()


@pytest.mark.parametrize("k", [1, 6, 13, 40])
def test_resume_from_step_gives_the_uninterrupted_batches(images, k):
    straight = data.ShuffledBatches(images, batch_size=9, seed=1, prefetch=0)
    expected = list(itertools.islice(straight, k + 10))[k:]
    resumed = data.ShuffledBatches(images, batch_size=9, seed=1, start_step=k)
    assert resumed.step == k
    got = list(itertools.islice(resumed, 10))
    assert resumed.step == k + 10
    resumed.close()
    for x, y in zip(expected, got):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_uint8_batches_and_transform_give_the_float_batches(images, prefetch):
    floats = data.ShuffledBatches(images, batch_size=8, seed=4, prefetch=0)
    calls = []

    def transform(rows):
        calls.append(rows.dtype)
        return ("moved", rows)

    raw = data.ShuffledBatches(images, batch_size=8, seed=4, prefetch=prefetch,
                               dtype=np.uint8, transform=transform)
    for _ in range(5):
        tag, batch = next(raw)
        assert tag == "moved" and batch.dtype == np.uint8 and batch.shape == (8, 64, 64, 1)
        np.testing.assert_array_equal(batch.astype(np.float32), next(floats))
    raw.close()
    assert set(calls) == {np.dtype(np.uint8)} and len(calls) >= 5


@pytest.mark.parametrize("prefetch", [0, 2])
def test_steps_per_item_stacks_consecutive_batches(images, prefetch):
    single = data.ShuffledBatches(images, batch_size=6, seed=2, prefetch=0, start_step=3)
    stacked = data.ShuffledBatches(images, batch_size=6, seed=2, prefetch=prefetch,
                                   start_step=3, steps_per_item=4)
    for _ in range(3):
        item = next(stacked)
        assert item.shape == (4, 6, 64, 64, 1)
        for batch in item:
            np.testing.assert_array_equal(batch, next(single))
    assert stacked.step == single.step == 15
    stacked.close()


def test_a_failing_transform_is_raised_not_hung(images):
    def transform(rows):
        raise OSError("device gone")

    it = data.ShuffledBatches(images, batch_size=4, seed=0, prefetch=2, transform=transform)
    with pytest.raises(RuntimeError, match="preparing batch 0 failed") as info:
        next(it)
    assert isinstance(info.value.__cause__, OSError)
    it.close()


def test_bad_arguments(images):
    with pytest.raises(ValueError, match="batch_size"):
        data.ShuffledBatches(images, batch_size=0, seed=0)
    with pytest.raises(ValueError, match="start_step"):
        data.ShuffledBatches(images, batch_size=2, seed=0, start_step=-1)
    with pytest.raises(ValueError, match="empty"):
        data.ShuffledBatches(images[:0], batch_size=2, seed=0)
    with pytest.raises(ValueError, match="dtype"):
        data.ShuffledBatches(images, batch_size=2, seed=0, dtype=np.float16)
    with pytest.raises(ValueError, match="steps_per_item"):
        data.ShuffledBatches(images, batch_size=2, seed=0, steps_per_item=0)


def test_ground_truth_sampler_holds_a_factor_fixed():
    gt = data.GroundTruth()
    rng = np.random.default_rng(0)
    classes = gt.sample_factors(500, rng, fixed_factor=3)
    assert classes.shape == (500, 6)
    assert len(np.unique(classes[:, 3])) == 1
    assert len(np.unique(classes[:, 4])) > 20  # the others vary
    assert (classes < np.array(factors.FACTOR_SIZES)).all() and (classes >= 0).all()
    classes = gt.sample_factors(10, rng, fixed_factor=1, fixed_value=2)
    assert (classes[:, 1] == 2).all()
    assert gt.varying_factors == (1, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="fixed_value for factor 'shape'"):
        gt.sample_factors(3, rng, fixed_factor=1, fixed_value=3)


def test_ground_truth_sampler_covers_the_grid_uniformly():
    classes = data.GroundTruth().sample_factors(60000, np.random.default_rng(1))
    counts = np.bincount(classes[:, 2], minlength=6)
    np.testing.assert_allclose(counts / 60000, 1 / 6, atol=0.01)


def test_ground_truth_images_match_renderer_and_lookup(monkeypatch, tmp_path):
    monkeypatch.setattr(factors, "NUM_IMAGES", 1024)  # a small complete "grid"
    ds = data.simulated(progress=False)
    from_data = data.GroundTruth(ds)
    from_renderer = data.GroundTruth()
    classes = factors.index_to_classes(np.random.default_rng(2).integers(0, 1024, 50))
    a, b = from_data.images(classes), from_renderer.images(classes)
    assert a.shape == (50, 64, 64, 1) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    _, imgs = from_renderer.sample(4, np.random.default_rng(0))
    assert imgs.shape == (4, 64, 64, 1) and (imgs.sum((1, 2, 3)) > 0).all()
