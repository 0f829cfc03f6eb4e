"""`colorize`, the installed command (shared.console:run), and starting without TensorFlow's notices."""

import json
import os
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT, colour_image, write_image
from shared import cli, console, lab, quiet_tensorflow
from test_app import make_clip

COLORIZE = [sys.executable, "-c", "from shared.console import run; run()"]  # what the installed script runs
ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def run_colorize(*argv):
    """The command in-process (the model stays loaded between tests); its exit code."""
    with pytest.raises(SystemExit) as exit_info:
        cli.run(console.main, [str(a) for a in argv])
    return exit_info.value.code


def gray_photo(path, height=64, width=80):
    return write_image(path, np.asarray(Image.fromarray(colour_image(height, width)).convert("L")))


def chroma(rgb):
    return float(np.hypot(*np.moveaxis(lab.rgb_to_lab(rgb)[..., 1:], -1, 0)).mean())


def test_the_installed_script_is_shared_console_run():
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"colorize": "shared.console:run"}


@pytest.mark.parametrize("argv", [["--help"], ["app", "--help"]])
def test_help_answers_in_under_a_second_without_tensorflow(argv):
    started = time.perf_counter()
    result = subprocess.run([*COLORIZE, *argv], cwd=REPO_ROOT, capture_output=True, text=True, env=ENV, timeout=60)
    seconds = time.perf_counter() - started
    assert result.returncode == 0 and result.stderr == ""
    assert "usage: colorize" in result.stdout
    assert seconds < 1.0, seconds
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from shared import app, console; console.build_parser(); app.build_parser();"
                               " print(sorted(m for m in ('tensorflow', 'keras', 'fastapi') if m in sys.modules))"],
        cwd=REPO_ROOT, capture_output=True, text=True, env=ENV, timeout=60)
    assert loaded.stdout.strip() == "[]"


def test_a_photo_becomes_a_colour_png_of_its_size(tmp_path):
    photo = gray_photo(tmp_path / "old.png")
    assert run_colorize(photo, "--temperature", "0.3", "--neutral-lean", "0") == 0  # a synthetic scene it would grey
    result = np.asarray(Image.open(tmp_path / "old_colorized.png"))
    assert result.shape == (64, 80, 3) and chroma(result) > 3
    assert run_colorize(photo, "-o", tmp_path / "out" / "named.png", "--model", "full_version") == 0
    assert Image.open(tmp_path / "out" / "named.png").size == (80, 64)


def test_a_folder_becomes_a_folder_of_pngs(photo_folder, tmp_path, capsys):
    assert run_colorize(photo_folder, "-o", tmp_path / "colour") == 0
    written = sorted(p.name for p in (tmp_path / "colour").iterdir())
    assert written == [f"photo{i}.png" for i in range(4)]
    assert Image.open(tmp_path / "colour" / "photo1.png").size == (53, 37)
    assert "wrote 4 of 4 photos" in capsys.readouterr().out


def test_a_video_is_told_by_its_type_and_colorized(tmp_path, capsys):
    clip = make_clip(tmp_path / "clip.mp4", frames=6, size="96x64")
    assert run_colorize(clip) == 0
    assert (tmp_path / "clip_colorized.mp4").stat().st_size > 0
    assert "wrote 6 frames (96x64" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    ("[{\"x\": 1, \"y\": 2, \"color\": \"#ff0000\"", "is not valid JSON"),
    ("{\"x\": 1}", "expected a JSON list"),
    ("[{\"x\": 1, \"y\": 2}]", "hint 1 ({\"x\": 1, \"y\": 2}): None is not a colour"),
    ("[{\"x\": 1, \"y\": 2, \"color\": \"red\"}]", "hint 1 ({\"x\": 1, \"y\": 2, \"color\": \"red\"}): 'red' is not a colour"),
    ("[{\"x\": 1, \"y\": 2, \"color\": \"#00ff00\"}, {\"x\": 80, \"y\": 2, \"color\": \"#00ff00\"}]",
     "hint 2 at x=80, y=2 is outside the 80x64 image"),
    ("[{\"x\": 1.5, \"y\": 2, \"color\": \"#00ff00\"}]", "must be whole numbers"),
])
def test_bad_hints_are_one_line_errors(tmp_path, capsys, content, message):
    photo = gray_photo(tmp_path / "old.png")
    (tmp_path / "hints.json").write_text(content)
    assert run_colorize(photo, "--hints", tmp_path / "hints.json", "--model", "full_version") == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1, error
    assert not (tmp_path / "old_colorized.png").exists()


def test_hints_are_for_a_photo_or_a_video_and_a_reference_for_a_photo(photo_folder, tmp_path, capsys):
    (tmp_path / "hints.json").write_text("[]")
    clip = make_clip(tmp_path / "clip.mp4", frames=2, size="96x64")
    assert run_colorize(photo_folder, "--hints", tmp_path / "hints.json") == 2
    assert run_colorize(clip, "--reference", photo_folder / "photo0.png") == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: --hints are points of one photo or video; {photo_folder} is a folder",
        f"error: --reference applies to one photo; {clip} is a video"]


def test_hints_move_the_colour_at_the_point(tmp_path):
    photo = gray_photo(tmp_path / "old.png")
    (tmp_path / "hints.json").write_text(json.dumps([{"x": 40, "y": 30, "color": "#d02020"}]))
    assert run_colorize(photo, "--hints", tmp_path / "hints.json", "--model", "full_version") == 0
    result = np.asarray(Image.open(tmp_path / "old_colorized.png"))
    assert lab.rgb_to_lab(result[30:31, 40:41])[0, 0, 1] > 20  # red: a well above 0


def test_missing_input_and_output_over_the_input_are_one_line_errors(tmp_path, capsys):
    photo = gray_photo(tmp_path / "old.png")
    assert run_colorize(tmp_path / "none.jpg") == 2
    assert run_colorize(photo, "-o", photo) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == [f"error: {tmp_path / 'none.jpg'} does not exist", f"error: -o {photo} would overwrite the input"]


def test_commands_start_without_tensorflows_notices(tmp_path):
    """shared/video.py printed the absl, oneDNN and cudart notices twice before its own error."""
    result = subprocess.run([sys.executable, "shared/video.py", "--input", str(tmp_path / "none.mp4")], cwd=REPO_ROOT,
                            capture_output=True, text=True, env=ENV, timeout=300)
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'none.mp4'} does not exist\n"


def test_real_lines_printed_while_tensorflow_loads_still_show(capfd):
    with quiet_tensorflow.notices_dropped():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1796136526.203155    3742 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"E0000 00:00:1796136526.203155    3742 loader.cc:1] a real problem\n")
        print("a Python warning", file=sys.stderr)
    shown = sorted(capfd.readouterr().err.splitlines())  # (pytest takes sys.stderr's line before descriptor 2's)
    assert shown == ["E0000 00:00:1796136526.203155    3742 loader.cc:1] a real problem", "a Python warning"]


def test_the_neutral_lean_sets_how_grey_a_grey_scene_stays(tmp_path, capsys):
    snow = REPO_ROOT / "datasets" / "neutral" / "train" / "stellarium-hurricane-ridge-snow-1.jpg"  # a scene it leans on
    chromas = []
    for strength in ("0", "1", "3"):
        output = tmp_path / f"snow_{strength}.png"
        assert run_colorize(snow, "-o", output, "--neutral-lean", strength) == 0
        chromas.append(chroma(np.asarray(Image.open(output))))
    assert chromas[0] > 1.5 * chromas[1] > 1.5 * chromas[2], chromas  # the network's own colours, fitted, stronger
    assert run_colorize(gray_photo(tmp_path / "old.png"), "--model", "beta", "--neutral-lean", "0") == 2
    assert run_colorize(snow, "-o", tmp_path / "x.png", "--neutral-lean", "-1") == 2
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "error: --neutral-lean applies only to models with a neutral lean (the shipped full_version); beta has none",
        "error: --neutral-lean must be 0 or more, got -1.0"]
