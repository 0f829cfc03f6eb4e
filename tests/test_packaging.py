"""`pip install .` (not only -e) must give a working `colorize`: the wheel's package data covers every file the
code loads from beside itself (the shipped models, the ImageNet encoder's weights, the page), and the licence is
declared. Read from pyproject.toml, without building: a build needs the network."""

import fnmatch
import tomllib
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from shared import cli

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def shipped_in_wheel(path):
    """Whether setuptools puts the file `path` into the wheel: a .py file of a listed package, or a file that
    its package's package-data globs match."""
    relative = Path(path).resolve().relative_to(REPO_ROOT)
    package = relative.parts[0]
    if package not in SETUPTOOLS["packages"]:
        return False
    if relative.suffix == ".py":
        return True
    inside = relative.relative_to(package).as_posix()
    return any(fnmatch.fnmatch(inside, pattern) for pattern in SETUPTOOLS["package-data"].get(package, []))


def files_loaded_at_run_time():
    from shared import efficientnet, web

    shipped_models = [cli.shipped_model_path(tier) for tier in cli.TIERS if cli.shipped_model_path(tier).exists()]
    assert len(shipped_models) == 2  # beta and full_version; alpha ships none
    return [*shipped_models, efficientnet.WEIGHTS_PATH, *sorted(web.PAGE.iterdir())]


def test_the_wheel_holds_every_file_colorize_loads():
    files = files_loaded_at_run_time()
    assert all(path.is_file() for path in files)
    assert [path.relative_to(REPO_ROOT).as_posix() for path in files if not shipped_in_wheel(path)] == []


def test_the_check_would_miss_a_file_outside_the_package_data(tmp_path):
    assert not shipped_in_wheel(REPO_ROOT / "datasets" / "SOURCES.md")  # not a package
    assert not shipped_in_wheel(REPO_ROOT / "beta" / "pretrained.log.csv")  # not in beta's package data
    assert shipped_in_wheel(REPO_ROOT / "shared" / "cli.py")


@pytest.mark.parametrize("package", ["shared", "alpha", "beta", "full_version"])
def test_every_package_the_commands_import_is_listed(package):
    assert (REPO_ROOT / package / "__init__.py").is_file()
    assert package in SETUPTOOLS["packages"]


def test_the_licence_is_declared_and_ships():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (REPO_ROOT / "LICENSE").read_text().startswith("MIT License")
    assert project["scripts"]["colorize"] == "shared.console:run"
