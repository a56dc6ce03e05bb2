"""Deep fully connected autoencoder (4096-1000-500-250-10 and back), deterministic code.

Variant ``linear``: one linear layer each way trained with squared error, the
autoencoder whose code spans the principal subspace (PCA's).
"""

from experiments import base


def linear(c):
    c.architecture = "linear"
    c.likelihood = "gaussian"  # squared error on the linear output: PCA's subspace
    c.name = c.name + ":linear"
    return c


def cpu(c):
    # Within 30 minutes on 2 cores: the deep FC model runs about 1.5x the
    # FC beta-VAE's 15 steps/s, the convolutional one about 10.5 steps/s
    # (vaejax.layers; measured on the conv beta-VAE).
    return base.cpu_scale(c, 16_000 if c.architecture == "conv" else 35_000)


def autoencoder_config(name: str, architecture: str):
    """The settings every autoencoder config shares (Adam 1e-3, 100,000 steps)."""
    c = base.base_config()
    c.name = name
    c.architecture = architecture
    c.objective = "autoencoder"
    c.optimizer = "adam"
    c.learning_rate = 1e-3
    c.num_steps = 100_000
    return c


def get_config(arg=None):
    c = autoencoder_config("autoencoder", "deep_fc")
    return base.apply_variant(c, arg, dict(cpu=cpu, linear=linear))
