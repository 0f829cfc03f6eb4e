import keras
import numpy as np
import pytest

from alpha.model import build_model as build_alpha
from beta.model import build_model as build_beta
from shared import ab_bins
from shared.inference import Colorizer
from shared.layers import total_stride
from shared.data import InputError


def test_alpha_is_a_small_fully_convolutional_net():
    model = build_alpha()
    assert model.count_params() == 32202
    assert model.input_shape == (None, None, None, 1)
    assert total_stride(model) == 8
    ab = model.predict_on_batch(np.zeros((2, 48, 64, 1), np.float32))
    assert ab.shape == (2, 48, 64, 2)
    assert model.layers[-1].activation.__name__ == "tanh"


def test_beta_is_the_3_9m_encoder_decoder():
    model = build_beta(loss="regression")
    assert model.count_params() == 3892194
    assert model.input_shape == (None, 256, 256, 1)
    assert model.output_shape == (None, 256, 256, 2)
    assert total_stride(model) == 8
    small = build_beta(image_size=32, loss="regression")
    assert small.predict_on_batch(np.zeros((1, 32, 32, 1), np.float32)).shape == (1, 32, 32, 2)


def test_beta_classification_predicts_bins_at_a_quarter_and_saves_decoded():
    model = build_beta()
    assert model.input_shape == (None, 256, 256, 1)
    assert model.output_shape == (None, 64, 64, ab_bins.N_BINS)
    assert isinstance(model.layers[-1], keras.layers.Conv2D) and model.layers[-1].kernel_size == (1, 1)
    saved = ab_bins.with_decoding(model)
    assert saved.output_shape == (None, 256, 256, 2) and ab_bins.loss_of(saved) == "classification"
    assert np.abs(saved.predict_on_batch(np.zeros((1, 256, 256, 1), np.float32))).max() <= 1


def decoded(model):
    return ab_bins.with_decoding(model) if ab_bins.is_classifier(model) else model


@pytest.mark.parametrize("height,width", [(37, 53), (8, 8), (101, 9)])
def test_colorizer_gives_back_the_input_size(height, width):
    l_channel = np.random.default_rng(0).uniform(0, 100, (height, width)).astype(np.float32)
    for model in (build_alpha(), decoded(build_beta(image_size=32)), decoded(build_alpha(loss="classification"))):
        (ab,) = Colorizer(model).predict_ab([l_channel])
        assert ab.shape == (height, width, 2)
        assert np.abs(ab).max() <= 1


def test_colorizer_batches_mixed_sizes_like_one_at_a_time():
    rng = np.random.default_rng(1)
    images = [rng.uniform(0, 100, shape).astype(np.float32) for shape in [(16, 24), (20, 20), (16, 24)]]
    for model in (build_alpha(), decoded(build_beta(image_size=32))):
        together = Colorizer(model, batch_size=8).predict_ab(images)
        alone = [Colorizer(model, batch_size=1).predict_ab([image])[0] for image in images]
        for a, b in zip(together, alone):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_too_small_images_are_refused_with_the_minimum():
    with pytest.raises(InputError, match="at least 8x8"):
        Colorizer(build_alpha()).predict_ab([np.zeros((5, 30), np.float32)])
