import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments.base import load as get_config
from vaejax import architectures, checkpoint, losses, objectives, train
from vaejax.data import dsprites
from vaejax.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SMOKE_CONFIGS = ["autoencoder", "conv_autoencoder", "denoising_autoencoder", "vae",
                 "beta_vae", "beta_vae:conv", "beta_vae:gennorm4", "beta_vae_capacity", "beta_tcvae",
                 "beta_tcvae:broadcast", "beta_vae:broadcast", "factor_vae"]


def _metrics(workdir):
    return [json.loads(l) for l in (Path(workdir) / "metrics.jsonl").read_text().splitlines()]


def _params(workdir):
    return train.load_state(workdir)[2].params


def _assert_trees_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("spec", SMOKE_CONFIGS)
def test_smoke_configs_lower_the_loss(spec, tmp_path):
    config = get_config(spec + ",smoke" if ":" in spec else spec + ":smoke")
    train.train_and_evaluate(config, tmp_path, progress=False)
    m = _metrics(tmp_path)
    assert [r["step"] for r in m] == [5, 10, 15, 20, 25, 30]
    assert m[-1]["loss"] < m[0]["loss"], (m[0]["loss"], m[-1]["loss"])
    if config.objective != "autoencoder":
        assert len(m[-1]["kl_per_dim"]) == config.latents
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()
                  if p.name.isdigit()) == ["20", "30"]
    assert list((tmp_path / "tensorboard").iterdir())
    assert checkpoint.load_config(tmp_path).name == config.name


@pytest.mark.parametrize("spec", ["conv_autoencoder:max_pool,nearest",
                                  "conv_autoencoder:avg_pool,bilinear"])
def test_pooling_and_upsampling_variants_train(spec, tmp_path):
    config = get_config(spec + ",smoke")
    down, up = spec.partition(":")[2].split(",")
    assert (config.downsample, config.upsample) == (down, up)
    train.train_and_evaluate(config, tmp_path, progress=False)
    m = _metrics(tmp_path)
    assert m[-1]["loss"] < m[0]["loss"], (m[0]["loss"], m[-1]["loss"])
    params = _params(tmp_path)
    assert "UpConv_3" in params["decoder"] and "ConvTranspose_0" not in params["decoder"]


def test_pooling_options_outside_the_conv_models_are_refused(tmp_path):
    config = get_config("autoencoder:smoke")
    config.downsample = "max_pool"
    with pytest.raises(ConfigError, match="applies to the conv encoder"):
        train.train_and_evaluate(config, tmp_path, progress=False)
    config = get_config("beta_tcvae:broadcast,smoke")
    config.upsample = "bilinear"
    with pytest.raises(ConfigError, match="applies to the conv decoder"):
        train.train_and_evaluate(config, tmp_path, progress=False)


def test_beta_vae_broadcast_cpu_recipe_is_the_measured_one():
    config = get_config("beta_vae:broadcast,cpu")
    assert (config.objective, config.architecture, config.broadcast_resolution) == (
        "beta_vae", "broadcast", 16)
    assert (config.beta_warmup_steps, config.beta_start, config.beta_anneal_begin,
            config.beta_anneal_steps, config.beta, config.num_steps) == (
        1_000, 2.0, 3_000, 3_000, 8.0, 10_000)
    assert config.learning_rate == 5e-4 and config.prior == "gaussian"
    objectives.get("beta_vae").validate(config)
    assert config.name == "beta_vae:broadcast:cpu"
    # the conv recipe is unchanged by it
    assert (get_config("beta_vae:conv,cpu").beta, get_config("beta_vae:conv,cpu").num_steps) \
        == (8.0, 16_000)


def test_broadcast_cpu_recipe_is_the_measured_one():
    config = get_config("beta_tcvae:broadcast,cpu")
    assert config.architecture == "broadcast" and config.broadcast_resolution == 16
    assert (config.beta, config.beta_warmup_steps, config.num_steps) == (3.0, 1_000, 16_000)
    assert config.learning_rate == 5e-4 and config.batch_size == 64
    # The conv and FC :cpu recipes are unchanged by it.
    assert get_config("beta_tcvae:cpu").beta_warmup_steps == 5_000
    assert get_config("beta_tcvae:fc,cpu").batch_size == 1024


@pytest.mark.parametrize("spec", ["beta_tcvae:fc,smoke", "factor_vae:fc,smoke"])
def test_total_correlation_objectives_use_config_prior(spec):
    config = get_config(spec)
    config.prior = "gennorm4"
    model = architectures.from_config(config)
    state = train.create_train_state(config, model, train.make_optimizer(config))
    images = jnp.asarray(np.random.default_rng(0).random((8, 64, 64, 1)) > 0.7, jnp.float32)
    disc = state.extra["params"] if state.extra is not None else None
    _, metrics = train.loss_fn(state.params, model, config, images, jax.random.key(1),
                               state.step, disc)
    out = model.apply({"params": state.params}, images, jax.random.key(2))
    expected = losses.kl_per_dimension_gennorm4(out["mean"], out["logvar"]).mean(0)
    np.testing.assert_allclose(metrics["kl_per_dim"], expected, rtol=1e-5)
    gaussian = losses.kl_per_dimension(out["mean"], out["logvar"]).mean(0)
    assert not np.allclose(metrics["kl_per_dim"], gaussian, rtol=1e-2)


def test_configs_without_the_optional_fields_train_as_with_their_defaults():
    # Configs saved by older versions lack the fields added since.
    full = get_config("beta_tcvae:smoke")
    full.unlock()
    for field, value in train.OPTIONAL_FIELDS.items():
        full[field] = value
    old = ml_collections.ConfigDict(full.to_dict())
    for field in train.OPTIONAL_FIELDS:
        del old[field]
    train.validate_config(old)
    images = jnp.asarray(np.random.default_rng(0).random((4, 64, 64, 1)) > 0.7, jnp.float32)
    results = []
    for config in (full, old):
        model = architectures.from_config(config)
        state = train.create_train_state(config, model, train.make_optimizer(config))
        results.append(train.loss_fn(state.params, model, config, images, jax.random.key(1),
                                     jnp.asarray(3)))
    (loss_full, metrics_full), (loss_old, metrics_old) = results
    assert float(loss_full) == float(loss_old)
    for name in metrics_full:
        np.testing.assert_array_equal(metrics_full[name], metrics_old[name], err_msg=name)


def test_train_step_compiles_once(monkeypatch):
    traces = []
    config = get_config("vae:smoke")
    config.unlock()
    config.architecture = "deep_fc"
    objective = objectives.get(config.objective)
    real = objective.train_update
    monkeypatch.setattr(objective, "train_update", lambda *a: (traces.append(1), real(*a))[1])
    model, tx = architectures.from_config(config), train.make_optimizer(config)
    state = train.create_train_state(config, model, tx)
    step = train.make_train_step(config, model, tx)
    batch = jnp.zeros((16, 64, 64, 1))
    for i in range(6):
        state, metrics = step(state, batch + i / 10)
    assert int(state.step) == 6
    assert len(traces) == 1


def test_stop_and_resume_gives_identical_parameters(tmp_path):
    config = get_config("beta_vae:smoke")
    train.train_and_evaluate(config, tmp_path / "straight", progress=False)
    first = get_config("beta_vae:smoke")
    first.num_steps = 20
    train.train_and_evaluate(first, tmp_path / "resumed", progress=False)
    assert checkpoint.Checkpoints(tmp_path / "resumed" / "checkpoints").steps() == [10, 20]
    state = train.train_and_evaluate(config, tmp_path / "resumed", progress=False)
    assert int(state.step) == 30
    _assert_trees_equal(_params(tmp_path / "straight"), _params(tmp_path / "resumed"))


def test_several_steps_per_dispatch_give_the_same_run(tmp_path):
    config = get_config("beta_vae:smoke")
    train.train_and_evaluate(config, tmp_path / "straight", progress=False)
    first = get_config("beta_vae:smoke")
    first.num_steps, first.steps_per_dispatch = 20, 5
    train.train_and_evaluate(first, tmp_path / "scanned", progress=False)
    # resumed at 20 with one step per call
    state = train.train_and_evaluate(config, tmp_path / "scanned", progress=False)
    assert int(state.step) == 30
    _assert_trees_equal(_params(tmp_path / "straight"), _params(tmp_path / "scanned"))
    straight, scanned = _metrics(tmp_path / "straight"), _metrics(tmp_path / "scanned")
    assert [r["step"] for r in scanned] == [5, 10, 15, 20, 25, 30]
    for a, b in zip(straight, scanned):
        assert (a["loss"], a["kl_per_dim"]) == (b["loss"], b["kl_per_dim"])


def test_steps_per_dispatch_must_divide_the_step_counts_and_the_resumed_step(tmp_path):
    config = get_config("vae:smoke")
    config.steps_per_dispatch = 3
    with pytest.raises(ValueError, match=r"config.log_every \(5\) must be a multiple of "
                                         r"config.steps_per_dispatch \(3\)"):
        train.validate_config(config)
    config.steps_per_dispatch = 0
    with pytest.raises(ValueError, match="config.steps_per_dispatch must be a positive"):
        train.validate_config(config)
    config = get_config("vae:smoke")
    config.num_steps = 10
    train.train_and_evaluate(config, tmp_path, progress=False)
    config = get_config("vae:smoke")
    config.num_steps = config.log_every = config.checkpoint_every = 40
    config.steps_per_dispatch = 4
    with pytest.raises(ValueError, match="cannot resume at step 10 with config.steps_per_dispatch 4"):
        train.train_and_evaluate(config, tmp_path, progress=False)
    assert checkpoint.Checkpoints(tmp_path / "checkpoints").steps() == [10]


def _run_cli(workdir, *overrides, **kwargs):
    cmd = [sys.executable, "-m", "experiments.run", "--config", "experiments/vae.py:smoke",
           "--workdir", str(workdir), *overrides]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kwargs)


@pytest.mark.parametrize("replicas", [1, 2])
def test_sigkill_and_restart_gives_identical_parameters(tmp_path, replicas):
    overrides = ["--config.num_steps=40", "--config.checkpoint_every=5",
                 "--config.architecture=deep_fc", f"--config.replicas={replicas}"]
    straight = _run_cli(tmp_path / "straight", *overrides)
    killed = _run_cli(tmp_path / "killed", *overrides)
    ckpt_dir = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and killed.poll() is None:
        if ckpt_dir.exists() and any(p.name.isdigit() and int(p.name) >= 15
                                     for p in ckpt_dir.iterdir()):
            break
        time.sleep(0.05)
    assert killed.poll() is None, "the run finished before it could be killed"
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    saved = checkpoint.Checkpoints(ckpt_dir).steps()
    assert saved and max(saved) < 40
    restarted = _run_cli(tmp_path / "killed", *overrides)
    for proc in (straight, restarted):
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    _assert_trees_equal(_params(tmp_path / "straight"), _params(tmp_path / "killed"))
    # The log holds each step once, with the same losses.
    a, b = _metrics(tmp_path / "straight"), _metrics(tmp_path / "killed")
    assert [r["step"] for r in a] == [r["step"] for r in b]
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    assert [r.get("replica") for r in b] == ([None] if replicas == 1 else [0, 1]) * 8


def test_unknown_override_names_the_field(tmp_path):
    proc = _run_cli(tmp_path, "--config.betaa=3")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "betaa" in out


def test_bad_config_value_names_the_field(tmp_path):
    config = get_config("vae:smoke")
    config.optimizer = "adamw"
    with pytest.raises(ValueError, match="config.optimizer"):
        train.train_and_evaluate(config, tmp_path, progress=False)
    config = get_config("beta_tcvae:smoke")
    config.tc_estimator = "mss"
    with pytest.raises(ValueError, match="config.tc_estimator"):
        train.validate_config(config)
    config.tc_estimator = "mws"
    config.dataset_size = config.batch_size - 1
    with pytest.raises(ValueError, match="config.dataset_size"):
        train.validate_config(config)
    config = get_config("beta_vae:smoke")
    config.prior = "cauchy"
    with pytest.raises(ValueError, match="config.prior"):
        train.validate_config(config)
    config = get_config("beta_vae_capacity:smoke")
    config.prior = "laplace"
    with pytest.raises(ValueError, match="config.prior='laplace' is implemented for the "
                                         "objectives .*got objective 'capacity'"):
        train.validate_config(config)
    for spec in ("beta_tcvae:smoke", "factor_vae:smoke"):
        config = get_config(spec)
        config.prior = "gennorm4"
        train.validate_config(config)


@pytest.mark.parametrize("steps_per_dispatch", [1, 5])
def test_nan_loss_stops_with_the_step_and_keeps_the_checkpoint(tmp_path, monkeypatch,
                                                               steps_per_dispatch):
    config = get_config("vae:smoke")
    objective = objectives.get(config.objective)
    real = objective.loss

    def poisoned(params, extra, model, config, images, key, step):
        loss, metrics = real(params, extra, model, config, images, key, step)
        bad = jnp.where(step >= 13, jnp.nan, 0.0)  # step counts from 0
        return loss + bad, dict(metrics, loss=metrics["loss"] + bad)

    monkeypatch.setattr(objective, "loss", poisoned)
    config.architecture = "deep_fc"
    config.steps_per_dispatch = steps_per_dispatch
    with pytest.raises(train.NonFiniteLossError, match=r"at step 14 .*step 10\)"):
        train.train_and_evaluate(config, tmp_path, progress=False)
    assert checkpoint.Checkpoints(tmp_path / "checkpoints").steps() == [10]
    assert int(train.load_state(tmp_path)[2].step) == 10


def test_restore_into_another_architecture_names_the_mismatch(tmp_path):
    config = get_config("vae:smoke")
    config.num_steps = 10
    train.train_and_evaluate(config, tmp_path, progress=False)
    other = get_config("vae:smoke")
    other.architecture = "conv"
    with pytest.raises(checkpoint.CheckpointError, match="architecture 'fc' -> 'conv'"):
        train.train_and_evaluate(other, tmp_path, progress=False)
    with pytest.raises(checkpoint.CheckpointError, match="another architecture|shape"):
        train.load_state(tmp_path, other)
    wider = get_config("vae:smoke")
    wider.latents = 12
    with pytest.raises(checkpoint.CheckpointError, match=r"'decoder/Dense_0/kernel' of shape \(10, 1200\).*\(12, 1200\)"):
        train.load_state(tmp_path, wider)


def test_corrupt_latest_checkpoint_falls_back(tmp_path):
    config = get_config("vae:smoke")
    config.architecture = "deep_fc"
    config.num_steps = 20
    train.train_and_evaluate(config, tmp_path, progress=False)
    latest = tmp_path / "checkpoints" / "20"
    for f in latest.rglob("*"):
        if f.is_file():
            f.write_bytes(b"\0garbage")
    with pytest.warns(UserWarning, match="checkpoint step 20 .* unreadable"):
        _, _, state = train.load_state(tmp_path)
    assert int(state.step) == 10
    assert (tmp_path / "checkpoints" / "20.corrupt").exists()
    # Training resumes from step 10 and saves step 20 again.
    state = train.train_and_evaluate(config, tmp_path, progress=False)
    assert int(state.step) == 20
    assert checkpoint.Checkpoints(tmp_path / "checkpoints").steps() == [10, 20]


def test_linear_autoencoder_learns_the_pca_subspace():
    rng = np.random.default_rng(0)
    k, n = 3, 256
    basis = np.linalg.qr(rng.normal(size=(4096, k)))[0]
    coeffs = rng.normal(size=(n, k)) * np.array([30.0, 25.0, 20.0])
    x = coeffs @ basis.T + 0.01 * rng.normal(size=(n, 4096))
    x = x.astype(np.float32)
    top = np.linalg.svd(x - x.mean(0), full_matrices=False)[2][:k].T  # (4096, k)

    config = get_config("autoencoder:smoke")
    config.architecture, config.latents, config.likelihood = "linear", k, "gaussian"
    config.learning_rate = 3e-3
    model, tx = architectures.from_config(config), train.make_optimizer(config)
    state = train.create_train_state(config, model, tx)
    step = train.make_train_step(config, model, tx)
    batch = x.reshape(n, 64, 64, 1)
    for _ in range(2600):  # a linear autoencoder leaves its saddle slowly
        state, metrics = step(state, batch)
    decoder = np.asarray(state.params["decoder"]["Dense_0"]["kernel"]).T  # (4096, k)
    q = np.linalg.qr(decoder)[0]
    cosines = np.linalg.svd(top.T @ q, compute_uv=False)
    angles = np.degrees(np.arccos(np.clip(cosines, -1, 1)))
    assert angles.max() < 3.0, angles


def test_denoising_autoencoder_beats_the_corrupted_input(tmp_path):
    config = get_config("denoising_autoencoder:smoke")
    config.architecture = "deep_fc"
    config.data_source = "sample:64"
    config.batch_size = 64
    config.num_steps = 400
    config.log_every = config.checkpoint_every = 400
    state = train.train_and_evaluate(config, tmp_path, progress=False)
    model = architectures.from_config(config)
    data = dsprites.load(config.data_source)
    clean = jnp.asarray(data.imgs[..., None], jnp.float32)
    from vaejax.data import corruptions
    noisy = corruptions.salt_and_pepper(jax.random.key(99), clean, rate=config.corruption_rate)
    denoised = jax.nn.sigmoid(model.apply({"params": state.params}, noisy)["logits"]) > 0.5
    err_denoised = float(jnp.mean(denoised != (clean > 0.5)))
    err_noisy = float(jnp.mean(noisy != clean))
    err_blank = float(jnp.mean(clean))  # an all-black guess
    assert err_denoised < 0.5 * min(err_noisy, err_blank), (err_denoised, err_noisy, err_blank)


def test_sweep_runs_each_beta_and_seed(tmp_path):
    from experiments import sweep
    config = get_config("beta_vae:smoke")
    config.num_steps = 4
    paths = sweep.run_sweep(config, tmp_path, ["1", "8"], ["0", "2"], progress=False)
    assert [p.name for p in paths] == ["beta1_seed0", "beta1_seed2", "beta8_seed0", "beta8_seed2"]
    for path in paths:
        saved = checkpoint.load_config(path)
        beta, seed = path.name[4:].split("_seed")
        assert saved.beta == float(beta) and saved.seed == saved.data_seed == int(seed)
        assert checkpoint.Checkpoints(path / "checkpoints").steps() == [4]
    # Different seeds give different parameters.
    a, b = (train.load_state(p)[2].params for p in paths[:2])
    assert not all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_tpu_variant():
    c = get_config("beta_vae:conv,tpu")
    assert c.batch_size == 512 and c.batch_size % 8 == 0 and c.architecture == "conv"
    assert c.num_steps * c.batch_size == 300_000 * 64


@pytest.mark.parametrize("name", ["autoencoder", "conv_autoencoder", "denoising_autoencoder",
                                  "vae", "beta_vae", "beta_vae_capacity", "beta_tcvae",
                                  "factor_vae"])
def test_gpu_variant_picks_the_largest_dividing_steps_per_dispatch(name):
    for arg, expected in (("gpu", 10), ("cpu,gpu", 10), ("gpu,smoke", 5), ("smoke,gpu", 5)):
        c = get_config(f"{name}:{arg}")
        train.validate_config(c)  # K divides the step counts
        assert c.steps_per_dispatch == expected, arg
        plain = get_config(f"{name}:{arg.replace('gpu', '').strip(',')}")
        assert plain.steps_per_dispatch == 1
        # nothing else changes
        assert {k: v for k, v in c.to_dict().items() if k not in ("steps_per_dispatch", "name")} \
            == {k: v for k, v in plain.to_dict().items() if k not in ("steps_per_dispatch", "name")}
    c = get_config(f"{name}:smoke")
    c.log_every = 3
    assert importlib.import_module("experiments.base").gpu(c).steps_per_dispatch == 1


def test_stack_metrics_stacks_each_metric_over_calls():
    pending = [dict(loss=jnp.float32(i), kl_per_dim=jnp.arange(3.0) + i) for i in range(4)]
    out = jax.device_get(train._stack_metrics(pending))  # pylint: disable=protected-access
    np.testing.assert_array_equal(out["loss"], np.arange(4.0))
    np.testing.assert_array_equal(out["kl_per_dim"], np.arange(3.0)[None] + np.arange(4.0)[:, None])
    # several steps per call: (calls, steps, ...)
    scanned = [dict(loss=jnp.arange(2.0) + 2 * i) for i in range(3)]
    np.testing.assert_array_equal(
        jax.device_get(train._stack_metrics(scanned))["loss"].reshape(-1), np.arange(6.0))  # pylint: disable=protected-access


@pytest.mark.parametrize("arg", ["", "conv", "cpu", "conv,cpu", "cpu,conv", "conv,cpu,gpu",
                                 "smoke", "conv,smoke"])
def test_vae_config_is_beta_one_in_every_variant(arg):
    c = get_config(f"vae:{arg}")
    assert c.beta == 1.0 and c.objective == "beta_vae"
    # the same recipe as beta_vae's but for beta
    other = get_config(f"beta_vae:{arg}").to_dict()
    assert {k: v for k, v in c.to_dict().items() if k not in ("beta", "name")} == \
        {k: v for k, v in other.items() if k not in ("beta", "name")}
