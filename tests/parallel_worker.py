"""Run by tests/test_parallel.py in a fresh process (device count and the
distributed runtime are fixed when JAX starts).

    python tests/parallel_worker.py devices WORKDIR CONFIG [FIELD=VALUE ...]
    python tests/parallel_worker.py process WORKDIR CONFIG PORT PROCESS_ID NUM_PROCESSES [FIELD=VALUE ...]

Trains CONFIG (``file.py:variant`` under experiments/) into WORKDIR and
prints one JSON line with what the test checks.
"""

import ast
import json
import sys
import warnings
from pathlib import Path

import jax
import numpy as np
from jax.experimental import multihost_utils


def _config(spec):
    import importlib

    name, _, variant = spec.partition(":")
    return importlib.import_module(f"experiments.{name}").get_config(variant)


def _checksum(tree):
    return float(sum(np.abs(np.asarray(x, np.float64)).sum() for x in jax.tree.leaves(tree)))


def main():
    mode, workdir, spec = sys.argv[1:4]
    if mode == "process":
        port, pid, n = sys.argv[4:7]
        from vaejax import parallel

        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        parallel.initialize_distributed(f"127.0.0.1:{port}", int(n), int(pid))
    from vaejax import architectures, parallel, train

    config = _config(spec)
    for override in sys.argv[7 if mode == "process" else 4:]:
        field, _, value = override.partition("=")
        config[field] = ast.literal_eval(value)
    out = dict(devices=jax.device_count(), processes=jax.process_count(),
               process=jax.process_index())
    mesh = parallel.data_mesh()
    # The compiled step's view of its inputs.
    model, tx = architectures.from_config(config), train.make_optimizer(config)
    state = train.create_train_state(config, model, tx, mesh)
    step = train.make_train_step(config, model, tx, mesh)
    replicas = config.get("replicas", 1)
    lead = (replicas,) if replicas > 1 else ()
    local = np.zeros(lead + (config.batch_size // jax.process_count(), 64, 64, 1), np.float32)
    batch = parallel.global_batch(local, mesh, replicas=replicas > 1)
    compiled = step.lower(state, batch).compile()
    batch_sharding = compiled.input_shardings[0][1]
    out["batch_spec"] = str(batch_sharding.spec)
    out["shard_shape"] = list(batch_sharding.shard_shape(batch.shape))
    out["local_shards"] = [list(s.data.shape) for s in batch.addressable_shards]
    try:
        parallel.check_batch_size(config.batch_size + 1, mesh)
        out["indivisible_error"] = None
    except ValueError as err:
        out["indivisible_error"] = str(err)

    final = train.train_and_evaluate(config, workdir, progress=False)
    out["checksum"] = _checksum(final.params)
    leaves = jax.tree_util.tree_leaves_with_path(dict(params=final.params, opt=final.opt_state))
    out["specs"] = {jax.tree_util.keystr(k): [a if a is None else str(a) for a in v.sharding.spec]
                    for k, v in leaves if hasattr(v, "sharding")}
    out["shard_shapes"] = {jax.tree_util.keystr(k): list(v.addressable_shards[0].data.shape)
                           for k, v in leaves if hasattr(v, "addressable_shards")}
    out["step"] = int(final.step)
    # Every process restores the checkpoint it helped write.
    _, _, restored = train.load_state(workdir)
    out["restored_checksum"] = _checksum(restored.params)

    if jax.process_index() == 0:  # for the test's comparison with one device
        leaves = jax.tree_util.tree_leaves_with_path(final.params)
        np.savez(f"{workdir}/final_params.npz",
                 **{jax.tree_util.keystr(k): np.asarray(v) for k, v in leaves})

    # A corrupt latest checkpoint: every process falls back to the previous
    # one, and process 0 alone sets it aside.
    latest = max(int(p.name) for p in (Path(workdir) / "checkpoints").iterdir() if p.name.isdigit())
    if jax.process_index() == 0:
        for f in (Path(workdir) / "checkpoints" / str(latest)).rglob("*"):
            if f.is_file():
                f.write_bytes(b"\0garbage")
    multihost_utils.sync_global_devices("corrupted")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, _, fallback = train.load_state(workdir)
    out["fallback_step"] = int(fallback.step)
    out["fallback_warnings"] = sum("unreadable" in str(w.message) for w in caught)
    out["checkpoint_dirs"] = sorted(p.name for p in (Path(workdir) / "checkpoints").iterdir()
                                    if not p.name.startswith("."))
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
