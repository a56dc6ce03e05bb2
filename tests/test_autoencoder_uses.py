"""What autoencoders are good for: denoising curves, the 2-D code map (known answers),
and experiments.evaluate writing them for an autoencoder run."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image
from scipy import linalg

from experiments import autoencoder as autoencoder_config
from experiments import autoencoder_study, conv_autoencoder, denoising_autoencoder
from vaejax import models, objectives, train
from vaejax.evaluation import code_map, denoising, evaluate, report

ROOT = Path(__file__).resolve().parents[1]


def _binary_images(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 16, 16, 1)) < 0.3).astype(np.float32)


def test_corruptions_cost_what_they_should_on_binary_images():
    images = _binary_images()
    np.testing.assert_array_equal(denoising.corrupted("masking", 0.0, images), images)
    for rate in (0.1, 0.4):
        # salt-and-pepper: a hit pixel is wrong half the time, by 1
        noisy = denoising.corrupted("salt_and_pepper", rate, images)
        assert np.mean((noisy - images) ** 2) == pytest.approx(rate / 2, rel=0.05)
        # masking: only the ones a mask hits are wrong
        noisy = denoising.corrupted("masking", rate, images)
        assert np.mean((noisy - images) ** 2) == pytest.approx(rate * images.mean(), rel=0.05)
    # fixed draws: the same images, kind and rate give the same noise
    np.testing.assert_array_equal(denoising.corrupted("masking", 0.2, images),
                                  denoising.corrupted("masking", 0.2, images))
    with pytest.raises(ValueError, match="corruption must be one of"):
        denoising.corrupted("blur", 0.1, images)


def test_a_model_that_outputs_one_half_scores_a_quarter_at_every_rate():
    images = _binary_images()
    model = models.build_autoencoder("linear", latents=3, variational=False,
                                     image_shape=(16, 16, 1))
    params = jax.tree.map(np.zeros_like, models.init_params(model, jax.random.key(0)))
    out = denoising.curves(model, params, images, rates=(0.0, 0.25, 0.5))
    for kind in denoising.KINDS:
        np.testing.assert_allclose(out[kind]["output"], 0.25, rtol=1e-6)
        assert out[kind]["input"][0] == 0.0
        assert out[kind]["input"][1] < out[kind]["input"][2]


def test_code_map_coordinates():
    rng = np.random.default_rng(0)
    two = rng.normal(size=(300, 2))
    xy, how = code_map.coordinates(two)
    np.testing.assert_array_equal(xy, two)
    assert "the code itself" in how
    # codes on a 2-D plane inside 6-D: the PCA map keeps every distance
    basis, _ = np.linalg.qr(rng.normal(size=(6, 2)))
    codes = two @ basis.T + 3.0
    xy, how = code_map.coordinates(codes)
    d_map = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    d_code = np.linalg.norm(codes[:, None] - codes[None], axis=-1)
    np.testing.assert_allclose(d_map, d_code, atol=1e-8)
    assert "principal components" in how
    with pytest.raises(ValueError, match="codes must be"):
        code_map.coordinates(np.zeros(5))


def test_evaluate_shows_what_an_autoencoder_is_good_for(tmp_path):
    config = conv_autoencoder.get_config("smoke")
    config.latents = 2
    train.train_and_evaluate(config, tmp_path, progress=False)
    saved = evaluate.evaluate(tmp_path, sizes="smoke", progress=False, dci_trees="lightgbm")
    out = tmp_path / "eval"
    for name in ("denoising.png", "denoising_curve.png", "code_map.png"):
        picture = np.asarray(Image.open(out / name).convert("L"), np.float32)
        assert picture.std() > 5, f"{name} is blank"
    stored = json.loads((out / "metrics.json").read_text())["denoising"]
    assert stored == saved["denoising"]
    assert stored["rates"] == list(denoising.RATES)
    for kind in denoising.KINDS:
        assert len(stored[kind]["output"]) == len(denoising.RATES)
        assert stored[kind]["input"][0] == 0.0
    page = report.build_report(tmp_path)
    assert "What this autoencoder is good for" in page


def test_linear_autoencoder_spans_the_principal_subspace():
    """A linear autoencoder trained with squared error (autoencoder.py:linear) learns
    the span of the top-D principal directions (Baldi & Hornik 1989): the principal
    angles between its decoder's row space and PCA's are near zero."""
    rng = np.random.default_rng(0)
    n, side, d = 1024, 8, 3
    basis, _ = np.linalg.qr(rng.normal(size=(side * side, d)))
    x = 0.5 + (rng.normal(size=(n, d)) * [0.3, 0.2, 0.12]) @ basis.T
    x = (x + 0.01 * rng.normal(size=x.shape)).astype(np.float32).reshape(n, side, side, 1)
    config = autoencoder_config.get_config("linear,smoke")
    config.latents = d
    model = models.build_autoencoder("linear", latents=d, variational=False,
                                     image_shape=(side, side, 1))
    params = models.init_params(model, jax.random.key(0))
    objective = objectives.get("autoencoder")
    tx = optax.adam(3e-2)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, i):
        grads = jax.grad(lambda p: objective.loss(p, None, model, config, jnp.asarray(x),
                                                  jax.random.key(1), i)[0])(params)
        updates, opt = tx.update(grads, opt)
        return optax.apply_updates(params, updates), opt

    for i in range(6000):
        params, opt = step(params, opt, jnp.int32(i))
    decoder_rows = np.asarray(params["decoder"]["Dense_0"]["kernel"])  # (d, 64)
    flat = x.reshape(n, -1)
    _, _, vt = np.linalg.svd(flat - flat.mean(0), full_matrices=False)
    angles = np.degrees(linalg.subspace_angles(decoder_rows.T, vt[:d].T))
    assert angles.max() < 2.0, angles
    # and one more principal direction is not in it
    assert np.degrees(linalg.subspace_angles(decoder_rows.T, vt[d:d + 1].T)).min() > 80


def test_autoencoder_study_command(tmp_path):
    workdirs = []
    for spec, latents in (("conv_autoencoder:smoke", 2), ("autoencoder:linear,smoke", 5)):
        name, _, arg = spec.partition(":")
        config = importlib.import_module(f"experiments.{name}").get_config(arg)
        config.latents = latents
        train.train_and_evaluate(config, tmp_path / f"{name}{latents}", progress=False)
        workdirs.append(str(tmp_path / f"{name}{latents}"))
    cmd = [sys.executable, "-m", "experiments.autoencoder_study", "--workdirs",
           ",".join(workdirs), "--images", "200", "--pca_images", "500", "--pca_sizes", "2,20"]
    proc = subprocess.run(cmd + ["--study", "compression", "--output", str(tmp_path / "comp")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((tmp_path / "comp.json").read_text())["rows"]
    pca = {r["latents"]: r["mse"] for r in rows if r["model"] == "PCA"}
    assert sorted(pca) == [2, 5, 20]  # the sizes asked for and the models' own
    assert pca[2] > pca[5] > pca[20] > 0
    assert {r["model"] for r in rows} == {"PCA", "conv autoencoder", "linear autoencoder"}
    assert (tmp_path / "comp.png").stat().st_size > 1000
    proc = subprocess.run(cmd + ["--study", "denoising", "--output", str(tmp_path / "den")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    models_ = json.loads((tmp_path / "den.json").read_text())["models"]
    assert len(models_) == 2
    assert all(len(m["masking"]["output"]) == len(denoising.RATES) for m in models_.values())


def test_squared_error_autoencoders_are_shown_through_the_identity():
    config = autoencoder_config.get_config("linear,smoke")
    assert denoising.output_link(config) == "identity"
    assert denoising.output_link(conv_autoencoder.get_config("smoke")) == "sigmoid"
    model = models.build_autoencoder("linear", latents=3, variational=False,
                                     image_shape=(8, 8, 1))
    params = models.init_params(model, jax.random.key(0))
    params = jax.tree.map(lambda x: 5.0 * x, params)
    z = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)), jnp.float32)
    out = np.asarray(model.apply({"params": params}, z, method=models.Autoencoder.decode))
    np.testing.assert_allclose(evaluate._decode(model, params, z, "identity"),
                               np.clip(out, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(evaluate._decode(model, params, z), 1 / (1 + np.exp(-out)),
                               rtol=1e-5)
    assert out.min() < 0 or out.max() > 1  # so the clip above was tested
    # errors are measured on the unclipped output, pictures on the clipped one
    np.testing.assert_array_equal(denoising.apply_link(out, "identity"), out)
    np.testing.assert_allclose(denoising.apply_link(out, "sigmoid"), 1 / (1 + np.exp(-out)),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="link must be sigmoid or identity"):
        denoising.output_fn(model, params, link="tanh")


def test_the_study_tells_pooling_and_upsampling_models_apart():
    assert autoencoder_study._label(conv_autoencoder.get_config("smoke")) == "conv autoencoder"
    assert autoencoder_study._label(conv_autoencoder.get_config("max_pool,smoke")) == (
        "conv autoencoder (max_pool, transpose)")
    assert autoencoder_study._label(conv_autoencoder.get_config("avg_pool,bilinear")) == (
        "conv autoencoder (avg_pool, bilinear)")
    assert autoencoder_study._label(autoencoder_config.get_config("linear")) == (
        "linear autoencoder")
    assert autoencoder_study._label(denoising_autoencoder.get_config("masking")) == (
        "conv denoising autoencoder (masking 30%)")
