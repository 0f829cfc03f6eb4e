"""Keeping a video's colours steady: optical flow on L, propagation of ab, and a flicker figure.

Each frame is colorized on its own, so its colours jitter from frame to frame.
`MotionEstimator` computes, for every pixel of the new frame, where it was in
the previous frame (OpenCV's DIS optical flow on L) and how much to trust that
(forward-backward consistency of the flow and how well the warped L matches).
`TemporalFilter` then blends the previous output's ab, moved along that flow,
with the new prediction:

    ab_out = w * warp(ab_out_previous) + (1 - w) * ab_pred,   w = STRENGTH * confidence

so colour follows the motion where the flow is reliable and comes from the
new prediction where it is not (occlusions, new objects, a scene cut).

`flicker` is the figure that measures it: the mean ab distance between
consecutive frames after warping, over pixels where the flow is reliable.
"""

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from shared import lab

STRENGTH = 0.8  # weight of the propagated colour where the flow is fully trusted; 0.8 ~ a 5-frame memory
FB_TOLERANCE_PX = 1.0  # forward-backward flow mismatch (px, plus 5% of the motion) at which trust falls to 1/e
L_TOLERANCE = 8.0  # L units: warped-L mismatch (frame brightness changes removed) at which trust falls to 1/e
RELIABLE = 0.5  # confidence above which a pixel counts as reliably tracked
CUT_L_CHANGE = 20.0  # L units: a mean |L change| above this is a scene cut
CUT_RELIABLE_SHARE = 0.2  # fewer reliably tracked pixels than this is a scene cut too
FLOW_SIDE = 288  # px: optical flow (and the filter) run on L shrunk to this shorter side (768x576 -> 384x288)


@dataclass
class Motion:
    """How frame t relates to frame t-1. `flow[y, x]` is the offset (dx, dy) of pixel (x, y) in frame t-1."""

    flow: np.ndarray  # float32 HxWx2, px, from frame t back to frame t-1
    confidence: np.ndarray  # float32 HxW in [0, 1]
    cut: bool  # a scene cut: nothing carries over

    @property
    def reliable(self):
        return self.confidence > RELIABLE


def l_to_uint8(l_channel):
    """L in [0, 100] -> uint8 [0, 255], the input DIS flow takes."""
    return np.clip(np.asarray(l_channel, np.float32) * (255.0 / lab.L_SCALE) + 0.5, 0, 255).astype(np.uint8)


@lru_cache(maxsize=4)
def _pixel_grid(height, width):
    """(x, y) coordinates of every pixel, float32 HxW each; read-only, shared between calls."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y


def warp(image, flow):
    """Sample `image` (frame t-1, HxW[xC]) at the positions `flow` points to: the image moved to frame t."""
    grid_x, grid_y = _pixel_grid(*flow.shape[:2])
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class MotionEstimator:
    """Feed it each frame's L in order; `step` returns the Motion from the previous frame (None for the first).

    The flow and its confidence are computed, and returned, at the size of L
    shrunk so its shorter side is at most `flow_side` px (None: full size): at
    768x576, half size costs a quarter of the time, and colour, which the
    network predicts at 256x256 or less anyway, needs no finer motion.
    `TemporalFilter` works at the motion's size.
    """

    def __init__(self, flow_side=FLOW_SIDE):
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.flow_side = flow_side
        self.previous = None  # (L float32, L uint8) of the last frame, at the flow's size

    def step(self, l_channel):
        small = self._shrink(np.asarray(l_channel, np.float32))
        current = (small, l_to_uint8(small))
        previous, self.previous = self.previous, current
        if previous is None or previous[0].shape != small.shape:
            return None
        return self.motion(previous, current)

    def _shrink(self, l_channel):
        side = min(l_channel.shape)
        if self.flow_side is None or side <= self.flow_side:
            return l_channel
        scale = self.flow_side / side
        size = (max(1, round(l_channel.shape[1] * scale)), max(1, round(l_channel.shape[0] * scale)))
        return cv2.resize(l_channel, size, interpolation=cv2.INTER_AREA)

    def motion(self, previous, current):
        (l_prev, l8_prev), (l_cur, l8_cur) = previous, current
        backward = self.dis.calc(l8_cur, l8_prev, None)  # frame t -> t-1
        forward = self.dis.calc(l8_prev, l8_cur, None)  # frame t-1 -> t
        # forward-backward check: going back then forward again should land where we started
        round_trip = backward + warp(forward, backward)
        fb_error = np.linalg.norm(round_trip, axis=-1)
        fb_tolerance = FB_TOLERANCE_PX + 0.05 * np.linalg.norm(backward, axis=-1)
        # photometric check, with whole-frame brightness changes (old film, auto exposure) removed
        l_warped = warp(l_prev, backward)
        l_error = np.abs((l_cur - l_cur.mean()) - (l_warped - l_prev.mean()))
        confidence = np.exp(-((fb_error / fb_tolerance) ** 2) - (l_error / L_TOLERANCE) ** 2)
        confidence *= _inside(backward)  # pixels that came from outside the frame are new
        confidence = confidence.astype(np.float32)

        mean_l_change = float(np.mean(np.abs(l_cur - l_prev)))
        cut = mean_l_change > CUT_L_CHANGE or float(np.mean(confidence > RELIABLE)) < CUT_RELIABLE_SHARE
        return Motion(backward, confidence, cut)


def _inside(flow):
    height, width = flow.shape[:2]
    grid_x, grid_y = _pixel_grid(height, width)
    x, y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    return ((x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)).astype(np.float32)


class TemporalFilter:
    """Blends each new ab prediction with the previous output carried along the flow.

    It works at the motion's size: a frame larger than that is shrunk, blended
    and scaled back up, which keeps all the colour detail there is (the network
    predicts ab at 256x256 or less) for a quarter of the work at 768x576.
    """

    def __init__(self, strength=STRENGTH):
        self.strength = strength
        self.previous = None  # the last output ab_norm, HxWx2, at the motion's size

    def __call__(self, ab_pred, motion):
        """ab_pred: ab_norm HxWx2 for frame t; motion: Motion from frame t-1 (None or a cut: start afresh)."""
        ab_pred = np.asarray(ab_pred, np.float32)
        if motion is None:
            self.previous = ab_pred  # no estimate yet: the next frame's motion says which size to keep
            return ab_pred
        height, width = motion.flow.shape[:2]
        full_size = ab_pred.shape[:2] != (height, width)
        ab_small = cv2.resize(ab_pred, (width, height), interpolation=cv2.INTER_AREA) if full_size else ab_pred
        previous = self.previous
        if previous is not None and previous.shape[:2] != (height, width):
            previous = cv2.resize(previous, (width, height), interpolation=cv2.INTER_AREA)
        if motion.cut or previous is None:
            self.previous = ab_small
            return ab_pred
        weight = (self.strength * motion.confidence)[..., None]
        self.previous = weight * warp(previous, motion.flow) + (1.0 - weight) * ab_small
        if not full_size:
            return self.previous
        return cv2.resize(self.previous, ab_pred.shape[1::-1], interpolation=cv2.INTER_LINEAR)


def flicker(ab_norm, ab_norm_previous, motion):
    """Mean ab distance (ab units, 0..~180) between frame t and frame t-1 moved along the input's flow,
    over reliably tracked pixels; None where there is nothing to compare (first frame, cut, no reliable pixel)."""
    if motion is None or motion.cut or ab_norm_previous is None:
        return None
    reliable = motion.reliable
    if not reliable.any():
        return None
    change = np.linalg.norm(ab_norm - warp(ab_norm_previous, motion.flow), axis=-1) * lab.AB_SCALE
    return float(change[reliable].mean())


class HintTracker:
    """Carries a user's colour hints from the frame they were given on to the following frames.

    `hints_by_frame` maps a frame index to points [(x, y, (r, g, b)), ...] in the frame's pixels.
    At each frame, every point carried so far moves along the optical flow (the same `Motion` the
    temporal filter uses) and is dropped where the flow loses it (its confidence there falls below
    RELIABLE, or it leaves the frame) and at a scene cut; then the frame's own new points join.
    `step` returns the points for that frame, which the model takes as hints.
    """

    def __init__(self, hints_by_frame):
        self.hints_by_frame = {int(k): list(v) for k, v in hints_by_frame.items()}
        self.points = []  # [(x, y, colour)] in the current frame's pixels, x and y floats

    def step(self, index, motion, frame_shape):
        """Points for frame `index` (height, width = frame_shape), given the Motion from the frame before."""
        if motion is None or motion.cut:
            self.points = []
        else:
            self.points = [p for p in (self._carried(p, motion, frame_shape) for p in self.points) if p]
        self.points += [(float(x), float(y), colour) for x, y, colour in self.hints_by_frame.get(index, [])]
        height, width = frame_shape
        return [(min(int(round(x)), width - 1), min(int(round(y)), height - 1), colour) for x, y, colour in self.points]

    @staticmethod
    def _carried(point, motion, frame_shape):
        """The point moved from frame t-1 to frame t, or None where the flow loses it. The flow maps
        frame t back to t-1, so the new position q solves q + flow(q) = p (two fixed-point steps)."""
        x, y, colour = point
        height, width = frame_shape
        flow_h, flow_w = motion.flow.shape[:2]
        scale_x, scale_y = flow_w / width, flow_h / height
        p = np.array([x * scale_x, y * scale_y])
        q = p.copy()
        for _ in range(2):
            col, row = int(np.clip(round(q[0]), 0, flow_w - 1)), int(np.clip(round(q[1]), 0, flow_h - 1))
            q = p - motion.flow[row, col]
        if not (0 <= q[0] <= flow_w - 1 and 0 <= q[1] <= flow_h - 1):
            return None
        if motion.confidence[int(round(q[1])), int(round(q[0]))] <= RELIABLE:
            return None
        return (q[0] / scale_x, q[1] / scale_y, colour)
