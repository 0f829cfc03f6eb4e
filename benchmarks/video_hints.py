"""How far a hint's colour holds in a video: hints given on frame 0, carried along the optical flow.

    python benchmarks/video_hints.py [--model full_version] [--input datasets/video/campus_walk.mp4] [--points 20]

The clips are in colour, so each hint is the true colour at a random point of
frame 0 (seeded). For every later frame it prints how many hints are still
carried, how far the true colour under a carried hint has drifted from the
hint's (the tracking: a point that slid onto another object shows here), and
how many carried hints the output follows (its ab within 10 of the hint's), the
output as shared/video.py makes it (the temporal filter on, the network on its
schedule).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from shared import cli, hints, inference, lab, temporal, video  # noqa: E402

FOLLOW_TOLERANCE = 10.0  # ab units


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="full_version")
    parser.add_argument("--input", type=Path, default=cli.DATASETS / "video" / "campus_walk.mp4")
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--max-frames", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    colorizer = inference.load_colorizer(args.model)
    source = video.open_video(str(args.input))
    width, height = source.size
    rng = np.random.default_rng(args.seed)
    first = source.first_bgr[..., ::-1]
    xs, ys = rng.integers(width // 10, width - width // 10, args.points), rng.integers(height // 10, height - height // 10, args.points)
    given = [(int(x), int(y), tuple(int(c) for c in first[y, x])) for x, y in zip(xs, ys)]
    hint_ab = {colour: hints.colour_ab_norm(colour) * lab.AB_SCALE for _, _, colour in given}
    tracker = RecordingTracker({0: given})
    frames = video.read_frames(source, args.max_frames, temporal.MotionEstimator())
    rows = []
    for frame, points, ab_norm in video_results(frames, colorizer, tracker):
        if not points:
            rows.append((frame.index, 0, None, None))
            continue
        true_ab = lab.rgb_to_lab(frame.rgb[[y for _, y, _ in points], [x for x, _, _ in points]][None])[0, :, 1:]
        out_ab = ab_norm[[y for _, y, _ in points], [x for x, _, _ in points]] * lab.AB_SCALE
        wanted = np.array([hint_ab[c] for _, _, c in points])
        drift = float(np.median(np.linalg.norm(true_ab - wanted, axis=1)))
        followed = float(np.mean(np.linalg.norm(out_ab - wanted, axis=1) <= FOLLOW_TOLERANCE))
        rows.append((frame.index, len(points), drift, followed))
    source.capture.release()
    print(f"{args.input.name}: {args.points} hints on frame 0, {len(rows)} frames")
    print("| frame | hints carried | median true-colour drift (ab) | carried hints the output follows |\n|---|---|---|---|")
    for index, carried, drift, followed in rows:
        if index in (0, 1, 5, 10, 25, 50, 75, 100, 125, 149) or index == rows[-1][0]:
            print(f"| {index} | {carried} | {'' if drift is None else f'{drift:.1f}'} | "
                  f"{'' if followed is None else f'{100 * followed:.0f}%'} |")
    alive = [carried for _, carried, _, _ in rows]
    half = next((index for index, carried, _, _ in rows if carried <= args.points / 2), None)
    print(f"half the hints are still carried until frame {half if half is not None else f'{rows[-1][0]} (the last)'}; "
          f"mean hints carried per frame {np.mean(alive):.1f}")


class RecordingTracker(temporal.HintTracker):
    """A HintTracker that keeps the points it gave each frame."""

    def __init__(self, hints_by_frame):
        super().__init__(hints_by_frame)
        self.given = {}

    def step(self, index, motion, frame_shape):
        self.given[index] = super().step(index, motion, frame_shape)
        return self.given[index]


def video_results(frames, colorizer, tracker):
    """(frame, the hints carried to it, the output's ab_norm at the frame's size), in order: as
    shared/video.py colours them (the temporal filter on, the network on its schedule). `tracker`: a
    RecordingTracker, whose record gives each frame's hints."""
    for frame, _, ab_steady in video.colorize_frames(frames, colorizer, 8, temporal.TemporalFilter(), tracker,
                                                     network_every=temporal.NETWORK_EVERY):
        height, width = frame.l_channel.shape
        yield frame, tracker.given.pop(frame.index), temporal.resized(ab_steady, width, height)


if __name__ == "__main__":
    main()
