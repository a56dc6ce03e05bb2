"""Defaults shared by every config, and the :smoke variant."""

import importlib

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    """Every field a run reads; configs override what differs."""
    c = ml_collections.ConfigDict()
    c.name = "run"
    c.seed = 0  # parameters and sampling
    c.data_seed = 0  # batch order
    # A name of vaejax.data.datasets.NAMES: dsprites, color_dsprites, noisy_dsprites,
    # scream_dsprites, shapes3d, mpi3d, smallnorb, cars3d, celeba, images.
    c.dataset = "dsprites"
    # Where its files are (docs/data.md): dSprites and its variants 'simulated',
    # 'npz:PATH', 'hdf5:PATH', 'tfds', 'tfds:DATA_DIR', 'sample:N' (scream_dsprites
    # also '+image:PATH'); the others 'hdf5:PATH', 'npz:PATH', 'dir:PATH' or 'tfds'.
    c.data_source = "simulated"
    c.image_channels = 3  # the images dataset: 3 (colour) or 1 (greyscale)

    c.architecture = "fc"  # fc | conv | broadcast | deep_fc | linear
    c.broadcast_resolution = 64  # broadcast: the grid the decoder's 3x3 stack runs at
    # conv and broadcast encoders: stride | max_pool | avg_pool (2 x 2 after each conv)
    c.downsample = "stride"
    # conv decoder: transpose | nearest | bilinear (x2, then a 3x3 conv)
    c.upsample = "transpose"
    c.conv_impl = "fast"  # fast | flax: same function and parameters (vaejax.layers)
    c.latents = 10
    c.objective = "beta_vae"  # a name of vaejax.objectives.NAMES
    # bernoulli | gaussian. gaussian: the VAE family sums (sigmoid(logits) - x)^2
    # (disentanglement_lib's l2, vaejax.losses.reconstruction_nll); the autoencoder
    # 0.5 (output - x)^2.
    c.likelihood = "bernoulli"
    c.beta = 1.0
    c.beta_warmup_steps = 0  # beta ramps linearly from 0 over these steps
    # beta_vae: > 0 anneals beta geometrically from beta_start to beta over
    # beta_anneal_steps, from step beta_anneal_begin on (the warm-up, if any,
    # ramps to beta_start)
    c.beta_start = 0.0
    c.beta_anneal_steps = 0
    c.beta_anneal_begin = 0
    c.prior = "gaussian"  # gaussian | laplace | gennorm4 (the VAE-family objectives)
    c.gamma = 1000.0  # capacity objective (Burgess et al. 2018); the TC weight for factor_vae
    c.capacity_max = 25.0
    c.capacity_steps = 100_000
    c.gamma_warmup_steps = 0  # capacity: gamma ramps linearly from 0 over these steps
    c.corruption = "none"  # none | masking | salt_and_pepper
    c.corruption_rate = 0.0

    c.optimizer = "adam"  # adam | adagrad | sgd
    c.learning_rate = 1e-4
    c.lr_warmup_steps = 0
    c.grad_clip_norm = 0.0  # 0: no clipping
    c.batch_size = 64  # global: split over every device
    # Split large parameters and optimizer moments over the devices (ZeRO-3 /
    # FSDP style) instead of replicating them: the same step up to float
    # rounding, with 1/N of their memory per device.
    c.shard_params = False
    c.num_steps = 300_000

    c.log_every = 100
    c.checkpoint_every = 5_000
    c.keep_checkpoints = 3
    # Train steps per call from Python (a lax.scan): more than 1 pays on an
    # accelerator when the model is small (the ``gpu`` variant). Divides the
    # three step counts above.
    c.steps_per_dispatch = 1
    # Independent models trained side by side in one compiled step (vmap):
    # replica i has seed seed + i and data order data_seed + i.
    c.replicas = 1
    # auto | vmap | map: how the step runs the replicas (vaejax.train.replica_layout)
    c.replica_layout = "auto"
    return c


def fc(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The ``fc`` variant of the convolutional configs: Higgins et al.'s FC model."""
    c.architecture = "fc"
    c.name = c.name + ":fc"
    return c


def broadcast(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The ``broadcast`` variant of the convolutional configs: the spatial broadcast
    decoder (Watters et al. 2019) in place of the transposed convolutions."""
    c.architecture = "broadcast"
    c.name = c.name + ":broadcast"
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Seconds-long run on 2,048 dSprites rendered in memory (for tests; another
    dataset reads its own ``data_source``)."""
    c.data_source = "sample:2048"
    if c.optimizer == "adagrad":
        # The paper's Adagrad 1e-2 moves every weight by ~1e-2 in its first step: on
        # dense images (noisy- or scream-dSprites, Shapes3D, photos) the FC code then
        # overflows within a few steps. Adam 1e-4 trains every dataset.
        c.optimizer, c.learning_rate = "adam", 1e-4
    c.batch_size = 16
    c.num_steps = 30
    c.log_every = 5
    c.checkpoint_every = 10
    c.keep_checkpoints = 2
    if c.architecture == "broadcast":
        c.broadcast_resolution = 16  # the 64 x 64 grid's 3x3 stack takes minutes here
    c.name = c.name + ":smoke"
    return c


def cpu_scale(c: ml_collections.ConfigDict, num_steps: int) -> ml_collections.ConfigDict:
    """A run of ``num_steps`` sized for 30 minutes on a 2-core CPU, on the full set."""
    c.num_steps = num_steps
    c.log_every = 100
    c.checkpoint_every = 1_000
    c.name = c.name + ":cpu"
    return c


def gpu(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Several train steps per call from Python, for a GPU (or another accelerator).

    A step of these small models takes about a millisecond on a GPU, and one
    call per step leaves the device waiting on the host: on an H200, 10 steps
    per call ran a whole conv run at ~2,030 steps/s against ~1,270 with one
    (docs/performance.md, "On a GPU"). The largest of 10, 5, 2 that divides ``num_steps``,
    ``log_every`` and ``checkpoint_every`` (it applies after the other
    variants). Leave it off on a CPU, where the scanned step is slower.
    """
    for k in (10, 5, 2, 1):
        if not (c.num_steps % k or c.log_every % k or c.checkpoint_every % k):
            c.steps_per_dispatch = k
            break
    c.name = c.name + ":gpu"
    return c


def apply_variant(c, arg, variants):
    """Applies the comma-separated variants in ``arg`` (None or '' for none).

    Scale variants (``cpu``/``tpu``, then ``smoke``, then ``gpu``) apply after
    the others, so ``cpu,conv`` and ``conv,cpu`` mean the same.
    """
    variants = dict(variants, smoke=smoke, gpu=gpu)
    parts = [p for p in (arg or "").split(",") if p]
    for part in parts:
        if part not in variants:
            raise ValueError(f"unknown config variant {part!r}; expected one of "
                             f"{sorted(variants)}")
    late = ("cpu", "tpu", "smoke", "gpu")
    for part in sorted(parts, key=lambda p: late.index(p) + 1 if p in late else 0):
        c = variants[part](c)
    return c


def load(spec: str, **fields) -> ml_collections.ConfigDict:
    """The config ``spec`` names, ``"NAME[:VARIANTS]"`` (``"beta_vae:broadcast,cpu"``
    is ``experiments/beta_vae.py:broadcast,cpu``), with ``fields`` overridden."""
    name, _, variants = spec.partition(":")
    config = importlib.import_module(f"experiments.{name}").get_config(variants)
    config.update(fields)
    return config
