"""Convolutional autoencoder (strided encoder, transposed-convolution decoder)."""

from experiments import autoencoder, base


def get_config(arg=None):
    c = autoencoder.autoencoder_config("conv_autoencoder", "conv")
    return base.apply_variant(c, arg, dict(cpu=autoencoder.cpu))
