"""EfficientNet-Lite0 with the converted ImageNet weights: it classifies photos, in colour and in gray."""

import cv2
import keras
import numpy as np
import pytest
import skimage.data

from shared import efficientnet, layers

# scikit-image's sample photos (offline) and the ImageNet classes each may rightly get
KNOWN_PHOTOS = {
    "chelsea": {281, 282, 283, 285, 287},  # tabby, tiger cat, Persian, Egyptian cat, lynx
    "coffee": {967, 968, 504},  # espresso, cup, coffee mug
    "rocket": {657, 744, 812},  # missile, projectile, space shuttle
}


@pytest.fixture(scope="module")
def classifier():
    return efficientnet.build_classifier()


def classifier_inputs(rgbs):
    return efficientnet.preprocess(np.stack([cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA)
                                             for rgb in rgbs]).astype(np.float32))


def test_sample_photos_get_their_class_in_the_top_5_in_colour_and_in_gray(classifier):
    colour = [getattr(skimage.data, name)() for name in KNOWN_PHOTOS]
    gray = [np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1) for rgb in colour]
    probabilities = classifier.predict(classifier_inputs(colour + gray), verbose=0)
    top5 = np.argsort(-probabilities, axis=1)[:, :5]
    for row, name in enumerate(list(KNOWN_PHOTOS) * 2):
        kind = "colour" if row < len(KNOWN_PHOTOS) else "gray"
        assert KNOWN_PHOTOS[name] & set(top5[row]), f"{name} in {kind}: top 5 {top5[row]}"
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_every_converted_weight_finds_its_layer_and_shape(classifier):
    with np.load(efficientnet.WEIGHTS_PATH) as stored:
        for key in stored.files:
            layer_name, param = key.split("/")
            weight = next(w for w in classifier.get_layer(layer_name).weights if w.name == param)
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), stored[key].astype(np.float32))
    assert efficientnet.WEIGHTS_PATH.stat().st_size < 10e6  # float16, in the repository


def test_a_weights_file_for_another_network_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", **{"not_a_layer/kernel": np.zeros(3, np.float16)})
    with pytest.raises(ValueError, match="no layer"):
        efficientnet.build_classifier(weights=tmp_path / "other.npz")


@pytest.mark.parametrize("side", [64, 96, 160])
def test_features_at_every_scale_have_the_documented_shapes(side):
    model = efficientnet.build_classifier((side, side, 3), weights=None)
    names = efficientnet.FEATURE_STRIDES
    features = keras.Model(model.input, [model.get_layer(name).output for name in names])
    outputs = features(np.zeros((2, side, side, 3), np.float32))
    for (name, stride), output in zip(names.items(), outputs):
        assert tuple(output.shape) == (2, side // stride, side // stride, efficientnet.FEATURE_CHANNELS[stride]), name


def test_the_converter_renames_and_transposes_as_keras_expects():
    from scripts import convert_efficientnet_lite0 as convert

    assert convert.keras_name("_blocks.3._depthwise_conv.weight") == ("block3_depthwise", "kernel")
    assert convert.keras_name("_blocks.0._bn1.running_var") == ("block0_depthwise_bn", "moving_variance")
    assert convert.keras_name("_blocks.5._bn0.weight") == ("block5_expand_bn", "gamma")
    assert convert.keras_name("_bn0.bias") == ("stem_bn", "beta")
    assert convert.keras_name("_bn1.num_batches_tracked")[1] is None
    torch_conv = np.arange(4 * 3 * 2 * 2).reshape(4, 3, 2, 2)  # (out, in, kh, kw)
    assert convert.to_keras("stem", torch_conv)[1, 0, 2, 3] == torch_conv[3, 2, 1, 0]
    torch_depthwise = np.arange(5 * 1 * 3 * 3).reshape(5, 1, 3, 3)
    assert convert.to_keras("block1_depthwise", torch_depthwise).shape == (3, 3, 5, 1)
    assert convert.to_keras("classifier", np.zeros((1000, 1280))).shape == (1280, 1000)


def test_folding_batch_norms_keeps_the_outputs_and_leaves_no_foldable_batch_norm():
    """EfficientNet inside a model, as full_version holds it: folded, its BatchNorms are gone (but one after
    a convolution that something else reads too) and the outputs are the same to float32 rounding."""
    rng = np.random.default_rng(0)
    encoder = efficientnet.build_classifier((64, 64, 3), weights=None)
    for layer in encoder.layers:  # statistics far from the identity, so a wrong fold shows
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, channels), rng.normal(0, 0.5, channels),
                               rng.normal(0, 0.5, channels), rng.uniform(0.5, 2, channels)])
    rgb = keras.Input((64, 64, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="read_twice")(rgb)
    normalized = keras.layers.BatchNormalization(name="read_twice_bn")(conv)
    outer = keras.Model(rgb, [encoder(rgb), keras.layers.Add()([conv, normalized])])
    folded = layers.fold_batch_norms(outer)

    batch_norms = [layer.name for layer in layers.all_layers(folded) if isinstance(layer, keras.layers.BatchNormalization)]
    assert batch_norms == ["read_twice_bn"]
    images = rng.uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    for expected, got in zip(outer.predict_on_batch(images), folded.predict_on_batch(images)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert layers.fold_batch_norms(folded) is folded  # nothing left to fold
