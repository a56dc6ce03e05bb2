"""Convolutional autoencoder (strided encoder, transposed-convolution decoder).

Variants: ``max_pool`` / ``avg_pool`` (the encoder halves the size by 2 x 2
pooling after stride-1 convolutions), ``nearest`` / ``bilinear`` (the decoder
doubles it by interpolation and a 3x3 convolution), as the lecture's
convolutional autoencoder ("pooling; transposed convolutions or upsampling
layers"); ``cpu``, ``smoke``, ``gpu``. E.g. ``conv_autoencoder.py:max_pool,nearest``.
"""

import functools

from experiments import autoencoder, base


def _set(field, value, c):
    c[field] = value
    c.name = c.name + ":" + value
    return c


def get_config(arg=None):
    c = autoencoder.autoencoder_config("conv_autoencoder", "conv")
    variants = dict(cpu=autoencoder.cpu)
    for mode in ("max_pool", "avg_pool"):
        variants[mode] = functools.partial(_set, "downsample", mode)
    for mode in ("nearest", "bilinear"):
        variants[mode] = functools.partial(_set, "upsample", mode)
    return base.apply_variant(c, arg, variants)
