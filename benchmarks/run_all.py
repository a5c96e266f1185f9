"""Run every benchmark and print one JSON line each; exit 1 if any is over its budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"run_all.py", "_common.py"}


def main() -> int:
    worst = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in SKIP:
            continue
        proc = subprocess.run([sys.executable, str(script)], text=True, capture_output=True)
        sys.stdout.write(proc.stdout or f"{script.name}: {proc.stderr.strip()}\n")
        worst = max(worst, proc.returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main())
