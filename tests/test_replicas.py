"""config.replicas: N models trained as one vmapped program."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.base import load as get_config
from vaejax import architectures, checkpoint, objectives, train
from vaejax.data import ShuffledBatches, dsprites
from vaejax.evaluation import evaluate, report


ROOT = Path(__file__).resolve().parents[1]


def _leaves(tree):
    def plain(x):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return np.asarray(jax.random.key_data(x))
        return np.asarray(x)
    return [plain(x) for x in jax.tree_util.tree_leaves(tree)]


def _metrics(workdir):
    return [json.loads(l) for l in (Path(workdir) / "metrics.jsonl").read_text().splitlines()]


def test_replica_i_is_the_run_of_seed_plus_i(tmp_path):
    """Through train_and_evaluate: seeds, data orders, checkpoint and log of 3 replicas."""
    # The paper's FC model and Adagrad (the smoke variant's Adam differs by float rounding
    # between the vmapped and the single step).
    config = get_config("beta_vae:smoke", replicas=3, seed=4, data_seed=7, optimizer="adagrad",
                        learning_rate=1e-2)
    state = train.train_and_evaluate(config, tmp_path / "replicas", progress=False)
    assert int(state.step) == 30 and np.shape(state.step) == ()
    rows = _metrics(tmp_path / "replicas")
    assert [(r["step"], r["replica"]) for r in rows] == [(s, i) for s in range(5, 31, 5)
                                                        for i in range(3)]
    for i in range(3):
        single = train.replica_config(config, i)
        assert (single.seed, single.data_seed, single.replicas) == (4 + i, 7 + i, 1)
        alone = train.train_and_evaluate(single, tmp_path / f"single_{i}", progress=False)
        # The FC model's vmapped step is bit-identical to the single one on XLA:CPU.
        for got, want in zip(_leaves(state.params), _leaves(alone.params)):
            np.testing.assert_array_equal(got[i], want)
        losses = [r["loss"] for r in rows if r["replica"] == i]
        assert losses == [r["loss"] for r in _metrics(tmp_path / f"single_{i}")]
    # Different seeds: different models.
    first = _leaves(state.params)[0]
    assert not np.array_equal(first[0], first[1])
    # The restored state keeps the replica axis; evaluation slices one replica.
    _, _, restored = train.load_state(tmp_path / "replicas")
    for got, want in zip(_leaves(restored.params), _leaves(state.params)):
        np.testing.assert_array_equal(got, want)
    config_2, _, params_2, step = evaluate.load_model(tmp_path / "replicas", replica=2)
    assert step == 30 and config_2.seed == 6
    for got, want in zip(_leaves(params_2), _leaves(state.params)):
        np.testing.assert_array_equal(got, want[2])
    with pytest.raises(ValueError, match=r"replica must lie in \[0, 2\]"):
        evaluate.load_model(tmp_path / "replicas", replica=3)


def _run_steps(config, batches):
    model, tx = architectures.from_config(config), train.make_optimizer(config)
    state = train.create_train_state(config, model, tx)
    step = train.make_train_step(config, model, tx, steps=config.steps_per_dispatch)
    for batch in batches:
        state, metrics = step(state, batch)
    return state, metrics


# SGD: Adam scales each update to about the learning rate whatever the
# gradient's size, so entries whose gradient is ~0 drift apart by ~1e-4 under
# the batched matrix products' other summation order.
SPECS = ["beta_vae:conv,smoke", "factor_vae:smoke", "beta_tcvae:smoke",
         "beta_vae_capacity:smoke", "autoencoder:smoke", "denoising_autoencoder:smoke"]


@pytest.mark.parametrize("spec,steps_per_dispatch,layout",
                         [(spec, 1, layout) for spec in SPECS for layout in ("vmap", "map")]
                         + [("beta_vae:conv,smoke", 3, "map"), ("factor_vae:smoke", 3, "vmap"),
                            ("beta_tcvae:smoke", 3, "map"),
                            pytest.param("beta_vae:broadcast,smoke", 1, "vmap",
                                         marks=pytest.mark.slow)])
def test_every_objective_trains_replicas_as_separate_models(spec, steps_per_dispatch, layout):
    config = get_config(spec, replicas=2, optimizer="sgd", learning_rate=1e-4,
                        steps_per_dispatch=steps_per_dispatch, replica_layout=layout)
    rng = np.random.default_rng(0)
    calls = 6 // steps_per_dispatch
    shape = (2,) + ((steps_per_dispatch,) if steps_per_dispatch > 1 else ()) + (16, 64, 64, 1)
    batches = [(rng.random(shape) < 0.2).astype(np.float32) for _ in range(calls)]
    state, metrics = _run_steps(config, batches)
    assert int(state.step) == 6
    assert metrics["loss"].shape == (2,) + ((steps_per_dispatch,) if steps_per_dispatch > 1
                                            else ())
    for i in range(2):
        single, single_metrics = _run_steps(train.replica_config(config, i),
                                            [b[i] for b in batches])
        for got, want in zip(_leaves(state), _leaves(single)):
            if got.ndim == want.ndim:  # the shared step
                np.testing.assert_array_equal(got, want)
            elif layout == "map":  # each replica runs the single model's own program
                np.testing.assert_array_equal(got[i], want)
            else:
                np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(metrics["loss"][i], single_metrics["loss"], rtol=1e-5)
    if state.extra is not None:  # FactorVAE's discriminator is replicated too
        assert jax.tree_util.tree_leaves(state.extra)[0].shape[0] == 2


def test_stop_and_resume_of_replicas_is_bit_identical(tmp_path):
    config = get_config("beta_vae:conv,smoke", replicas=2)
    straight = train.train_and_evaluate(config, tmp_path / "straight", progress=False)
    first = get_config("beta_vae:conv,smoke", replicas=2, num_steps=20)
    train.train_and_evaluate(first, tmp_path / "resumed", progress=False)
    assert checkpoint.Checkpoints(tmp_path / "resumed" / "checkpoints").steps() == [10, 20]
    resumed = train.train_and_evaluate(config, tmp_path / "resumed", progress=False)
    for got, want in zip(_leaves(resumed), _leaves(straight)):
        np.testing.assert_array_equal(got, want)
    a, b = _metrics(tmp_path / "straight"), _metrics(tmp_path / "resumed")
    assert [(r["step"], r["replica"], r["loss"]) for r in a] == [
        (r["step"], r["replica"], r["loss"]) for r in b]


def test_a_changed_replica_count_names_the_shape(tmp_path):
    train.train_and_evaluate(get_config("vae:smoke", replicas=2, num_steps=10), tmp_path,
                             progress=False)
    with pytest.raises(checkpoint.CheckpointError, match=r"replicas 2 -> 3"):
        train.train_and_evaluate(get_config("vae:smoke", replicas=3), tmp_path, progress=False)
    with pytest.raises(checkpoint.CheckpointError, match=r"of shape \(2, .*expects \("):
        train.load_state(tmp_path, get_config("vae:smoke", replicas=3))


def test_nan_in_one_replica_names_it_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    config = get_config("vae:smoke", replicas=2, architecture="deep_fc")
    # Replica 1's batch at step index 12 (its 13th step), as its data order draws it.
    images = dsprites.load(config.data_source).imgs
    target = float(ShuffledBatches(images, batch_size=config.batch_size,
                                   seed=config.data_seed + 1, prefetch=0).batch(12).sum())
    objective = objectives.get(config.objective)
    real = objective.loss

    def poisoned(params, extra, model, config, images, key, step):
        loss, metrics = real(params, extra, model, config, images, key, step)
        bad = jnp.where((step == 12) & (jnp.sum(images) == target), jnp.nan, 0.0)
        return loss + bad, dict(metrics, loss=metrics["loss"] + bad)

    monkeypatch.setattr(objective, "loss", poisoned)
    with pytest.raises(train.NonFiniteLossError,
                       match=r"loss is nan in replica 1 at step 13 .*step 10\)"):
        train.train_and_evaluate(config, tmp_path, progress=False)
    assert checkpoint.Checkpoints(tmp_path / "checkpoints").steps() == [10]


def test_replica_layout_is_checked_and_resolved():
    with pytest.raises(ValueError, match="config.replica_layout must be one of"):
        train.validate_config(get_config("vae:smoke", replica_layout="pmap"))
    assert train.replica_layout(get_config("vae:smoke")) == "vmap"
    conv = get_config("beta_vae:conv,smoke")
    assert train.replica_layout(conv) == ("map" if jax.default_backend() == "cpu" else "vmap")
    conv.replica_layout = "vmap"
    assert train.replica_layout(conv) == "vmap"
    # the broadcast decoder's convolution gradients crawl inside lax.map on XLA:CPU
    for spec in ("beta_vae:broadcast,smoke", "conv_autoencoder:max_pool,smoke",
                 "conv_autoencoder:nearest,smoke"):
        assert train.replica_layout(get_config(spec)) == "vmap", spec
    assert train.replica_layout(get_config("beta_vae:conv,smoke", conv_impl="flax")) == "vmap"


def test_replicas_must_be_a_positive_integer():
    for bad in (0, -2):
        with pytest.raises(ValueError, match="config.replicas must be a positive integer"):
            train.validate_config(get_config("vae:smoke", replicas=bad))
    with pytest.raises(ValueError, match=r"replica must lie in \[0, 1\]"):
        train.replica_config(get_config("vae:smoke", replicas=2), 2)


def test_batches_of_several_seeds_stack_each_seeds_batches():
    images = np.zeros((50, 64, 64), np.uint8)
    for i in range(50):
        images[i].flat[:i] = 1
    stacked = ShuffledBatches(images, batch_size=4, seed=(3, 9), steps_per_item=2, start_step=6)
    alone = [ShuffledBatches(images, batch_size=4, seed=s, steps_per_item=2, start_step=6,
                             prefetch=0) for s in (3, 9)]
    for _ in range(20):  # past epoch boundaries
        batch = next(stacked)
        assert batch.shape == (2, 2, 4, 64, 64, 1)
        for r, it in enumerate(alone):
            np.testing.assert_array_equal(batch[r], next(it))
    stacked.close()
    assert not np.array_equal(alone[0].indices(0), alone[1].indices(0))


def test_metric_writer_tags_carry_the_replica(tmp_path, monkeypatch):
    writer = train.MetricWriter(tmp_path)
    tags = []
    monkeypatch.setattr(writer._tb, "add_scalar", lambda tag, value, step: tags.append(tag))
    writer.write(5, dict(loss=1.0, kl_per_dim=np.array([0.5, 0.25])), replica=3)
    writer.write(5, dict(loss=2.0))
    writer.close()
    assert tags == ["replica_3/loss", "replica_3/kl_per_dim/0", "replica_3/kl_per_dim/1", "loss"]
    rows = _metrics(tmp_path)
    assert rows[0] == dict(step=5, replica=3, loss=1.0, kl_per_dim=[0.5, 0.25])
    assert rows[1] == dict(step=5, loss=2.0)


def test_evaluate_writes_each_replica_and_a_summary(tmp_path):
    config = get_config("beta_vae:smoke", replicas=2)
    train.train_and_evaluate(config, tmp_path, progress=False)
    summary = evaluate.evaluate(tmp_path, sizes="smoke", progress=False, dci_trees="lightgbm")
    assert summary["replicas"] == 2
    reports = [json.loads((tmp_path / "eval" / f"replica_{i}" / "metrics.json").read_text())
               for i in range(2)]
    assert [r["replica"] for r in reports] == [0, 1]
    assert (tmp_path / "eval" / "replica_1" / "traversals.png").exists()
    for key in ("higgins/eval_accuracy", "higgins_dlib/eval_accuracy", "mig/mig"):
        metric, name = key.split("/")
        values = [r["metrics"][metric][name] for r in reports]
        assert summary["metrics"][key]["values"] == values
        assert summary["metrics"][key]["mean"] == pytest.approx(np.mean(values))
    for key in ("reconstruction", "kl"):
        values = [r["elbo"][key] for r in reports]
        assert summary["elbo"][key]["values"] == values
        assert summary["elbo"][key]["std"] == pytest.approx(np.std(values))
    assert json.loads((tmp_path / "eval" / "summary.json").read_text()) == summary
    # The replicas ranked without labels; the report marks the chosen one.
    ranking = json.loads((tmp_path / "eval" / "udr.json").read_text())
    lasso = ranking["scores"]["lasso"]
    assert len(lasso) == 2 and ranking["chosen"] == int(np.argmax(lasso))
    assert summary["udr"]["chosen"] == ranking["chosen"]
    assert summary["udr"]["scores"] == ranking["scores"]
    assert ranking["pairwise"]["spearman"][0][0] is None
    page = report.build_report(tmp_path)
    assert f"Replica {ranking['chosen']} (chosen by UDR)" in page
    assert "UDR (Lasso)" in page
    # A single replica on request, into its own directory only.
    one = evaluate.evaluate(tmp_path, sizes="smoke", progress=False, dci_trees="lightgbm",
                            replica=1, seed=5)
    assert one["replica"] == 1 and one["seed"] == 5
    assert json.loads((tmp_path / "eval" / "replica_0" / "metrics.json").read_text())["seed"] == 0


def test_evaluate_command_takes_a_replica(tmp_path):
    train.train_and_evaluate(get_config("beta_vae:smoke", replicas=2, num_steps=10), tmp_path,
                             progress=False)
    cmd = [sys.executable, "-m", "experiments.evaluate", "--workdir", str(tmp_path),
           "--sizes", "smoke", "--dci_trees", "lightgbm"]
    proc = subprocess.run(cmd + ["--replica", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "eval" / "replica_1" / "metrics.json").exists()
    assert not (tmp_path / "eval" / "replica_0").exists()
    proc = subprocess.run(cmd + ["--replica", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode != 0
    assert "replica must lie in [0, 1]" in proc.stderr
