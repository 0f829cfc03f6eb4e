"""Speed settings shared by the training scripts and the benchmark: precision, machine facts, tf.distribute.

Precision: `mixed_bfloat16` keeps the weights in float32 and computes in
bfloat16. On CPUs with native bfloat16 instructions (AVX512_BF16, AMX) oneDNN
runs it about twice as fast as float32 (benchmarks/speed.py measures it); on
CPUs without them it is slower. `--precision auto` therefore picks bfloat16
only there, float32 everywhere else (GPUs included, where it is not measured).

Distribution: `distribution_strategy()` is MultiWorkerMirroredStrategy when
TF_CONFIG is set, MirroredStrategy when more than one GPU is visible, and None
(Keras's default, one device) otherwise.
"""

import json
import os
import platform

PRECISIONS = ("auto", "float32", "bfloat16")
# Defaults, as measured (README, Speed): colorizing gives the same evaluation table in bfloat16, about
# 2x faster where the CPU has it; training in bfloat16 was close but behind, so it stays float32.
COLORIZING_PRECISION = "auto"
TRAINING_PRECISION = "float32"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_count():
    """Cores this process may use (its affinity), not the whole machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def native_bfloat16():
    """True on CPUs that compute bfloat16 in hardware (AVX512_BF16 or AMX)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def has_gpu():
    try:
        import tensorflow as tf
    except ImportError:
        return False
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(precision="auto"):
    """'auto' -> 'bfloat16' on a CPU-only machine with native bfloat16, else 'float32'."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16() and not has_gpu() else "float32"
    return precision


def set_precision(precision="auto"):
    """Set Keras's global dtype policy for the models built after this call; returns what was chosen."""
    import keras

    chosen = resolve_precision(precision)
    keras.config.set_dtype_policy("mixed_bfloat16" if chosen == "bfloat16" else "float32")
    return chosen


def distribution_strategy(devices=None):
    """The tf.distribute strategy to build and train under, or None for Keras's default single device.

    TF_CONFIG set: MultiWorkerMirroredStrategy (one process per machine, see the README).
    `devices` given or more than one GPU visible: MirroredStrategy over them.
    """
    try:
        import tensorflow as tf
    except ImportError:
        return None
    if os.environ.get("TF_CONFIG"):
        config = json.loads(os.environ["TF_CONFIG"])
        if len(config.get("cluster", {}).get("worker", [])) > 1:
            return _reducing_each_tensor(tf.distribute.MultiWorkerMirroredStrategy())
    if devices:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return None


def _reducing_each_tensor(strategy):
    """`strategy` with a `reduce` that works around two failures of Keras 3.15's `fit` under
    MultiWorkerMirroredStrategy, where the collective ops take one tensor at a time, of one shape:
    - to build the model, Keras "reduces" its first (x, y) batch, a tuple, over no axis; any
      worker's own batch serves (and the workers' batches differ in size at the end of the data);
    - it reduces each step's scalar loss along axis 0, which a scalar lacks: the mean over the
      workers is meant.
    Every other call is the strategy's own, one tensor at a time."""
    import tensorflow as tf

    reduce_one = strategy.reduce

    def reduce(reduce_op, value, axis=None):
        def reduce_tensor(tensor):
            local = strategy.experimental_local_results(tensor)[0]
            if not local.shape.rank:
                return reduce_one(reduce_op, tensor, axis=None)
            if axis is None:  # a data batch
                return local
            return reduce_one(reduce_op, tensor, axis=axis)

        return tf.nest.map_structure(reduce_tensor, value)

    strategy.reduce = reduce
    return strategy


def is_multi_worker(strategy):
    """True for a strategy that spans several processes (machines)."""
    if strategy is None:
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief():
    """False on the workers of a multi-worker training other than worker 0: they write no files."""
    if not os.environ.get("TF_CONFIG"):
        return True
    task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
    return task.get("type", "worker") in ("chief", "worker") and (task.get("type") == "chief" or task.get("index", 0) == 0)


def for_inference(model, precision="auto"):
    """The same network with every layer computing in `precision` ('auto' resolved as above) and its
    BatchNorms folded into their convolutions (shared.layers.fold_batch_norms), in one rebuild: the same
    colours, faster. A model trained in one precision runs in the other unchanged: the weights are
    float32 either way (mixed_bfloat16 computes in bfloat16, stores float32). Returns `model` itself
    when nothing changes."""
    from shared import layers

    return layers.fold_batch_norms(model, precision_rewrite(model, precision))


def load_for_inference(path, precision="auto"):
    """`for_inference(keras.models.load_model(path), precision)`, built once from the file
    (shared.layers.load_folded): the cold start of one photo skips two of the three builds."""
    from shared import layers

    policy = "mixed_bfloat16" if resolve_precision(precision) == "bfloat16" else "float32"
    return layers.load_folded(path, policy_rewrite(policy))


def precision_rewrite(model, precision):
    """The change to a serialized `model` that makes every layer compute in `precision`; None when all do."""
    policy = "mixed_bfloat16" if resolve_precision(precision) == "bfloat16" else "float32"
    if all(layer.dtype_policy.name == policy for layer in model._flatten_layers()):
        return None
    return policy_rewrite(policy)


def policy_rewrite(policy):
    """The change to a serialized model that makes every layer compute in the Keras dtype policy `policy`."""

    def rewrite(node):
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy" or node.get("class_name") == "FloatDTypePolicy":
                return {**node, "class_name": "DTypePolicy", "config": {**node.get("config", {}), "name": policy}}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(value) for value in node]
        return node

    return rewrite
