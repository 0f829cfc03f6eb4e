"""Issue 19: `python -m shared.batch` colorizes an archive as test.py would, resumably, locally or on Ray."""

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import beta.test
from shared import batch, data
from conftest import REPO_ROOT, colour_image, run_script, write_image
from test_cli import run_main

MODEL = "beta"  # the shipped model: no training needed


@pytest.fixture
def archive(tmp_path):
    """Six small photos in nested folders, two with one stem, and a corrupt JPEG."""
    root = tmp_path / "archive"
    sizes = [(40, 48), (37, 53), (48, 40), (44, 44), (33, 61), (52, 36)]
    for i, (name, (h, w)) in enumerate(zip(["a.png", "b/c.png", "b/d/e.png", "f.png", "f.jpg", "g.png"], sizes)):
        write_image(root / name, colour_image(h, w, seed=i))
    (root / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def outputs(folder):
    """{relative path: pixels} of the PNGs under `folder`."""
    return {p.relative_to(folder).as_posix(): data.read_rgb(p) for p in sorted(folder.rglob("*.png"))}


def inodes(folder):
    return {p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*.png")}


def read_failures(output):
    with open(output / batch.FAILURES_FILE, newline="") as f:
        return list(csv.DictReader(f))


def test_local_batch_writes_the_pixels_test_py_writes_and_lists_failures(archive, tmp_path, capsys):
    with pytest.warns(UserWarning, match="broken.jpg"):
        assert run_main(beta.test.main, ["--model", MODEL, "--input", str(archive), "--output", str(tmp_path / "test_py")]) == 0
    expected = {name: rgb for name, rgb in outputs(tmp_path / "test_py").items() if name != "comparison.png"}
    assert sorted(expected) == ["a.png", "b/c.png", "b/d/e.png", "f.jpg.png", "f.png.png", "g.png"]

    output = tmp_path / "batch"
    assert run_main(batch.main, ["--model", MODEL, "--input", str(archive), "--output", str(output), "--batch-size", "4"]) == 1
    written = outputs(output)
    assert sorted(written) == sorted(expected)
    for name, rgb in expected.items():
        np.testing.assert_array_equal(written[name], rgb, err_msg=name)
    [failure] = read_failures(output)
    assert failure["image"] == str(archive / "b" / "broken.jpg") and "cannot read" in failure["reason"]
    assert "colorized 6 images" in capsys.readouterr().out
    assert [p.name for p in output.rglob("*") if p.name.startswith(".")] == []


def test_a_rerun_skips_finished_images_and_overwrite_redoes_them(archive, tmp_path, capsys):
    (archive / "b" / "broken.jpg").unlink()
    output = tmp_path / "out"
    assert run_main(batch.main, ["--model", MODEL, "--input", str(archive), "--output", str(output)]) == 0
    first = inodes(output)
    (output / "g.png").unlink()  # as if the first run had stopped before it
    capsys.readouterr()
    assert run_main(batch.main, ["--model", MODEL, "--input", str(archive), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "1 images to colorize, 5 already done" in printed and "colorized 1 images" in printed
    second = inodes(output)
    assert {k: v for k, v in second.items() if k != "g.png"} == {k: v for k, v in first.items() if k != "g.png"}
    assert run_main(batch.main, ["--model", MODEL, "--input", str(archive), "--output", str(output), "--overwrite"]) == 0
    assert all(inodes(output)[name] != second[name] for name in second)  # each replaced by a new file
    assert not (output / batch.FAILURES_FILE).exists()


def test_several_inputs_and_a_list_file(archive, tmp_path):
    (archive / "b" / "broken.jpg").unlink()
    other = write_image(tmp_path / "other" / "z.png", colour_image(30, 30, seed=9)).parent
    listed = tmp_path / "list.txt"
    listed.write_text("archive/a.png\narchive/b/c.png\n")
    output = tmp_path / "out"
    assert run_main(batch.main, ["--model", MODEL, "--input", str(archive), str(other), str(archive / "b"), "--output", str(output)]) == 0
    # an image under two inputs (archive/b/c.png) is colorized once, under the first
    assert sorted(outputs(output)) == ["a.png", "b/c.png", "b/d/e.png", "f.jpg.png", "f.png.png", "g.png", "z.png"]
    assert run_main(batch.main, ["--model", MODEL, "--input", str(listed), "--output", str(tmp_path / "from_list")]) == 0
    assert sorted(outputs(tmp_path / "from_list")) == ["archive/a.png", "archive/b/c.png"]


def test_bad_requests_are_one_line_errors(archive, tmp_path, capsys, monkeypatch):
    twin = write_image(tmp_path / "twin" / "a.png", colour_image(20, 20))  # a.png under another input
    for argv, message in [
        (["--input", str(archive), "--output", str(archive / "results")], "inside the input folder"),
        (["--input", str(archive), str(twin.parent), "--output", str(tmp_path / "o")], "same path under two inputs"),
        (["--input", str(archive), "--output", str(tmp_path / "o"), "--workers", "2"], "apply to --engine ray"),
        (["--input", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o")], "does not exist"),
    ]:
        assert run_main(batch.main, argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (archive / "results").exists()

    monkeypatch.setitem(sys.modules, "ray", None)  # as where the extra is not installed
    assert run_main(batch.main, ["--model", MODEL, "--input", str(archive), "--output", str(tmp_path / "o"), "--engine", "ray"]) == 2
    assert 'pip install -e ".[ray]"' in capsys.readouterr().err


def test_too_small_images_are_failures_not_errors(tmp_path):
    write_image(tmp_path / "in" / "ok.png", colour_image(20, 20))
    write_image(tmp_path / "in" / "tiny.png", colour_image(5, 6))
    assert run_main(batch.main, ["--model", MODEL, "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")]) == 1
    assert sorted(outputs(tmp_path / "out")) == ["ok.png"]
    [failure] = read_failures(tmp_path / "out")
    assert failure["image"].endswith("tiny.png") and "6x5 px is below the model's 8 px minimum" in failure["reason"]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_job_killed_midway_loses_nothing_on_the_rerun(stop, tmp_path):
    for i in range(60):
        write_image(tmp_path / "in" / f"{i // 20}" / f"{i:02d}.png", colour_image(96, 128, seed=i))
    output = tmp_path / "out"
    command = [sys.executable, "-m", "shared.batch", "--model", MODEL, "--input", tmp_path / "in", "--output", output, "--batch-size", "1"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(output.rglob("*.png"))) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(stop)
    _, err = process.communicate(timeout=60)
    finished = inodes(output)
    assert 5 <= len(finished) < 60, "the job ended before it could be stopped midway"
    if stop == signal.SIGTERM:
        assert process.returncode == 130 and "interrupted" in err.decode() and "Traceback" not in err.decode()
        assert [p.name for p in output.rglob(".*")] == []  # stopped cleanly: nothing half written

    rerun = run_script("-m", "shared.batch", "--model", MODEL, "--input", tmp_path / "in", "--output", output)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{60 - len(finished)} images to colorize, {len(finished)} already done" in rerun.stdout
    assert {name: inodes(output)[name] for name in finished} == finished  # finished images not redone
    assert len(outputs(output)) == 60  # every output readable
    assert [p.name for p in output.rglob(".*")] == []  # what the killed job left half written is gone


def test_actor_resources_leave_room_for_a_read_task():
    two_cores = batch.actor_resources({"CPU": 2.0}, [2.0])
    assert two_cores["workers"] * two_cores["num_cpus"] + batch.READ_TASK_CPUS <= 2.0
    one_each = batch.actor_resources({"CPU": 2.0}, [1.0, 1.0], workers=2)
    assert one_each["num_cpus"] + batch.READ_TASK_CPUS <= 1.0  # an actor and a read task fit on one node
    gpus = batch.actor_resources({"CPU": 16.0, "GPU": 2.0}, [16.0])
    assert (gpus["workers"], gpus["num_gpus"]) == (2, 1)
    with pytest.raises(data.InputError, match="too few"):
        batch.actor_resources({"CPU": 0.5}, [0.5])


# --- Ray: a few short jobs, each in its own process ----------------------------------------------


@pytest.fixture
def ray_archive(archive):
    pytest.importorskip("ray.data", reason='the Ray extra: pip install -e ".[ray]"')
    return archive


@pytest.fixture
def ray_env():
    """The environment of a Ray of the test's own: its files (logs, and the ray_current_cluster that `ray.init()`
    would find) in a temporary folder, not /tmp/ray; a short one, as Ray's socket paths must fit 107 characters."""
    ray_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    yield {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RAY_TMPDIR": ray_dir}
    shutil.rmtree(ray_dir, ignore_errors=True)


def run_batch(*argv, env):
    return subprocess.run([sys.executable, "-m", "shared.batch", *map(str, argv)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_ray_engine_writes_what_the_local_engine_writes(ray_archive, ray_env, tmp_path):
    local = run_script("-m", "shared.batch", "--model", MODEL, "--input", ray_archive, "--output", tmp_path / "local")
    on_ray = run_batch("--model", MODEL, "--input", ray_archive, "--output", tmp_path / "ray", "--engine", "ray", "--workers", "2",
                       "--batch-size", "2", env=ray_env)
    assert (local.returncode, on_ray.returncode) == (1, 1), on_ray.stderr[-3000:]
    assert "ray: 2 model actors" in on_ray.stdout
    expected, written = outputs(tmp_path / "local"), outputs(tmp_path / "ray")
    assert sorted(written) == sorted(expected) and len(written) == 6
    for name in expected:
        np.testing.assert_array_equal(written[name], expected[name], err_msg=name)
    assert read_failures(tmp_path / "ray") == read_failures(tmp_path / "local")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_two_node_ray_cluster_runs_the_job_through_address(ray_archive, ray_env, tmp_path):
    """`ray start --head`, then a second `ray start --address` on this machine: two nodes of one CPU."""
    port = free_port()
    env = {**ray_env, "RAY_AUTH_MODE": "disabled"}  # a test cluster on this machine, ours alone
    ray_cli = Path(sys.executable).with_name("ray")
    nodes = []
    try:
        for role in (["--head", f"--port={port}", "--include-dashboard=false"], [f"--address=127.0.0.1:{port}"]):
            node = subprocess.Popen([ray_cli, "start", *role, "--num-cpus=1", "--block"], env=env, text=True,
                                    start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            nodes.append(node)
            for line in node.stdout:  # started once it says so
                if "Ray runtime started" in line:
                    break
        result = run_batch("--model", MODEL, "--input", ray_archive, "--output", tmp_path / "out", "--engine", "ray",
                           "--address", f"127.0.0.1:{port}", "--batch-size", "2", env=env)
    finally:
        for node in reversed(nodes):  # `ray stop` would stop every Ray on the machine; these are ours alone
            os.killpg(node.pid, signal.SIGTERM)
            node.wait(timeout=60)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "on 2 nodes with 2 CPUs" in result.stdout
    assert len(outputs(tmp_path / "out")) == 6 and len(read_failures(tmp_path / "out")) == 1
