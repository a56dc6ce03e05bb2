"""VAE on dSprites: the beta-VAE objective with beta = 1 (the negative ELBO)."""

from experiments import base, beta_vae


def get_config(arg=None):
    c = base.base_config()
    c.name = "vae"
    c.architecture = "fc"
    c.beta = 1.0
    c.optimizer = "adagrad"
    c.learning_rate = 1e-2
    return base.apply_variant(c, arg, dict(conv=beta_vae.conv, cpu=beta_vae.cpu))
