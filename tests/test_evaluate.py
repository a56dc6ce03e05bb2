import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaejax import train
from experiments import beta_vae

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke_run")
    train.train_and_evaluate(beta_vae.get_config("smoke"), workdir, progress=False)
    return workdir


def test_evaluate_command_writes_every_file(smoke_workdir):
    proc = subprocess.run([sys.executable, "-m", "experiments.evaluate", "--workdir",
                           str(smoke_workdir), "--sizes", "smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = smoke_workdir / "eval"
    for name in ("reconstructions.png", "traversals.png", "kl_per_latent.png"):
        img = np.asarray(Image.open(out / name).convert("L"), np.float32)
        assert img.shape[0] > 50 and img.shape[1] > 50
        assert img.std() > 5, f"{name} is blank"
    gif = Image.open(out / "traversals.gif")
    assert gif.n_frames == 18  # 10 values there and 8 back
    report = json.loads((out / "metrics.json").read_text())
    assert report["step"] == 30
    assert set(report["metrics"]) == {"higgins", "higgins_dlib", "factor_vae", "mig", "dci",
                                      "sap", "modularity_explicitness"}
    assert report["replica"] is None
    # The ELBO's terms on 1,024 images: a Bernoulli NLL of a 64 x 64 image, KL >= 0.
    assert 0 < report["elbo"]["reconstruction"] < 4096 * np.log(2) * 2
    assert report["elbo"]["kl"] >= 0 and report["elbo"]["images"] == 1024
    for values in report["metrics"].values():
        for v in values.values():
            assert np.isfinite(v)
    assert 0.0 <= report["metrics"]["higgins"]["eval_accuracy"] <= 1.0
    assert len(report["kl_per_latent"]) == 10
    table = report["latent_factors"]
    assert table["factors"] == ["shape", "scale", "orientation", "posX", "posY"]
    assert np.array(table["nmi"]).shape == (10, 5)
    assert all(f in table["factors"] for f in table["best_factor"])


def test_evaluate_without_checkpoint_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.evaluate", "--workdir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "no config.json" in proc.stderr


def test_traversal_limit_keeps_the_gaussian_mass_of_three_std():
    from math import erf, gamma, log, sqrt

    from vaejax.evaluation.evaluate import traversal_limit

    mass = erf(3 / sqrt(2))  # P(|z| < 3) under N(0, 1)
    assert traversal_limit("gaussian") == pytest.approx(3.0)
    b = 1 / sqrt(2)  # unit-variance Laplace: P(|z| < L) = 1 - exp(-L / b)
    assert traversal_limit("laplace") == pytest.approx(-b * log(1 - mass))
    limit = traversal_limit("gennorm4")  # integrate the density directly
    a = sqrt(gamma(0.25) / gamma(0.75))
    z = np.linspace(-limit, limit, 200_001)
    density = 2 / (a * gamma(0.25)) * np.exp(-(np.abs(z) / a) ** 4)
    assert np.trapezoid(density, z) == pytest.approx(mass, abs=1e-6)
    with pytest.raises(ValueError, match="prior must be one of"):
        traversal_limit("cauchy")
