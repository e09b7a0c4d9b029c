#!/usr/bin/python3
"""Victim model server: loads a model with a chosen loader and serves KServe's Open Inference
Protocol v2 (REST) over HTTP/1.1 on a UNIX socket.

It runs inside the containers and VMs under test. The loaders differ exactly in how much code a
model file can run while being loaded, which is what the malicious-model attacks probe:
  torch               torch.load(weights_only=False), torch 1.13's default: unpickles anything
  torch-weights-only  torch.load(weights_only=True): a restricted unpickler that refuses globals
  safetensors         JSON header + raw bytes parsed here: no code can run
  pickle              pickle.load, like joblib/sklearn servers; the file holds {name: ndarray or Tensor}

Protocol with the harness: exactly one JSON line on stdout, then nothing more (output of anything
the model file starts is redirected to stderr):
  {"event":"ready","pid":...,"loader":...,"import_ms":...,"load_ms":...,"socket":...}
  {"event":"load_failed","error":"<type>: <msg>"}            exit 3 (model or config refused)
  {"event":"start_failed","error":"<type>: <msg>"}           exit 4 (socket could not be served)
SIGTERM/SIGINT: stop serving, remove the socket, exit 0. Only startup and errors go to stderr.

Writes nothing but the socket: the root filesystem may be read-only (only /tmp and /run writable).
"""

import argparse
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
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from mlp import build_mlp

# Bytecode caches would be written next to the sources on a read-only root; never try.
sys.dont_write_bytecode = True

LOADERS = ("torch", "torch-weights-only", "safetensors", "pickle")
INPUT_NAME = "input-0"
OUTPUT_NAME = "output-0"
MAX_BODY_BYTES = 64 << 20
MAX_BATCH = 4096
MAX_SAFETENSORS_HEADER = 100 << 20  # same bound as the reference safetensors reader
EXIT_LOAD_FAILED = 3
EXIT_START_FAILED = 4
SAFETENSORS_DTYPES = {"F32": "float32", "F64": "float64", "F16": "float16", "BF16": "bfloat16",
                      "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
                      "BOOL": "bool"}


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
    with open(path) as f:
        config = json.load(f)
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a JSON object")
    layers = config.get("layers")
    if config.get("architecture") != "mlp" or config.get("activation") != "relu":
        raise ValueError(f"{path}: only architecture 'mlp' with activation 'relu' is supported")
    if (not isinstance(layers, list) or len(layers) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in layers)):
        raise ValueError(f"{path}: 'layers' must be a list of at least two positive integers")
    if not isinstance(config.get("name"), str) or not config["name"]:
        raise ValueError(f"{path}: 'name' must be a non-empty string")
    return config


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


class Inference:
    """The loaded model, kept alive (weights resident in memory) for the whole life of the server."""

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
    parser.add_argument("--model", required=True, help="model file (.pt, .safetensors or plain pickle)")
    parser.add_argument("--config", required=True, help="model.json describing the architecture")
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
        # Imported here rather than at the top so its cost is measured for the ready event, and a
        # broken install is reported as load_failed like any other failure to load.
        started = time.monotonic()
        import torch
        imported = time.monotonic()
        torch.set_num_threads(args.threads)
        model = build_mlp(torch, config["layers"])
        model.load_state_dict(load_state_dict(torch, args.loader, args.model), strict=True)
        model.eval()
        loaded = time.monotonic()
    except Terminate:
        return 0
    except Exception as error:
        log(f"loading {args.model} with loader {args.loader} failed: {describe(error)}")
        emit(events, {"event": "load_failed", "error": describe(error)})
        return EXIT_LOAD_FAILED

    inference = Inference(torch, model, args.name or config["name"], config["layers"][0], config["layers"][-1])
    try:
        remove_stale_socket(args.socket)
        server = InferenceServer(args.socket, inference)
    except Exception as error:
        log(f"cannot listen on {args.socket}: {describe(error)}")
        emit(events, {"event": "start_failed", "error": f"{describe(error)} (socket {args.socket})"})
        return EXIT_START_FAILED

    try:
        emit(events, {"event": "ready", "pid": os.getpid(), "loader": args.loader,
                      "import_ms": round((imported - started) * 1000, 1),
                      "load_ms": round((loaded - imported) * 1000, 1), "socket": args.socket})
        log(f"serving {inference.name} ({args.loader}) on {args.socket}")
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
    sys.exit(main())
