"""DC-IGN on dSprites (Kulkarni et al. 2015): a VAE trained on batches that
each vary one factor, with the latents outside that factor's block clamped
to their batch mean (vaejax.objectives.dc_ign).

Latent blocks (shape, scale, orientation, posX, posY) of 1, 1, 2, 1, 1
(orientation is circular) and no free latents; convolutional model, Adam
1e-4, batch 64, beta 1. Variants: ``fc`` (Higgins et al.'s model), ``cpu``,
``smoke``, ``gpu``.
"""

from experiments import base


def cpu(c):
    # As beta_vae.py:conv,cpu: Adam 5e-4, 16,000 steps.
    c.learning_rate = 5e-4
    return base.cpu_scale(c, 16_000)


def get_config(arg=None):
    c = base.base_config()
    c.name = "dc_ign"
    c.architecture = "conv"
    c.objective = "dc_ign"
    c.dcign_blocks = (1, 1, 2, 1, 1)
    c.latents = 6
    c.beta = 1.0
    c.optimizer = "adam"
    c.learning_rate = 1e-4
    return base.apply_variant(c, arg, dict(fc=base.fc, cpu=cpu))
