"""Convolutional autoencoder (strided encoder, transposed-convolution decoder)."""

from experiments import autoencoder, base


def get_config(arg=None):
    c = base.base_config()
    c.name = "conv_autoencoder"
    c.architecture = "conv"
    c.objective = "autoencoder"
    c.optimizer = "adam"
    c.learning_rate = 1e-3
    c.num_steps = 100_000
    return base.apply_variant(c, arg, dict(cpu=autoencoder.cpu))
