"""How fast this machine trains and colorizes, against its own limit: one command, a few minutes.

    python benchmarks/speed.py            # the full table (about 6-10 minutes on a 2-core CPU)
    python benchmarks/speed.py --quick    # 128 px only, fewer repeats, 100 alpha epochs (about 2-3 minutes)

Prints the machine, the measured float32 (and bfloat16) matmul GFLOP/s, then:
- training images/s per tier and size, fed four ways, measured interleaved in
  one run (medians over repeats): `memory` (one batch already in RAM: the
  network alone), the same in the other precision, `pipeline` (the real
  tf.data pipeline from the files, with augmentation; full_version's batches
  carry simulated users' hints, as its training does) and `reference` (the
  reference design's feeding: all images decoded into RAM, each batch
  augmented with scipy's affine_transform as Keras 2's ImageDataGenerator did
  and converted with scikit-image's rgb2lab in a Python generator); achieved
  GFLOP/s (3x the forward FLOPs of the convolutions per image) and its share of
  the matmul limit of the same precision;
- alpha: seconds for its 1000 epochs on the bundled image, through the real
  training loop (callbacks and logging included);
- video: frames/s end to end at 768x576 (datasets/video/campus_walk.mp4, with
  the temporal filter) with the models `--model beta` and `--model full_version`
  use (yours or the shipped ones), as shared/video.py prints them and with loading
  the model added, and beta's stages' shares of a serial pass, written through the same
  ffmpeg H.264 pipe as shared/video.py, and the CPU time ffmpeg's encoder
  takes a frame beside it.

Absolute numbers on a shared machine are noise; compare the ratios printed
beside them, which come from the same run. Nothing is downloaded: the training
models are freshly initialised (speed does not depend on the weights).
"""

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import shared  # noqa: F401,E402  (first, so TensorFlow starts quietly)

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from shared import accel, cli, data, inference, lab, layers, temporal, video  # noqa: E402

TRAIN_IMAGES = cli.DATASETS / "landscapes" / "train"
VIDEO_768 = cli.DATASETS / "video" / "campus_walk.mp4"
BATCH = 8


def median(values):
    return statistics.median(values) if values else float("nan")


# --- the machine ------------------------------------------------------------------------


def machine_lines():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    versions = (f"python {platform.python_version()}, tensorflow {tf.__version__}, keras {keras.__version__}, "
                f"numpy {np.__version__}, opencv {cv2.__version__}")
    return [
        f"machine: {accel.cpu_model()}, {accel.cpu_count()} cores usable ({os.cpu_count()} in the machine), "
        f"native bfloat16: {'yes' if accel.native_bfloat16() else 'no'}, GPUs: {len(gpus) or 'none'}",
        f"backend: {keras.backend.backend()}; {versions}",
        f"threads: intra-op {tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, "
        f"inter-op {tf.config.threading.get_inter_op_parallelism_threads() or 'default'}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}",
    ]


def matmul_gflops(dtype, n=1024, repeats=5, inner=8):
    """The machine's limit: GFLOP/s of a large square matmul (median over repeats)."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((n, n), dtype=tf.float32) / n**0.5, dtype)  # keeps the chain's scale

    @tf.function
    def chain(x):
        for _ in range(inner):  # each product feeds the next, so none can be skipped or merged
            x = tf.matmul(x, a)
        return tf.reduce_sum(tf.cast(x[:1, :1], tf.float32))

    chain(a).numpy()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        chain(a).numpy()
        rates.append(inner * 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return median(rates)


# --- training ---------------------------------------------------------------------------


def forward_flops(model):
    """FLOPs of one image's forward pass through the convolutions and dense layers (multiply-add = 2)."""
    total = 0
    for layer in layers.all_layers(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            _, height, width, _ = layer.output.shape
            total += 2 * height * width * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(np.prod(layer.kernel.shape))
    return total


def build(tier, size, precision):
    accel.set_precision(precision)
    try:
        if tier == "beta":
            from beta.model import build_model

            return build_model(size)
        from full_version.model import build_model

        return build_model(size)
    finally:
        accel.set_precision("float32")


class StepClock(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = [time.perf_counter()]

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def images_per_second(model, dataset, steps, warm=1):
    """Steady-state rate: fit warm + steps batches, time the last `steps` (the pipeline's start-up excluded)."""
    clock = StepClock()
    model.fit(dataset, epochs=1, steps_per_epoch=warm + steps, verbose=0, shuffle=False, callbacks=[clock])
    return steps * BATCH / (clock.times[-1] - clock.times[warm])


def memory_dataset(paths, size, hints=None):
    """One real batch, already converted, held in memory and repeated: the network alone."""
    return data.make_dataset(paths[:BATCH], size, BATCH, hints=hints).take(1).cache().repeat()


def reference_batches(paths, size, seed=0):
    """The reference design's feeding: every image decoded and resized into RAM once, then per batch an
    ImageDataGenerator-style augmentation (scipy affine_transform per channel, as Keras 2 did) and
    scikit-image's rgb2lab, in a Python generator."""
    from scipy import ndimage
    from skimage.color import rgb2lab

    images = np.stack([cv2.resize(data.read_rgb(p), (size, size), interpolation=cv2.INTER_AREA) for p in paths])
    images = images.astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)

    def generate():
        while True:
            chosen = images[rng.integers(0, len(images), BATCH)]
            batch = np.empty_like(chosen)
            for i, image in enumerate(chosen):
                t = data.random_affine_transform(size, size, rng=rng)
                matrix = np.array([[t[4], t[3]], [t[1], t[0]]])  # (row, col) order, as scipy wants it
                offset = np.array([t[5], t[2]])
                for c in range(3):
                    batch[i, ..., c] = ndimage.affine_transform(image[..., c], matrix, offset, order=1, mode="nearest")
            lab_batch = rgb2lab(batch)
            yield (lab_batch[..., :1] / 100.0).astype(np.float32), (lab_batch[..., 1:] / 128.0).astype(np.float32)

    return generate


def reference_dataset(paths, size):
    import tensorflow as tf

    spec = (tf.TensorSpec((BATCH, size, size, 1), tf.float32), tf.TensorSpec((BATCH, size, size, 2), tf.float32))
    return tf.data.Dataset.from_generator(reference_batches(paths, size), output_signature=spec)


def training_table(sizes, repeats, steps, tiers, pipeline_variants):
    paths = data.list_images(TRAIN_IMAGES)
    fp32_limit = matmul_gflops("float32")
    bf16_limit = matmul_gflops("bfloat16")
    default_precision = accel.resolve_precision("auto")
    other = "float32" if default_precision == "bfloat16" else "bfloat16"
    limits = {"float32": fp32_limit, "bfloat16": bf16_limit}
    lines = [
        f"matmul limit (1024x1024, median of 5): float32 {fp32_limit:.0f} GFLOP/s, bfloat16 {bf16_limit:.0f} GFLOP/s "
        f"({bf16_limit / fp32_limit:.2f}x); --precision auto picks {default_precision} here",
        "",
        f"training, batch {BATCH}, images/s (median of {repeats}; each {steps} steps after one warm-up step), "
        "GFLOP/s achieved and share of the matmul limit of that precision",
        f"{'tier':13s} {'px':>4s} {'feeding':24s} {'precision':9s} {'img/s':>7s} {'GFLOP/s':>8s} {'share':>6s} "
        f"{'vs memory':>9s}",
    ]
    for size in sizes:
        for tier in tiers:
            hints = "simulated" if tier == "full_version" else None  # full_version trains with hint inputs
            variants = {f"memory|{default_precision}": (default_precision, memory_dataset(paths, size, hints)),
                        f"memory|{other}": (other, memory_dataset(paths, size, hints))}
            for name, make in pipeline_variants.items():
                variants[f"{name}|{default_precision}"] = (default_precision, make(paths, size, hints))
            if hints is None:  # the reference design's feeding has no hints to give
                variants[f"reference|{default_precision}"] = (default_precision, reference_dataset(paths, size))
            models = {}
            for key, (precision, _) in variants.items():
                if precision not in models:
                    models[precision] = build(tier, size, precision)
            flops = 3 * forward_flops(models["float32"])
            for key, (precision, dataset) in variants.items():  # warm-up: trace and fill
                images_per_second(models[precision], dataset, 1)
            rates = {key: [] for key in variants}
            for _ in range(repeats):
                for key, (precision, dataset) in variants.items():
                    rates[key].append(images_per_second(models[precision], dataset, steps))
            base = median(rates[f"memory|{default_precision}"])
            for key, (precision, _) in variants.items():
                feeding = key.split("|")[0]
                rate = median(rates[key])
                gflops = rate * flops / 1e9
                lines.append(
                    f"{tier:13s} {size:4d} {feeding:24s} {precision:9s} {rate:7.2f} {gflops:8.0f} "
                    f"{gflops / limits[precision]:6.0%} {rate / base:8.2f}x"
                )
            print("\n".join(lines[-len(variants):]), flush=True)
    return lines


def pipeline_variants():
    def pipeline(**options):
        return lambda paths, size, hints=None: data.make_dataset(paths, size, BATCH, augment=True, shuffle=True,
                                                                 hints=hints, **options).repeat()

    return {
        "pipeline (default)": pipeline(),  # graph decoding; cached in memory here (80 photos)
        "pipeline, no cache": pipeline(cache=False),
        "pipeline, Pillow, no cache": pipeline(cache=False, decode="pillow"),  # the pipeline before issue 9
    }


# --- alpha ------------------------------------------------------------------------------


def alpha_seconds(epochs, repeats):
    """Seconds for `epochs` epochs of alpha through the real training loop, one figure per repeat."""
    from alpha.model import build_model
    from alpha.train import DEFAULT_IMAGE, training_data
    from shared import training

    train_data, steps = training_data(data.read_rgb(DEFAULT_IMAGE), 8)
    seconds = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            model = build_model()
            start = time.perf_counter()
            training.fit(model, train_data, epochs=epochs, steps_per_epoch=steps,
                         model_path=Path(folder) / "alpha.keras")
            seconds.append(time.perf_counter() - start)
    return seconds


# --- video ------------------------------------------------------------------------------


def video_table(frames):
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        colorizer = inference.load_colorizer("beta", BATCH)  # what `shared/video.py --model beta` runs

        # stages, one after the other on this thread, each as shared/video.py runs it
        capture = cv2.VideoCapture(str(VIDEO_768), cv2.CAP_FFMPEG)
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        encoder_cpu = children_cpu_seconds()
        writer = video.OutputVideo(Path(folder) / "stages.mp4", 25, (width, height))
        estimator, smoother = temporal.MotionEstimator(), temporal.TemporalFilter()
        schedule, carried = temporal.NetworkSchedule(), None  # the network on every NETWORK_EVERY-th frame
        seconds = dict.fromkeys(("decode", "Lab", "flow", "network", "carry", "filter", "merge", "encode"), 0.0)
        colorizer.predict_ab([np.zeros((height, width), np.float32)] * BATCH)  # trace once
        done = 0
        while done < frames:
            batch = []
            for _ in range(min(BATCH, frames - done)):
                t0 = time.perf_counter()
                ok, bgr = capture.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                t1 = time.perf_counter()
                l_channel = lab.rgb_to_l_fast(rgb)
                t2 = time.perf_counter()
                motion = estimator.step(l_channel)
                t3 = time.perf_counter()
                seconds["decode"] += t1 - t0
                seconds["Lab"] += t2 - t1
                seconds["flow"] += t3 - t2
                batch.append((video.Frame(done + len(batch), rgb, l_channel, motion), schedule.is_due(motion)))
            if not batch:
                break
            t0 = time.perf_counter()
            abs_ = iter(colorizer.predict_ab([f.l_channel for f, due in batch if due], at_image_size=False))
            seconds["network"] += time.perf_counter() - t0
            for frame, due in batch:
                t0 = time.perf_counter()
                carried = next(abs_) if due else temporal.carry(carried, frame.motion)
                seconds["carry"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                ab_steady = smoother(carried, frame.motion)
                t1 = time.perf_counter()
                rgb = video.render(frame, ab_steady)
                t2 = time.perf_counter()
                writer.submit(lambda frame_rgb: frame_rgb, rgb)
                writer.drain()  # serial: this frame is in ffmpeg's pipe before the next starts
                seconds["filter"] += t1 - t0
                seconds["merge"] += t2 - t1
                seconds["encode"] += time.perf_counter() - t2
            done += len(batch)
        writer.finish()
        encoder_cpu = children_cpu_seconds() - encoder_cpu
        capture.release()
        serial = sum(seconds.values())

        # end to end, the way users run it, beta and full_version in turn (median of 3 each): the frames/s
        # video.py prints (from the first frame read to the last written) and those of the whole call,
        # which adds loading the model, a fixed cost that a long film does not notice
        end_to_end, with_loading = {}, {}
        for run in range(3):
            for model in ("beta", "full_version"):
                start = time.perf_counter()
                result = video.colorize_video(VIDEO_768, Path(folder) / f"{model}{run}.mp4", model,
                                              max_frames=frames, progress=False)
                with_loading.setdefault(model, []).append(frames / (time.perf_counter() - start))
                end_to_end.setdefault(model, []).append(frames / result.seconds)
        end_to_end, with_loading = ({model: median(rates) for model, rates in table.items()}
                                    for table in (end_to_end, with_loading))

    lines.append(f"video, {width}x{height} ({VIDEO_768.name}, {frames} frames, temporal filter on), end to end "
                 f"(threads overlap the stages; median of 3): beta {end_to_end['beta']:.2f} frames/s, full_version "
                 f"{end_to_end['full_version']:.2f} frames/s ({end_to_end['full_version'] / end_to_end['beta']:.2f}x); "
                 f"with loading the model: beta {with_loading['beta']:.2f}, full_version "
                 f"{with_loading['full_version']:.2f} ({with_loading['full_version'] / with_loading['beta']:.2f}x)")
    lines.append(f"beta's serial pass {frames / serial:.2f} frames/s (the network on 1 frame "
                 f"in {temporal.NETWORK_EVERY}, the others carried along the flow), shares of it:")
    lines.append("  " + ", ".join(f"{name} {s / serial:.0%} ({1000 * s / frames:.0f} ms)" for name, s in seconds.items()))
    lines.append(f"  and beside it, in its own process: ffmpeg encoding H.264, {1000 * encoder_cpu / frames:.0f} ms "
                 "of CPU a frame (encode above is only the hand-over through its pipe)")
    return lines


def children_cpu_seconds():
    """CPU seconds (user + system) of the child processes that have finished so far: ffmpeg's, here."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- main -------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="128 px only, 2 repeats, 100 alpha epochs, 48 frames")
    parser.add_argument("--skip", nargs="*", default=[], choices=("training", "alpha", "video"), help="parts to leave out")
    args = parser.parse_args(argv)
    sizes, repeats, steps = ((128,), 2, 2) if args.quick else ((128, 256), 3, 2)
    alpha_epochs, frames = (100, 48) if args.quick else (1000, 120)

    started = time.perf_counter()
    lines = machine_lines()
    print("\n".join(lines), flush=True)
    if "training" not in args.skip:
        lines += [""] + training_table(sizes, repeats, steps, ("beta", "full_version"), pipeline_variants())
    if "alpha" not in args.skip:
        runs = alpha_seconds(alpha_epochs, repeats)
        seconds = statistics.median(runs)
        lines += ["", f"alpha: {seconds:.1f} s for {alpha_epochs} epochs on the bundled image (median of {repeats}: "
                  + ", ".join(f"{s:.1f}" for s in runs) + ")"
                  + (f" ({seconds * 1000 / alpha_epochs:.0f} s per 1000)" if alpha_epochs != 1000 else "")]
        print(lines[-1], flush=True)
    if "video" not in args.skip:
        lines += [""] + video_table(frames)
    lines += ["", f"benchmark took {time.perf_counter() - started:.0f} s"]
    print("\n" + "=" * 100 + "\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
