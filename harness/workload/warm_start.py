"""The warm start of model_server.py in a VM snapshot (vms/README.md "Snapshots").

Started by the guest agent's prewarm op before the guest is saved: it imports what the server
imports (torch above all, ~25 s under TCG), says {"event":"warm"} on stdout and blocks on stdin.
In each restored guest the agent writes one JSON line there, the argv of the server
(["/usr/bin/python3", ".../model_server.py", "--model", ...]), and this process runs the server
script as __main__, exactly as `python3 model_server.py ...` would, so the model is loaded (and a
malicious model's code runs) only now, in this case's guest, after its enforcer is ready.

`--list-files` (host side, with -c unused): after the imports, print every file this process
loaded, one per line, for the snapshot's root image (vms/guest/build-snapshot-root.py).
"""

import json
import os
import site
import sys


def _interpreter_path():
    """sys.path as the interpreter set it before `site` added to it (PYTHONPATH, the zip, the
    standard library, lib-dynload), without sys.path[0]: site adds only site dirs, and what .pth
    files in them name (the root image holds none)."""
    added = set(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        added.add(site.getusersitepackages())
    return [p for p in sys.path[1:] if p not in added]


# Taken before anything is imported: recomputed against the real root after the restore.
INTERPRETER_PATH = _interpreter_path()

import torch  # noqa: F401 E402  what the snapshot saves

# What model_server.py imports, so that none of it is read during a case (and the server's own
# `import torch` finds the module loaded).
import argparse  # noqa: F401
import importlib
import importlib.util  # noqa: F401
import math  # noqa: F401
import pickle  # noqa: F401
import random
import runpy
import signal  # noqa: F401
import socketserver  # noqa: F401
import stat  # noqa: F401
import struct  # noqa: F401
import time  # noqa: F401
from collections.abc import Mapping  # noqa: F401
from http.server import BaseHTTPRequestHandler  # noqa: F401
from urllib.parse import unquote, urlsplit  # noqa: F401 E402


def loaded_files():
    """The files this process mapped or imported, and the package directories it imported from."""
    files = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith("/"):
                files.add(fields[5].strip())
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            files.add(os.path.abspath(path))
        for directory in getattr(module, "__path__", None) or []:
            files.add(os.path.abspath(directory))
    return sorted(f for f in files if os.path.exists(f))


def script_dir(script):
    """sys.path[0] of `python3 script`: the directory of the script, its own symlinks followed."""
    path = os.path.abspath(script)
    for _ in range(40):
        if not os.path.islink(path):
            break
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return os.path.dirname(os.path.abspath(path))


def cold_sys_path(script):
    """Makes sys.path what a cold `python3 script` has on the root as it is now (the host's,
    after the resume): `site` ran in the saved guest against the root image, which lacks every
    site dir nothing was imported from and every .pth file, so it is run again here, .pth files
    (and their import lines) included, as the interpreter's start would. Directories whose
    absence was cached are looked at again."""
    sys.path[:] = [script_dir(script)] + INTERPRETER_PATH
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    site.main()  # sitecustomize/usercustomize were imported already: not run twice


def serve():
    print(json.dumps({"event": "warm", "pid": os.getpid(), "torch": torch.__version__}), flush=True)
    line = sys.stdin.readline()
    if not line:
        os._exit(0)
    argv = json.loads(line)
    # From here on as a cold start: stdin on /dev/null, sys.path and the import caches as a cold
    # interpreter has them on the host root (the saved ones were made on the root image), fresh
    # random state (every restore starts from the same saved one; the agent reseeded the
    # kernel's CRNG).
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    script = argv[1]
    sys.argv = argv[1:]
    cold_sys_path(script)
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    if sys.argv[1:] == ["--list-files"]:
        print("\n".join(loaded_files()))
    else:
        serve()
