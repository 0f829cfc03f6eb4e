"""The full_version tier: EfficientNet-Lite0 encoder, global vector, decoder with skips, hints; train, resume, test."""

import csv
from unittest import mock

import keras
import numpy as np
import pytest
from PIL import Image

from full_version import test as fv_test
from full_version import train as fv_train
from full_version.model import build_model, unfreeze_encoder
from shared import ab_bins, efficientnet, hints, inference
from shared.data import InputError
from shared.layers import TileAndConcatenate, embedding_of

SIZE = 64  # px, training size of the tiny models (a multiple of the encoder's 32)


def write_photos(folder, sizes=((72, 64), (64, 88), (96, 96), (40, 36))):
    """Small smooth colour images (width, height), each with its own hue, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (width, height) in enumerate(sizes):
        y, x = np.mgrid[0:height, 0:width]
        rgb = np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 60 * i)], axis=-1)
        paths.append(folder / f"photo{i}.png")
        Image.fromarray(rgb.astype(np.uint8)).save(paths[-1])
    return paths


def read_pngs(folder):
    return {p.stem: np.asarray(Image.open(p)) for p in folder.glob("*.png") if p.name != "comparison.png"}


def no_hints(count, side):
    return {"hints": np.zeros((count, side, side, hints.HINT_CHANNELS), np.float32),
            "palette": np.zeros((count, hints.PALETTE_SIZE), np.float32)}


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model(SIZE)


@pytest.mark.parametrize("side", [64, 96])
def test_the_network_has_the_documented_inputs_and_outputs(side):
    model = build_model(side)
    assert sorted(hints.input_names(model)) == ["hints", "l_norm", "palette"]
    l_norm = np.random.default_rng(0).uniform(0, 1, (2, side, side, 1)).astype(np.float32)
    guided, automatic = model.predict_on_batch({"l_norm": l_norm, **no_hints(2, side)})
    assert guided.shape == automatic.shape == (2, side // 4, side // 4, ab_bins.N_BINS)
    np.testing.assert_array_equal(guided, automatic)  # no guidance: the automatic colours, exactly
    assert ab_bins.with_decoding(model).predict_on_batch({"l_norm": l_norm, **no_hints(2, side)}).shape == (2, side, side, 2)
    assert embedding_of(model) == "efficientnet"
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model(72)


def test_the_encoder_starts_from_imagenet_and_stays_frozen_until_fine_tuned(model):
    encoder = model.get_layer("encoder")
    assert not encoder.trainable and not encoder.trainable_weights
    with np.load(efficientnet.WEIGHTS_PATH) as stored:
        kernel = stored["block5_depthwise/kernel"].astype(np.float32)
    np.testing.assert_array_equal(encoder.get_layer("block5_depthwise").get_weights()[0], kernel)
    assert model.trainable_weights  # the decoder, hints and global vector train

    tuned = unfreeze_encoder(build_model(SIZE), 1e-5)
    tuned_encoder = tuned.get_layer("encoder")
    assert tuned_encoder.get_layer("block5_depthwise").trainable
    batch_norms = [layer for layer in tuned_encoder.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert batch_norms and not any(layer.trainable for layer in batch_norms)  # ImageNet's statistics stay


def test_the_gray_image_reaches_the_encoder_as_imagenet_range_rgb(model):
    gray_layer = model.get_layer("gray_to_encoder_range")
    out = np.asarray(gray_layer(np.array([[[[0.0]], [[1.0]]]], np.float32)))
    np.testing.assert_allclose(out.ravel(), [-127 / 128, 128 / 128], atol=1e-6)  # L 0..100 -> gray 0..255 -> [-1, 1]


def test_hints_and_the_palette_change_the_colours_and_each_image_keeps_its_own(model):
    rng = np.random.default_rng(1)
    l_norm = np.repeat(rng.uniform(0, 1, (1, SIZE, SIZE, 1)), 2, axis=0).astype(np.float32)
    guidance = no_hints(2, SIZE)
    guidance["hints"][1, 20:30, 20:30] = (0.5, 0.3, 1.0)
    guidance["palette"][1] = hints.palette_of(np.full((8, 8, 2), (0.4, -0.3), np.float32))
    logits, automatic = model.predict_on_batch({"l_norm": l_norm, **guidance})
    assert np.abs(logits[0] - logits[1]).max() > 1e-3
    np.testing.assert_allclose(automatic[0], automatic[1], atol=1e-5)  # the automatic output ignores guidance
    alone = model.predict_on_batch({"l_norm": l_norm[:1], **no_hints(1, SIZE)})[0]
    np.testing.assert_allclose(alone[0], logits[0], atol=1e-4)


def test_without_guidance_colorizing_skips_the_hint_path_and_gives_the_same_colours(model):
    colorizer = inference.Colorizer(ab_bins.with_decoding(model))
    l_channels = [np.random.default_rng(3).uniform(0, 100, (70, 90)).astype(np.float32)]
    automatic = colorizer._automatic
    with mock.patch.object(automatic, "predict_on_batch", wraps=automatic.predict_on_batch) as spy:
        (fast,) = colorizer.predict_ab(l_channels)
    assert spy.call_count == 1  # the automatic part answered
    colorizer._automatic = None
    colorizer.unleaned_guidance = False  # the saved model's own logits: with no guidance, exactly the automatic ones
    (whole,) = colorizer.predict_ab(l_channels)
    np.testing.assert_array_equal(fast, whole)
    (hinted,) = colorizer.predict_ab(l_channels, [[(45, 35, (200, 30, 30))]])
    assert np.abs(hinted - whole).max() > 1e-3


def test_fusion_puts_each_images_vector_at_every_position():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 4, 3, 5)).astype(np.float32)
    vectors = rng.normal(size=(2, 7)).astype(np.float32)
    fused = np.asarray(TileAndConcatenate("efficientnet")([features, vectors]))
    assert fused.shape == (2, 4, 3, 12)
    np.testing.assert_array_equal(fused[..., :5], features)
    for i in range(2):
        np.testing.assert_array_equal(fused[i, :, :, 5:], np.broadcast_to(vectors[i], (4, 3, 7)))


def test_nothing_is_downloaded(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    build_model(SIZE)


def test_trains_resumes_and_colorizes_every_photo_at_its_own_size_with_and_without_hints(tmp_path, capsys):
    photos = write_photos(tmp_path / "photos")
    model_path = tmp_path / "fv.keras"
    common = ["--images", str(tmp_path / "photos"), "--image-size", str(SIZE), "--batch-size", "2",
              "--model-out", str(model_path)]
    fv_train.main(common + ["--epochs", "1"])
    fv_train.main(common + ["--epochs", "2", "--resume"])
    with open(tmp_path / "fv.log.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]

    colorizer = inference.load_colorizer(str(model_path))
    assert colorizer.takes_hints and colorizer.working_size == (SIZE, SIZE)
    assert fv_test.main(["--model", str(model_path), "--input", str(tmp_path / "photos"),
                         "--output", str(tmp_path / "out")]) == 0
    results = read_pngs(tmp_path / "out")
    assert sorted(results) == sorted(p.stem for p in photos)
    for path in photos:
        assert results[path.stem].shape == np.asarray(Image.open(path)).shape

    hints_file = tmp_path / "hints.json"
    hints_file.write_text('[{"x": 10, "y": 12, "color": "#e03020"}]')
    assert fv_test.main(["--model", str(model_path), "--input", str(photos[0]), "--output", str(tmp_path / "hinted"),
                         "--hints", str(hints_file), "--reference", str(photos[2])]) == 0
    hinted = read_pngs(tmp_path / "hinted")["photo0"]
    assert hinted.shape == results["photo0"].shape and np.any(hinted != results["photo0"])


def test_simulated_users_train_the_hint_path_and_leave_the_automatic_colours_as_without_them(tmp_path):
    write_photos(tmp_path / "photos")
    trained = {}
    for flag in ("--hints", "--no-hints"):
        trained[flag] = tmp_path / f"{flag[2:]}.keras"
        fv_train.main(["--images", str(tmp_path / "photos"), "--image-size", str(SIZE), "--batch-size", "2",
                       "--epochs", "2", "--seed", "4", flag, "--model-out", str(trained[flag])])
    with_hints, without = (inference.load_keras_file(trained[flag]) for flag in ("--hints", "--no-hints"))
    changed = set()
    for layer in with_hints.layers:
        if layer.trainable_weights:
            pairs = zip(layer.get_weights(), without.get_layer(layer.name).get_weights())
            if any(np.any(a != b) for a, b in pairs):
                changed.add(layer.name)
    hint_path = {"hints_conv_4", "hints_conv_8", "hints_conv_16", "palette_vector", "hint_conv", "hint_logits"}
    assert {"hints_conv_4", "hint_conv", "hint_logits"} <= changed <= hint_path  # the palette: on a share of images


def test_init_from_copies_a_model_and_refuses_beta_or_resume(tmp_path, model, capsys):
    source = ab_bins.with_decoding(model)
    source.save(tmp_path / "start.keras")
    copy = fv_train.build_for_training(SIZE, 1e-4, start=inference.load_keras_file(tmp_path / "start.keras"))
    l_norm = np.random.default_rng(2).uniform(0, 1, (1, SIZE, SIZE, 1)).astype(np.float32)
    inputs = {"l_norm": l_norm, **no_hints(1, SIZE)}
    np.testing.assert_allclose(copy.predict_on_batch(inputs)[0], model.predict_on_batch(inputs)[0], atol=1e-5)
    with pytest.raises(InputError, match="not a full_version model of this design"):
        fv_train.main(["--init-from", "beta", "--epochs", "1", "--model-out", str(tmp_path / "x.keras")])
    with pytest.raises(InputError, match="--init-from starts a new training"):
        fv_train.main(["--init-from", str(tmp_path / "start.keras"), "--resume"])


def test_a_model_of_the_inception_design_is_a_one_line_error():
    l_norm = keras.Input((32, 32, 1), name="l_norm")
    vector = keras.Input((4,), name="embedding")
    fused = TileAndConcatenate("imagenet")([l_norm, vector])
    old = keras.Model([l_norm, vector], keras.layers.Conv2D(2, 1)(fused), name="full_version")
    with pytest.raises(InputError, match="InceptionResNetV2.*python full_version/train.py"):
        inference.Colorizer(old)


def test_the_shipped_model_takes_hints_and_follows_them():
    colorizer = inference.load_colorizer("full_version/pretrained.keras")
    assert colorizer.takes_hints
    gray = np.full((120, 160, 3), 128, np.uint8)  # no content to go by: the hint decides
    (automatic,), (hinted,) = colorizer.colorize([gray]), colorizer.colorize([gray], [[(80, 60, (40, 90, 220))]])
    assert hinted[60, 80, 2] > automatic[60, 80, 2] + 20 and hinted[60, 80, 2] > hinted[60, 80, 0]  # blue there
    suggestions = colorizer.suggest(gray, 80, 60, k=8)
    assert len(suggestions) == 8 and all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in suggestions)


def test_the_rebuild_script_keeps_the_weights_and_takes_the_prior_of_now(tmp_path, model):
    from scripts import rebuild_full_version

    source = ab_bins.with_decoding(model)
    source.get_layer("hint_prior").distance_sigma = 0.123  # a setting of the past, saved with the model
    source.save(tmp_path / "old.keras")
    rebuild_full_version.main([str(tmp_path / "old.keras"), str(tmp_path / "new.keras"),
                               "--image-size", str(SIZE), "--temperature", "1.5"])
    rebuilt = inference.load_keras_file(tmp_path / "new.keras")
    assert rebuilt.get_layer("hint_prior").distance_sigma == hints.HINT_DISTANCE_SIGMA
    assert rebuilt.get_layer("hint_prior").colour_sigma == hints.HINT_COLOUR_SIGMA
    assert ab_bins.decoding_layer(rebuilt).temperature == 1.5
    old_weights = {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    for layer in rebuilt.layers:
        if layer.weights:
            for old, new in zip(old_weights.pop(layer.name), layer.get_weights(), strict=True):
                np.testing.assert_array_equal(new, old)
    assert not old_weights


def test_the_neutral_lean_starts_near_nothing_is_new_to_older_models_and_leans_toward_grey(tmp_path):
    keras.utils.set_random_seed(1)
    older = build_model(SIZE, neutral_lean=False)  # a model trained before the lean
    leaning = fv_train.build_for_training(SIZE, 1e-4, start=older)
    assert "neutral_lean" in {layer.name for layer in leaning.layers}
    l_norm = np.random.default_rng(4).uniform(0, 1, (1, SIZE, SIZE, 1)).astype(np.float32)
    inputs = {"l_norm": l_norm, **no_hints(1, SIZE)}
    before = ab_bins.annealed_mean(older.predict_on_batch(inputs)[1], 2.0)
    np.testing.assert_allclose(ab_bins.annealed_mean(leaning.predict_on_batch(inputs)[1], 2.0), before, atol=0.01)
    lean = leaning.get_layer("neutral_lean")
    lean.bias.assign([3.0 / lean.gain])  # a scene it has learned to be grey
    decoded = ab_bins.with_decoding(leaning, 2.0)
    decoded.save(tmp_path / "leaning.keras")  # saved (before a Colorizer splits it into parts) with its lean
    (grey,) = inference.Colorizer(decoded).predict_ab([l_norm[0, ..., 0] * 100])
    assert np.abs(grey).mean() < 0.5 * np.abs(keras.ops.convert_to_numpy(before)).mean()
    reloaded = inference.Colorizer(inference.load_keras_file(tmp_path / "leaning.keras"))
    np.testing.assert_allclose(reloaded.predict_ab([l_norm[0, ..., 0] * 100])[0], grey, atol=1e-5)
