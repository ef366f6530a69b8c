"""`make bench`: every measurement behind docs/RESULTS.md, one after another.

Slow (tens of minutes on a laptop CPU); never part of CI. Each script prints
its own table; run one alone with `python benchmarks/NAME.py --help`.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    ["sampler_speed.py"],
    ["digits_quality.py", "--out", "runs/bench"],
    ["image_tasks.py", "runs/bench/digits"],
    ["generalisation.py", "runs/bench/digits"],
]

failed = []
for script, *args in SCRIPTS:
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    if subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0:
        failed.append(script)
if failed:
    sys.exit(f"failed: {', '.join(failed)}")
