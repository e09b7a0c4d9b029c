"""warm_start.py's sys.path, on the host: a warm process started while a site dir does not exist
(as in a snapshot's root image, which holds only what the warm imports loaded and no .pth file)
must, once handed its script, have exactly the sys.path a cold `python3 script` has now, .pth
files processed (their import lines run), and import what only that site dir holds.

The user site dir stands in for /usr/local/lib/python3.X/dist-packages: HOME points at a scratch
dir, the dir is made after the warm process started. Exit 0 when every check passed."""

import json
import os
import subprocess
import sys
import tempfile

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
WARM = os.path.join(HERE, "..", "warm_start.py")

PROBE = """
import json, os, sys
try:
    import ab_only_in_user_site
    found = ab_only_in_user_site.WHERE
except ImportError as e:
    found = "ImportError: " + str(e)
print(json.dumps({"path": sys.path, "found": found, "pth_ran": os.environ.get("AB_PTH_RAN")}),
      flush=True)
"""


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="armorbench-warm-test.") as scratch:
        home = os.path.join(scratch, "home")
        extra = os.path.join(scratch, "named-by-pth")
        os.makedirs(home)
        os.makedirs(extra)
        probe = os.path.join(scratch, "probe.py")
        with open(probe, "w") as out:
            out.write(PROBE)
        env = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "HOME": home,
               "PATH": "/usr/bin:/bin"}
        user_site = subprocess.run(
            [PYTHON, "-c", "import site; print(site.getusersitepackages())"], env=env,
            capture_output=True, text=True, check=True).stdout.strip()
        assert not os.path.exists(user_site), user_site

        with open(WARM) as f:
            warm_source = f.read()
        warm = subprocess.Popen([PYTHON, "-c", warm_source], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        first = json.loads(warm.stdout.readline())
        if first.get("event") != "warm":
            failures.append(f"no warm line: {first}")

        # Now the site dir exists, with a module and a .pth naming another dir and running code.
        os.makedirs(user_site)
        with open(os.path.join(user_site, "ab_only_in_user_site.py"), "w") as out:
            out.write("WHERE = 'user site'\n")
        with open(os.path.join(user_site, "ab-extra.pth"), "w") as out:
            out.write(extra + "\nimport os; os.environ['AB_PTH_RAN'] = '1'\n")

        warm.stdin.write(json.dumps([PYTHON, probe]) + "\n")
        warm.stdin.flush()
        restored = json.loads(warm.stdout.readline())
        warm.wait(timeout=60)
        cold = json.loads(subprocess.run([PYTHON, probe], env=env, capture_output=True, text=True,
                                         check=True).stdout)

        if restored["path"] != cold["path"]:
            failures.append("sys.path differs:\n  warm: %s\n  cold: %s"
                            % (restored["path"], cold["path"]))
        if user_site not in cold["path"] or extra not in cold["path"]:
            failures.append(f"the cold interpreter misses the site dir or the .pth's: {cold}")
        for key in ("found", "pth_ran"):
            if restored[key] != cold[key]:
                failures.append(f"{key}: warm {restored[key]!r}, cold {cold[key]!r}")
    for failure in failures:
        print("FAIL:", failure)
    print(f"{0 if failures else 1} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
