"""How fast a photo is colorized, from 1 to 48 megapixels, against the code before issue 27, in the same run.

    python benchmarks/photo_speed.py                 # 1, 4, 12 and 48 MP, automatic and hinted, warm and cold
    python benchmarks/photo_speed.py --quick         # 1 and 12 MP, one repeat, cold only for the small photo
    python benchmarks/photo_speed.py --before REF    # what to compare with (default 8d013ce, main before issue 27)
    python benchmarks/photo_speed.py --cold 5 --before main   # only the small photo's cold start, before and
                                                     # after alternating 5 times each, medians

For each version (`after`: this checkout; `before`: REF checked out into a temporary `git worktree`, run with
the same Python and PYTHONPATH pointing at it) a child process colorizes JPEG photos made from
datasets/unlike/gcompris-mariachi.jpg scaled to each size (with the shipped full_version) and prints:
- warm: seconds of `colorize.image(path)` (the API: decode, conversion, network, merge) on the second call,
  without and with two colour hints; and each stage's share of one pass: decode (the file to RGB),
  conversion (RGB -> L), network (`predict_ab`, at the network's size), merge (ab scaled up to the photo,
  Lab -> RGB) and encode (the PNG's bytes, with the metadata where the version carries it);
- cold: the whole `python -m shared.console photo.jpg -o out.png` process, seconds and peak memory (RSS),
  for the small photo (0.16 MP) and, without --quick, every size.
Absolute times on a shared machine are noise: compare the before/after ratios of the same run.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BEFORE = "8d013ce"  # main before issue 27
SOURCE_PHOTO = REPO_ROOT / "datasets" / "unlike" / "gcompris-mariachi.jpg"  # 800 x 531
SIZES_MP = (1, 4, 12, 48)
QUICK_SIZES_MP = (1, 12)
SMALL_SIDE = 400  # the cold start's small photo: 400 x 400
HINTS = [{"x": 0.2, "y": 0.3, "color": "#3a7bd5"}, {"x": 0.7, "y": 0.8, "color": "#c8553d"}]  # x, y as shares


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="git commit to compare with (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="1 and 12 MP, one repeat, cold only for the small photo")
    parser.add_argument("--sizes", type=float, nargs="+", help="megapixels to time (default: 1 4 12 48)")
    parser.add_argument("--repeats", type=int, help="warm repeats, the best kept (default: 2, --quick 1)")
    parser.add_argument("--cold", type=int, metavar="N",
                        help="only the small photo's cold start: before and after alternating N times, medians")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: time one version (a JSON job)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(run_child(json.loads(args.child))), flush=True)
        return 0
    sizes = args.sizes or (QUICK_SIZES_MP if args.quick else SIZES_MP)
    repeats = args.repeats or (1 if args.quick else 2)
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="photo_speed_") as folder:
        folder = Path(folder)
        photos = make_photos(folder, () if args.cold else sizes)
        before_tree = folder / "before"
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "--quiet", str(before_tree),
                        args.before], check=True)
        try:
            if args.cold:
                print_cold_alternating(before_tree, photos["small"], folder, args.cold)
                return 0
            results = {}
            for version, tree in (("before", before_tree), ("after", REPO_ROOT)):
                print(f"timing {version} ({git_describe(tree)}) ...", flush=True)
                job = {"photos": {str(mp): str(path) for mp, path in photos.items()}, "repeats": repeats,
                       "hints": HINTS}
                results[version] = child(tree, job)
                small_sizes = ["small"] + ([] if args.quick else [str(mp) for mp in sizes])
                results[version]["cold"] = {mp: cold_run(tree, photos["small" if mp == "small" else float(mp)],
                                                         folder / f"{version}_{mp}.png")
                                            for mp in small_sizes}
        finally:
            subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(before_tree)], check=False)
    print_table(results, sizes)
    return 0


# --- the photos and the machine ---------------------------------------------------------------------


def make_photos(folder, sizes):
    """JPEG photos of about `mp` megapixels each (4:3), from one landscape, and the small one for the cold start."""
    import cv2

    source = cv2.imread(str(SOURCE_PHOTO))
    photos = {}
    for mp in sizes:
        width = int(round((mp * 1e6 * 4 / 3) ** 0.5))
        height = int(round(width * 3 / 4))
        photos[mp] = folder / f"photo_{mp:g}mp.jpg"
        cv2.imwrite(str(photos[mp]), cv2.resize(source, (width, height), interpolation=cv2.INTER_CUBIC),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
    photos["small"] = folder / "photo_small.jpg"
    cv2.imwrite(str(photos["small"]), cv2.resize(source, (SMALL_SIDE, SMALL_SIDE), interpolation=cv2.INTER_AREA))
    return photos


def machine_line():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (f"machine: {cpu}, {len(os.sched_getaffinity(0))} cores usable, {memory:.0f} GiB, load average "
            f"{load:.1f} at the start; python {platform.python_version()}")


def git_describe(tree):
    return subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True,
                          text=True).stdout.strip()[:70]


# --- running a version --------------------------------------------------------------------------------


def environment(tree):
    return {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "3"}


def child(tree, job):
    """Run `run_child` in a fresh process that imports `shared` from `tree`; its result."""
    process = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)], cwd=tree,
                             env=environment(tree), capture_output=True, text=True)
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"the timing process in {tree} failed:\n{process.stdout[-2000:]}\n{process.stderr[-4000:]}")


def cold_run(tree, photo, output):
    """Seconds and peak RSS (MB) of the whole `python -m shared.console photo -o output` process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "shared.console", str(photo), "-o", str(output)], cwd=tree,
                               env=environment(tree), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"colorize {photo} failed in {tree}: {process.stderr.read().decode()[-2000:]}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}


def print_cold_alternating(before_tree, photo, folder, times):
    """The small photo's cold start, before and after alternating `times` times (so both see the same
    load from other processes); each run's figures and the medians."""
    import statistics

    runs = {"before": [], "after": []}
    for attempt in range(times):
        for version, tree in (("before", before_tree), ("after", REPO_ROOT)):
            runs[version].append(cold_run(tree, photo, folder / f"{version}_cold.png"))
            print(f"{version} {attempt + 1}: {runs[version][-1]['seconds']:5.1f} s, {runs[version][-1]['peak_mb']:4.0f} MB, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    medians = {version: (statistics.median(run["seconds"] for run in results),
                         statistics.median(run["peak_mb"] for run in results)) for version, results in runs.items()}
    print(f"\ncold start, {SMALL_SIDE}x{SMALL_SIDE} photo, median of {times}: "
          f"{medians['before'][0]:.1f} s, {medians['before'][1]:.0f} MB -> {medians['after'][0]:.1f} s, "
          f"{medians['after'][1]:.0f} MB")


def run_child(job):
    """In the child: warm timings of each photo through the version of `shared` on PYTHONPATH."""
    import numpy as np

    from shared import cli, colorize, lab

    import shared

    photo_files = None  # before issue 27 (checked by file: an editable install could supply another tree's module)
    if (Path(shared.__file__).parent / "photo_files.py").exists():
        from shared import photo_files
    colorizer = colorize.colorizer(cli.DEFAULT_MODEL, None)  # the one colorize.image uses (its cache key)
    results = {}
    for mp, path in job["photos"].items():
        decoded = decode(path, photo_files)
        height, width = decoded.shape[:2]
        points = [(int(h["x"] * width), int(h["y"] * height), tuple(int(h["color"][i:i + 2], 16) for i in (1, 3, 5)))
                  for h in job["hints"]]
        row = {"pixels": height * width}
        for name, options in (("auto", {}), ("hinted", {"hints": points})):
            colorize.image(path, **options)  # the first call traces and loads
            row[f"api_{name}"] = best_of(job["repeats"], lambda: colorize.image(path, **options))
        row["stages"] = best_stages(job["repeats"], path, colorizer, photo_files, lab, np)
        results[mp] = row
    return {"warm": results}


def best_of(repeats, work):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def decode(path, photo_files):
    if photo_files is not None:
        return photo_files.read_photo(path).pixels
    from shared import data

    return data.read_rgb(path)


def encode(rgb, path, photo_files):
    if photo_files is not None:
        return photo_files.encode_photo(rgb, ".png", path, photo_files.software_tag("full_version"))
    import io

    from PIL import Image

    buffer = io.BytesIO()  # what commands.save_png did: Pillow's PNG writer
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def best_stages(repeats, path, colorizer, photo_files, lab, np):
    """Seconds of each stage of one pass, the best of `repeats` passes for each."""
    best = {}
    for _ in range(repeats):
        stages = {}
        started = time.perf_counter()
        rgb = decode(path, photo_files)
        stages["decode"], started = time.perf_counter() - started, time.perf_counter()
        l_channel = lab.rgb_to_l(rgb)
        stages["conversion"], started = time.perf_counter() - started, time.perf_counter()
        ab_norm = colorizer.predict_ab([l_channel], at_image_size=False)[0]
        stages["network"], started = time.perf_counter() - started, time.perf_counter()
        result = lab.merge_l_ab(l_channel, ab_norm)
        stages["merge"], started = time.perf_counter() - started, time.perf_counter()
        encode(result, path, photo_files)
        stages["encode"] = time.perf_counter() - started
        best = {name: min(seconds, best.get(name, seconds)) for name, seconds in stages.items()}
    return best


# --- the table ------------------------------------------------------------------------------------------


def print_table(results, sizes):
    print("\nwarm, seconds (best of the repeats); before -> after (speed-up)")
    print(f"{'photo':>8} {'pixels':>11}  {'API automatic':>26}  {'API with 2 hints':>26}")
    for mp in map(str, sizes):
        before, after = results["before"]["warm"][mp], results["after"]["warm"][mp]
        cells = [f"{before[key]:7.2f} -> {after[key]:6.2f} ({before[key] / after[key]:4.1f}x)"
                 for key in ("api_auto", "api_hinted")]
        print(f"{float(mp):>6g}MP {after['pixels']:>11,}  {cells[0]:>26}  {cells[1]:>26}")
    print("\neach stage's share of one automatic pass (seconds), before | after")
    stage_names = ("decode", "conversion", "network", "merge", "encode")
    print(f"{'photo':>8}  " + "  ".join(f"{name:>21}" for name in stage_names) + f"  {'total':>15}")
    for mp in map(str, sizes):
        row = []
        for name in stage_names:
            before, after = (results[v]["warm"][mp]["stages"][name] for v in ("before", "after"))
            row.append(f"{before:6.2f} | {after:5.2f} ({after / sum(results['after']['warm'][mp]['stages'].values()):3.0%})")
        totals = [sum(results[v]["warm"][mp]["stages"].values()) for v in ("before", "after")]
        print(f"{float(mp):>6g}MP  " + "  ".join(f"{cell:>21}" for cell in row) + f"  {totals[0]:6.2f} | {totals[1]:5.2f}")
    print("\ncold: the whole `python -m shared.console photo.jpg -o out.png` process, before -> after")
    for key in results["after"]["cold"]:
        before, after = results["before"]["cold"][key], results["after"]["cold"][key]
        label = f"{SMALL_SIDE}x{SMALL_SIDE}" if key == "small" else f"{float(key):g} MP"
        print(f"{label:>10}: {before['seconds']:6.1f} s, {before['peak_mb']:5.0f} MB -> {after['seconds']:6.1f} s, "
              f"{after['peak_mb']:5.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
