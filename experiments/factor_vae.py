"""FactorVAE on dSprites (Kim & Mnih 2018): rec + KL + gamma * TC.

The total correlation TC(z) = KL(q(z) || prod_d q(z_d)) is estimated by a
discriminator trained, alongside the VAE, to tell codes z ~ q(z|x) from codes
with each dimension shuffled across the batch (``vaejax.losses``:
``permute_dims``, ``discriminator_loss``, ``factor_vae_elbo``). The
paper's settings: the convolutional model, Adam 1e-4 (VAE) and Adam 1e-4 with
beta1 0.5, beta2 0.9 (discriminator: 6 x 1000 units, leaky ReLU), batch 64,
gamma 35 (disentanglement_lib's dSprites study tried 10 to 100).

Variants: ``fc`` (Higgins et al.'s model), ``cpu``, ``smoke``, ``gpu``.
"""

from experiments import base


def cpu(c):
    # Measured on a 2-core CPU (docs/training_on_cpu.md): conv 8.4 steps/s
    # (10,000 steps in 20.8 minutes); FC 11.8 steps/s (18,000 steps in ~25).
    # Neither separated x and y position in the seeds tried.
    c.learning_rate = 5e-4
    return base.cpu_scale(c, 18_000 if c.architecture == "fc" else 10_000)


def get_config(arg=None):
    c = base.base_config()
    c.name = "factor_vae"
    c.architecture = "conv"
    c.objective = "factor_vae"
    c.gamma = 35.0  # TC weight
    c.discriminator_hidden = 1000
    c.discriminator_layers = 6
    c.discriminator_learning_rate = 1e-4
    c.optimizer = "adam"
    c.learning_rate = 1e-4
    return base.apply_variant(c, arg, dict(fc=base.fc, cpu=cpu))
