"""Images/s of `python -m shared.batch` on the bundled photos: the local engine, and Ray with 1 and 2 workers.

    python benchmarks/batch.py [--repeats 3] [--input datasets/landscapes] [--model beta]

Each round runs every setting once, one after the other, as a user would (a fresh process, a fresh
output folder), so the ratios come from the same minutes of a shared machine; the table gives the
median over the rounds. Two figures per run: end to end (the job's own summary: start-up, Ray and
the model loading included) and streaming (images after the first, over the time from the first
output file to the last: what a long archive job runs at). The ratios to the local engine are taken
within each round, then their median.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from shared import accel  # noqa: E402

SETTINGS = {"local": ["--engine", "local"], "ray, 1 worker": ["--engine", "ray", "--workers", "1"],
            "ray, 2 workers": ["--engine", "ray", "--workers", "2"]}
SUMMARY = re.compile(r"colorized (\d+) images in ([\d.]+) s")


def run_job(source, model, options):
    """One job into a fresh folder -> (images, end-to-end images/s, streaming images/s)."""
    with tempfile.TemporaryDirectory() as output:
        command = [sys.executable, "-m", "shared.batch", "--input", str(source), "--output", output, "--model", model,
                   *options]
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
        summary = SUMMARY.search(result.stdout)
        if result.returncode != 0 or not summary:
            sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
        images, seconds = int(summary.group(1)), float(summary.group(2))
        written = sorted(p.stat().st_mtime for p in Path(output).rglob("*.png"))
        return images, images / seconds, (len(written) - 1) / max(written[-1] - written[0], 1e-9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input", type=Path, default=REPO_ROOT / "datasets" / "landscapes")
    parser.add_argument("--model", default="beta")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"machine: {accel.cpu_model()}, {accel.cpu_count()} cores usable ({os.cpu_count()} in the machine); "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start")
    print(f"python {platform.python_version()}; {args.input} with --model {args.model}, default --batch-size")
    runs = {name: [] for name in SETTINGS}
    for round_ in range(args.repeats):
        for name, options in SETTINGS.items():
            runs[name].append(run_job(args.input, args.model, options))
            images, end_to_end, streaming = runs[name][-1]
            print(f"round {round_ + 1}: {name:15s} {images} images, {end_to_end:5.2f} images/s end to end, "
                  f"{streaming:5.2f} streaming", flush=True)

    print(f"\nmedian of {args.repeats} rounds   end to end   streaming   streaming vs local (median of the rounds' ratios)")
    for name, results in runs.items():
        end_to_end, streaming = (statistics.median(run[i] for run in results) for i in (1, 2))
        ratio = statistics.median(run[2] / local[2] for run, local in zip(results, runs["local"]))
        print(f"{name:15s} {end_to_end:16.2f}   {streaming:9.2f}   {ratio:8.2f}x")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; "
          f"benchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
