#!/usr/bin/python3
"""Builds the root image of a VM snapshot: a read-only ext4 file system holding what the warm
workload (harness/workload/warm_start.py) loads from the host root, at the same paths, plus the
guest agent (at /armorbench/) and the libraries it needs, and the mount points init.sh uses.

Why not the 9p host root: QEMU refuses to save a guest while a 9p share is mounted in it
("Migration is disabled when VirtFS export path ... is mounted"), so the guest that is saved runs
from this image and mounts the host root only after each restore (the agent's resume op).

Usage: build-snapshot-root.py --inputs PYTHON WARM_SCRIPT AGENT
           print "path size mtime_ns" of every file the image is made from (the caller hashes it)
       build-snapshot-root.py OUT PYTHON WARM_SCRIPT AGENT
           build OUT (ext4, via mke2fs -d); the last stdout line is "root-image BYTES FILES"
Exit codes: 0 ok, 3 something it needs is missing.
"""

import os
import shutil
import subprocess
import sys
import tempfile

AGENT_DIR = "/armorbench"
MOUNT_POINTS = ("proc", "sys", "dev", "tmp", "run", "newroot", "root")
EXTRA = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(3)


def loaded_by_warm(python, warm):
    out = subprocess.run([python, warm, "--list-files"], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        fail(f"{python} {warm} --list-files failed: {out.stderr[-2000:]}")
    return [line for line in out.stdout.splitlines() if line.startswith("/")]


def libraries_of(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        fail(f"ldd {binary} failed: {out.stderr}")
    libs = []
    for line in out.stdout.splitlines():
        for word in line.split():
            if word.startswith("/"):
                libs.append(word)
    return libs


def link_chain(path):
    """path and, while it is a symlink, every link it goes through (/etc/alternatives/...)."""
    chain = []
    seen = set()
    while path not in seen:
        seen.add(path)
        chain.append(path)
        if not os.path.islink(path):
            break
        path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    return chain


def closure(python, warm, agent):
    """Every path to copy: files, whole package directories, and the symlinks leading to them."""
    wanted = set(loaded_by_warm(python, warm)) | set(libraries_of(agent)) | {python}
    wanted |= {p for p in EXTRA if os.path.exists(p)}
    # The interpreter's and the libraries' symlinks (python3 -> python3.11, sonames): the dynamic
    # loader and the agent's exec open them by those names.
    resolved = {os.path.realpath(p) for p in wanted if os.path.isfile(p)}
    directories = {os.path.dirname(p) for p in wanted if os.path.isfile(p)}
    for directory in directories:
        try:
            entries = os.scandir(directory)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.is_symlink() and os.path.realpath(entry.path) in resolved:
                    wanted.add(entry.path)
    files = set()
    for path in wanted:
        if os.path.isdir(path) and not os.path.islink(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                for name in names:
                    files.update(link_chain(os.path.join(root, name)))
        else:
            files.update(link_chain(path))
    return sorted(f for f in files if os.path.lexists(f))


def describe(paths):
    for path in paths:
        st = os.lstat(path)
        print(f"{path} {st.st_size} {st.st_mtime_ns}")


def stage(paths, agent, root):
    """Copies paths into root: parents resolved (/lib/x -> /usr/lib/x), the last component as it
    is (a symlink stays a symlink); then the host's top-level symlinks (/lib -> usr/lib)."""
    for path in paths:
        parent = os.path.realpath(os.path.dirname(path))
        target = root + os.path.join(parent, os.path.basename(path))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(target):
            continue
        if os.path.islink(path):
            os.symlink(os.readlink(path), target)
        elif os.path.isfile(path):  # not the dangling end of a link, nor a directory it names
            shutil.copy2(path, target)
    for top in ("/lib", "/lib32", "/lib64", "/bin", "/sbin"):
        if os.path.islink(top) and not os.path.lexists(root + top):
            os.symlink(os.readlink(top), root + top)
    for point in MOUNT_POINTS:
        os.makedirs(os.path.join(root, point), exist_ok=True)
    os.makedirs(root + AGENT_DIR, exist_ok=True)
    shutil.copy2(agent, root + AGENT_DIR + "/armorbench-guest-agent")


def main():
    args = sys.argv[1:]
    if len(args) != 4:
        fail(__doc__)
    mode, python, warm, agent = args
    for path in (python, warm, agent):
        if not os.path.exists(path):
            fail(f"missing {path}")
    paths = closure(python, warm, agent)
    if mode == "--inputs":
        describe(paths + [agent])
        return
    if shutil.which("mke2fs") is None:
        fail("mke2fs not installed (e2fsprogs)")
    out = mode
    with tempfile.TemporaryDirectory(prefix="armorbench-snapshot-root.",
                                     dir=os.path.dirname(os.path.abspath(out))) as root:
        stage(paths, agent, root)
        size = sum(os.lstat(os.path.join(d, n)).st_size
                   for d, _, names in os.walk(root) for n in names)
        blocks_mib = size * 12 // 10 // (1 << 20) + 64
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-L",
                        "armorbench-root", "-d", root, out + ".tmp", f"{blocks_mib}M"],
                       check=True, timeout=600)
    os.chmod(out + ".tmp", 0o644)
    os.rename(out + ".tmp", out)
    print(f"root-image {os.path.getsize(out)} {len(paths)}")


if __name__ == "__main__":
    main()
