"""Capacity-annealed beta-VAE (Burgess et al. 2018): rec + gamma * |KL - C|,
C rising linearly from 0 to 25 nats over 100,000 steps; convolutional model."""

from experiments import base


def cpu(c):
    # Sized from the conv beta-VAE's measured ~10.5 steps/s (vaejax.layers):
    # 16,000 steps in under 30 minutes; C reaches 25 nats at 12,000.
    c.learning_rate = 5e-4
    c.capacity_steps = 12_000
    return base.cpu_scale(c, 16_000)


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
