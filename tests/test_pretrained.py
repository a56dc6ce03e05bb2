"""The shipped pretrained model: loads, reconstructs far better than the mean image."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaejax import losses, pretrained
from vaejax.data import GroundTruth


def test_beta_vae_broadcast_is_shipped_with_its_provenance():
    assert "beta_vae_broadcast" in pretrained.names()
    info = pretrained.info("beta_vae_broadcast")
    assert "experiments.run" in info["command"] and "seed" in info
    root = pretrained.path("beta_vae_broadcast")
    for name in ("config.json", "report.html", "README.md", "eval/metrics.json"):
        assert (root / name).is_file(), name
    assert pretrained.resolve("pretrained:beta_vae_broadcast") == root


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError,
                       match="no pretrained model 'nope'; shipped: beta_vae_broadcast"):
        pretrained.path("nope")


def test_reconstructions_beat_the_mean_image_by_a_wide_margin():
    model, params, config = pretrained.load("beta_vae_broadcast")
    assert config.architecture == "broadcast" and config.objective == "beta_vae"
    data = GroundTruth()  # rendered images, drawn independently of training
    images = jnp.asarray(data.images(data.sample_factors(256, np.random.default_rng(1))))
    mean, _ = model.apply({"params": params}, images, method=lambda m, x: m.encoder(x))
    logits = model.apply({"params": params}, mean, method=type(model).decode)
    nll = -np.mean(losses.bernoulli_log_likelihood(logits, images))
    p = jnp.clip(jnp.mean(images, axis=0, keepdims=True), 1e-4, 1 - 1e-4)
    mean_image_nll = -np.mean(losses.bernoulli_log_likelihood(
        jnp.broadcast_to(jnp.log(p) - jnp.log1p(-p), images.shape), images))
    assert mean_image_nll > 400  # ~614 nats on dSprites
    assert nll < 0.3 * mean_image_nll, (nll, mean_image_nll)
    assert np.isfinite(jax.device_get(nll))
