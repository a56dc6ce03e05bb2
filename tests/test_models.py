import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaejax import models


def dense(n_in, n_out):
    return n_in * n_out + n_out


def conv(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def _count(tree):
    return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(tree))


D = 10
HEADS = 2 * dense(256, D)
EXPECTED = {
    # Higgins et al. 2017: 4096-1200-1200 encoder, 10-1200-1200-1200-4096 decoder.
    ("fc", True): dense(4096, 1200) + dense(1200, 1200) + 2 * dense(1200, D)
    + dense(D, 1200) + 2 * dense(1200, 1200) + dense(1200, 4096),
    ("conv", True): conv(4, 1, 32) + conv(4, 32, 32) + conv(2, 32, 64) + conv(2, 64, 64)
    + dense(1024, 256) + HEADS
    + dense(D, 256) + dense(256, 1024) + conv(4, 64, 64) + conv(4, 64, 32) + conv(4, 32, 32)
    + conv(4, 32, 1),
    ("conv", False): conv(4, 1, 32) + conv(4, 32, 32) + conv(2, 32, 64) + conv(2, 64, 64)
    + dense(1024, 256) + dense(256, D)
    + dense(D, 256) + dense(256, 1024) + conv(4, 64, 64) + conv(4, 64, 32) + conv(4, 32, 32)
    + conv(4, 32, 1),
    ("deep_fc", False): dense(4096, 1000) + dense(1000, 500) + dense(500, 250) + dense(250, D)
    + dense(D, 250) + dense(250, 500) + dense(500, 1000) + dense(1000, 4096),
    ("linear", False): dense(4096, D) + dense(D, 4096),
}


@pytest.mark.parametrize("arch, variational", sorted(EXPECTED))
def test_parameter_counts(arch, variational):
    model = models.build(arch, latents=D, variational=variational)
    params = models.init_params(model, jax.random.key(0))
    assert _count(params) == EXPECTED[arch, variational]


@pytest.mark.parametrize("arch", ["fc", "conv"])
def test_vae_outputs(arch):
    model = models.build(arch, latents=7, variational=True)
    params = models.init_params(model, jax.random.key(0))
    x = jnp.zeros((3, 64, 64, 1))
    out = model.apply({"params": params}, x, jax.random.key(1))
    assert out["logits"].shape == (3, 64, 64, 1)
    assert out["mean"].shape == out["logvar"].shape == out["z"].shape == (3, 7)
    code = model.apply({"params": params}, x, method=models.Autoencoder.encode)
    np.testing.assert_array_equal(code, out["mean"])
    logits = model.apply({"params": params}, out["z"], method=models.Autoencoder.decode)
    np.testing.assert_allclose(logits, out["logits"], rtol=1e-6, atol=1e-6)


def test_deterministic_autoencoder_needs_no_key_and_vae_does():
    ae = models.build("deep_fc", latents=4, variational=False)
    params = models.init_params(ae, jax.random.key(0))
    out = ae.apply({"params": params}, jnp.ones((2, 64, 64, 1)))
    assert out["code"].shape == (2, 4) and "mean" not in out
    vae = models.build("fc", latents=4, variational=True)
    vparams = models.init_params(vae, jax.random.key(0))
    with pytest.raises(ValueError, match="PRNG key"):
        vae.apply({"params": vparams}, jnp.ones((2, 64, 64, 1)))


def test_bad_input_and_architecture():
    model = models.build("conv", latents=3, variational=True)
    params = models.init_params(model, jax.random.key(0))
    with pytest.raises(ValueError, match=r"\(B, 64, 64, 1\), got \(2, 64, 64\)"):
        model.apply({"params": params}, jnp.zeros((2, 64, 64)), jax.random.key(0))
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        models.build("resnet", latents=3, variational=True)
