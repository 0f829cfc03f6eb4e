"""Does a change to the video path keep its pictures? The bundled clips through this code and an older checkout.

    git worktree add /tmp/before 406fe4f                       # the code to compare against
    python benchmarks/video_quality.py --before /tmp/before    # about 10 minutes on a 2-core CPU
    python benchmarks/video_quality.py --max-frames 30         # this code's figures only, shorter

Each checkout colorizes every clip in datasets/video/ twice with its own
`shared/video.py` (imports resolved to that checkout), into lossless .mkv:
with `--metrics` (the temporal filter on; PSNR and flicker with and without it)
and with `--no-temporal`. Both use the same model file (--model, default this
checkout's shipped beta). Printed per clip: each checkout's PSNR and flicker,
their ratio, and how far the two checkouts' frames are apart in levels of 255
(largest difference, mean, and the share of pixels more than one level apart),
with the filter and without.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
CLIPS = sorted((REPO_ROOT / "datasets" / "video").glob("*.*"))
METRIC_ROW = re.compile(r"^\s+(grayscale|no-temporal|temporal)\s+([\d.]+)\s+([\d.]+|-)$", re.MULTILINE)


def colorize(checkout, clip, output, model, extra, max_frames):
    """Run `checkout`'s shared/video.py on `clip`; returns its --metrics rows {variant: (psnr, flicker)}."""
    command = [sys.executable, str(checkout / "shared" / "video.py"), "--model", str(model), "--input", str(clip),
               "--output", str(output), *extra] + (["--max-frames", str(max_frames)] if max_frames else [])
    environment = {**os.environ, "PYTHONPATH": str(checkout)}  # its own shared/, not an installed one
    result = subprocess.run(command, cwd=checkout, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{checkout}: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return {variant: (float(psnr), None if flicker == "-" else float(flicker))
            for variant, psnr, flicker in METRIC_ROW.findall(result.stdout)}


def frames_of(path):
    capture = cv2.VideoCapture(str(path))
    while True:
        ok, bgr = capture.read()
        if not ok:
            return
        yield bgr


def difference(path_a, path_b):
    """(largest, mean, share of pixel channels more than 1 apart) between two videos' frames, levels in 255."""
    largest, total, above_one, count = 0, 0.0, 0, 0
    for a, b in zip(frames_of(path_a), frames_of(path_b), strict=True):
        diff = cv2.absdiff(a, b)
        largest = max(largest, int(diff.max()))
        total += float(diff.sum())
        above_one += int(np.count_nonzero(diff > 1))
        count += diff.size
    return largest, total / count, above_one / count


def run_checkout(checkout, folder, model, max_frames):
    """{clip name: (metrics rows, temporal .mkv, no-temporal .mkv)} for one checkout."""
    results = {}
    for clip in CLIPS:
        steady, plain = folder / f"{clip.stem}_temporal.mkv", folder / f"{clip.stem}_plain.mkv"
        rows = colorize(checkout, clip, steady, model, ["--metrics"], max_frames)
        colorize(checkout, clip, plain, model, ["--no-temporal"], max_frames)
        results[clip.stem] = (rows, steady, plain)
        print(f"  {checkout.name}: {clip.name} done", file=sys.stderr, flush=True)
    return results


def ratio(new, old):
    return f"{new / old:6.3f}" if new is not None and old else "     -"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older checkout of this project to compare against")
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "beta" / "pretrained.keras",
                        help="the .keras file both use (default: this checkout's shipped beta)")
    parser.add_argument("--max-frames", type=int, help="only the first N frames of each clip")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        checkouts = {"now": REPO_ROOT} | ({"before": args.before.resolve()} if args.before else {})
        results = {}
        for name, checkout in checkouts.items():
            (Path(folder) / name).mkdir()
            results[name] = run_checkout(checkout, Path(folder) / name, args.model.resolve(), args.max_frames)

        print(f"{'clip':16s} {'variant':12s} {'PSNR now':>9s} {'before':>7s} {'ratio':>6s} "
              f"{'flicker now':>12s} {'before':>7s} {'ratio':>6s}   frames now vs before: max, mean, share > 1")
        for clip in results["now"]:
            rows, steady, plain = results["now"][clip]
            old_rows, old_steady, old_plain = results["before"][clip] if args.before else ({}, None, None)
            for variant in ("no-temporal", "temporal"):
                psnr, flicker = rows[variant]
                old_psnr, old_flicker = old_rows.get(variant, (None, None))
                line = (f"{clip:16s} {variant:12s} {psnr:9.2f} {old_psnr or float('nan'):7.2f} {ratio(psnr, old_psnr)} "
                        f"{flicker or float('nan'):12.3f} {old_flicker or float('nan'):7.3f} {ratio(flicker, old_flicker)}")
                if args.before:
                    now_file, old_file = (steady, old_steady) if variant == "temporal" else (plain, old_plain)
                    largest, mean, share = difference(now_file, old_file)
                    line += f"   {largest:3d}, {mean:.4f}, {share:.4%}"
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
