"""Issue 12: no command loses a user's data or gives wrong output silently, on bad input, Ctrl-C or a rerun."""

import csv
import io
import json
import signal
import warnings
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from PIL import Image

import alpha.test
import alpha.train
import beta.model
import beta.test
import beta.train
from alpha.model import build_model
from shared import data, evaluate, inference, lab, training, video
from shared.data import InputError
from conftest import colour_image, write_image
from test_cli import run_main
from test_training import StopAt, one_image_pair
from test_video import moving_pattern, read_clip, run_video, write_clip


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """An untrained alpha model: enough for every command that applies a model."""
    path = tmp_path_factory.mktemp("model") / "alpha.keras"
    build_model().save(path)
    return path


def truncated_jpeg(path, side=64):
    """A JPEG cut short: its header reads (so `list_images` keeps it) but decoding fails."""
    buffer = io.BytesIO()
    noisy = colour_image(side, side, seed=3) ^ np.random.default_rng(0).integers(0, 64, (side, side, 3), dtype=np.uint8)
    Image.fromarray(noisy).save(buffer, "JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) * 3 // 4])
    assert data.image_size(path) == (side, side)
    return path


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- data loss -------------------------------------------------------------------------------


def test_test_py_refuses_to_write_into_its_input_folder(untrained, tmp_path, capsys):
    folder = tmp_path / "photos"
    original = write_image(folder / "pic.png", colour_image(20, 24)).read_bytes()
    for output in (folder, folder / "results"):
        assert run_main(alpha.test.main, ["--model", str(untrained), "--input", str(folder), "--output", str(output)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "inside the input folder" in err and err.count("\n") == 1
    assert (folder / "pic.png").read_bytes() == original
    assert sorted(p.name for p in folder.rglob("*")) == ["pic.png"]


def test_test_py_refuses_to_overwrite_a_single_input_file(untrained, tmp_path, capsys):
    image = write_image(tmp_path / "pic.png", colour_image(20, 24))
    original = image.read_bytes()
    assert run_main(beta.test.main, ["--model", str(untrained), "--input", str(image), "--output", str(tmp_path)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert image.read_bytes() == original


def test_the_report_refuses_to_write_into_an_input_folder(untrained, tmp_path, capsys):
    write_image(tmp_path / "test" / "a.png", colour_image(20, 24))
    write_image(tmp_path / "train" / "b.png", colour_image(20, 24, seed=1))
    for output in (tmp_path / "test", tmp_path / "train" / "report"):
        argv = ["--model", str(untrained), "--input", str(tmp_path / "test"), "--train-images", str(tmp_path / "train"),
                "--output", str(output)]
        assert run_main(evaluate.main, argv) == 2
        assert "inside the input folder" in capsys.readouterr().err
    assert not (tmp_path / "test" / "report.md").exists() and not (tmp_path / "train" / "report").exists()


def alpha_argv(tmp_path, *extra, epochs=2):
    image = tmp_path / "one.png"
    if not image.exists():
        write_image(image, colour_image(16, 16))
    return ["--image", str(image), "--epochs", str(epochs), "--model-out", str(tmp_path / "m" / "alpha.keras"),
            "--output", str(tmp_path / "out"), *extra]


def test_a_second_training_without_resume_keeps_the_trained_model(tmp_path, capsys):
    assert run_main(alpha.train.main, alpha_argv(tmp_path)) == 0
    model = tmp_path / "m" / "alpha.keras"
    files = training.side_files(model)
    before = {path: path.read_bytes() for path in (model, files["log"], files["state"], files["state_info"])}
    capsys.readouterr()

    assert run_main(alpha.train.main, alpha_argv(tmp_path, epochs=1)) == 2
    err = capsys.readouterr().err
    assert "already holds a trained model" in err and "--resume" in err and "--overwrite" in err and "--model-out" in err
    assert {path: path.read_bytes() for path in before} == before  # nothing touched

    assert run_main(alpha.train.main, alpha_argv(tmp_path, "--resume", epochs=3)) == 0
    assert len(training.read_log(files["log"])) == 3
    assert run_main(alpha.train.main, alpha_argv(tmp_path, "--overwrite", epochs=1)) == 0
    assert len(training.read_log(files["log"])) == 1
    assert json.loads(files["state_info"].read_text())["epochs_done"] == 1


def two_photos(folder):
    for i in range(2):
        write_image(folder / f"p{i}.png", colour_image(16, 16, seed=i))
    return folder


def test_beta_refuses_a_rerun_before_training(tmp_path, capsys):
    model = tmp_path / "beta.keras"
    build_model().save(model)
    argv = ["--images", str(two_photos(tmp_path / "photos")), "--model-out", str(model), "--epochs", "1",
            "--image-size", "16"]
    assert run_main(beta.train.main, argv) == 2
    assert "already holds a trained model" in capsys.readouterr().err
    assert run_main(beta.train.main, [*argv, "--overwrite", "--resume"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert model.exists()


def _fit_with(model_path, *extra_callbacks, epochs=6, model=None, pair=None):
    model = model or build_model()
    original_fit = model.fit

    def fit_with_extra(*args, callbacks=(), **kwargs):
        return original_fit(*args, callbacks=[*callbacks, *extra_callbacks], **kwargs)

    model.fit = fit_with_extra
    return training.fit(model, pair or one_image_pair(), epochs=epochs, model_path=model_path, checkpoint_interval_s=3600)


def test_more_ctrl_cs_while_saving_still_leave_a_complete_model_and_state(tmp_path, monkeypatch):
    model_path = tmp_path / "alpha.keras"
    original_save = keras.Model.save

    def save_under_fire(self, path, *args, **kwargs):  # two more Ctrl-Cs arrive while each file is written
        signal.raise_signal(signal.SIGINT)
        original_save(self, path, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(keras.Model, "save", save_under_fire)
    with pytest.raises(KeyboardInterrupt):
        _fit_with(model_path, StopAt(3))
    monkeypatch.undo()

    files = training.side_files(model_path)
    assert model_path.exists() and files["state"].exists()
    assert json.loads(files["state_info"].read_text())["epochs_done"] == 3
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name]
    keras.models.load_model(model_path)
    training.fit(build_model(), one_image_pair(), epochs=5, model_path=model_path, resume=True)
    assert [int(r["epoch"]) for r in training.read_log(files["log"])] == [0, 1, 2, 3, 4]


class RecordEpochEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = self.model.get_weights()


def _assert_saved_files_agree(model_path, record):
    files = training.side_files(model_path)
    rows = training.read_log(files["log"])
    info = json.loads(files["state_info"].read_text())
    losses = [float(r["loss"]) for r in rows]
    assert info["epochs_done"] == len(rows)
    assert info["best"] == pytest.approx(min(losses))
    best_epoch = int(np.argmin(losses))
    for saved, expected in zip(keras.models.load_model(model_path).get_weights(), record.weights[best_epoch]):
        np.testing.assert_array_equal(saved, expected)
    for saved, expected in zip(keras.models.load_model(files["state"]).get_weights(), record.weights[len(rows) - 1]):
        np.testing.assert_array_equal(saved, expected)


def test_ctrl_c_right_after_an_epochs_log_row_keeps_best_model_state_and_log_in_agreement(tmp_path, monkeypatch):
    logged = keras.callbacks.CSVLogger.on_epoch_end

    def log_then_ctrl_c(self, epoch, logs=None):
        logged(self, epoch, logs)
        if epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", log_then_ctrl_c)
    record = RecordEpochEnds()
    with pytest.raises(KeyboardInterrupt):
        _fit_with(tmp_path / "alpha.keras", record)
    _assert_saved_files_agree(tmp_path / "alpha.keras", record)


class StopAfterFirstBatch(keras.callbacks.Callback):
    """Ctrl-C in the middle of an epoch, after its first batch changed the weights."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_midway_through_an_epoch_saves_the_state_of_the_epoch_before(tmp_path):
    record = RecordEpochEnds()
    with pytest.raises(KeyboardInterrupt):
        _fit_with(tmp_path / "alpha.keras", record, StopAfterFirstBatch(3))
    _assert_saved_files_agree(tmp_path / "alpha.keras", record)


def test_a_failed_save_leaves_no_partial_file_and_says_so_in_one_line(tmp_path, monkeypatch):
    build_model().save(tmp_path / "m.keras")
    before = (tmp_path / "m.keras").read_bytes()

    def disk_full(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", disk_full)
    with pytest.raises(InputError, match="cannot write .*m.keras .No space left on device"):
        training.save_atomic(build_model(), tmp_path / "m.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"] and (tmp_path / "m.keras").read_bytes() == before


# --- silent wrong output -----------------------------------------------------------------------

GRAY16 = (np.arange(120, dtype=np.uint32).reshape(10, 12) * 547).astype(np.uint16)  # 0 .. 65093
GRAY16_AS_8 = np.round(GRAY16 / 257.0).astype(np.uint8)


def _saved(image, path, **params):
    image.save(path, **params)
    return path


@pytest.mark.parametrize("mode, make, expected", [
    ("1", lambda p: _saved(Image.fromarray(GRAY16 > 30000), p / "a.png"), np.where(GRAY16 > 30000, 255, 0)),
    ("L", lambda p: _saved(Image.fromarray(GRAY16_AS_8), p / "a.png"), GRAY16_AS_8),
    ("I;16", lambda p: _saved(Image.fromarray(GRAY16), p / "a.png"), GRAY16_AS_8),
    ("I;16 tiff", lambda p: _saved(Image.fromarray(GRAY16), p / "a.tif"), GRAY16_AS_8),
    ("I;16B", lambda p: _saved(Image.frombytes("I;16B", (12, 10), GRAY16.astype(">u2").tobytes()), p / "a.tif"),
     GRAY16_AS_8),
    ("I (16-bit PGM)", lambda p: _saved(Image.fromarray(GRAY16), p / "a.ppm"), GRAY16_AS_8),
    ("I (32-bit)", lambda p: _saved(Image.fromarray(GRAY16.astype(np.int32)), p / "a.tif"), GRAY16_AS_8),
    ("F", lambda p: _saved(Image.fromarray((GRAY16 / 65535.0).astype(np.float32)), p / "a.tif"), GRAY16_AS_8),
    ("LA", lambda p: _saved(Image.fromarray(GRAY16_AS_8).convert("LA"), p / "a.png"), GRAY16_AS_8),
])
def test_every_grayscale_mode_reads_at_its_own_brightness(mode, make, expected, tmp_path):
    path = make(tmp_path)
    rgb = data.read_rgb(path)
    assert rgb.shape == (10, 12, 3) and rgb.dtype == np.uint8
    for channel in range(3):
        assert np.abs(rgb[..., channel].astype(int) - expected).max() <= 1, mode


@pytest.mark.parametrize("mode", ["I;16L", "I;16N", "PA"])
def test_modes_without_a_file_format_read_right_too(mode, tmp_path, monkeypatch):
    if mode == "PA":
        image = Image.fromarray(colour_image(10, 12)).convert("P").convert("PA")
        expected = np.asarray(image.convert("RGB"))
    else:
        dtype = "<u2" if mode == "I;16L" else "=u2"
        image = Image.frombytes(mode, (12, 10), GRAY16.astype(dtype).tobytes())
        expected = np.repeat(GRAY16_AS_8[..., None], 3, axis=-1)
    monkeypatch.setattr(data.Image, "open", lambda path: image)
    np.testing.assert_array_equal(data.read_rgb(tmp_path / "any.png"), expected)


@pytest.mark.parametrize("mode, suffix, tolerance", [
    ("P", "png", 0), ("RGBA", "png", 0), ("CMYK", "tif", 1), ("RGB;16", "png", 1), ("RGBA;16", "png", 1),
])
def test_every_colour_mode_reads_as_its_rgb(mode, suffix, tolerance, tmp_path):
    rgb = colour_image(10, 12)
    path = tmp_path / f"a.{suffix}"
    if mode.endswith(";16"):  # 16-bit PNG, written by OpenCV (BGR order): each 8-bit value v becomes 257 v
        wide = rgb.astype(np.uint16) * 257
        if mode == "RGBA;16":
            wide = np.concatenate([wide, np.full((10, 12, 1), 65535, np.uint16)], axis=-1)
        cv2.imwrite(str(path), wide[..., [2, 1, 0, 3][: wide.shape[-1]]])
        expected = rgb
    else:
        image = Image.fromarray(rgb).convert(mode)
        image.save(path)
        expected = np.asarray(image.convert("RGB"))
    assert np.abs(data.read_rgb(path).astype(int) - expected).max() <= tolerance


def test_same_named_images_get_one_result_each_and_unique_rows(untrained, tmp_path):
    folder = tmp_path / "in"
    for name, seed in (("a/pic.jpg", 0), ("b/pic.jpg", 1), ("pic.png", 2), ("pic.jpg", 3)):
        write_image(folder / name, colour_image(16 + 2 * seed, 20, seed=seed))
    out = tmp_path / "out"
    assert run_main(alpha.test.main, ["--model", str(untrained), "--input", str(folder), "--output", str(out)]) == 0
    sources = {"a/pic.png": "a/pic.jpg", "b/pic.png": "b/pic.jpg", "pic.jpg.png": "pic.jpg", "pic.png.png": "pic.png"}
    results = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png") if p.name != "comparison.png")
    assert results == sorted(sources)
    for result, source in sources.items():  # each from its own input (they differ in height)
        assert Image.open(out / result).size == Image.open(folder / source).size
    rows = [row["image"] for row in read_rows(out / "metrics.csv")]
    assert sorted(rows) == ["a/pic.jpg", "b/pic.jpg", "pic.jpg", "pic.png"]


def test_lab_to_rgb_leaves_the_warning_filters_alone(monkeypatch):
    """Silencing a warning with catch_warnings is process-wide: it swallowed video.py's reader-thread
    warnings while the writer thread converted frames."""
    seen = []
    convert = lab.color.lab2rgb

    def spy(lab_values, *args, **kwargs):
        seen.append(list(warnings.filters))
        return convert(lab_values, *args, **kwargs)

    monkeypatch.setattr(lab.color, "lab2rgb", spy)
    out_of_gamut = np.array([[[10.0, -100.0, 120.0], [90.0, 120.0, -120.0]]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        active = list(warnings.filters)
        rgb = lab.lab_to_rgb(out_of_gamut, fast=False)  # the scikit-image path
    assert seen == [active]  # no filter added while it ran
    assert not caught and rgb.dtype == np.uint8  # and scikit-image had nothing to warn about


def test_repeated_frames_are_counted_in_each_warning_and_the_summary(untrained, tmp_path, capsys):
    clip = write_clip(tmp_path / "mjpeg.avi", moving_pattern(10), fourcc="MJPG")
    raw = bytearray(clip.read_bytes())
    starts = [i for i in range(len(raw) - 2) if raw[i : i + 3] == b"\xff\xd8\xff"]
    raw[starts[4] : starts[6]] = bytes(starts[6] - starts[4])  # frames 4 and 5
    clip.write_bytes(bytes(raw))
    with pytest.warns(UserWarning) as warned:
        assert run_video("--model", untrained, "--input", clip, "--output", tmp_path / "o.mkv", "--no-temporal") == 0
    messages = [str(w.message) for w in warned if "cannot be decoded" in str(w.message)]
    assert messages and all(" frame" in m and "repeated so far" in m for m in messages)
    repeated = int(messages[-1].split("(")[-1].split()[0])
    assert repeated >= 2
    assert f"{repeated} frames could not be decoded and repeat the frame before" in capsys.readouterr().out
    assert len(read_clip(tmp_path / "o.mkv")[0]) == 10


def test_a_video_that_ends_early_says_so(untrained, tmp_path):
    clip = write_clip(tmp_path / "mjpeg.avi", moving_pattern(10), fourcc="MJPG")
    raw = bytearray(clip.read_bytes())
    starts = [i for i in range(len(raw) - 2) if raw[i : i + 3] == b"\xff\xd8\xff"]
    end = raw.rfind(b"idx1")
    raw[starts[7] : end] = bytes(end - starts[7])  # frames 7 to 9
    clip.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="ended after 7 of the 10 frames"):
        assert run_video("--model", untrained, "--input", clip, "--output", tmp_path / "o.mkv") == 0


def test_nan_learning_rate_is_refused(tmp_path, capsys):
    for value in ("nan", "inf"):
        argv = ["--learning-rate", value, "--images", str(tmp_path / "nowhere")]
        assert run_main(beta.train.main, argv) == 2
        assert "--learning-rate: must be a positive finite number" in capsys.readouterr().err


def test_a_loss_that_is_never_finite_stops_and_writes_no_model(tmp_path):
    x, y = one_image_pair()
    with pytest.raises(InputError, match="loss became nan .*no model was written"):
        training.fit(build_model(), (x, y * np.nan), epochs=5, model_path=tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []


class Diverge(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 3:
            self.model.set_weights([w * np.inf for w in self.model.get_weights()])


def test_a_divergence_stops_and_keeps_the_best_model_of_before(tmp_path):
    model_path = tmp_path / "m.keras"
    with pytest.raises(InputError, match=r"in epoch 4: loss became .* the best model so far \(epoch 3\) is at"):
        _fit_with(model_path, Diverge())
    files = training.side_files(model_path)
    assert len(training.read_log(files["log"])) == 3
    assert json.loads(files["state_info"].read_text())["epochs_done"] == 3
    assert all(np.isfinite(w).all() for w in keras.models.load_model(model_path).get_weights())


def test_beta_training_on_nan_reports_no_model(tmp_path, monkeypatch, capsys):
    photos = two_photos(tmp_path / "photos")
    monkeypatch.setattr(data.lab, "split_lab_tf", lambda lab_values: (lab_values[..., :1], lab_values[..., 1:] * np.nan))
    argv = ["--images", str(photos), "--epochs", "2", "--image-size", "16", "--model-out", str(tmp_path / "b.keras")]
    assert run_main(beta.train.main, argv) == 2
    captured = capsys.readouterr()
    assert "not a finite number" in captured.err and "no model was written" in captured.err
    assert "model at" not in captured.out and not (tmp_path / "b.keras").exists()


# --- one unreadable file must not end the run -----------------------------------------------


def test_test_py_skips_a_truncated_jpeg(untrained, tmp_path):
    folder = tmp_path / "in"
    write_image(folder / "good.png", colour_image(20, 20))
    truncated_jpeg(folder / "broken.jpg")
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="skipping .*broken.jpg"):
        assert run_main(alpha.test.main, ["--model", str(untrained), "--input", str(folder), "--output", str(out)]) == 0
    assert [row["image"] for row in read_rows(out / "metrics.csv")] == ["good.png"]
    assert (out / "comparison.png").exists() and not (out / "broken.png").exists()


def test_the_report_skips_a_truncated_jpeg(untrained, tmp_path):
    write_image(tmp_path / "test" / "good.png", colour_image(20, 20))
    truncated_jpeg(tmp_path / "test" / "broken.jpg")
    write_image(tmp_path / "train" / "t.png", colour_image(20, 20, seed=1))
    truncated_jpeg(tmp_path / "train" / "broken.jpg")
    argv = ["--model", str(untrained), "--input", str(tmp_path / "test"), "--train-images", str(tmp_path / "train"),
            "--output", str(tmp_path / "report")]
    with pytest.warns(UserWarning, match="skipping .*broken.jpg"):
        assert run_main(evaluate.main, argv) == 0
    rows = read_rows(tmp_path / "report" / "metrics.csv")
    assert rows and all(row["images"] == "1" for row in rows)
    assert {row["image"] for row in read_rows(tmp_path / "report" / "per_image.csv")} == {"good.png"}


def test_the_training_pipelines_skip_a_file_that_breaks_while_decoding(tmp_path):
    paths = [write_image(tmp_path / f"p{i}.png", colour_image(16, 16, seed=i)) for i in range(3)]
    paths.insert(1, truncated_jpeg(tmp_path / "broken.jpg"))
    with pytest.warns(UserWarning, match="skipping .*broken.jpg"):
        batches = list(data.make_dataset(paths, image_size=16, batch_size=2, augment=True, shuffle=True, seed=0))
    assert sum(len(l_norm) for l_norm, _ in batches) == 3
    with pytest.warns(UserWarning, match="skipping .*broken.jpg"):
        fallback = data.PhotoBatches(paths, 16, 2, augment=False, shuffle=False)
        sizes = [len(fallback[i][0]) for i in range(len(fallback))]
    assert sizes == [1, 2]
    only_broken = data.PhotoBatches(paths[1:2] + paths[:1], 16, 1, augment=False, shuffle=False)
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(only_broken[0][0], only_broken[1][0])  # a batch of broken files borrows one


def test_beta_trains_past_a_truncated_jpeg(tmp_path):
    photos = tmp_path / "photos"
    for i in range(3):
        write_image(photos / f"p{i}.png", colour_image(16, 16, seed=i))
    truncated_jpeg(photos / "broken.jpg")
    argv = ["--images", str(photos), "--epochs", "2", "--image-size", "16", "--batch-size", "2", "--val-share", "0",
            "--model-out", str(tmp_path / "b.keras")]
    with pytest.warns(UserWarning, match="skipping .*broken.jpg"):
        assert run_main(beta.train.main, argv) == 0
    assert len(training.read_log(tmp_path / "b.log.csv")) == 2


# --- one line, not a traceback, and no half-written files ------------------------------------


@pytest.mark.parametrize("target, message", [("models.keras", "is a folder"), ("file/m.keras", "cannot write")])
def test_an_unwritable_model_out_is_refused_before_training(target, message, tmp_path, capsys):
    (tmp_path / "models.keras").mkdir()
    (tmp_path / "file").touch()
    argv = ["--images", str(two_photos(tmp_path / "photos")), "--model-out", str(tmp_path / target), "--epochs", "1",
            "--image-size", "16"]
    assert run_main(beta.train.main, argv) == 2
    err = capsys.readouterr().err
    assert message in err and "--model-out" in err


def test_model_out_without_the_keras_suffix_gets_it(tmp_path, capsys):
    assert run_main(alpha.train.main, [*alpha_argv(tmp_path)[:4], "--model-out", str(tmp_path / "mine"),
                                       "--output", str(tmp_path / "out")]) == 0
    assert (tmp_path / "mine.keras").exists() and not (tmp_path / "mine").exists()
    assert f"model at {tmp_path / 'mine.keras'}" in capsys.readouterr().out
    assert inference.load_model(str(tmp_path / "mine.keras")) is not None


def test_an_unwritable_alpha_output_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "file").touch()
    argv = alpha_argv(tmp_path)
    argv[argv.index("--output") + 1] = str(tmp_path / "file" / "out")
    assert run_main(alpha.train.main, argv) == 2
    assert "cannot write to --output" in capsys.readouterr().err
    assert not (tmp_path / "m" / "alpha.keras").exists()


def test_video_output_that_is_a_folder_or_fails_at_the_end(untrained, tmp_path, capsys, monkeypatch):
    clip = write_clip(tmp_path / "clip.mkv", moving_pattern(3))
    (tmp_path / "out.mp4").mkdir()
    assert run_video("--model", untrained, "--input", clip, "--output", tmp_path / "out.mp4") == 2
    assert "is a folder" in capsys.readouterr().err

    def refuse(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(video.os, "replace", refuse)
    assert run_video("--model", untrained, "--input", clip, "--output", tmp_path / "final.mkv") == 2
    assert "cannot write" in capsys.readouterr().err
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name or p.name == "final.mkv"]


def test_the_report_output_is_checked_before_any_work(untrained, tmp_path, capsys):
    (tmp_path / "file").touch()
    write_image(tmp_path / "test" / "a.png", colour_image(20, 24))
    argv = ["--model", str(untrained), "--input", str(tmp_path / "test"), "--train-images", str(tmp_path / "test"),
            "--output", str(tmp_path / "file" / "report")]
    assert run_main(evaluate.main, argv) == 2
    assert "cannot write to --output" in capsys.readouterr().err


def test_an_image_size_too_large_for_memory_is_refused_with_what_fits(tmp_path, capsys, monkeypatch):
    with pytest.raises(InputError, match=r"--image-size 1024 .* GiB .* use --image-size \d+ or less") as refused:
        training.check_memory(beta.model.build_model, 1024, 8, available=2**30)
    training.check_memory(beta.model.build_model, 256, 8, available=2**34)
    fits = int(str(refused.value).split("use --image-size ")[1].split()[0])
    training.check_memory(beta.model.build_model, fits, 8, available=2**30)  # what it suggests does fit
    monkeypatch.setattr(training, "_available_memory", lambda: 2**30)  # a machine with 1 GiB free
    assert run_main(beta.train.main, ["--images", str(two_photos(tmp_path / "photos")), "--image-size", "1024",
                                      "--epochs", "1", "--model-out", str(tmp_path / "b.keras")]) == 2
    assert "--image-size 1024 with --batch-size 8 needs about" in capsys.readouterr().err
    assert not (tmp_path / "b.keras").exists()


def test_a_val_share_that_leaves_no_training_image_is_refused(tmp_path, capsys):
    argv = ["--images", str(two_photos(tmp_path / "photos")), "--val-share", "0.9", "--epochs", "1", "--image-size", "16",
            "--model-out", str(tmp_path / "b.keras")]
    assert run_main(beta.train.main, argv) == 2
    assert "leaving none to train on" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"not a model at all", "zip"], ids=["garbage", "zip-without-model"])
def test_a_corrupt_keras_file_is_called_corrupt(content, tmp_path, capsys):
    model = tmp_path / "beta.keras"
    if content == "zip":
        import zipfile

        with zipfile.ZipFile(model, "w") as archive:
            archive.writestr("readme.txt", "no model here")
    else:
        model.write_bytes(content)
    image = write_image(tmp_path / "in.png", colour_image(20, 20))
    assert run_main(beta.test.main, ["--model", str(model), "--input", str(image), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "corrupt or not a Keras model" in err and "not found" not in err.lower()


def test_a_corrupt_training_state_is_called_corrupt_on_resume(tmp_path):
    model_path = tmp_path / "m.keras"
    training.fit(build_model(), one_image_pair(), epochs=1, model_path=model_path)
    training.side_files(model_path)["state"].write_bytes(b"garbage")
    with pytest.raises(InputError, match="corrupt or not a Keras model"):
        training.fit(build_model(), one_image_pair(), epochs=3, model_path=model_path, resume=True)
