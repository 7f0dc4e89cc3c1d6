"""Every benchmark of issue-sized claims in one command: peers, samplers, streaming and Dask.

Usage (from the project folder)::

    python3 -m venv .venv && .venv/bin/pip install -e '.[bench,dask]' && .venv/bin/python benchmarks/run.py

Runs ``bench_peers.py`` (sim, hand-written numpy and squigglepy at 1e4 to
1e7 samples), ``bench_samplers.py`` (error per sample of random, LHS and
Sobol'), and ``bench_stream.py --dask --repeat 3`` (streamed and Dask runs
at 1e6 to 1e8 samples, three of each), each printing its table and writing
its CSV under ``benchmarks/results/``. About 30 minutes on 2 cores; pass
sizes to the scripts themselves for shorter runs.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for script, args in (("bench_peers.py", []), ("bench_samplers.py", []),
                         ("bench_stream.py", ["--sizes", "1e6,1e7,1e8", "--dask", "--repeat", "3"])):
        print(f"\n== {script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *args], check=True)
