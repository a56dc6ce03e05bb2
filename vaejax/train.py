"""Training: train state, a jit-compiled train step, and the loop with logging and checkpoints.

The step's randomness is ``fold_in(state.key, state.step)``, and batch ``k``
is fixed by the data seed and ``k``, so a run resumed from a checkpoint
continues exactly as if it had not stopped.

With ``config.replicas = N`` > 1, one run trains N independent models in one
compiled step (``jax.vmap`` over the train state, or ``lax.map``: see
:func:`replica_layout`): replica ``i`` is the run
of :func:`replica_config` ``(config, i)`` (seed ``seed + i``, data order
``data_seed + i``). Every array of the state but ``step`` gains a leading
replica axis of size N; the checkpoint holds them all.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from tqdm.auto import tqdm

from vaejax import architectures
from vaejax import checkpoint as checkpoint_lib
from vaejax import layers, losses, models, objectives, options, parallel
from vaejax import workdir as workdir_lib
from vaejax.data import datasets
from vaejax.errors import ConfigError, NonFiniteLossError


@flax.struct.dataclass
class TrainState:
    """Everything a run needs to continue: step (int32 scalar; also the data
    position, since batch k depends only on the data seed and k), params,
    optimizer state and a typed PRNG key; and the objective's own state
    (``extra``: e.g. FactorVAE's discriminator, a dict of ``params`` and
    ``opt_state``; None for most objectives, see :mod:`vaejax.objectives`)."""

    step: jax.Array
    params: Any
    opt_state: Any
    key: jax.Array
    extra: Any = None


OBJECTIVES = objectives.NAMES
LIKELIHOODS = ("bernoulli", "gaussian")
CORRUPTIONS = ("none", "masking", "salt_and_pepper")
OPTIMIZERS = ("adam", "adagrad", "sgd")


# Fields a config may lack (configs saved by older versions, hand-built ones),
# and the value used then.
OPTIONAL_FIELDS = options.DEFAULTS
REPLICA_LAYOUTS = ("auto", "vmap", "map")


def _option(config, field):
    return options.get(config, field)


def num_replicas(config) -> int:
    """``config.replicas``: models trained side by side in one run (1 when unset)."""
    return _option(config, "replicas")


def replica_layout(config) -> str:
    """How the step runs ``config.replicas`` models: ``"vmap"`` (one batched
    program) or ``"map"`` (``lax.map``: each replica's step in turn, inside
    the same compiled program).

    ``config.replica_layout = "auto"`` picks ``"map"`` for the convolutional
    model on a CPU, ``"vmap"`` otherwise. Measured on a 2-core CPU at batch
    64 and 4 replicas (docs/replicas.md), in model-steps/s against one
    model: conv 0.64x vmapped (its activations, 4x larger, fall out of the
    caches) against 0.95x mapped; FC 0.96x vmapped against 0.46x mapped
    (the map copies its 12M parameters and their moments every step);
    the broadcast decoder 0.85x vmapped against 0.07x mapped (XLA:CPU runs
    the gradients of its 3x3 convolutions many times slower inside a loop),
    and so the pooling, upsampling or ``conv_impl="flax"`` conv models too
    (``map`` only for the strided conv model on :mod:`vaejax.layers`)."""
    layout = _option(config, "replica_layout")
    if layout != "auto":
        return layout
    # only vaejax.layers' products keep their speed inside lax.map's loop
    own_products = (config.architecture == "conv" and options.get(config, "conv_impl") == "fast"
                    and options.get(config, "downsample") == "stride"
                    and options.get(config, "upsample") == "transpose")
    return "map" if own_products and jax.default_backend() == "cpu" else "vmap"


def replica_config(config: ml_collections.ConfigDict, replica: int) -> ml_collections.ConfigDict:
    """The single-model config whose run replica ``replica`` of ``config`` trains:
    seed ``seed + replica``, data seed ``data_seed + replica``, one replica."""
    n = num_replicas(config)
    if not 0 <= replica < n:
        raise ValueError(f"replica must lie in [0, {n - 1}], got {replica}")
    single = ml_collections.ConfigDict(config.to_dict())
    single.seed = config.seed + replica
    single.data_seed = config.data_seed + replica
    single.replicas = 1
    return single


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError (a ValueError) naming the first field with a bad value."""
    choices = dict(objective=objectives.NAMES, likelihood=LIKELIHOODS, corruption=CORRUPTIONS,
                   optimizer=OPTIMIZERS, architecture=architectures.ARCHITECTURES,
                   dataset=datasets.NAMES, image_channels=(1, 3),
                   replica_layout=REPLICA_LAYOUTS,
                   conv_impl=models.CONV_IMPLS, tc_estimator=losses.TC_ESTIMATORS,
                   prior=losses.PRIORS, downsample=layers.DOWNSAMPLE, upsample=layers.UPSAMPLE)
    for field, allowed in choices.items():
        value = config.get(field, OPTIONAL_FIELDS.get(field))
        if value not in allowed:
            raise ConfigError(f"config.{field} must be one of {allowed}, got {value!r}")
    if not isinstance(_option(config, "shard_params"), bool):
        raise ConfigError(f"config.shard_params must be True or False, got {config.shard_params!r}")
    for field in ("batch_size", "num_steps", "latents", "log_every", "checkpoint_every",
                  "keep_checkpoints"):
        if int(config[field]) <= 0:
            raise ConfigError(f"config.{field} must be positive, got {config[field]}")
    replicas = num_replicas(config)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas <= 0:
        raise ConfigError(f"config.replicas must be a positive integer, got {replicas!r}")
    per_call = _option(config, "steps_per_dispatch")
    if not isinstance(per_call, int) or per_call <= 0:
        raise ConfigError(f"config.steps_per_dispatch must be a positive integer, got {per_call!r}")
    for field in ("num_steps", "log_every", "checkpoint_every"):
        if config[field] % per_call:
            raise ConfigError(f"config.{field} ({config[field]}) must be a multiple of "
                               f"config.steps_per_dispatch ({per_call})")
    shape = datasets.observation_shape(config)
    if config.architecture in architectures.CONVOLUTIONAL and (shape[0] % 16 or shape[1] % 16):
        raise ConfigError(f"config.architecture={config.architecture!r} needs images whose height "
                          f"and width are multiples of 16; {datasets.config_dataset(config)} has {shape}")
    if _option(config, "downsample") != "stride" and config.architecture not in ("conv",
                                                                                 "broadcast"):
        raise ConfigError(f"config.downsample={config.downsample!r} applies to the conv encoder "
                          f"(config.architecture conv or broadcast), not {config.architecture!r}")
    if _option(config, "upsample") != "transpose" and config.architecture != "conv":
        raise ConfigError(f"config.upsample={config.upsample!r} applies to the conv decoder "
                          f"(config.architecture conv), not {config.architecture!r}")
    objective = objectives.get(config.objective)
    if config.architecture not in objective.architectures:
        raise ConfigError(f"the {config.objective} objective trains config.architecture in "
                          f"{objective.architectures}, got {config.architecture!r}")
    objective.validate(config)
    if _option(config, "prior") != "gaussian" and not objective.uses_prior:
        with_prior = tuple(n for n in objectives.NAMES if objectives.get(n).uses_prior)
        raise ConfigError(f"config.prior={config.prior!r} is implemented for the objectives "
                           f"{with_prior}, got objective {config.objective!r}")
    if config.learning_rate <= 0:
        raise ConfigError(f"config.learning_rate must be positive, got {config.learning_rate}")


def make_optimizer(config) -> optax.GradientTransformation:
    own = objectives.get(config.objective).optimizer(config)
    if own is not None:
        return own
    lr: Any = config.learning_rate
    if _option(config, "lr_warmup_steps"):
        lr = optax.linear_schedule(0.0, config.learning_rate, config.lr_warmup_steps)
    opt = dict(adam=optax.adam, adagrad=optax.adagrad, sgd=optax.sgd)[config.optimizer](lr)
    if _option(config, "grad_clip_norm"):
        opt = optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), opt)
    return opt


def state_sharding(config, model, tx, mesh):
    """The train state's sharding over ``mesh``: replicated, or with large
    parameters and optimizer moments split over devices when
    ``config.shard_params``."""
    abstract = jax.eval_shape(lambda: create_train_state(config, model, tx))
    return parallel.state_sharding(abstract, mesh,
                                   shard_params=bool(_option(config, "shard_params")))


def replica_axes(config) -> TrainState:
    """``jax.vmap`` axes of a replicated train state: 0 for every array but the
    shared ``step``."""
    has_extra = objectives.get(config.objective).state_name is not None
    return TrainState(step=None, params=0, opt_state=0, key=0, extra=0 if has_extra else None)


def create_train_state(config, model, tx, mesh=None) -> TrainState:
    """The initial state from ``config.seed`` (replica ``i``: ``seed + i``);
    laid out over ``mesh`` when given (see :func:`state_sharding`; computed
    under jit, so it works across processes too)."""
    if mesh is not None:
        return jax.jit(lambda: create_train_state(config, model, tx),
                       out_shardings=state_sharding(config, model, tx, mesh))()
    n = num_replicas(config)
    if n == 1:
        return _initial_state(config, model, tx, config.seed)
    seeds = config.seed + jnp.arange(n)
    return jax.vmap(lambda seed: _initial_state(config, model, tx, seed),
                    out_axes=replica_axes(config))(seeds)


def _initial_state(config, model, tx, seed) -> TrainState:
    key = jax.random.key(seed)
    init_key, train_key = jax.random.split(key)
    params = models.init_params(model, init_key)
    extra = objectives.get(config.objective).init_state(config, jax.random.fold_in(init_key, 1))
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      opt_state=tx.init(params), key=train_key, extra=extra)


def loss_fn(params, model, config, images, key, step, extra_params=None):
    """``config.objective``'s mean loss over the batch and per-batch metrics
    (:mod:`vaejax.objectives`); ``extra_params``: the parameters of the
    objective's own state (FactorVAE's discriminator), None for most."""
    return objectives.get(config.objective).loss(params, extra_params, model, config, images,
                                                 key, step)


def make_train_step(config, model, tx, mesh=None, *, steps: int = 1) -> Callable:
    """``train_step(state, batch) -> (state, metrics)``, jit-compiled, state donated.

    batch: (B, H, W, C) images, float32 in [0, 1] or the dataset's uint8 bytes
    (0/1 for dSprites, 0..255 otherwise; scaled here). With a ``mesh``
    (:func:`vaejax.parallel.data_mesh`), the batch is split over its ``data``
    axis, the state keeps the layout of :func:`state_sharding` and the
    metrics are replicated; the step computes the same function of the
    global batch on any number of devices.

    With ``steps`` > 1, one call runs that many steps (a ``lax.scan``):
    batch is (steps, B, H, W, C) and each metric gains a leading
    ``steps`` axis. Fewer calls from Python: for small models on an
    accelerator the step is otherwise bound by the host's dispatch.

    With ``config.replicas`` N > 1 the step runs every replica (vmapped or
    mapped, :func:`replica_layout`): batch gains a leading N axis, (N, B, ...) or (N, steps, B, ...), one
    batch per replica, and so does every metric.
    """
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")

    objective = objectives.get(config.objective)
    max_value = datasets.max_value(config)

    def train_step(state: TrainState, batch):
        if batch.dtype == jnp.uint8:  # cast (and scaled: 0..255 bytes) here, on the device
            batch = batch.astype(jnp.float32)
            if max_value != 1:
                batch = batch * jnp.float32(1.0 / max_value)
        else:
            batch = batch.astype(jnp.float32)
        key = jax.random.fold_in(state.key, state.step)
        return objective.train_update(config, model, tx, state, batch, key)

    fn = train_step if steps == 1 else (
        lambda state, batches: jax.lax.scan(train_step, state, batches))
    replicas = num_replicas(config) > 1
    if replicas and replica_layout(config) == "vmap":
        axes = replica_axes(config)
        fn = jax.vmap(fn, in_axes=(axes, 0), out_axes=(axes, 0))
    elif replicas:
        fn = _map_over_replicas(fn, num_replicas(config))
    if mesh is None:
        return jax.jit(fn, donate_argnums=0)
    parallel.check_batch_size(config.batch_size, mesh)
    rep, layout = parallel.replicated(mesh), state_sharding(config, model, tx, mesh)
    batch = parallel.batch_sharding(mesh, stacked=steps > 1, replicas=replicas)
    return jax.jit(fn, donate_argnums=0, in_shardings=(layout, batch),
                   out_shardings=(layout, rep))


def _map_over_replicas(fn, n: int):
    """``fn`` (one model's step) run on each replica in turn with ``lax.map``;
    the same inputs and outputs as its vmapped form."""

    def step(state, batch):
        stacked = state.replace(step=jnp.broadcast_to(state.step, (n,)))
        new, metrics = jax.lax.map(lambda args: fn(*args), (stacked, batch))
        return new.replace(step=new.step[0]), metrics

    return step


class MetricWriter:
    """Writes scalars to ``workdir/metrics.jsonl`` and TensorBoard event files."""

    def __init__(self, workdir: Path):
        from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel

        self._jsonl = open(workdir / "metrics.jsonl", "a", encoding="utf-8")
        self._tb = SummaryWriter(str(workdir / "tensorboard"))

    def write(self, step: int, metrics: dict[str, Any], *, replica: int | None = None) -> None:
        """One record; with ``replica`` the record has a ``replica`` field and
        the TensorBoard tags a ``replica_<i>/`` prefix."""
        record = {"step": step}
        prefix = ""
        if replica is not None:
            record["replica"] = replica
            prefix = f"replica_{replica}/"
        for name, value in metrics.items():
            value = np.asarray(value)
            if value.ndim == 0:
                record[name] = float(value)
                self._tb.add_scalar(prefix + name, float(value), step)
            else:
                record[name] = value.tolist()
                for i, v in enumerate(value):
                    self._tb.add_scalar(f"{prefix}{name}/{i}", float(v), step)
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        self._tb.flush()

    def close(self) -> None:
        self._jsonl.close()
        self._tb.close()


def _drop_metrics_after(path: Path, step: int) -> None:
    """Removes records logged after ``step`` (by a run that stopped before its next checkpoint)."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [l for l in lines if l.strip() and json.loads(l)["step"] <= step]
    if len(kept) != len(lines):
        path.write_text("".join(l + "\n" for l in kept), encoding="utf-8")


@jax.jit
def _stack_metrics(pending: list[dict]) -> dict:
    """Per-call metric dicts -> one dict, each metric stacked on a new leading axis.

    One dispatch, then one small array per metric to copy to the host.
    Fetching the dicts as they are copies every scalar of every step on its
    own: on an H200 that held the batch-64 conv run to 720-820 steps/s
    against 1,020-1,100 this way.
    """
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *pending)


def _window_metrics(stacked: dict, *, per_call: int, replicated: bool) -> dict:
    """Stacked per-call metrics -> name -> (replicas, steps in the window, ...).

    ``stacked`` has, per metric, (calls, ...) for one model, (calls, steps,
    ...) with ``per_call`` > 1, and a replica axis after ``calls`` for
    replicated runs.
    """
    out = {}
    for name, v in stacked.items():
        v = np.asarray(v)
        v = np.moveaxis(v, 1, 0) if replicated else v[None]  # (N, calls, [steps], ...)
        out[name] = v.reshape(v.shape[:1] + (-1,) + v.shape[3 if per_call > 1 else 2:])
    return out


def _state_tree(state: TrainState, config) -> dict:
    """The checkpointed tree; the objective's state under its own name."""
    tree = dict(step=state.step, params=state.params, opt_state=state.opt_state, key=state.key)
    if state.extra is not None:
        tree[objectives.get(config.objective).state_name] = state.extra
    return tree


def _from_tree(tree: dict, config) -> TrainState:
    name = objectives.get(config.objective).state_name
    return TrainState(step=tree["step"], params=tree["params"], opt_state=tree["opt_state"],
                      key=tree["key"], extra=tree[name] if name else None)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path, *,
                       progress: bool = True) -> TrainState:
    """Trains per ``config`` in ``workdir``, resuming from its latest checkpoint.

    Holds the workdir's lock throughout (``vaejax.workdir.lock``: a second
    writer gets WorkdirInUseError). A workdir with checkpoints resumes only
    if ``config`` differs from its ``config.json`` in
    ``vaejax.workdir.RESUMABLE_FIELDS`` alone (ConfigMismatchError
    otherwise; nothing is renamed or removed). Returns the final train state.
    """
    validate_config(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    with workdir_lib.lock(workdir):
        return _train(config, workdir, progress)


def _check_resume(config, workdir: Path, ckpts, lead: bool) -> None:
    """Refuses a config that changes what the workdir's checkpoints mean."""
    if not ckpts.steps() or not (workdir / "config.json").is_file():
        return
    saved = checkpoint_lib.load_config(workdir)
    accepted = workdir_lib.check_resume(workdir, saved.to_dict(), config.to_dict(),
                                        OPTIONAL_FIELDS)
    if accepted and lead:
        print(f"resuming {workdir} with changed fields: {workdir_lib.describe(accepted)}",
              file=sys.stderr)


def _train(config, workdir: Path, progress: bool) -> TrainState:
    """train_and_evaluate's body, run while the workdir's lock is held."""
    mesh = parallel.data_mesh()
    lead = jax.process_index() == 0  # logs, config and progress bar: once
    model, tx = architectures.from_config(config), make_optimizer(config)
    per_call = _option(config, "steps_per_dispatch")
    # checks the batch splits evenly
    train_step = make_train_step(config, model, tx, mesh, steps=per_call)
    state = create_train_state(config, model, tx, mesh)
    ckpts = checkpoint_lib.Checkpoints(workdir / "checkpoints",
                                       max_to_keep=config.keep_checkpoints)
    try:
        _check_resume(config, workdir, ckpts, lead)
        restored = ckpts.restore_latest(_state_tree(state, config))
    except Exception:
        ckpts.close()
        raise
    if restored is not None:
        state = _from_tree(restored[1], config)
    start = int(state.step)
    # Only once the checkpoint fits: config.json describes the checkpoints.
    if lead:
        checkpoint_lib.save_config(workdir, config)
        _drop_metrics_after(workdir / "metrics.jsonl", start)
    if start >= config.num_steps:
        ckpts.close()
        return state
    if start % per_call:
        ckpts.close()
        raise ConfigError(f"cannot resume at step {start} with config.steps_per_dispatch "
                           f"{per_call}: use a value that divides {start}")

    data = datasets.from_config(config, progress=lead)
    # uint8 batches, copied to the devices in the prefetch thread: a quarter
    # of the bytes, and the main thread only dispatches train steps.
    replicas = num_replicas(config)
    data_seed = (config.data_seed if replicas == 1
                 else tuple(config.data_seed + i for i in range(replicas)))
    batches = objectives.get(config.objective).batches(
        data, batch_size=config.batch_size, seed=data_seed, start_step=start,
        shard=parallel.process_shard(), dtype=np.uint8, steps_per_item=per_call,
        transform=lambda rows: parallel.global_batch(rows, mesh, stacked=per_call > 1,
                                                     replicas=replicas > 1))
    writer = MetricWriter(workdir) if lead else None
    pending: list[dict] = []
    last_saved = restored[0] if restored else None

    def flush(step: int) -> None:
        """Checks pending losses are finite, logs their mean."""
        if not pending:
            return
        host = _window_metrics(jax.device_get(_stack_metrics(pending)), per_call=per_call,
                               replicated=replicas > 1)
        steps = host["loss"].shape[1]
        first_step = step - steps + 1
        checked = [name for name in objectives.get(config.objective).checked_metrics
                   if name in host]
        bad = ~np.stack([np.isfinite(host[name]) for name in checked])  # (names, N, steps)
        if bad.any():
            i = int(np.flatnonzero(bad.any(axis=(0, 1)))[0])
            name_i, replica = (int(a) for a in np.argwhere(bad[:, :, i])[0])
            name = checked[name_i]
            where = f" in replica {replica}" if replicas > 1 else ""
            kept = (f"the last good checkpoint (step {last_saved}) is kept in "
                    f"{ckpts.directory}" if last_saved is not None
                    else "no checkpoint had been saved")
            raise NonFiniteLossError(
                f"{name} is {host[name][replica, i]}{where} at step {first_step + i} "
                f"(counting from 1); stopping, {kept}")
        rate = steps / max(time.perf_counter() - window_start[0], 1e-9)
        means = [{name: np.mean(v[r], axis=0) for name, v in host.items()}
                 for r in range(replicas)]
        for r, mean in enumerate(means):
            mean["steps_per_second"] = rate
            if writer is not None:
                writer.write(step, mean, replica=r if replicas > 1 else None)
        # shown at the bar's next timed refresh: no terminal write per log window
        loss = np.mean([m["loss"] for m in means])
        bar.set_postfix(loss=f"{loss:.2f}", steps_per_s=f"{rate:.1f}", refresh=False)
        pending.clear()
        window_start[0] = time.perf_counter()

    window_start = [time.perf_counter()]
    try:
        with tqdm(total=config.num_steps, initial=start, disable=not (progress and lead),
                  desc=config.get("name", "train"), unit="step") as bar:
            for step in range(start + per_call, config.num_steps + 1, per_call):
                state, metrics = train_step(state, next(batches))
                pending.append(metrics)
                bar.update(per_call)
                if step % config.log_every == 0 or step == config.num_steps:
                    flush(step)
                if step % config.checkpoint_every == 0 or step == config.num_steps:
                    flush(step)
                    ckpts.save(step, _state_tree(state, config))
                    last_saved = step
    finally:
        batches.close()
        if writer is not None:
            writer.close()
        ckpts.close()
    return state


def load_model(workdir: str | Path, replica: int | None = None, *, read_only: bool = False):
    """The config, model, params and step of a workdir's latest checkpoint.

    For a run of ``config.replicas`` N > 1 models, ``replica`` (0 to N - 1)
    picks one: its params, and its own single-model config
    (:func:`replica_config`). Without it the params keep their leading
    replica axis (N, ...). ``read_only``: open the checkpoints without
    writing anything (a shipped pretrained model).
    """
    workdir = Path(workdir)
    config = checkpoint_lib.load_config(workdir)
    n = num_replicas(config)
    if replica is not None and not 0 <= replica < n:
        raise ValueError(f"replica must lie in [0, {n - 1}] for the {n}-replica run in "
                         f"{workdir}, got {replica}")
    model = architectures.from_config(config)
    template = jax.eval_shape(lambda: models.init_params(model, jax.random.key(0)))
    if n > 1:
        template = jax.tree.map(lambda x: jax.ShapeDtypeStruct((n,) + x.shape, x.dtype), template)
    ckpts = checkpoint_lib.Checkpoints(workdir / "checkpoints",
                                       max_to_keep=config.keep_checkpoints, read_only=read_only)
    try:
        step, params = ckpts.restore_params(template)
    finally:
        ckpts.close()
    if n > 1 and replica is not None:
        params = jax.tree.map(lambda x: x[replica], params)
        config = replica_config(config, replica)
    return config, model, params, step


def load_state(workdir: str | Path, config=None) -> tuple[ml_collections.ConfigDict, models.Autoencoder, TrainState]:
    """The config, model and latest train state of a workdir."""
    config = config or checkpoint_lib.load_config(workdir)
    model, tx = architectures.from_config(config), make_optimizer(config)
    template = create_train_state(config, model, tx)
    ckpts = checkpoint_lib.Checkpoints(Path(workdir) / "checkpoints",
                                       max_to_keep=config.keep_checkpoints)
    try:
        restored = ckpts.restore_latest(_state_tree(template, config))
    finally:
        ckpts.close()
    if restored is None:
        raise checkpoint_lib.CheckpointError(f"no checkpoint in {workdir}/checkpoints")
    return config, model, _from_tree(restored[1], config)


__all__ = ["TrainState", "make_train_step", "train_and_evaluate", "load_state", "load_model",
           "create_train_state", "make_optimizer", "loss_fn",
           "NonFiniteLossError"]
