#!/usr/bin/env python3
"""Writes the hand-made seeds of the fuzz corpus (fuzz/corpus/<target>/seed_*).

Frames follow core/src/transport/frame.rs; the ONNX models use only supported operators (the
`onnx` package is needed, e.g. from the venv of .ci/run). The bundled models and specs are
copied beside them. Run from the repository root: python3 fuzz/seeds.py
"""
import pathlib
import shutil
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CORPUS = pathlib.Path("fuzz/corpus")
# Payload lengths the frame target expects, frame after frame (fuzz_targets/frame.rs).
LENGTHS = [0, 1, 8, 33]


def header(seq, length, sender=0, msg=0, step_depth=1, depth=1, magic=b"PW", version=2):
    """A frame header: magic, version, sender, seq, msg, step depth, depth, length."""
    return magic + struct.pack("<BBIHHII", version, sender, seq, msg, step_depth, depth, length)


def frames(count, **kw):
    """`count` valid frames from P0 as the frame target expects them."""
    out = b""
    for seq in range(count):
        n = LENGTHS[seq % len(LENGTHS)]
        out += header(seq, n, depth=seq + 1, **kw) + bytes(range(n))
    return out


def write(target, name, data):
    path = CORPUS / target / f"seed_{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def frame_seeds():
    write("frame", "one", frames(1))
    write("frame", "eight", frames(8))
    write("frame", "bad_magic", header(0, 0, magic=b"XX"))
    write("frame", "bad_version", header(0, 0, version=3))
    write("frame", "wrong_sender", header(0, 0, sender=2))
    write("frame", "wrong_tag", header(5, 0, msg=1))
    write("frame", "wrong_length", header(0, 0xFFFF_FFFF))
    write("frame", "short_header", header(0, 0)[:7])
    write("frame", "short_payload", frames(2)[:-1])
    write("frame", "max_stamps", header(0, 0, step_depth=0xFFFF, depth=0xFFFF_FFFF) + frames(2)[20:])


def model(name, nodes, inputs, output, inits=()):
    graph = helper.make_graph(nodes, name, inputs, [output], initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    write("onnx", name, m.SerializeToString())


def onnx_seeds():
    f = TensorProto.FLOAT
    x = helper.make_tensor_value_info("x", f, [1, 2, 4, 4])
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((2, 2, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.standard_normal((3, 2)).astype(np.float32), "fc")
    bn = [numpy_helper.from_array(np.ones(2, np.float32), n) for n in ("s", "b", "m", "v")]
    model("relu", [helper.make_node("Relu", ["x"], ["y"], name="relu")], [x],
          helper.make_tensor_value_info("y", f, [1, 2, 4, 4]))
    model("conv_bn_gemm", [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["fl"], name="flatten"),
        helper.make_node("Gemm", ["fl", "fc"], ["y"], name="fc", transB=1),
    ], [x], helper.make_tensor_value_info("y", f, [1, 3]), [w, fc, *bn])
    model("pools_add_concat", [
        helper.make_node("MaxPool", ["x"], ["p"], name="max", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["x"], ["a"], name="avg", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Add", ["p", "a"], ["s"], name="add"),
        helper.make_node("Concat", ["s", "p"], ["y"], name="cat", axis=1),
    ], [x], helper.make_tensor_value_info("y", f, [1, 4, 2, 2]))


def bundled():
    for onnx_file in pathlib.Path("models").glob("*.onnx"):
        shutil.copy(onnx_file, CORPUS / "onnx" / f"bundled_{onnx_file.name}")
    for spec in pathlib.Path("models").glob("*spec.json"):
        shutil.copy(spec, CORPUS / "spec" / f"bundled_{spec.name}")


def spec_seeds():
    write("spec", "empty", b'{"layers": []}')
    write("spec", "identity_zero", b'{"layers": [{"name": "/stem/stem.2/Relu", "patch_sizes": [[0, 1], [1, 0]]}]}')
    write("spec", "bad_pair", b'{"layers": [{"name": "x", "patch_sizes": [[0, 0]]}]}')
    write("spec", "huge_patch", b'{"layers": [{"name": "x", "patch_sizes": [[4294967295, 4294967295]]}]}')
    write("spec", "not_utf8", b'{"layers": [{"name": "\xff", "patch_sizes": []}]}')


if __name__ == "__main__":
    frame_seeds()
    onnx_seeds()
    spec_seeds()
    bundled()
