"""The evaluation report (shared/evaluate.py) on two tiny images and a tiny untrained model."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from alpha.model import build_model
from shared import cli, evaluate, lab, metrics
from shared.data import InputError

REPORT_FILES = ("report.md", "metrics.csv", "per_image.csv", "comparison.png", "training_curves.png")


def save(rgb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def photo_like(seed, height=40, width=56):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 / width, y * 255 / height, np.full(x.shape, 90.0 + 40 * seed)], axis=-1)
    return np.clip(rgb + rng.normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Two test photos, two uniform training photos, a tiny model with a training log."""
    root = tmp_path_factory.mktemp("evaluate")
    test_images = [save(photo_like(i), root / "test" / f"photo{i}.png") for i in range(2)]
    save(np.full((16, 16, 3), (200, 60, 40), np.uint8), root / "train" / "red.png")  # 256 px
    save(np.full((16, 48, 3), (40, 90, 200), np.uint8), root / "train" / "blue.png")  # 768 px
    model_file = root / "tiny.keras"
    build_model().save(model_file)
    (root / "tiny.log.csv").write_text("epoch,loss,val_loss\n0,0.02,NA\n1,0.015,NA\n2,0.012,NA\n")
    return root, test_images, model_file


def run_report(root, model_args, output):
    argv = ["--model", *model_args, "--input", str(root / "test"), "--train-images", str(root / "train"),
            "--output", str(output)]
    return evaluate.main(argv)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_training_mean_ab_is_the_pixel_mean_over_all_images(workspace):
    root, _, _ = workspace
    red_ab = lab.rgb_to_lab(np.full((1, 1, 3), (200, 60, 40), np.uint8))[0, 0, 1:]
    blue_ab = lab.rgb_to_lab(np.full((1, 1, 3), (40, 90, 200), np.uint8))[0, 0, 1:]
    expected = (256 * red_ab + 768 * blue_ab) / 1024  # weighted by pixels, not one vote per image
    mean_ab = evaluate.training_mean_ab(sorted((root / "train").iterdir()))
    np.testing.assert_allclose(mean_ab, expected, atol=1e-3)


def test_report_writes_table_csv_and_figures(workspace, tmp_path):
    root, test_images, model_file = workspace
    assert run_report(root, [str(model_file)], tmp_path / "report") == 0

    for name in REPORT_FILES:
        assert (tmp_path / "report" / name).stat().st_size > 0, name
    with Image.open(tmp_path / "report" / "comparison.png") as figure:
        assert figure.width > figure.height  # 2 rows of 3 images: input, tiny, original

    table = {row["method"]: row for row in read_csv(tmp_path / "report" / "metrics.csv")}
    assert list(table) == ["tiny", evaluate.GRAYSCALE, evaluate.MEAN_AB]
    for row in table.values():
        assert row["images"] == "2"
        assert set(row) >= {"psnr", "ssim", "auc", "ciede2000", "colorfulness", "colorfulness_gap"}

    # The grayscale baseline's numbers are the metrics of each photo's own L with ab = 0.
    originals = [np.asarray(Image.open(p)) for p in test_images]
    grays = [lab.gray_rgb(x) for x in originals]
    gray_row = table[evaluate.GRAYSCALE]
    assert float(gray_row["psnr"]) == pytest.approx(np.mean([metrics.psnr(g, o) for g, o in zip(grays, originals)]))
    assert float(gray_row["auc"]) == pytest.approx(np.mean([metrics.auc(g, o) for g, o in zip(grays, originals)]))
    assert float(gray_row["colorfulness"]) < 1.0
    assert float(gray_row["colorfulness_gap"]) == pytest.approx(metrics.colorfulness_gap(grays, originals))

    per_image = read_csv(tmp_path / "report" / "per_image.csv")
    assert len(per_image) == 2 * 3  # two images, one model, two baselines

    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert ("| method | PSNR (dB) ↑ | SSIM ↑ | AuC (%) ↑ | rebalanced AuC (%) ↑ | CIEDE2000 ↓ | colorfulness "
            "| colorfulness gap ↓ | neutral-scene cast | below gray (PSNR) | below gray (AuC) |") in report
    assert float(gray_row["neutral_cast"]) < 0.05 and gray_row["below_gray_psnr"] == "0"  # ab = 0: no colour
    assert "tiny.keras`, regression loss)" in report
    assert "| tiny |" in report and f"| {evaluate.MEAN_AB} |" in report
    assert "- tiny: " in report and "baselines" in report


def test_a_model_without_training_log_is_reported_not_fatal(workspace, tmp_path):
    root, _, model_file = workspace
    unlogged = tmp_path / "unlogged.keras"
    unlogged.write_bytes(model_file.read_bytes())
    with pytest.warns(UserWarning, match="no training log for unlogged"):
        assert run_report(root, [str(model_file), str(unlogged)], tmp_path / "report") == 0
    assert [row["method"] for row in read_csv(tmp_path / "report" / "metrics.csv")][:2] == ["tiny", "unlogged"]
    assert "no training log for unlogged" in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert (tmp_path / "report" / "training_curves.png").exists()  # tiny's curve is still drawn


def test_without_any_training_log_there_is_no_curve_figure(workspace, tmp_path):
    root, _, model_file = workspace
    unlogged = tmp_path / "unlogged.keras"
    unlogged.write_bytes(model_file.read_bytes())
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "training_curves.png").write_bytes(b"from an earlier report")
    with pytest.warns(UserWarning, match="no training log"):
        assert run_report(root, [str(unlogged)], tmp_path / "report") == 0
    assert (tmp_path / "report" / "comparison.png").exists()
    assert not (tmp_path / "report" / "training_curves.png").exists()
    assert "training_curves.png" not in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")


def test_read_curve_turns_missing_val_loss_into_nan(workspace):
    root, _, _ = workspace
    epochs, loss, val_loss = evaluate.read_curve(root / "tiny.log.csv")
    np.testing.assert_array_equal(epochs, [1, 2, 3])
    np.testing.assert_allclose(loss, [0.02, 0.015, 0.012])
    assert np.isnan(val_loss).all()


def test_verdict_respects_which_direction_is_better():
    good = {"psnr": 25, "ssim": 0.95, "auc": 90, "rebalanced_auc": 88, "ciede2000": 5, "colorfulness": 30,
            "colorfulness_gap": 3, "neutral_cast": 1.0, "below_gray_psnr": 1, "below_gray_auc": 1}
    baseline = {"psnr": 22, "ssim": 0.90, "auc": 85, "rebalanced_auc": 80, "ciede2000": 8, "colorfulness": 1,
                "colorfulness_gap": 30, "neutral_cast": 0.0, "below_gray_psnr": 0, "below_gray_auc": 0}
    table = {"m": good, evaluate.GRAYSCALE: baseline, evaluate.MEAN_AB: baseline}
    assert evaluate.verdict("m", table) == "m: beats both baselines on every metric."

    worse_ciede = dict(good, ciede2000=9)  # lower is better: 9 loses to 8
    line = evaluate.verdict("m", {**table, "m": worse_ciede})
    assert "does NOT beat both baselines" in line and "CIEDE2000" in line and "PSNR" not in line

    lower_psnr = dict(good, psnr=21)  # higher is better: 21 loses to 22
    assert "PSNR" in evaluate.verdict("m", {**table, "m": lower_psnr})


def test_default_models_are_the_trained_tiers(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "MODELS", tmp_path)
    assert evaluate.resolve_models(None) == {"beta": "beta", "full_version": "full_version"}  # the shipped ones
    monkeypatch.setattr(cli, "shipped_model_path", lambda tier: tmp_path / "shipped" / f"{tier}.keras")
    with pytest.raises(InputError, match=r"no trained model.*python alpha/train\.py.*python beta/train\.py"):
        evaluate.resolve_models(None)
    (tmp_path / "beta.keras").write_bytes(b"")
    assert evaluate.resolve_models(None) == {"beta": "beta"}
    assert evaluate.resolve_models(["beta", "x/beta.keras"]) == {"beta": "beta", "x/beta.keras": "x/beta.keras"}
    assert evaluate.resolve_models(["x/alpha.keras"]) == {"alpha": "x/alpha.keras"}


def test_script_runs_as_a_file_and_reports_errors_as_a_module(workspace, tmp_path):
    root, _, model_file = workspace
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    argv = ["--model", str(model_file), "--input", str(root / "test"), "--train-images", str(root / "train"),
            "--output", str(tmp_path / "report")]
    as_file = subprocess.run([sys.executable, str(cli.REPO_ROOT / "shared" / "evaluate.py"), *argv],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert as_file.returncode == 0, as_file.stderr
    assert "beat" in as_file.stdout and "| tiny |" in as_file.stdout
    assert (tmp_path / "report" / "metrics.csv").exists()

    missing = subprocess.run([sys.executable, "-m", "shared.evaluate", "--model", str(tmp_path / "none.keras")],
                             cwd=cli.REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert missing.returncode == 2
    assert "error: no trained model at" in missing.stderr and "Traceback" not in missing.stderr


def tinted(gray_level, tint, strength, shape=(24, 32)):
    """A gray image plus `strength` times a pattern of colour deviations (no clipping): colourfulness is
    linear in `strength`, so twice the strength is exactly twice the colourfulness."""
    rng = np.random.default_rng(len(tint))
    deviation = rng.normal(0, 1, shape + (3,)) * 3 + np.asarray(tint, np.float64)
    return np.clip(gray_level + strength * deviation, 0, 255).astype(np.uint8) if strength else \
        np.full(shape + (3,), gray_level, np.uint8)


def test_neutral_scene_cast_looks_only_at_the_least_colourful_quarter():
    rows = []
    for i, original in enumerate([4.0, 5.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]):
        result = 3 * original if original < 10 else original / 2  # neutral ones painted, colourful ones dulled
        rows.append({"image": f"{i}", "colorfulness": result, "colorfulness_original": original})
    assert evaluate.neutral_scene_cast(rows) == pytest.approx(3.0)  # 2 of 8: the 4 and the 5
    assert evaluate.neutral_scene_cast(rows, share=1.0) == pytest.approx((27 + 330 / 2) / 339)
    assert evaluate.neutral_scene_cast(rows[:1], share=0.25) == pytest.approx(3.0)  # at least one image
    assert np.isnan(evaluate.neutral_scene_cast([{"colorfulness": 2.0, "colorfulness_original": 0.0}]))


def test_neutral_scene_cast_and_below_gray_on_images_whose_answer_is_known():
    originals = [tinted(120, (8, -4, 0), 1), tinted(130, (0, 4, -8), 1), tinted(110, (30, -10, -20), 1),
                 tinted(100, (-20, 20, 5), 1)]
    results = [tinted(120, (8, -4, 0), 3), tinted(130, (0, 4, -8), 3),  # the neutral two: 3x their colour
               originals[2], lab.gray_rgb(originals[3])]  # one right, one gray
    per_image = []
    for i, (result, original) in enumerate(zip(results, originals)):
        per_image.append({"image": f"{i}", "method": "m", **metrics.image_metrics(result, original)})
        per_image.append({"image": f"{i}", "method": evaluate.GRAYSCALE,
                          **metrics.image_metrics(lab.gray_rgb(original), original)})
    rows = [row for row in per_image if row["method"] == "m"]
    assert evaluate.neutral_scene_cast(rows) == pytest.approx(3.0, rel=0.01)  # the least colourful, tripled (uint8 rounding)
    below = evaluate.below_gray(per_image, "m")
    assert below == {"psnr": 2, "auc": 2}  # the two tripled tints lie further from the original than gray
    table = evaluate.summarize(per_image, ["m", evaluate.GRAYSCALE])
    assert table["m"]["below_gray_psnr"] == 2 and table[evaluate.GRAYSCALE]["below_gray_psnr"] == 0
