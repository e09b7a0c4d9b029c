#!/usr/bin/python3
"""The formats served without torch (scikit-learn, XGBoost, ONNX), for real with Debian's python3
and the archive's sklearn, xgboost and onnx: make_formats.py's models served by model_server.py
with every loader each can be read with, answers checked against the generator's; loader and
format mismatches refused; the ONNX evaluator refusing operators it cannot run; and the attack
tools for these formats (attacks/models): a gadget spliced into a joblib file and a pickled
booster runs at load, and an ONNX model's external data reaches a file outside its directory
through a symlink or "dir/../..", which the server then returns in its answers.
  /usr/bin/python3 test_formats.py [-v] [-k PATTERN]
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_server_process import PYTHON, Server, UnixHTTPConnection, refused_load  # noqa: E402

WORKLOAD = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.dirname(os.path.dirname(WORKLOAD))
MAKE_FORMATS = os.path.join(WORKLOAD, "make_formats.py")
INJECT = os.path.join(SOURCE, "attacks", "models", "inject_pickle.py")
ONNX_EXTERNAL = os.path.join(SOURCE, "attacks", "models", "onnx_external_data.py")
FORMATS = ("sklearn", "xgboost", "onnx")


def close(got, want, tolerance):
    return len(got) == len(want) and all(abs(a - b) <= tolerance * (1 + abs(b)) for a, b in zip(got, want))


class FormatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tmp = tempfile.TemporaryDirectory(prefix="armorbench-formats-")
        cls.addClassCleanup(tmp.cleanup)
        cls.tmp = tmp.name
        cls.expected = {}
        for fmt in FORMATS:
            out = os.path.join(cls.tmp, fmt)
            subprocess.run([PYTHON, MAKE_FORMATS, "--out", out, "--format", fmt], check=True)
            with open(os.path.join(out, "expected.json")) as f:
                cls.expected[fmt] = json.load(f)
            os.rename(os.path.join(out, "expected.json"), os.path.join(cls.tmp, fmt + ".expected.json"))

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.tmp)

    def model(self, fmt, file=None, loader=None):
        """(model path, config path, loader) of a generated model, by default its first loader."""
        files = self.expected[fmt]["files"]
        loader = loader or next(iter(files))
        return os.path.join(self.tmp, fmt, file or files[loader]), os.path.join(self.tmp, fmt, "model.json"), loader

    def answers(self, model, config, loader, fmt):
        """Every request of the generator's, answered by a server of this model: [outputs]."""
        server = Server(self.work, model, config, loader)
        try:
            event = server.event()
            self.assertEqual(event and event.get("event"), "ready", server.stderr())
            self.assertEqual(event["format"], fmt)
            connection = UnixHTTPConnection(server.socket_path)
            name = self.expected[fmt]["model_name"]
            status, metadata = connection.call("GET", f"/v2/models/{name}")
            self.assertEqual(status, 200)
            self.assertEqual(metadata["platform"], fmt)
            results = []
            for inputs in self.expected[fmt]["requests"]:
                status, body = connection.call("POST", f"/v2/models/{name}/infer", {"inputs": inputs})
                self.assertEqual(status, 200, body)
                results.append(body["outputs"])
            connection.close()
        finally:
            code = server.stop()
        self.assertEqual(code, 0, server.stderr())
        return results

    def assert_answers_match(self, fmt, results):
        expected = self.expected[fmt]
        for got, want in zip(results, expected["outputs"]):
            by_name = {output["name"]: output for output in got}
            for reference in want:
                output = by_name[reference["name"]]
                self.assertEqual((output["datatype"], output["shape"]), (reference["datatype"], reference["shape"]))
                self.assertTrue(close(output["data"], reference["data"], expected["tolerance"]),
                                (output["data"], reference["data"]))

    def refusal(self, model, config, loader):
        return refused_load(self, self.work, model, config, loader)

    def test_every_format_serves_the_generators_answers_with_each_loader(self):
        for fmt in FORMATS:
            for loader in self.expected[fmt]["files"]:
                with self.subTest(fmt=fmt, loader=loader):
                    self.assert_answers_match(fmt, self.answers(*self.model(fmt, loader=loader), fmt))

    def test_a_loader_that_cannot_read_the_format_is_refused(self):
        model, config, _ = self.model("sklearn")
        self.assertIn("format sklearn needs loader joblib or pickle", self.refusal(model, config, "onnx"))
        self.assertIn("loader xgboost reads formats xgboost", self.refusal(model, self.config_of("module"), "xgboost"))

    def config_of(self, fmt):
        path = os.path.join(self.work, f"{fmt}.json")
        with open(path, "w") as f:
            json.dump({"name": "m", "format": fmt, "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 8]}]}, f)
        return path

    def test_an_xgboost_loader_refuses_a_pickle_so_its_gadget_never_runs(self):
        model, config, _ = self.model("xgboost", loader="pickle")
        marker = os.path.join(self.work, "marker")
        evil = os.path.join(self.work, "model.ubj")
        subprocess.run([PYTHON, INJECT, "--base", model, "--out", evil, "--format", "pickle",
                        "--gadget", "os.system", "--command", f"echo ran > {marker}"], check=True)
        # XGBoost's reader refuses the bytes (in 1.7, a UnicodeDecodeError of the JSON reader)
        # and nothing of the pickle runs.
        self.refusal(evil, config, "xgboost")
        self.assertFalse(os.path.exists(marker))

    def test_a_gadget_in_a_joblib_file_or_a_pickled_booster_runs_and_the_model_still_serves(self):
        for fmt, loader, container in (("sklearn", "joblib", "joblib"), ("sklearn", "pickle", "pickle"),
                                       ("xgboost", "pickle", "pickle")):
            with self.subTest(fmt=fmt, loader=loader):
                model, config, _ = self.model(fmt, loader=loader)
                marker = os.path.join(self.work, f"marker-{fmt}-{loader}")
                evil = os.path.join(self.work, f"evil-{fmt}-{loader}")
                subprocess.run([PYTHON, INJECT, "--base", model, "--out", evil, "--format", container,
                                "--gadget", "os.system", "--command", f"echo ran > {marker}"], check=True)
                self.assert_answers_match(fmt, self.answers(evil, config, loader, fmt))
                with open(marker) as f:
                    self.assertEqual(f.read(), "ran\n")

    def test_a_joblib_file_is_not_spliced_as_a_plain_pickle(self):
        model, _, _ = self.model("sklearn", loader="joblib")
        result = subprocess.run([PYTHON, INJECT, "--base", model, "--out", os.path.join(self.work, "x"),
                                 "--format", "pickle", "--gadget", "os.system", "--command", "true"],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assertIn("is not a pickle", result.stderr)

    def test_onnx_external_data_outside_the_model_directory_comes_back_in_the_answers(self):
        secret = os.path.join(self.work, "secret")
        with open(secret, "wb") as f:
            f.write(b"token-0123456789")
        base = os.path.join(self.tmp, "onnx")
        for technique in ("symlink", "traversal"):
            with self.subTest(technique):
                out = os.path.join(self.work, technique)
                subprocess.run([PYTHON, ONNX_EXTERNAL, "--base", base, "--out", out, "--technique", technique,
                                "--target", secret, "--length", "16"], check=True)
                results = self.answers(os.path.join(out, "model.onnx"), os.path.join(out, "model.json"),
                                       "onnx", "onnx")
                self.assert_answers_match("onnx", results)  # the model's own output is untouched
                leaked = [output for output in results[0] if output["name"] == "leak_out"]
                self.assertEqual(len(leaked), 1)
                self.assertEqual(bytes(leaked[0]["data"]), b"token-0123456789")

    def test_the_onnx_evaluator_refuses_an_operator_it_cannot_run(self):
        import onnx
        from onnx import TensorProto, helper
        graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "conv",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4]),
                                   helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 1, 2, 2])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        path = os.path.join(self.work, "conv.onnx")
        onnx.save(helper.make_model(graph), path)
        error = self.refusal(path, self.config_of("onnx"), "onnx")
        self.assertIn("operator ai.onnx.Conv is not supported", error)


if __name__ == "__main__":
    unittest.main()
