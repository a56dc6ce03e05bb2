"""Published figures to set a run's metrics beside.

Only figures read from their source are here; a metric without one shows
none (disentanglement_lib's study, Locatello et al. 2019, publishes its
scores as plots, not tables).
"""

from __future__ import annotations

# Higgins et al. (2017), Table 1: the Higgins metric (accuracy %) on dSprites.
HIGGINS_2017 = {
    "ground truth factors": "100", "raw pixels": "45.75 ± 0.8", "PCA": "84.9 ± 0.4",
    "ICA": "42.03 ± 10.6", "DC-IGN": "99.3 ± 0.1", "InfoGAN": "73.5 ± 0.9",
    "VAE untrained": "44.14 ± 2.5", "VAE": "61.58 ± 0.5", "beta-VAE": "99.23 ± 0.1",
}

_ROWS = {"vae": "VAE", "beta_vae": "beta-VAE"}
SOURCES = {"paper": "paper", "dlib": "disentanglement_lib"}  # lookup's keys -> column names
NOTE = ("Reference values are the paper's where it gives one for this kind of model; "
        "disentanglement_lib's study (Locatello et al. 2019) publishes its scores as plots, "
        "and none is transcribed here.")


def model_kind(config) -> str:
    """``"vae"`` (the beta_vae objective at beta 1), ``"beta_vae"`` (beta > 1),
    or the config's objective."""
    objective = config.get("objective", "")
    if objective == "beta_vae":
        return "vae" if float(config.get("beta", 1.0)) == 1.0 else "beta_vae"
    return objective


def lookup(metric: str, field: str, model: str) -> dict[str, str]:
    """Reference values for ``metrics.json``'s ``metric`` / ``field`` of a model
    of kind ``model``: ``{"paper": ..., "dlib": ...}``, each present only where known."""
    out = {}
    if metric == "higgins" and field == "eval_accuracy" and model in _ROWS:
        out["paper"] = f"{HIGGINS_2017[_ROWS[model]]} % (Higgins et al. 2017, Table 1)"
    return out
