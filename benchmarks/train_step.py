"""Train-step speed: vaejax vs plain Flax layers vs PyTorch eager, and a whole run vs the bare step.

    pip install '.[bench]'        # PyTorch (CPU) for the comparison
    python benchmarks/train_step.py [--batch-sizes 64 256] [--rounds 5] [--steps 10]
                                    [--malloc-default] [--torch-device cuda]

For each model (the standard conv beta-VAE and the FC one of Higgins et al.;
``broadcast``, ``broadcast32``, ``broadcast16``: the conv encoder with the
spatial broadcast decoder at that grid; ``conv_max_pool``, ``conv_avg_pool``,
``conv_nearest``, ``conv_bilinear``: the conv model with 2 x 2 pooling or
interpolation in place of its strides; vaejax only) and batch size, every
implementation runs in its own worker process (so none shares a heap or
thread pool with another), is compiled / warmed up, then
timed in ``--rounds`` interleaved rounds of ``--steps`` steps each; the
median steps/s is printed with its ratio to PyTorch. All run the same
objective (Bernoulli reconstruction summed over pixels + beta * KL, beta 4)
and optimizer (the config's: Adam for conv, Adagrad 1e-2 for FC) on the same
random binary batch. Without PyTorch installed its rows are skipped. Every
process runs with ``memory.keep_freed_memory()`` (as ``experiments.run``
does; PyTorch gains from it as much as JAX; it does nothing where an
accelerator may be used) unless ``--malloc-default`` is given.

On a GPU (JAX's default backend), PyTorch runs on CUDA too (``--torch-device``;
its steps end with ``torch.cuda.synchronize()``) and each process allocates
GPU memory as it goes rather than taking 75% at start, so the workers fit
side by side. Give more ``--steps`` there: a step takes about a millisecond.

Then a whole training run (``train_and_evaluate``: input pipeline, metrics,
progress bar, checkpoint) of the conv model at batch 64 is timed from its
logged steps/s, after its first (compiling) logging window, and compared with
the bare step, both with ``--steps-per-dispatch`` steps per call (the
config's ``steps_per_dispatch``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

# Several worker processes share one GPU: none may take 75% of its memory at start.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
from experiments import beta_vae  # noqa: E402
from vaejax import architectures, memory, train  # noqa: E402


def _jax_step(config, steps_per_dispatch=1):
    model = architectures.from_config(config)
    tx = train.make_optimizer(config)
    state = train.create_train_state(config, model, tx)
    k = steps_per_dispatch
    step = train.make_train_step(config, model, tx, steps=k)
    holder = [state]
    stacked = [None, None]  # (batch, its k-fold stack): stacked once, at warm-up

    def run(batch, n):  # n steps, in calls of k
        s = holder[0]
        if k > 1 and stacked[0] is not batch:
            stacked[:] = [batch, jax.block_until_ready(jnp.broadcast_to(batch, (k,) + batch.shape))]
        batches = batch if k == 1 else stacked[1]
        for _ in range(max(n // k, 1)):
            s, metrics = step(s, batches)
        jax.block_until_ready((s, metrics))
        holder[0] = s

    return run


def _torch_step(architecture, batch_size, config, device):
    import torch
    from torch import nn

    torch.manual_seed(0)
    latents = config.latents
    if architecture == "conv":
        encoder = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 2, 2), nn.ReLU(), nn.Conv2d(64, 64, 2, 2), nn.ReLU(),
            nn.Flatten(), nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 2 * latents))
        decoder = nn.Sequential(
            nn.Linear(latents, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, 2, 1))
    else:
        encoder = nn.Sequential(nn.Flatten(), nn.Linear(4096, 1200), nn.ReLU(),
                                nn.Linear(1200, 1200), nn.ReLU(), nn.Linear(1200, 2 * latents))
        decoder = nn.Sequential(nn.Linear(latents, 1200), nn.Tanh(), nn.Linear(1200, 1200),
                                nn.Tanh(), nn.Linear(1200, 1200), nn.Tanh(),
                                nn.Linear(1200, 4096), nn.Unflatten(1, (1, 64, 64)))
    encoder, decoder = encoder.to(device), decoder.to(device)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt_cls = dict(adam=torch.optim.Adam, adagrad=torch.optim.Adagrad)[config.optimizer]
    opt = opt_cls(params, lr=config.learning_rate)
    batch = (torch.rand(batch_size, 1, 64, 64, generator=torch.Generator().manual_seed(0))
             > 0.5).float().to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def step():
        opt.zero_grad(set_to_none=True)
        h = encoder(batch)
        mean, logvar = h[:, :latents], h[:, latents:]
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        logits = decoder(z)
        rec = nn.functional.binary_cross_entropy_with_logits(logits, batch, reduction="sum")
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).sum()
        loss = (rec + config.beta * kl) / batch_size
        loss.backward()
        opt.step()

    def run(_batch, n):
        for _ in range(n):
            step()
        sync()

    where = (torch.cuda.get_device_name(device) if device.startswith("cuda")
             else f"{torch.get_num_threads()} threads")
    return run, torch.__version__, where


BROADCAST = {"broadcast": 64, "broadcast32": 32, "broadcast16": 16}  # name -> resolution
# the conv model with pooling or upsampling (config.downsample / config.upsample)
RESAMPLING = {"conv_max_pool": ("max_pool", "transpose"), "conv_avg_pool": ("avg_pool", "transpose"),
              "conv_nearest": ("stride", "nearest"), "conv_bilinear": ("stride", "bilinear")}


def _config(architecture, batch_size, conv_impl="fast"):
    config = beta_vae.get_config(None if architecture == "fc" else "conv")
    if architecture in BROADCAST:
        config.architecture = "broadcast"
        config.broadcast_resolution = BROADCAST[architecture]
    if architecture in RESAMPLING:
        config.downsample, config.upsample = RESAMPLING[architecture]
    config.batch_size = batch_size
    config.conv_impl = conv_impl
    return config


def _runner(impl, architecture, batch_size, torch_device):
    """run(batch, n) for one implementation, and its display name."""
    config = _config(architecture, batch_size, "flax" if impl == "flax" else "fast")
    if impl == "torch":
        run, version, where = _torch_step(architecture, batch_size, config, torch_device)
        return run, f"PyTorch {version} eager ({where})"
    name = "vaejax" if impl == "vaejax" else "plain Flax (nn.Conv/nn.ConvTranspose)"
    return _jax_step(config), name


def _batch(batch_size):
    return jnp.asarray(np.random.default_rng(0).random((batch_size, 64, 64, 1)) > 0.5,
                       jnp.float32)


def _worker(impl, architecture, batch_size, torch_device):
    """Warms up, prints its name, then runs ``n`` steps per line ``n`` read, printing steps/s."""
    start = time.perf_counter()
    run, name = _runner(impl, architecture, batch_size, torch_device)
    batch = _batch(batch_size)
    run(batch, 3)
    print(f"{name}\t{time.perf_counter() - start:.1f}", flush=True)
    for line in sys.stdin:
        steps = int(line)
        start = time.perf_counter()
        run(batch, steps)
        print(steps / (time.perf_counter() - start), flush=True)


def _interleaved_processes(impls, architecture, batch_size, rounds, steps, malloc_default,
                           torch_device):
    """Steps/s of each implementation per round, each in its own process, rounds interleaved."""
    command = [sys.executable, os.path.abspath(__file__), "--torch-device", torch_device,
               "--worker"]
    workers = []
    try:
        for impl in impls:  # one at a time, so compiling does not overlap a timed round
            proc = subprocess.Popen(
                command + [impl, architecture, str(batch_size)]
                + (["--malloc-default"] if malloc_default else []),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            line = proc.stdout.readline().strip()
            if not line:
                raise RuntimeError(f"{impl} worker failed (exit code {proc.wait()})")
            name, seconds = line.split("\t")
            print(f"  ({name}: set up, compiled and warmed up in {seconds} s)", flush=True)
            workers.append((name, proc))
        rates = {name: [] for name, _ in workers}
        for _ in range(rounds):
            for name, proc in workers:
                proc.stdin.write(f"{steps}\n")
                proc.stdin.flush()
                rates[name].append(float(proc.stdout.readline()))
    finally:
        for _, proc in workers:
            proc.stdin.close()
            proc.wait()
    return rates


def _interleaved(runners, batch, rounds, steps):
    for run in runners.values():  # compile and warm up
        run(batch, 3)
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run(batch, steps)
            times[name].append(steps / (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}


def whole_run_log_every(steps_per_dispatch):
    """The whole run's log interval: the first multiple of ``steps_per_dispatch`` >= 50."""
    return -(-50 // steps_per_dispatch) * steps_per_dispatch


def _whole_run(batch_size, steps, log_every, steps_per_dispatch, progress=True):
    """Median logged steps/s of ``train_and_evaluate`` (conv), after its compiling window."""
    config = _config("conv", batch_size)
    config.steps_per_dispatch = steps_per_dispatch
    config.data_source = "sample:8192"
    config.num_steps = steps
    config.log_every = log_every
    config.checkpoint_every = steps
    with tempfile.TemporaryDirectory() as workdir:
        train.train_and_evaluate(config, workdir, progress=progress)
        with open(os.path.join(workdir, "metrics.jsonl")) as f:
            rows = [json.loads(line) for line in f]
    rates = [r["steps_per_second"] for r in rows[1:]]  # the first window compiles
    return statistics.median(rates) if rates else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architectures", nargs="*", default=["conv", "fc"],
                        choices=["conv", "fc", *BROADCAST, *RESAMPLING],
                        help="models to compare (none: only the whole-run section)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--whole-run-steps", type=int, default=600)
    parser.add_argument("--steps-per-dispatch", type=int, default=1,
                        help="the whole run's config.steps_per_dispatch (and the bare step's); "
                             "must divide --steps and --whole-run-steps")
    parser.add_argument("--malloc-default", action="store_true",
                        help="leave glibc's malloc as it is (no memory.keep_freed_memory)")
    parser.add_argument("--torch-device", default=None,
                        help="PyTorch's device (default: cuda when JAX runs on a GPU, else cpu)")
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "ARCH", "BATCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    kept = not args.malloc_default and memory.keep_freed_memory()
    if args.worker:
        impl, architecture, batch_size = args.worker
        _worker(impl, architecture, int(batch_size), args.torch_device)
        return
    torch_device = args.torch_device or ("cuda" if jax.default_backend() == "gpu" else "cpu")

    # Only the workers import PyTorch; this process runs the whole-run timing.
    have_torch = importlib.util.find_spec("torch") is not None
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; jax {jax.__version__} on "
          f"{jax.devices()[0].device_kind} ({jax.default_backend()}); "
          f"malloc: {'keep_freed_memory' if kept else 'default'}")

    for architecture in args.architectures:
        for batch_size in args.batch_sizes:
            config = _config(architecture, batch_size)
            flax = ["flax"] if architecture == "conv" or architecture in RESAMPLING else []
            with_torch = ["torch"] if have_torch and architecture in ("conv", "fc") else []
            impls = ["vaejax"] + flax + with_torch
            per_round = _interleaved_processes(impls, architecture, batch_size, args.rounds,
                                               args.steps, args.malloc_default, torch_device)
            torch_rounds = next((r for n, r in per_round.items() if n.startswith("PyTorch")), None)
            print(f"\n{architecture} beta-VAE, batch {batch_size} ({config.optimizer}), "
                  f"median of {args.rounds} interleaved rounds x {args.steps} steps "
                  "(in brackets: the ratio's range over rounds):")
            for name, rounds in per_round.items():
                rate, ratio = statistics.median(rounds), ""
                if torch_rounds:
                    each = [r / t for r, t in zip(rounds, torch_rounds)]
                    ratio = (f"  {rate / statistics.median(torch_rounds):.2f}x PyTorch"
                             f" [{min(each):.2f}-{max(each):.2f}]")
                print(f"  {name:42s} {rate:7.2f} steps/s  {rate * batch_size:8.0f} images/s{ratio}")

    if args.whole_run_steps <= 0:
        return
    k = args.steps_per_dispatch
    print(f"\nwhole run vs bare step (conv, batch 64, {args.whole_run_steps} steps, "
          f"{k} per dispatch):")
    config = _config("conv", 64)
    bare_runner = {"bare": _jax_step(config, k)}
    batch = _batch(64)
    bare = _interleaved(bare_runner, batch, args.rounds, args.steps)["bare"]
    whole = _whole_run(64, args.whole_run_steps, log_every=whole_run_log_every(k),
                       steps_per_dispatch=k)
    bare_after = _interleaved(bare_runner, batch, args.rounds, args.steps)["bare"]
    bare = (bare + bare_after) / 2
    print(f"  bare train_step                      {bare:7.2f} steps/s")
    print(f"  train_and_evaluate (data, logging)   {whole:7.2f} steps/s  "
          f"({100 * whole / bare:.0f}% of the bare step)")


if __name__ == "__main__":
    main()
