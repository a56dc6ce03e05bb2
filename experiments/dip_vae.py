"""DIP-VAE on dSprites (Kumar et al. 2018): the negative ELBO plus
lambda_od sum_{i != j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2.

DIP-VAE-I by default: C = Cov[mu(x)] over the batch, lambda_d = 10 lambda_od;
``ii``: DIP-VAE-II, C = Cov[mu(x)] + E[diag exp(logvar)], lambda_d = lambda_od.
lambda_od 10, from disentanglement_lib's sweep {1, 2, 5, 10, 20, 50}. Its
convolutional model, Adam 1e-4, batch 64.

Variants: ``ii``, ``fc`` (Higgins et al.'s model), ``cpu``, ``smoke``, ``gpu``.
"""

from experiments import base


def ii(c):
    c.dip_type = "ii"
    c.lambda_d_factor = 1.0
    c.name = c.name + ":ii"
    return c


def cpu(c):
    # As beta_vae.py:conv,cpu (Adam 5e-4, 16,000 steps): 10-28 minutes on 2 cores.
    c.learning_rate = 5e-4
    return base.cpu_scale(c, 16_000 if c.architecture == "conv" else 25_000)


def get_config(arg=None):
    c = base.base_config()
    c.name = "dip_vae"
    c.architecture = "conv"
    c.objective = "dip_vae"
    c.dip_type = "i"
    c.lambda_od = 10.0
    c.lambda_d_factor = 10.0
    c.optimizer = "adam"
    c.learning_rate = 1e-4
    return base.apply_variant(c, arg, dict(ii=ii, fc=base.fc, cpu=cpu))
