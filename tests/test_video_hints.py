"""Hints in video: given on one frame, carried along the optical flow, dropped at a cut or when lost."""

import numpy as np
import pytest

from shared import temporal, video
from shared.data import InputError


def textured_frames(count, shift_px=3, size=(96, 128), seed=0):
    """L frames (0..100) of a random texture moving right by `shift_px` per frame."""
    rng = np.random.default_rng(seed)
    height, width = size
    import cv2

    texture = cv2.GaussianBlur(rng.uniform(0, 100, (height, width + shift_px * count)).astype(np.float32), (0, 0), 2)
    return [np.ascontiguousarray(texture[:, shift_px * (count - i): shift_px * (count - i) + width]) for i in range(count)]


def track(frames, hints_by_frame):
    estimator, tracker, points = temporal.MotionEstimator(flow_side=None), temporal.HintTracker(hints_by_frame), []
    for index, l_channel in enumerate(frames):
        points.append(tracker.step(index, estimator.step(l_channel), l_channel.shape))
    return points


def test_a_hint_follows_the_motion_from_the_frame_it_was_given_on():
    frames = textured_frames(8)
    points = track(frames, {2: [(40, 50, (200, 30, 30))]})
    assert points[0] == points[1] == []  # before its frame: no hint
    assert points[2] == [(40, 50, (200, 30, 30))]
    for index in range(3, 8):
        (x, y, colour), = points[index]
        assert colour == (200, 30, 30)
        assert abs(x - (40 + 3 * (index - 2))) <= 1 and abs(y - 50) <= 1  # moved with the texture


def test_a_scene_cut_drops_every_hint_and_leaving_the_frame_drops_one():
    frames = textured_frames(4) + textured_frames(3, seed=7)  # a new scene at frame 4
    points = track(frames, {0: [(60, 40, (0, 0, 255))]})
    assert len(points[3]) == 1 and points[4] == [] and points[6] == []
    frames = textured_frames(8, shift_px=6)
    points = track(frames, {0: [(120, 40, (0, 255, 0)), (30, 40, (0, 0, 255))]})
    assert [colour for _, _, colour in points[-1]] == [(0, 0, 255)]  # the one near the right edge left


def test_video_hints_file_groups_points_by_frame(tmp_path):
    path = tmp_path / "h.json"
    path.write_text('[{"frame": 3, "x": 1, "y": 2, "color": "#ff0000"}, {"x": 5, "y": 6, "color": "#00ff00"},'
                    ' {"frame": 3, "x": 7, "y": 8, "color": "#0000ff"}]')
    assert video.hints_by_frame(path) == {3: [(1, 2, (255, 0, 0)), (7, 8, (0, 0, 255))], 0: [(5, 6, (0, 255, 0))]}


def test_a_model_without_hints_refuses_video_hints():
    with pytest.raises(InputError, match="does not take hints"):
        video.colorize_video(video.DEFAULT_INPUT, "/tmp/never_written.mp4", model="beta", hints={0: [(1, 1, (1, 2, 3))]})
