"""The fast stride-2 layers compute the same function as Flax's, with the same parameters."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaejax import architectures, layers, models

# (input height, C_in, C_out, kernel): every strided layer of the conv model, plus odd cases.
CONV_CASES = [(64, 1, 32, 4), (32, 32, 32, 4), (16, 32, 64, 2), (8, 64, 64, 2), (6, 3, 5, 4),
              (12, 48, 8, 4)]
CONV_T_CASES = [(4, 64, 64, 4), (8, 64, 32, 4), (16, 32, 32, 4), (32, 32, 1, 4), (5, 3, 7, 2),
                (6, 40, 8, 4)]


@pytest.fixture(autouse=True)
def _full_float32_products():
    # GPUs otherwise multiply float32 in TF32 (~1e-3 relative error) by default.
    with jax.default_matmul_precision("highest"):
        yield


def _assert_close(actual, expected, what):
    # float32: relative to the largest entry, the two summation orders agree to ~1e-6.
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, what
    scale = max(1.0, float(np.abs(expected).max()))
    err = float(np.abs(actual - expected).max()) / scale
    assert err < 1e-5, f"{what}: max error {err:.2e} (relative to {scale:.3g})"


def _check(reference, fast, x, key):
    params = reference.init(key, x)
    fast_params = fast.init(key, x)
    jax.tree.map(np.testing.assert_array_equal, params, fast_params)  # same init, same names
    # Non-zero biases and a non-trivial cotangent.
    params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(key, p.shape), params)
    _assert_close(fast.apply(params, x), reference.apply(params, x), "output")
    cot = jax.random.normal(jax.random.fold_in(key, 1), reference.apply(params, x).shape)

    def grads(module):
        loss = lambda p, x: jnp.sum(module.apply(p, x) * cot)
        return jax.grad(loss, argnums=(0, 1))(params, x)

    (gp_fast, gx_fast), (gp_ref, gx_ref) = grads(fast), grads(reference)
    _assert_close(gx_fast, gx_ref, "input gradient")
    for name in ("kernel", "bias"):
        _assert_close(gp_fast["params"][name], gp_ref["params"][name], f"{name} gradient")


@pytest.mark.parametrize("size,cin,cout,k", CONV_CASES)
def test_conv_matches_flax(size, cin, cout, k):
    key = jax.random.key(size * 1000 + cin + k)
    x = jax.random.normal(key, (3, size, size, cin))
    _check(nn.Conv(cout, (k, k), strides=2, padding="SAME"), layers.Conv2x(cout, k), x, key)


@pytest.mark.parametrize("size,cin,cout,k", CONV_T_CASES)
def test_conv_transpose_matches_flax(size, cin, cout, k):
    key = jax.random.key(size * 1000 + cin + k + 7)
    x = jax.random.normal(key, (3, size, size, cin))
    _check(nn.ConvTranspose(cout, (k, k), strides=(2, 2), padding="SAME"),
           layers.ConvTranspose2x(cout, k), x, key)


@pytest.mark.parametrize("m,c,o", [(2, 128, 32), (2, 32, 128), (2, 32, 16), (2, 4, 32),
                                   (1, 16, 8), (3, 5, 6), (3, 1, 4)])
def test_conv_valid_matches_lax(m, c, o):
    # Every form of each product: wide (m*m*O <= C) or not, O <= C or not,
    # im2col forward (m*m*C <= 16), 1 x 1.
    key = jax.random.key(m * 100 + c + o)
    kx, kk, kc = jax.random.split(key, 3)
    x = jax.random.normal(kx, (2, 7, 6, c))
    kernel = jax.random.normal(kk, (m, m, c, o))
    ref = lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "VALID",
                                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))
    _assert_close(layers.conv_valid(x, kernel), ref(x, kernel), "output")
    cot = jax.random.normal(kc, ref(x, kernel).shape)
    fast = jax.grad(lambda x, k: jnp.sum(layers.conv_valid(x, k) * cot), argnums=(0, 1))(x, kernel)
    slow = jax.grad(lambda x, k: jnp.sum(ref(x, k) * cot), argnums=(0, 1))(x, kernel)
    _assert_close(fast[0], slow[0], "input gradient")
    _assert_close(fast[1], slow[1], "kernel gradient")


def test_space_to_depth_round_trip_and_layout():
    x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
    y = layers.space_to_depth(x)
    assert y.shape == (2, 2, 3, 12)
    # Channel block (p, s) holds pixel (2i + p, 2j + s).
    np.testing.assert_array_equal(y[:, 1, 2, 3:6], x[:, 2, 5, :])
    np.testing.assert_array_equal(y[:, 0, 1, 6:9], x[:, 1, 2, :])
    np.testing.assert_array_equal(layers.depth_to_space(y), x)
    with pytest.raises(ValueError, match="even"):
        layers.space_to_depth(jnp.zeros((1, 3, 4, 1)))


@pytest.mark.parametrize("k", [2, 4])
def test_kernel_conversions_round_trip(k):
    kernel = jax.random.normal(jax.random.key(k), (k, k, 3, 5))
    s2d = layers.conv_kernel_to_s2d(kernel)
    d2s = layers.conv_transpose_kernel_to_d2s(kernel)
    assert s2d.shape == (k // 2, k // 2, 12, 5) and d2s.shape == (k // 2, k // 2, 3, 20)
    np.testing.assert_array_equal(layers.conv_kernel_from_s2d(s2d), kernel)
    np.testing.assert_array_equal(layers.conv_transpose_kernel_from_d2s(d2s), kernel)
    # Every tap appears exactly once in the rearranged kernels.
    np.testing.assert_array_equal(np.sort(np.ravel(s2d)), np.sort(np.ravel(kernel)))
    np.testing.assert_array_equal(np.sort(np.ravel(d2s)), np.sort(np.ravel(kernel)))


def test_bad_kernel_is_named():
    with pytest.raises(ValueError, match="k in"):
        layers.conv_stride2(jnp.zeros((1, 8, 8, 2)), jnp.zeros((3, 3, 2, 4)))


@pytest.mark.parametrize("m,c,o", [(4, 1, 8), (4, 8, 8), (2, 8, 4), (3, 8, 1)])
def test_conv_same_matches_flax(m, c, o):
    key = jax.random.key(m * 100 + c + o)
    x = jax.random.normal(key, (2, 8, 6, c))
    _check(nn.Conv(o, (m, m), padding="SAME"), layers.ConvSame(o, m), x, key)


@pytest.mark.parametrize("m,c,o,padding", [(3, 12, 32, "VALID"), (3, 32, 1, "VALID"),
                                           (1, 32, 1, "VALID"), (4, 8, 8, "SAME")])
def test_conv_xla_is_laxs_and_each_replicas_own_under_vmap(m, c, o, padding):
    keys = jax.random.split(jax.random.key(m + c + o), 3)
    xs = jax.random.normal(keys[0], (3, 2, 7, 6, c))  # 3 replicas
    kernels = jax.random.normal(keys[1], (3, m, m, c, o))
    ref = lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), padding,
                                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))
    ours = lambda x, k: layers.conv_xla(x, k, padding)
    cots = jax.random.normal(keys[2], (3,) + ref(xs[0], kernels[0]).shape)

    def grads(conv, x, k, cot):
        return jax.grad(lambda x, k: jnp.sum(conv(x, k) * cot), argnums=(0, 1))(x, k)

    batched = jax.vmap(lambda x, k, cot: (ours(x, k),) + grads(ours, x, k, cot))(
        xs, kernels, cots)
    for r in range(3):
        expected = (ref(xs[r], kernels[r]),) + grads(ref, xs[r], kernels[r], cots[r])
        for what, a, b in zip(("output", "input gradient", "kernel gradient"), batched,
                              expected):
            _assert_close(a[r], b, f"replica {r} {what}")


@pytest.mark.parametrize("variational", [True, False])
@pytest.mark.parametrize("architecture,options", [
    ("conv", {}), ("conv", dict(downsample="max_pool", upsample="nearest")),
    ("conv", dict(downsample="avg_pool", upsample="bilinear")),
    ("broadcast", dict(broadcast_resolution=16)), ("broadcast", dict(broadcast_resolution=64))])
def test_conv_model_fast_equals_flax(variational, architecture, options):
    fast, plain = (architectures.build(architecture, latents=6, variational=variational,
                                       conv_impl=impl, **options)
                   for impl in ("fast", "flax"))
    key = jax.random.key(3)
    params = models.init_params(fast, key)
    # Same parameter tree and initial values: checkpoints work with either.
    jax.tree.map(np.testing.assert_array_equal, params, models.init_params(plain, key))
    x = jax.random.uniform(jax.random.key(4), (4, 64, 64, 1))
    if "downsample" not in options:
        # binary images; a pooling model gets grey ones, since binary ones tie
        # within max-pool blocks and the forms' roundings split a tie's gradient
        # differently
        x = (x > 0.5).astype(jnp.float32)

    def loss(model, p):
        out = model.apply({"params": p}, x, jax.random.key(5))
        return jnp.sum(jax.nn.log_sigmoid(out["logits"]) * x), out

    (lf, of), gf = jax.value_and_grad(lambda p: loss(fast, p), has_aux=True)(params)
    (lp, op), gp = jax.value_and_grad(lambda p: loss(plain, p), has_aux=True)(params)
    _assert_close(of["logits"], op["logits"], "logits")
    _assert_close(lf, lp, "loss")
    for path, a in jax.tree_util.tree_leaves_with_path(gf):
        b = gp
        for k in path:
            b = b[k.key]
        _assert_close(a, b, jax.tree_util.keystr(path))


def test_unknown_conv_impl():
    with pytest.raises(ValueError, match="conv_impl"):
        architectures.build("conv", latents=4, variational=True, conv_impl="cudnn")


# The lecture's worked example: a 4 x 4 input, 2 x 2 pools with stride 2.
LECTURE_INPUT = np.array([[1, 1, 2, 4],
                          [5, 6, 7, 8],
                          [3, 2, 1, 0],
                          [1, 2, 3, 4]], np.float32)


def test_max_and_average_pooling_known_answers():
    x = jnp.asarray(LECTURE_INPUT)[None, :, :, None]
    np.testing.assert_array_equal(layers.pool2x(x, "max_pool")[0, :, :, 0], [[6, 8], [3, 4]])
    np.testing.assert_array_equal(layers.pool2x(x, "avg_pool")[0, :, :, 0],
                                  [[3.25, 5.25], [2.0, 2.0]])
    # channels and batch pooled independently
    both = jnp.concatenate([x, -x], axis=-1).repeat(2, axis=0)
    np.testing.assert_array_equal(layers.pool2x(both, "max_pool")[1, :, :, 1], [[-1, -2], [-1, 0]])
    with pytest.raises(ValueError, match="even height and width"):
        layers.pool2x(jnp.zeros((1, 3, 4, 1)), "max_pool")


def test_upsampling_known_answers():
    x = jnp.asarray([[1.0, 2.0], [3.0, 4.0]])[None, :, :, None]
    np.testing.assert_array_equal(layers.upsample2x(x, "nearest")[0, :, :, 0],
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    # half-pixel centres: output i reads input (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
    # clamped at the edges: weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1) per axis
    row = np.array([1.0, 1.25, 1.75, 2.0])
    expected = np.stack([row, row + 0.5, row + 1.5, row + 2.0])
    np.testing.assert_allclose(layers.upsample2x(x, "bilinear")[0, :, :, 0], expected, atol=1e-6)
    with pytest.raises(ValueError, match="nearest or bilinear"):
        layers.upsample2x(x, "cubic")
