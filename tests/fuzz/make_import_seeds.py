#!/usr/bin/python3
"""Writes the seed inputs of fuzz_safetensors and fuzz_onnx: small models in
each accepted form. The committed files under tests/fuzz/corpus/ came from
this script (the ONNX ones need python3-onnx).
Usage: tests/fuzz/make_import_seeds.py tests/fuzz/corpus
"""
import json
import os
import struct
import sys


def safetensors(tensors, dtype="F32"):
    pack = {"F32": "<f", "F64": "<d", "F16": "<e"}.get(dtype)
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, shape, values in tensors:
        if dtype == "BF16":
            raw = b"".join(struct.pack("<f", v)[2:] for v in values)
        else:
            raw = b"".join(struct.pack(pack, v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def values(n, k):
    return [((i * 7 + k) % 11 - 5) / 8 for i in range(n)]


def main(corpus):
    st = os.path.join(corpus, "fuzz_safetensors")
    os.makedirs(st, exist_ok=True)
    mlp = [("0.weight", [4, 6], values(24, 1)), ("0.bias", [4], values(4, 2)),
           ("2.weight", [3, 4], values(12, 3)), ("2.bias", [3], values(3, 4))]
    for dtype in ("F32", "F64", "F16", "BF16"):
        with open(os.path.join(st, f"mlp-6-4-3-{dtype.lower()}.safetensors"), "wb") as f:
            f.write(safetensors(mlp, dtype))
    with open(os.path.join(st, "no-bias-6-2.safetensors"), "wb") as f:
        f.write(safetensors([("fc.weight", [2, 6], values(12, 5))]))

    try:
        from onnx import TensorProto, helper
    except ImportError:
        sys.exit("make_import_seeds: python3-onnx is missing; wrote the safetensors seeds only")
    on = os.path.join(corpus, "fuzz_onnx")
    os.makedirs(on, exist_ok=True)

    def tensor(name, dims, vals, raw):
        if raw:
            return helper.make_tensor(name, TensorProto.FLOAT, dims,
                                      b"".join(struct.pack("<f", v) for v in vals), raw=True)
        return helper.make_tensor(name, TensorProto.FLOAT, dims, vals)

    def model(nodes, inits, shape):
        graph = helper.make_graph(
            nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)], inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()

    gemm = [helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
            helper.make_node("Gemm", ["f", "W0", "B0"], ["h"], name="fc0", transB=1),
            helper.make_node("Relu", ["h"], ["r"], name="relu"),
            helper.make_node("Gemm", ["r", "W1", "B1"], ["z"], name="fc1", alpha=0.5),
            helper.make_node("Softmax", ["z"], ["y"], name="out", axis=-1)]
    inits = [tensor("W0", [4, 6], values(24, 1), True), tensor("B0", [4], values(4, 2), True),
             tensor("W1", [4, 3], values(12, 3), False), tensor("B1", [3], values(3, 4), False)]
    with open(os.path.join(on, "gemm-6-4-3.onnx"), "wb") as f:
        f.write(model(gemm, inits, ["batch", 1, 2, 3]))
    matmul = [helper.make_node("MatMul", ["x", "W0"], ["m"], name="mm0"),
              helper.make_node("Add", ["m", "B0"], ["a"], name="add0"),
              helper.make_node("Tanh", ["a"], ["t"], name="tanh"),
              helper.make_node("MatMul", ["t", "W1"], ["m1"], name="mm1"),
              helper.make_node("Add", ["B1", "m1"], ["y"], name="add1"),
              helper.make_node("Sigmoid", ["y"], ["s"], name="sig")]
    inits = [tensor("W0", [6, 4], values(24, 1), True), tensor("B0", [4], values(4, 2), True),
             tensor("W1", [4, 3], values(12, 3), True), tensor("B1", [1, 3], values(3, 4), True)]
    with open(os.path.join(on, "matmul-6-4-3.onnx"), "wb") as f:
        f.write(model(matmul, inits, ["batch", 6]))


if __name__ == "__main__":
    main(sys.argv[1])
