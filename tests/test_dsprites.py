import pickle

import numpy as np
import pytest

from vaejax import data
from vaejax.data import dsprites, factors


def _real_layout(n=40, seed=0):
    index = np.sort(np.random.default_rng(seed).choice(factors.NUM_IMAGES, n, replace=False))
    classes = factors.index_to_classes(index)
    return dict(imgs=data.render(classes), latents_classes=classes,
                latents_values=factors.classes_to_values(classes))


def _write_npz(path, arrays, metadata=True):
    extra = {}
    if metadata:  # the real file's metadata entry is a pickled dict
        extra["metadata"] = np.array({"description": "dSprites"}, dtype=object)
    np.savez_compressed(path, **arrays, **extra)
    return path


def test_npz_round_trip(tmp_path):
    arrays = _real_layout()
    path = _write_npz(tmp_path / "dsprites.npz", arrays)
    ds = data.load(f"npz:{path}")
    for key, value in arrays.items():
        np.testing.assert_array_equal(getattr(ds, key), value)
    assert ds.imgs.dtype == np.uint8 and ds.latents_classes.dtype == np.int64
    assert len(ds) == 40 and not ds.is_complete
    # Lookup by factors returns the stored images, in the order asked.
    order = np.random.default_rng(1).permutation(40)
    np.testing.assert_array_equal(ds.images_for(arrays["latents_classes"][order]),
                                  arrays["imgs"][order])
    with pytest.raises(KeyError, match="not in"):
        ds.images_for([[0, 0, 0, 0, 0, 0]] if 0 not in factors.classes_to_index(
            arrays["latents_classes"]) else [[0, 2, 5, 39, 31, 31]])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        data.load(f"npz:{tmp_path / 'nope.npz'}")


def test_truncated_npz(tmp_path):
    path = _write_npz(tmp_path / "d.npz", _real_layout())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.DataError, match="truncated or corrupt"):
        data.load_npz(path)


def test_pickled_arrays_are_refused(tmp_path):
    arrays = _real_layout()
    arrays["imgs"] = np.array(list(arrays["imgs"]) + [None], dtype=object)[:-1]
    path = _write_npz(tmp_path / "d.npz", arrays)
    with pytest.raises(data.DataError, match="'imgs'.*pickled"):
        data.load_npz(path)


def test_pickle_file_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(pickle.dumps(_real_layout(), protocol=4))
    with pytest.raises(data.DataError, match="not an .npz.*pickle"):
        data.load_npz(path)


@pytest.mark.parametrize("change, match", [
    (lambda a: a.pop("latents_values"), r"missing keys \['latents_values'\]"),
    (lambda a: a.update(imgs=a["imgs"][:, :32]), r"'imgs' has shape \(40, 32, 64\)"),
    (lambda a: a.update(imgs=a["imgs"].astype(np.float32)), "'imgs' has dtype float32"),
    (lambda a: a.update(imgs=a["imgs"] * 255), "0/1 pixels"),
    (lambda a: a.update(latents_classes=a["latents_classes"][:, :5]), "'latents_classes' has shape"),
    (lambda a: a.update(latents_values=a["latents_values"] + 0.1), "do not match"),
    (lambda a: a.update(latents_classes=a["latents_classes"][:-1]), "different lengths"),
])
def test_malformed_npz(tmp_path, change, match):
    arrays = _real_layout()
    change(arrays)
    path = _write_npz(tmp_path / "d.npz", arrays)
    with pytest.raises(data.DataError, match=match):
        data.load_npz(path)


def test_hdf5_round_trip(tmp_path):
    h5py = pytest.importorskip("h5py")
    arrays = _real_layout()
    path = tmp_path / "dsprites.hdf5"
    with h5py.File(path, "w") as f:  # the released file's layout
        f["imgs"] = arrays["imgs"]
        f["latents/classes"] = arrays["latents_classes"]
        f["latents/values"] = arrays["latents_values"]
    ds = data.load(f"hdf5:{path}")
    np.testing.assert_array_equal(ds.imgs, arrays["imgs"])
    np.testing.assert_array_equal(ds.latents_classes, arrays["latents_classes"])
    broken = tmp_path / "broken.hdf5"
    broken.write_bytes(b"not hdf5 at all")
    with pytest.raises(data.DataError, match="not a readable HDF5"):
        data.load_hdf5(broken)


def _tfds_records(arrays):
    """Examples in the layout of the tfds dsprites builder."""
    names = ("label_shape", "label_scale", "label_orientation", "label_x_position",
             "label_y_position")
    return [dict(image=img[..., None], **dict(zip(names, cls[1:])))
            for img, cls in zip(arrays["imgs"], arrays["latents_classes"])]


def test_tfds_source_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    arrays = _real_layout(n=12)
    with tfds.testing.mock_data(
            num_examples=12, as_data_source_fn=lambda *a, **k: _tfds_records(arrays)):
        ds = data.load("tfds", progress=False)
    assert len(ds) == 12 and ds.imgs.dtype == np.uint8
    for key, value in arrays.items():
        np.testing.assert_array_equal(getattr(ds, key), value)


def test_tfds_random_mock_images_are_rejected():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=3):  # random 0..255 pixels
        with pytest.raises(data.DataError, match="0/1 pixels"):
            data.load("tfds", progress=False)


def test_unknown_source():
    with pytest.raises(ValueError, match="unknown dSprites source 'npz'"):
        data.load("npz")
    with pytest.raises(ValueError, match="unknown dSprites source 'png:x'"):
        data.load("png:x")


@pytest.fixture
def small_grid(monkeypatch):
    """Shrinks the grid to its first 2,048 images so the cache machinery runs fast."""
    monkeypatch.setattr(factors, "NUM_IMAGES", 2048)


def test_simulated_cache_builds_once_and_matches_renderer(small_grid, tmp_path):
    ds = data.simulated(progress=False)
    path = dsprites.simulated_cache_path()
    assert path.parent == tmp_path / "vaejax_cache" and path.exists()
    assert ds.imgs.shape == (2048, 64, 64) and ds.is_complete
    np.testing.assert_array_equal(ds.imgs, data.render(ds.latents_classes))
    np.testing.assert_array_equal(ds.latents_values, factors.classes_to_values(ds.latents_classes))
    stamp = path.stat().st_mtime_ns
    again = data.load("simulated", progress=False)
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.imgs, ds.imgs)
    assert not list(path.parent.glob("*.tmp"))


def test_corrupt_simulated_cache_is_rebuilt(small_grid):
    path = dsprites.simulated_cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        ds = data.simulated(progress=False)
    np.testing.assert_array_equal(ds.imgs[:100], data.render(ds.latents_classes[:100]))


def test_cache_dir_argument_and_env(tmp_path, monkeypatch):
    assert dsprites.simulated_cache_path(tmp_path / "x").parent == tmp_path / "x"
    monkeypatch.delenv("VAEJAX_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dsprites.default_cache_dir() == tmp_path / "xdg" / "vaejax"


@pytest.mark.slow
def test_full_simulated_set():
    ds = data.simulated(progress=False)
    assert ds.imgs.shape == (737280, 64, 64) and ds.is_complete
    index = np.random.default_rng(0).integers(0, factors.NUM_IMAGES, 2000)
    np.testing.assert_array_equal(ds.imgs[np.sort(index)],
                                  data.render(factors.index_to_classes(np.sort(index))))


def test_sample_source_holds_distinct_rendered_grid_images():
    ds = data.load("sample:300")
    index = factors.classes_to_index(ds.latents_classes)
    assert len(ds) == 300 and np.all(np.diff(index) > 0)  # distinct, in file order
    np.testing.assert_array_equal(ds.imgs, data.render(ds.latents_classes))
    np.testing.assert_array_equal(ds.latents_values, factors.classes_to_values(ds.latents_classes))
    np.testing.assert_array_equal(dsprites.sampled(300).latents_classes, ds.latents_classes)
    assert not np.array_equal(dsprites.sampled(300, seed=1).latents_classes, ds.latents_classes)
    with pytest.raises(ValueError, match="sample size"):
        dsprites.sampled(0)
