"""Every speed option still trains and saves a model that loads and colorizes; the fast colour
conversions agree with scikit-image."""

import keras
import numpy as np
import pytest

from beta import train as beta_train
from shared import accel, inference, lab
from conftest import colour_image, write_image


@pytest.fixture
def photos(tmp_path):
    for i in range(3):
        write_image(tmp_path / "photos" / f"p{i}.png", colour_image(24, 24, seed=i))
    return tmp_path / "photos"


@pytest.mark.parametrize("options", [
    ["--precision", "float32", "--cache", "off"],
    ["--precision", "bfloat16", "--cache", "on"],
    ["--precision", "auto", "--cache", "auto"],
])
def test_each_speed_option_trains_and_saves_a_loadable_model(photos, tmp_path, options, capsys):
    model_path = tmp_path / "beta.keras"
    beta_train.main(["--images", str(photos), "--epochs", "2", "--image-size", "16", "--batch-size", "2",
                     "--model-out", str(model_path), *options])
    out = capsys.readouterr().out
    chosen = options[1] if options[1] != "auto" else accel.resolve_precision("auto")
    assert f"precision: {chosen}" in out
    model = keras.models.load_model(model_path, compile=False)
    ab = inference.Colorizer(model).predict_ab([np.full((20, 28), 50.0, np.float32)])[0]
    assert ab.shape == (20, 28, 2) and ab.dtype == np.float32 and np.isfinite(ab).all()
    assert keras.config.dtype_policy().name == "float32"  # the global policy is put back


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_for_inference_keeps_weights_and_predictions_close(precision):
    from beta.model import build_model

    model = build_model(16)
    changed = accel.for_inference(model, precision)
    policies = {layer.dtype_policy.name for layer in changed.layers}
    assert policies == {"float32" if precision == "float32" else "mixed_bfloat16"}
    x = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(changed(x), np.float32), np.asarray(model(x)), atol=0.02)


def test_for_inference_changes_the_precision_and_folds_batch_norms_in_one_rebuild():
    from shared import efficientnet, layers

    model = efficientnet.build_classifier((32, 32, 3), weights=None)
    ready = accel.for_inference(model, "bfloat16")
    computing = [layer for layer in layers.all_layers(ready) if not isinstance(layer, keras.layers.InputLayer)]
    assert {layer.dtype_policy.name for layer in computing} == {"mixed_bfloat16"}
    assert not [layer for layer in layers.all_layers(ready) if isinstance(layer, keras.layers.BatchNormalization)]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(ready(x), np.float32), np.asarray(model(x)), atol=0.01)


def test_auto_precision_follows_the_cpu(monkeypatch):
    monkeypatch.setattr(accel, "has_gpu", lambda: False)
    monkeypatch.setattr(accel, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert accel.resolve_precision("auto") == "bfloat16"
    monkeypatch.setattr(accel, "cpu_flags", lambda: {"avx2"})
    assert accel.resolve_precision("auto") == "float32"
    assert accel.resolve_precision("bfloat16") == "bfloat16"
    with pytest.raises(ValueError):
        accel.resolve_precision("float16")


def test_fast_conversions_match_scikit_image():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    np.testing.assert_allclose(lab.rgb_to_l_fast(rgb), lab.rgb_to_l(rgb, fast=False), atol=1e-3)
    grays = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # the dark end is a straight line
    np.testing.assert_allclose(lab.rgb_to_l_fast(grays), lab.rgb_to_l(grays, fast=False), atol=1e-3)
    lab_image = lab.rgb_to_lab(rgb)
    lab_image[..., 1:] = rng.uniform(-128, 127, lab_image[..., 1:].shape)  # mostly out of gamut
    fast, slow = lab.lab_to_rgb_fast(lab_image).astype(int), lab.lab_to_rgb(lab_image, fast=False).astype(int)
    assert np.abs(fast - slow).max() <= 1
    ab_norm = rng.uniform(-0.3, 0.3, (40, 50, 2)).astype(np.float32)
    assert np.abs(lab.merge_l_ab_fast(lab_image[..., 0], ab_norm).astype(int)
                  - lab.merge_l_ab(lab_image[..., 0], ab_norm, fast=False).astype(int)).max() <= 1


def test_alpha_trains_from_a_repeated_dataset():
    from alpha.train import training_data

    train_data, steps = training_data(colour_image(20, 28), 8)
    assert steps == 1
    x, y = next(iter(train_data))
    assert x.shape == (1, 24, 32, 1) and y.shape == (1, 24, 32, 2)


def test_colorizing_commands_take_precision_auto_and_bfloat16_gives_the_same_picture(tmp_path):
    from beta.model import build_model
    from shared import ab_bins, commands, evaluate, video

    for parser in (commands.build_test_parser("beta", tmp_path), video.build_parser(), evaluate.build_parser()):
        assert parser.parse_args([]).precision == "auto"
        assert parser.parse_args(["--precision", "float32"]).precision == "float32"
    keras.utils.set_random_seed(0)
    ab_bins.with_decoding(build_model(32)).save(tmp_path / "beta.keras")
    rgb = colour_image(40, 48)
    pictures = {}
    for precision in ("float32", "bfloat16"):
        colorizer = inference.load_colorizer(str(tmp_path / "beta.keras"), precision=precision)
        convolutions = [layer for layer in colorizer.model.layers if isinstance(layer, keras.layers.Conv2D)]
        assert {layer.dtype_policy.name for layer in convolutions} == {
            "float32" if precision == "float32" else "mixed_bfloat16"}
        pictures[precision] = colorizer.colorize([rgb])[0].astype(int)
    assert pictures["float32"].shape == (40, 48, 3)
    assert np.abs(pictures["float32"] - pictures["bfloat16"]).mean() < 1.0  # levels in 255


def _same_weights(model, other):
    return len(model.weights) == len(other.weights) and all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(model.weights, other.weights))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_model_folded_at_load_is_the_model_loaded_then_folded(tmp_path, precision):
    from shared import efficientnet, layers

    model = efficientnet.build_classifier((32, 32, 3), weights=None)  # BatchNorms in a nested model
    rng = np.random.default_rng(0)
    for layer in layers.all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):  # statistics that make the fold matter
            layer.set_weights([rng.uniform(0.5, 2, w.shape).astype(np.float32) for w in layer.get_weights()])
    path = tmp_path / "model.keras"
    model.save(path)
    folded_at_load = accel.load_for_inference(path, precision)
    loaded_then_folded = accel.for_inference(keras.models.load_model(path, compile=False), precision)
    assert not [layer for layer in layers.all_layers(folded_at_load) if isinstance(layer, keras.layers.BatchNormalization)]
    assert [layer.name for layer in layers.all_layers(folded_at_load)] == [
        layer.name for layer in layers.all_layers(loaded_then_folded)]
    assert _same_weights(folded_at_load, loaded_then_folded)
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(folded_at_load(x)), np.asarray(loaded_then_folded(x)))


def test_the_shipped_full_version_folded_at_load_has_the_weights_of_load_then_fold():
    path = inference.cli.shipped_model_path("full_version")
    folded_at_load = accel.load_for_inference(path, "float32")
    assert _same_weights(folded_at_load, accel.for_inference(inference.load_keras_file(path), "float32"))


def test_a_file_laid_out_otherwise_is_loaded_then_folded(tmp_path, monkeypatch):
    from beta.model import build_model
    from shared import layers

    path = tmp_path / "model.keras"
    build_model(16).save(path)
    expected = accel.for_inference(keras.models.load_model(path, compile=False), "float32")

    def unknown(*args):
        raise layers.UnknownLayout("not where Keras 3 puts them")

    monkeypatch.setattr(layers, "load_folded", unknown)
    assert _same_weights(inference.load_for_inference(path, "float32"), expected)
