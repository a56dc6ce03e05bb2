"""Denoising convolutional autoencoder: salt-and-pepper corrupted input, clean target."""

from experiments import autoencoder, base


def masking(c):
    c.corruption = "masking"
    c.corruption_rate = 0.3
    return c


def get_config(arg=None):
    c = autoencoder.autoencoder_config("denoising_autoencoder", "conv")
    c.corruption = "salt_and_pepper"
    c.corruption_rate = 0.1
    return base.apply_variant(c, arg, dict(cpu=autoencoder.cpu, masking=masking))
