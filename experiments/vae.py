"""VAE on dSprites: the beta-VAE objective with beta = 1 (the negative ELBO).

Variants as ``beta_vae.py``'s (``conv``, ``broadcast``, ``cpu``, ``smoke``,
``gpu``), with beta kept at 1 in all of them: ``broadcast,cpu`` is the recipe
of ``beta_vae.py:broadcast,cpu`` with beta warmed up to 1 and held there.
"""

from experiments import base, beta_vae


def cpu(c):
    c = beta_vae.cpu(c)
    # beta_vae's cpu sets beta 8 for the conv model, 0 -> 2 -> 8 for the broadcast one
    return beta_vae.set_beta(c, 1.0)


def get_config(arg=None):
    c = beta_vae.paper_config("vae", 1.0)
    return base.apply_variant(c, arg, dict(conv=beta_vae.conv, broadcast=beta_vae.broadcast, cpu=cpu))
