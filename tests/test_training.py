import json

import keras
import numpy as np
import pytest

from alpha.model import build_model
from shared import training
from shared.data import InputError


def one_image_pair():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (1, 16, 16, 1)).astype(np.float32)
    return x, (x[..., :1].repeat(2, axis=-1) - 0.5) * 0.5


class StopAt(keras.callbacks.Callback):
    """Acts like Ctrl-C at the start of a given epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_fit_writes_best_model_log_and_state(tmp_path):
    model_path = tmp_path / "alpha.keras"
    result = training.fit(build_model(), one_image_pair(), epochs=5, model_path=model_path)
    files = training.side_files(model_path)
    assert model_path.exists() and files["state"].exists()
    rows = training.read_log(files["log"])
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4]
    assert result["best"] == pytest.approx(min(float(r["loss"]) for r in rows), rel=1e-5)
    assert json.loads(files["state_info"].read_text())["epochs_done"] == 5
    # the saved best model predicts with the best weights, not garbage
    saved = keras.models.load_model(model_path)
    x, y = one_image_pair()
    assert float(np.mean((saved.predict_on_batch(x) - y) ** 2)) == pytest.approx(result["best"], rel=0.05)


def test_ctrl_c_keeps_progress_and_resume_continues(tmp_path):
    model_path = tmp_path / "alpha.keras"
    pair = one_image_pair()
    with pytest.raises(KeyboardInterrupt):
        _fit_interrupted(model_path, pair)
    files = training.side_files(model_path)
    assert model_path.exists(), "the best model so far is written on Ctrl-C"
    assert json.loads(files["state_info"].read_text())["epochs_done"] == 3

    training.fit(build_model(), pair, epochs=6, model_path=model_path, resume=True)
    assert [int(r["epoch"]) for r in training.read_log(files["log"])] == [0, 1, 2, 3, 4, 5]


def _fit_interrupted(model_path, pair):
    model = build_model()
    original_fit = model.fit

    def fit_with_stop(*args, callbacks=(), **kwargs):
        return original_fit(*args, callbacks=[*callbacks, StopAt(3)], **kwargs)

    model.fit = fit_with_stop
    training.fit(model, pair, epochs=6, model_path=model_path, checkpoint_interval_s=3600)


def test_resume_without_a_saved_state_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="nothing to resume"):
        training.fit(build_model(), one_image_pair(), epochs=2, model_path=tmp_path / "m.keras", resume=True)


def test_resume_of_a_finished_run_asks_for_more_epochs(tmp_path):
    model_path = tmp_path / "m.keras"
    training.fit(build_model(), one_image_pair(), epochs=2, model_path=model_path)
    with pytest.raises(InputError, match="already trained 2 epochs"):
        training.fit(build_model(), one_image_pair(), epochs=2, model_path=model_path, resume=True)


@pytest.mark.parametrize("epochs", [0, -3])
def test_non_positive_epochs_are_refused(tmp_path, epochs):
    with pytest.raises(InputError, match="--epochs must be positive"):
        training.fit(build_model(), one_image_pair(), epochs=epochs, model_path=tmp_path / "m.keras")


def test_more_photos_join_training_and_validation_after_the_split_and_may_not_overlap(tmp_path):
    import argparse

    from PIL import Image

    from shared import commands, data

    def photos(folder, count):
        folder.mkdir()
        for i in range(count):
            Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(folder / f"{i}.png")
        return folder

    landscapes, more_train, more_val = photos(tmp_path / "l", 10), photos(tmp_path / "t", 3), photos(tmp_path / "v", 2)
    split_train, split_val = data.split_validation(training.list_training_images([landscapes]), 0.2, seed=0)
    args = argparse.Namespace(more_train_images=[more_train], more_val_images=[more_val])
    train, val = commands._with_more_photos(args, split_train, split_val)
    assert set(train) == set(split_train) | set(more_train.iterdir())  # the split of --images is unchanged
    assert set(val) == set(split_val) | set(more_val.iterdir())
    repeated, _ = commands._with_more_photos(argparse.Namespace(more_train_images=[more_train], more_val_images=[],
                                                                more_train_repeat=3), split_train, split_val)
    assert len(repeated) == len(split_train) + 3 * 3 and repeated.count(more_train / "0.png") == 3
    with pytest.raises(InputError, match="both trained on and validated on"):
        commands._with_more_photos(argparse.Namespace(more_train_images=[], more_val_images=[landscapes]),
                                   split_train, split_val)
