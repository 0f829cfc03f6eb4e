"""Colorize a video with any trained tier.

    python shared/video.py --model beta                          # the 1906 film in datasets/video/
    python shared/video.py --model beta --input clip.mp4 --side-by-side
    python shared/video.py --model beta --input 0                # camera 0; Ctrl-C stops and keeps the file
    python shared/video.py --model beta --input datasets/video/campus_walk.mp4 --metrics --max-frames 60

or from Python, `colorize_video("clip.mp4", "clip_colour.mp4", model="beta")`.

Each frame's colour is dropped (only its L is used), L goes through the model
in batches, and the predicted ab, at the network's size, is scaled up once, to
the frame's size, as it is merged with the frame's own full-resolution L. With
--temporal (the default) colour is carried along the optical flow of L from
frame to frame (shared/temporal.py, on L shrunk to 192 px), so it does not
flicker; the network then colours every third frame (--network-every) and the
frames between carry its colours along the same flow. Reading, inference and
writing run on separate threads.
Frames are piped as raw RGB into the ffmpeg that `imageio-ffmpeg` bundles, which
encodes them (.mp4: H.264, which browsers play; .mkv: lossless FFV1) and muxes
the input's audio in the same process. The output has the input's size (an .mp4
of an odd-sized video gets one more row or column: H.264 in 4:2:0 stores even
sizes only), frame rate and frame count, and its audio.
"""

import argparse
import math
import os
import queue
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # FFmpeg's own decoder chatter: fatal errors only

import cv2
import numpy as np
from tqdm.auto import tqdm

from shared import accel, cli, commands, inference, lab, metrics, temporal
from shared import hints as hints_module
from shared.data import InputError

DEFAULT_INPUT = cli.DATASETS / "video" / "grand_prix_1906.ogv"
DEFAULT_CRF = 18  # x264's constant rate factor for .mp4: 0 lossless .. 51 worst; 18 looks like the input
QUEUE_FRAMES = 32  # frames read ahead of inference, and frames waiting to be written
MAX_BAD_FRAMES = 25  # this many undecodable frames in a row is the end of the video
FALLBACK_FPS = 25.0  # for cameras and files that do not say


def build_parser():
    parser = argparse.ArgumentParser(description="Colorize a video (or a camera) with a trained tier.")
    parser.add_argument("--model", default="beta", help="tier name (alpha, beta, full_version) or .keras path (default: %(default)s)")
    parser.add_argument("--input", default=str(DEFAULT_INPUT), help="video file or camera index (default: %(default)s)")
    parser.add_argument(
        "--output", type=Path,
        help="output video: .mp4 (H.264), .mkv (lossless FFV1) or .avi (MJPEG) (default: results/video/<input>_<tier>.mp4)",
    )
    parser.add_argument(
        "--crf", type=crf_value, default=DEFAULT_CRF,
        help=".mp4 quality, x264's constant rate factor: 0 (lossless) to 51, lower is better and larger (default: %(default)s)",
    )
    parser.add_argument("--batch-size", type=cli.positive_int, default=8, help="frames per model call (default: %(default)s)")
    parser.add_argument("--max-frames", type=cli.positive_int, help="stop after this many frames")
    commands.add_temperature_argument(parser)
    commands.add_neutral_lean_argument(parser)
    commands.add_precision_argument(parser)
    parser.add_argument("--side-by-side", action="store_true", help="write the grayscale input and the result next to each other")
    parser.add_argument(
        "--temporal", action=argparse.BooleanOptionalAction, default=True,
        help="carry colour along the optical flow so it does not flicker (default: on)",
    )
    parser.add_argument(
        "--network-every", type=cli.positive_int, default=temporal.NETWORK_EVERY, metavar="N",
        help="with --temporal, the network colours every Nth frame (and each scene cut) and the frames between "
             "carry its colours along the optical flow; 1: every frame (default: %(default)s)",
    )
    parser.add_argument(
        "--metrics", action="store_true",
        help="print PSNR against the input frames and the flicker figure, with and without --temporal",
    )
    parser.add_argument(
        "--hints", type=Path, metavar="JSON",
        help='colours you want: a JSON list of {"frame": 0, "x": 120, "y": 40, "color": "#3a7bd5"}; each is '
             "carried along the motion to the following frames until it is lost or the scene cuts (models "
             "trained with hints: the shipped full_version)",
    )
    return parser


def crf_value(text):
    value = int(text)
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 51, got {text}")
    return value


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


def open_video(source):
    """A camera index (an int, or a string such as `0` that names no file) or any video file OpenCV can
    decode (str or Path) -> Source, its first frame read; an InputError when there is none."""
    text = str(source)
    if isinstance(source, int) or (isinstance(source, str) and text.isdigit() and not Path(text).exists()):
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
        frame = _make_frame(index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), motion_estimator)
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


def colorize_frames(frames, colorizer, batch_size, temporal_filter=None, hint_tracker=None, network_every=1,
                    every_prediction=False):
    """Frames -> (frame, ab_pred, ab_steady) in order. ab_pred is the model's own ab_norm for the
    frame (hxwx2 in [-1, 1], at the network's output size); ab_steady the temporal filter's output (at
    the motion's size), None without one. Neither is scaled to the frame yet: `render` does that. With a
    `hint_tracker` (shared.temporal.HintTracker) each frame gets the user's hints carried to it.

    With `network_every` n > 1 (and frames with motion) the network colours only the frames
    temporal.NetworkSchedule picks; on the others the filter gets the last prediction carried along the
    flow, which is then their ab_pred too. `every_prediction`: the network colours every frame anyway and
    ab_pred is always its own (what --metrics compares), while the filter still sees the schedule's."""
    schedule, carried = temporal.NetworkSchedule(network_every), None
    for batch in _batches_of_due(frames, schedule, batch_size, hint_tracker, every_prediction):
        to_colour = [(frame, points) for frame, points, due in batch if due or every_prediction]
        ab_preds = iter(colorizer.predict_ab([frame.l_channel for frame, _ in to_colour],
                                             [points for _, points in to_colour] if hint_tracker else None,
                                             at_image_size=False))
        for frame, _, due in batch:
            ab_pred = next(ab_preds) if due or every_prediction else None
            carried = ab_pred if due else temporal.carry(carried, frame.motion)
            ab_steady = temporal_filter(carried, frame.motion) if temporal_filter else None
            yield frame, carried if ab_pred is None else ab_pred, ab_steady


def _batches_of_due(frames, schedule, batch_size, hint_tracker, every_prediction):
    """Lists of (frame, its hints or None, whether the network is due on it), in order, each holding
    `batch_size` frames for the network (the last one fewer)."""
    batch, for_network = [], 0
    for frame in frames:
        points = None
        if hint_tracker is not None:
            points = hint_tracker.step(frame.index, frame.motion, frame.l_channel.shape)
        due = schedule.is_due(frame.motion, force=hint_tracker is not None and hint_tracker.new_on(frame.index))
        batch.append((frame, points, due))
        for_network += due or every_prediction
        if for_network == batch_size:
            yield batch
            batch, for_network = [], 0
    if batch:
        yield batch


def render(frame, ab_norm, side_by_side=False):
    """The output frame, uint8 RGB: the frame's own L with the ab (of any size: scaled to the frame's),
    optionally after its grayscale."""
    result = lab.merge_l_ab_fast(frame.l_channel, ab_norm)
    if side_by_side:
        gray = lab.gray_from_l(frame.l_channel, fast=True)
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
        gray = lab.gray_from_l(frame.l_channel)
        self.psnr["grayscale"].append(metrics.psnr(gray, frame.rgb))
        height, width = frame.l_channel.shape
        for variant, ab_norm in (("no-temporal", ab_pred), ("temporal", ab_steady)):
            ab_norm = temporal.resized(ab_norm, width, height)  # flicker is measured at the frame's size
            self.psnr[variant].append(metrics.psnr(lab.merge_l_ab(frame.l_channel, ab_norm), frame.rgb))
            change = temporal.flicker(ab_norm, self.previous.get(variant), motion)
            if change is not None:
                self.flicker[variant].append(change)
            self.previous[variant] = ab_norm

    def summary(self):
        """The figures as a dict: frames, pairs (frame pairs tracked), psnr (dB) and flicker (ab units) per
        variant (flicker None where no pair was tracked), input_chroma (mean |ab| of the first input frame)."""
        return {
            "frames": len(self.psnr["grayscale"]),
            "pairs": len(self.flicker["temporal"]),
            "psnr": {variant: float(np.mean(values)) for variant, values in self.psnr.items()},
            "flicker": {variant: float(np.mean(values)) if values else None for variant, values in self.flicker.items()},
            "input_chroma": self.input_chroma,
        }


def format_metrics(summary, source_name):
    """VideoMetrics.summary() as the lines --metrics prints."""
    lines = [f"metrics over {summary['frames']} frames of {source_name} ({summary['pairs']} frame pairs tracked):"]
    lines.append(f"  {'':14s} {'PSNR (dB)':>10s} {'flicker (ab)':>13s}")
    for variant in ("grayscale", "no-temporal", "temporal"):
        value = summary["flicker"].get(variant)
        flicker = f"{value:13.3f}" if value is not None else f"{'-':>13s}"
        lines.append(f"  {variant:14s} {summary['psnr'][variant]:10.2f} {flicker}")
    lines.append("  flicker: mean ab distance between consecutive frames after warping by the input's flow,")
    lines.append("  over reliably tracked pixels; PSNR against the input frames (grayscale: L alone, ab = 0)")
    if summary["input_chroma"] is not None and summary["input_chroma"] < 2.0:
        lines.append(f"  note: {source_name} has no colour (mean |ab| {summary['input_chroma']:.2f}), "
                     "so PSNR measures nothing here")
    return "\n".join(lines)


# --- output ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """How ffmpeg writes one kind of output file."""

    muxer: str  # ffmpeg's -f
    video: tuple  # the video codec's options; "{crf}" is filled in
    audio: tuple  # the audio codec's options: the input's audio is decoded, fitted to the frames and re-encoded
    even_size: bool  # the codec stores only even widths and heights


CONTAINERS = {
    # H.264 High profile in 4:2:0 with the index at the front: what browsers and phones play, as soon as it loads.
    # x264's preset faster: 0.57-0.67x the CPU of its default (medium), which took about 20 ms a 768x576
    # frame, as much as the network, for 0.4-1.0 dB less at the same crf (README, Video)
    ".mp4": Container("mp4", ("-c:v", "libx264", "-preset", "faster", "-crf", "{crf}", "-pix_fmt", "yuv420p",
                              "-movflags", "+faststart"), ("-c:a", "aac", "-b:a", "192k"), even_size=True),
    # lossless: FFV1 on RGB (bgr0 keeps every 8-bit value), FLAC; for exact comparisons
    ".mkv": Container("matroska", ("-c:v", "ffv1", "-pix_fmt", "bgr0"), ("-c:a", "flac"), even_size=False),
    ".avi": Container("avi", ("-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj420p"), ("-c:a", "pcm_s16le"),
                      even_size=False),
}
FORMATS_TEXT = "use an .mp4, .avi or .mkv file name"


def container_for(path):
    container = CONTAINERS.get(Path(path).suffix.lower())
    if container is None:
        raise InputError(f"cannot write {Path(path).name}: {FORMATS_TEXT}")
    return container


def stored_size(size, path):
    """(width, height) as `path`'s codec stores frames of `size`: .mp4 rounds each up to even."""
    width, height = size
    if container_for(path).even_size:
        return width + width % 2, height + height % 2
    return width, height


def ffmpeg_exe():
    """The ffmpeg binary imageio-ffmpeg bundles (or the one its IMAGEIO_FFMPEG_EXE names)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as error:  # not installed, or no binary for this platform
        raise InputError(f"no ffmpeg to write videos with ({error}); install imageio-ffmpeg") from error


def quiet_ffmpeg():
    """The start of every ffmpeg command that writes: errors only, no banner or progress, overwrite."""
    return [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", "-y"]


def has_audio(path):
    """Whether ffmpeg finds an audio stream in the file `path` (False when it cannot open it)."""
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                           check=False)
    return re.search(r"Stream #\S+.*: Audio:", probe.stderr) is not None


def frame_rate_text(fps):
    """Frames per second as the fraction ffmpeg takes: 29.97002997 -> 30000/1001, 25.0 -> 25/1."""
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


class OutputVideo:
    """Writes uint8 RGB frames, on a background thread, into an ffmpeg process that encodes them into a
    hidden temporary file beside `path` and muxes `audio_source`'s audio in. `finish()` closes it and
    moves it to `path`; `discard()` stops ffmpeg and removes it.

    The audio is decoded and re-encoded so that it can be fitted to the frames, which a copied stream
    cannot be in the same pass: given `audio_seconds` (the frames expected / fps), it is padded with
    silence or cut to exactly that; without, padded and cut by ffmpeg's -shortest where the frames end,
    which is only as exact as ffmpeg's buffering allows. After Ctrl-C, `finish(cut_audio=True)` cuts
    the planned audio to the frames written, by a second ffmpeg pass that copies both streams.
    """

    def __init__(self, path, fps, size, audio_source=None, crf=DEFAULT_CRF, audio_seconds=None):
        path = Path(path)
        container = container_for(path)
        if not 0 <= crf <= 51:
            raise InputError(f"crf must be a whole number from 0 to 51, got {crf}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot write to {path.parent} ({error.strerror or error})") from error
        # hidden, unique, and created by ffmpeg itself, so it gets the usual permissions (mkstemp's are 0600)
        self.path, self.temporary = path, path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
        self.size, self.stored_size = tuple(size), stored_size(size, path)
        self.fps, self.container = fps, container
        self.log = tempfile.TemporaryFile()  # ffmpeg's messages, for the error if it fails
        self.with_audio = audio_source is not None and has_audio(audio_source)
        command = self.command(container, fps, audio_source if self.with_audio else None, crf, audio_seconds)
        session = {"start_new_session": True} if os.name == "posix" else {
            "creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}  # Ctrl-C is for Python alone
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=self.log, **session)
        except OSError as error:
            self._remove()
            raise InputError(f"cannot start ffmpeg ({error.strerror or error})") from error
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-frames")
        self.pending = deque()
        self.frames_written = 0

    def command(self, container, fps, audio_source, crf, audio_seconds=None):
        width, height = self.stored_size
        command = [*quiet_ffmpeg(), "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
                   "-framerate", frame_rate_text(fps), "-i", "pipe:0"]
        if audio_source is not None:
            command += ["-i", str(audio_source)]
        command += ["-map", "0:v:0", *(option.format(crf=crf) for option in container.video)]
        if audio_source is not None:
            fit = ["-af", f"apad=whole_dur={audio_seconds!r},atrim=end={audio_seconds!r}"] if audio_seconds else [
                "-af", "apad", "-shortest"]
            command += ["-map", "1:a", *container.audio, *fit]
        return [*command, "-f", container.muxer, str(self.temporary)]

    def submit(self, make_rgb, *args):
        """Queue one frame, made by make_rgb(*args) on the writer thread; returns frames finished since."""
        self.pending.append(self.thread.submit(self._write, make_rgb, *args))
        return self._collect(wait=len(self.pending) > QUEUE_FRAMES)

    def _write(self, make_rgb, *args):
        rgb = make_rgb(*args)
        if rgb.shape[1::-1] != self.size:
            raise ValueError(f"frame of {rgb.shape[1]}x{rgb.shape[0]} px for a {self.size[0]}x{self.size[1]} video")
        pad_w, pad_h = self.stored_size[0] - self.size[0], self.stored_size[1] - self.size[1]
        if pad_w or pad_h:  # repeat the last column or row: at the edge it is the least visible
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        try:
            self.process.stdin.write(memoryview(np.ascontiguousarray(rgb, np.uint8)).cast("B"))
        except (BrokenPipeError, ValueError) as error:  # ffmpeg stopped (or the pipe was closed by discard)
            raise InputError(self._failure()) from error

    def _collect(self, wait=False, all_=False):
        """Count the finished frames at the head of the queue (waiting for the first with `wait`, for all with
        `all_`); each is counted as soon as it is known written, so that a Ctrl-C while waiting for the next
        loses no count (the file would hold a frame more than `frames_written` said)."""
        done = 0
        while self.pending and (self.pending[0].done() or wait or all_):
            self.pending[0].result()  # re-raises the writer thread's errors; a Ctrl-C here leaves it queued
            self.pending.popleft()
            self.frames_written += 1
            done, wait = done + 1, False
        return done

    def drain(self):
        """Wait for every queued frame; returns frames finished since the last call."""
        return self._collect(all_=True)

    def finish(self, cut_audio=False):
        """Let ffmpeg finish the file and move it into place; an InputError, with no temporary file left,
        if that fails. Interrupted meanwhile (a second Ctrl-C), it leaves nothing. cut_audio=True (after
        Ctrl-C): the audio ends with the frames written, not where it was planned to."""
        try:
            self.drain()
            self.thread.shutdown()
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg has stopped; its exit code says why
            if self.process.wait() != 0:
                raise InputError(self._failure())
            if cut_audio and self.with_audio:
                self._cut_audio_to_frames()
            os.replace(self.temporary, self.path)
        except OSError as error:
            self.discard()
            raise InputError(f"cannot write {self.path} ({error.strerror or error})") from error
        except BaseException:
            self.discard()
            raise
        self.log.close()

    def _cut_audio_to_frames(self):
        """Copy the finished file's streams up to the last frame written (audio to within one packet,
        ~23 ms of AAC); if that fails, the file keeps its longer audio rather than being lost."""
        cut = self.temporary.with_name(f".cut{self.temporary.name}")
        seconds = self.frames_written / self.fps
        command = [*quiet_ffmpeg(), "-i", str(self.temporary), "-map", "0", "-c", "copy", "-t", f"{seconds:.6f}",
                   "-f", self.container.muxer, str(cut)]
        if subprocess.run(command, stdout=subprocess.DEVNULL, stderr=self.log).returncode == 0:
            os.replace(cut, self.temporary)
        else:
            cut.unlink(missing_ok=True)

    def discard(self):
        """Stop ffmpeg and remove what it wrote."""
        if self.process.poll() is None:
            self.process.kill()  # first, so a write blocked on a full pipe fails rather than waits
        self.thread.shutdown(wait=True, cancel_futures=True)
        try:
            self.process.stdin.close()
        except OSError:
            pass
        self.process.wait()
        self._remove()

    def _remove(self):
        self.temporary.unlink(missing_ok=True)
        self.log.close()

    def _failure(self):
        """ffmpeg's reason, in one line, once it has exited: its first message (later ones are consequences)."""
        self.process.wait()
        self.log.seek(0)
        lines = [re.sub(r"^(\[[^]]*\] *)+", "", line).strip() for line in self.log.read().decode(errors="replace").splitlines()]
        lines = [line for line in lines if line]
        reason = lines[0] if lines else f"exit code {self.process.returncode}"
        return f"ffmpeg could not write {self.path.name}: {reason}"


def default_output(source, model):
    tier = cli.tier_of(model)
    return cli.RESULTS / "video" / f"{source.name}_{tier}.mp4"


# --- the whole job --------------------------------------------------------------------------


@dataclass
class VideoResult:
    """What colorize_video did."""

    path: Path  # the video written
    name: str  # the input's, for messages: its file name without suffix, or camera<N>
    frames: int  # frames written
    size: tuple  # (width, height) of each frame, px; twice the input's width with side_by_side
    stored_size: tuple  # (width, height) as stored: .mp4 rounds odd sizes up by one pixel
    fps: float
    seconds: float  # wall-clock time of reading, colorizing and writing
    repeated: int  # frames that could not be decoded and repeat the one before
    temporal: bool
    metrics: dict | None  # VideoMetrics.summary() with metrics=True, else None


def colorize_video(source, output=None, model="beta", *, batch_size=8, temperature=None, temporal=True,
                   side_by_side=False, max_frames=None, metrics=False, crf=DEFAULT_CRF, precision=accel.COLORIZING_PRECISION,
                   progress=True, on_progress=None, hints=None, network_every=temporal.NETWORK_EVERY, neutral_lean=None):
    """Colorize the video file (str or Path) or camera (an int index) `source` into `output` (.mp4: H.264
    at quality `crf`, 0..51, lower is better; .mkv: lossless FFV1; .avi: MJPEG; default
    results/video/<source>_<tier>.mp4) with `model` (a tier name or .keras path), keeping its size, frame
    rate, frame count and audio. `temporal` keeps colours steady along the optical flow; `metrics` also
    measures PSNR against the input and flicker, with and without it, into the result's `metrics`.
    `precision`: what the network computes in (shared.inference.load_colorizer). `progress` shows a
    progress bar; `on_progress(frames_written, total)` (total None when unknown) is called as frames are
    written, and may raise to stop the work (the file is then removed).
    `hints`: {frame index: [(x, y, (r, g, b)), ...]}, colours the user gave on those frames, carried
    along the optical flow to the following frames (models trained with hints).
    `network_every`: with `temporal`, the network colours every nth frame (and each scene cut or frame
    given hints) and the frames between carry its colours along the flow; 1: every frame.
    `neutral_lean`: a model with a neutral lean (full_version): 0 the network's own colours, 1 the full fit.
    Returns a VideoResult; raises InputError (one line) for bad input, and KeyboardInterrupt after
    keeping the frames done so far in `output`."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    video_source = open_video(source)
    try:
        output = choose_output(video_source, output, model)
        colorizer = prepare_colorizer(model, batch_size, temperature, precision, video_source, neutral_lean)
        hint_tracker = prepare_hints(hints, colorizer, video_source)
        return run_pipeline(video_source, output, colorizer, batch_size=batch_size, temporal_on=temporal,
                            side_by_side=side_by_side, max_frames=max_frames, measure=metrics, crf=crf,
                            progress=progress, on_progress=on_progress, hint_tracker=hint_tracker,
                            network_every=network_every)
    finally:
        video_source.capture.release()


def choose_output(source, output, model):
    """The output path, checked before any work: a known container, not the input, writable."""
    output = Path(output) if output is not None else default_output(source, model)
    if source.path is not None and output.resolve() == source.path.resolve():
        raise InputError(f"the output {output} would overwrite the input")
    cli.writable_file(output, "--output")
    container_for(output)
    return output


def prepare_colorizer(model, batch_size, temperature, precision, source, neutral_lean=None):
    colorizer = inference.load_colorizer(model, batch_size, temperature, precision, neutral_lean)
    width, height = source.size
    colorizer.check_size(height, width, name=f"{source.name}'s frame")
    return colorizer


def prepare_hints(hints_by_frame, colorizer, source):
    """A HintTracker for {frame: points}, each point checked against the frame size; None without hints."""
    if not hints_by_frame:
        return None
    width, height = source.size
    colorizer.check_guidance(True, None)
    return temporal.HintTracker({frame: hints_module.check_points(points, height, width)
                                 for frame, points in hints_by_frame.items()})


def hints_by_frame(path):
    """--hints FILE -> {frame: [(x, y, (r, g, b)), ...]}."""
    by_frame = {}
    for frame, x, y, colour in hints_module.read_hints_file(path):
        by_frame.setdefault(frame, []).append((x, y, colour))
    return by_frame


def run_pipeline(source, output, colorizer, *, batch_size, temporal_on, side_by_side, max_frames, measure, crf,
                 progress, on_progress=None, hint_tracker=None, network_every=1):
    """Read, colorize and write on their own threads; returns a VideoResult."""
    measure = VideoMetrics() if measure else None
    steady = temporal_on or measure is not None
    motion_estimator = temporal.MotionEstimator() if steady or hint_tracker else None
    temporal_filter = temporal.TemporalFilter() if steady else None
    frames = prefetch(read_frames(source, max_frames, motion_estimator))
    results = colorize_frames(frames, colorizer, batch_size, temporal_filter, hint_tracker,
                              network_every=network_every if temporal_on else 1, every_prediction=measure is not None)

    def make_rgb(frame, ab_pred, ab_steady):  # runs on the writer thread, one frame at a time, in order
        if measure:
            measure.update(frame, ab_pred, ab_steady)
        return render(frame, ab_steady if temporal_on else ab_pred, side_by_side)

    width, height = source.size
    out_size = (2 * width if side_by_side else width, height)
    total = min(filter(None, (source.frame_count, max_frames)), default=None)
    start = time.perf_counter()
    try:
        video = OutputVideo(output, source.fps, out_size, audio_source=source.path, crf=crf,
                            audio_seconds=total / source.fps if total else None)
        write_frames(video, make_rgb, results, total, source.name, progress, on_progress)
    finally:
        frames.close()
    return VideoResult(output, source.name, video.frames_written, out_size, video.stored_size, source.fps,
                       time.perf_counter() - start, source.repeated, temporal_on,
                       measure.summary() if measure else None)


def write_frames(video, make_rgb, results, total, name, progress=True, on_progress=None):
    """Feed make_rgb(*result) for each result to `video` with a progress bar (and on_progress(frames written,
    total) as they finish), then finish it. Ctrl-C keeps the frames done (and re-raises); any other error,
    one from on_progress included, removes the file."""
    def advance(bar, done):
        bar.update(done)
        if on_progress is not None and done:
            on_progress(video.frames_written, total)

    try:
        with tqdm(total=total, unit="frame", dynamic_ncols=True, desc=name, disable=not progress) as bar:
            for result in results:
                advance(bar, video.submit(make_rgb, *result))
            advance(bar, video.drain())
    except KeyboardInterrupt:
        _keep_partial(video)
        raise
    except BaseException:
        video.discard()
        raise
    video.finish()


def _keep_partial(video):
    """After Ctrl-C: finish what was written into a playable file, or remove it if there is nothing."""
    try:
        video.drain()
    except Exception:  # a frame that failed while stopping: keep those before it
        pass
    if video.frames_written == 0:
        video.discard()
        print(f"\nnothing was written; no file left at {video.path}", file=sys.stderr)
        return
    video.finish(cut_audio=True)
    print(f"\nstopped: the first {video.frames_written} frames are in {video.path}", file=sys.stderr)


# --- main -----------------------------------------------------------------------------------


def main(argv=None):
    args = build_parser().parse_args(argv)
    result = colorize_video(
        args.input, args.output, args.model, batch_size=args.batch_size, temperature=args.temperature,
        temporal=args.temporal, side_by_side=args.side_by_side, max_frames=args.max_frames, metrics=args.metrics,
        crf=args.crf, precision=args.precision, hints=hints_by_frame(args.hints) if args.hints else None,
        network_every=args.network_every, neutral_lean=args.neutral_lean,
    )
    print(summary_line(result))
    if result.metrics:
        print(format_metrics(result.metrics, result.name))
    return 0


def summary_line(result):
    width, height = result.size
    padded = (f", stored as {result.stored_size[0]}x{result.stored_size[1]}: H.264 keeps even sizes"
              if result.stored_size != result.size else "")
    return (
        f"wrote {result.frames} frames ({width}x{height}{padded}, {result.fps:g} fps) to {result.path} "
        f"in {result.seconds:.1f} s: {result.frames / result.seconds:.1f} frames/s"
        f"{'' if result.temporal else ', without the temporal filter'}"
        + (f"; {_count(result.repeated, 'frame')} could not be decoded and repeat the frame before"
           if result.repeated else "")
    )


if __name__ == "__main__":
    cli.run(main)
