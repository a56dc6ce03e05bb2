"""InfoGAN on dSprites (Chen et al. 2016; the table's 73.5 %): 5 continuous
codes uniform in [-1, 1] and 32 noise dimensions, the standard conv layers
(leaky ReLU in the discriminator), lambda 1, Adam (beta1 0.5) at 1e-3 for
the generator and 2e-4 for the discriminator and Q, as Chen et al.; batch 64.
The representation scored is Q's mean of c (vaejax.objectives.infogan).

Variants: ``cpu`` (16,000 steps), ``smoke``, ``gpu``.
"""

from experiments import base


def cpu(c):
    return base.cpu_scale(c, 16_000)


def get_config(arg=None):
    c = base.base_config()
    c.name = "infogan"
    c.architecture = "infogan"
    c.objective = "infogan"
    c.latents = 5
    c.gan_noise = 32
    c.infogan_lambda = 1.0
    c.optimizer = "adam"
    c.learning_rate = 1e-3
    c.discriminator_learning_rate = 2e-4
    return base.apply_variant(c, arg, dict(cpu=cpu))
