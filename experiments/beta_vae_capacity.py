"""Capacity-annealed beta-VAE (Burgess et al. 2018): rec + gamma * |KL - C|,
C rising linearly from 0 to 25 nats over 100,000 steps; convolutional model."""

from experiments import base


def cpu(c):
    # Sized at 2.6 steps/s (Flax's layers): 30 minutes; about 3x faster now.
    c.learning_rate = 5e-4
    c.capacity_steps = 3_500
    return base.cpu_scale(c, 4_500)


def get_config(arg=None):
    c = base.base_config()
    c.name = "beta_vae_capacity"
    c.architecture = "conv"
    c.objective = "capacity"
    c.gamma = 1000.0
    c.capacity_max = 25.0
    c.capacity_steps = 100_000
    c.optimizer = "adam"
    c.learning_rate = 5e-4
    return base.apply_variant(c, arg, dict(cpu=cpu))
