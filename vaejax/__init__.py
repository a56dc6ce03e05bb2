"""vaejax: autoencoders, VAEs and beta-VAEs in JAX/Flax, with dSprites built in."""

__version__ = "0.1.0"
