"""The full_version tier: block shapes, the fusion, both embeddings, the cache, save and load, train and test."""

import csv

import keras
import numpy as np
import pytest
from PIL import Image

from full_version import test as fv_test
from full_version import train as fv_train
from beta import train as beta_train
from beta.model import build_model as build_beta
from full_version.model import (IMAGENET_EMBEDDING_SIZE, build_decoder, build_encoder, build_global_features, build_model,
                                start_from_beta)
from shared import ab_bins, commands, inference
from shared import global_features as fv_embedding
from shared.layers import TileAndConcatenate, embedding_of
from shared.data import InputError

SIZE = 32  # px, training size of the tiny models


def write_photos(folder, sizes=((48, 40), (40, 56), (64, 64), (24, 20))):
    """Small smooth colour images (width, height), each with its own hue, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (width, height) in enumerate(sizes):
        y, x = np.mgrid[0:height, 0:width]
        rgb = np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 60 * i)], axis=-1)
        paths.append(folder / f"photo{i}.png")
        Image.fromarray(rgb.astype(np.uint8)).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def inception():
    """InceptionResNetV2 with random weights: the real shapes and preprocessing, no download."""
    from keras.applications.inception_resnet_v2 import InceptionResNetV2

    return InceptionResNetV2(weights=None)


def test_every_block_has_the_documented_shape():
    l_norm = np.random.default_rng(0).uniform(0, 1, (1, 256, 256, 1)).astype(np.float32)
    local_features = build_encoder(256)(l_norm)
    assert tuple(local_features.shape) == (1, 32, 32, 128)
    assert tuple(build_global_features(32)(local_features).shape) == (1, 256)
    ab_norm = np.asarray(build_decoder(32, loss="regression")(local_features))
    assert ab_norm.shape == (1, 256, 256, 2)
    assert np.abs(ab_norm).max() <= 1.0
    assert tuple(build_decoder(32)(local_features).shape) == (1, 64, 64, ab_bins.N_BINS)  # bin logits at 1/4

    learned = build_model(256, embedding="learned")
    assert ab_bins.with_decoding(learned).predict_on_batch(l_norm).shape == (1, 256, 256, 2)
    assert learned.get_layer("fusion").output.shape[1:] == (32, 32, 128)
    imagenet = build_model(256, embedding="imagenet")
    assert [tuple(i.shape[1:]) for i in imagenet.inputs] == [(256, 256, 1), (IMAGENET_EMBEDDING_SIZE,)]
    assert embedding_of(learned) == "learned" and embedding_of(imagenet) == "imagenet"
    with pytest.raises(ValueError, match="embedding"):
        build_model(256, embedding="clip")


def test_fusion_puts_each_images_vector_at_every_position():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 4, 3, 5)).astype(np.float32)
    vectors = rng.normal(size=(2, 7)).astype(np.float32)
    fused = np.asarray(TileAndConcatenate()([features, vectors]))
    assert fused.shape == (2, 4, 3, 12)
    np.testing.assert_array_equal(fused[..., :5], features)
    for i in range(2):
        np.testing.assert_array_equal(fused[i, :, :, 5:], np.broadcast_to(vectors[i], (4, 3, 7)))


def test_two_global_vectors_give_two_colorings_of_the_same_l():
    keras.utils.set_random_seed(1)
    model = ab_bins.with_decoding(build_model(SIZE, embedding="imagenet"))
    l_norm = np.repeat(np.random.default_rng(0).uniform(0, 1, (1, SIZE, SIZE, 1)), 2, axis=0).astype(np.float32)
    vectors = np.stack([np.zeros(IMAGENET_EMBEDDING_SIZE), np.full(IMAGENET_EMBEDDING_SIZE, 3.0)]).astype(np.float32)
    ab_both = np.asarray(model.predict_on_batch({"l_norm": l_norm, "embedding": vectors}))
    assert np.abs(ab_both[0] - ab_both[1]).max() > 1e-3
    # each image gets its own vector, not the batch's: alone it colours the same as in the batch
    ab_second = np.asarray(model.predict_on_batch({"l_norm": l_norm[1:], "embedding": vectors[1:]}))
    np.testing.assert_allclose(ab_second[0], ab_both[1], atol=1e-5)


@pytest.mark.parametrize("embedding", ["learned", "imagenet"])
def test_started_from_beta_it_colorizes_exactly_as_that_beta_until_trained(embedding):
    keras.utils.set_random_seed(2)
    beta = ab_bins.with_decoding(build_beta(SIZE))
    full = build_model(SIZE, embedding=embedding)
    start_from_beta(full, beta)
    rng = np.random.default_rng(0)
    l_norm = rng.uniform(0, 1, (2, SIZE, SIZE, 1)).astype(np.float32)
    inputs = l_norm if embedding == "learned" else {
        "l_norm": l_norm, "embedding": rng.uniform(0, 1, (2, IMAGENET_EMBEDDING_SIZE)).astype(np.float32)}
    ab_beta = np.asarray(beta.predict_on_batch(l_norm))
    assert np.abs(ab_beta).mean() > 1e-3  # a real colouring to compare, not zeros
    np.testing.assert_allclose(ab_bins.with_decoding(full).predict_on_batch(inputs), ab_beta, atol=1e-6)


def test_start_from_beta_refuses_a_model_that_is_not_beta():
    with pytest.raises(InputError, match="not a beta model"):
        start_from_beta(build_model(SIZE), build_beta(SIZE, loss="regression"))


def test_init_from_trains_from_a_beta_file_and_not_with_resume(tmp_path, capsys):
    write_photos(tmp_path / "photos")
    common = ["--images", str(tmp_path / "photos"), "--image-size", str(SIZE), "--batch-size", "2", "--epochs", "1"]
    beta_train.main(common + ["--model-out", str(tmp_path / "beta.keras")])
    capsys.readouterr()
    fv_argv = common + ["--embedding", "learned", "--model-out", str(tmp_path / "fv.keras")]
    fv_train.main(fv_argv + ["--init-from", str(tmp_path / "beta.keras")])
    assert f"model: {tmp_path / 'beta.keras'}" in capsys.readouterr().out  # says which beta it starts from
    trained = inference.load_keras_file(tmp_path / "fv.keras")
    assert embedding_of(trained) == "learned"
    # beta's encoder and decoder stayed as they were; the fusion learned (it started as the identity)
    beta_weights = [w for layer in inference.load_keras_file(tmp_path / "beta.keras").layers for w in layer.get_weights()]
    own_weights = [w for name in ("encoder", "decoder") for w in trained.get_layer(name).get_weights()]
    assert len(own_weights) == len(beta_weights)
    for own, beta in zip(own_weights, beta_weights):
        np.testing.assert_array_equal(own, beta)
    fusion_kernel = trained.get_layer("fusion").get_weights()[0][0, 0]
    assert np.abs(fusion_kernel[:128] - np.eye(128)).max() > 0 and np.abs(fusion_kernel[128:]).max() > 0
    with pytest.raises(InputError, match="--init-from starts a new training"):
        fv_train.main(fv_argv + ["--init-from", str(tmp_path / "beta.keras"), "--resume"])


def test_imagenet_embedder_feeds_the_grayscale_image_scaled_from_0_to_255(inception):
    black, white = np.zeros((30, 40), np.float32), np.full((320, 300), 100.0, np.float32)
    mid_gray = np.full((50, 50), 50.0, np.float32)  # L = 50 is sRGB gray 119
    x = fv_embedding.ImagenetEmbedder.classifier_input([black, white, mid_gray])
    assert x.shape == (3, 299, 299, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[..., 0], x[..., 1])  # gray: equal channels
    np.testing.assert_allclose([x[0].mean(), x[1].mean(), x[2].mean()], [-1.0, 1.0, 119 / 127.5 - 1], atol=0.01)

    embedder = fv_embedding.ImagenetEmbedder(inception, batch_size=2)
    vectors = embedder([black, white, mid_gray])
    assert vectors.shape == (3, IMAGENET_EMBEDDING_SIZE)
    np.testing.assert_allclose(vectors.sum(axis=1), 1.0, atol=1e-4)  # class probabilities
    assert embedder.images_embedded == 3


def test_auto_uses_imagenet_only_when_its_weights_are_already_downloaded(tmp_path, capsys):
    assert fv_embedding.choose_embedding("auto", [tmp_path]) == "learned"
    assert "--embedding imagenet" in capsys.readouterr().out
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / fv_embedding.WEIGHTS_FILE).write_bytes(b"weights")
    assert fv_embedding.choose_embedding("auto", [tmp_path]) == "imagenet"
    assert fv_embedding.choose_embedding("learned", [tmp_path]) == "learned"
    assert fv_embedding.choose_embedding("imagenet", [tmp_path / "empty"]) == "imagenet"


def read_pngs(folder):
    return {p.stem: np.asarray(Image.open(p)) for p in folder.glob("*.png") if p.name != "comparison.png"}


def test_learned_trains_and_colorizes_every_photo_at_its_own_size(tmp_path):
    photos = write_photos(tmp_path / "photos")
    model_path = tmp_path / "fv.keras"
    fv_train.main(["--images", str(tmp_path / "photos"), "--epochs", "2", "--image-size", str(SIZE),
                   "--batch-size", "2", "--embedding", "learned", "--model-out", str(model_path)])
    assert model_path.exists()
    with open(tmp_path / "fv.log.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]

    colorizer = inference.load_colorizer(str(model_path))
    assert colorizer.embedding == "learned"
    assert colorizer.min_side == 8  # the encoder's stride; the global branch's does not count

    assert fv_test.main(["--model", str(model_path), "--input", str(tmp_path / "photos"),
                         "--output", str(tmp_path / "out")]) == 0
    results = read_pngs(tmp_path / "out")
    assert sorted(results) == sorted(p.stem for p in photos)  # the 24x20 photo too
    for path in photos:
        assert results[path.stem].shape == np.asarray(Image.open(path)).shape
    assert (tmp_path / "out" / "comparison.png").exists()
    with open(tmp_path / "out" / "metrics.csv") as f:
        assert len(list(csv.DictReader(f))) == len(photos)


def test_imagenet_embeddings_are_computed_once_and_read_from_disk_after(tmp_path, inception):
    write_photos(tmp_path / "photos")
    model_path = tmp_path / "fv.keras"
    argv = ["--images", str(tmp_path / "photos"), "--image-size", str(SIZE), "--batch-size", "2",
            "--val-share", "0.25", "--embedding", "imagenet", "--model-out", str(model_path)]

    first = fv_embedding.ImagenetEmbedder(inception)
    fv_train.main(argv + ["--epochs", "2"], embedder=first)
    assert first.images_embedded == 4  # 3 training + 1 validation image, once each over 2 epochs
    assert fv_embedding.cache_path(model_path).exists()

    second = fv_embedding.ImagenetEmbedder(inception)
    fv_train.main(argv + ["--epochs", "1", "--overwrite"], embedder=second)  # a new model, the same cache
    assert second.images_embedded == 0  # all from the cache file

    (tmp_path / "photos" / "photo0.png").write_bytes((tmp_path / "photos" / "photo1.png").read_bytes())
    third = fv_embedding.ImagenetEmbedder(inception)
    fv_train.main(argv + ["--epochs", "1", "--overwrite"], embedder=third)  # a new model, the same cache
    assert third.images_embedded == 1  # a changed file is embedded again

    colorizer = inference.load_colorizer(str(model_path))
    assert colorizer.embedding == "imagenet"
    colorizer.embedder = fv_embedding.ImagenetEmbedder(inception)
    assert commands.run_test("full_version", None, ["--model", str(model_path), "--input", str(tmp_path / "photos"),
                             "--output", str(tmp_path / "out")], colorizer=colorizer) == 0
    assert len(read_pngs(tmp_path / "out")) == 4
    assert colorizer.embedder.images_embedded == 4


@pytest.mark.parametrize("embedding", ["learned", "imagenet"])
def test_a_saved_model_loads_and_predicts_the_same(tmp_path, embedding):
    model = ab_bins.with_decoding(build_model(SIZE, embedding=embedding))
    rng = np.random.default_rng(0)
    inputs = rng.uniform(0, 1, (2, SIZE, SIZE, 1)).astype(np.float32)
    if embedding == "imagenet":
        inputs = {"l_norm": inputs, "embedding": rng.uniform(0, 1, (2, IMAGENET_EMBEDDING_SIZE)).astype(np.float32)}
    model.save(tmp_path / "fv.keras")
    loaded = inference.load_model(str(tmp_path / "fv.keras"))
    assert embedding_of(loaded) == embedding
    np.testing.assert_allclose(loaded.predict_on_batch(inputs), model.predict_on_batch(inputs), atol=1e-6)


def test_resume_keeps_the_embedding_it_started_with(tmp_path, capsys, monkeypatch):
    write_photos(tmp_path / "photos")
    common = ["--images", str(tmp_path / "photos"), "--image-size", str(SIZE), "--batch-size", "2",
              "--model-out", str(tmp_path / "fv.keras")]
    fv_train.main(common + ["--embedding", "learned", "--epochs", "1"])
    with pytest.raises(InputError, match="--embedding learned"):
        fv_train.main(common + ["--embedding", "imagenet", "--epochs", "2", "--resume"])
    # auto resumes with what the interrupted training used, even where auto would now pick imagenet
    monkeypatch.setattr(fv_train, "choose_embedding", lambda choice: "imagenet")
    monkeypatch.setattr(fv_train, "ImagenetEmbedder", None)  # must not be needed
    capsys.readouterr()
    fv_train.main(common + ["--epochs", "2", "--resume"])
    assert "global features: learned" in capsys.readouterr().out
    with open(tmp_path / "fv.log.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]


def test_imagenet_weights_that_cannot_be_loaded_are_a_clear_error(monkeypatch):
    import keras.applications.inception_resnet_v2 as applications

    def offline(**kwargs):
        raise OSError("URL fetch failure")

    monkeypatch.setattr(applications, "InceptionResNetV2", offline)
    with pytest.raises(InputError, match="--embedding learned"):
        fv_embedding.ImagenetEmbedder()([np.zeros((16, 16), np.float32)])
