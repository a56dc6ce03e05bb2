"""Every dataset trains (beta_vae.py:smoke) and evaluates (--sizes smoke), on small files
in each official format; colour end to end.

Three datasets run by default (a colour variant with its metrics, a partial grid, a
folder without factors); the rest are marked slow.
"""

import json

import numpy as np
import pytest
from PIL import Image

from experiments import beta_vae
from vaejax import train
from vaejax.evaluation import evaluate, report

import test_datasets as files_for


def _write_source(name, tmp_path) -> str:
    """A data_source of a few hundred images in the dataset's official format."""
    if name in ("dsprites", "color_dsprites", "noisy_dsprites"):
        return "sample:512"
    if name == "scream_dsprites":
        Image.fromarray((np.random.default_rng(0).random((200, 300, 3)) * 255).astype(
            np.uint8)).save(tmp_path / "scream.png")
        return f"sample:512+image:{tmp_path / 'scream.png'}"
    if name == "shapes3d":
        images, labels, _, _ = files_for._shapes3d_arrays(n=300)
        np.savez(tmp_path / "s.npz", images=images, labels=labels)
        return f"npz:{tmp_path / 's.npz'}"
    if name == "mpi3d":
        np.savez(tmp_path / "m.npz", images=files_for._encoded(np.arange(300)))
        return f"npz:{tmp_path / 'm.npz'}"
    if name == "smallnorb":
        files_for._norb_dir(tmp_path)
        return f"dir:{tmp_path}"
    if name == "cars3d":
        sio = pytest.importorskip("scipy.io")
        for car in range(2):
            im = np.random.default_rng(car).integers(0, 256, (128, 128, 3, 24, 4), np.uint8)
            sio.savemat(tmp_path / f"car_{car:03d}_mesh.mat", {"im": im})
        return f"dir:{tmp_path}"
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (90, 70, 3), np.uint8)).save(folder / f"{i}.jpg")
    return f"dir:{folder}"


DEFAULT = ("color_dsprites", "cars3d", "images")
ALL = ("dsprites", "color_dsprites", "noisy_dsprites", "scream_dsprites", "shapes3d", "mpi3d",
       "smallnorb", "cars3d", "celeba", "images")


@pytest.mark.parametrize("name", [n if n in DEFAULT else pytest.param(n, marks=pytest.mark.slow)
                                  for n in ALL])
def test_smoke_run_and_evaluation_on_every_dataset(name, tmp_path):
    config = beta_vae.get_config("smoke")
    config.dataset = name
    config.data_source = _write_source(name, tmp_path)
    config.num_steps, config.log_every, config.checkpoint_every = 10, 5, 10
    workdir = tmp_path / "run"
    train.train_and_evaluate(config, workdir, progress=False)
    out = evaluate.evaluate(workdir, sizes="smoke", progress=False)
    channels = 1 if name in ("dsprites", "smallnorb") else 3
    with Image.open(workdir / "eval" / "reconstructions.png") as picture:
        assert picture.mode == ("L" if channels == 1 else "RGB")
    assert (workdir / "eval" / "traversals.gif").exists()
    saved = json.loads((workdir / "eval" / "metrics.json").read_text())
    assert saved["dataset"] == name
    if name in ("celeba", "images"):
        assert out["metrics"] == {} and "no ground-truth factors" in saved["metrics_skipped"]
    elif name in ("cars3d", "shapes3d", "mpi3d", "smallnorb"):
        assert out["metrics"] == {} and "factor combinations" in saved["metrics_skipped"]
    else:
        assert 0.0 <= out["metrics"]["mig"]["mig"] <= 1.0
        assert saved["latent_factors"]["factors"] == ["shape", "scale", "orientation", "posX",
                                                      "posY"]
    page = report.write_report(workdir)
    assert page.exists()
