"""Denoising convolutional autoencoder: salt-and-pepper corrupted input, clean target."""

from experiments import autoencoder, base


def masking(c):
    c.corruption = "masking"
    c.corruption_rate = 0.3
    return c


def get_config(arg=None):
    c = base.base_config()
    c.name = "denoising_autoencoder"
    c.architecture = "conv"
    c.objective = "autoencoder"
    c.corruption = "salt_and_pepper"
    c.corruption_rate = 0.1
    c.optimizer = "adam"
    c.learning_rate = 1e-3
    c.num_steps = 100_000
    return base.apply_variant(c, arg, dict(cpu=autoencoder.cpu, masking=masking))
