"""Evaluation: disentanglement metrics, baselines, pictures; reads only a workdir."""
