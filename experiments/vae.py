"""VAE on dSprites: the beta-VAE objective with beta = 1 (the negative ELBO)."""

from experiments import base, beta_vae


def get_config(arg=None):
    c = beta_vae.paper_config("vae", 1.0)
    return base.apply_variant(c, arg, dict(conv=beta_vae.conv, cpu=beta_vae.cpu))
