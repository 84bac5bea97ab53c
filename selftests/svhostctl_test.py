#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""svhostctl against the real module: what tools/tests checks against a
fake sysfs tree, checked once against /sys/kernel/svhost itself.

Creates a port (as a vSwitch would, with the ioctl), then drives svhostctl:
list, show, grant (uid, cgroup), grants, ungrant, revoke, ungrant --all,
and reads sysfs back.  Prints KTAP.  Needs root and svhost.ko loaded;
svhostctl is $SVHOST_CTL, or ../tools/svhostctl next to this directory in
the secure-vhost repository; skips (exit 4) when there is none.
"""

import fcntl
import json
import os
import struct
import subprocess
import sys

SYSFS = "/sys/kernel/svhost"
KSFT_SKIP = 4

# uapi/linux/svhost.h: struct svhost_port_create, 136 bytes
CREATE_FMT = "<IIIIII32s80s"
IOC_MAGIC = 0xBB


def iowr(nr, size):
    return (3 << 30) | (size << 16) | (IOC_MAGIC << 8) | nr


SVHOST_PORT_CREATE = iowr(1, struct.calcsize(CREATE_FMT))


def find_ctl():
    here = os.path.dirname(os.path.abspath(__file__))
    for c in (os.environ.get("SVHOST_CTL"),
              os.path.join(here, "..", "tools", "svhostctl")):
        if c and os.access(c, os.X_OK):
            return c
    return None


class Tap:
    def __init__(self, n):
        self.n = 0
        self.failed = 0
        print("TAP version 13\n1..%d" % n, flush=True)

    def check(self, ok, what, detail=""):
        self.n += 1
        if not ok:
            self.failed += 1
            for line in str(detail).splitlines():
                print("# " + line)
        print("%s %d %s" % ("ok" if ok else "not ok", self.n, what),
              flush=True)


def main():
    ctl = find_ctl()
    if os.geteuid() != 0 or not os.path.isdir(SYSFS) or not ctl:
        print("TAP version 13\n1..0 # SKIP needs root, svhost.ko and "
              "svhostctl (SVHOST_CTL)")
        return KSFT_SKIP

    def run(*argv):
        p = subprocess.run([ctl] + list(argv), capture_output=True,
                           text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    name = "ctl-%d" % os.getpid()
    cg = "/svhostctl-test-%d" % os.getpid()
    t = Tap(12)
    fd = os.open("/dev/svhost", os.O_RDWR)
    buf = bytearray(struct.pack(CREATE_FMT, 0, 1, 64, 2048, 1024, 0,
                                name.encode(), bytes(80)))
    fcntl.ioctl(fd, SVHOST_PORT_CREATE, buf)
    try:
        rc, out, err = run("list", "--json")
        j = json.loads(out) if rc == 0 else {}
        mine = [p for p in j.get("ports", []) if p["name"] == name]
        t.check(rc == 0 and len(mine) == 1 and
                mine[0]["state"] == "ready" and
                mine[0]["owner_pid"] == os.getpid() and
                mine[0]["pool_bytes"] == 2 << 20,
                "list --json shows the port", out + err)

        rc, out, err = run("show", name, "--json")
        j = json.loads(out) if rc == 0 else {}
        t.check(rc == 0 and j.get("grant") is None and
                j.get("copier_pid") == -1 and j.get("id", 0) > 0,
                "show --json: no grant yet, no copier", out + err)

        rc, out, err = run("grant", name, "--uid", "107", "--cgroup",
                           "/sys/fs/cgroup" + cg)
        with open("%s/grants/%s/uids" % (SYSFS, name)) as f:
            uids = f.read()
        with open("%s/grants/%s/cgroups" % (SYSFS, name)) as f:
            cgroups = f.read()
        t.check(rc == 0 and uids == "0 107\n" and cgroups == cg + "\n",
                "grant --uid --cgroup writes the kernel's grant",
                out + err + uids + cgroups)

        rc, out, err = run("show", name, "--json")
        j = json.loads(out) if rc == 0 else {}
        t.check(rc == 0 and j.get("grant") == {"uids": [0, 107],
                                               "gids": [],
                                               "cgroups": [cg]},
                "show --json reads the grant back", out + err)

        rc, out, err = run("grants", "--json")
        j = json.loads(out) if rc == 0 else []
        t.check(rc == 0 and {"name": name, "uids": [0, 107], "gids": [],
                             "cgroups": [cg]} in j,
                "grants --json lists it", out + err)

        rc, out, err = run("grant", name, "--uid", "107")
        t.check(rc == 0 and out == "" and err == "",
                "grant of what is there writes nothing", out + err)

        rc, out, err = run("ungrant", name, "--uid", "107", "--cgroup", cg)
        with open("%s/grants/%s/uids" % (SYSFS, name)) as f:
            uids = f.read()
        with open("%s/grants/%s/cgroups" % (SYSFS, name)) as f:
            cgroups = f.read()
        t.check(rc == 0 and uids == "0\n" and cgroups == "",
                "ungrant removes them", out + err + uids + cgroups)

        rc, out, err = run("revoke", name)
        t.check(rc == 1 and "no copier attached (ENOENT)" in err,
                "revoke without a copier: ENOENT", out + err)

        rc, out, err = run("ungrant", name, "--all")
        t.check(rc == 0 and
                not os.path.exists("%s/grants/%s" % (SYSFS, name)),
                "ungrant --all removes the grant", out + err)

        rc, out, err = run("ungrant", name, "--all")
        t.check(rc == 1 and "(ENOENT)" in err,
                "ungrant --all again: ENOENT", out + err)

        rc, out, err = run("grant", name, "--uid", "x")
        t.check(rc == 2, "malformed uid: usage error", out + err)

        rc, out, err = run("stats", "--json")
        j = json.loads(out) if rc == 0 else {}
        t.check(rc == 0 and j.get("ports_count", 0) >= 1 and
                isinstance(j.get("parameters", {}).get("require_pkey"),
                           bool), "stats --json", out + err)
    finally:
        os.close(fd)
        subprocess.run([ctl, "ungrant", name, "--all"], capture_output=True)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
