#!/usr/bin/python3
"""Writes the broken model files of the bad-input corpus (models/) from the whole, loadable files
of harness/workload/tests/model-files/ (made there with torch), the way a download or a copy
breaks them: cut short, a corrupted zip directory. Kept in git; run from anywhere to change them:

  python3 make_model_files.py
"""
import io
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
WHOLE = os.path.join(HERE, "..", "..", "workload", "tests", "model-files")
OUT = os.path.join(HERE, "models")


def whole(name):
    with open(os.path.join(WHOLE, name), "rb") as f:
        return f.read()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)

    # A zip checkpoint (torch.save's default) cut in half: no end-of-central-directory record.
    checkpoint = whole("checkpoint.pt")
    write("truncated.pt", checkpoint[: len(checkpoint) // 2])

    # The whole checkpoint with its first central directory header overwritten.
    end = checkpoint.rindex(b"PK\x05\x06")
    (directory,) = struct.unpack_from("<I", checkpoint, end + 16)
    corrupt = bytearray(checkpoint)
    corrupt[directory:directory + 4] = b"\0\0\0\0"
    write("bad-central-directory.pt", bytes(corrupt))

    # The legacy (non-zip) torch.save format cut inside its fourth pickle, the state dict's.
    write("truncated-legacy.pt", whole("legacy.pt")[:250])

    # A TorchScript archive without its last 100 bytes.
    scripted = whole("linear.ts")
    write("truncated.ts", scripted[:-100])

    # A plain pickle (loader pickle) without its last 7 bytes.
    write("truncated.pkl", whole("state.pkl")[:-7])

    # safetensors without the bias tensor's 16 bytes.
    write("truncated.safetensors", whole("state.safetensors")[:-16])

    # A whole zip archive that is no checkpoint: no archive/data.pkl, no archive/version.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        info = zipfile.ZipInfo("archive/weights.txt", date_time=(2024, 1, 1, 0, 0, 0))
        archive.writestr(info, "0.1 0.2 0.3\n")
    write("not-a-checkpoint.pt", buffer.getvalue())

    write("empty.pt", b"")


if __name__ == "__main__":
    main()
