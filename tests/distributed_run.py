"""Trains a tiny model for a few steps and writes its loss per epoch as JSON: run by test_distributed.py
in a fresh process, because TensorFlow's devices and cluster must be set before it starts.

    python tests/distributed_run.py one|two-cpus|worker OUT.json
"""

import json
import sys
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import shared  # noqa: F401,E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

mode, out = sys.argv[1], Path(sys.argv[2])
if mode == "two-cpus":  # two logical CPU devices, as MirroredStrategy sees two GPUs
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from alpha.model import build_model  # noqa: E402
from shared import accel  # noqa: E402

# first: MultiWorkerMirroredStrategy must exist before TensorFlow runs any operation
strategy = accel.distribution_strategy(devices=["/cpu:0", "/cpu:1"] if mode == "two-cpus" else None)
GLOBAL_BATCH = 4
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, (8, 16, 16, 1)).astype(np.float32)
y = ((x - 0.5) * 0.8).repeat(2, axis=-1)
dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
dataset = dataset.with_options(options)
with strategy.scope() if strategy is not None else nullcontext():
    keras.utils.set_random_seed(0)
    model = build_model(learning_rate=1e-2)
    history = model.fit(dataset, epochs=4, verbose=0, shuffle=False)
replicas = strategy.num_replicas_in_sync if strategy is not None else 1
out.write_text(json.dumps({"loss": history.history["loss"], "replicas": replicas,
                           "strategy": type(strategy).__name__ if strategy else None, "chief": accel.is_chief()}))
