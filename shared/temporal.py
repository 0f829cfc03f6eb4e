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

The network need not see every frame for this: `NetworkSchedule` picks the
frames it colours (every NETWORK_EVERY-th, the first, and each scene cut), and
on the frames between, the last prediction carried along the flow (`carry`)
stands in for a new one before the filter, so the filter works as before on
a third of the network's work.

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
FLOW_SIDE = 192  # px: optical flow (and the filter) run on L shrunk to this shorter side (768x576 -> 256x192)
NETWORK_EVERY = 3  # the network colours every 3rd frame; the ones between carry its colours along the flow


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
    """The (x, y) coordinates of every pixel, float32 HxWx2; read-only, shared between calls."""
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), axis=-1)
    grid.flags.writeable = False
    return grid


def positions(flow):
    """Where each pixel of frame t was in frame t-1, (x, y) float32 HxWx2: the map `warp` samples at."""
    return _pixel_grid(*flow.shape[:2]) + flow


def warp(image, flow, where=None):
    """Sample `image` (frame t-1, HxW[xC]) at the positions `flow` points to: the image moved to frame t.
    `where`: those positions, when already computed (`positions(flow)`)."""
    where = positions(flow) if where is None else where
    return cv2.remap(image, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def resized(image, width, height):
    """An HxW[xC] image at width x height: averaged when it shrinks, bilinear when it grows, itself when it fits."""
    if image.shape[:2] == (height, width):
        return image
    shrink = width < image.shape[1] or height < image.shape[0]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


class MotionEstimator:
    """Feed it each frame's L in order; `step` returns the Motion from the previous frame (None for the first).

    The flow and its confidence are computed, and returned, at the size of L
    shrunk so its shorter side is at most `flow_side` px (None: full size): at
    768x576, a third of the size costs about a sixth of the time, and colour,
    which the network predicts at 256x256 or less anyway, needs no finer motion.
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
        return resized(l_channel, max(1, round(l_channel.shape[1] * scale)), max(1, round(l_channel.shape[0] * scale)))

    def motion(self, previous, current):
        """The Motion from `previous` to `current`, each (L float32, L uint8) at the flow's size."""
        (l_prev, l8_prev), (l_cur, l8_cur) = previous, current
        backward = self.dis.calc(l8_cur, l8_prev, None)  # frame t -> t-1
        forward = self.dis.calc(l8_prev, l8_cur, None)  # frame t-1 -> t
        where = positions(backward)
        # forward-backward check: going back then forward again should land where we started
        fb_error_sq = _squared_length(backward + warp(forward, backward, where))
        fb_tolerance = _squared_length(backward)
        np.sqrt(fb_tolerance, out=fb_tolerance)
        fb_tolerance *= 0.05
        fb_tolerance += FB_TOLERANCE_PX
        # photometric check, with whole-frame brightness changes (old film, auto exposure) removed
        l_error = l_cur - warp(l_prev, backward, where)
        l_error -= float(l_cur.mean() - l_prev.mean())
        # confidence = exp(-(fb_error / fb_tolerance)^2 - (l_error / L_TOLERANCE)^2)
        exponent = fb_error_sq / (fb_tolerance * fb_tolerance)
        exponent += (l_error * l_error) * (1.0 / L_TOLERANCE**2)
        confidence = cv2.exp(-exponent)
        height, width = l_cur.shape
        came_from_outside = cv2.inRange(where, (0.0, 0.0), (width - 1.0, height - 1.0)) == 0
        confidence[came_from_outside] = 0.0  # those pixels are new

        mean_l_change = cv2.norm(l_cur, l_prev, cv2.NORM_L1) / l_cur.size
        cut = mean_l_change > CUT_L_CHANGE or np.count_nonzero(confidence > RELIABLE) < CUT_RELIABLE_SHARE * l_cur.size
        return Motion(backward, confidence, cut)


def _squared_length(vectors):
    """|v|^2 of each vector of an HxWx2 array, float32 HxW."""
    return cv2.transform(cv2.multiply(vectors, vectors), np.ones((1, 2), np.float32))


class TemporalFilter:
    """Blends each new ab prediction with the previous output carried along the flow.

    It works at the motion's size: a prediction of another size (the network's
    own, 128x128 say) is scaled to it, blended, and returned at that size, for
    `lab.merge_l_ab` to scale up to the frame once. That size keeps all the
    colour detail there is (the network predicts ab at 256x256 or less) for a
    fraction of the work at the frame's size.
    """

    def __init__(self, strength=STRENGTH):
        self.strength = strength
        self.previous = None  # the last output ab_norm, hxwx2: at the motion's size, or the first prediction's

    def __call__(self, ab_pred, motion):
        """ab_pred: ab_norm hxwx2 for frame t, any size; motion: Motion from frame t-1 (None or a cut: start
        afresh). Returns ab_norm at the motion's size, or ab_pred itself where nothing carries over."""
        ab_pred = np.asarray(ab_pred, np.float32)
        if motion is None:
            self.previous = ab_pred  # no estimate yet: the next frame's motion says which size to keep
            return ab_pred
        height, width = motion.flow.shape[:2]
        ab_now = resized(ab_pred, width, height)
        previous = None if self.previous is None else resized(self.previous, width, height)
        if motion.cut or previous is None:
            self.previous = ab_now
            return ab_pred
        weight = (self.strength * motion.confidence)[..., None]
        self.previous = weight * warp(previous, motion.flow) + (1.0 - weight) * ab_now
        return self.previous


class NetworkSchedule:
    """Which frames the network colours: every `every`-th frame, the first, each scene cut and any frame
    `is_due` is told must be (one given new hints); the frames between get `carry`'s prediction.
    every=1: the network colours every frame."""

    def __init__(self, every=NETWORK_EVERY):
        self.every = every
        self.since = None  # frames since the network last coloured one; None before the first

    def is_due(self, motion, force=False):
        """Whether the network colours the next frame, given its Motion from the one before (None: none known)."""
        due = force or self.since is None or self.since + 1 >= self.every or motion is None or motion.cut
        self.since = 0 if due else self.since + 1
        return due


def carry(ab_norm, motion):
    """The previous frame's ab_norm (hxwx2, any size) moved along `motion` to this frame, at the motion's size."""
    height, width = motion.flow.shape[:2]
    return warp(resized(ab_norm, width, height), motion.flow)


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

    def new_on(self, index):
        """Whether the user gave hints on frame `index`."""
        return bool(self.hints_by_frame.get(index))

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
