"""Encoders and decoders for the autoencoder family (Flax linen, applied as pure functions).

Images are float32 (B, H, W, C) in [0, 1], (64, 64, 1) for dSprites and
(64, 64, 3) for the colour datasets: each module's ``image_shape``.
Decoders return logits of the same shape.
Variational encoders return ``(mean, logvar)``, each (B, D); deterministic
ones return the code (B, D).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vaejax import layers, losses, options

IMAGE_SHAPE = (64, 64, 1)


def _check_images(x: jax.Array, image_shape=IMAGE_SHAPE) -> None:
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(image_shape):
        raise ValueError(f"images must have shape (B, {', '.join(map(str, image_shape))}), "
                         f"got {x.shape}")


def _check_conv_shape(image_shape) -> None:
    h, w, _ = image_shape
    if h % 16 or w % 16:
        raise ValueError(f"the convolutional models need a height and width divisible by 16, "
                         f"got {tuple(image_shape)}")


class _Heads(nn.Module):
    """Linear code head(s): (mean, logvar) when variational, else the code."""

    latents: int
    variational: bool

    @nn.compact
    def __call__(self, h):
        if self.variational:
            return nn.Dense(self.latents, name="mean")(h), nn.Dense(self.latents, name="logvar")(h)
        return nn.Dense(self.latents, name="code")(h)


class FCEncoder(nn.Module):
    """Fully connected encoder: H*W*C - hidden (ReLU) - heads (Higgins et al. 2017: 1200, 1200)."""

    latents: int = 10
    hidden: Sequence[int] = (1200, 1200)
    variational: bool = True
    image_shape: Sequence[int] = IMAGE_SHAPE

    @nn.compact
    def __call__(self, x):
        _check_images(x, self.image_shape)
        h = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        return _Heads(self.latents, self.variational)(h)


class FCDecoder(nn.Module):
    """Fully connected decoder: z - hidden - H*W*C logits (Higgins et al.: 1200 x 3, tanh)."""

    hidden: Sequence[int] = (1200, 1200, 1200)
    activation: str = "tanh"
    image_shape: Sequence[int] = IMAGE_SHAPE

    @nn.compact
    def __call__(self, z):
        act = getattr(nn, self.activation)
        h = z
        for width in self.hidden:
            h = act(nn.Dense(width)(h))
        shape = tuple(self.image_shape)
        logits = nn.Dense(shape[0] * shape[1] * shape[2])(h)
        return logits.reshape((z.shape[0],) + shape)


def _conv(fast: bool, features: int, kernel: int, index: int) -> nn.Module:
    # Both forms hold the same parameters under the same names (``Conv_i``).
    if fast:
        return layers.Conv2x(features, kernel, name=f"Conv_{index}")
    return nn.Conv(features, (kernel, kernel), strides=2, padding="SAME", name=f"Conv_{index}")


def _conv_transpose(fast: bool, features: int, index: int) -> nn.Module:
    if fast:
        return layers.ConvTranspose2x(features, 4, name=f"ConvTranspose_{index}")
    return nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME",
                            name=f"ConvTranspose_{index}")


def _conv_stride1(fast: bool, features: int, kernel: int, padding: str, name: str) -> nn.Module:
    """A stride-1 convolution: :class:`vaejax.layers.ConvSame` / ``ConvValid`` or ``nn.Conv``."""
    if fast:
        return (layers.ConvSame if padding == "SAME" else layers.ConvValid)(
            features, kernel, name=name)
    return nn.Conv(features, (kernel, kernel), padding=padding, name=name)


class ConvEncoder(nn.Module):
    """The standard convolutional encoder (disentanglement_lib): conv 32, 32 (4x4),
    64, 64 (2x2), all stride 2, 'same' padding, ReLU; dense 256; heads.

    ``fast`` computes the strided convolutions with :mod:`vaejax.layers` (same
    function, same parameters; several times faster to train on CPU), and the
    pooling encoder's with :class:`vaejax.layers.ConvSame` (XLA's, once per
    replica under ``vmap``).
    ``downsample`` ``max_pool`` or ``avg_pool`` halves the size by 2 x 2 pooling
    after each convolution (stride 1, 'same'; ReLU before the pool) instead of
    the stride: the same parameters, 4x the convolutions' work.
    """

    latents: int = 10
    variational: bool = True
    fast: bool = True
    image_shape: Sequence[int] = IMAGE_SHAPE
    downsample: str = "stride"

    @nn.compact
    def __call__(self, x):
        _check_conv_shape(self.image_shape)
        _check_images(x, self.image_shape)
        if self.downsample not in layers.DOWNSAMPLE:
            raise ValueError(f"downsample must be one of {layers.DOWNSAMPLE}, "
                             f"got {self.downsample!r}")
        h = x
        for i, (features, kernel) in enumerate(((32, 4), (32, 4), (64, 2), (64, 2))):
            if self.downsample == "stride":
                h = nn.relu(_conv(self.fast, features, kernel, i)(h))
            else:
                h = nn.relu(_conv_stride1(self.fast, features, kernel, "SAME", f"Conv_{i}")(h))
                h = layers.pool2x(h, self.downsample)
        h = h.reshape(h.shape[0], -1)  # 4 x 4 x 64 = 1024 for 64 x 64 images
        h = nn.relu(nn.Dense(256)(h))
        return _Heads(self.latents, self.variational)(h)


class ConvDecoder(nn.Module):
    """The standard convolutional decoder: dense 256, 1024, reshape 4x4x64,
    transposed conv 64, 32, 32, C (4x4, stride 2, 'same'), ReLU between
    (for 64 x 64 images; H/16 x W/16 x 64 for others).
    ``fast`` as for :class:`ConvEncoder`. ``upsample`` ``nearest`` or
    ``bilinear`` doubles the size by interpolation followed by a 3x3 'same'
    convolution of the same features (``UpConv_i``) instead of each
    transposed convolution."""

    fast: bool = True
    image_shape: Sequence[int] = IMAGE_SHAPE
    upsample: str = "transpose"

    @nn.compact
    def __call__(self, z):
        _check_conv_shape(self.image_shape)
        if self.upsample not in layers.UPSAMPLE:
            raise ValueError(f"upsample must be one of {layers.UPSAMPLE}, "
                             f"got {self.upsample!r}")
        h_in, w_in, channels = (int(s) for s in self.image_shape)
        h = nn.relu(nn.Dense(256)(z))
        h = nn.relu(nn.Dense(h_in // 16 * (w_in // 16) * 64)(h))
        h = h.reshape(z.shape[0], h_in // 16, w_in // 16, 64)
        for i, features in enumerate((64, 32, 32, channels)):
            if self.upsample == "transpose":
                h = _conv_transpose(self.fast, features, i)(h)
            else:
                h = _conv_stride1(self.fast, features, 3, "SAME", f"UpConv_{i}")(
                    layers.upsample2x(h, self.upsample))
            if i < 3:
                h = nn.relu(h)
        return h


def broadcast_grid(z: jax.Array, size: int) -> jax.Array:
    """Codes (B, D) -> (B, size, size, D + 2): z tiled over a size x size grid, then
    the pixel's x (varying along the width axis) and y (along the height axis),
    each ``linspace(-1, 1, size)`` (Watters et al. 2019)."""
    b, d = z.shape
    tiled = jnp.broadcast_to(z[:, None, None, :], (b, size, size, d))
    coords = jnp.linspace(-1.0, 1.0, size, dtype=z.dtype)
    x = jnp.broadcast_to(coords[None, None, :, None], (b, size, size, 1))
    y = jnp.broadcast_to(coords[None, :, None, None], (b, size, size, 1))
    return jnp.concatenate([tiled, x, y], axis=-1)


class BroadcastDecoder(nn.Module):
    """The spatial broadcast decoder (Watters et al. 2019): z tiled over a grid
    with two coordinate channels (:func:`broadcast_grid`), ``layers`` 3x3 'valid'
    convolutions of ``features`` (ReLU), then a 1x1 convolution to the logits.

    ``resolution`` 64 is the paper's decoder: the grid is 64 + 2 ``layers``
    wide, so the valid convolutions end at 64 x 64. A smaller power of two
    ``resolution`` (16, 32) ends the stack there and doubles it to 64 with
    the conv decoder's 4x4 stride-2 transposed convolutions (``features``
    each, the last to 1 channel): a cheaper decoder for a CPU, the same bias
    at the coarse scale. ``fast`` as for :class:`ConvEncoder`; its 'valid'
    convolutions are XLA's (:class:`vaejax.layers.ConvValid`), run once per
    replica under ``vmap``.
    """

    resolution: int = 64
    features: int = 32
    layers: int = 4
    fast: bool = True
    image_shape: Sequence[int] = IMAGE_SHAPE

    @nn.compact
    def __call__(self, z):
        size, width, channels = (int(s) for s in self.image_shape)
        if size != width or size & (size - 1):
            raise ValueError(f"the broadcast decoder draws square images of a power-of-two "
                             f"side, got {tuple(self.image_shape)}")
        if self.resolution not in (8, 16, 32, 64) or self.resolution > size:
            raise ValueError(f"broadcast resolution must be 8, 16, 32 or 64 and at most the "
                             f"image side {size}, got {self.resolution}")
        h = broadcast_grid(z, self.resolution + 2 * self.layers)
        for i in range(self.layers):
            h = nn.relu(_conv_stride1(self.fast, self.features, 3, "VALID", f"Conv_{i}")(h))
        if self.resolution == size:
            return _conv_stride1(self.fast, channels, 1, "VALID", f"Conv_{self.layers}")(h)
        doublings = (size // self.resolution).bit_length() - 1
        for i in range(doublings - 1):
            h = nn.relu(_conv_transpose(self.fast, self.features, i)(h))
        return _conv_transpose(self.fast, channels, doublings - 1)(h)


class Autoencoder(nn.Module):
    """An encoder and a decoder. Variational when the encoder is.

    ``__call__(x, key)`` returns a dict: ``logits`` (B, H, W, C), ``code``
    (B, D; the posterior mean for a VAE), and for a VAE ``mean``, ``logvar``
    and the sample ``z``. ``key`` is needed only by a VAE.
    """

    encoder: nn.Module
    decoder: nn.Module

    @property
    def variational(self) -> bool:
        return bool(getattr(self.encoder, "variational", False))

    def __call__(self, x, key=None):
        if self.variational:
            mean, logvar = self.encoder(x)
            if key is None:
                raise ValueError("a variational autoencoder needs a PRNG key to sample z")
            z = losses.reparameterize(key, mean, logvar)
            return dict(logits=self.decoder(z), code=mean, mean=mean, logvar=logvar, z=z)
        code = self.encoder(x)
        return dict(logits=self.decoder(code), code=code)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the images the model reads."""
        return tuple(int(s) for s in getattr(self.encoder, "image_shape", IMAGE_SHAPE))

    def encode(self, x):
        """Images (B, H, W, C) -> codes (B, D): the posterior mean for a VAE."""
        out = self.encoder(x)
        return out[0] if self.variational else out

    def decode(self, z):
        """Codes (B, D) -> logits (B, H, W, C)."""
        return self.decoder(z)


class Discriminator(nn.Module):
    """FactorVAE's discriminator (Kim & Mnih 2018): codes (M, D) -> logits (M, 2).

    ``layers`` dense layers of ``hidden`` units with leaky ReLU (slope 0.2),
    then 2 logits: class 0 "a sample of q(z)", class 1 "a sample of the
    product of its marginals". The paper: 6 layers of 1000 units.
    """

    hidden: int = 1000
    layers: int = 6

    @nn.compact
    def __call__(self, z):
        if z.ndim != 2:
            raise ValueError(f"codes must have shape (M, D), got {z.shape}")
        h = z
        for _ in range(self.layers):
            h = nn.leaky_relu(nn.Dense(self.hidden)(h), negative_slope=0.2)
        return nn.Dense(2)(h)


def discriminator_from_config(config) -> Discriminator:
    """The FactorVAE discriminator a run's config describes."""
    return Discriminator(hidden=config.discriminator_hidden, layers=config.discriminator_layers)


AUTOENCODER_ARCHITECTURES = ("fc", "conv", "broadcast", "deep_fc", "linear")
CONV_IMPLS = ("fast", "flax")
DEFAULT_CONV_IMPL = options.DEFAULTS["conv_impl"]


def build_autoencoder(architecture: str, *, latents: int, variational: bool,
                      image_shape=IMAGE_SHAPE, conv_impl: str = DEFAULT_CONV_IMPL,
                      downsample: str = "stride", upsample: str = "transpose",
                      broadcast_resolution: int = 64) -> Autoencoder:
    """The named autoencoder architecture for images of ``image_shape`` (H, W, C).

    * ``fc``: Higgins et al. 2017 (H*W*C-1200-1200 ReLU encoder; 1200 x 3 tanh decoder).
    * ``conv``: the standard convolutional model.
    * ``broadcast``: the conv encoder and the spatial broadcast decoder
      (:class:`BroadcastDecoder`, 32 features, 4 layers) at
      ``broadcast_resolution``.
    * ``deep_fc``: a deep fully connected autoencoder, H*W*C-1000-500-250-D and
      back (ReLU), as in Hinton & Salakhutdinov (2006).
    * ``linear``: one linear layer each way (with squared error, it spans the
      principal subspace).

    ``conv_impl`` picks how ``conv`` computes its strided convolutions:
    ``fast`` (:mod:`vaejax.layers`) or ``flax`` (``nn.Conv``/``nn.ConvTranspose``).
    Both give the same function of the same parameters.

    ``downsample`` (the conv encoder of ``conv`` and ``broadcast``): ``stride``,
    ``max_pool`` or ``avg_pool``; ``upsample`` (the ``conv`` decoder):
    ``transpose``, ``nearest`` or ``bilinear`` (:class:`ConvEncoder`,
    :class:`ConvDecoder`).
    """
    if conv_impl not in CONV_IMPLS:
        raise ValueError(f"unknown conv_impl {conv_impl!r}; expected one of {CONV_IMPLS}")
    if downsample not in layers.DOWNSAMPLE:
        raise ValueError(f"downsample must be one of {layers.DOWNSAMPLE}, got {downsample!r}")
    if upsample not in layers.UPSAMPLE:
        raise ValueError(f"upsample must be one of {layers.UPSAMPLE}, got {upsample!r}")
    if downsample != "stride" and architecture not in ("conv", "broadcast"):
        raise ValueError(f"downsample={downsample!r} applies to the conv encoder (architecture "
                         f"conv or broadcast), not to {architecture!r}")
    if upsample != "transpose" and architecture != "conv":
        raise ValueError(f"upsample={upsample!r} applies to the conv decoder (architecture "
                         f"conv), not to {architecture!r}")
    shape = tuple(int(s) for s in image_shape)
    fast = conv_impl == "fast"
    if architecture == "fc":
        return Autoencoder(FCEncoder(latents, (1200, 1200), variational, shape),
                           FCDecoder((1200, 1200, 1200), "tanh", shape))
    if architecture == "conv":
        return Autoencoder(ConvEncoder(latents, variational, fast, shape, downsample),
                           ConvDecoder(fast, shape, upsample))
    if architecture == "broadcast":
        return Autoencoder(ConvEncoder(latents, variational, fast, shape, downsample),
                           BroadcastDecoder(broadcast_resolution, fast=fast, image_shape=shape))
    if architecture == "deep_fc":
        return Autoencoder(FCEncoder(latents, (1000, 500, 250), variational, shape),
                           FCDecoder((250, 500, 1000), "relu", shape))
    if architecture == "linear":
        return Autoencoder(FCEncoder(latents, (), variational, shape), FCDecoder((), "relu", shape))
    raise ValueError(f"unknown architecture {architecture!r}; expected one of "
                     f"{AUTOENCODER_ARCHITECTURES}")


def encoder_representation(model, params, *, batch_size: int | None = None):
    """The encoder mean of a vaejax model, jitted, in fixed-size batches.

    ``batch_size`` None picks the fastest measured size: 1,024, except for
    a convolutional encoder on CPU, 128 (its activations, ~0.5 MB per image,
    then stay in cache: ~1.6x the images/s of batch 1,024 on a 2-core CPU,
    ``benchmarks/encode.py``).
    """
    if batch_size is None:
        conv = isinstance(model.encoder, ConvEncoder)
        batch_size = 128 if conv and jax.default_backend() == "cpu" else 1024
    encode = jax.jit(lambda p, x: model.apply({"params": p}, x, method=Autoencoder.encode))

    def representation(images):
        images = np.asarray(images, np.float32)
        n = len(images)
        out = []
        for start in range(0, n, batch_size):
            chunk = images[start:start + batch_size]
            pad = batch_size - len(chunk)
            if pad:  # one compiled shape
                chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], np.float32)])
            out.append(encode(params, chunk))  # dispatched; read back below
        return np.concatenate([np.asarray(o) for o in out])[:n]

    return representation


def init_params(model: Autoencoder, key: jax.Array):
    """Initial parameters for (1, H, W, C) images of the model's ``image_shape``."""
    init_key, sample_key = jax.random.split(key)
    shape = tuple(model.image_shape)
    return model.init(init_key, jnp.zeros((1,) + shape, jnp.float32), sample_key)["params"]
