"""Cold-start import cost of app.py, as a ratio to ``import boto3`` alone.

Each figure is the best of N fresh interpreters (``python -X importtime``'s cumulative
time of the top-level import), measured in one run, so the ratio is comparable even on
a noisy machine while the absolute numbers are not.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def import_microseconds(statement: str, module: str) -> int:
    """Cumulative microseconds ``-X importtime`` reports for ``module``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                            capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    for line in result.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"no importtime line for {module}:\n{result.stderr[-500:]}")


def measure(runs: int = 5) -> dict[str, float]:
    app = min(import_microseconds("import app", "app") for _ in range(runs))
    boto3 = min(import_microseconds("import boto3", "boto3") for _ in range(runs))
    return {"app_ms": app / 1000, "boto3_ms": boto3 / 1000, "ratio": app / boto3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    figures = measure(parser.parse_args().runs)
    print("| measure | value |")
    print("|---|---|")
    print(f"| import app (best of runs) | {figures['app_ms']:.1f} ms |")
    print(f"| import boto3 (best of runs) | {figures['boto3_ms']:.1f} ms |")
    print(f"| app / boto3 | {figures['ratio']:.2f} |")


if __name__ == "__main__":
    main()
