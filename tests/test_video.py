"""shared/video.py and shared/temporal.py: frames, timing, luminance, batching, flicker, audio, codecs, the
colorize_video call, bad input."""

import re
import signal
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest

from alpha.model import build_model
from shared import cli, inference, lab, temporal, video

WIDTH, HEIGHT, FPS = 64, 48, 12


def run_video(*argv):
    """Run the command in-process; returns its exit code."""
    with pytest.raises(SystemExit) as exit_info:
        cli.run(video.main, [str(a) for a in argv])
    return exit_info.value.code


def moving_pattern(n_frames, noise=0.0, seed=0):
    """RGB frames of a coloured texture sliding 2 px left per frame, plus optional per-frame noise."""
    rng = np.random.default_rng(seed)
    texture = cv2.resize(rng.integers(30, 230, (12, 40, 3), dtype=np.uint8), (160, HEIGHT), interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(n_frames):
        frame = texture[:, 2 * i : 2 * i + WIDTH].astype(np.float32)
        frame += rng.normal(0, noise, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def write_clip(path, frames, fourcc="FFV1", fps=FPS):
    size = (frames[0].shape[1], frames[0].shape[0]) if frames else (WIDTH, HEIGHT)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    for rgb in frames:
        writer.write(np.ascontiguousarray(rgb[..., ::-1]))
    writer.release()
    return path


def write_exact_clip(path, frames, fps=FPS):
    """A lossless .mkv of the frames at their own size, written by video.OutputVideo."""
    output = video.OutputVideo(path, fps, (frames[0].shape[1], frames[0].shape[0]))
    for rgb in frames:
        output.submit(lambda rgb: rgb, rgb)
    output.finish()
    return path


def read_clip(path):
    """(RGB frames, fps) as OpenCV decodes them."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(bgr[..., ::-1])
    return frames, capture.get(cv2.CAP_PROP_FPS)


def ffmpeg():
    return video.ffmpeg_exe()


def probe(path):
    """What `ffmpeg -i` says about the file's streams."""
    return subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def ffmpeg_frames(path):
    """Decode every video frame with the bundled ffmpeg (it must exit 0, silent); returns the frame count."""
    result = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framecrc", "-"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return sum(1 for line in result.stdout.splitlines() if line and not line.startswith("#"))


def ffmpeg_rgb(path, width, height):
    """Every frame as ffmpeg decodes it to RGB, (N, H, W, 3) uint8."""
    raw = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def audio_seconds(path):
    """The length of the first audio track, decoded by ffmpeg."""
    raw = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1",
                          "-ar", "8000", "-"], capture_output=True, check=True).stdout
    return len(raw) / 2 / 8000


def clip_with_audio(path, seconds_of_audio, frames=10, rate=10):
    subprocess.run(
        [ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate={rate}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds_of_audio}",
         "-frames:v", str(frames), "-c:v", "mpeg4", "-c:a", "aac", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """An alpha model fitted for a few steps to one pattern frame, so its colours follow the local L."""
    keras.utils.set_random_seed(0)
    l_norm, ab_norm = lab.split_lab(lab.rgb_to_lab(moving_pattern(1)[0]))
    model = build_model()
    model.fit(l_norm[None], ab_norm[None], epochs=30, verbose=0)
    path = tmp_path_factory.mktemp("models") / "alpha.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """10 lossless frames of a moving pattern."""
    return write_clip(tmp_path_factory.mktemp("clips") / "pattern.mkv", moving_pattern(10))


def test_output_keeps_frame_count_size_and_frame_rate(model_path, clip, tmp_path):
    output = tmp_path / "out" / "result.mp4"
    assert run_video("--model", model_path, "--input", clip, "--output", output) == 0
    frames, fps = read_clip(output)
    assert len(frames) == 10
    assert frames[0].shape == (HEIGHT, WIDTH, 3)
    assert fps == pytest.approx(FPS)
    assert [p.name for p in output.parent.iterdir()] == ["result.mp4"]  # no temporary file left


def test_mp4_is_h264_that_browsers_play_and_both_decoders_read(model_path, clip, tmp_path):
    mp4, mkv = tmp_path / "result.mp4", tmp_path / "result.mkv"
    for output in (mp4, mkv):
        assert run_video("--model", model_path, "--input", clip, "--output", output, "--no-temporal") == 0
    info = probe(mp4)
    assert re.search(r"Video: h264 \(High\).*yuv420p.*, 64x48", info), info
    assert re.search(r", 12 fps,", info), info
    data = mp4.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: a browser can start before it has all
    assert ffmpeg_frames(mp4) == 10
    capture = cv2.VideoCapture(str(mp4))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 10
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (WIDTH, HEIGHT)
    # H.264 at --crf 18 against the lossless result of the same run: L as close as MPEG-4 Part 2 (mp4v) had
    # it here before (mean 0.95, max 5.05; H.264 gives 0.78, 4.6)
    lossy, lossless = read_clip(mp4)[0], read_clip(mkv)[0]
    l_error = np.abs(np.stack([lab.rgb_to_l(a) - lab.rgb_to_l(b) for a, b in zip(lossy, lossless)]))
    assert l_error.mean() < 1.0 and l_error.max() < 6.0


def test_crf_sets_the_mp4_quality(model_path, clip, tmp_path):
    for crf in (10, 40):
        assert run_video("--model", model_path, "--input", clip, "--output", tmp_path / f"crf{crf}.mp4", "--crf", crf) == 0
    assert (tmp_path / "crf40.mp4").stat().st_size < (tmp_path / "crf10.mp4").stat().st_size
    assert run_video("--model", model_path, "--input", clip, "--output", tmp_path / "o.mp4", "--crf", 52) == 2


def test_mkv_round_trips_frames_exactly(tmp_path):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (21, 33, 3), dtype=np.uint8) for _ in range(4)]  # odd sizes too
    write_exact_clip(tmp_path / "exact.mkv", frames, fps=25.0)
    assert "Video: ffv1" in probe(tmp_path / "exact.mkv")
    np.testing.assert_array_equal(np.stack(read_clip(tmp_path / "exact.mkv")[0]), np.stack(frames))
    np.testing.assert_array_equal(ffmpeg_rgb(tmp_path / "exact.mkv", 33, 21), np.stack(frames))


def test_odd_sizes_mp4_adds_one_repeated_row_and_column_mkv_keeps_them(model_path, tmp_path, capsys):
    odd = write_exact_clip(tmp_path / "odd.mkv", [rgb[:47, :63] for rgb in moving_pattern(6)])  # OpenCV's own
    # writer would round 63x47 down to 62x46
    assert run_video("--model", model_path, "--input", odd, "--output", tmp_path / "odd.mp4", "--no-temporal") == 0
    assert "(63x47, stored as 64x48: H.264 keeps even sizes, 12 fps)" in capsys.readouterr().out
    assert run_video("--model", model_path, "--input", odd, "--output", tmp_path / "exact.mkv", "--no-temporal") == 0
    padded, exact = read_clip(tmp_path / "odd.mp4")[0], read_clip(tmp_path / "exact.mkv")[0]
    assert len(padded) == len(exact) == ffmpeg_frames(tmp_path / "odd.mp4") == 6
    assert padded[0].shape == (48, 64, 3) and exact[0].shape == (47, 63, 3)
    for a, b in zip(padded, exact):
        assert np.abs(lab.rgb_to_l(a[:47, :63]) - lab.rgb_to_l(b)).mean() < 1.0
        # the extra column and row repeat the last ones (not black), up to H.264's loss
        assert np.abs(a[:47, 63].astype(int) - b[:, 62]).mean() < 8
        assert np.abs(a[47, :63].astype(int) - b[46, :]).mean() < 8


def test_avi_is_written_too(model_path, clip, tmp_path):
    output = tmp_path / "result.avi"
    assert run_video("--model", model_path, "--input", clip, "--output", output, "--max-frames", 3) == 0
    assert "Video: mjpeg" in probe(output)
    assert ffmpeg_frames(output) == len(read_clip(output)[0]) == 3


def test_colorize_video_is_one_call_from_python(model_path, clip, tmp_path, capsys):
    result = video.colorize_video(clip, tmp_path / "api.mp4", model=model_path, batch_size=4, metrics=True,
                                  progress=False)
    assert result.path == tmp_path / "api.mp4" and result.path.exists()
    assert (result.frames, result.size, result.stored_size, result.fps) == (10, (WIDTH, HEIGHT), (WIDTH, HEIGHT), FPS)
    assert result.repeated == 0 and result.temporal
    assert result.metrics["frames"] == 10 and set(result.metrics["psnr"]) == {"grayscale", "no-temporal", "temporal"}
    assert 0 <= result.metrics["flicker"]["temporal"] < result.metrics["flicker"]["no-temporal"]
    assert "metrics over 10 frames of pattern" in video.format_metrics(result.metrics, result.name)
    assert "it/s" not in capsys.readouterr().err  # progress=False: no bar
    plain = video.colorize_video(str(clip), tmp_path / "plain.mkv", model=str(model_path), temporal=False,
                                 max_frames=2, progress=False)
    assert (plain.frames, plain.metrics, plain.temporal) == (2, None, False)
    with pytest.raises(video.InputError, match="does not exist"):
        video.colorize_video(tmp_path / "missing.mp4", tmp_path / "x.mp4", model=model_path)


def test_an_ffmpeg_failure_is_one_line_and_leaves_no_file(model_path, clip, tmp_path, capsys, monkeypatch):
    broken = video.Container("mp4", ("-c:v", "no_such_encoder"), ("-c:a", "aac"), even_size=True)
    monkeypatch.setitem(video.CONTAINERS, ".mp4", broken)
    (tmp_path / "out").mkdir()
    assert run_video("--model", model_path, "--input", clip, "--output", tmp_path / "out" / "o.mp4") == 2
    err = capsys.readouterr().err
    assert "error: ffmpeg could not write o.mp4: Unknown encoder 'no_such_encoder'" in err
    assert list((tmp_path / "out").iterdir()) == []


def test_output_keeps_the_input_luminance_and_adds_colour(model_path, clip, tmp_path):
    output = tmp_path / "result.mkv"  # lossless, so only the Lab round trip separates the two
    assert run_video("--model", model_path, "--input", clip, "--output", output, "--no-temporal") == 0
    inputs, _ = read_clip(clip)
    outputs, _ = read_clip(output)
    for original, result in zip(inputs, outputs):
        l_error = np.abs(lab.rgb_to_l(result) - lab.rgb_to_l(original))
        assert l_error.mean() < 0.5 and l_error.max() < 3.0
        assert np.abs(lab.rgb_to_lab(result)[..., 1:]).mean() > 0.5  # the model's colour, not gray


def test_batches_give_the_same_frames_as_one_at_a_time(model_path, clip, tmp_path):
    for batch_size in (1, 4):
        assert run_video("--model", model_path, "--input", clip, "--output", tmp_path / f"b{batch_size}.mkv",
                         "--batch-size", batch_size) == 0
    one_at_a_time, _ = read_clip(tmp_path / "b1.mkv")
    batched, _ = read_clip(tmp_path / "b4.mkv")
    assert len(one_at_a_time) == len(batched) == 10
    for a, b in zip(one_at_a_time, batched):
        assert np.abs(a.astype(int) - b).max() <= 1


def test_side_by_side_puts_the_grayscale_input_left_of_the_result(model_path, clip, tmp_path):
    output = tmp_path / "pair.mkv"
    assert run_video("--model", model_path, "--input", clip, "--output", output, "--side-by-side", "--max-frames", 3) == 0
    frames, _ = read_clip(output)
    assert len(frames) == 3 and frames[0].shape == (HEIGHT, 2 * WIDTH, 3)
    left, right = frames[0][:, :WIDTH], frames[0][:, WIDTH:]
    assert np.abs(lab.rgb_to_lab(left)[..., 1:]).max() < 2.0
    assert np.abs(lab.rgb_to_l(left) - lab.rgb_to_l(right)).mean() < 0.5


def flicker_figures(text):
    rows = dict(re.findall(r"^\s+(no-temporal|temporal)\s+[\d.]+\s+([\d.]+)$", text, re.MULTILINE))
    return float(rows["no-temporal"]), float(rows["temporal"])


def test_temporal_lowers_the_flicker_figure(model_path, tmp_path, capsys):
    noisy = write_clip(tmp_path / "noisy.mkv", moving_pattern(12, noise=8.0))
    assert run_video("--model", model_path, "--input", noisy, "--output", tmp_path / "o.mp4", "--metrics") == 0
    independent, steady = flicker_figures(capsys.readouterr().out)
    assert independent > 0
    assert steady < 0.7 * independent


def test_temporal_filter_follows_the_motion_and_resets_at_cuts():
    frames = moving_pattern(3)
    estimator, steady = temporal.MotionEstimator(), temporal.TemporalFilter()
    l_channels = [lab.rgb_to_l(rgb) for rgb in frames]
    assert estimator.step(l_channels[0]) is None
    motion = estimator.step(l_channels[1])
    assert not motion.cut and motion.reliable.mean() > 0.5
    # the pattern moved 2 px left, so each pixel came from 2 px to its right
    assert np.median(motion.flow[..., 0][motion.reliable]) == pytest.approx(2.0, abs=0.3)
    assert np.median(np.abs(motion.flow[..., 1][motion.reliable])) < 0.3

    ab_first = np.stack([l_channels[0] / 100.0 - 0.5, np.full_like(l_channels[0], 0.2)], axis=-1).astype(np.float32)
    np.testing.assert_allclose(steady(ab_first, None), ab_first)  # nothing to carry over yet
    ab_next = steady(np.zeros_like(ab_first), motion)  # the new prediction says gray; the past says colour
    assert 0.05 < ab_next[..., 1].mean() < 0.2 * temporal.STRENGTH + 1e-6

    cut = estimator.step(100.0 - l_channels[2])  # a different scene
    assert cut.cut
    np.testing.assert_array_equal(steady(np.zeros_like(ab_first), cut), 0.0)


def test_the_filter_takes_any_size_of_ab_and_answers_at_the_size_of_the_motion():
    l_channels = [lab.rgb_to_l(rgb) for rgb in moving_pattern(3)]
    estimator, steady = temporal.MotionEstimator(flow_side=24), temporal.TemporalFilter()  # 64x48 -> 32x24
    estimator.step(l_channels[0])
    motions = [estimator.step(l_channels[1]), estimator.step(l_channels[2])]
    assert motions[0].flow.shape == (24, 32, 2) and not motions[0].cut
    ab_network = np.full((16, 16, 2), 0.25, np.float32)  # the network's own size, not the frame's
    assert steady(ab_network, None) is ab_network  # nothing to carry over yet
    for motion in motions:
        carried = steady(ab_network, motion)
        assert carried.shape == (24, 32, 2)
        np.testing.assert_allclose(carried, 0.25, atol=1e-6)  # the same colour everywhere stays where it is


def test_the_schedule_runs_the_network_every_nth_frame_at_the_first_and_at_cuts():
    still = temporal.Motion(np.zeros((4, 4, 2), np.float32), np.ones((4, 4), np.float32), cut=False)
    cut = temporal.Motion(still.flow, still.confidence, cut=True)
    schedule = temporal.NetworkSchedule(every=3)
    due = [schedule.is_due(motion) for motion in [None, still, still, still, still, cut, still, still, still]]
    assert due == [True, False, False, True, False, True, False, False, True]
    assert schedule.is_due(still, force=True) and not schedule.is_due(still)  # hints given on a frame
    every_frame = temporal.NetworkSchedule(every=1)
    assert all(every_frame.is_due(still) for _ in range(5))


class CountingColorizer:
    """Stands in for inference.Colorizer: ab from each frame's mean L, and the frames it was asked for."""

    def __init__(self):
        self.coloured = []

    def predict_ab(self, l_channels, points=None, at_image_size=True):
        self.coloured += [float(l.mean()) for l in l_channels]
        return [np.full((16, 16, 2), l.mean() / 100.0 - 0.5, np.float32) for l in l_channels]


def frames_with_motion(n_frames):
    estimator = temporal.MotionEstimator()
    return [video.Frame(i, rgb, l, estimator.step(l))
            for i, (rgb, l) in enumerate((rgb, lab.rgb_to_l(rgb)) for rgb in moving_pattern(n_frames, noise=8.0))]


def test_between_the_networks_frames_the_last_prediction_is_carried_along_the_flow():
    frames, colorizer = frames_with_motion(7), CountingColorizer()
    results = list(video.colorize_frames(frames, colorizer, 2, temporal.TemporalFilter(), network_every=3))
    assert colorizer.coloured == [float(frames[i].l_channel.mean()) for i in (0, 3, 6)]  # in batches of 2, 1
    assert [frame.index for frame, _, _ in results] == list(range(7))
    for (frame, ab_pred, _), (_, ab_before, _) in zip(results[1:], results):
        if frame.index % 3:  # carried: the frame before's prediction moved along this frame's flow
            np.testing.assert_allclose(ab_pred, temporal.carry(ab_before, frame.motion), atol=1e-6)
        else:
            assert ab_pred.shape == (16, 16, 2)  # the network's own


def test_metrics_see_every_prediction_while_the_filter_sees_the_schedules():
    frames = frames_with_motion(7)
    scheduled = list(video.colorize_frames(frames, CountingColorizer(), 4, temporal.TemporalFilter(), network_every=3))
    colorizer = CountingColorizer()
    measured = list(video.colorize_frames(frames, colorizer, 4, temporal.TemporalFilter(), network_every=3,
                                          every_prediction=True))
    assert len(colorizer.coloured) == 7
    for (frame, _, steady), (_, ab_pred, steady_measured) in zip(scheduled, measured):
        np.testing.assert_array_equal(steady, steady_measured)  # the output is the same
        np.testing.assert_allclose(ab_pred, frame.l_channel.mean() / 100.0 - 0.5, atol=1e-5)  # the network's own


def test_frames_given_hints_get_the_networks_own_colours():
    frames, colorizer = frames_with_motion(5), CountingColorizer()
    tracker = temporal.HintTracker({1: [(10, 10, (200, 30, 30))]})
    list(video.colorize_frames(frames, colorizer, 8, temporal.TemporalFilter(), tracker, network_every=3))
    assert colorizer.coloured == [float(frames[i].l_channel.mean()) for i in (0, 1, 4)]


def test_network_every_1_and_no_temporal_colour_every_frame(model_path, clip, tmp_path, monkeypatch):
    calls = []
    predict_ab = inference.Colorizer.predict_ab
    monkeypatch.setattr(inference.Colorizer, "predict_ab",
                        lambda self, l_channels, *a, **k: calls.append(len(l_channels)) or predict_ab(self, l_channels, *a, **k))
    for flags, frames_coloured in ((), 4), (("--network-every", 1), 10), (("--no-temporal",), 10):
        calls.clear()
        assert run_video("--model", model_path, "--input", clip, "--output", tmp_path / "o.mkv", *flags) == 0
        assert sum(calls) == frames_coloured, flags
    assert run_video("--model", model_path, "--input", clip, "--network-every", 0) == 2


def test_a_network_larger_than_the_frame_colorizes_it_too(clip, tmp_path):
    from beta.model import build_model
    from shared import ab_bins

    keras.utils.set_random_seed(0)
    ab_bins.with_decoding(build_model(128)).save(tmp_path / "beta128.keras")  # 128x128 ab for 64x48 frames
    result = video.colorize_video(clip, tmp_path / "small.mkv", model=tmp_path / "beta128.keras", max_frames=3,
                                  metrics=True, progress=False)
    assert (result.frames, result.size) == (3, (WIDTH, HEIGHT))
    assert read_clip(tmp_path / "small.mkv")[0][0].shape == (HEIGHT, WIDTH, 3)


def test_predict_ab_can_leave_ab_at_the_network_size():
    from beta.model import build_model
    from shared import ab_bins

    colorizer = inference.Colorizer(ab_bins.with_decoding(build_model(32)))
    l_channel = np.random.default_rng(0).uniform(0, 100, (48, 64)).astype(np.float32)
    (small,) = colorizer.predict_ab([l_channel], at_image_size=False)
    (full,) = colorizer.predict_ab([l_channel])
    assert small.shape == (32, 32, 2) and full.shape == (48, 64, 2)
    np.testing.assert_allclose(full, cv2.resize(small, (64, 48), interpolation=cv2.INTER_LINEAR), atol=1e-6)


def test_flicker_is_zero_for_colour_that_moves_with_the_scene():
    frames = moving_pattern(2)
    estimator = temporal.MotionEstimator()
    l_channels = [lab.rgb_to_l(rgb) for rgb in frames]
    estimator.step(l_channels[0])
    motion = estimator.step(l_channels[1])
    ab = [lab.rgb_to_lab(rgb)[..., 1:] / lab.AB_SCALE for rgb in frames]
    assert temporal.flicker(ab[1], ab[0], motion) < 1.0  # ab units: the true colours, carried by the flow
    assert temporal.flicker(ab[1], -ab[0], motion) > 5.0
    assert temporal.flicker(ab[1], None, motion) is None


def test_audio_track_is_kept(model_path, tmp_path):
    clip = clip_with_audio(tmp_path / "with_audio.mp4", seconds_of_audio=1)
    assert video.has_audio(clip)
    output = tmp_path / "colour.mp4"
    assert run_video("--model", model_path, "--input", clip, "--output", output) == 0
    info = probe(output)
    assert "Video: h264" in info and "Audio: aac" in info, info
    assert len(read_clip(output)[0]) == ffmpeg_frames(output) == 10
    assert audio_seconds(output) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("suffix, codec", [(".mp4", "aac"), (".mkv", "flac")])
def test_audio_lasts_as_long_as_the_frames_written(model_path, tmp_path, suffix, codec):
    short_audio = clip_with_audio(tmp_path / "short_audio.mp4", seconds_of_audio=0.5)  # 10 frames, 1 s
    output = tmp_path / f"all{suffix}"
    assert run_video("--model", model_path, "--input", short_audio, "--output", output) == 0
    assert f"Audio: {codec}" in probe(output)
    assert ffmpeg_frames(output) == 10  # no frame lost to the shorter audio: silence fills it
    assert audio_seconds(output) == pytest.approx(1.0, abs=0.03)

    stopped = tmp_path / f"four{suffix}"
    assert run_video("--model", model_path, "--input", clip_with_audio(tmp_path / "long.mp4", 1), "--output", stopped,
                     "--max-frames", 4) == 0
    assert ffmpeg_frames(stopped) == 4
    assert audio_seconds(stopped) == pytest.approx(0.4, abs=0.03)


def test_no_audio_in_gives_no_audio_out(model_path, clip, tmp_path):
    output = tmp_path / "silent.mp4"
    assert run_video("--model", model_path, "--input", clip, "--output", output) == 0
    assert not video.has_audio(output)


def test_a_corrupt_frame_is_repeated_and_the_timing_kept(model_path, tmp_path):
    clip = write_clip(tmp_path / "mjpeg.avi", moving_pattern(10), fourcc="MJPG")
    data = bytearray(clip.read_bytes())
    jpeg_starts = [m.start() for m in re.finditer(b"\xff\xd8\xff", bytes(data))]
    assert len(jpeg_starts) == 10
    start, end = jpeg_starts[4:6]
    data[start:end] = bytes(end - start)  # frame 4 holds no JPEG any more (same length, so the index still fits)
    clip.write_bytes(bytes(data))

    output = tmp_path / "repaired.mkv"
    with pytest.warns(UserWarning) as warned:
        assert run_video("--model", model_path, "--input", clip, "--output", output, "--no-temporal") == 0
    assert "mjpeg: 1 frame (4) cannot be decoded; repeating frame 3 in its place (1 repeated so far)" in [
        str(w.message) for w in warned
    ]
    frames, fps = read_clip(output)
    assert len(frames) == 10 and fps == pytest.approx(FPS)
    np.testing.assert_array_equal(frames[4], frames[3])
    assert np.abs(frames[5].astype(int) - frames[3]).mean() > 1  # the rest is the video's own


def test_max_frames_stops_early(model_path, clip, tmp_path):
    output = tmp_path / "short.mp4"
    assert run_video("--model", model_path, "--input", clip, "--output", output, "--max-frames", 4) == 0
    assert len(read_clip(output)[0]) == 4


def interrupt_on_third_batch(monkeypatch):
    """Ctrl-C arrives while the network works on the third batch of frames (of 2 with --batch-size 2
    --network-every 1)."""
    predict_ab = inference.Colorizer.predict_ab
    calls = []

    def interrupted_on_third_batch(self, l_channels, *args, **options):
        calls.append(len(l_channels))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return predict_ab(self, l_channels, *args, **options)

    monkeypatch.setattr(inference.Colorizer, "predict_ab", interrupted_on_third_batch)


def test_ctrl_c_leaves_a_playable_file_of_the_frames_done(model_path, clip, tmp_path, monkeypatch, capsys):
    interrupt_on_third_batch(monkeypatch)
    output = tmp_path / "partial.mp4"
    assert run_video("--model", model_path, "--input", clip, "--output", output, "--batch-size", 2,
                     "--network-every", 1) == 130
    assert "the first 4 frames are in" in capsys.readouterr().err
    assert len(read_clip(output)[0]) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["partial.mp4"]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_ctrl_c_cuts_the_audio_to_the_frames_done(model_path, tmp_path, monkeypatch, suffix):
    interrupt_on_third_batch(monkeypatch)
    clip = clip_with_audio(tmp_path / "with_audio.mp4", seconds_of_audio=1)  # 10 frames at 10 fps
    output = tmp_path / f"partial{suffix}"
    assert run_video("--model", model_path, "--input", clip, "--output", output, "--batch-size", 2,
                     "--network-every", 1) == 130
    assert ffmpeg_frames(output) == 4
    assert audio_seconds(output) == pytest.approx(0.4, abs=0.03)  # not the 1 s planned for 10 frames
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([output.name, clip.name])


def test_ctrl_c_before_any_frame_leaves_no_file(model_path, clip, tmp_path, monkeypatch):
    def interrupted(self, l_channels, *args, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr(inference.Colorizer, "predict_ab", interrupted)
    assert run_video("--model", model_path, "--input", clip, "--output", tmp_path / "none.mp4") == 130
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: _text_file(d / "notes.mp4"), "cannot open"),
        (lambda d: write_clip(d / "empty.avi", [], fourcc="MJPG"), "holds no video frames"),
        (lambda d: d, "is a folder"),
    ],
    ids=["missing", "not-a-video", "zero-frames", "folder"],
)
def test_bad_input_gives_a_message_and_exit_code_2(make_input, message, model_path, tmp_path, capsys):
    source = make_input(tmp_path)
    assert run_video("--model", model_path, "--input", source, "--output", tmp_path / "o.mp4") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def _text_file(path):
    path.write_text("not a video\n")
    return path


def test_unwritable_output_folder(model_path, clip, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run_video("--model", model_path, "--input", clip, "--output", blocker / "sub" / "o.mp4") == 2
    assert "cannot write" in capsys.readouterr().err


def test_unknown_output_extension(model_path, clip, tmp_path, capsys):
    assert run_video("--model", model_path, "--input", clip, "--output", tmp_path / "o.gif") == 2
    assert ".mp4, .avi or .mkv" in capsys.readouterr().err


def test_missing_model_names_the_train_command(clip, tmp_path, capsys):
    assert run_video("--model", tmp_path / "beta.keras", "--input", clip, "--output", tmp_path / "o.mp4") == 2
    assert "python beta/train.py" in capsys.readouterr().err


def test_runs_as_a_script_from_the_repo_root(model_path, clip, tmp_path):
    output = tmp_path / "script.mp4"
    result = subprocess.run(
        [sys.executable, "shared/video.py", "--model", str(model_path), "--input", str(clip), "--output", str(output),
         "--max-frames", "2"],
        cwd=cli.REPO_ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 2 frames (64x48, 12 fps)" in result.stdout
    assert len(read_clip(output)[0]) == 2


def test_a_real_ctrl_c_exits_130_and_leaves_a_playable_file(model_path, tmp_path):
    clip = write_clip(tmp_path / "long.mkv", moving_pattern(40) * 15)  # 600 frames
    output = tmp_path / "stopped.mp4"
    process = subprocess.Popen(
        [sys.executable, "shared/video.py", "--model", str(model_path), "--input", str(clip), "--output", str(output),
         "--batch-size", "1"],
        cwd=cli.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background job may inherit "ignore"
    )
    seen = b""
    while not re.search(rb" ([1-9]\d+)/600 ", seen):  # wait for the progress bar to pass 10 frames
        chunk = process.stderr.read1(4096)
        assert chunk, seen.decode(errors="replace")[-2000:]
        seen += chunk
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, (seen + err).decode(errors="replace")[-2000:]
    frames_done = int(re.search(rb"the first (\d+) frames are in", err).group(1))
    assert 10 <= frames_done < 600
    assert len(read_clip(output)[0]) == frames_done
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_a_ctrl_c_while_waiting_for_a_frame_keeps_the_count_of_those_already_written():
    """The writer has finished one frame; Ctrl-C comes while waiting for the next: the first stays counted (the file
    holds it) and the second stays queued, to be counted when it is done."""
    from collections import deque
    from concurrent.futures import Future

    written, interrupted = Future(), Future()
    written.set_result(None)
    interrupted.set_exception(KeyboardInterrupt())  # what waiting on it raises when Ctrl-C arrives
    output = object.__new__(video.OutputVideo)  # only its queue: no ffmpeg
    output.pending, output.frames_written = deque([written, interrupted]), 0
    with pytest.raises(KeyboardInterrupt):
        output.drain()
    assert output.frames_written == 1
    assert list(output.pending) == [interrupted]
