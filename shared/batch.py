"""Colorize an archive: every image under the inputs, resumable, on this machine or on a Ray cluster.

    python -m shared.batch --input DIR_OR_LIST... --output DIR [--engine local|ray] [--address auto|ray://host:port]

Each input image becomes <output>/<its path under its input>.png, the PNG `test.py` writes for the
same model (same names, same pixels), 16-bit for a 16-bit input, with the input's EXIF, XMP and ICC
profile and the model named in EXIF Software (shared/photo_files.py). Every output is written under a hidden temporary name and
moved into place, so an output that exists is complete: a rerun skips it (`--overwrite` redoes it),
and a job killed at any moment loses only the images it was working on. The temporary files a
killed job leaves are removed by the next run. Files that cannot be colorized are listed with the
reason in <output>/failures.csv; the exit code is 1 when there are any.

`--engine local` runs the model in this process. `--engine ray` streams the same steps through Ray
Data: read tasks decode the images, a pool of actors that each load the model once colorizes and
writes them. Without `--address` it starts Ray on this machine for the job; with `--address auto`
or `ray://host:port` it runs on that cluster, which must see the inputs, the output and the model
at the same paths (a shared file system) and have the project installed on every node.
"""

import argparse
import logging
import math
import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from shared import accel, cli, commands, data, inference, photo_files
from shared.data import InputError

FAILURES_FILE = "failures.csv"
PARTIAL_SUFFIX = photo_files.PARTIAL_SUFFIX  # hidden files `.<name>.<pid>.partial` beside each output while it is written
READ_TASK_CPUS = 0.5  # what each Ray read task asks for; the actors share the rest
RAY_EXTRA_HINT = 'pip install -e ".[ray]"'


def build_parser():
    parser = argparse.ArgumentParser(
        description="Colorize every image under the inputs into the same relative paths under --output (PNGs at "
                    "each input's size); resumable: a rerun skips what is done.")
    parser.add_argument("--input", type=Path, nargs="+", required=True,
                        help="image folders (searched recursively), image files or list files (one path a line)")
    parser.add_argument("--output", type=Path, required=True, help="folder for the results and failures.csv")
    parser.add_argument("--model", default=cli.DEFAULT_MODEL,
                        help="tier name or .keras path (default: %(default)s: models/%(default)s.keras, else the shipped one)")
    commands.add_temperature_argument(parser)
    commands.add_precision_argument(parser)
    parser.add_argument("--batch-size", type=cli.positive_int, default=8, help="images per network call (default: %(default)s)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: the model in this process; ray: Ray Data with a pool of model actors (default: %(default)s)")
    parser.add_argument("--address", help="--engine ray: the Ray cluster, `auto`, `HOST:PORT` or `ray://HOST:PORT` "
                                           "(default: a Ray started on this machine for the job)")
    parser.add_argument("--workers", type=cli.positive_int,
                        help="--engine ray: model actors (default: one per GPU, else one per CPU core)")
    parser.add_argument("--overwrite", action="store_true", help="colorize again images whose output exists")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.engine == "local" and (args.address or args.workers):
        raise InputError("--address and --workers apply to --engine ray; add --engine ray")
    if args.engine == "ray":
        import_ray()  # a missing extra: one line before any work
    job = plan_job(args.input, args.output, args.overwrite)
    print(f"{len(job.todo)} images to colorize, {job.done} already done in {args.output}")
    start = time.perf_counter()
    failures = []
    if job.todo:
        engine = (LocalEngine if args.engine == "local" else RayEngine)(args)
        try:
            with tqdm(total=len(job.todo), unit="image", dynamic_ncols=True) as bar:
                for outcome in engine.colorize(job.todo):
                    if outcome["error"]:
                        failures.append(outcome)
                        bar.write(f"failed: {outcome['image']}: {outcome['error']}")
                    bar.update(1)
        finally:
            engine.close()
    seconds = time.perf_counter() - start
    write_failures(args.output, failures)
    colorized = len(job.todo) - len(failures)
    print(f"colorized {colorized} images in {seconds:.1f} s ({colorized / max(seconds, 1e-9):.2f} images/s), "
          f"{job.done} already done, {len(failures)} failed"
          + (f" (listed in {args.output / FAILURES_FILE})" if failures else "") + f"; results in {args.output}")
    return 1 if failures else 0


# --- the job: what to colorize, and where each result goes -----------------------------------------


@dataclass
class Job:
    todo: list  # {"image": input path, "result": output path} for each image still to colorize
    done: int  # images whose output already exists (skipped)


def plan_job(sources, output, overwrite=False):
    """List the images under `sources`, name their results as test.py does, check the output folder,
    remove what a killed run left half written, and keep the images whose result is missing."""
    paths, labels, seen = [], [], set()
    for source in sources:
        found = [path for path in data.image_files(source) if path.resolve() not in seen]  # once, under the first input
        seen.update(path.resolve() for path in found)
        paths += found
        labels += data.input_labels(found, source)
    if not paths:
        raise InputError(f"no image files in {', '.join(map(str, sources))} (looked for {', '.join(data.IMAGE_EXTENSIONS)})")
    twice = [label for label, count in Counter(labels).items() if count > 1]
    if twice:
        raise InputError(f"{len(twice)} images have the same path under two inputs (first: {twice[0]}), so their "
                         "results would collide; give their common folder as one --input")
    names = commands.result_names(labels)
    commands.check_output_folder(output, sources, paths, [*names, FAILURES_FILE])
    remove_partial_files(output)
    todo = [{"image": str(path.absolute()), "result": str((output / name).absolute())}  # Ray workers have other cwds
            for path, name in zip(paths, names) if overwrite or not (output / name).exists()]
    return Job(todo, len(paths) - len(todo))


def remove_partial_files(output):
    for partial in Path(output).rglob(f".*{PARTIAL_SUFFIX}"):
        partial.unlink(missing_ok=True)


def write_failures(output, failures):
    """<output>/failures.csv lists this run's failures (image, reason); without any, an old list is removed."""
    path = Path(output) / FAILURES_FILE
    if not failures:
        path.unlink(missing_ok=True)
        return
    partial = _partial_name(path)
    cli.write_csv(partial, [{"image": f["image"], "reason": f["error"]} for f in failures])
    os.replace(partial, path)


# --- the steps each engine runs on a batch: {"image": [...], "result": [...]} as NumPy arrays ------


def read_batch(batch):
    """Add each image's RGB ("rgb", uint8 or uint16 for a 16-bit file; 0x0 when unreadable) and why it could not be read ("error", "" if it could)."""
    rgbs, errors = np.empty(len(batch["image"]), dtype=object), []
    for i, path in enumerate(batch["image"]):
        try:
            rgbs[i], error = photo_files.read_photo(path).pixels, ""  # 16-bit files stay 16-bit
        except InputError as failure:
            rgbs[i], error = np.zeros((0, 0, 3), np.uint8), str(failure)
        errors.append(error)
    return {"image": batch["image"], "result": batch["result"], "rgb": rgbs, "error": np.array(errors, dtype=object)}


def colorize_batch(colorizer, batch):
    """Colorize the readable images of a read batch and write each result; returns {"image", "error"} per image."""
    errors = list(batch["error"])
    for i, rgb in enumerate(batch["rgb"]):
        if not errors[i] and min(rgb.shape[:2]) < colorizer.min_side:
            errors[i] = f"{rgb.shape[1]}x{rgb.shape[0]} px is below the model's {colorizer.min_side} px minimum"
    ready = [i for i, error in enumerate(errors) if not error]
    software = photo_files.software_tag(colorizer.model.name)
    for i, result in zip(ready, colorizer.colorize([batch["rgb"][i] for i in ready])):
        try:
            write_png(result, batch["result"][i], batch["image"][i], software)
        except OSError as failure:
            errors[i] = f"cannot write {batch['result'][i]} ({failure.strerror or failure})"
    return {"image": np.asarray(batch["image"]), "error": np.array(errors, dtype=object)}


def write_png(rgb, path, source=None, software=None):
    """Write the PNG (16-bit for a uint16 result) with `source`'s metadata under a hidden temporary name beside
    `path`, then move it into place: `path` is either absent or complete, whenever the process is stopped."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    photo_files.write_photo(rgb, path, source, software)


def _partial_name(path):
    return photo_files.partial_name(path)


def _batches(todo, batch_size):
    for start in range(0, len(todo), batch_size):
        rows = todo[start : start + batch_size]
        yield {key: np.array([row[key] for row in rows], dtype=object) for key in ("image", "result")}


def _outcomes(batch):
    for image, error in zip(batch["image"], batch["error"]):
        yield {"image": str(image), "error": str(error)}


# --- engines: `colorize(todo)` yields {"image", "error"} for every image of `todo`, as it finishes -----


class LocalEngine:
    """The model in this process; the next batch is read on a thread while this one is colorized."""

    def __init__(self, args):
        self.batch_size = args.batch_size
        self.colorizer = inference.load_colorizer(args.model, args.batch_size, args.temperature, args.precision)

    def colorize(self, todo):
        batches = _batches(todo, self.batch_size)
        with ThreadPoolExecutor(max_workers=1) as reader:
            pending = reader.submit(read_batch, next(batches))
            for batch in batches:
                ready, pending = pending.result(), reader.submit(read_batch, batch)
                yield from _outcomes(colorize_batch(self.colorizer, ready))
            yield from _outcomes(colorize_batch(self.colorizer, pending.result()))

    def close(self):
        pass


class ColorizeActor:
    """A Ray actor that loads the model once, then colorizes and writes the batches it is given."""

    def __init__(self, model, batch_size, temperature, precision, threads):
        if threads:  # TensorFlow would otherwise start a thread per core in every actor
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        self.colorizer = inference.load_colorizer(model, batch_size, temperature, precision)

    def __call__(self, batch):
        return colorize_batch(self.colorizer, batch)


class RayEngine:
    """Ray Data: the image list in blocks of one batch, read tasks, then a pool of model actors; streamed."""

    def __init__(self, args):
        self.ray = import_ray()
        self.args = args
        self.model = cli.model_path(args.model).resolve()  # workers on other machines see the same absolute path
        keras_model = inference.load_model(str(self.model))  # a missing or corrupt model: one line here, not in every actor
        if args.temperature is not None:
            inference.set_temperature(keras_model, args.temperature, self.model)
        self.started_here = not self.ray.is_initialized()
        if self.started_here:
            _init_ray(self.ray, args.address)
        self.pool = actor_resources(self.ray.cluster_resources(), _node_cpus(self.ray), args.workers)
        print(f"ray: {self.pool['workers']} model actors of {self.pool['num_cpus']:g} CPUs"
              + (" and 1 GPU" if self.pool["num_gpus"] else "") + f" each, read tasks of {READ_TASK_CPUS:g} CPUs, "
              f"on {len(_node_cpus(self.ray))} nodes with {self.ray.cluster_resources().get('CPU', 0):g} CPUs")

    def colorize(self, todo):
        args, pool = self.args, self.pool
        dataset = self.ray.data.from_items(todo, override_num_blocks=math.ceil(len(todo) / args.batch_size))
        dataset = dataset.map_batches(read_batch, batch_size=None, batch_format="numpy", num_cpus=READ_TASK_CPUS)
        dataset = dataset.map_batches(
            ColorizeActor, batch_size=args.batch_size, batch_format="numpy",
            compute=self.ray.data.ActorPoolStrategy(size=pool["workers"]), num_cpus=pool["num_cpus"],
            num_gpus=pool["num_gpus"],
            fn_constructor_args=(str(self.model), args.batch_size, args.temperature, args.precision, pool["threads"]),
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            yield from _outcomes(batch)

    def close(self):
        if self.started_here:
            self.ray.shutdown()


def import_ray():
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")  # read when ray.data is imported: the job's bar says enough
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise InputError(f"--engine ray needs Ray Data, an optional extra: {RAY_EXTRA_HINT} ({error})") from error
    return ray


def _init_ray(ray, address):
    """Connect to the cluster at `address`, or start Ray on this machine for the job; quietly either way."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the job's own bar counts images
    context.print_on_execution_start = False
    logging.getLogger("ray").setLevel(logging.ERROR)
    repo = str(cli.REPO_ROOT)  # workers import this checkout's `shared`, as the driver does
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
                                "TF_CPP_MIN_LOG_LEVEL": "3"}}
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env, logging_level="error", log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=accel.cpu_count(), runtime_env=runtime_env, include_dashboard=False,
                     logging_level="error", log_to_driver=False)  # "local": a new Ray even where `ray start` ran
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise InputError(f"cannot connect to the Ray cluster at {address} ({error})") from error
    logging.getLogger("ray").setLevel(logging.ERROR)


def _node_cpus(ray):
    """The CPU count of each live node of the cluster."""
    return [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]


def actor_resources(cluster, node_cpus, workers=None):
    """How many model actors, and what each asks for, so that they and a read task fit the cluster.

    Where there are GPUs: one actor per GPU (by default), each with one GPU. Otherwise one actor per
    CPU core by default, each asking for an equal share of the CPUs left beside a read task
    (READ_TASK_CPUS), and no more than a node holds beside one: on 2 cores, two actors of 1 CPU each
    leave a read task none, and the job waits forever. `threads` is TensorFlow's thread count in a
    CPU actor (its CPU share, rounded up)."""
    gpus, cpus = int(cluster.get("GPU", 0)), float(cluster.get("CPU", 0))
    if gpus:
        workers = workers or gpus
        return {"workers": workers, "num_gpus": 1, "num_cpus": max(0.1, min(1.0, (cpus - READ_TASK_CPUS) / workers)),
                "threads": None}
    if not node_cpus or max(node_cpus) <= READ_TASK_CPUS:
        raise InputError(f"the Ray cluster's nodes have {max(node_cpus, default=0):g} CPUs at most: too few for a read "
                         "task and a model actor")
    workers = workers or max(1, int(cpus))
    share = min((cpus - READ_TASK_CPUS) / workers, max(node_cpus) - READ_TASK_CPUS)
    share = math.floor(share * 100) / 100
    if share < 0.01:
        raise InputError(f"--workers {workers} is more than the Ray cluster's {cpus:g} CPUs can hold; give fewer")
    return {"workers": workers, "num_gpus": 0, "num_cpus": share, "threads": max(1, math.ceil(share))}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the job as Ctrl-C does: no output left half written
    cli.run(main)
