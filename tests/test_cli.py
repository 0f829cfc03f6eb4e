"""The tiers' scripts as a user runs them: files written, sizes kept, clear errors."""

import numpy as np
import pytest
from PIL import Image

import alpha.test
import alpha.train
import beta.test
import beta.train
from shared import cli, data, lab
from conftest import colour_image, run_script, write_image


def run_main(main, argv):
    """Run a script's main the way `python script.py` does; return its exit code."""
    with pytest.raises(SystemExit) as exit_info:
        cli.run(main, argv)
    return exit_info.value.code


@pytest.fixture(scope="module")
def trained_beta(tmp_path_factory):
    """A beta model trained one epoch at 32x32 on four small photos, via the real script."""
    root = tmp_path_factory.mktemp("beta")
    for i, (h, w) in enumerate([(40, 48), (37, 53), (48, 40), (44, 44)]):
        write_image(root / "photos" / f"photo{i}.png", colour_image(h, w, seed=i))
    model_path = root / "beta.keras"
    result = run_script("beta/train.py", "--images", root / "photos", "--epochs", 2, "--image-size", 32,
                        "--batch-size", 2, "--model-out", model_path)
    assert result.returncode == 0, result.stderr
    assert "training images/s" in result.stdout
    return root, model_path


def test_beta_train_then_test_writes_one_png_per_input_at_its_size(trained_beta, tmp_path):
    root, model_path = trained_beta
    assert model_path.exists() and model_path.with_suffix(".log.csv").exists()
    result = run_script("beta/test.py", "--model", model_path, "--input", root / "photos", "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    for source in sorted((root / "photos").iterdir()):
        written = Image.open(tmp_path / f"{source.stem}.png")
        assert written.mode == "RGB" and written.size == Image.open(source).size
    assert (tmp_path / "comparison.png").exists() and (tmp_path / "metrics.csv").exists()
    assert "PSNR" in result.stdout and "SSIM" in result.stdout and "colorfulness" in result.stdout


def test_results_never_borrow_the_input_colours(trained_beta, tmp_path):
    _, model_path = trained_beta
    rgb = colour_image(30, 40, seed=7)
    write_image(tmp_path / "in" / "colour.png", rgb)
    write_image(tmp_path / "in" / "gray.png", lab.gray_rgb(rgb))
    assert run_main(beta.test.main, ["--model", str(model_path), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")]) == 0
    from_colour = data.read_rgb(tmp_path / "out" / "colour.png").astype(int)
    from_gray = data.read_rgb(tmp_path / "out" / "gray.png").astype(int)
    assert np.abs(from_colour - from_gray).max() <= 2  # only rounding of the gray copy's L differs


def test_resume_continues_training(trained_beta):
    root, model_path = trained_beta
    code = run_main(beta.train.main, ["--images", str(root / "photos"), "--epochs", "3", "--image-size", "32",
                                                     "--batch-size", "2", "--model-out", str(model_path), "--resume"])
    assert code == 0
    rows = (model_path.with_suffix(".log.csv")).read_text().strip().splitlines()
    assert len(rows) == 1 + 3


def test_alpha_train_reproduces_an_odd_sized_image(tmp_path, capsys):
    image = write_image(tmp_path / "odd.png", colour_image(37, 29))
    argv = ["--image", str(image), "--epochs", "150", "--model-out", str(tmp_path / "alpha.keras"), "--output", str(tmp_path / "out")]
    assert run_main(alpha.train.main, argv) == 0
    result = data.read_rgb(tmp_path / "out" / "odd.png")
    assert result.shape == (37, 29, 3)
    printed = capsys.readouterr().out
    assert "grayscale" in printed and "gain" in printed
    from shared import metrics

    original = colour_image(37, 29)
    assert metrics.psnr(result, original) > metrics.psnr(lab.gray_rgb(original), original) + 3


def test_missing_model_names_the_command_that_trains_it(tmp_path):
    result = run_script("beta/test.py", "--model", tmp_path / "beta.keras", "--input", tmp_path)
    assert result.returncode == 2
    assert "python beta/train.py" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("epochs", ["0", "-2"])
def test_non_positive_epochs_are_refused(epochs, capsys):
    assert run_main(alpha.train.main, ["--epochs", epochs]) == 2
    assert "must be a positive" in capsys.readouterr().err


def test_missing_and_empty_image_folders(tmp_path, capsys):
    assert run_main(beta.train.main, ["--images", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_main(beta.train.main, ["--images", str(tmp_path / "empty")]) == 2
    assert "no usable images" in capsys.readouterr().err


def test_bad_files_are_skipped_and_too_small_images_explained(trained_beta, tmp_path, capsys):
    _, model_path = trained_beta
    folder = tmp_path / "mixed"
    write_image(folder / "good.png", colour_image(20, 20))
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="broken.png"):
        assert run_main(beta.test.main, ["--model", str(model_path), "--input", str(folder), "--output", str(out)]) == 0
    assert [p.name for p in out.glob("*.png") if p.name != "comparison.png"] == ["good.png"]

    small = write_image(tmp_path / "small.png", colour_image(5, 6))
    with pytest.warns(UserWarning, match="8 px minimum"):
        assert run_main(beta.test.main, ["--model", str(model_path), "--input", str(small), "--output", str(out)]) == 2
    assert "no usable images" in capsys.readouterr().err


def test_alpha_refuses_a_folder_of_several_images(photo_folder, capsys):
    assert run_main(alpha.train.main, ["--image", str(photo_folder), "--epochs", "1"]) == 2
    assert "alpha trains on one image" in capsys.readouterr().err


def test_unwritable_output_folder_is_a_clear_error(trained_beta, tmp_path, capsys):
    _, model_path = trained_beta
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should go")
    image = write_image(tmp_path / "in.png", colour_image(20, 20))
    assert run_main(alpha.test.main, ["--model", str(model_path), "--input", str(image), "--output", str(blocker / "out")]) == 2
    assert "cannot write" in capsys.readouterr().err
