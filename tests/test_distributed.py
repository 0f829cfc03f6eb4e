"""Training on several devices and several machines (tf.distribute) gives the loss of one device
for the same global batch. Each run is a fresh process: devices and clusters are fixed at TF's start."""

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "tests" / "distributed_run.py"


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(PYTHONPATH=str(REPO_ROOT), CUDA_VISIBLE_DEVICES="-1", **extra)
    return env


def run(mode, out, **extra):
    return subprocess.Popen([sys.executable, str(SCRIPT), mode, str(out)], cwd=REPO_ROOT, env=environment(**extra),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=240):
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"timed out:\n{output[-3000:]}")
    assert process.returncode == 0, output[-3000:]


def one_device_loss(tmp_path):
    out = tmp_path / "one.json"
    finish(run("one", out))
    result = json.loads(out.read_text())
    assert result["replicas"] == 1 and result["strategy"] is None
    return result["loss"]


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_devices_mirrored_follow_one_devices_loss(tmp_path):
    out = tmp_path / "two.json"
    finish(run("two-cpus", out))
    result = json.loads(out.read_text())
    assert result["strategy"] == "MirroredStrategy" and result["replicas"] == 2
    single = one_device_loss(tmp_path)
    assert single[-1] < single[0]  # it trains at all
    assert result["loss"] == pytest.approx(single, rel=1e-3)


def test_two_local_workers_follow_one_devices_loss(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes, outs = [], []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        outs.append(tmp_path / f"worker{index}.json")
        processes.append(run("worker", outs[-1], TF_CONFIG=json.dumps(config)))
    for process in processes:
        finish(process)
    results = [json.loads(out.read_text()) for out in outs]
    assert [r["strategy"] for r in results] == ["CollectiveAllReduceStrategy"] * 2  # MultiWorkerMirroredStrategy's class
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["chief"] for r in results] == [True, False]  # only worker 0 writes the model
    single = one_device_loss(tmp_path)
    for result in results:
        assert result["loss"] == pytest.approx(single, rel=1e-3)


def test_train_py_on_two_local_workers_writes_one_model_and_refuses_part_batches(tmp_path):
    from conftest import colour_image, write_image

    for i in range(7):
        write_image(tmp_path / "photos" / f"p{i}.png", colour_image(40, 40, seed=i))
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]

    def train(index, *extra):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        command = [sys.executable, str(REPO_ROOT / "beta" / "train.py"), "--images", str(tmp_path / "photos"),
                   "--epochs", "2", "--image-size", "32", "--model-out", str(tmp_path / "beta.keras"), *extra]
        return subprocess.Popen(command, cwd=tmp_path, env=environment(TF_CONFIG=json.dumps(config)),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    # 7 photos, 3 held out: 4 + 3 cannot be split into full batches of 4 for both workers
    refused = [train(i, "--batch-size", "4", "--val-share", "0.4") for i in range(2)]
    for process in refused:
        output, _ = process.communicate(timeout=240)
        assert process.returncode != 0 and "every batch must be full: 3 validation images" in output
    processes = [train(i, "--batch-size", "2", "--val-share", "0.4") for i in range(2)]
    for process in processes:
        finish(process)
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == ["beta.keras", "beta.state.keras"]  # worker 0's
    with open(tmp_path / "beta.log.csv") as f:
        assert [line.split(",")[0] for line in f.read().split()][1:] == ["0", "1"]
