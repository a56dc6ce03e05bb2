"""Models trained by this project's own recipes, shipped with the package.

Each is a workdir (``config.json``, ``checkpoints/``, the evaluation's
``eval/`` and ``report.html``) plus ``pretrained.json``, which names the
command, seed and commit that trained it. Shipped workdirs are read-only:
evaluation and reports of them write into another directory, and training
refuses them.

    from vaejax import pretrained
    model, params, config = pretrained.load("beta_vae_broadcast")
    out = model.apply({"params": params}, images, key)   # images (B, 64, 64, 1) in [0, 1]
"""

from __future__ import annotations

import json
from pathlib import Path

from vaejax import train as _train
from vaejax import workdir as _workdir
from vaejax.errors import InputError

_ROOT = Path(__file__).resolve().parent
PREFIX = "pretrained:"
MARKER = _workdir.SHIPPED_MARKER


def names() -> list[str]:
    """The shipped models' names."""
    return sorted(p.name for p in _ROOT.iterdir() if (p / MARKER).is_file())


def path(name: str) -> Path:
    """The workdir of the shipped model ``name``."""
    if not (_ROOT / name / MARKER).is_file():
        raise ValueError(f"no pretrained model {name!r}; shipped: {', '.join(names()) or 'none'}")
    return _ROOT / name


def resolve(workdir: str | Path) -> Path:
    """``"pretrained:NAME"`` -> the shipped model's workdir; any other path unchanged."""
    text = str(workdir)
    return path(text[len(PREFIX):]) if text.startswith(PREFIX) else Path(workdir)


def is_shipped(workdir: str | Path) -> bool:
    """Whether ``workdir`` is a shipped pretrained model (it holds ``pretrained.json``)."""
    return (Path(workdir) / MARKER).is_file()


def check_writable(path: str | Path) -> None:
    """Raises InputError when ``path`` is, or lies inside, a shipped model's directory."""
    resolved = Path(path).resolve()
    for folder in (resolved, *resolved.parents):
        if is_shipped(folder):
            raise InputError(f"{path} lies in the shipped pretrained model {folder}, "
                             "which is read-only")


def info(name: str) -> dict:
    """``pretrained.json`` of ``name``: how it was trained (command, seed, commit)."""
    return json.loads((path(name) / MARKER).read_text())


def load(name: str):
    """``(model, params, config)`` of the shipped model ``name``.

    ``model`` is a :class:`vaejax.models.Autoencoder`, ``params`` its Flax
    parameters, ``config`` the training config (an ``ml_collections.ConfigDict``).
    """
    config, model, params, _ = _train.load_model(path(name), read_only=True)
    return model, params, config
