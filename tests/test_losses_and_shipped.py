"""--loss, --temperature, and the models that ship with the project (own model first, then shipped)."""

import keras
import numpy as np
import pytest
from PIL import Image

import beta.train
from shared import ab_bins, cli, inference, lab
from shared.data import InputError
from conftest import colour_image, run_script, write_image


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for i, (h, w) in enumerate([(40, 48), (37, 53), (48, 40), (44, 44)]):
        write_image(root / f"photo{i}.png", colour_image(h, w, seed=i))
    return root


@pytest.mark.parametrize("loss", ["classification", "regression"])
def test_beta_trains_with_each_loss_saves_reloads_and_colorizes(photos, tmp_path, loss):
    model_path = tmp_path / f"beta_{loss}.keras"
    argv = ["--images", str(photos), "--epochs", "2", "--image-size", "32", "--batch-size", "2",
            "--model-out", str(model_path), "--loss", loss]
    assert beta.train.main(argv) == 0
    model = inference.load_model(str(model_path))
    assert ab_bins.loss_of(model) == loss
    assert model.output_shape == (None, 32, 32, 2)  # ab_norm at the input size, whatever the loss
    result = run_script("beta/test.py", "--model", model_path, "--input", photos, "--output", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    for source in sorted(photos.iterdir()):
        assert Image.open(tmp_path / "out" / f"{source.stem}.png").size == Image.open(source).size


def test_classification_is_the_default_and_its_weights_survive_resume(photos, tmp_path):
    model_path = tmp_path / "beta.keras"
    common = ["--images", str(photos), "--image-size", "32", "--batch-size", "2", "--model-out", str(model_path)]
    beta.train.main(common + ["--epochs", "1"])
    state = keras.models.load_model(model_path.with_name("beta.state.keras"))
    weights = np.array(state.loss.class_weights)
    assert isinstance(state.loss, ab_bins.RebalancedCrossEntropy) and weights.std() > 0
    beta.train.main(common + ["--epochs", "2", "--resume"])
    resumed = keras.models.load_model(model_path.with_name("beta.state.keras"))
    np.testing.assert_allclose(resumed.loss.class_weights, weights)


def test_temperature_changes_a_classification_model_and_is_refused_for_regression(photos, tmp_path):
    model = ab_bins.with_decoding(beta_logits_model())
    path = tmp_path / "cls.keras"
    model.save(path)
    l_channel = np.linspace(0, 100, 32 * 32, dtype=np.float32).reshape(32, 32)
    calm = inference.load_colorizer(str(path), temperature=1.0).predict_ab([l_channel])[0]
    vivid = inference.load_colorizer(str(path), temperature=0.1).predict_ab([l_channel])[0]
    assert np.abs(vivid).mean() > np.abs(calm).mean()

    regression = tmp_path / "reg.keras"
    from beta.model import build_model

    build_model(image_size=32, loss="regression").save(regression)
    result = run_script("beta/test.py", "--model", regression, "--input", photos, "--output", tmp_path / "o",
                        "--temperature", "0.2")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --temperature applies only to models trained")


def beta_logits_model():
    from beta.model import build_model

    model = build_model(image_size=32)
    last = model.layers[-1]  # make the bins' distribution broad but not flat, so T matters
    kernel, bias = last.get_weights()
    last.set_weights([kernel, np.random.default_rng(0).normal(0, 2, bias.shape).astype(np.float32)])
    return model


def test_a_tier_name_means_the_own_model_first_then_the_shipped_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "MODELS", tmp_path)
    assert cli.model_path("beta") == cli.shipped_model_path("beta") == cli.REPO_ROOT / "beta" / "pretrained.keras"
    inference.load_model("beta")
    assert capsys.readouterr().out.strip() == f"model: {cli.shipped_model_path('beta')} (shipped; `python beta/train.py` trains your own)"

    own = tmp_path / "beta.keras"
    keras.models.load_model(cli.shipped_model_path("beta")).save(own)
    assert cli.model_path("beta") == own
    inference.load_model("beta")
    assert capsys.readouterr().out.strip() == f"model: {own}"

    assert cli.model_path("alpha") == tmp_path / "alpha.keras"  # alpha ships nothing
    with pytest.raises(InputError, match="no trained model at .*alpha.keras: train one with `python alpha/train.py`"):
        inference.load_model("alpha")
    with pytest.raises(InputError, match="no trained model at .*missing.keras"):
        inference.load_model(str(tmp_path / "missing.keras"))


@pytest.mark.parametrize("tier", ["beta", "full_version"])
def test_each_shipped_model_colorizes_a_photo_in_colour(tier):
    path = cli.shipped_model_path(tier)
    assert path.stat().st_size < 20e6
    colorizer = inference.load_colorizer(str(path))
    rgb = colour_image(72, 96, seed=3)
    (result,) = colorizer.colorize([rgb])
    assert result.shape == rgb.shape
    chroma = np.hypot(*np.moveaxis(lab.rgb_to_lab(result)[..., 1:], -1, 0))
    assert chroma.mean() > 5.0  # ab units: visibly coloured, not grey
    np.testing.assert_allclose(lab.rgb_to_l(result), lab.rgb_to_l(rgb), atol=1.5)  # the input's own L


@pytest.mark.parametrize("temperature", [None, 0.9])
def test_shipping_copy_has_float16_weights_the_log_and_the_temperature_asked(tmp_path, temperature):
    import io
    import zipfile

    import h5py

    from beta.model import build_model
    from shared import pretrained

    keras.utils.set_random_seed(0)
    source, copy = tmp_path / "beta.keras", tmp_path / "ship" / "pretrained.keras"
    model = ab_bins.with_decoding(build_model(16))
    model.save(source)
    source.with_suffix(".log.csv").write_text("epoch,loss,val_loss\n0,4.5,5.0\n")
    assert pretrained.main([str(source), str(copy)] + (["--temperature", str(temperature)] if temperature else [])) == 0

    with zipfile.ZipFile(copy) as archive, h5py.File(io.BytesIO(archive.read(pretrained.WEIGHTS_FILE))) as weights:
        dtypes = set()
        weights.visititems(lambda name, item: dtypes.add(item.dtype) if isinstance(item, h5py.Dataset) else None)
    assert dtypes == {np.dtype(np.float16)}
    assert copy.with_suffix(".log.csv").read_text() == source.with_suffix(".log.csv").read_text()
    loaded = inference.load_keras_file(copy)
    assert ab_bins.decoding_layer(loaded).temperature == pytest.approx(temperature or ab_bins.DEFAULT_TEMPERATURE)
    l_norm = np.random.default_rng(0).uniform(0, 1, (1, 16, 16, 1)).astype(np.float32)
    if temperature:
        inference.set_temperature(model, temperature)
    np.testing.assert_allclose(loaded.predict_on_batch(l_norm), model.predict_on_batch(l_norm), atol=5e-3)
