"""Times rendering the full simulated dSprites set (737,280 images) to disk.

    python benchmarks/dsprites_generation.py [--dir DIR]

Renders into a fresh temporary directory (or DIR) so a cached copy is not
reused, and prints the wall time.
"""

import argparse
import os
import tempfile
import time

from vaejax.data import dsprites


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=None, help="directory for the 3 GB file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = dsprites.simulated_cache_path(tmp)
        start = time.perf_counter()
        dsprites.build_simulated(path)
        seconds = time.perf_counter() - start
        size = os.path.getsize(path) / 2**30
    print(f"full simulated dSprites: 737280 images, {size:.2f} GiB, "
          f"{seconds:.1f} s ({737280 / seconds:,.0f} images/s) on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
