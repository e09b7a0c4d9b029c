#!/usr/bin/python3
"""model_server.py serving user-supplied models, tested for real with Debian's python3 and torch.

Fixtures are made at test time: one small nn.Module with two inputs and a tuple answer, saved whole
(torch.save), scripted (torch.jit.script), as a state dict with its net.py, and as safetensors; and
files the server must refuse. Each case starts model_server.py on a UNIX socket and speaks OIP v2
over HTTP/1.1 to it. Each start imports torch (about 1.5 s), so the file takes about 20 s.
  /usr/bin/python3 test_model_server.py [-v] [-k PATTERN]
"""

import contextlib
import importlib.util
import itertools
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import unittest

import torch

from model_server_process import PYTHON, Server, UnixHTTPConnection, refused_load

WORKLOAD = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE_MODEL = os.path.join(WORKLOAD, "make_model.py")
MODEL_NAME = "two-heads"

# The user's architecture file: two inputs (features FP32 [B, n_in], ids INT64 [B]) and a tuple answer
# (logits FP32 [B, n_out], label INT64 [B]).
NET_PY = '''\
import torch
from torch import nn


class TwoHeads(nn.Module):
    def __init__(self, n_in=4, n_out=3):
        super().__init__()
        self.body = nn.Linear(n_in, 8)
        self.head = nn.Linear(8, n_out)
        self.offset = nn.Embedding(10, n_out)

    def forward(self, features, ids):
        logits = self.head(torch.relu(self.body(features))) + self.offset(ids)
        return logits, logits.argmax(dim=1)


class Mixed(nn.Module):
    """No weights; BOOL, UINT8 and a scalar FP16 in, a dict of INT32 and FP64 out."""

    def forward(self, mask, pixels, scale):
        return {"kept": pixels.to(torch.int32) * mask, "total": pixels.sum(dim=1).double() * scale.double()}
'''
INPUTS = [{"name": "features", "datatype": "FP32", "shape": [-1, 4]},
          {"name": "ids", "datatype": "INT64", "shape": [-1]}]
OUTPUTS = [{"name": "logits"}, {"name": "label", "datatype": "INT64", "shape": [-1]}]
ARCHITECTURE = {"file": "net.py", "class": "TwoHeads", "kwargs": {"n_in": 4, "n_out": 3}}


def write_safetensors(path, state_dict):
    """The safetensors layout by hand: u64 LE header length, JSON header, raw little-endian F32 data."""
    header, blobs, offset = {}, [], 0
    for name, tensor in state_dict.items():
        assert tensor.dtype == torch.float32, name
        blob = tensor.detach().contiguous().numpy().astype("<f4", copy=False).tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header_bytes = json.dumps(header).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(blobs))


def import_by_path(name, path):
    """Import a file as module `name`, so that torch.save pickles its classes as name.Class."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class ModelServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tmp = tempfile.TemporaryDirectory(prefix="armorbench-server-")
        cls.addClassCleanup(tmp.cleanup)
        cls.tmp = tmp.name
        cls.models = os.path.join(cls.tmp, "models")
        os.mkdir(cls.models)
        with open(cls.model_path("net.py"), "w") as f:
            f.write(NET_PY)
        # Imported as "net": the whole-module file then names net.TwoHeads, which the server finds
        # in net.py beside the config.
        net = import_by_path("net", cls.model_path("net.py"))
        cls.addClassCleanup(sys.modules.pop, "net", None)

        torch.manual_seed(20240601)
        model = net.TwoHeads(**ARCHITECTURE["kwargs"]).eval()
        torch.save(model, cls.model_path("module.pt"))
        torch.jit.script(model).save(cls.model_path("scripted.pt"))
        torch.save(model.state_dict(), cls.model_path("state.pt"))
        write_safetensors(cls.model_path("weights.safetensors"), model.state_dict())
        with open(cls.model_path("strings.pkl"), "wb") as f:
            pickle.dump(["not", "a", "model"], f)
        torch.save(net.TwoHeads(n_in=5, n_out=3).state_dict(), cls.model_path("mismatch.pt"))
        torch.save(net.Mixed(), cls.model_path("mixed.pt"))

        cls.features = torch.randn(5, 4)
        cls.ids = torch.tensor([0, 3, 9, 3, 7])
        with torch.no_grad():
            cls.expected = model(cls.features, cls.ids)

    @classmethod
    def model_path(cls, name):
        return os.path.join(cls.models, name)

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.tmp)
        self.configs = itertools.count()

    def config(self, fmt, **keys):
        """A model.json beside the model files (where net.py is): name, format, inputs, then keys."""
        config = {"name": MODEL_NAME, "format": fmt, "inputs": INPUTS, **keys}
        path = self.model_path(f"{os.path.basename(self.work)}-{next(self.configs)}.json")
        with open(path, "w") as f:
            json.dump({key: value for key, value in config.items() if value is not None}, f)
        return path

    @contextlib.contextmanager
    def serving(self, model, config, loader):
        """A ready server and a connection to it; stopped (and required to exit 0) however the test ends."""
        server = Server(self.work, model, config, loader)
        connection = None
        try:
            event = server.event()
            self.assertEqual(event and event.get("event"), "ready", server.stderr())
            connection = UnixHTTPConnection(server.socket_path)
            yield event, connection
        finally:
            if connection is not None:
                connection.close()
            code = server.stop()
        self.assertEqual(code, 0, server.stderr())

    def refusal(self, model, config, loader):
        return refused_load(self, self.work, model, config, loader)

    def request(self, features=None, ids=None):
        features = self.features if features is None else features
        ids = self.ids if ids is None else ids
        # ids first: the request may give the inputs in any order.
        return {"id": "r1", "inputs": [
            {"name": "ids", "datatype": "INT64", "shape": list(ids.shape), "data": ids.tolist()},
            {"name": "features", "datatype": "FP32", "shape": list(features.shape),
             "data": features.reshape(-1).tolist()}]}

    def infer(self, connection, body):
        return connection.call("POST", f"/v2/models/{MODEL_NAME}/infer", body)

    def assert_answers_like_the_model(self, body, names):
        self.assertEqual(body["id"], "r1")
        outputs = body["outputs"]
        self.assertEqual([output["name"] for output in outputs], names)
        self.assertEqual([(output["datatype"], output["shape"]) for output in outputs],
                         [("FP32", [5, 3]), ("INT64", [5])])
        logits = torch.tensor(outputs[0]["data"]).reshape(outputs[0]["shape"])
        self.assertTrue(torch.allclose(logits, self.expected[0]), (logits, self.expected[0]))
        self.assertEqual(outputs[1]["data"], self.expected[1].tolist())
        return logits

    # Good files: every format serves the model's own numbers.

    def test_every_format_serves_the_models_outputs(self):
        cases = (  # file, format, loader, declared outputs
            ("module.pt", "module", "torch", OUTPUTS),
            # torch.jit.load, whatever the loader: weights-only does not refuse a TorchScript file.
            ("scripted.pt", "torchscript", "torch-weights-only", None),
            ("state.pt", "state_dict", "torch", OUTPUTS),
            ("state.pt", "state_dict", "torch-weights-only", OUTPUTS),
            ("weights.safetensors", "safetensors", "safetensors", OUTPUTS),
        )
        served = []
        for file, fmt, loader, outputs in cases:
            architecture = ARCHITECTURE if fmt in ("state_dict", "safetensors") else None
            config = self.config(fmt, outputs=outputs, architecture=architecture)
            with self.subTest(format=fmt, loader=loader), \
                    self.serving(self.model_path(file), config, loader) as (event, connection):
                self.assertEqual((event["format"], event["loader"]), (fmt, loader))
                status, metadata = connection.call("GET", f"/v2/models/{MODEL_NAME}")
                self.assertEqual((status, metadata["name"], metadata["inputs"]), (200, MODEL_NAME, INPUTS))
                self.assertEqual(metadata["outputs"], outputs or [])  # nothing answered yet
                status, body = self.infer(connection, self.request())
                self.assertEqual(status, 200, body)
                names = ["logits", "label"] if outputs else ["output-0", "output-1"]
                served.append(self.assert_answers_like_the_model(body, names))
                # The first answer completes what the declaration left open.
                status, metadata = connection.call("GET", f"/v2/models/{MODEL_NAME}")
                self.assertEqual(metadata["outputs"], [{"name": names[0], "datatype": "FP32", "shape": [-1, -1]},
                                                       {"name": names[1], "datatype": "INT64", "shape": [-1]}])
        self.assertEqual(len(served), len(cases))
        for logits in served[1:]:
            self.assertTrue(torch.equal(logits, served[0]))

    def test_requests_must_fit_the_declaration(self):
        config = self.config("state_dict", outputs=OUTPUTS, architecture=ARCHITECTURE)
        with self.serving(self.model_path("state.pt"), config, "torch") as (_, connection):
            good = self.request()

            def changed(index, **fields):
                body = json.loads(json.dumps(good))
                body["inputs"][index].update(fields)
                return body

            bad_requests = {
                "unknown name": changed(0, name="idx"),
                "missing input": {"inputs": good["inputs"][:1]},
                "input given twice": {"inputs": good["inputs"] + good["inputs"][:1]},
                "wrong datatype": changed(1, datatype="FP64"),
                "floats for INT64": changed(0, data=[0.5] * 5),
                "booleans for FP32": changed(1, data=[True] * 20),
                "INT64 out of range": changed(0, data=[2 ** 63] * 5),
                "wrong size": changed(1, shape=[4, 5]),
                "wrong rank": changed(1, shape=[20]),
                "wrong data count": changed(1, data=[0.0] * 19),
                "not a list of inputs": {"inputs": {"features": []}},
            }
            for what, body in bad_requests.items():
                with self.subTest(what):
                    status, answer = self.infer(connection, body)
                    self.assertEqual(status, 400, answer)
                    self.assertIsInstance(answer["error"], str)
            status, answer = self.infer(connection, changed(0, name="idx"))
            self.assertIn("'idx'", answer["error"])
            # What the model itself raises on a well-formed request is a 500 with its type and message.
            status, answer = self.infer(connection, self.request(ids=torch.tensor([0, 1, 2, 3, 12])))
            self.assertEqual(status, 500, answer)
            self.assertTrue(answer["error"].startswith("IndexError: "), answer)
            # The same connection still serves a good request.
            status, body = self.infer(connection, good)
            self.assertEqual(status, 200, body)
            self.assert_answers_like_the_model(body, ["logits", "label"])

    def test_dict_result_and_other_datatypes(self):
        inputs = [{"name": "mask", "datatype": "BOOL", "shape": [-1, 3]},
                  {"name": "pixels", "datatype": "UINT8", "shape": [-1, 3]},
                  {"name": "scale", "datatype": "FP16", "shape": []}]
        mask, pixels = [[True, False, True], [False, True, True]], [[1, 2, 255], [7, 0, 9]]
        request = {"inputs": [
            {"name": "scale", "datatype": "FP16", "shape": [], "data": [0.5]},
            {"name": "mask", "datatype": "BOOL", "shape": [2, 3], "data": sum(mask, [])},
            {"name": "pixels", "datatype": "UINT8", "shape": [2, 3], "data": sum(pixels, [])}]}
        config = self.config("module", inputs=inputs)
        with self.serving(self.model_path("mixed.pt"), config, "torch") as (_, connection):
            status, body = self.infer(connection, request)
            self.assertEqual(status, 200, body)
            # Undeclared, a dict's outputs are named by its keys.
            self.assertEqual(body["outputs"], [
                {"name": "kept", "datatype": "INT32", "shape": [2, 3], "data": [1, 0, 255, 0, 0, 9]},
                {"name": "total", "datatype": "FP64", "shape": [2], "data": [129.0, 8.0]}])
            for what, index, data in (("integer for BOOL", 1, [1, 0, 1, 0, 1, 1]),
                                      ("256 for UINT8", 2, [1, 2, 256, 7, 0, 9]),
                                      ("-1 for UINT8", 2, [1, 2, -1, 7, 0, 9]),
                                      ("1e5 overflows FP16", 0, [1e5])):
                with self.subTest(what):
                    bad = json.loads(json.dumps(request))
                    bad["inputs"][index]["data"] = data
                    status, answer = self.infer(connection, bad)
                    self.assertEqual(status, 400, answer)

    # Files the server cannot serve: load_failed, exit 3, the loader's own message.

    def test_list_of_strings_is_refused(self):
        error = self.refusal(self.model_path("strings.pkl"), self.config("module"), "pickle")
        self.assertEqual(error, "TypeError: file holds list, not an nn.Module")
        error = self.refusal(self.model_path("strings.pkl"),
                             self.config("state_dict", architecture=ARCHITECTURE), "pickle")
        self.assertTrue(error.startswith("TypeError: pickle holds list"), error)

    def test_architecture_mismatch_is_refused_with_torchs_message(self):
        error = self.refusal(self.model_path("mismatch.pt"),
                             self.config("state_dict", architecture=ARCHITECTURE), "torch")
        self.assertTrue(error.startswith("RuntimeError: Error(s) in loading state_dict for TwoHeads"), error)
        self.assertIn("size mismatch for body.weight", error)

    def test_weights_only_loader_refuses_a_whole_module(self):
        error = self.refusal(self.model_path("module.pt"), self.config("module"), "torch-weights-only")
        self.assertTrue(error.startswith("UnpicklingError: Weights only load failed"), error)
        self.assertIn("net.TwoHeads", error)

    def test_config_errors_are_load_failures_naming_the_key(self):
        # Checked before torch is imported: these refusals are quick.
        model = self.model_path("state.pt")
        cases = {
            "'format'": self.config("keras"),
            "'inputs'": self.config("module", inputs=[]),
            "'inputs'[1].datatype": self.config("module", inputs=[INPUTS[0], {"name": "ids", "shape": [-1]}]),
            "'inputs'[0].shape": self.config("module", inputs=[{"name": "x", "datatype": "FP32", "shape": [-2]}]),
            "'outputs'[0].name": self.config("module", outputs=[{"datatype": "FP32"}]),
            "'architecture'": self.config("state_dict"),
            "'architecture'.file": self.config("state_dict", architecture=dict(ARCHITECTURE, file="../net.py")),
            "'architecture' is only for formats": self.config("torchscript", architecture=ARCHITECTURE),
        }
        for key, config in cases.items():
            with self.subTest(key):
                error = self.refusal(model, config, "torch")
                self.assertTrue(error.startswith("ValueError: "), error)
                self.assertIn(key, error)
        error = self.refusal(self.model_path("module.pt"), self.config("module"), "safetensors")
        self.assertIn("format module needs loader torch", error)

    # The generated MLP (no "format") is served exactly as before.

    def test_generated_mlp_still_serves(self):
        out = os.path.join(self.work, "mlp")
        subprocess.run([PYTHON, MAKE_MODEL, "--out", out, "--layers", "4,8,3", "--samples", "4"], check=True)
        with open(os.path.join(out, "expected.json")) as f:
            expected = json.load(f)
        with open(os.path.join(out, "model.json")) as f:
            self.assertNotIn("format", json.load(f))
        name = expected["model_name"]
        model, config = os.path.join(out, "model.pt"), os.path.join(out, "model.json")
        with self.serving(model, config, "torch") as (event, connection):
            self.assertEqual((event["format"], event["loader"]), ("mlp", "torch"))
            status, metadata = connection.call("GET", f"/v2/models/{name}")
            self.assertEqual((status, metadata["inputs"], metadata["outputs"]),
                             (200, [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}],
                              [{"name": "output-0", "datatype": "FP32", "shape": [-1, 3]}]))
            rows = expected["inputs"]
            status, body = connection.call("POST", f"/v2/models/{name}/infer", {"inputs": [
                {"name": "input-0", "datatype": "FP32", "shape": [len(rows), 4], "data": sum(rows, [])}]})
            self.assertEqual(status, 200, body)
            output = body["outputs"][0]
            self.assertEqual((output["name"], output["datatype"], output["shape"]),
                             ("output-0", "FP32", [len(rows), 3]))
            want = sum(expected["outputs"], [])
            self.assertEqual(len(output["data"]), len(want))
            for got, value in zip(output["data"], want):
                self.assertLessEqual(abs(got - value), 1e-4 * (1 + abs(value)))


if __name__ == "__main__":
    unittest.main()
