"""Data parallelism over every device of every process, with ``jax.sharding``.

The batch is split along the ``data`` axis of a one-axis mesh over all
devices; parameters, optimizer state and the RNG key are replicated (or,
with :func:`state_sharding`'s ``shard_params``, large arrays are split over
the same axis, ZeRO-3 / FSDP style, and gathered by XLA where used). Under
``jax.jit`` the loss is the mean over the *global* batch, so gradients and
metrics are reduced across devices by XLA, and a step on N devices computes
the same function as on one.

With several processes (hosts), each process reads only its own rows of
every global batch and :func:`global_batch` assembles the global array.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"

ENV_COORDINATOR = "VAEJAX_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "VAEJAX_NUM_PROCESSES"
ENV_PROCESS_ID = "VAEJAX_PROCESS_ID"


def initialize_distributed(coordinator_address: str | None = None,
                           num_processes: int | None = None,
                           process_id: int | None = None) -> bool:
    """Starts JAX's distributed runtime for a multi-process run; returns whether it did.

    Arguments left as None are read from ``VAEJAX_COORDINATOR_ADDRESS``
    (host:port of process 0), ``VAEJAX_NUM_PROCESSES`` and
    ``VAEJAX_PROCESS_ID``. With no coordinator given, nothing is started
    (a single-process run), except that ``num_processes=-1`` (or the
    environment variable set to -1) lets ``jax.distributed.initialize``
    detect the cluster itself (Cloud TPU pods, SLURM, ...).
    """
    coordinator_address = coordinator_address or os.environ.get(ENV_COORDINATOR) or None
    if num_processes is None and os.environ.get(ENV_NUM_PROCESSES):
        num_processes = int(os.environ[ENV_NUM_PROCESSES])
    if process_id is None and os.environ.get(ENV_PROCESS_ID):
        process_id = int(os.environ[ENV_PROCESS_ID])
    if num_processes == -1:
        jax.distributed.initialize()
        return True
    if coordinator_address is None:
        if num_processes not in (None, 1) or process_id not in (None, 0):
            raise ValueError("a multi-process run needs a coordinator address (host:port of "
                             f"process 0); set it or {ENV_COORDINATOR}")
        return False
    if num_processes is None or process_id is None:
        raise ValueError(f"coordinator {coordinator_address!r} given without num_processes and "
                         f"process_id (or {ENV_NUM_PROCESSES} / {ENV_PROCESS_ID})")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id}")
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)
    return True


def data_mesh(devices=None) -> Mesh:
    """A one-axis (``data``) mesh over ``devices`` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    # Auto axis: XLA propagates the batch sharding through the model unaided.
    return jax.make_mesh((len(devices),), (DATA_AXIS,), devices=devices,
                         axis_types=(jax.sharding.AxisType.Auto,))


def batch_sharding(mesh: Mesh, *, stacked: bool = False, replicas: bool = False) -> NamedSharding:
    """The batch axis split over the ``data`` axis: the leading one, (B, ...);
    after a steps axis with ``stacked``, (steps, B, ...); after a replica
    axis with ``replicas``, (N, [steps,] B, ...)."""
    return NamedSharding(mesh, PartitionSpec(*[None] * (stacked + replicas), DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def state_sharding(state, mesh: Mesh, *, shard_params: bool = False,
                   min_size: int = 2 ** 14):
    """A NamedSharding for every leaf of ``state`` (arrays or ShapeDtypeStructs).

    Replicated, unless ``shard_params``: then each array of at least
    ``min_size`` elements is split over the ``data`` axis along its largest
    dimension divisible by the axis size (optimizer moments, shaped like the
    parameters, follow the same rule). Small or indivisible arrays, the step
    and the key stay replicated.
    """
    size = mesh.shape[DATA_AXIS]

    def rule(leaf):
        shape = tuple(leaf.shape)
        if shard_params and size > 1 and int(np.prod(shape)) >= min_size:
            for axis in sorted(range(len(shape)), key=lambda a: (-shape[a], a)):
                if shape[axis] % size == 0:
                    spec = [None] * len(shape)
                    spec[axis] = DATA_AXIS
                    return NamedSharding(mesh, PartitionSpec(*spec))
        return replicated(mesh)

    return jax.tree.map(rule, state)


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """Raises ValueError unless the global batch splits evenly over devices and processes."""
    devices, processes = mesh.devices.size, jax.process_count()
    if batch_size % devices:
        raise ValueError(f"the global batch size {batch_size} is not divisible by the "
                         f"{devices} devices of the mesh; use a multiple of {devices}")
    if batch_size % processes:
        raise ValueError(f"the global batch size {batch_size} is not divisible by the "
                         f"{processes} processes")


def process_shard() -> tuple[int, int]:
    """(this process's index, process count): which rows of each global batch it reads."""
    return jax.process_index(), jax.process_count()


def global_batch(local_rows: np.ndarray, mesh: Mesh, *, stacked: bool = False,
                 replicas: bool = False) -> jax.Array:
    """This process's rows (B / processes, ...) -> the global (B, ...) array, sharded over
    ``data``; with ``stacked``, (steps, B / processes, ...) -> (steps, B, ...); with
    ``replicas``, a leading replica axis before those."""
    return jax.make_array_from_process_local_data(
        batch_sharding(mesh, stacked=stacked, replicas=replicas), local_rows)
