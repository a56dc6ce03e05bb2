"""InfoGAN's networks (Chen et al. 2016): a generator G(c, noise) and a
discriminator D whose Q head predicts the codes c of an image.

:class:`InfoGAN` is a :class:`vaejax.models.Autoencoder` to evaluation: its
``encoder`` is the discriminator (images -> Q's mean of c, (B, C)) and its
``decoder`` the generator at zero noise (codes (B, C) -> logits (B, 64, 64, 1)),
so traversals, "reconstructions" G(Q(x), 0) and every metric work unchanged.
Training (:mod:`vaejax.objectives.infogan`) calls :meth:`InfoGAN.discriminate`
and :meth:`InfoGAN.generate`.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vaejax import models

# Q's log-variance is kept within [-LOGVAR_LIMIT, LOGVAR_LIMIT]: a Q that
# predicts c exactly would otherwise drive the bound to infinity.
LOGVAR_LIMIT = 5.0


def _leaky(h):
    return nn.leaky_relu(h, negative_slope=0.2)


class _QHeads(nn.Module):
    """The real/fake logit (B,) and Q's (mean, logvar) of c, each (B, C)."""

    codes: int

    @nn.compact
    def __call__(self, h):
        logit = nn.Dense(1, name="real")(h)[:, 0]
        q = _leaky(nn.Dense(128, name="q_hidden")(h))
        logvar = jnp.clip(nn.Dense(self.codes, name="logvar")(q), -LOGVAR_LIMIT, LOGVAR_LIMIT)
        return logit, nn.Dense(self.codes, name="mean")(q), logvar


class ConvDiscriminator(nn.Module):
    """The standard conv encoder's layers (32, 32, 64, 64, stride 2; dense 256)
    with leaky ReLU (0.2), then :class:`_QHeads`.

    ``__call__(x)``: images (B, H, W, C) -> Q's mean (B, C);
    ``__call__(x, all_heads=True)``: (logit (B,), mean, logvar).
    """

    codes: int = 5
    fast: bool = True
    image_shape: Sequence[int] = models.IMAGE_SHAPE

    @nn.compact
    def __call__(self, x, all_heads: bool = False):
        models._check_images(x, self.image_shape)  # pylint: disable=protected-access
        h = x
        for i, (features, kernel) in enumerate(((32, 4), (32, 4), (64, 2), (64, 2))):
            h = _leaky(models._conv(self.fast, features, kernel, i)(h))  # pylint: disable=protected-access
        h = _leaky(nn.Dense(256)(h.reshape(h.shape[0], -1)))
        out = _QHeads(self.codes)(h)
        return out if all_heads else out[1]


class FCDiscriminator(nn.Module):
    """Dense layers of ``hidden`` units (leaky ReLU), then :class:`_QHeads`; as
    :class:`ConvDiscriminator` for images of any shape (B, H, W, 1)."""

    codes: int = 5
    hidden: Sequence[int] = (256,)

    @nn.compact
    def __call__(self, x, all_heads: bool = False):
        h = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            h = _leaky(nn.Dense(width)(h))
        out = _QHeads(self.codes)(h)
        return out if all_heads else out[1]


class ConvGenerator(nn.Module):
    """The standard conv decoder's layers on [c, noise]: (B, C), (B, N) -> logits
    (B, *image_shape); zero noise when ``noise`` is None."""

    noise_dims: int = 32
    fast: bool = True
    image_shape: Sequence[int] = models.IMAGE_SHAPE

    @nn.compact
    def __call__(self, c, noise=None):
        if noise is None:
            noise = jnp.zeros((c.shape[0], self.noise_dims), c.dtype)
        return models.ConvDecoder(self.fast, tuple(self.image_shape), name="body")(
            jnp.concatenate([c, noise], axis=-1))


class FCGenerator(nn.Module):
    """Dense ``hidden`` (ReLU) on [c, noise], then logits of ``image_shape``."""

    noise_dims: int = 8
    hidden: Sequence[int] = (256,)
    image_shape: Sequence[int] = models.IMAGE_SHAPE

    @nn.compact
    def __call__(self, c, noise=None):
        if noise is None:
            noise = jnp.zeros((c.shape[0], self.noise_dims), c.dtype)
        h = jnp.concatenate([c, noise], axis=-1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        size = math.prod(self.image_shape)
        return nn.Dense(size)(h).reshape((c.shape[0],) + tuple(self.image_shape))


class InfoGAN(models.Autoencoder):
    """``encoder``: a discriminator with a Q head; ``decoder``: a generator.

    ``codes``: C, the number of continuous codes (uniform in [-1, 1]);
    ``noise_dims``: N, the generator's noise (standard normal).
    """

    codes: int = 5
    noise_dims: int = 32
    image_shape: Sequence[int] = models.IMAGE_SHAPE

    @property
    def variational(self) -> bool:
        return False  # Q's mean is the representation; its variance serves training only

    @property
    def code_range(self) -> tuple[float, float]:
        """The codes' prior support: traversals run each code over it."""
        return (-1.0, 1.0)

    def __call__(self, x, key=None):
        """Touches every parameter (for ``init``): Q's mean of ``x`` and G at zero noise."""
        code = self.encoder(x)
        return dict(logits=self.decoder(code), code=code)

    def generate(self, c, noise):
        """(B, C), (B, N) -> logits (B, *image_shape)."""
        return self.decoder(c, noise)

    def discriminate(self, x):
        """Images -> (real/fake logit (B,), Q mean (B, C), Q logvar (B, C))."""
        return self.encoder(x, all_heads=True)


def sample_inputs(model: InfoGAN, key: jax.Array, n: int):
    """c ~ U[-1, 1]^(n, C) and noise ~ N(0, 1)^(n, N)."""
    c_key, z_key = jax.random.split(key)
    low, high = model.code_range
    return (jax.random.uniform(c_key, (n, model.codes), minval=low, maxval=high),
            jax.random.normal(z_key, (n, model.noise_dims)))


def conv_infogan(codes: int = 5, noise_dims: int = 32, fast: bool = True,
                 image_shape: Sequence[int] = models.IMAGE_SHAPE) -> InfoGAN:
    """InfoGAN on (B, *image_shape) images (dSprites': 64, 64, 1) with the standard
    conv layers."""
    shape = tuple(int(s) for s in image_shape)
    return InfoGAN(ConvDiscriminator(codes, fast, shape), ConvGenerator(noise_dims, fast, shape),
                   codes=codes, noise_dims=noise_dims, image_shape=shape)


def fc_infogan(codes: int, noise_dims: int, hidden: Sequence[int],
               image_shape: Sequence[int]) -> InfoGAN:
    """A small fully connected InfoGAN for images of ``image_shape`` (H, W, C)."""
    return InfoGAN(FCDiscriminator(codes, tuple(hidden)),
                   FCGenerator(noise_dims, tuple(hidden), tuple(image_shape)),
                   codes=codes, noise_dims=noise_dims, image_shape=tuple(image_shape))

