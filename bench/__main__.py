"""`make bench`: run the benchmarks (all, or those named) and write their figures to
bench/results/."""

import sys

from bench import api, migration, provisioning

BENCHMARKS = {
    "provisioning": provisioning.main,
    "migration": migration.main,
    "api": api.main,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(BENCHMARKS):
        BENCHMARKS[name]()
