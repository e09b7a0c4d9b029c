#!/usr/bin/python3
"""Build a small, real model in one of the other formats KServe serves, and the evidence the
harness checks its answers against.

  --format sklearn  a fitted scikit-learn pipeline (StandardScaler + RandomForestRegressor)
                    model.joblib  joblib.dump, as KServe's sklearn server loads it
                    model.pkl     pickle.dump of the same estimator
  --format xgboost  a trained XGBoost booster (reg:squarederror)
                    model.ubj     Booster.save_model (UBJSON): data only, no code can run
                    model.pkl     pickle.dump of the same booster (what xgboost's own pickling writes)
  --format onnx     a two-layer MLP as an ONNX graph (Gemm, Relu, Gemm)
                    model.onnx    the graph; its weights are external data in weights.bin beside
                                  it, the layout large ONNX models ship in
Every format also writes:
  model.json     what the server needs: name, format, the OIP inputs and outputs (an ONNX
                 graph's outputs are its own)
  expected.json  harness-only evidence: the requests (OIP "inputs" arrays), the outputs each must
                 produce, the tolerance, the file each loader reads, and sha256 of the files

The reference outputs are computed here directly from the fitted model (sklearn, xgboost) or from
the weights with numpy (onnx), never through the model server's code. Training data come from a
seed drawn with `secrets`; request inputs from a fixed seed, so runs are comparable.
"""

import argparse
import hashlib
import json
import os
import pickle
import secrets
import sys

import numpy as np

INPUT_SEED = 20240601
TOLERANCE = 1e-5
FEATURES = 8
SAMPLES = 8
INPUT_NAME = "input-0"
OUTPUT_NAME = "output-0"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def oip_tensor(name, datatype, array):
    """An OIP v2 tensor; float32 -> Python float is exact, so the server sees the same values."""
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": array.reshape(-1).tolist()}


def training_data(rng, features):
    x = rng.standard_normal((256, features))
    weights = rng.standard_normal(features)
    y = x @ weights + 0.1 * rng.standard_normal(256)
    return x, y


def request_inputs(features, dtype):
    rng = np.random.default_rng(INPUT_SEED)
    return [rng.standard_normal((1 + i % 3, features)).astype(dtype) for i in range(SAMPLES)]


def make_sklearn(out, rng):
    import joblib
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = training_data(rng, FEATURES)
    model = make_pipeline(StandardScaler(),
                          RandomForestRegressor(n_estimators=16, max_depth=6,
                                                random_state=int(rng.integers(1 << 31))))
    model.fit(x, y)
    joblib.dump(model, os.path.join(out, "model.joblib"))
    with open(os.path.join(out, "model.pkl"), "wb") as f:
        pickle.dump(model, f, protocol=4)
    inputs = request_inputs(FEATURES, np.float64)
    outputs = [model.predict(batch).astype(np.float64) for batch in inputs]
    return {"joblib": "model.joblib", "pickle": "model.pkl"}, inputs, "FP64", outputs, "FP64"


def make_xgboost(out, rng):
    import xgboost

    x, y = training_data(rng, FEATURES)
    params = {"max_depth": 4, "eta": 0.3, "objective": "reg:squarederror", "nthread": 1,
              "seed": int(rng.integers(1 << 31))}
    booster = xgboost.train(params, xgboost.DMatrix(x.astype(np.float32), label=y), num_boost_round=24)
    booster.save_model(os.path.join(out, "model.ubj"))
    with open(os.path.join(out, "model.pkl"), "wb") as f:
        pickle.dump(booster, f, protocol=4)
    inputs = request_inputs(FEATURES, np.float32)
    outputs = [booster.predict(xgboost.DMatrix(batch)).astype(np.float32) for batch in inputs]
    return {"xgboost": "model.ubj", "pickle": "model.pkl"}, inputs, "FP32", outputs, "FP32"


def make_onnx(out, rng):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    hidden, classes = 32, 4
    w1 = (rng.standard_normal((hidden, FEATURES)) / np.sqrt(FEATURES)).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(hidden)).astype(np.float32)
    w2 = (rng.standard_normal((classes, hidden)) / np.sqrt(hidden)).astype(np.float32)
    b2 = (0.1 * rng.standard_normal(classes)).astype(np.float32)
    initializers = [numpy_helper.from_array(value, name)
                    for name, value in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2))]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["a"]),
             helper.make_node("Gemm", ["a", "w2", "b2"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "mlp",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", classes])],
                              initializers)
    model = helper.make_model(graph, producer_name="armorbench", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save_model(model, os.path.join(out, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    inputs = request_inputs(FEATURES, np.float32)
    outputs = [(np.maximum(batch @ w1.T + b1, 0) @ w2.T + b2).astype(np.float32) for batch in inputs]
    return {"onnx": "model.onnx"}, inputs, "FP32", outputs, "FP32", ["weights.bin"], ("x", "y")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--format", required=True, choices=("sklearn", "xgboost", "onnx"))
    parser.add_argument("--name", help="model name served under /v2/models/NAME (default <format>-regressor)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(secrets.randbits(63))

    extra_files, names = [], (INPUT_NAME, OUTPUT_NAME)
    if args.format == "sklearn":
        files, inputs, in_type, outputs, out_type = make_sklearn(args.out, rng)
    elif args.format == "xgboost":
        files, inputs, in_type, outputs, out_type = make_xgboost(args.out, rng)
    else:
        files, inputs, in_type, outputs, out_type, extra_files, names = make_onnx(args.out, rng)
    name = args.name or f"{args.format}-model"
    input_name, output_name = names

    config = {"name": name, "format": args.format,
              "inputs": [{"name": input_name, "datatype": in_type, "shape": [-1, FEATURES]}],
              "outputs": [{"name": output_name, "datatype": out_type,
                           "shape": [-1] + [int(n) for n in outputs[0].shape[1:]]}]}
    if args.format == "onnx":
        # An ONNX graph names its own outputs (onnxruntime-based servers report the graph's):
        # the deployment does not declare them.
        del config["outputs"]
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

    hashed = sorted(set(files.values()) | set(extra_files) | {"model.json"})
    expected = {
        "model_name": name,
        "format": args.format,
        "files": files,
        "requests": [[oip_tensor(input_name, in_type, batch)] for batch in inputs],
        "outputs": [[oip_tensor(output_name, out_type, result)] for result in outputs],
        "tolerance": TOLERANCE,
        "sha256": {file: sha256_of(os.path.join(args.out, file)) for file in hashed},
    }
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
