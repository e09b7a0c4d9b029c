#!/usr/bin/python3
"""Victim model server: loads a model with a chosen loader and serves KServe's Open Inference
Protocol v2 (REST) over HTTP/1.1 on a UNIX socket.

It runs inside the containers and VMs under test. The loaders differ exactly in how much code a
model file can run while being loaded, which is what the malicious-model attacks probe:
  torch               torch.load(weights_only=False), torch 1.13's default: unpickles anything
  torch-weights-only  torch.load(weights_only=True): a restricted unpickler that refuses globals
  safetensors         JSON header + raw bytes parsed here: no code can run
  pickle              pickle.load, like joblib/sklearn servers; a state dict is {name: ndarray or Tensor}
  joblib              joblib.load (KServe's sklearn server): a pickle with numpy arrays inline
  xgboost             xgboost.Booster.load_model: XGBoost's own JSON/UBJSON, data only
  onnx                onnx.load: a protobuf graph; tensors may be external data files named in it

model.json (--config) names the model ("name") and says what the file holds ("format", absent = "mlp"):
  mlp          the generated MLP of mlp.py: "architecture": "mlp", "activation": "relu",
               "layers": [inputs, hidden..., outputs]; its state dict is read with the loader. Served
               as FP32 input "input-0" [B, inputs] -> output "output-0" [B, outputs], 1 <= B <= MAX_BATCH.
  module       a whole nn.Module saved with torch.save(model), read with loader torch, pickle or
               torch-weights-only (which refuses it: that refusal is the load failure); not safetensors
  torchscript  torch.jit.load(file); the loader is not used
  state_dict   a state dict read with the loader, loaded (strict) into the declared "architecture"
  safetensors  a safetensors file parsed as above, whatever the loader, loaded into "architecture"
  sklearn      a fitted scikit-learn estimator, read with loader joblib or pickle; one input, the
               answer is estimator.predict(X)
  xgboost      an XGBoost Booster (or its scikit-learn wrapper), read with loader xgboost (the
               booster's JSON/UBJSON), pickle or joblib; one input, the answer is booster.predict
  onnx         an ONNX graph read with loader onnx (external data resolved beside the file, as
               onnx.load does) and run by a small numpy evaluator of the operators in ONNX_OPS
Every format but mlp declares its tensors as OIP model metadata:
  "inputs"   [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}, ...]: required. -1 is any size;
             datatypes FP32 FP64 FP16 INT64 INT32 INT16 INT8 UINT8 BOOL. The model is called as
             model(*inputs) in this order.
  "outputs"  [{"name": "y"}, ...]: optional; may add "datatype" and "shape", which answers must match.
             Names the tensors of the model's tuple/list result in order, or the keys of its dict
             result; undeclared, outputs are named output-<i> (a dict's by its keys).
  "architecture"  {"file": "net.py", "class": "Net", "kwargs": {...}}: state_dict and safetensors
             only. net.py sits beside model.json and is imported by path (its code runs at load);
             the model is Net(**kwargs), Net an nn.Module subclass.
For module, state_dict and safetensors, model.json's directory is appended to sys.path: the classes
a pickled module names, and what net.py imports, are found in files beside it.
An infer request carries exactly the declared inputs (in any order), each with the declared datatype,
a shape of the declared rank matching every size but -1, and "data" as a flat row-major list of
JSON numbers (integers for INT*/UINT8, true/false for BOOL); MAX_ELEMENTS values at most in all.
Each output is answered as {name, datatype, shape, data}. Metadata lists the declared inputs and
outputs; what the declaration leaves open about outputs is filled in from the first answer.
What the model raises on a well-formed request is answered 500 "<type>: <msg>".

Protocol with the harness: exactly one JSON line on stdout, then nothing more (output of anything
the model file starts is redirected to stderr):
  {"event":"ready","pid":...,"loader":...,"format":...,"import_ms":...,"load_ms":...,"socket":...}
  {"event":"load_failed","error":"<type>: <msg>"}            exit 3 (model or config refused)
  {"event":"start_failed","error":"<type>: <msg>"}           exit 4 (socket could not be served)
SIGTERM/SIGINT: stop serving, remove the socket, exit 0. Only startup and errors go to stderr.

Writes nothing but the socket: the root filesystem may be read-only (only /tmp and /run writable).
"""

import argparse
import importlib.util
import json
import math
import os
import pickle
import signal
import socketserver
import stat
import struct
import sys
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from mlp import build_mlp

# Bytecode caches would be written next to the sources on a read-only root; never try.
sys.dont_write_bytecode = True

LOADERS = ("torch", "torch-weights-only", "safetensors", "pickle", "joblib", "xgboost", "onnx")
FORMATS = ("mlp", "module", "torchscript", "state_dict", "safetensors", "sklearn", "xgboost", "onnx")
# Formats served without torch, and the loaders each can be read with.
ARRAY_FORMATS = {"sklearn": ("joblib", "pickle"), "xgboost": ("xgboost", "pickle", "joblib"), "onnx": ("onnx",)}
INPUT_NAME = "input-0"
OUTPUT_NAME = "output-0"
MAX_BODY_BYTES = 64 << 20
MAX_BATCH = 4096
MAX_ELEMENTS = 1 << 22  # values in one request to a declared model (16 MiB as FP32); the body bound is 64 MiB
MAX_SAFETENSORS_HEADER = 100 << 20  # same bound as the reference safetensors reader
EXIT_LOAD_FAILED = 3
EXIT_START_FAILED = 4
SAFETENSORS_DTYPES = {"F32": "float32", "F64": "float64", "F16": "float16", "BF16": "bfloat16",
                      "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
                      "BOOL": "bool"}
# OIP datatype -> torch dtype, for the inputs a model.json may declare.
INPUT_DATATYPES = {"FP32": "float32", "FP64": "float64", "FP16": "float16", "INT64": "int64", "INT32": "int32",
                   "INT16": "int16", "INT8": "int8", "UINT8": "uint8", "BOOL": "bool"}
# A model may also answer bfloat16, which goes out as BF16 (Triton's name for it; OIP has none).
OUTPUT_DATATYPES = dict(INPUT_DATATYPES, BF16="bfloat16")
# sys.modules name of the architecture file: private, so a net.py can never replace an imported module.
ARCHITECTURE_MODULE = "_armorbench_architecture"


def take_event_channel():
    """Reserve the original stdout for the event line and point fd 1 at stderr.

    A malicious model runs code at load time, and anything it starts inherits fd 1: its output must
    not land in the harness's event channel. The private copy is close-on-exec (os.dup's default),
    so the harness also sees EOF when this process ends, even if processes a payload started live on.
    """
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return channel


def emit(channel, event):
    """One line is the harness's readiness signal: write it whole and flush at once."""
    channel.write(json.dumps(event, separators=(",", ":")) + "\n")
    channel.flush()


def log(message):
    print(f"model_server[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def describe(error):
    return f"{type(error).__name__}: {error}"


class BadRequest(Exception):
    """A client error answered with 400 and {"error": message}."""


def read_config(path):
    """model.json, checked whole before anything is loaded; "format" is filled in ("mlp" if absent)."""
    with open(path) as f:
        config = json.load(f)
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a JSON object")
    fmt = config.get("format", "mlp")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ValueError(f"{path}: 'format' must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "mlp":
        read_mlp_config(path, config)
    else:
        read_declared_config(path, config, fmt)
    config["format"] = fmt
    return config


def read_mlp_config(path, config):
    layers = config.get("layers")
    if config.get("architecture") != "mlp" or config.get("activation") != "relu":
        raise ValueError(f"{path}: only architecture 'mlp' with activation 'relu' is supported")
    if (not isinstance(layers, list) or len(layers) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in layers)):
        raise ValueError(f"{path}: 'layers' must be a list of at least two positive integers")
    if not isinstance(config.get("name"), str) or not config["name"]:
        raise ValueError(f"{path}: 'name' must be a non-empty string")
    for key in ("inputs", "outputs"):
        if key in config:
            raise ValueError(f"{path}: '{key}' is fixed for format mlp (input-0 -> output-0); "
                             "declare tensors only with another 'format'")


def read_declared_config(path, config, fmt):
    """A user model: its tensors as OIP metadata, and for a state dict the architecture to load it into."""
    if not isinstance(config.get("name"), str) or not config["name"]:
        raise ValueError(f"{path}: 'name' must be a non-empty string")
    config["inputs"] = read_tensor_declarations(path, config.get("inputs"), "inputs", INPUT_DATATYPES,
                                                required=True)
    if "outputs" in config:
        config["outputs"] = read_tensor_declarations(path, config["outputs"], "outputs", OUTPUT_DATATYPES,
                                                     required=False)
    if fmt in ("sklearn", "xgboost") and len(config["inputs"]) != 1:
        raise ValueError(f"{path}: format {fmt} takes exactly one input (the feature matrix X)")
    if fmt in ("state_dict", "safetensors"):
        config["architecture"] = read_architecture(path, config.get("architecture"))
    elif "architecture" in config:
        raise ValueError(f"{path}: 'architecture' is only for formats state_dict and safetensors; "
                         f"a {fmt} file carries its own")


def read_tensor_declarations(path, entries, key, datatypes, required):
    """A non-empty list of {"name", "datatype", "shape"} with unique names. Inputs need all three
    (required); outputs need only the name. Shapes hold sizes, -1 for any size."""
    if not isinstance(entries, list) or not entries:
        needed = " (required by every format but mlp)" if required else ""
        raise ValueError(f"{path}: '{key}' must be a non-empty list of "
                         f"{{\"name\", \"datatype\", \"shape\"}} objects{needed}")
    declared = []
    for i, entry in enumerate(entries):
        where = f"{path}: '{key}'[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}.name must be a non-empty string")
        if any(tensor["name"] == name for tensor in declared):
            raise ValueError(f"{where}.name {name!r} is declared twice")
        tensor = {"name": name}
        if required or "datatype" in entry:
            datatype = entry.get("datatype")
            if not isinstance(datatype, str) or datatype not in datatypes:
                raise ValueError(f"{where}.datatype must be one of {', '.join(datatypes)}, got {datatype!r}")
            tensor["datatype"] = datatype
        if required or "shape" in entry:
            shape = entry.get("shape")
            if not isinstance(shape, list) or not all(type(n) is int and n >= -1 for n in shape):
                raise ValueError(f"{where}.shape must be a list of sizes (-1: any size), got {shape!r}")
            tensor["shape"] = shape
        declared.append(tensor)
    return declared


def read_architecture(path, architecture):
    """{"file": "net.py", "class": "Net", "kwargs": {...}} -> the same with file as a full path beside
    model.json; kwargs defaults to {}."""
    where = f"{path}: 'architecture'"
    if not isinstance(architecture, dict):
        raise ValueError(f"{where} must be an object {{\"file\": \"net.py\", \"class\": \"Net\", "
                         f"\"kwargs\": {{}}}} for this format, got {architecture!r}")
    file = architecture.get("file")
    if not isinstance(file, str) or not file.endswith(".py") or os.path.basename(file) != file:
        raise ValueError(f"{where}.file must name a .py file in the directory of model.json, got {file!r}")
    full_path = os.path.join(os.path.dirname(os.path.abspath(path)), file)
    if not os.path.isfile(full_path):
        raise ValueError(f"{where}.file: no file {full_path}")
    class_name = architecture.get("class")
    if not isinstance(class_name, str) or not class_name.isidentifier():
        raise ValueError(f"{where}.class must be a class name, got {class_name!r}")
    kwargs = architecture.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise ValueError(f"{where}.kwargs must be an object of keyword arguments, got {kwargs!r}")
    return {"file": full_path, "class": class_name, "kwargs": kwargs}


def check_loader(fmt, loader):
    """Pairs that cannot work: a module is code and objects, which safetensors cannot hold; the
    formats served without torch have loaders of their own."""
    if fmt == "module" and loader == "safetensors":
        raise ValueError("format module needs loader torch, torch-weights-only or pickle: "
                         "safetensors holds only tensors")
    if fmt in ARRAY_FORMATS and loader not in ARRAY_FORMATS[fmt]:
        raise ValueError(f"format {fmt} needs loader {' or '.join(ARRAY_FORMATS[fmt])}, got {loader}")
    if fmt not in ARRAY_FORMATS and loader in ("joblib", "xgboost", "onnx"):
        raise ValueError(f"loader {loader} reads formats "
                         f"{', '.join(f for f, loaders in ARRAY_FORMATS.items() if loader in loaders)}, not {fmt}")


def load_safetensors(torch, path):
    """Parse safetensors by hand: a bounded JSON header and byte slices, nothing executable."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("file too short for a safetensors header")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > MAX_SAFETENSORS_HEADER or 8 + header_len > len(blob):
        raise ValueError(f"header length {header_len} is out of bounds")
    header = json.loads(blob[8:8 + header_len])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    # One writable copy of the data section; tensors view it, load_state_dict copies out of it.
    data = bytearray(blob[8 + header_len:])
    del blob
    state_dict = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype_name = SAFETENSORS_DTYPES.get(entry.get("dtype"))
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if dtype_name is None:
            raise ValueError(f"{name}: unsupported dtype {entry.get('dtype')!r}")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ValueError(f"{name}: bad shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(n, int) for n in offsets) or not 0 <= offsets[0] <= offsets[1] <= len(data)):
            raise ValueError(f"{name}: bad data_offsets {offsets!r}")
        dtype = getattr(torch, dtype_name)
        count = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if offsets[1] - offsets[0] != count * itemsize:
            raise ValueError(f"{name}: data_offsets span {offsets[1] - offsets[0]} bytes, "
                             f"shape needs {count * itemsize}")
        # safetensors data is little-endian, as is every host this runs on (x86_64).
        if count == 0:
            state_dict[name] = torch.empty(shape, dtype=dtype)
        else:
            state_dict[name] = torch.frombuffer(data, dtype=dtype, count=count, offset=offsets[0]).reshape(shape)
    return state_dict


def load_plain_pickle(torch, path):
    """pickle.load, then accept numpy arrays (what joblib-style files hold) as well as tensors."""
    with open(path, "rb") as f:
        loaded = pickle.load(f)
    if not isinstance(loaded, dict):
        raise TypeError(f"pickle holds {type(loaded).__name__}, expected a dict of tensors")
    return {name: value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
            for name, value in loaded.items()}


def load_state_dict(torch, loader, path):
    if loader == "torch":
        return torch.load(path, map_location="cpu", weights_only=False)
    if loader == "torch-weights-only":
        return torch.load(path, map_location="cpu", weights_only=True)
    if loader == "safetensors":
        return load_safetensors(torch, path)
    return load_plain_pickle(torch, path)


def load_model(torch, config, loader, model_path, config_path):
    """The model model.json describes, its weights from model_path, in eval mode."""
    fmt = config["format"]
    if fmt == "mlp":
        model = build_mlp(torch, config["layers"])
        model.load_state_dict(load_state_dict(torch, loader, model_path), strict=True)
    elif fmt == "torchscript":
        model = torch.jit.load(model_path, map_location="cpu")
    else:
        # Appended, not prepended: a file beside model.json can add modules but never shadow one.
        sys.path.append(os.path.dirname(os.path.abspath(config_path)))
        if fmt == "module":
            model = load_module(torch, loader, model_path)
        else:
            if fmt == "safetensors":
                state_dict = load_safetensors(torch, model_path)
            else:
                state_dict = require_state_dict(torch, load_state_dict(torch, loader, model_path))
            model = build_architecture(torch, config["architecture"])
            model.load_state_dict(state_dict, strict=True)
    model.eval()
    return model


def load_module(torch, loader, path):
    """A whole pickled nn.Module (torch.save(model), or pickle.dump for loader pickle)."""
    if loader == "pickle":
        with open(path, "rb") as f:
            loaded = pickle.load(f)
    else:
        loaded = torch.load(path, map_location="cpu", weights_only=loader == "torch-weights-only")
    if not isinstance(loaded, torch.nn.Module):
        hint = " (a state dict is format state_dict, with an 'architecture')" if isinstance(loaded, Mapping) else ""
        raise TypeError(f"file holds {type(loaded).__name__}, not an nn.Module{hint}")
    return loaded


def require_state_dict(torch, loaded):
    if not isinstance(loaded, Mapping):
        hint = " (a whole saved model is format module)" if isinstance(loaded, torch.nn.Module) else ""
        raise TypeError(f"file holds {type(loaded).__name__}, not a state dict of tensors{hint}")
    return loaded


def build_architecture(torch, architecture):
    """Import the declared file by path and build its class with the declared kwargs."""
    spec = importlib.util.spec_from_file_location(ARCHITECTURE_MODULE, architecture["file"])
    module = importlib.util.module_from_spec(spec)
    sys.modules[ARCHITECTURE_MODULE] = module  # dataclasses and typing look a class's module up here
    spec.loader.exec_module(module)
    cls = getattr(module, architecture["class"], None)
    if cls is None:
        raise AttributeError(f"{architecture['file']} defines no {architecture['class']}")
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        raise TypeError(f"{architecture['file']}: {architecture['class']} is not an nn.Module subclass")
    return cls(**architecture["kwargs"])


class Inference:
    """The generated MLP (format mlp), kept alive (weights resident in memory) for the whole life of
    the server."""

    def __init__(self, torch, model, name, in_features, out_features):
        self.torch = torch
        self.model = model
        self.name = name
        self.in_features = in_features
        self.out_features = out_features

    def metadata(self):
        return {
            "name": self.name,
            "versions": ["1"],
            "platform": "pytorch",
            "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, self.in_features]}],
            "outputs": [{"name": OUTPUT_NAME, "datatype": "FP32", "shape": [-1, self.out_features]}],
        }

    def infer(self, request):
        if not isinstance(request, dict) or not isinstance(request.get("inputs"), list) or len(request["inputs"]) != 1:
            raise BadRequest("expected {\"inputs\": [one tensor]}")
        tensor = request["inputs"][0]
        if not isinstance(tensor, dict):
            raise BadRequest("inputs[0] must be an object")
        if tensor.get("name") != INPUT_NAME:
            raise BadRequest(f"unknown input {tensor.get('name')!r}, expected {INPUT_NAME!r}")
        if tensor.get("datatype") != "FP32":
            raise BadRequest(f"datatype must be FP32, got {tensor.get('datatype')!r}")
        shape = tensor.get("shape")
        if (not isinstance(shape, list) or len(shape) != 2 or not all(type(n) is int for n in shape)
                or not 1 <= shape[0] <= MAX_BATCH or shape[1] != self.in_features):
            raise BadRequest(f"shape must be [B, {self.in_features}] with 1 <= B <= {MAX_BATCH}, got {shape!r}")
        data = tensor.get("data")
        if not isinstance(data, list) or len(data) != shape[0] * shape[1]:
            raise BadRequest(f"data must be a flat list of {shape[0] * shape[1]} numbers")
        if not all(type(value) in (int, float) for value in data):
            raise BadRequest("data must hold only numbers")
        try:
            batch = self.torch.tensor(data, dtype=self.torch.float32).reshape(shape)
        except (OverflowError, RuntimeError) as error:
            raise BadRequest(f"data does not fit FP32: {error}")
        with self.torch.inference_mode():
            result = self.model(batch)
        response = {
            "model_name": self.name,
            "outputs": [{"name": OUTPUT_NAME, "datatype": "FP32", "shape": list(result.shape),
                         "data": result.reshape(-1).tolist()}],
        }
        if "id" in request:
            response["id"] = request["id"]
        return response


class DeclaredInference:
    """A user-supplied model, served with the inputs (and outputs) its model.json declares."""

    def __init__(self, torch, model, name, inputs, outputs):
        self.torch = torch
        self.model = model
        self.name = name
        self.inputs = inputs  # [{"name", "datatype", "shape"}] in call order
        self.outputs = outputs  # [{"name", optional "datatype", "shape"}], or None: named by the model's result
        self.answered = None  # [(name, datatype, rank)] of the first answer, for what metadata cannot declare
        self.dtypes = {datatype: getattr(torch, dtype) for datatype, dtype in OUTPUT_DATATYPES.items()}
        self.datatypes = {dtype: datatype for datatype, dtype in self.dtypes.items()}

    def metadata(self):
        return {
            "name": self.name,
            "versions": ["1"],
            "platform": "pytorch",
            "inputs": [dict(tensor) for tensor in self.inputs],
            "outputs": self.output_metadata(),
        }

    def output_metadata(self):
        """The declared outputs, completed from the first answer (all of them from it, undeclared)."""
        answered = self.answered or []
        if self.outputs is None:
            return [{"name": name, "datatype": datatype, "shape": [-1] * rank} for name, datatype, rank in answered]
        outputs = [dict(tensor) for tensor in self.outputs]
        for tensor, (_, datatype, rank) in zip(outputs, answered):
            tensor.setdefault("datatype", datatype)
            tensor.setdefault("shape", [-1] * rank)
        return outputs

    def infer(self, request):
        given = self.given_inputs(request)
        shapes = [self.check_shape(declared, given[declared["name"]]) for declared in self.inputs]
        if sum(math.prod(shape) for shape in shapes) > MAX_ELEMENTS:
            raise BadRequest(f"at most {MAX_ELEMENTS} input values in one request")
        tensors = [self.to_tensor(declared, given[declared["name"]], shape)
                   for declared, shape in zip(self.inputs, shapes)]
        result = self.run(tensors)
        outputs = [self.answer(name, value, declared) for name, value, declared in self.named_results(result)]
        if self.answered is None:
            self.answered = [(output["name"], output["datatype"], len(output["shape"])) for output in outputs]
        response = {"model_name": self.name, "outputs": outputs}
        if "id" in request:
            response["id"] = request["id"]
        return response

    def run(self, tensors):
        with self.torch.inference_mode():
            return self.model(*tensors)

    def given_inputs(self, request):
        """{name: request tensor}, exactly the declared inputs, each once."""
        names = [tensor["name"] for tensor in self.inputs]
        if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
            raise BadRequest(f"expected {{\"inputs\": [tensors named {', '.join(names)}]}}")
        given = {}
        for i, tensor in enumerate(request["inputs"]):
            if not isinstance(tensor, dict):
                raise BadRequest(f"inputs[{i}] must be an object")
            name = tensor.get("name")
            if not isinstance(name, str) or name not in names:
                raise BadRequest(f"unknown input {name!r}, expected {', '.join(names)}")
            if name in given:
                raise BadRequest(f"input {name!r} given twice")
            given[name] = tensor
        missing = [name for name in names if name not in given]
        if missing:
            raise BadRequest(f"missing input {', '.join(missing)}")
        return given

    def check_shape(self, declared, tensor):
        """The request's shape, if its datatype and shape fit the declaration."""
        name, want = declared["name"], declared["shape"]
        if tensor.get("datatype") != declared["datatype"]:
            raise BadRequest(f"input {name!r}: datatype must be {declared['datatype']}, "
                             f"got {tensor.get('datatype')!r}")
        shape = tensor.get("shape")
        if (not isinstance(shape, list) or len(shape) != len(want)
                or not all(type(n) is int and n >= 0 for n in shape)
                or any(size != wanted for size, wanted in zip(shape, want) if wanted != -1)):
            raise BadRequest(f"input {name!r}: shape must fit {want} (-1: any size), got {shape!r}")
        return shape

    def to_tensor(self, declared, tensor, shape):
        """The request's flat data as a tensor of the declared dtype, values checked to fit it."""
        name, datatype = declared["name"], declared["datatype"]
        count = math.prod(shape)
        data = tensor.get("data")
        if not isinstance(data, list) or len(data) != count:
            raise BadRequest(f"input {name!r}: data must be a flat list of {count} values")
        dtype = self.dtypes[datatype]
        if datatype == "BOOL":
            kinds, what = (bool,), "true/false"
        elif self.is_float_dtype(dtype):
            kinds, what = (int, float), "numbers"
        else:
            kinds, what = (int,), "integers"
        if not all(type(value) in kinds for value in data):
            raise BadRequest(f"input {name!r}: {datatype} data must hold only {what}")
        if kinds == (int,) and data:
            info = self.iinfo(dtype)
            if min(data) < info.min or max(data) > info.max:
                raise BadRequest(f"input {name!r}: data out of {datatype} range [{info.min}, {info.max}]")
        try:
            values = self.make_tensor(data, dtype, shape)
        except (OverflowError, RuntimeError) as error:
            raise BadRequest(f"input {name!r}: data does not fit {datatype}: {error}")
        # Python's json reads 1e400 as inf, and 1e5 overflows FP16: the model wants finite input.
        if self.is_float_dtype(dtype) and not self.all_finite(values):
            raise BadRequest(f"input {name!r}: data does not fit {datatype} (not finite)")
        return values

    # The tensor library's part (torch here, numpy in ArrayInference).
    def is_float_dtype(self, dtype):
        return dtype.is_floating_point

    def iinfo(self, dtype):
        return self.torch.iinfo(dtype)

    def make_tensor(self, data, dtype, shape):
        return self.torch.tensor(data, dtype=dtype).reshape(shape)

    def all_finite(self, values):
        return bool(self.torch.isfinite(values).all())

    def as_output(self, name, value):
        if not isinstance(value, self.torch.Tensor):
            raise TypeError(f"output {name!r} is {type(value).__name__}, not a tensor")
        return value.detach().cpu()

    def named_results(self, result):
        """(name, tensor, declaration or None) for each tensor of the model's result."""
        declared = {tensor["name"]: tensor for tensor in self.outputs or []}
        if isinstance(result, dict):
            names = list(result)
            if not all(isinstance(name, str) for name in names):
                raise TypeError(f"model returned a dict keyed by {names}, not by output names")
            if self.outputs is not None and set(names) != set(declared):
                raise ValueError(f"model returned outputs {names}, model.json declares {list(declared)}")
            order = list(declared) if self.outputs is not None else names
            return [(name, result[name], declared.get(name)) for name in order]
        values = list(result) if isinstance(result, (tuple, list)) else [result]
        if self.outputs is None:
            return [(f"output-{i}", value, None) for i, value in enumerate(values)]
        if len(values) != len(self.outputs):
            raise ValueError(f"model returned {len(values)} outputs, model.json declares {len(self.outputs)}")
        return [(tensor["name"], value, tensor) for tensor, value in zip(self.outputs, values)]

    def answer(self, name, value, declared):
        """One OIP output tensor; a result the declaration or JSON cannot carry is the model's error (500)."""
        value = self.as_output(name, value)
        datatype = self.datatypes.get(value.dtype)
        if datatype is None:
            raise TypeError(f"output {name!r} has dtype {value.dtype}, which the protocol cannot carry")
        shape = list(value.shape)
        if declared is not None and declared.get("datatype", datatype) != datatype:
            raise ValueError(f"output {name!r} is {datatype}, model.json declares {declared['datatype']}")
        want = declared.get("shape") if declared is not None else None
        if want is not None and (len(shape) != len(want)
                                 or any(size != wanted for size, wanted in zip(shape, want) if wanted != -1)):
            raise ValueError(f"output {name!r} has shape {shape}, model.json declares {want}")
        if self.is_float_dtype(value.dtype) and not self.all_finite(value):
            raise ValueError(f"output {name!r} holds values that are not finite, which JSON cannot carry")
        return {"name": name, "datatype": datatype, "shape": shape, "data": value.reshape(-1).tolist()}


# ONNX TensorProto element types -> numpy dtypes, for the graph's inputs and initializers.
ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
               10: "float16", 11: "float64"}


def onnx_gemm(np, attrs, a, b, c=None):
    a = a.T if attrs.get("transA", 0) else a
    b = b.T if attrs.get("transB", 0) else b
    result = attrs.get("alpha", 1.0) * (a @ b)
    return result if c is None else result + attrs.get("beta", 1.0) * c


def onnx_softmax(np, attrs, x):
    shifted = np.exp(x - x.max(axis=attrs.get("axis", -1), keepdims=True))
    return shifted / shifted.sum(axis=attrs.get("axis", -1), keepdims=True)


# The operators the evaluator runs (ONNX opset 13 semantics): enough for MLPs and linear models.
ONNX_OPS = {
    "Gemm": onnx_gemm,
    "MatMul": lambda np, attrs, a, b: a @ b,
    "Add": lambda np, attrs, a, b: a + b,
    "Sub": lambda np, attrs, a, b: a - b,
    "Mul": lambda np, attrs, a, b: a * b,
    "Div": lambda np, attrs, a, b: a / b,
    "Relu": lambda np, attrs, x: np.maximum(x, 0).astype(x.dtype),
    "Sigmoid": lambda np, attrs, x: (1 / (1 + np.exp(-x))).astype(x.dtype),
    "Tanh": lambda np, attrs, x: np.tanh(x),
    "Identity": lambda np, attrs, x: x,
    "Softmax": onnx_softmax,
    "Flatten": lambda np, attrs, x: x.reshape(int(np.prod(x.shape[:attrs.get("axis", 1)])), -1),
    "Reshape": lambda np, attrs, x, shape: x.reshape([int(n) for n in shape]),
    "Transpose": lambda np, attrs, x: np.transpose(x, attrs.get("perm")),
    "Concat": lambda np, attrs, *xs: np.concatenate(xs, axis=attrs["axis"]),
}


class OnnxGraph:
    """An ONNX graph run node by node with numpy. Every operator is checked at load, so a graph
    this evaluator cannot run is refused before serving, never answered wrongly."""

    def __init__(self, np, onnx, model):
        from onnx import helper, numpy_helper
        self.np = np
        graph = model.graph
        # onnx.load has already read every external data file named by a tensor's "location".
        self.values = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
        self.nodes = []
        for node in graph.node:
            if node.domain not in ("", "ai.onnx") or node.op_type not in ONNX_OPS:
                raise ValueError(f"operator {node.domain or 'ai.onnx'}.{node.op_type} is not supported "
                                 f"(supported: {', '.join(sorted(ONNX_OPS))})")
            attrs = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
            self.nodes.append((ONNX_OPS[node.op_type], attrs, list(node.input), list(node.output)))
        self.inputs = [value.name for value in graph.input if value.name not in self.values]
        self.outputs = [value.name for value in graph.output]

    def __call__(self, *arrays):
        values = dict(self.values)
        values.update(zip(self.inputs, arrays))
        for op, attrs, inputs, outputs in self.nodes:
            missing = [name for name in inputs if name and name not in values]
            if missing:
                raise ValueError(f"graph value {missing[0]!r} is used before it is computed")
            results = op(self.np, attrs, *[values[name] for name in inputs if name])
            for name, result in zip(outputs, results if isinstance(results, tuple) else (results,)):
                values[name] = result
        return {name: values[name] for name in self.outputs}


def load_array_model(fmt, loader, path):
    """(numpy, the model as a callable on numpy arrays) for the formats served without torch."""
    import numpy as np
    if loader == "pickle":
        with open(path, "rb") as f:
            loaded = pickle.load(f)
    elif loader == "joblib":
        import joblib
        loaded = joblib.load(path)
    elif loader == "xgboost":
        import xgboost
        loaded = xgboost.Booster()
        loaded.load_model(path)
    else:
        import onnx
        return np, OnnxGraph(np, onnx, onnx.load(path))
    if fmt == "sklearn":
        if not callable(getattr(loaded, "predict", None)):
            raise TypeError(f"file holds {type(loaded).__name__}, not a fitted estimator with predict()")
        return np, loaded.predict
    import xgboost
    if isinstance(loaded, xgboost.XGBModel):
        loaded = loaded.get_booster()
    if not isinstance(loaded, xgboost.Booster):
        raise TypeError(f"file holds {type(loaded).__name__}, not an xgboost Booster")
    return np, lambda x: loaded.predict(xgboost.DMatrix(x))


class ArrayInference(DeclaredInference):
    """A scikit-learn, XGBoost or ONNX model: the same requests and answers as DeclaredInference,
    with numpy arrays in place of torch tensors."""

    def __init__(self, np, model, name, inputs, outputs, platform):
        self.np = np
        self.model = model
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.answered = None
        self.platform = platform
        self.dtypes = {datatype: np.dtype(dtype) for datatype, dtype in INPUT_DATATYPES.items()}
        self.datatypes = {dtype: datatype for datatype, dtype in self.dtypes.items()}

    def metadata(self):
        return dict(super().metadata(), platform=self.platform)

    def run(self, arrays):
        return self.model(*arrays)

    def is_float_dtype(self, dtype):
        return dtype.kind == "f"

    def iinfo(self, dtype):
        return self.np.iinfo(dtype)

    def make_tensor(self, data, dtype, shape):
        with self.np.errstate(over="ignore"):
            return self.np.array(data, dtype=dtype).reshape(shape)

    def all_finite(self, values):
        return bool(self.np.isfinite(values).all())

    def as_output(self, name, value):
        return self.np.asarray(value)


class InferenceHandler(BaseHTTPRequestHandler):
    """Open Inference Protocol v2 REST routes. Keep-alive comes from HTTP/1.1 plus Content-Length on every reply."""

    protocol_version = "HTTP/1.1"
    server_version = "armorbench-model-server/1"

    def log_message(self, format, *args):
        # Per-request logging is noise (and BaseHTTPRequestHandler's version indexes client_address,
        # which is empty on a UNIX socket).
        pass

    def log_error(self, format, *args):
        log("http: " + (format % args))

    def send_json(self, status, body):
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise BadRequest("chunked request bodies are not supported; send Content-Length")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            # The body's end is unknown, so the connection cannot carry another request.
            self.close_connection = True
            raise BadRequest(f"Content-Length must be between 0 and {MAX_BODY_BYTES}")
        return self.rfile.read(length)

    def route(self):
        """Return (status, body) for the request; raises BadRequest for malformed input."""
        inference = self.server.inference
        parts = [unquote(part) for part in urlsplit(self.path).path.strip("/").split("/")]
        body = self.read_body()  # even when unused: the next request on the connection starts after it
        if parts[:1] != ["v2"]:
            return 404, {"error": f"no route for {self.path}"}
        rest = parts[1:]
        if self.command == "GET":
            if rest == []:
                return 200, {"name": "armorbench-model-server", "version": "1", "extensions": []}
            if rest == ["health", "live"]:
                return 200, {"live": True}
            if rest == ["health", "ready"]:
                return 200, {"ready": True}
        if len(rest) >= 2 and rest[0] == "models":
            if rest[1] != inference.name:
                return 404, {"error": f"unknown model {rest[1]!r}"}
            action = rest[2:]
            if self.command == "GET" and action == []:
                return 200, inference.metadata()
            if self.command == "GET" and action == ["ready"]:
                return 200, {"name": inference.name, "ready": True}
            if self.command == "POST" and action == ["infer"]:
                try:
                    request = json.loads(body, parse_constant=reject_constant)
                except ValueError as error:
                    raise BadRequest(f"body is not valid JSON: {error}")
                return 200, inference.infer(request)
        return 404, {"error": f"no route for {self.command} {self.path}"}

    def handle_request(self):
        try:
            status, body = self.route()
        except BadRequest as error:
            status, body = 400, {"error": str(error)}
        except Exception as error:  # a bug must answer 500, not drop a keep-alive connection
            log(f"internal error on {self.command} {self.path}: {describe(error)}")
            status, body = 500, {"error": describe(error)}
        self.send_json(status, body)

    do_GET = do_POST = handle_request


def reject_constant(name):
    # Python's json accepts NaN/Infinity; v2 bodies are standard JSON and the model wants finite input.
    raise ValueError(f"non-finite number {name}")


class InferenceServer(socketserver.ThreadingUnixStreamServer):
    # A harness may hold a keep-alive connection while probing health on another one.
    daemon_threads = True

    def __init__(self, socket_path, inference):
        self.inference = inference
        super().__init__(socket_path, InferenceHandler)


class Terminate(BaseException):
    """Raised from the SIGTERM handler to leave serve_forever (or a slow load) in the main thread;
    a BaseException so that no library's `except Exception` swallows it."""


def on_terminate(signum, frame):
    raise Terminate()


def remove_stale_socket(path):
    """A socket file left by a killed server blocks bind(); anything that is not a socket is an error."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket")
    os.unlink(path)


def main():
    parser = argparse.ArgumentParser(description="Serve a model over the Open Inference Protocol v2 on a UNIX socket.")
    parser.add_argument("--model", required=True, help="model file (.pt, .safetensors, a pickle, TorchScript, joblib, XGBoost JSON/UBJSON or ONNX)")
    parser.add_argument("--config", required=True, help="model.json: the model's format, architecture and tensors")
    parser.add_argument("--loader", required=True, choices=LOADERS)
    parser.add_argument("--socket", required=True, help="UNIX socket path to listen on")
    parser.add_argument("--name", help="model name in URLs (default: the name in --config)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: the model is small, and every thread "
                             "counts against pids.max)")
    args = parser.parse_args()
    if args.threads < 1:
        parser.error("--threads must be at least 1")

    events = take_event_channel()
    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, on_terminate)

    try:
        config = read_config(args.config)
        check_loader(config["format"], args.loader)
        # Imported here rather than at the top so its cost is measured for the ready event, and a
        # broken install is reported as load_failed like any other failure to load.
        started = time.monotonic()
        if config["format"] in ARRAY_FORMATS:
            # The file is read by the format's own library (imported in load_array_model); its
            # import counts as load time here.
            imported = time.monotonic()
            numpy, model = load_array_model(config["format"], args.loader, args.model)
        else:
            import torch
            imported = time.monotonic()
            torch.set_num_threads(args.threads)
            model = load_model(torch, config, args.loader, args.model, args.config)
        loaded = time.monotonic()
    except Terminate:
        return 0
    except Exception as error:
        log(f"loading {args.model} with loader {args.loader} failed: {describe(error)}")
        emit(events, {"event": "load_failed", "error": describe(error)})
        return EXIT_LOAD_FAILED

    name = args.name or config["name"]
    if config["format"] == "mlp":
        inference = Inference(torch, model, name, config["layers"][0], config["layers"][-1])
    elif config["format"] in ARRAY_FORMATS:
        inference = ArrayInference(numpy, model, name, config["inputs"], config.get("outputs"),
                                   config["format"])
    else:
        inference = DeclaredInference(torch, model, name, config["inputs"], config.get("outputs"))
    try:
        remove_stale_socket(args.socket)
        server = InferenceServer(args.socket, inference)
    except Exception as error:
        log(f"cannot listen on {args.socket}: {describe(error)}")
        emit(events, {"event": "start_failed", "error": f"{describe(error)} (socket {args.socket})"})
        return EXIT_START_FAILED

    try:
        emit(events, {"event": "ready", "pid": os.getpid(), "loader": args.loader,
                      "format": config["format"], "import_ms": round((imported - started) * 1000, 1),
                      "load_ms": round((loaded - imported) * 1000, 1), "socket": args.socket})
        log(f"serving {inference.name} ({config['format']}, loader {args.loader}) on {args.socket}")
        server.serve_forever()
    except Terminate:
        log("terminating")
    finally:
        server.server_close()
        try:
            os.unlink(args.socket)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    status = main()
    # Skip the interpreter's finalization (with torch loaded, a few hundred ms of module and
    # thread-pool teardown that only delays the harness's stop): everything that matters is
    # written and flushed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
