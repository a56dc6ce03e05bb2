"""Data parallel (8 fake CPU devices) and multi-process (2 local processes) training."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import beta_vae
from vaejax import architectures, train

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "parallel_worker.py"
CONFIG = "beta_vae:conv,smoke"  # batch 16, 30 steps


def _env(**extra):
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    env.update(PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", **extra)
    return env


def _result(output: str) -> dict:
    lines = [l for l in output.splitlines() if l.startswith("RESULT ")]
    assert lines, output[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def _params(workdir):
    return train.load_state(workdir)[2].params


DENSE = "['params']['encoder']['Dense_0']['kernel']"  # (1024, 256)
BIAS = "['params']['encoder']['Dense_0']['bias']"  # 256 elements: too small to split


def _final_params(workdir):
    """The worker's final parameters (it then corrupts its latest checkpoint)."""
    with np.load(workdir / "final_params.npz") as f:
        return {k: f[k] for k in f.files}


def _keyed(params):
    return {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(params)}


def _assert_params_close(a, b):
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=2e-5,
                                   err_msg=jax.tree_util.keystr(path))


# SGD: Adam scales each update to about the learning rate whatever the
# gradient's size, so entries whose gradient is ~0 drift apart under another
# summation order (sharding changes it more than the batch split does): on
# one machine type 39 of 65,536 entries of a kernel ended 1e-4 apart after
# 30 Adam steps. Under SGD an update is the gradient, summed in another order.
SGD = dict(optimizer="sgd", learning_rate=1e-5)
SGD_REPLICAS = dict(optimizer="sgd", learning_rate=1e-4)
SGD_OVERRIDES = tuple(f"{k}={v!r}" for k, v in SGD_REPLICAS.items())


def _sgd_config():
    config = beta_vae.get_config("conv,smoke")
    config.update(SGD_REPLICAS)
    return config


def _assert_updates_close(a, b):
    """``a`` and ``b``'s moves from the shared initial parameters agree to
    1e-2 of each array's largest move (float32 parameters round each move
    to ~1e-3 of it), for the encoder's moves (~3e-5 in 30
    steps) are too small for the absolute check to see."""
    config = _sgd_config()
    init = _keyed(train.create_train_state(config, architectures.from_config(config),
                                           train.make_optimizer(config)).params)
    for name in b:
        da, db = a[name] - init[name], np.asarray(b[name]) - init[name]
        scale = np.abs(db).max()
        assert scale > 0, name
        np.testing.assert_allclose(da, db, rtol=1e-2, atol=1e-2 * scale, err_msg=name)


@pytest.fixture(scope="module")
def one_device_run(tmp_path_factory):
    assert jax.device_count() == 1
    workdir = tmp_path_factory.mktemp("one_device")
    train.train_and_evaluate(_sgd_config(), workdir, progress=False)
    return workdir


def _run_eight(workdir, *overrides):
    proc = subprocess.run(
        [sys.executable, str(WORKER), "devices", str(workdir), CONFIG, *overrides],
        env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=8"),
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = _result(proc.stdout)
    assert out["devices"] == 8
    assert out["step"] == 30 and out["restored_checksum"] == out["checksum"]
    # A corrupt latest checkpoint falls back to the previous one, with a warning.
    assert out["fallback_step"] == 20 and out["fallback_warnings"] == 1
    return out


def test_eight_devices_match_one(tmp_path, one_device_run):
    out = _run_eight(tmp_path / "eight", *SGD_OVERRIDES)
    # The compiled step splits the batch over the data axis: 2 examples per device.
    assert out["batch_spec"] == "P('data',)"
    assert out["shard_shape"] == [2, 64, 64, 1]
    assert out["local_shards"] == [[2, 64, 64, 1]] * 8
    assert "not divisible by the 8 devices" in out["indivisible_error"]
    # Parameters and optimizer state replicated.
    assert all(spec == [] for spec in out["specs"].values())
    assert out["shard_shapes"][DENSE] == [1024, 256]
    eight, one = _final_params(tmp_path / "eight"), _keyed(_params(one_device_run))
    assert sorted(eight) == sorted(one)
    _assert_params_close(eight, one)
    _assert_updates_close(eight, one)


def test_eight_devices_with_several_steps_per_dispatch_match_one(tmp_path, one_device_run):
    # The stacked batches (5, 16, 64, 64, 1) split over the data axis on their second axis.
    _run_eight(tmp_path / "eight", "steps_per_dispatch=5", *SGD_OVERRIDES)
    eight, one = _final_params(tmp_path / "eight"), _keyed(_params(one_device_run))
    _assert_params_close(eight, one)
    _assert_updates_close(eight, one)


def test_eight_devices_train_replicas_as_one_device(tmp_path):
    config = _sgd_config()
    config.replicas = 2
    train.train_and_evaluate(config, tmp_path / "one", progress=False)
    out = _run_eight(tmp_path / "eight", "replicas=2", *SGD_OVERRIDES)
    # (replicas, B, ...): each replica's batch split over the data axis.
    assert out["batch_spec"] == "P(None, 'data')"
    assert out["shard_shape"] == [2, 2, 64, 64, 1]
    eight, one = _final_params(tmp_path / "eight"), _keyed(_params(tmp_path / "one"))
    assert sorted(eight) == sorted(one)
    assert eight["['encoder']['Dense_0']['kernel']"].shape == (2, 1024, 256)
    _assert_params_close(eight, one)


def test_eight_devices_with_sharded_parameters_match_one(tmp_path):
    config = beta_vae.get_config("conv,smoke")
    config.update(SGD)
    train.train_and_evaluate(config, tmp_path / "one", progress=False)
    out = _run_eight(tmp_path / "eight", "shard_params=True",
                     *(f"{k}={v!r}" for k, v in SGD.items()))
    assert out["specs"][DENSE] == ["data", None]
    assert out["shard_shapes"][DENSE] == [128, 256]
    assert out["specs"][BIAS] == []
    eight, one = _final_params(tmp_path / "eight"), _keyed(_params(tmp_path / "one"))
    assert sorted(eight) == sorted(one)
    _assert_params_close(eight, one)
    # Evaluation reads the parameters, split over 8 devices when saved, on this
    # one-device process (as a GPU-trained run's on a CPU), and renames nothing.
    from vaejax.evaluation import evaluate

    steps = sorted(p.name for p in (tmp_path / "eight" / "checkpoints").iterdir())
    _, _, params, step = evaluate.load_model(tmp_path / "eight")
    assert step == 20  # the worker corrupted and set aside step 30
    assert sorted(p.name for p in (tmp_path / "eight" / "checkpoints").iterdir()) == steps
    assert jax.tree.leaves(params)[0].devices() == {jax.devices()[0]}
    restored = train.load_state(tmp_path / "eight")[2].params
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(restored)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_state_sharding_splits_large_arrays_and_their_moments():
    from jax.sharding import AbstractMesh, PartitionSpec as P

    from vaejax import parallel

    config = beta_vae.get_config("conv,smoke")
    model, tx = architectures.from_config(config), train.make_optimizer(config)
    state = jax.eval_shape(lambda: train.create_train_state(config, model, tx))
    mesh = AbstractMesh((8,), ("data",))
    specs = _keyed(jax.tree.map(lambda s: s.spec, parallel.state_sharding(
        dict(params=state.params, opt=state.opt_state, key=state.key, step=state.step),
        mesh, shard_params=True)))
    for name in (DENSE, "['opt'][0].mu['encoder']['Dense_0']['kernel']",
                 "['opt'][0].nu['encoder']['Dense_0']['kernel']"):
        assert specs[name] == P("data", None), name  # (1024, 256): rows
    # (4, 4, 64, 64) kernel: the first of its largest divisible axes.
    assert specs["['params']['decoder']['ConvTranspose_0']['kernel']"] == P(None, None, "data", None)
    # (4, 4, 32, 1): 512 elements, replicated.
    assert specs["['params']['decoder']['ConvTranspose_3']['kernel']"] == P()
    for name in (BIAS, "['key']", "['step']", "['opt'][0].count"):
        assert specs[name] == P(), name
    replicated = parallel.state_sharding(state, mesh, shard_params=False)
    assert all(s.spec == P() for s in jax.tree.leaves(replicated))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_together(tmp_path, one_device_run):
    workdir, port = tmp_path / "two", _free_port()
    procs = [subprocess.Popen(
        [sys.executable, str(WORKER), "process", str(workdir), CONFIG, str(port), str(i), "2",
         *SGD_OVERRIDES],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for i in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(_result(stdout))
    assert [o["process"] for o in outs] == [0, 1]
    assert all(o["processes"] == 2 and o["devices"] == 2 for o in outs)
    # Each process holds its own half of every batch.
    assert all(o["local_shards"] == [[8, 64, 64, 1]] for o in outs)
    # The processes agree, and each restored the checkpoint they wrote together.
    assert outs[0]["checksum"] == outs[1]["checksum"]
    assert all(o["restored_checksum"] == o["checksum"] for o in outs)
    # A corrupt latest checkpoint: both fall back to step 20, process 0 alone
    # warns and sets step 30 aside, once.
    assert [o["fallback_step"] for o in outs] == [20, 20]
    assert [o["fallback_warnings"] for o in outs] == [1, 0]
    assert all(o["checkpoint_dirs"] == ["20", "30.corrupt"] for o in outs)
    # Logged once: one metrics row per logging step.
    steps = [json.loads(l)["step"] for l in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))
    two_process, one = _final_params(workdir), _keyed(_params(one_device_run))
    assert sorted(two_process) == sorted(one)
    _assert_params_close(two_process, one)
    _assert_updates_close(two_process, one)


def test_process_shards_partition_each_batch():
    from vaejax.data import ShuffledBatches

    images = (np.arange(40)[:, None, None] * np.ones((1, 64, 64))).astype(np.uint8)
    whole = ShuffledBatches(images, batch_size=8, seed=3, prefetch=0)
    shards = [ShuffledBatches(images, batch_size=8, seed=3, prefetch=i, shard=(i, 2))
              for i in range(2)]
    for step in range(7):  # across epoch boundaries
        parts = [next(s) for s in shards]
        assert all(p.shape == (4, 64, 64, 1) for p in parts)
        np.testing.assert_array_equal(np.concatenate(parts), whole.batch(step))
    for s in shards:
        s.close()
    with pytest.raises(ValueError, match="shard"):
        ShuffledBatches(images, batch_size=8, seed=0, shard=(0, 3))


def test_distributed_settings_are_checked(monkeypatch):
    from vaejax import parallel

    for var in (parallel.ENV_COORDINATOR, parallel.ENV_NUM_PROCESSES, parallel.ENV_PROCESS_ID):
        monkeypatch.delenv(var, raising=False)
    assert parallel.initialize_distributed() is False  # single process: nothing to start
    with pytest.raises(ValueError, match="coordinator"):
        parallel.initialize_distributed(num_processes=2, process_id=1)
    monkeypatch.setenv(parallel.ENV_COORDINATOR, "127.0.0.1:1")
    with pytest.raises(ValueError, match="num_processes"):
        parallel.initialize_distributed()
    with pytest.raises(ValueError, match="process_id"):
        parallel.initialize_distributed(num_processes=2, process_id=2)
