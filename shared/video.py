"""Colorize a video with any trained tier.

    python shared/video.py --model beta                          # the 1906 film in datasets/video/
    python shared/video.py --model beta --input clip.mp4 --side-by-side
    python shared/video.py --model beta --input 0                # camera 0; Ctrl-C stops and keeps the file
    python shared/video.py --model beta --input datasets/video/campus_walk.mp4 --metrics --max-frames 60

Each frame's colour is dropped (only its L is used), L goes through the model
in batches, the predicted ab is upsampled to the frame's size and merged with
the frame's own full-resolution L. With --temporal (the default) colour is
carried along the optical flow of L from frame to frame (shared/temporal.py),
so it does not flicker. Reading, inference and writing run on separate threads.
The output has the input's size, frame rate and frame count, and its audio.
"""

import argparse
import math
import os
import queue
import re
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # FFmpeg's own decoder chatter: fatal errors only

import cv2
import numpy as np
from tqdm.auto import tqdm

from shared import cli, commands, inference, lab, metrics, temporal
from shared.data import InputError

DEFAULT_INPUT = cli.DATASETS / "video" / "grand_prix_1906.ogv"
CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}  # .mkv: lossless FFV1, for exact comparisons
QUEUE_FRAMES = 32  # frames read ahead of inference, and frames waiting to be written
MAX_BAD_FRAMES = 25  # this many undecodable frames in a row is the end of the video
FALLBACK_FPS = 25.0  # for cameras and files that do not say


def build_parser():
    parser = argparse.ArgumentParser(description="Colorize a video (or a camera) with a trained tier.")
    parser.add_argument("--model", default="beta", help="tier name (alpha, beta, full_version) or .keras path (default: %(default)s)")
    parser.add_argument("--input", default=str(DEFAULT_INPUT), help="video file or camera index (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="output video, .mp4, .avi or .mkv (default: results/video/<input>_<tier>.mp4)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=8, help="frames per model call (default: %(default)s)")
    parser.add_argument("--max-frames", type=cli.positive_int, help="stop after this many frames")
    commands.add_temperature_argument(parser)
    parser.add_argument("--side-by-side", action="store_true", help="write the grayscale input and the result next to each other")
    parser.add_argument(
        "--temporal", action=argparse.BooleanOptionalAction, default=True,
        help="carry colour along the optical flow so it does not flicker (default: on)",
    )
    parser.add_argument(
        "--metrics", action="store_true",
        help="print PSNR against the input frames and the flicker figure, with and without --temporal",
    )
    return parser


# --- input ----------------------------------------------------------------------------------


@dataclass
class Source:
    capture: cv2.VideoCapture
    name: str  # for messages and the default output name
    path: Path | None  # None for a camera
    first_bgr: np.ndarray  # the first decoded frame, read to check the video has one
    fps: float
    frame_count: int | None  # None when unknown (cameras, some containers)
    repeated: int = 0  # frames that could not be decoded and were replaced by the one before

    @property
    def size(self):
        height, width = self.first_bgr.shape[:2]
        return width, height


@dataclass
class Frame:
    index: int
    rgb: np.ndarray  # uint8 HxWx3, the decoded frame
    l_channel: np.ndarray  # float32 HxW, L in [0, 100]: all the model sees
    motion: temporal.Motion | None  # from the previous frame; None for the first or without flow


def open_video(text):
    """--input -> Source: a camera index such as `0`, or any file OpenCV can decode."""
    if text.isdigit() and not Path(text).exists():
        capture, name, path = cv2.VideoCapture(int(text)), f"camera{text}", None
        if not capture.isOpened():
            raise InputError(f"cannot open camera {text}")
    else:
        path = Path(text)
        if not path.exists():
            raise InputError(f"{path} does not exist")
        if path.is_dir():
            raise InputError(f"{path} is a folder; give a video file")
        capture, name = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG), path.stem
        if not capture.isOpened():
            raise InputError(f"cannot open {path} as a video (not a video file, or one without frames)")

    first_bgr = _read_first(capture)
    if first_bgr is None:
        raise InputError(f"{text} holds no video frames OpenCV can decode")
    fps = capture.get(cv2.CAP_PROP_FPS)
    if not 0 < fps < 1000:
        warnings.warn(f"{name} does not say its frame rate; writing {FALLBACK_FPS:g} frames per second")
        fps = FALLBACK_FPS
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    return Source(capture, name, path, first_bgr, fps, count if count > 0 and path else None)


def _read_first(capture):
    for _ in range(MAX_BAD_FRAMES + 1):
        ok, bgr = capture.read()
        if ok and bgr is not None:
            return bgr
    return None


def read_frames(source, max_frames=None, motion_estimator=None):
    """Frames in order, from the first. A frame that cannot be decoded in the middle of the video is
    replaced by a repeat of the one before, so the rest keep their timing: each time with a warning
    that gives the count, and `source.repeated` adds them up. A video that ends before the frame
    count its file gives, with no repeats to fill the gap, is warned about too."""
    limit = max_frames or math.inf
    bgr, index, stumbled = source.first_bgr, 0, False
    while index < limit:
        frame = _make_frame(index, np.ascontiguousarray(bgr[..., ::-1]), motion_estimator)
        yield frame
        index += 1
        bgr, failed = _next_decodable(source.capture)
        if bgr is not None:
            missing = failed
        else:  # the end; a decoder that stumbled earlier can lose the last frames too
            missing = source.frame_count - index if stumbled and source.frame_count else 0
        missing = int(min(missing, limit - index))
        if missing > 0:
            stumbled = True
            source.repeated += missing
            warnings.warn(
                f"{source.name}: {_count(missing, 'frame')} ({_span(index, index + missing - 1)}) cannot be decoded; "
                f"repeating frame {index - 1} in its place ({source.repeated} repeated so far)"
            )
            for _ in range(missing):
                yield _make_frame(index, frame.rgb, motion_estimator, l_channel=frame.l_channel)
                index += 1
        if bgr is None:
            if source.frame_count and index < min(source.frame_count, limit):
                warnings.warn(f"{source.name}: the video ended after {index} of the {source.frame_count} frames "
                              f"its file gives; frame {_span(index, source.frame_count - 1)} cannot be decoded")
            return


def _next_decodable(capture):
    """(the next frame that decodes, BGR, or None at the end; how many frames failed before it)."""
    for failed in range(MAX_BAD_FRAMES + 1):
        ok = capture.grab()
        ok, bgr = capture.retrieve() if ok else (False, None)
        if ok and bgr is not None:
            return bgr, failed
    return None, MAX_BAD_FRAMES + 1


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _span(first, last):
    return f"{first}" if first == last else f"{first}-{last}"


def _make_frame(index, rgb, motion_estimator, l_channel=None):
    l_channel = lab.rgb_to_l_fast(rgb) if l_channel is None else l_channel
    motion = motion_estimator.step(l_channel) if motion_estimator else None
    return Frame(index, rgb, l_channel, motion)


def prefetch(items, size=QUEUE_FRAMES):
    """Run the iterator `items` on a background thread, up to `size` items ahead; its errors surface here."""
    buffer, stop, end = queue.Queue(size), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            try:
                return buffer.put(item, timeout=0.1)
            except queue.Full:
                pass

    def produce():
        try:
            for item in items:
                put(item)
                if stop.is_set():
                    return
            put(end)
        except BaseException as error:  # handed to the consumer
            put(error)

    thread = threading.Thread(target=produce, daemon=True, name="read-frames")
    thread.start()
    try:
        while (item := buffer.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)  # let it finish its frame: a thread killed inside OpenCV aborts the exit


# --- colorizing -----------------------------------------------------------------------------


def colorize_frames(frames, colorizer, batch_size, temporal_filter=None):
    """Frames -> (frame, ab_pred, ab_steady) in order. ab_pred is the model's own ab_norm for the
    frame (HxWx2 in [-1, 1]); ab_steady the temporal filter's output, None without one."""
    frames = iter(frames)
    while batch := list(islice(frames, batch_size)):
        for frame, ab_pred in zip(batch, colorizer.predict_ab([f.l_channel for f in batch])):
            ab_steady = temporal_filter(ab_pred, frame.motion) if temporal_filter else None
            yield frame, ab_pred, ab_steady


def render(frame, ab_norm, side_by_side=False):
    """The output frame, uint8 RGB: the frame's own L with the ab, optionally after its grayscale."""
    result = lab.merge_l_ab_fast(frame.l_channel, ab_norm)
    if side_by_side:
        gray = lab.merge_l_ab_fast(frame.l_channel, np.zeros_like(ab_norm))
        result = np.concatenate([gray, result], axis=1)
    return result


class VideoMetrics:
    """PSNR of the result against the input frames, and the flicker figure, with and without the
    temporal filter; both come from the same predictions, so one pass measures both."""

    def __init__(self):
        # flicker is measured along full-resolution flow, whatever the filter itself uses
        self.motion_estimator = temporal.MotionEstimator(flow_side=None)
        self.psnr = {"grayscale": [], "no-temporal": [], "temporal": []}
        self.flicker = {"no-temporal": [], "temporal": []}
        self.previous = {}  # the last frame's ab_norm per variant
        self.input_chroma = None  # mean |ab| of the first input frame: ~0 for black-and-white film

    def update(self, frame, ab_pred, ab_steady):
        if self.input_chroma is None:
            self.input_chroma = float(np.abs(lab.rgb_to_lab(frame.rgb)[..., 1:]).mean())
        motion = self.motion_estimator.step(frame.l_channel)
        gray = lab.merge_l_ab(frame.l_channel, np.zeros_like(ab_pred))
        self.psnr["grayscale"].append(metrics.psnr(gray, frame.rgb))
        for variant, ab_norm in (("no-temporal", ab_pred), ("temporal", ab_steady)):
            self.psnr[variant].append(metrics.psnr(lab.merge_l_ab(frame.l_channel, ab_norm), frame.rgb))
            change = temporal.flicker(ab_norm, self.previous.get(variant), motion)
            if change is not None:
                self.flicker[variant].append(change)
            self.previous[variant] = ab_norm

    def report(self, source_name):
        frames = len(self.psnr["grayscale"])
        lines = [f"metrics over {frames} frames of {source_name} ({len(self.flicker['temporal'])} frame pairs tracked):"]
        lines.append(f"  {'':14s} {'PSNR (dB)':>10s} {'flicker (ab)':>13s}")
        for variant in ("grayscale", "no-temporal", "temporal"):
            flicker = f"{np.mean(self.flicker[variant]):13.3f}" if self.flicker.get(variant) else f"{'-':>13s}"
            lines.append(f"  {variant:14s} {np.mean(self.psnr[variant]):10.2f} {flicker}")
        lines.append("  flicker: mean ab distance between consecutive frames after warping by the input's flow,")
        lines.append("  over reliably tracked pixels; PSNR against the input frames (grayscale: L alone, ab = 0)")
        if self.input_chroma is not None and self.input_chroma < 2.0:
            lines.append(f"  note: {source_name} has no colour (mean |ab| {self.input_chroma:.2f}), so PSNR measures nothing here")
        return "\n".join(lines)


# --- output ---------------------------------------------------------------------------------


class OutputVideo:
    """Writes frames on a background thread to a `.partial` file beside `path`. `finish()` closes it,
    copies the input's audio in and moves it to `path`; `discard()` removes it."""

    def __init__(self, path, fps, size, audio_source=None):
        fourcc = CODECS.get(path.suffix.lower())
        if fourcc is None:
            raise InputError(f"cannot write {path.name}: use an .mp4, .avi or .mkv file name")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot write to {path.parent} ({error})") from error
        self.path, self.audio_source = path, audio_source
        self.partial = path.with_name(f"{path.stem}.partial{path.suffix}")
        self.writer = cv2.VideoWriter(str(self.partial), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self.writer.isOpened():
            self.partial.unlink(missing_ok=True)
            raise InputError(f"cannot write a video to {path} (is the folder writable?)")
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-frames")
        self.pending = deque()
        self.frames_written = 0

    def submit(self, make_rgb, *args):
        """Queue one frame, made by make_rgb(*args) on the writer thread; returns frames finished since."""
        self.pending.append(self.thread.submit(self._write, make_rgb, *args))
        return self._collect(wait=len(self.pending) > QUEUE_FRAMES)

    def _write(self, make_rgb, *args):
        self.writer.write(np.ascontiguousarray(make_rgb(*args)[..., ::-1]))  # OpenCV writes BGR

    def _collect(self, wait=False, all_=False):
        done = 0
        while self.pending and (self.pending[0].done() or wait or all_):
            self.pending.popleft().result()  # re-raises the writer thread's errors
            done, wait = done + 1, False
        self.frames_written += done
        return done

    def drain(self):
        """Wait for every queued frame; returns frames finished since the last call."""
        return self._collect(all_=True)

    def finish(self):
        """Close the video and move it into place; an InputError, with no partial file left, if that fails."""
        self.drain()
        self.thread.shutdown()
        self.writer.release()
        try:
            if self.audio_source is not None and has_audio(self.audio_source):
                copy_audio(self.partial, self.audio_source, self.path)
            else:
                os.replace(self.partial, self.path)
        except OSError as error:
            raise InputError(f"cannot write {self.path} ({error.strerror or error})") from error
        finally:
            self.partial.unlink(missing_ok=True)

    def discard(self):
        self.thread.shutdown(wait=True, cancel_futures=True)
        self.writer.release()
        self.partial.unlink(missing_ok=True)


def _ffmpeg():
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed, or no binary for this platform: audio is skipped
        return None


def has_audio(path):
    ffmpeg = _ffmpeg()
    if ffmpeg is None:
        return False
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False)
    return re.search(r"Stream #\S+.*: Audio:", probe.stderr) is not None


def copy_audio(video, audio_source, output):
    """Mux `video`'s frames with `audio_source`'s audio into `output`: the audio as it is if the
    container takes it, else as AAC; cut to the video's length. Without success, the video alone."""
    base = [_ffmpeg(), "-y", "-v", "error", "-i", str(video), "-i", str(audio_source),
            "-map", "0:v:0", "-map", "1:a", "-c:v", "copy", "-shortest"]
    for audio_codec in ("copy", "aac"):
        result = subprocess.run([*base, "-c:a", audio_codec, str(output)], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return
    warnings.warn(f"could not copy the audio track of {audio_source} ({result.stderr.strip()[-200:]}); the output is silent")
    os.replace(video, output)


def default_output(source, model):
    tier = model if model in cli.TIERS else Path(model).stem
    return cli.RESULTS / "video" / f"{source.name}_{tier}.mp4"


# --- main -----------------------------------------------------------------------------------


def main(argv=None):
    args = build_parser().parse_args(argv)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    source = open_video(args.input)
    output = args.output or default_output(source, args.model)
    if source.path is not None and output.resolve() == source.path.resolve():
        raise InputError(f"the output {output} would overwrite the input")
    cli.writable_file(output, "--output")
    colorizer = inference.load_colorizer(args.model, args.batch_size, args.temperature)
    width, height = source.size
    colorizer.check_size(height, width, name=f"{source.name}'s frame")

    measure = VideoMetrics() if args.metrics else None
    motion_estimator = temporal.MotionEstimator() if args.temporal or args.metrics else None
    temporal_filter = temporal.TemporalFilter() if args.temporal or args.metrics else None
    frames = prefetch(read_frames(source, args.max_frames, motion_estimator))
    results = colorize_frames(frames, colorizer, args.batch_size, temporal_filter)

    def make_rgb(frame, ab_pred, ab_steady):  # runs on the writer thread, one frame at a time, in order
        if measure:
            measure.update(frame, ab_pred, ab_steady)
        return render(frame, ab_steady if args.temporal else ab_pred, args.side_by_side)

    out_size = (2 * width if args.side_by_side else width, height)
    video = OutputVideo(output, source.fps, out_size, audio_source=source.path)
    total = min(filter(None, (source.frame_count, args.max_frames)), default=None)
    start = time.perf_counter()
    try:
        with tqdm(total=total, unit="frame", dynamic_ncols=True, desc=source.name) as bar:
            for result in results:
                bar.update(video.submit(make_rgb, *result))
            bar.update(video.drain())
    except KeyboardInterrupt:
        _keep_partial(video)
        raise
    except BaseException:
        video.discard()
        raise
    finally:
        frames.close()
        source.capture.release()
    video.finish()

    seconds = time.perf_counter() - start
    print(
        f"wrote {video.frames_written} frames ({out_size[0]}x{out_size[1]}, {source.fps:g} fps) to {output} "
        f"in {seconds:.1f} s: {video.frames_written / seconds:.1f} frames/s"
        f"{'' if args.temporal else ', without the temporal filter'}"
        + (f"; {_count(source.repeated, 'frame')} could not be decoded and repeat the frame before"
           if source.repeated else "")
    )
    if measure:
        print(measure.report(source.name))
    return 0


def _keep_partial(video):
    """After Ctrl-C: finish what was written into a playable file, or remove it if there is nothing."""
    video.drain()
    if video.frames_written == 0:
        video.discard()
        print(f"\nnothing was written; no file left at {video.path}", file=sys.stderr)
        return
    video.finish()
    print(f"\nstopped: the first {video.frames_written} frames are in {video.path}", file=sys.stderr)


if __name__ == "__main__":
    cli.run(main)
