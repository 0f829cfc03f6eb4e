"""README.md and docs/*.md cannot rot: every relative link, image and #anchor resolves, and every shell command
their ```bash blocks show either runs here on tiny inputs (RUNS) or is listed in TOO_LONG with the reason;
either way the program it names exists and knows every --flag it is given (from its --help)."""

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field

import numpy as np
import pytest

import docs_commands
from conftest import REPO_ROOT, colour_image, write_image

DOCS = docs_commands.doc_files(REPO_ROOT)


@dataclass(frozen=True)
class Run:
    """How a documented command runs here: `command` (the documented one, or it with tiny settings), in a
    temporary folder holding the tiny inputs, expected to exit with `code`, write `creates` (paths in that
    folder) and print `prints`."""
    command: str
    creates: tuple = ()
    code: int = 0
    prints: str = ""


RUNS = {
    "colorize old_photo.jpg": Run("colorize old_photo.jpg", creates=("old_photo_colorized.png",)),
    "colorize --help": Run("colorize --help", prints="usage: colorize"),
    "colorize no_such_photo.jpg": Run("colorize no_such_photo.jpg", code=2,
                                      prints="error: no_such_photo.jpg does not exist"),
    "python alpha/train.py --image my.jpg --epochs 300": Run(
        "python alpha/train.py --image my.jpg --epochs 1 --model-out models/alpha.keras --output results/alpha",
        creates=("models/alpha.keras", "results/alpha/comparison.png")),
}

# Each run here is mostly importing TensorFlow and loading a model (about 10 s on 2 cores): these two are left to
# the tests of their own programs to keep this file fast.
TOO_LONG_HERE = {
    "colorize photo.jpg --hints hints.json --reference palette.jpg":
        "the same program and model as `colorize old_photo.jpg`, run above; tests/test_console.py and "
        "tests/test_hints.py run --hints and --reference",
    "python -m shared.batch --input scans/ --output colour/":
        "about 12 s here; tests/test_batch.py runs the same local job on tiny folders",
    "colorize scan.tif": "the same program as `colorize old_photo.jpg`, run above; tests/test_archive.py runs it on a "
                         "12 MP 16-bit TIFF and reads the result's depth and metadata back",
    "colorize scan.tif -o scan_colour.png": "the same program as `colorize old_photo.jpg`, run above; "
                                            "tests/test_archive.py writes 16-bit PNGs and TIFFs",
}

INSTALL = "the install: minutes and the network; .ci/run runs it on a fresh clone (test_the_readme_set_up_is_what_ci_runs)"
SERVES = "serves the page until Ctrl-C; tests/test_app.py and tests/test_app_browser.py start it"
TRAINS = "trains for many epochs (minutes to hours); --epochs 1 runs of train.py are in tests/test_training.py"
TESTS_ALL = "colorizes every test photo with the network (a minute or more); tests/test_cli.py runs test.py on tiny images"
VIDEO = "colorizes a whole clip (20 s to minutes); tests/test_video.py runs the command on a tiny clip"
CLUSTER = "starts a node of a Ray cluster that runs until `ray stop`; tests/test_batch.py starts a two-node cluster"
BENCHMARK = "a benchmark: many minutes by design"
WORKER = ("one of two training workers that wait for each other on other machines; tests/test_distributed.py runs "
          "beta/train.py on two local workers")

TOO_LONG = {
    "python3 -m venv .venv": INSTALL,
    ". .venv/bin/activate": INSTALL,
    'pip install -e ".[test]"': INSTALL,
    'pip install -e ".[ray]"': INSTALL,
    "python -m pytest": "the whole test suite, this file included (about 10 minutes)",
    "python shared/app.py": SERVES,
    "python shared/app.py --port 8000 --model beta": SERVES,
    "colorize app": SERVES,
    "python alpha/train.py": "1000 epochs, about a minute, and writes models/alpha.keras in the repository; run above "
                             "with --epochs 1 into a temporary folder",
    "python alpha/test.py": "needs models/alpha.keras from a training; writes into the repository's results/",
    "python beta/train.py --epochs 1000": TRAINS,
    "python beta/train.py --epochs 1000 --resume": TRAINS,
    "python beta/train.py --images my_photos/ more_photos/ list.txt": TRAINS,
    "python beta/train.py --loss regression": TRAINS,
    "python full_version/train.py --epochs 100": TRAINS,
    "python full_version/train.py --init-from full_version --fine-tune --learning-rate 3e-5": TRAINS,
    "python beta/test.py": TESTS_ALL,
    "python full_version/test.py": TESTS_ALL,
    "python beta/test.py --input datasets/landscapes/test --output results/beta": TESTS_ALL,
    "python full_version/test.py --model beta --input photo.jpg": "the same program as the hints command below, "
                                                                  "which tests/test_hints.py runs",
    "python full_version/test.py --input photo.jpg --hints hints.json --reference sea.jpg":
        "about 10 s of TensorFlow and the model; colorize's run of the same hints above covers the path",
    "colorize scans/ -o scans_colour/": "the folder path of the same command run above; tests/test_console.py runs it",
    "colorize photo.jpg --model beta --temperature 0.3": "the same command run above; tests/test_console.py runs "
                                                         "--model and --temperature",
    "colorize film.mp4 --model beta": VIDEO,
    "colorize film.mp4 --hints hints.json": VIDEO,
    "python shared/video.py --model beta": VIDEO,
    "python shared/video.py --model full_version --input datasets/video/campus_walk.mp4 --side-by-side": VIDEO,
    "python shared/video.py --model beta --input datasets/video/city_night.mp4 --metrics": VIDEO,
    "python -m shared.batch --input scans/ more_scans.txt --output colour/ --engine ray":
        "starts Ray (about 30 s); tests/test_batch.py runs --engine ray",
    "python -m shared.batch --input /shared/scans --output /shared/colour --engine ray --address auto":
        "needs a Ray cluster and a shared file system; tests/test_batch.py runs it on a two-node cluster",
    "ray start --head --port=6379": CLUSTER,
    "ray start --address=10.0.0.1:6379": CLUSTER,
    "python benchmarks/batch.py": BENCHMARK,
    "python benchmarks/hints.py --locality": BENCHMARK,
    "python benchmarks/hints.py --locality --input datasets/unlike": BENCHMARK,
    'python benchmarks/hints.py --tune-regions "around the choice"': BENCHMARK + ": 8 settings on the validation split",
    "python benchmarks/hints.py --tune-regions toward": BENCHMARK + ": 81 settings on the validation split",
    "python benchmarks/hints.py --tune-regions features": BENCHMARK + ": 6 settings on the validation split",
    'python benchmarks/hints.py --tune-regions "toward with features"': BENCHMARK + ": 81 settings on the validation split",
    "python benchmarks/lean_bound.py --input datasets/neutral/val datasets/neutral/test datasets/unlike "
    "datasets/landscapes/test": BENCHMARK + ": every photo of four sets through the network, 15 leans each",
    "python benchmarks/hints.py --worse-sources --validation": BENCHMARK + ": 240 hints on the validation split",
    "python docs/vintage_car_hints.py": "loads TensorFlow and the model and colorizes the car five times (about 15 s); "
                                        "tests/test_hints.py covers the hint regions it draws",
    "python benchmarks/speed.py": BENCHMARK,
    "python benchmarks/speed.py --quick": BENCHMARK,
    "python benchmarks/photo_speed.py": BENCHMARK + ": 1 to 48 MP photos, warm and cold, two versions of the code",
    "python benchmarks/photo_speed.py --quick": BENCHMARK + ": two versions of the code, each loading the model",
    "exiftool -Software -DateTimeOriginal -ImageDescription old_photo_colorized.png":
        "reads the file the command above writes; tests/test_archive.py reads such tags back with exiftool",
    "python benchmarks/loss_comparison.py": BENCHMARK + ": two trainings",
    "python -m shared.evaluate": "evaluates every shipped model on the 15 test photos (minutes); "
                                 "tests/test_evaluate.py runs it on tiny images",
    "python -m shared.evaluate --model full_version beta --input datasets/neutral/val --output results/neutral_val":
        "evaluates two models on 14 photos (about 5 minutes here); tests/test_evaluate.py runs the report on tiny "
        "images",
    "python -m shared.evaluate --model full_version beta --input datasets/neutral/test --output results/neutral_test":
        "evaluates two models on 14 photos (about 5 minutes here); tests/test_evaluate.py runs the report on tiny "
        "images",
    "python scripts/gather_neutral.py": "fetches about 1.3 GB of Debian packages with apt-get download, as root; "
                                        "tests/test_datasets_neutral.py checks what it wrote",
    "python -m shared.evaluate --model full_version beta --input datasets/unlike --output results/unlike":
        "evaluates two models on 20 photos (minutes)",
    "git show 8d013ce:full_version/pretrained.keras > models/fv_before.keras":
        "needs the project's git history (the tiny temporary folder has none); it only copies a file out of git",
    "python -m shared.evaluate --model models/fv_before.keras beta --input datasets/neutral/test "
    "--output results/before_neutral":
        "needs models/fv_before.keras from git and evaluates two models on 14 photos (minutes); "
        "tests/test_evaluate.py runs the report on tiny images",
    "python -m shared.evaluate --model full_version --input datasets/neutral/test --output results/after_neutral":
        "evaluates the shipped model on 14 photos (minutes); tests/test_evaluate.py runs the report on tiny images",
    "python -m shared.evaluate --model beta --neutral-prior --input datasets/neutral/test "
    "--output results/beta_prior_neutral":
        "evaluates beta on 14 photos (minutes); tests/test_evaluate.py runs the report and the neutral prior is "
        "tested in its own tests",
    "python docs/neutral.py --before models/fv_before.keras":
        "needs models/fv_before.keras from git and colorizes six photos with two models (tens of seconds)",
    "python full_version/train.py --images datasets/landscapes/train datasets/landscapes/extra "
    "datasets/landscapes/more --more-train-images datasets/neutral/train --more-train-repeat 3 "
    "--more-val-images datasets/neutral/val --init-from models/fv_before.keras --learning-rate 1e-4 --epochs 16 "
    "--batch-size 16 --model-out models/fv_neutral.keras": TRAINS,
    "python scripts/fit_neutral_lean.py models/fv_neutral.keras models/fv_lean100.keras --temperature 2.0":
        "needs the fine-tuned model of the training above and runs the network over 93 photos (minutes)",
    "python benchmarks/temperature.py --model models/fv_lean100.keras --temperatures 1.3 2.0 --neutral-prior on "
    "--restraint-midpoints off 0.7 --more-val-images datasets/neutral/val --choose neutral":
        BENCHMARK + ": needs the model fitted above, four decodings over 38 validation photos",
    "python -m shared.pretrained models/fv_lean100.keras full_version/pretrained.keras --temperature 2.0 "
    "--neutral-prior":
        "needs the model fitted above and would overwrite the shipped full_version in the checkout",
    "python benchmarks/photo_speed.py --cold 5 --before REF":
        BENCHMARK + ": starts ten processes that each load TensorFlow, and REF is a placeholder for a commit",
    "python -m shared.pretrained models/beta.keras my_beta.keras --temperature 0.45":
        "needs your own models/beta.keras; tests/test_losses_and_shipped.py makes such a copy",
}

WORKER_COMMAND = ('TF_CONFIG=\'{{"cluster": {{"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}}, "task": {{"type": '
                  '"worker", "index": {}}}}}\' python beta/train.py --epochs 100 --batch-size 16')
TOO_LONG.update({WORKER_COMMAND.format(index): WORKER for index in (0, 1)})
TOO_LONG.update(TOO_LONG_HERE)


def documented_commands():
    return {command for page in DOCS for command in docs_commands.shell_commands(page)}


# --- links ---------------------------------------------------------------------------------------------------

def test_readme_and_at_least_five_pages():
    readme = (REPO_ROOT / "README.md").read_text().splitlines()
    assert len(readme) <= 300
    first_screen = "\n".join(readme[:40])
    assert "![" in first_screen and "pip install" in first_screen
    assert len(DOCS) - 1 >= 5


@pytest.mark.parametrize("page", DOCS, ids=lambda page: page.name if page.parent == REPO_ROOT else f"docs/{page.name}")
def test_every_relative_link_image_and_anchor_resolves(page):
    assert docs_commands.links(page), "a page with no links is not tied into the docs"
    assert docs_commands.link_problems(page, REPO_ROOT) == []


def test_every_page_and_figure_in_docs_is_reachable():
    linked = {(link.page.parent / link.target.partition("#")[0]).resolve()
              for page in DOCS for link in docs_commands.links(page) if not docs_commands.is_external(link.target)}
    figures = [path for path in (REPO_ROOT / "docs").iterdir() if path.suffix in (".md", ".png")]
    unlinked = [path.name for path in figures if path.resolve() not in linked]
    assert unlinked == []


def test_the_link_check_finds_a_broken_link_image_and_anchor(tmp_path):
    """The test of the test: a page with one good link of each kind and one broken one of each."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## full_version: ImageNet's knowledge, and `test.py`\n"
                                                "\n## Speed\n\n## Speed\n")
    write_image(tmp_path / "docs" / "figure.png", colour_image(8, 8))
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n## A section\n\n"
        "[good](docs/other.md) [good anchor](docs/other.md#full_version-imagenets-knowledge-and-testpy) "
        "[second of a name](docs/other.md#speed-1) [here](#a-section) ![good](docs/figure.png) "
        "[web](https://example.org/missing)\n\n"
        "[broken](docs/missing.md) [broken anchor](docs/other.md#no-such-heading) ![broken](docs/missing.png)\n"
        "[broken here](#title-2) ![not an image](docs/other.md) [out](../../etc/passwd)\n\n"
        "```bash\n# [not a link](docs/missing.md) in code\n```\n\n`[nor](docs/missing.md)` in inline code\n"
    )
    problems = docs_commands.link_problems(page, tmp_path)
    assert [problem.split(": ")[1] for problem in problems] == [
        "docs/missing.md", "docs/other.md#no-such-heading", "docs/missing.png", "#title-2", "docs/other.md",
        "../../etc/passwd"]
    assert "no heading #no-such-heading in other.md" in problems[1]


@pytest.mark.parametrize("heading, slug", [
    ("Every `test.py`", "every-testpy"),
    ("Bad input, second runs and Ctrl-C", "bad-input-second-runs-and-ctrl-c"),
    ("full_version: ImageNet's knowledge, a summary of the whole image, and your hints",
     "full_version-imagenets-knowledge-a-summary-of-the-whole-image-and-your-hints"),
    ("The page and the `colorize` command", "the-page-and-the-colorize-command"),
    ("Archives: thousands of photos, resumable, on one machine or a Ray cluster",
     "archives-thousands-of-photos-resumable-on-one-machine-or-a-ray-cluster"),
])
def test_anchors_are_github_slugs(heading, slug):
    assert docs_commands.github_slug(heading) == slug


# --- commands ------------------------------------------------------------------------------------------------

def test_every_command_runs_here_or_is_listed_as_too_long_with_its_reason():
    documented = documented_commands()
    assert sorted(documented - RUNS.keys() - TOO_LONG.keys()) == [], "run it below, or add it to TOO_LONG"
    assert sorted((RUNS.keys() | TOO_LONG.keys()) - documented) == [], "no longer in the docs: remove it"
    assert RUNS.keys() & TOO_LONG.keys() == set()
    assert all(len(reason) > 20 for reason in TOO_LONG.values())


def test_the_command_check_finds_an_unlisted_command(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\npython beta/train.py --epochs 1000   # comment\ncolorize new.jpg && colorize \\\n"
                    "    --help\n```\n\n```python\nnot_shell()\n```\n")
    assert docs_commands.shell_commands(page) == ["python beta/train.py --epochs 1000", "colorize new.jpg",
                                                  "colorize --help"]
    assert {"colorize new.jpg"} == set(docs_commands.shell_commands(page)) - RUNS.keys() - TOO_LONG.keys()


def project_programs():
    programs = {docs_commands.program_of(command) for command in documented_commands()}
    return sorted(program for program in programs
                  if program.kind in ("script", "colorize") or program.name.startswith("shared"))


@pytest.fixture(scope="module")
def help_texts():
    """Every project program's --help, from one process (tests/docs_commands.py)."""
    specs = [f"{program.kind}:{program.name}" for program in project_programs()]
    done = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "docs_commands.py"), *specs],
                          capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_program_shown_exists_and_knows_the_flags_it_is_given(help_texts):
    unknown = []
    for command in sorted(documented_commands()):
        program = docs_commands.program_of(command)
        if program.kind == "external" or (program.kind == "module" and not program.name.startswith("shared")):
            continue
        text = help_texts[f"{program.kind}:{program.name}"]
        assert text.startswith("usage:"), f"{command}: {text[-300:]}"
        for flag in docs_commands.flags_of(command):
            if flag != "--help" and not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text):
                unknown.append(f"{command}: {flag}")
    assert unknown == []


def test_the_readme_set_up_is_what_ci_runs():
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    readme = docs_commands.shell_commands(REPO_ROOT / "README.md")
    set_up = readme[:readme.index("python -m pytest") + 1]
    assert set_up == ["python3 -m venv .venv", ". .venv/bin/activate", 'pip install -e ".[test]"', "python -m pytest"]
    for command in set_up:
        assert any(line.strip() == command or line.strip().startswith(command + " ") for line in ci), command
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for command in documented_commands():
        for extra in re.findall(r'"\.\[(\w+)\]"', command):
            assert extra in extras, command


def tiny_inputs(folder):
    """The files the commands in RUNS name, small."""
    gray = colour_image(40, 56).mean(axis=-1).astype(np.uint8)
    for name in ("old_photo.jpg", "my.jpg"):
        write_image(folder / name, gray)


def argv_of(command):
    words = shlex.split(command)
    if words[0] == "colorize":
        return [sys.executable, "-m", "shared.console", *words[1:]]
    if words[:2] == ["python", "-m"]:
        return [sys.executable, *words[1:]]
    if words[0] == "python":
        return [sys.executable, str(REPO_ROOT / words[1]), *words[2:]]
    raise AssertionError(f"no way to run {command} here")


@pytest.mark.parametrize("documented", sorted(RUNS))
def test_the_command_runs_on_tiny_inputs(documented, tmp_path):
    run = RUNS[documented]
    tiny_inputs(tmp_path)
    done = subprocess.run(argv_of(run.command), cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    printed = done.stdout + done.stderr
    assert done.returncode == run.code, printed
    assert run.prints in printed
    for path in run.creates:
        assert (tmp_path / path).is_file(), f"{path} not written: {printed}"
    assert "Traceback" not in printed
