"""What the Python tests of the model server share: model_server.py run as a process, and an
HTTP/1.1 client over its UNIX socket (attacks/models/tests and harness/workload/tests use both).
"""
import http.client
import json
import os
import select
import signal
import socket
import subprocess

PYTHON = "/usr/bin/python3"  # Debian's, which has torch
SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model_server.py")
EVENT_TIMEOUT = 120  # generous: import torch alone takes several seconds on a loaded 2-core host


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a UNIX socket; one instance is one keep-alive connection."""

    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)

    def call(self, method, path, body=None):
        """(status, JSON body); `body` is sent as is when bytes, as JSON otherwise."""
        payload = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = self.getresponse()
        return response.status, json.loads(response.read())


class Server:
    """One model_server.py process; event() is its single stdout line, stop() its exit status."""

    def __init__(self, workdir, model, config, loader):
        self.socket_path = os.path.join(workdir, "server.sock")
        # stderr goes to a file, not a pipe: processes a payload starts inherit it and may outlive
        # the server, so a pipe's EOF could be far away.
        self.stderr_path = os.path.join(workdir, "server.stderr")
        self.stdout_after_event = None
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [PYTHON, SERVER, "--model", model, "--config", config, "--loader", loader,
                 "--socket", self.socket_path], stdout=subprocess.PIPE, stderr=stderr)

    def event(self):
        """The first stdout line as JSON, or None if the process exited without one."""
        ready, _, _ = select.select([self.process.stdout], [], [], EVENT_TIMEOUT)
        if not ready:
            raise TimeoutError("model_server.py printed nothing")
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def stderr(self):
        """The tail of what the server wrote to stderr, as text."""
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        # After its one event line the server owes the harness nothing but EOF, and EOF must come
        # when the server is gone even if processes a payload started live on.
        readable, _, _ = select.select([self.process.stdout], [], [], 5)
        self.stdout_after_event = self.process.stdout.read1(65536) if readable else None
        self.process.stdout.close()
        return code


def refused_load(test, workdir, model, config, loader):
    """The error of a server that must refuse to load (load_failed event, exit 3), asserted on
    `test` (a unittest.TestCase)."""
    server = Server(workdir, model, config, loader)
    try:
        event = server.event()
        server.process.wait(timeout=60)
    finally:
        code = server.stop()
    test.assertEqual(code, 3, server.stderr())
    test.assertEqual(event and event.get("event"), "load_failed", event)
    return event["error"]
