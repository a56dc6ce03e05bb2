"""vaejax: autoencoders, VAEs and beta-VAEs in JAX/Flax, with dSprites built in and the
other disentanglement benchmarks readable."""

__version__ = "0.1.0"
