#!/usr/bin/python3
"""Writes whole, loadable model files of every container the model server reads, for
ModelFileTest (each passes the check, each of its truncations does not) and as the originals the
bad-input corpus (harness/tests/bad-input/make_model_files.py) cuts and corrupts. Kept in git (a
few KiB): the tests need no torch. Run with Debian's python3, which has torch, only to change them:

  /usr/bin/python3 make_model_files.py
"""
import io
import json
import os
import pickle
import struct

import torch

OUT = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    torch.manual_seed(0)
    state = {"weight": torch.randn(4, 4), "bias": torch.zeros(4)}

    buffer = io.BytesIO()
    torch.save(state, buffer)  # a zip checkpoint, torch.save's default
    write("checkpoint.pt", buffer.getvalue())

    buffer = io.BytesIO()
    torch.save(state, buffer, _use_new_zipfile_serialization=False)
    write("legacy.pt", buffer.getvalue())

    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(4, 2)), buffer)
    write("linear.ts", buffer.getvalue())

    lists = {name: tensor.tolist() for name, tensor in state.items()}
    write("state.pkl", pickle.dumps(lists, protocol=4))
    write("state-protocol0.pkl", pickle.dumps(lists, protocol=0))

    header = {}
    data = b""
    for name, tensor in state.items():
        raw = b"".join(struct.pack("<f", v) for v in tensor.flatten().tolist())
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    encoded = json.dumps(header).encode()
    write("state.safetensors", struct.pack("<Q", len(encoded)) + encoded + data)


if __name__ == "__main__":
    main()
