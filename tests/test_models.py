import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaejax import architectures, models


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
    # Watters et al. 2019: z and 2 coordinate channels, 4 x (3x3 conv 32, valid), 1x1 conv.
    ("broadcast", True): conv(4, 1, 32) + conv(4, 32, 32) + conv(2, 32, 64) + conv(2, 64, 64)
    + dense(1024, 256) + HEADS
    + conv(3, D + 2, 32) + 3 * conv(3, 32, 32) + conv(1, 32, 1),
    ("deep_fc", False): dense(4096, 1000) + dense(1000, 500) + dense(500, 250) + dense(250, D)
    + dense(D, 250) + dense(250, 500) + dense(500, 1000) + dense(1000, 4096),
    ("linear", False): dense(4096, D) + dense(D, 4096),
}


@pytest.mark.parametrize("arch, variational", sorted(EXPECTED))
def test_parameter_counts(arch, variational):
    model = architectures.build(arch, latents=D, variational=variational)
    params = models.init_params(model, jax.random.key(0))
    assert _count(params) == EXPECTED[arch, variational]


@pytest.mark.parametrize("arch", ["fc", "conv", "broadcast"])
def test_vae_outputs(arch):
    model = architectures.build(arch, latents=7, variational=True)
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
    ae = architectures.build("deep_fc", latents=4, variational=False)
    params = models.init_params(ae, jax.random.key(0))
    out = ae.apply({"params": params}, jnp.ones((2, 64, 64, 1)))
    assert out["code"].shape == (2, 4) and "mean" not in out
    vae = architectures.build("fc", latents=4, variational=True)
    vparams = models.init_params(vae, jax.random.key(0))
    with pytest.raises(ValueError, match="PRNG key"):
        vae.apply({"params": vparams}, jnp.ones((2, 64, 64, 1)))


def test_bad_input_and_architecture():
    model = architectures.build("conv", latents=3, variational=True)
    params = models.init_params(model, jax.random.key(0))
    with pytest.raises(ValueError, match=r"\(B, 64, 64, 1\), got \(2, 64, 64\)"):
        model.apply({"params": params}, jnp.zeros((2, 64, 64)), jax.random.key(0))
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        architectures.build("resnet", latents=3, variational=True)
    decoder = models.BroadcastDecoder(24)
    with pytest.raises(ValueError, match="broadcast resolution must be 8, 16, 32 or 64 and at most the image side 64, got 24"):
        decoder.init(jax.random.key(0), jnp.zeros((1, 3)))


def test_broadcast_grid_tiles_z_and_appends_x_then_y():
    z = jnp.asarray([[1.0, -2.0, 3.0], [0.5, 0.0, 7.0]])
    grid = np.asarray(models.broadcast_grid(z, 5))
    assert grid.shape == (2, 5, 5, 5)
    for b in range(2):
        for i in range(5):
            for j in range(5):
                np.testing.assert_array_equal(grid[b, i, j, :3], z[b])
    coords = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(grid[0, 2, :, 3], coords, atol=1e-7)  # x along the width
    np.testing.assert_allclose(grid[0, :, 2, 4], coords, atol=1e-7)  # y along the height
    np.testing.assert_array_equal(grid[1, :, 0, 3], np.full(5, -1.0))


@pytest.mark.parametrize("resolution", [16, 32])
def test_coarse_broadcast_decoder_upsamples_to_the_image(resolution):
    decoder = models.BroadcastDecoder(resolution)
    z = jnp.ones((2, D))
    params = decoder.init(jax.random.key(0), z)["params"]
    assert decoder.apply({"params": params}, z).shape == (2, 64, 64, 1)
    doublings = {16: 2, 32: 1}[resolution]
    expected = (conv(3, D + 2, 32) + 3 * conv(3, 32, 32)
                + (doublings - 1) * conv(4, 32, 32) + conv(4, 32, 1))
    assert _count(params) == expected


def test_broadcast_decoder_output_moves_with_the_coordinates_only():
    """With z = 0 the only inputs that vary over the grid are x and y: a decoder
    whose first layer reads neither gives the same logit at every pixel."""
    decoder = models.BroadcastDecoder(64)
    z = jnp.zeros((1, D))
    params = decoder.init(jax.random.key(0), z)["params"]
    logits = np.asarray(decoder.apply({"params": params}, z))
    assert np.ptp(logits) > 1e-4  # the coordinate channels reach the output
    kernel = params["Conv_0"]["kernel"].at[:, :, D:, :].set(0.0)
    blind = dict(params, Conv_0=dict(params["Conv_0"], kernel=kernel))
    flat = np.asarray(decoder.apply({"params": blind}, z))
    np.testing.assert_allclose(flat, flat[0, 0, 0, 0], rtol=1e-5, atol=1e-6)


COLOUR = {
    # the same models on (64, 64, 3) images: three input and output channels
    "fc": dense(12288, 1200) + dense(1200, 1200) + 2 * dense(1200, D)
    + dense(D, 1200) + 2 * dense(1200, 1200) + dense(1200, 12288),
    "conv": conv(4, 3, 32) + conv(4, 32, 32) + conv(2, 32, 64) + conv(2, 64, 64)
    + dense(1024, 256) + HEADS
    + dense(D, 256) + dense(256, 1024) + conv(4, 64, 64) + conv(4, 64, 32) + conv(4, 32, 32)
    + conv(4, 32, 3),
    "broadcast": conv(4, 3, 32) + conv(4, 32, 32) + conv(2, 32, 64) + conv(2, 64, 64)
    + dense(1024, 256) + HEADS
    + conv(3, D + 2, 32) + 3 * conv(3, 32, 32) + conv(1, 32, 3),
}


@pytest.mark.parametrize("arch", sorted(COLOUR) + ["infogan"])
def test_colour_models_take_their_shape_from_the_data(arch):
    model = architectures.build(arch, latents=D if arch != "infogan" else 5, variational=True,
                                image_shape=(64, 64, 3))
    assert model.image_shape == (64, 64, 3)
    params = models.init_params(model, jax.random.key(0))
    if arch in COLOUR:
        assert _count(params) == COLOUR[arch]
    x = jnp.zeros((2, 64, 64, 3))
    out = model.apply({"params": params}, x, jax.random.key(1))
    assert out["logits"].shape == (2, 64, 64, 3)
    with pytest.raises(ValueError, match=r"images must have shape \(B, 64, 64, 3\)"):
        model.apply({"params": params}, jnp.zeros((2, 64, 64, 1)), jax.random.key(1))


def test_colour_fast_convolutions_equal_flax():
    shape = (64, 64, 3)
    fast = architectures.build("conv", latents=4, variational=True, image_shape=shape)
    plain = architectures.build("conv", latents=4, variational=True, image_shape=shape,
                                conv_impl="flax")
    params = models.init_params(fast, jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (3,) + shape)
    a = fast.apply({"params": params}, x, jax.random.key(2))["logits"]
    b = plain.apply({"params": params}, x, jax.random.key(2))["logits"]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_other_image_sizes_where_the_architecture_allows():
    fc = architectures.build("fc", latents=3, variational=True, image_shape=(28, 20, 1))
    params = models.init_params(fc, jax.random.key(0))
    assert fc.apply({"params": params}, jnp.zeros((2, 28, 20, 1)),
                    jax.random.key(1))["logits"].shape == (2, 28, 20, 1)
    conv32 = architectures.build("conv", latents=3, variational=True, image_shape=(32, 32, 3))
    params = models.init_params(conv32, jax.random.key(0))
    assert conv32.apply({"params": params}, jnp.zeros((2, 32, 32, 3)),
                        jax.random.key(1))["logits"].shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="divisible by 16"):
        models.init_params(architectures.build("conv", latents=3, variational=True,
                                               image_shape=(28, 28, 1)), jax.random.key(0))


@pytest.mark.parametrize("downsample", ["max_pool", "avg_pool"])
@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_pooling_and_upsampling_models(downsample, upsample):
    model = architectures.build("conv", latents=D, variational=False, downsample=downsample,
                                upsample=upsample)
    params = models.init_params(model, jax.random.key(0))
    # pooling keeps the encoder's parameters; each upsampling step is a 3x3 conv
    encoder = EXPECTED["conv", False] - (dense(D, 256) + dense(256, 1024) + conv(4, 64, 64)
                                         + conv(4, 64, 32) + conv(4, 32, 32) + conv(4, 32, 1))
    decoder = dense(D, 256) + dense(256, 1024) + conv(3, 64, 64) + conv(3, 64, 32) \
        + conv(3, 32, 32) + conv(3, 32, 1)
    assert _count(params) == encoder + decoder
    x = jax.random.uniform(jax.random.key(1), (2, 64, 64, 1))
    out = model.apply({"params": params}, x)
    assert out["logits"].shape == (2, 64, 64, 1) and out["code"].shape == (2, D)


def test_pooling_encoder_is_conv_then_pool():
    """Layer by layer: a stride-1 'same' conv, ReLU, then the 2 x 2 max pool; then the
    dense layer and the code head."""
    model = architectures.build("conv", latents=D, variational=False, downsample="max_pool")
    params = models.init_params(model, jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (2, 64, 64, 1))
    expected = x
    for i in range(4):
        layer = params["encoder"][f"Conv_{i}"]
        h = jax.lax.conv_general_dilated(expected, layer["kernel"], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jnp.maximum(h + layer["bias"], 0)
        expected = h.reshape(2, h.shape[1] // 2, 2, h.shape[2] // 2, 2, h.shape[3]).max(
            axis=(2, 4))
    h = jnp.maximum(expected.reshape(2, -1) @ params["encoder"]["Dense_0"]["kernel"]
                    + params["encoder"]["Dense_0"]["bias"], 0)
    heads = params["encoder"]["_Heads_0"]["code"]
    code = model.apply({"params": params}, x, method=models.Autoencoder.encode)
    np.testing.assert_allclose(code, h @ heads["kernel"] + heads["bias"], rtol=1e-4, atol=1e-5)


def test_pooling_and_upsampling_options_are_checked():
    with pytest.raises(ValueError, match="downsample must be one of"):
        architectures.build("conv", latents=D, variational=True, downsample="min_pool")
    with pytest.raises(ValueError, match="upsample must be one of"):
        architectures.build("conv", latents=D, variational=True, upsample="cubic")
    with pytest.raises(ValueError, match="applies to the conv decoder"):
        architectures.build("broadcast", latents=D, variational=True, upsample="nearest")
    with pytest.raises(ValueError, match="applies to the conv encoder"):
        architectures.build("fc", latents=D, variational=True, downsample="avg_pool")
