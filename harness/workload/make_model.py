#!/usr/bin/python3
"""Build a small, real MLP classifier and the evidence the harness checks it against.

Writes to --out:
  model.pt           torch.save(state_dict): torch's zip format, pickle protocol 2
  model.safetensors  the same weights in the safetensors format (written by hand)
  model.pkl          the same weights as a plain pickle of {name: numpy.ndarray}, the way
                     joblib/sklearn-style servers store models (benign base for the pickle loader)
  model.json         what the server needs to rebuild the network (no secrets)
  expected.json      harness-only evidence: the weight canary, reference inputs/outputs, hashes

Weights come from a seed drawn with `secrets`, so no two runs produce the same canary and a
memory-dump attack cannot find it by chance or from an earlier run.
"""

import argparse
import hashlib
import json
import os
import pickle
import secrets
import struct
import sys

import numpy as np
import torch

from mlp import build_mlp

CANARY_TENSOR = "layers.0.weight"
CANARY_VALUES = 8  # 8 float32 = 32 bytes: long enough never to occur by chance in a memory dump
INPUT_SEED = 20240601  # reference inputs are fixed so runs are comparable; only weights are secret
TOLERANCE = 1e-4
TOLERANCE_RULE = "abs(got - expected) <= tolerance * (1 + abs(expected)), for every output value"
INPUT_NAME = "input-0"
OUTPUT_NAME = "output-0"


def parse_layers(text):
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}")
    if len(sizes) < 2 or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("need at least two positive layer sizes")
    return sizes


def write_safetensors(path, state_dict, metadata):
    """Write the safetensors layout: u64 LE header length, JSON header, raw little-endian data."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, tensor in state_dict.items():
        blob = tensor.detach().contiguous().numpy().astype("<f4", copy=False).tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    # The reference writer pads the header with spaces so the data starts 8-byte aligned.
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(header_bytes)))
        out.write(header_bytes)
        for blob in blobs:
            out.write(blob)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--name", default="mlp-classifier", help="model name served under /v2/models/NAME")
    parser.add_argument("--layers", type=parse_layers, default=[64, 1024, 1024, 10],
                        help="comma-separated layer sizes, input first (default 64,1024,1024,10)")
    parser.add_argument("--samples", type=int, default=8, help="reference input/output pairs (default 8)")
    args = parser.parse_args()
    if args.samples < 1:
        parser.error("--samples must be at least 1")

    torch.manual_seed(secrets.randbits(63))
    model = build_mlp(torch, args.layers).eval()
    state_dict = model.state_dict()

    canary = state_dict[CANARY_TENSOR].contiguous().view(-1)[:CANARY_VALUES].numpy().astype("<f4").tobytes()
    if canary == bytes(len(canary)):
        print("make_model.py: canary is all zero; refusing to write a model it cannot identify", file=sys.stderr)
        return 1

    rng = np.random.default_rng(INPUT_SEED)
    inputs = rng.standard_normal((args.samples, args.layers[0])).astype(np.float32)
    with torch.no_grad():
        outputs = model(torch.from_numpy(inputs)).numpy()

    os.makedirs(args.out, exist_ok=True)
    paths = {name: os.path.join(args.out, name) for name in ("model.pt", "model.safetensors", "model.pkl")}
    torch.save(state_dict, paths["model.pt"])
    write_safetensors(paths["model.safetensors"], state_dict, {"format": "pt", "name": args.name})
    with open(paths["model.pkl"], "wb") as out:
        pickle.dump({name: tensor.numpy() for name, tensor in state_dict.items()}, out, protocol=4)

    config = {"name": args.name, "architecture": "mlp", "layers": args.layers, "activation": "relu"}
    with open(os.path.join(args.out, "model.json"), "w") as out:
        json.dump(config, out, indent=2)
        out.write("\n")

    # float32 -> Python float is exact and json writes the shortest round-tripping repr,
    # so the server sees bit-identical inputs.
    expected = {
        "model_name": args.name,
        "canary_hex": canary.hex(),
        "canary_tensor": CANARY_TENSOR,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "inputs": inputs.tolist(),
        "outputs": outputs.tolist(),
        "tolerance": TOLERANCE,
        "tolerance_rule": TOLERANCE_RULE,
        "sha256": {name: sha256_of(path) for name, path in paths.items()},
    }
    with open(os.path.join(args.out, "expected.json"), "w") as out:
        json.dump(expected, out, indent=1)
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
