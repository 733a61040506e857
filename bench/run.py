"""`make bench`: every benchmark, printed as one Markdown table for docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import api_throughput, diffusers_overhead, preview_speed, relay_inflight


def main() -> None:
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}\n")
    print("| benchmark | figure |\n|---|---|")
    for module in (api_throughput, preview_speed, relay_inflight, diffusers_overhead):
        for name, value in module.run():
            print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
