import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaejax.data import corruptions


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return jnp.asarray(rng.integers(0, 2, (32, 64, 64, 1)).astype(np.float32))


def test_masking_noise(images):
    key = jax.random.key(0)
    out = corruptions.masking_noise(key, images, rate=0.3)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert bool(jnp.all((out == images) | (out == 0)))
    ones = images == 1
    masked = float(jnp.sum(ones & (out == 0)) / jnp.sum(ones))
    assert masked == pytest.approx(0.3, abs=0.01)
    np.testing.assert_array_equal(out, corruptions.masking_noise(key, images, rate=0.3))
    np.testing.assert_array_equal(corruptions.masking_noise(key, images, rate=0.0), images)
    assert float(jnp.sum(corruptions.masking_noise(key, images, rate=1.0))) == 0.0


def test_salt_and_pepper(images):
    key = jax.random.key(1)
    out = corruptions.salt_and_pepper(key, images, rate=0.2)
    assert bool(jnp.all((out == 0) | (out == 1)))
    # Half the hit pixels already have the value drawn: 10% change.
    changed = float(jnp.mean(out != images))
    assert changed == pytest.approx(0.1, abs=0.01)
    zeros = images == 0
    assert float(jnp.sum(zeros & (out == 1)) / jnp.sum(zeros)) == pytest.approx(0.1, abs=0.01)
    np.testing.assert_array_equal(corruptions.salt_and_pepper(key, images, rate=0.0), images)
    assert not np.array_equal(out, corruptions.salt_and_pepper(jax.random.key(2), images, rate=0.2))


def test_corruptions_jit_and_bad_rate(images):
    f = jax.jit(lambda k, x: corruptions.salt_and_pepper(k, x, rate=0.5))
    np.testing.assert_array_equal(f(jax.random.key(3), images),
                                  corruptions.salt_and_pepper(jax.random.key(3), images, rate=0.5))
    with pytest.raises(ValueError, match="rate must lie in"):
        corruptions.masking_noise(jax.random.key(0), images, rate=1.5)
