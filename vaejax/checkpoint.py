"""Orbax checkpoints of a training run, with the config saved beside them.

Layout of a workdir::

    workdir/config.json          the run's config
    workdir/checkpoints/<step>/  Orbax checkpoints (the last K kept)

A checkpoint holds a pytree of arrays; typed PRNG keys are stored as their
raw key data and rewrapped on restore.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from vaejax.errors import CheckpointError


def _path_str(path) -> str:
    names = (getattr(p, "key", getattr(p, "idx", getattr(p, "name", p))) for p in path)
    return "/".join(str(n) for n in names)


def _shapes(tree) -> dict[str, tuple]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {_path_str(path): tuple(getattr(leaf, "shape", np.shape(leaf)))
            for path, leaf in leaves}


def check_compatible(saved, target, *, step: int,
                     written_for: str = "another architecture") -> None:
    """Raises CheckpointError naming the first leaf whose presence or shape differs.

    ``written_for`` ends the message for a missing or extra leaf (what the
    checkpoint's difference implies).
    """
    saved_shapes, target_shapes = _shapes(saved), _shapes(target)
    for name in sorted(set(saved_shapes) | set(target_shapes)):
        if name not in target_shapes:
            raise CheckpointError(
                f"checkpoint step {step} has '{name}', which the configured run lacks: "
                f"the checkpoint was written for {written_for}")
        if name not in saved_shapes:
            raise CheckpointError(
                f"checkpoint step {step} lacks '{name}', which the configured run has: "
                f"the checkpoint was written for {written_for}")
        if saved_shapes[name] != target_shapes[name]:
            raise CheckpointError(
                f"checkpoint step {step} has '{name}' of shape {saved_shapes[name]}, the "
                f"configured run expects {target_shapes[name]}")


def save_config(workdir: str | os.PathLike, config) -> None:
    """Writes ``config.json`` into the workdir (atomically)."""
    path = Path(workdir) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(config.to_json(indent=2, sort_keys=True))
    os.replace(tmp, path)


def load_config(workdir: str | os.PathLike):
    """The ConfigDict saved in a workdir."""
    import ml_collections  # pylint: disable=import-outside-toplevel

    path = Path(workdir) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"no config.json in workdir {workdir}: not a workdir that "
                              "experiments.run has trained in")
    return ml_collections.ConfigDict(json.loads(path.read_text()))


class Checkpoints:
    """Saves and restores train states in ``directory``, keeping the last ``max_to_keep``."""

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int = 3,
                 read_only: bool = False):
        self.directory = Path(directory).absolute()
        self.read_only = read_only  # never create, rename or write anything there
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, create=not read_only, read_only=read_only,
                enable_async_checkpointing=False),
            item_handlers=ocp.StandardCheckpointHandler())

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any) -> None:
        """Saves a pytree of arrays (typed keys allowed) at ``step``."""
        self._manager.save(step, args=ocp.args.StandardSave(_unwrap_keys(state)))
        self._manager.wait_until_finished()

    def restore(self, step: int, target: Any) -> Any:
        """Restores ``step`` into the structure of ``target`` (a pytree like the saved one)."""
        plain_target = _unwrap_keys(target)
        saved = self._saved_tree(step)
        if isinstance(saved, dict) and isinstance(plain_target, dict) and "params" in plain_target:
            # Optimizer state mirrors the parameters: checking these names the layer.
            check_compatible(saved.get("params", {}), plain_target["params"], step=step)
            # An objective's own networks (FactorVAE's "discriminator"), likewise.
            for name in sorted((set(saved) | set(plain_target)) - set(_TRAIN_STATE_KEYS)):
                check_compatible({name: _params_of(saved.get(name))},
                                 {name: _params_of(plain_target.get(name))}, step=step)
            # The rest (optimizer state, key, step): a mismatch, not corruption.
            check_compatible(saved, plain_target, step=step,
                             written_for="another optimizer, objective or replica count")
        else:
            check_compatible(saved, plain_target, step=step, written_for="another structure")
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, plain_target)
        restored = self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
        return _rewrap_keys(restored, target)

    def restore_latest(self, target: Any) -> tuple[int, Any] | None:
        """Restores the newest readable checkpoint; None when there is none.

        A checkpoint that cannot be read is renamed ``<step>.corrupt`` (kept for
        inspection), with a warning, and the previous one is tried.
        """
        return self._newest_readable(lambda step: self.restore(step, target))

    def restore_params(self, template) -> tuple[int, Any]:
        """The parameters of the newest readable checkpoint, without the optimizer state.

        ``template`` is a params pytree of the configured model (shapes are
        checked against it). Corrupt checkpoints are set aside as in
        :meth:`restore_latest`.
        """
        def read(step):
            saved = self._saved_tree(step)
            check_compatible(saved["params"], template, step=step)
            # Onto this process's first device, whatever devices wrote it (a
            # checkpoint trained on a GPU or over several devices, read on a CPU).
            device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
            abstract = jax.tree_util.tree_map(
                lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), saved)
            restored = self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
            return restored["params"]

        found = self._newest_readable(read)
        if found is None:
            raise CheckpointError(f"no readable checkpoint in {self.directory}")
        return found

    def _saved_tree(self, step: int):
        """The saved pytree's metadata (shapes) at ``step``."""
        metadata = self._manager.item_metadata(step)
        saved = getattr(metadata, "tree", metadata)
        if saved is None:
            raise ValueError(f"no metadata for checkpoint step {step}")
        return saved

    def _newest_readable(self, read) -> tuple[int, Any] | None:
        """``(step, read(step))`` for the newest step ``read`` succeeds on, setting
        unreadable ones aside; a CheckpointError (a mismatch) propagates."""
        for step in reversed(self.steps()):
            try:
                return step, read(step)
            except CheckpointError:
                raise
            except Exception as err:  # pylint: disable=broad-except
                self._set_aside(step, err)
        return None

    def _set_aside(self, step: int, err: Exception) -> None:
        """Renames an unreadable step (on process 0; the others wait for it)."""
        bad = self.directory / str(step)
        if self.read_only:
            warnings.warn(f"checkpoint step {step} in {self.directory} is unreadable "
                          f"({type(err).__name__}: {err}); falling back to the previous one")
            return
        if jax.process_index() == 0:
            warnings.warn(f"checkpoint step {step} in {self.directory} is unreadable "
                          f"({type(err).__name__}: {err}); moved to {bad}.corrupt, "
                          "falling back to the previous one")
            if bad.exists():
                os.replace(bad, bad.with_name(f"{step}.corrupt"))
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(f"vaejax_checkpoint_set_aside_{step}")
        self._manager.reload()

    def close(self) -> None:
        self._manager.close()


_TRAIN_STATE_KEYS = ("step", "params", "opt_state", "key")


def _params_of(tree):
    return tree.get("params", {}) if isinstance(tree, dict) else {}


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _unwrap_keys(tree):
    return jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _rewrap_keys(restored, target):
    def rewrap(r, t):
        return jax.random.wrap_key_data(r, impl=jax.random.key_impl(t)) if _is_key(t) else r
    return jax.tree_util.tree_map(rewrap, restored, target)
