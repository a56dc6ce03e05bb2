"""Images/s of an encoder (the metrics' main cost) at several batch sizes.

    python benchmarks/encode.py [--workdir RUN | --architecture conv] [--batch-sizes 64,128,1024]

Times ``vaejax.evaluation.baselines.encoder_representation`` on random
binary images, the batch sizes interleaved over rounds in one process
(median images/s of each); the conv encoder also with Flax's own layers.
Pass --malloc-default to time without ``memory.keep_freed_memory`` (run it as
a separate process: the setting is process-wide).
"""

import argparse
import time

import jax
import numpy as np

from vaejax import architectures, memory, models
from vaejax.evaluation import baselines, evaluate


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default=None, help="encode with this run's model")
    parser.add_argument("--architecture", default="conv", choices=architectures.ARCHITECTURES,
                        help="without --workdir: an untrained model of this architecture")
    parser.add_argument("--batch-sizes", default="32,64,128,256,1024")
    parser.add_argument("--images", type=int, default=16_384, help="images per timing")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--malloc-default", action="store_true",
                        help="leave glibc's malloc as it is (no memory.keep_freed_memory)")
    args = parser.parse_args()
    kept = not args.malloc_default and memory.keep_freed_memory()
    if args.workdir:
        config, model, params, _ = evaluate.load_model(args.workdir)
        architecture = config.architecture
    else:
        architecture = args.architecture
        model = architectures.build(architecture, latents=10, variational=True)
        params = models.init_params(model, jax.random.key(0))
    impls = {"vaejax": model}
    if architecture == "conv":
        impls["plain Flax"] = architectures.build("conv", latents=model.encoder.latents,
                                           variational=model.variational, conv_impl="flax")
    images = (np.random.default_rng(0).random((args.images, 64, 64, 1)) > 0.8).astype(np.float32)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    reps = {(name, b): baselines.encoder_representation(m, params, batch_size=b)
            for name, m in impls.items() for b in batch_sizes}
    for rep in reps.values():
        rep(images[:max(batch_sizes)])  # compile
    rates = {key: [] for key in reps}
    for _ in range(args.rounds):
        for key, rep in reps.items():
            start = time.perf_counter()
            rep(images)
            rates[key].append(len(images) / (time.perf_counter() - start))
    print(f"{architecture} encoder, {jax.default_backend()} ({jax.devices()[0].device_kind}), "
          f"{args.images} images, median of {args.rounds} interleaved rounds, "
          f"malloc: {'keep_freed_memory' if kept else 'default'}")
    for (name, b), r in rates.items():
        print(f"  {name:10s} batch {b:5d}  {np.median(r):9.0f} images/s  "
              f"(rounds: {', '.join(str(round(v)) for v in r)})")


if __name__ == "__main__":
    main()
