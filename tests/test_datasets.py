"""The dataset interface and every loader, on small files the tests write in each
official format (keys, dtypes and axis order as disentanglement_lib reads them).

Each image encodes its own grid index in its pixels (:func:`_encoded`), so a round
trip factor classes -> index -> image -> the loader's labels checks both the
labels and the image order.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaejax.data import (cars3d, celeba, datasets, files, image_folder, mpi3d, pipeline,
                         shapes3d, smallnorb)
from vaejax.data.ground_truth import ArrayGroundTruth
from vaejax.errors import ConfigError, DataError, DataFileNotFoundError
from experiments import beta_vae
from vaejax.evaluation import baselines, evaluate, metrics


def _encoded(index: np.ndarray, shape=(64, 64, 3)) -> np.ndarray:
    """uint8 images whose first pixel holds the index in base 256 (flat images otherwise)."""
    out = np.zeros((len(index),) + shape, np.uint8)
    for k in range(shape[-1]):
        out[:, 0, 0, k] = (index // 256 ** k) % 256
    out[:, 1:, 1:] = 40
    return out


def _decoded(images: np.ndarray) -> np.ndarray:
    return sum(images[:, 0, 0, k].astype(np.int64) * 256 ** k for k in range(images.shape[-1]))


# --- the registry ---------------------------------------------------------------------

def test_every_dataset_is_registered_with_its_shape_and_factors():
    assert datasets.NAMES == ("dsprites", "color_dsprites", "noisy_dsprites", "scream_dsprites",
                              "shapes3d", "mpi3d", "smallnorb", "cars3d", "celeba", "images")
    assert datasets.scored_factor_names("smallnorb") == ("category", "elevation", "azimuth",
                                                         "lighting")
    assert datasets.scored_factor_names("color_dsprites") == ("shape", "scale", "orientation",
                                                              "posX", "posY")
    assert datasets.scored_factor_names("celeba") == ()
    assert mpi3d.NUM_IMAGES == 1_036_800
    assert np.prod(shapes3d.FACTOR_SIZES) == 480_000
    assert np.prod(cars3d.FACTOR_SIZES) == 183 * 4 * 24
    with pytest.raises(ConfigError, match="config.dataset must be one of"):
        datasets.dataset_class("mnist")
    with pytest.raises(ConfigError, match="no ground-truth factors"):
        datasets.ground_truth("images", "dir:/nowhere")


def test_grid_index_round_trip_matches_disentanglement_libs_bases():
    # disentanglement_lib: factor_bases = prod(sizes) / cumprod(sizes)
    for cls in (shapes3d.Shapes3D, mpi3d.MPI3D, smallnorb.SmallNORB, cars3d.Cars3D):
        sizes = np.asarray(cls.factor_sizes)
        data = cls.__new__(cls)
        np.testing.assert_array_equal(data.factor_bases, np.prod(sizes) // np.cumprod(sizes))
        rng = np.random.default_rng(0)
        classes = data.sample_factors(500, rng)
        np.testing.assert_array_equal(data.index_to_classes(data.classes_to_index(classes)),
                                      classes)


# --- Shapes3D ---------------------------------------------------------------------------

def _shapes3d_arrays(n=300, seed=0):
    index = np.sort(np.random.default_rng(seed).choice(480_000, n, replace=False))
    data = shapes3d.Shapes3D.__new__(shapes3d.Shapes3D)
    classes = data.index_to_classes(index)
    labels = np.stack([shapes3d.FACTOR_VALUES[j][classes[:, j]] for j in range(6)], axis=1)
    return _encoded(index), labels.astype(np.float64), classes, index


def _check_shapes3d(ds, classes, index):
    assert ds.observation_shape == (64, 64, 3) and not ds.is_complete
    np.testing.assert_array_equal(_decoded(ds.images_uint8(classes)), index)
    np.testing.assert_array_equal(ds.classes, classes)
    np.testing.assert_allclose(ds.classes_to_values(classes[:1])[0, 3],
                               np.linspace(0.75, 1.25, 8)[classes[0, 3]])
    assert "300 of the 480,000" in ds.missing_message()


def test_shapes3d_from_deepminds_h5(tmp_path):
    h5py = pytest.importorskip("h5py")
    images, labels, classes, index = _shapes3d_arrays()
    path = tmp_path / "3dshapes.h5"
    with h5py.File(path, "w") as f:
        f["images"] = images
        f["labels"] = labels
    _check_shapes3d(datasets.load("shapes3d", f"hdf5:{path}"), classes, index)
    with h5py.File(tmp_path / "wrong.h5", "w") as f:
        f["imgs"] = images
        f["labels"] = labels
    with pytest.raises(DataError, match=r"wrong.h5: missing datasets \['images'\]"):
        datasets.load("shapes3d", f"hdf5:{tmp_path / 'wrong.h5'}")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="truncated.h5: not a readable HDF5"):
        datasets.load("shapes3d", f"hdf5:{truncated}")


def test_shapes3d_from_disentanglement_libs_npz(tmp_path):
    images, labels, classes, index = _shapes3d_arrays()
    np.savez(tmp_path / "flat.npz", images=images, labels=labels)
    _check_shapes3d(datasets.load("shapes3d", f"npz:{tmp_path / 'flat.npz'}"), classes, index)
    np.savez(tmp_path / "bad_dtype.npz", images=images.astype(np.float32), labels=labels)
    with pytest.raises(DataError, match="'images' has dtype float32, expected uint8"):
        datasets.load("shapes3d", f"npz:{tmp_path / 'bad_dtype.npz'}")
    np.savez(tmp_path / "bad_shape.npz", images=images[:, :32], labels=labels)
    with pytest.raises(DataError, match=r"'images' has shape \(300, 32, 64, 3\)"):
        datasets.load("shapes3d", f"npz:{tmp_path / 'bad_shape.npz'}")
    off_grid = labels.copy()
    off_grid[5, 3] = 0.8
    np.savez(tmp_path / "off_grid.npz", images=images, labels=off_grid)
    with pytest.raises(DataError, match="label 'scale' of row 5 is 0.8"):
        datasets.load("shapes3d", f"npz:{tmp_path / 'off_grid.npz'}")
    raw = (tmp_path / "flat.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(DataError, match="cut.npz"):
        datasets.load("shapes3d", f"npz:{tmp_path / 'cut.npz'}")
    with pytest.raises(DataFileNotFoundError, match="shapes3d file not found"):
        datasets.load("shapes3d", f"npz:{tmp_path / 'absent.npz'}")
    with pytest.raises(DataError, match="reads 'hdf5:PATH', 'npz:PATH', 'tfds'"):
        datasets.load("shapes3d", "sample:2048")


def test_large_npz_members_stream_into_the_cache(tmp_path, monkeypatch):
    images, labels, classes, index = _shapes3d_arrays(n=40)
    np.savez(tmp_path / "s.npz", images=images, labels=labels)
    monkeypatch.setattr(files, "IN_MEMORY_BYTES", 1000)
    ds = datasets.load("shapes3d", f"npz:{tmp_path / 's.npz'}")
    assert isinstance(ds.imgs, np.memmap)
    np.testing.assert_array_equal(_decoded(ds.images_uint8(classes)), index)


def test_shapes3d_through_tfds_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    images, _, classes, index = _shapes3d_arrays(n=12)
    records = [dict(image=img, **{f"label_{n}": c[j] for j, n in
                                  enumerate(shapes3d.FACTOR_NAMES)})
               for img, c in zip(images, classes)]
    with tfds.testing.mock_data(num_examples=12, as_data_source_fn=lambda *a, **k: records):
        ds = datasets.load("shapes3d", "tfds", progress=False)
    np.testing.assert_array_equal(_decoded(ds.images_uint8(classes)), index)


# --- MPI3D --------------------------------------------------------------------------------

def test_mpi3d_npz_is_read_in_grid_order(tmp_path):
    n = 500
    np.savez(tmp_path / "mpi3d_toy.npz", images=_encoded(np.arange(n)))
    ds = datasets.load("mpi3d", f"npz:{tmp_path / 'mpi3d_toy.npz'}")
    classes = ds.index_to_classes(np.arange(0, n, 7))
    assert classes[-1].tolist() == [0, 0, 0, 0, 0, 12, 17]  # 497 = 12 * 40 + 17
    np.testing.assert_array_equal(_decoded(ds.images_uint8(classes)), np.arange(0, n, 7))
    with pytest.raises(DataError, match="requested factor combinations are not in"):
        ds.images_uint8([[5, 5, 1, 2, 2, 39, 39]])
    np.savez(tmp_path / "nokey.npz", imgs=_encoded(np.arange(4)))
    with pytest.raises(DataError, match=r"missing key 'images' \(found \['imgs'\]\)"):
        datasets.load("mpi3d", f"npz:{tmp_path / 'nokey.npz'}")


# --- SmallNORB ----------------------------------------------------------------------------

def _write_norb(path, array):
    """NORB's binary matrix format: magic, ndim, max(3, ndim) dims, data (little endian)."""
    magic = {np.dtype(np.uint8): 0x1E3D4C55, np.dtype(np.int32): 0x1E3D4C54}[array.dtype]
    dims = list(array.shape) + [1] * (3 - array.ndim)
    header = np.array([magic, array.ndim] + dims, "<i4").tobytes()
    path.write_bytes(header + array.astype(array.dtype.newbyteorder("<")).tobytes())


def _norb_dir(tmp_path, n=30):
    rng = np.random.default_rng(0)
    truth = []
    for chunk, instances in zip(smallnorb.CHUNKS, ([4, 6, 7, 8, 9], [0, 1, 2, 3, 5])):
        cat = rng.integers(0, 5, n).astype(np.int32)
        info = np.stack([rng.choice(instances, n), rng.integers(0, 9, n),
                         2 * rng.integers(0, 18, n), rng.integers(0, 6, n)], 1).astype(np.int32)
        dat = np.zeros((n, 2, 96, 96), np.uint8)
        dat[:, 0] = (np.arange(n) * 7 + 3)[:, None, None]  # flat images, one grey each
        dat[:, 1] = 255
        for part, array in (("dat", dat), ("cat", cat), ("info", info)):
            _write_norb(tmp_path / f"smallnorb-{chunk}-{part}.mat", array)
        classes = np.column_stack([cat, info]).astype(np.int64)
        classes[:, 3] //= 2
        truth.append((classes, dat[:, 0, 0, 0]))
    return truth


def test_smallnorb_reads_the_original_files(tmp_path):
    truth = _norb_dir(tmp_path)
    ds = datasets.load("smallnorb", f"dir:{tmp_path}")
    assert ds.imgs.shape == (60, 64, 64, 1) and ds.nuisance_factors == (1,)
    assert ds.varying_factors == (0, 2, 3, 4)
    for classes, grey in truth:
        _, keep = np.unique(ds.classes_to_index(classes), return_index=True)
        np.testing.assert_array_equal(ds.images_uint8(classes[keep])[:, 32, 32, 0], grey[keep])
    # a truncated matrix and a missing file
    dat = tmp_path / f"smallnorb-{smallnorb.CHUNKS[0]}-dat.mat"
    dat.write_bytes(dat.read_bytes()[:-100])
    with pytest.raises(DataError, match="-dat.mat: truncated"):
        datasets.load("smallnorb", f"dir:{tmp_path}")
    dat.unlink()
    with pytest.raises(DataFileNotFoundError, match="-dat.mat"):
        datasets.load("smallnorb", f"dir:{tmp_path}")


# --- Cars3D ------------------------------------------------------------------------------

def test_cars3d_reads_mat_files_in_name_order(tmp_path):
    sio = pytest.importorskip("scipy.io")
    for car in range(3):
        im = np.zeros((128, 128, 3, 24, 4), np.uint8)
        im[:, :, 0] = (np.arange(24) * 10)[None, None, :, None]
        im[:, :, 1] = (np.arange(4) * 60)[None, None, None, :]
        im[:, :, 2] = car * 100
        sio.savemat(tmp_path / f"car_{car:03d}_mesh.mat", {"im": im})
    ds = datasets.load("cars3d", f"dir:{tmp_path}", progress=False)
    assert ds.imgs.shape == (288, 64, 64, 3) and not ds.is_complete
    classes = np.array([[3, 23, 2], [0, 5, 1], [2, 0, 0]])  # elevation, azimuth, car
    got = ds.images_uint8(classes)[:, 10, 10]
    np.testing.assert_array_equal(got, [[230, 180, 200], [50, 0, 100], [0, 120, 0]])
    sio.savemat(tmp_path / "car_998_mesh.mat", {"img": np.zeros(3)})
    with pytest.raises(DataError, match=r"car_998_mesh.mat: no 'im' array .*\['img'\]"):
        datasets.load("cars3d", f"dir:{tmp_path}", progress=False)
    (tmp_path / "car_998_mesh.mat").write_bytes(b"garbage" * 10)
    with pytest.raises(DataError, match="car_998_mesh.mat: not a readable .mat file"):
        datasets.load("cars3d", f"dir:{tmp_path}", progress=False)


def test_smallnorb_and_celeba_through_tfds_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    rng = np.random.default_rng(0)
    norb = [dict(image=np.full((96, 96, 1), 10 * i, np.uint8), image2=np.zeros((96, 96, 1)),
                 label_category=i % 5, instance=i % 10, label_elevation=i % 9,
                 label_azimuth=i % 18, label_lighting=i % 6) for i in range(12)]

    def by_split(*args, **kwargs):
        split = kwargs.get("split", args[1] if len(args) > 1 else None)
        return norb[:6] if "train" in str(split) else norb[6:]

    with tfds.testing.mock_data(num_examples=6, as_data_source_fn=by_split):
        ds = datasets.load("smallnorb", "tfds", progress=False)
    assert ds.imgs.shape == (12, 64, 64, 1)  # train and test splits
    got = ds.images_uint8([[3, 3, 3, 3, 3]])  # example 3: category 3, instance 3, ...
    assert got[0, 32, 32, 0] == 30
    faces = [dict(image=rng.integers(0, 256, (218, 178, 3), np.uint8)) for _ in range(5)]
    with tfds.testing.mock_data(num_examples=5, as_data_source_fn=lambda *a, **k: faces):
        ds = datasets.load("celeba", "tfds", progress=False)
    assert ds.imgs.shape == (5, 64, 64, 3)


# --- pictures without factors -------------------------------------------------------------

def test_image_folder_reads_nested_pictures_centre_cropped(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = (200, 10, 10)  # the centre square is red, the sides black
    Image.fromarray(wide).save(tmp_path / "a" / "wide.png")
    Image.fromarray(np.full((30, 30), 77, np.uint8)).save(tmp_path / "a" / "b" / "grey.jpg")
    (tmp_path / "notes.txt").write_text("not a picture")
    ds = datasets.load("images", f"dir:{tmp_path}", progress=False)
    assert ds.imgs.shape == (2, 64, 64, 3) and not ds.has_factors
    # sorted by path: a/b/grey.jpg, then a/wide.png
    np.testing.assert_allclose(ds.imgs[0], 77, atol=2)
    np.testing.assert_allclose(ds.imgs[1].reshape(-1, 3).mean(0), [200, 10, 10], atol=2)
    grey = datasets.load("images", f"dir:{tmp_path}", channels=1, progress=False)
    assert grey.imgs.shape == (2, 64, 64, 1)
    with pytest.raises(DataError, match="no ground-truth factors"):
        ds.sample_factors(3, np.random.default_rng(0))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png is not a readable picture"):
        datasets.load("images", f"dir:{tmp_path}", progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty: no pictures found"):
        image_folder.load(f"dir:{empty}")


def test_celeba_crops_the_centre_140_square(tmp_path):
    face = np.zeros((218, 178, 3), np.uint8)
    face[39:179, 19:159] = (30, 160, 90)  # the centre 140 x 140 box
    for i in range(3):
        Image.fromarray(face).save(tmp_path / f"{i:06d}.jpg", quality=95)
    ds = celeba.load(f"dir:{tmp_path}", progress=False)
    assert ds.imgs.shape == (3, 64, 64, 3)
    np.testing.assert_allclose(ds.imgs[:, 2:-2, 2:-2].reshape(-1, 3).mean(0), [30, 160, 90],
                               atol=4)


# --- the dSprites variants ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["color_dsprites", "noisy_dsprites", "scream_dsprites"])
def test_dsprites_variants_draw_as_disentanglement_lib(name):
    ds = datasets.load(name, "sample:256")
    rng = np.random.default_rng(0)
    classes = ds.sample_factors(64, rng)
    masks = ds.masks(classes).astype(bool)
    x = ds.images_uint8(classes, np.random.default_rng(1))
    assert x.shape == (64, 64, 64, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, ds.images_uint8(classes, np.random.default_rng(1)))
    sprite, ground = x[masks], x[~masks]
    if name == "color_dsprites":  # sprite: one colour in [0.5, 1] per image; black ground
        assert ground.max() == 0 and sprite.min() >= 127
        per_image = [np.unique(x[i][masks[i]], axis=0) for i in range(8)]
        assert all(len(p) == 1 for p in per_image)
    elif name == "noisy_dsprites":  # white sprite on uniform noise
        assert sprite.min() == 255 and abs(ground.mean() - 127.5) < 2
    else:  # background (patch + colour) / 2; the sprite inverts it
        patch = ds.background
        assert ground.mean() > 20 and sprite.mean() > 20
        assert patch.shape[0] > 64 and "generated texture" in ds.source


def test_scream_reads_the_users_picture_and_keeps_the_dsprites_source(tmp_path):
    Image.fromarray(np.full((300, 400, 3), 100, np.uint8)).save(tmp_path / "scream.jpg")
    ds = datasets.load("scream_dsprites", f"sample:128+image:{tmp_path / 'scream.jpg'}")
    assert ds.background.shape == (263, 350, 3) and len(ds.train_images) == 128  # 4:3 in 350
    x = ds.images_uint8(ds.sample_factors(16, np.random.default_rng(0)),
                        np.random.default_rng(0)).astype(int)
    masks = ds.masks(ds.sample_factors(16, np.random.default_rng(0))).astype(bool)
    # ground (100/255 + u) / 2; inside the sprite 1 minus that: the two sum to 255
    ground = x[~masks].reshape(-1, 3)
    assert ground.min() >= 49 and ground.max() <= 178
    with pytest.raises(ConfigError, match="background of scream_dsprites only"):
        datasets.load("color_dsprites", f"image:{tmp_path / 'scream.jpg'}")
    (tmp_path / "tiny.png").write_bytes(b"")
    with pytest.raises(DataError, match="tiny.png: not a readable picture"):
        datasets.load("scream_dsprites", f"image:{tmp_path / 'tiny.png'}")


def test_variant_batches_resume_and_shard_exactly():
    ds = datasets.load("noisy_dsprites", "sample:512")
    run = pipeline.ShuffledBatches(ds, batch_size=16, seed=3, prefetch=2, dtype=np.uint8)
    first = [next(run) for _ in range(6)]
    run.close()
    resumed = pipeline.ShuffledBatches(ds, batch_size=16, seed=3, start_step=4, prefetch=0,
                                       dtype=np.uint8)
    np.testing.assert_array_equal(next(resumed), first[4])
    halves = [pipeline.ShuffledBatches(ds, batch_size=16, seed=3, shard=(i, 2), prefetch=0,
                                       dtype=np.uint8) for i in range(2)]
    np.testing.assert_array_equal(np.concatenate([next(h) for h in halves]), first[0])
    floats = pipeline.ShuffledBatches(ds, batch_size=16, seed=3, prefetch=0)
    np.testing.assert_allclose(next(floats), first[0] / 255, atol=1e-7)


# --- the metrics on any ground-truth dataset --------------------------------------------

class _Tiny(ArrayGroundTruth):
    name = "tiny"
    factor_names = ("a", "b", "c")
    factor_sizes = (4, 5, 6)
    observation_shape = (8, 8, 3)


def test_metrics_run_on_any_complete_ground_truth_dataset():
    index = np.arange(120)
    tiny = _Tiny(_encoded(index, (8, 8, 3)), _Tiny.__new__(_Tiny).index_to_classes(index), "t")
    assert tiny.is_complete and tiny.missing_message() is None
    truth = baselines.GroundTruthFactors(data=tiny)
    assert metrics.mig(truth, tiny, seed=0, num_train=2000)["mig"] > 0.9
    assert metrics.higgins_metric_dlib(truth, tiny, seed=0, num_train=200,
                                       num_eval=100)["eval_accuracy"] == 1.0
    table = metrics.latent_factor_table(truth, tiny, seed=0, num_points=500)
    assert table["best_factor"] == ["a", "b", "c"]


# --- errors from the command line -----------------------------------------------------------

def test_an_empty_folder_is_one_line_and_exit_status_2(tmp_path):
    (tmp_path / "pics").mkdir()
    cmd = [sys.executable, "-m", "experiments.run", "--config", "experiments/beta_vae.py:smoke",
           "--workdir", str(tmp_path / "w"), "--config.dataset=images",
           f"--config.data_source=dir:{tmp_path / 'pics'}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         cwd=Path(__file__).parents[1])
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: dir:") and "no pictures found" in last


def test_evaluation_keeps_the_runs_scream_picture_and_draws_with_the_renderer(tmp_path):



    Image.fromarray(np.full((300, 400, 3), 100, np.uint8)).save(tmp_path / "scream.png")
    config = beta_vae.get_config("smoke")
    config.dataset = "scream_dsprites"
    config.data_source = f"sample:64+image:{tmp_path / 'scream.png'}"
    data = evaluate.dataset_for(config, None, sizes="smoke")
    assert data.data is None  # the renderer, not the cached grid
    assert data.background_source == f"image:{tmp_path / 'scream.png'}"
    config.dataset, config.data_source = "shapes3d", "npz:/nowhere.npz"
    with pytest.raises(DataFileNotFoundError, match="nowhere.npz"):
        evaluate.dataset_for(config, None, sizes="smoke")


def test_writing_npy_renames_only_a_finished_file(tmp_path):
    target = tmp_path / "cache" / "a.npy"
    with pytest.raises(RuntimeError):
        with files.writing_npy(target, np.uint8, (3, 2)) as out:
            out[:] = 7
            raise RuntimeError("interrupted")
    assert not target.exists() and list(target.parent.iterdir()) == []
    with files.writing_npy(target, np.uint8, (3, 2)) as out:
        out[:] = np.arange(6).reshape(3, 2)
    np.testing.assert_array_equal(np.load(target), np.arange(6).reshape(3, 2))
    assert list(target.parent.iterdir()) == [target]
