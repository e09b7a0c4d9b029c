#!/usr/bin/env python3
"""Extracts the uncompressed ELF vmlinux from a bzImage (Debian's 6.1 vmlinuz is xz-compressed).
Used for (1) PVH direct boot of the ELF, which skips real-mode setup and in-guest decompression,
and (2) its .BTF section, from which `bpftool btf dump file vmlinux format c` makes vmlinux.h.
usage: extract-vmlinux.py VMLINUZ OUT"""
import gzip
import lzma
import sys
import zlib

data = open(sys.argv[1], "rb").read()
candidates = [
    (b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(b)),
    (b"\x1f\x8b\x08", lambda b: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(b)),
]
for magic, dec in candidates:
    off = data.find(magic)
    while off >= 0:
        try:
            out = dec(data[off:])
            if out[:4] == b"\x7fELF":
                open(sys.argv[2], "wb").write(out)
                print("extracted %d bytes at offset %d" % (len(out), off))
                sys.exit(0)
        except Exception:
            pass
        off = data.find(magic, off + 1)
sys.exit("no ELF payload found in %s" % sys.argv[1])
