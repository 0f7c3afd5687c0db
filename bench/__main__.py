"""`make bench`, `python -m bench [--quick] [NAME ...]`: run the benchmarks against one local
platform and write the table to bench/results/latest.json and latest.md (`bench.report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import report, suite


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small counts, to see every figure is produced"
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"run only these: {', '.join(suite.BENCHMARKS)}"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=report.RESULTS,
        help="the directory for latest.json and latest.md (default bench/results)",
    )
    args = parser.parse_args()
    taken, failed = report.context(), list[str]()
    with suite.start() as platform:
        figures = suite.run(platform, quick=args.quick, names=args.names, failed=failed)
    written = report.write(
        figures, quick=args.quick, taken=taken, failed=failed, directory=args.output
    )
    print(written.with_suffix(".md").read_text())
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
