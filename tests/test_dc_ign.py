"""DC-IGN (Kulkarni et al. 2015): one-factor batches, clamping and its gradients."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import dc_ign as dc_ign_config
from vaejax import architectures, losses, train
from vaejax.data import datasets, dsprites, factors, pipeline
from vaejax.data import renderer as render_lib
from vaejax.errors import ConfigError
from vaejax.objectives import dc_ign


@pytest.fixture(scope="module")
def sample():
    return dsprites.sampled(256, seed=0)


def test_each_batch_varies_one_factor_in_turn(sample):
    batches = pipeline.OneFactorBatches(sample, batch_size=32, seed=3, prefetch=0)
    for step in range(10):
        classes = batches.factor_classes(step)
        varied = pipeline.GroundTruth.varying_factors[step % 5]
        for column in range(6):
            constant = len(np.unique(classes[:, column])) == 1
            assert constant == (column != varied), (step, column)
        np.testing.assert_array_equal(batches.batch(step)[..., 0],
                                      render_lib.render(classes).astype(np.float32))
    assert not np.array_equal(batches.factor_classes(0), batches.factor_classes(5))


def test_one_factor_batches_resume_and_shard_exactly(sample):
    run = pipeline.OneFactorBatches(sample, batch_size=16, seed=1, prefetch=2)
    first = [next(run) for _ in range(6)]
    run.close()
    resumed = pipeline.OneFactorBatches(sample, batch_size=16, seed=1, start_step=4,
                                        prefetch=2)
    np.testing.assert_array_equal(next(resumed), first[4])
    resumed.close()
    halves = [pipeline.OneFactorBatches(sample, batch_size=16, seed=1, shard=(i, 2),
                                        prefetch=0, dtype=np.uint8).batch(3) for i in range(2)]
    np.testing.assert_array_equal(np.concatenate(halves).astype(np.float32), first[3])


def test_complete_data_are_looked_up_not_rendered():
    classes = factors.index_to_classes(np.arange(0, factors.NUM_IMAGES, 4096))
    imgs = np.zeros((factors.NUM_IMAGES, 64, 64), np.uint8)  # stand-in pixels: lookups show
    imgs[::4096] = render_lib.render(classes)
    full = dsprites.DSprites(imgs, factors.all_classes(), np.zeros((factors.NUM_IMAGES, 6)),
                             "test")
    batches = pipeline.OneFactorBatches(full, batch_size=8, seed=0, prefetch=0, dtype=np.uint8)
    want = imgs[factors.classes_to_index(batches.factor_classes(2))]
    np.testing.assert_array_equal(batches.batch(2)[..., 0], want)


def test_clamped_latents_are_equal_across_the_batch_and_get_the_replacement_gradient():
    z = jax.random.normal(jax.random.key(0), (8, 5))
    active = jnp.asarray([False, True, True, False, False])
    clamped, invariance = losses.dcign_clamp(z, active)
    np.testing.assert_allclose(clamped[:, ~active], np.broadcast_to(z[:, ~active].mean(0), (8, 3)),
                               rtol=1e-6)
    np.testing.assert_array_equal(clamped[:, active], z[:, active])
    weights = jax.random.normal(jax.random.key(1), (5,))
    # a stand-in "reconstruction" of the decoder input: only the active block gets its gradient
    rec_grad = jax.grad(lambda z: jnp.sum(jnp.sin(losses.dcign_clamp(z, active)[0]) * weights))(z)
    assert np.all(np.asarray(rec_grad)[:, ~np.asarray(active)] == 0)
    assert np.all(np.abs(np.asarray(rec_grad)[:, np.asarray(active)]) > 0)
    inv_grad = jax.grad(lambda z: jnp.sum(losses.dcign_clamp(z, active)[1]))(z)
    want = np.where(active, 0.0, z - z.mean(0))
    np.testing.assert_allclose(inv_grad, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(invariance, 0.5 * np.sum(want ** 2, axis=1), rtol=1e-5)


def test_blocks_and_the_varied_factor_pick_the_active_latents():
    config = dc_ign_config.get_config("smoke")
    config.latents = 8
    np.testing.assert_array_equal(dc_ign.latent_blocks(config), [0, 1, 2, 2, 3, 4, -1, -1])
    assert dc_ign.factors(config) == ("shape", "scale", "orientation", "posX", "posY")


def test_the_loss_clamps_outside_the_varied_block():
    config = dc_ign_config.get_config("smoke")
    model = architectures.from_config(config)
    state = train.create_train_state(config, model, train.make_optimizer(config))
    images = jnp.asarray(np.random.default_rng(0).random((8, 64, 64, 1)) > 0.8, jnp.float32)
    for step in (2, 3):  # orientation's block (latents 2, 3), then posX's (latent 4)
        grads = jax.grad(lambda p: train.loss_fn(p, model, config, images, jax.random.key(2),
                                                  jnp.int32(step))[0])(state.params)
        assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))
    loss, metrics = train.loss_fn(state.params, model, config, images, jax.random.key(2),
                                  jnp.int32(3))
    np.testing.assert_allclose(float(loss), float(metrics["reconstruction"] + metrics["kl"]
                                                  + metrics["invariance"]), rtol=1e-5)


def test_dc_ign_trains_from_its_smoke_config(tmp_path):
    config = dc_ign_config.get_config("smoke")
    train.train_and_evaluate(config, tmp_path, progress=False)
    records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == config.num_steps
    assert all(np.isfinite(r["invariance"]) for r in records)
    assert records[-1]["loss"] < records[0]["loss"]


@pytest.mark.parametrize("blocks,message", [
    ((1, 1, 2, 1), "config.dcign_blocks must give 5 positive latent counts"),
    ((1, 1, 0, 1, 1), "config.dcign_blocks must give 5"),
    ((2, 2, 2, 2, 2), "need 10 latents, more than config.latents = 6"),
])
def test_bad_blocks_name_the_field(blocks, message):
    config = dc_ign_config.get_config("smoke")
    config.dcign_blocks = blocks
    with pytest.raises(ConfigError, match=message):
        train.validate_config(config)


def test_blocks_follow_the_datasets_factors():
    config = dc_ign_config.get_config("smoke")
    config.dataset = "shapes3d"
    with pytest.raises(ConfigError, match=r"6 positive latent counts, one per factor "
                                          r"\('floor_hue', 'wall_hue'"):
        dc_ign.OBJECTIVE.validate(config)
    config.dcign_blocks = (1, 1, 1, 1, 1, 1)
    dc_ign.OBJECTIVE.validate(config)
    config.dataset = "celeba"
    with pytest.raises(ConfigError, match="needs a dataset with factors; celeba has none"):
        dc_ign.OBJECTIVE.validate(config)


def test_one_factor_batches_of_a_colour_variant():
    colour = datasets.load("color_dsprites", "sample:256")
    batches = pipeline.OneFactorBatches(colour, batch_size=8, seed=2, prefetch=0,
                                        dtype=np.uint8)
    first = next(batches)
    assert first.shape == (8, 64, 64, 3) and first.max() > 1
    again = pipeline.OneFactorBatches(colour, batch_size=8, seed=2, prefetch=0, dtype=np.uint8)
    np.testing.assert_array_equal(next(again), first)
