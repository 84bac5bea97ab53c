#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""svhost_audit - `svhostctl audit PID...`: what a vSwitch or a QEMU can reach.

For a vSwitch process: every mapping and open file, each flagged when it is
guest memory, that is a memfd, hugetlbfs or shared-memory file that a QEMU
process also maps or holds open (which is how a guest-RAM fd received over a
vhost-user socket shows: the audit cannot see where an fd came from, only
what it is and who else has it).

For a QEMU process: its mappings of svhost ports (/dev/svhost) with their
protection keys (/proc/PID/smaps "ProtectionKey:"), and every thread with
its PKRU register (read with ptrace PTRACE_GETREGSET NT_X86_XSTATE, which
stops each thread for a moment) and so its rights on each of those keys:
which threads may touch a port's pool.

Python 3 standard library only (ctypes for ptrace and CPUID).  Reads /proc
and /sys/kernel/svhost; changes nothing.  Needs root (or CAP_SYS_PTRACE) for
other users' processes.  See docs/svhostctl-audit.8.md.
"""

import argparse
import ctypes
import errno
import json
import mmap
import os
import struct
import sys

PROG = "svhostctl audit"
EXIT_OK = 0          # audited, nothing flagged
EXIT_ERROR = 1       # could not audit (no such process, no permission, ...)
EXIT_USAGE = 2
EXIT_FINDINGS = 3    # audited, something flagged

DEFAULT_PROC = "/proc"
DEFAULT_SYSFS = "/sys/kernel/svhost"
SVHOST_DEV = "/dev/svhost"

# mapping and fd kinds that are memory another process can share
MEMORY_KINDS = ("memfd", "hugetlbfs", "shm", "sysv-shm")
# fstypes (from mountinfo) that make a file "shared memory"
SHM_FSTYPES = ("tmpfs", "shm", "ramfs")

SVHOST_POOL_CHUNK = 2 << 20
SVHOST_RING_HDR = 4 * 64
SVHOST_DESC_SIZE = 32


class AuditError(Exception):
    """A failure that stops the audit of one process: one line, exit 1."""


# --------------------------------------------------------------------------
# parsers (plain text in, plain data out; the unit tests feed them fabricated
# files)

def parse_maps_line(line):
    """One /proc/PID/maps line as a dict, or None for a malformed line."""
    parts = line.rstrip("\n").split(None, 5)
    if len(parts) < 5:
        return None
    try:
        start, end = (int(x, 16) for x in parts[0].split("-", 1))
        offset = int(parts[2], 16)
        major, minor = (int(x, 16) for x in parts[3].split(":", 1))
        inode = int(parts[4])
    except ValueError:
        return None
    return {"start": start, "end": end, "perms": parts[1], "offset": offset,
            "dev": os.makedev(major, minor), "inode": inode,
            "path": parts[5] if len(parts) > 5 else ""}


def parse_maps(text):
    return [m for m in (parse_maps_line(l) for l in text.splitlines()) if m]


def parse_smaps(text):
    """{start: {field: value}}: ProtectionKey (int), KernelPageSize (bytes)."""
    out = {}
    cur = None
    for line in text.splitlines():
        head = line.split(None, 1)[0] if line.strip() else ""
        if "-" in head and not head.endswith(":"):
            m = parse_maps_line(line)
            if m:
                cur = out.setdefault(m["start"], {})
            continue
        if cur is None or ":" not in line:
            continue
        key, _, val = line.partition(":")
        val = val.split()
        if key == "ProtectionKey" and val:
            cur["pkey"] = int(val[0])
        elif key == "KernelPageSize" and val:
            cur["kpagesize"] = int(val[0]) * (1024 if val[1:] == ["kB"] else 1)
    return out


def parse_mountinfo(text):
    """{dev: fstype} and {mount id: dev} from /proc/PID/mountinfo."""
    fstypes, mntdev = {}, {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        lf, rf = left.split(), right.split()
        if not sep or len(lf) < 5 or not rf:
            continue
        try:
            major, minor = (int(x) for x in lf[2].split(":", 1))
            mnt_id = int(lf[0])
        except ValueError:
            continue
        dev = os.makedev(major, minor)
        fstypes.setdefault(dev, rf[0])
        mntdev[mnt_id] = dev
    return fstypes, mntdev


def parse_fdinfo(text):
    out = {}
    for line in text.splitlines():
        key, sep, val = line.partition(":")
        if sep and key in ("pos", "flags", "mnt_id", "ino"):
            try:
                out[key] = int(val.strip(), 8 if key == "flags" else 10)
            except ValueError:
                pass
    return out


def parse_net_unix(text):
    """{socket inode: path} from /proc/PID/net/unix (bound sockets only)."""
    out = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) >= 8:
            try:
                out[int(f[6])] = f[7]
            except ValueError:
                pass
    return out


def pkru_rights(pkru, key):
    """'rw', 'r-' or '--': what PKRU lets a thread do with pages of key."""
    if pkru is None:
        return "?"
    bits = (pkru >> (2 * key)) & 3
    if bits & 1:
        return "--"        # access disabled
    return "r-" if bits & 2 else "rw"


def layout(queue_pairs, ring_size, buf_size, buf_count, page_size):
    """The regions of a port's mmap space, as uapi svhost_layout_compute()."""
    stride = SVHOST_RING_HDR + ring_size * SVHOST_DESC_SIZE
    rings = 2 * queue_pairs * stride
    rings = (rings + page_size - 1) // page_size * page_size
    pool = buf_size * buf_count
    pool = (pool + SVHOST_POOL_CHUNK - 1) // SVHOST_POOL_CHUNK * SVHOST_POOL_CHUNK
    return {"header": (0, page_size), "rings": (page_size, rings),
            "pool": (page_size + rings, pool)}


def region_of(offset, regions):
    for name, (start, size) in (regions or {}).items():
        if start <= offset < start + size:
            return name
    return "header" if offset == 0 else "?"


def human(n):
    for unit in ("", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return "%d%s" % (n, unit) if n == int(n) else "%.1f%s" % (n, unit)
        n /= 1024.0
    return str(n)


# --------------------------------------------------------------------------
# /proc and sysfs access

class Proc:
    """Reads one /proc tree (the real one, or a fabricated one in tests)."""

    def __init__(self, root=DEFAULT_PROC):
        self.root = root

    def path(self, pid, *parts):
        return os.path.join(self.root, str(pid), *parts)

    def read(self, pid, *parts):
        with open(self.path(pid, *parts), "r", encoding="utf-8",
                  errors="replace") as f:
            return f.read()

    def exists(self, pid):
        return os.path.isdir(self.path(pid))

    def pids(self):
        return sorted(int(d) for d in os.listdir(self.root) if d.isdigit())

    def comm(self, pid, tid=None):
        try:
            if tid is None:
                return self.read(pid, "comm").rstrip("\n")
            return self.read(pid, "task", str(tid), "comm").rstrip("\n")
        except OSError:
            return ""

    def exe(self, pid):
        try:
            return os.readlink(self.path(pid, "exe"))
        except OSError:
            return ""

    def maps(self, pid):
        return parse_maps(self.read(pid, "maps"))

    def smaps(self, pid):
        try:
            return parse_smaps(self.read(pid, "smaps"))
        except OSError:
            return {}

    def mountinfo(self, pid):
        try:
            return parse_mountinfo(self.read(pid, "mountinfo"))
        except OSError:
            return {}, {}

    def unix_sockets(self, pid):
        try:
            return parse_net_unix(self.read(pid, "net", "unix"))
        except OSError:
            return {}

    def tids(self, pid):
        return sorted(int(t) for t in os.listdir(self.path(pid, "task"))
                      if t.isdigit())

    def fd_stat(self, pid, fd):
        """(st_dev, st_ino) of the file behind /proc/PID/fd/FD."""
        st = os.stat(self.path(pid, "fd", fd))
        return st.st_dev, st.st_ino

    def fds(self, pid, mntdev=None):
        """[{fd, target, dev, inode}]: stat() of the fd's file, or, when
        that fails, the inode from fdinfo and the device of its mount."""
        out = []
        fddir = self.path(pid, "fd")
        for name in sorted(os.listdir(fddir), key=lambda s: int(s)
                           if s.isdigit() else -1):
            if not name.isdigit():
                continue
            p = os.path.join(fddir, name)
            try:
                target = os.readlink(p)
            except OSError:
                continue            # closed meanwhile
            dev = ino = None
            try:
                dev, ino = self.fd_stat(pid, name)
            except OSError:
                try:
                    info = parse_fdinfo(self.read(pid, "fdinfo", name))
                except OSError:
                    info = {}
                ino = info.get("ino")
                dev = (mntdev or {}).get(info.get("mnt_id"))
            out.append({"fd": int(name), "target": target, "dev": dev,
                        "inode": ino})
        return out


def read_ports(sysfs_root):
    """{name: {attr: int}} for the broker's ports; {} without the module."""
    ports = {}
    pdir = os.path.join(sysfs_root, "ports")
    try:
        names = sorted(os.listdir(pdir))
    except OSError:
        return ports
    for name in names:
        attrs = {}
        for a in ("owner_pid", "copier_pid", "copier_tid", "copier_pkey",
                  "queue_pairs", "ring_size", "buf_size", "buf_count"):
            try:
                with open(os.path.join(pdir, name, a)) as f:
                    attrs[a] = int(f.read().strip())
            except (OSError, ValueError):
                attrs[a] = None
        ports[name] = attrs
    return ports


# --------------------------------------------------------------------------
# PKRU of another thread: ptrace + CPUID

PTRACE_GETREGSET = 0x4204
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_DETACH = 17
NT_X86_XSTATE = 0x202
WALL = 0x40000000
PTRACE_EVENT_STOP = 128
XSTATE_BUF = 64 * 1024
XFEATURE_PKRU = 9

# cpuid(leaf, subleaf, uint32_t out[4]) for x86-64 System V:
# push rbx; mov eax,edi; mov ecx,esi; mov r8,rdx; cpuid;
# mov [r8],eax; mov [r8+4],ebx; mov [r8+8],ecx; mov [r8+12],edx; pop rbx; ret
_CPUID_CODE = bytes.fromhex("5389f889f14989d00fa2418900418958044189480841895"
                            "00c5bc3")


def cpuid(leaf, subleaf=0):
    """(eax, ebx, ecx, edx) of CPUID: /dev/cpu/0/cpuid when the cpuid module
    is loaded, else a tiny machine-code stub run through ctypes."""
    try:
        fd = os.open("/dev/cpu/0/cpuid", os.O_RDONLY)
        try:
            data = os.pread(fd, 16, (subleaf << 32) | leaf)
        finally:
            os.close(fd)
        if len(data) == 16:
            return struct.unpack("<4I", data)
    except OSError:
        pass
    buf = mmap.mmap(-1, mmap.PAGESIZE,
                    prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(_CPUID_CODE)
    out = (ctypes.c_uint32 * 4)()
    anchor = ctypes.c_char.from_buffer(buf)
    fn = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32,
                          ctypes.c_void_p)(ctypes.addressof(anchor))
    fn(leaf, subleaf, ctypes.addressof(out))
    del fn, anchor
    buf.close()
    return tuple(out)


def pkru_offset():
    """Offset of PKRU in a standard-format XSAVE area, or None when the CPU
    or the kernel has no protection keys (CPUID.7.0:ECX.OSPKE)."""
    if os.uname().machine != "x86_64":
        return None
    if cpuid(0)[0] < 0xD or not cpuid(7, 0)[2] & (1 << 4):
        return None
    size, offset = cpuid(0xD, XFEATURE_PKRU)[:2]
    return offset if size == 4 or size == 8 else None


def xstate_pkru(buf, offset):
    """PKRU from an NT_X86_XSTATE buffer (standard format): XSTATE_BV bit 9
    clear means PKRU is in its init state, 0 (every key allowed)."""
    if len(buf) < 520:
        raise ValueError("xstate buffer too short (%d bytes)" % len(buf))
    xstate_bv = struct.unpack_from("<Q", buf, 512)[0]
    if not xstate_bv & (1 << XFEATURE_PKRU):
        return 0
    if len(buf) < offset + 4:
        raise ValueError("xstate buffer of %d bytes ends before PKRU at %d"
                         % (len(buf), offset))
    return struct.unpack_from("<I", buf, offset)[0]


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class PtracePkru:
    """Reads a thread's PKRU: PTRACE_SEIZE, PTRACE_INTERRUPT, wait for the
    stop, PTRACE_GETREGSET NT_X86_XSTATE, PTRACE_DETACH (re-delivering a
    signal that arrived meanwhile).  The thread is stopped for that long."""

    def __init__(self):
        self.offset = pkru_offset()
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.ptrace.restype = ctypes.c_long
        self.libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_int,
                                     ctypes.c_void_p, ctypes.c_void_p)

    def _call(self, req, tid, addr=None, data=None):
        if self.libc.ptrace(req, tid, addr, data) == -1:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))

    def __call__(self, tid):
        if self.offset is None:
            raise OSError(errno.EOPNOTSUPP, "no protection keys on this CPU")
        self._call(PTRACE_SEIZE, tid)
        sig = 0
        try:
            self._call(PTRACE_INTERRUPT, tid)
            while True:
                _, status = os.waitpid(tid, WALL)
                if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                    raise OSError(errno.ESRCH, "thread exited")
                if os.WIFSTOPPED(status):
                    if status >> 16 == 0:       # signal-delivery stop
                        sig = os.WSTOPSIG(status)
                    break
            buf = ctypes.create_string_buffer(XSTATE_BUF)
            iov = _Iovec(ctypes.addressof(buf), XSTATE_BUF)
            self._call(PTRACE_GETREGSET, tid, NT_X86_XSTATE,
                       ctypes.addressof(iov))
            return xstate_pkru(buf.raw[:iov.len], self.offset)
        finally:
            try:
                self._call(PTRACE_DETACH, tid, None, sig)
            except OSError:
                pass


# --------------------------------------------------------------------------
# classification

def classify(path, fstype, kpagesize=None):
    """Kind of a mapped or open object from its path and file system."""
    if path == "":
        return "anon"
    if path.startswith("[") or path.startswith("anon_inode:"):
        name = path.strip("[]")
        if path.startswith("anon_inode:"):
            name = path[len("anon_inode:"):].strip("[]")
            return name if name in ("eventfd", "eventpoll", "timerfd",
                                    "signalfd", "io_uring") else "anon-inode"
        return "anon" if name.startswith("anon:") or name in (
            "heap", "stack") else name
    if path.startswith("socket:"):
        return "socket"
    if path.startswith("pipe:"):
        return "pipe"
    if path.startswith("/memfd:"):
        return "hugetlbfs" if (fstype == "hugetlbfs" or
                               (kpagesize or 0) > 4096) else "memfd"
    if path.startswith("/SYSV"):
        return "sysv-shm"
    if path == SVHOST_DEV:
        return "svhost"
    if path.startswith("/dev/zero"):
        return "anon"           # MAP_SHARED|MAP_ANONYMOUS
    if fstype == "hugetlbfs" or (kpagesize or 0) > 4096:
        return "hugetlbfs"
    if fstype in SHM_FSTYPES:
        return "shm"
    if fstype in ("devtmpfs", "devpts") or path.startswith("/dev/"):
        return "device"
    return "file"


def is_qemu(proc, pid):
    names = (os.path.basename(proc.exe(pid).replace(" (deleted)", "")),
             proc.comm(pid))
    return any(n.startswith("qemu-system") for n in names)


class Auditor:
    def __init__(self, proc=None, sysfs=DEFAULT_SYSFS, pkru_reader=None,
                 qemu_pids=(), page_size=None):
        self.proc = proc or Proc()
        self.ports = read_ports(sysfs)
        self.pkru_reader = pkru_reader
        self.extra_qemus = list(qemu_pids)
        self.page_size = page_size or mmap.PAGESIZE
        self._qemu_index = None

    # --- helpers ---------------------------------------------------------

    def qemus(self, exclude):
        found = set(self.extra_qemus)
        for pid in self.proc.pids():
            if pid != exclude and pid not in found and is_qemu(self.proc, pid):
                found.add(pid)
        found.discard(exclude)
        return sorted(found)

    def qemu_index(self, exclude):
        """{(dev, inode): {qemu pid: how}} for the memory objects that the
        QEMU processes map or hold open."""
        if self._qemu_index is not None:
            return self._qemu_index
        index = {}
        self.qemu_list = []
        for q in self.qemus(exclude):
            try:
                fstypes, mntdev = self.proc.mountinfo(q)
                for m in self.proc.maps(q):
                    if m["inode"] and m["path"] != SVHOST_DEV:
                        index.setdefault((m["dev"], m["inode"]), {})[q] = "maps"
                for f in self.proc.fds(q, mntdev):
                    if f["inode"] is not None and f["dev"] is not None:
                        index.setdefault((f["dev"], f["inode"]), {}).setdefault(q, "holds")
            except OSError:
                continue        # exited, or not ours to read
            self.qemu_list.append({"pid": q, "comm": self.proc.comm(q)})
        self._qemu_index = index
        return index

    def port_regions(self, name):
        p = self.ports.get(name) or {}
        geo = [p.get(k) for k in ("queue_pairs", "ring_size", "buf_size",
                                  "buf_count")]
        if None in geo:
            return None
        return layout(*geo, page_size=self.page_size)

    def ports_of(self, pid, role):
        return sorted(n for n, p in self.ports.items()
                      if p.get(role + "_pid") == pid)

    def svhost_mapping(self, m, ports, pkey=None):
        """Port and region of a /dev/svhost mapping.  Nothing in /proc ties
        a mapping to one of the process's /dev/svhost files, so the port is
        the process's only one or, for a copier's rings and pool, the one
        whose recorded copier key the mapping carries; otherwise None (a
        vSwitch with several ports).  The region follows from the offset
        whenever the layouts of all candidate ports agree on it."""
        cands = list(ports)
        if len(cands) > 1 and pkey:
            cands = [p for p in cands
                     if self.ports[p].get("copier_pkey") == pkey] or cands
        regions = {region_of(m["offset"], self.port_regions(p))
                   for p in cands} or {region_of(m["offset"], None)}
        return (cands[0] if len(cands) == 1 else None,
                regions.pop() if len(regions) == 1 else "?")

    # --- the two audits --------------------------------------------------

    def audit(self, pid, role="auto"):
        if not self.proc.exists(pid):
            raise AuditError("no process %d" % pid)
        if role == "auto":
            role = "qemu" if (is_qemu(self.proc, pid) or
                              self.ports_of(pid, "copier")) else "vswitch"
        rep = {"pid": pid, "comm": self.proc.comm(pid),
               "exe": self.proc.exe(pid), "role": role}
        try:
            if role == "vswitch":
                self.audit_vswitch(pid, rep)
            else:
                self.audit_qemu(pid, rep)
        except PermissionError as e:
            raise AuditError("process %d: %s: permission denied (run as "
                             "root)" % (pid, e.filename or "/proc"))
        except FileNotFoundError:
            raise AuditError("process %d exited during the audit" % pid)
        return rep

    def audit_vswitch(self, pid, rep):
        index = self.qemu_index(pid)
        rep["qemus"] = self.qemu_list
        fstypes, mntdev = self.proc.mountinfo(pid)
        smaps = self.proc.smaps(pid)
        owned = self.ports_of(pid, "owner")
        rep["ports"] = owned
        findings = []
        maps = []
        raw = self.proc.maps(pid)
        for m in raw:
            sm = smaps.get(m["start"], {})
            kind = classify(m["path"], fstypes.get(m["dev"]),
                            sm.get("kpagesize"))
            e = {"start": m["start"], "end": m["end"],
                 "size": m["end"] - m["start"], "perms": m["perms"],
                 "offset": m["offset"], "dev": devstr(m["dev"]),
                 "inode": m["inode"], "path": m["path"], "kind": kind,
                 "pkey": sm.get("pkey"), "flags": [], "shared_with": []}
            if kind == "svhost":
                e["port"], e["region"] = self.svhost_mapping(m, owned)
            if kind in MEMORY_KINDS and m["inode"]:
                who = index.get((m["dev"], m["inode"]), {})
                if who:
                    e["flags"].append("guest-ram")
                    e["shared_with"] = sorted(who)
                    findings.append("mapping %x-%x (%s %s) is memory that "
                                    "QEMU %s %s" % (
                                        m["start"], m["end"], kind, m["path"],
                                        ", ".join(map(str, sorted(who))),
                                        "/".join(sorted(set(who.values())))))
            maps.append(e)
        # an fd's kind as its mapping's (which knows hugetlb memfds by
        # their page size)
        mapped_kind = {(m["dev"], m["inode"]): e["kind"] for m, e in
                       zip(raw, maps) if m["inode"]}
        socks = self.proc.unix_sockets(pid)
        fds = []
        for f in self.proc.fds(pid, mntdev):
            kind = classify(f["target"], fstypes.get(f["dev"]))
            if kind in MEMORY_KINDS:
                kind = mapped_kind.get((f["dev"], f["inode"]), kind)
            e = {"fd": f["fd"], "target": f["target"], "kind": kind,
                 "dev": devstr(f["dev"]), "inode": f["inode"], "flags": [],
                 "shared_with": []}
            if kind == "socket":
                ino = socket_inode(f["target"])
                if ino in socks:
                    e["socket_path"] = socks[ino]
            if kind in MEMORY_KINDS and f["inode"] is not None:
                who = index.get((f["dev"], f["inode"]), {})
                if who:
                    e["flags"].append("guest-ram")
                    e["shared_with"] = sorted(who)
                    findings.append("fd %d (%s %s) is memory that QEMU %s %s"
                                    % (f["fd"], kind, f["target"],
                                       ", ".join(map(str, sorted(who))),
                                       "/".join(sorted(set(who.values())))))
            fds.append(e)
        rep["mappings"] = maps
        rep["fds"] = fds
        rep["findings"] = findings
        flagged = {q for x in maps + fds for q in x["shared_with"]}
        if findings:
            rep["verdict"] = ("FAIL: %d mapping(s) and %d fd(s) are guest "
                              "memory of QEMU %s" % (
                                  sum(1 for x in maps if x["flags"]),
                                  sum(1 for x in fds if x["flags"]),
                                  ", ".join(map(str, sorted(flagged)))))
        else:
            rep["verdict"] = ("OK: no memory shared with any of %d QEMU "
                              "process(es)" % len(self.qemu_list))

    def audit_qemu(self, pid, rep):
        smaps = self.proc.smaps(pid)
        ports = self.ports_of(pid, "copier")
        rep["ports"] = ports
        findings = []
        svh = []
        keys = {}           # pkey -> [port names]
        for m in self.proc.maps(pid):
            if m["path"] != SVHOST_DEV:
                continue
            sm = smaps.get(m["start"], {})
            port, region = self.svhost_mapping(m, ports, sm.get("pkey"))
            e = {"start": m["start"], "end": m["end"],
                 "size": m["end"] - m["start"], "perms": m["perms"],
                 "offset": m["offset"], "port": port, "region": region,
                 "pkey": sm.get("pkey")}
            svh.append(e)
            if region == "header":
                continue    # read-only status page: no key needed
            if not e["pkey"]:
                findings.append("%s mapping %x-%x of port %s has no "
                                "protection key: every thread may touch it"
                                % (region, m["start"], m["end"],
                                   port or "?"))
            else:
                lst = keys.setdefault(e["pkey"], [])
                if port and port not in lst:
                    lst.append(port)
        rep["svhost_mappings"] = svh
        rep["keys"] = {str(k): v for k, v in sorted(keys.items())}
        threads = []
        errors = []
        for tid in self.proc.tids(pid):
            t = {"tid": tid, "comm": self.proc.comm(pid, tid), "pkru": None,
                 "rights": {}, "may_touch": []}
            if keys and self.pkru_reader is None:
                t["error"] = "PKRU not read (--no-ptrace)"
            elif keys:
                try:
                    t["pkru"] = self.pkru_reader(tid)
                except OSError as e:
                    if e.errno == errno.ESRCH and not os.path.exists(
                            self.proc.path(pid, "task", str(tid))):
                        continue            # the thread exited meanwhile
                    t["error"] = "cannot read PKRU: %s" % (
                        e.strerror or e)
                    errors.append(tid)
                except ValueError as e:
                    t["error"] = "cannot read PKRU: %s" % e
                    errors.append(tid)
            for k, names in sorted(keys.items()):
                r = pkru_rights(t["pkru"], k)
                t["rights"][str(k)] = r
                if r != "--" and r != "?":
                    t["may_touch"].extend(names or ["key %d" % k])
            threads.append(t)
        rep["threads"] = threads
        for k, names in sorted(keys.items()):
            who = [t for t in threads if t["rights"].get(str(k)) not in
                   ("--", "?")]
            label = "port %s" % ", ".join(names) if names else "key %d" % k
            copier = {self.ports[n].get("copier_tid") for n in names}
            if len(who) > 1:
                findings.append("%d threads may touch the pool of %s (key "
                                "%d): %s" % (len(who), label, k, ", ".join(
                                    "%d (%s)" % (t["tid"], t["comm"])
                                    for t in who)))
            for t in who:
                if names and t["tid"] not in copier:
                    findings.append("thread %d (%s) may touch %s but is "
                                    "not its attached copier (tid %s)" % (
                                        t["tid"], t["comm"], label,
                                        "/".join(str(c) for c in copier)))
        rep["findings"] = findings
        rep["incomplete"] = bool(errors) or (bool(keys) and
                                             self.pkru_reader is None)
        if findings:
            rep["verdict"] = "FAIL: %d finding(s)" % len(findings)
        elif not svh:
            rep["verdict"] = "no svhost mappings"
        elif rep["incomplete"]:
            rep["verdict"] = "INCOMPLETE: PKRU of %s not read" % (
                "%d thread(s)" % len(errors) if errors else "the threads")
        else:
            parts = []
            for k, names in sorted(keys.items()):
                who = [t for t in threads if t["rights"].get(str(k))
                       not in ("--", "?")]
                parts.append("%s: %s" % (
                    "port " + ", ".join(names) if names else "key %d" % k,
                    "only thread %d (%s)" % (who[0]["tid"], who[0]["comm"])
                    if who else "no thread (all denied)"))
            rep["verdict"] = "OK: " + "; ".join(parts)


def devstr(dev):
    if dev is None:
        return None
    return "%x:%x" % (os.major(dev), os.minor(dev))


def socket_inode(target):
    try:
        return int(target[target.index("[") + 1:target.index("]")])
    except ValueError:
        return None


# --------------------------------------------------------------------------
# output

def table(rows, headers):
    """Left-aligned columns; the last column is not padded."""
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    lines = []
    for r in [headers] + rows:
        cells = [c.ljust(widths[i]) for i, c in enumerate(r[:-1])] + [r[-1]]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def fmt_flag(x):
    if not x["flags"]:
        return ""
    return "GUEST-RAM (QEMU %s)" % ",".join(map(str, x["shared_with"]))


def print_report(rep, out, memory_only=False):
    w = out.write
    if rep["role"] == "vswitch":
        w("vSwitch %d (%s) %s\n" % (rep["pid"], rep["comm"], rep["exe"]))
        w("  compared with QEMU: %s\n" % (", ".join(
            "%d (%s)" % (q["pid"], q["comm"]) for q in rep["qemus"]) or
            "none running"))
        if rep["ports"]:
            w("  owns svhost port(s): %s\n" % ", ".join(rep["ports"]))
        maps = rep["mappings"]
        fds = rep["fds"]
        if memory_only:
            keep = MEMORY_KINDS + ("svhost",)
            maps = [m for m in maps if m["kind"] in keep or m["flags"]]
            fds = [f for f in fds if f["kind"] in keep or f["flags"]]
        w("\n  mappings (%d%s):\n" % (len(maps), ", shared memory only"
                                      if memory_only else ""))
        rows = []
        for m in maps:
            obj = m["path"]
            if m["kind"] == "svhost":
                obj += " [%s %s]" % (m.get("port") or "?", m.get("region"))
            elif m["kind"] in MEMORY_KINDS and m["inode"]:
                obj += " [%s ino %d]" % (m["dev"], m["inode"])
            rows.append(["%x-%x" % (m["start"], m["end"]), m["perms"],
                         human(m["size"]), m["kind"], obj, fmt_flag(m)])
        for line in table(rows, ["ADDRESS", "PERM", "SIZE", "KIND", "OBJECT",
                                 "FLAG"]):
            w(line + "\n")
        w("\n  file descriptors (%d%s):\n" % (len(fds), ", shared memory only"
                                              if memory_only else ""))
        rows = []
        for f in fds:
            obj = f["target"]
            if f.get("socket_path"):
                obj += " unix " + f["socket_path"]
            elif f["kind"] in MEMORY_KINDS and f["inode"] is not None:
                obj += " [%s ino %d]" % (f["dev"], f["inode"])
            rows.append([str(f["fd"]), f["kind"], obj, fmt_flag(f)])
        for line in table(rows, ["FD", "KIND", "OBJECT", "FLAG"]):
            w(line + "\n")
    else:
        w("QEMU %d (%s) %s\n" % (rep["pid"], rep["comm"], rep["exe"]))
        if rep["ports"]:
            w("  copier of svhost port(s): %s\n" % ", ".join(rep["ports"]))
        w("\n  svhost mappings (%d):\n" % len(rep["svhost_mappings"]))
        rows = [["%x-%x" % (m["start"], m["end"]), m["perms"],
                 human(m["size"]), m["port"] or "?", m["region"],
                 "-" if m["pkey"] is None else str(m["pkey"])]
                for m in rep["svhost_mappings"]]
        for line in table(rows, ["ADDRESS", "PERM", "SIZE", "PORT", "REGION",
                                 "PKEY"]):
            w(line + "\n")
        keys = sorted(rep["keys"], key=int)
        w("\n  threads (%d), rights on each key of an svhost mapping:\n"
          % len(rep["threads"]))
        rows = []
        for t in rep["threads"]:
            rows.append([str(t["tid"]), t["comm"],
                         "-" if t["pkru"] is None else "0x%08x" % t["pkru"]] +
                        [t["rights"].get(k, "?") for k in keys] +
                        [", ".join(t["may_touch"]) if t["may_touch"] else
                         t.get("error", "-")])
        for line in table(rows, ["TID", "NAME", "PKRU"] +
                          ["KEY %s" % k for k in keys] + ["MAY TOUCH"]):
            w(line + "\n")
    w("\n  verdict: %s\n" % rep["verdict"])
    for f in rep["findings"]:
        w("  ! %s\n" % f)


# --------------------------------------------------------------------------
# command line

DESCRIPTION = """\
Audit what processes can reach (read-only; changes nothing).

For a vSwitch: list every mapping and open file descriptor and flag
GUEST-RAM: a memfd, hugetlbfs or shared-memory (tmpfs, SysV) object that a
QEMU process also maps or holds open.  Received guest-RAM fds (classic
vhost-user SET_MEM_TABLE) show up this way; in secure mode the vSwitch
holds none.  QEMU processes are found by executable name (qemu-system-*),
plus any given with --qemu.

For a QEMU: list its svhost mappings (port, region, protection key from
/proc/PID/smaps) and every thread's PKRU with its rights on each key
(rw, r-, --), so you see which threads may touch a port's pool: with
secure vhost-user only the PD thread, the port's attached copier.  PKRU is
read with ptrace (PTRACE_GETREGSET NT_X86_XSTATE), which stops each thread
for a moment; --no-ptrace skips it.

A process is audited as a QEMU when its executable is qemu-system-* or it
is the copier of an svhost port (sysfs), otherwise as a vSwitch; --as
overrides this.
"""

EPILOG = """\
exit status:
  0  every process audited, nothing flagged
  1  an error (no such process, permission denied, PKRU unreadable)
  2  usage error
  3  audited, and something was flagged (see the verdict lines)

examples:
  svhostctl audit $(pidof dpdk-testpmd)
  svhostctl audit --json $(pidof ovs-vswitchd) | jq '.processes[].findings'
  svhostctl audit --memory-only $(pidof dpdk-testpmd)
  svhostctl audit $(pgrep -f qemu-system-x86_64)
"""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write("%s: %s\nTry '%s --help'.\n" % (PROG, message, PROG))
        sys.exit(EXIT_USAGE)


def build_parser():
    p = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pids", metavar="PID", nargs="+", type=int,
                   help="process to audit")
    p.add_argument("--json", action="store_true",
                   help='print {"processes": [REPORT...], "findings": N}')
    p.add_argument("--as", dest="role", choices=("auto", "vswitch", "qemu"),
                   default="auto", help="audit every PID as this role")
    p.add_argument("--qemu", metavar="PID", type=int, action="append",
                   default=[], help="also count PID as a QEMU process "
                   "(repeatable)")
    p.add_argument("--memory-only", action="store_true",
                   help="vSwitch table: only shared-memory and svhost "
                   "mappings and fds (JSON always has everything)")
    p.add_argument("--no-ptrace", action="store_true",
                   help="do not stop QEMU threads to read their PKRU")
    p.add_argument("--proc", metavar="DIR", default=DEFAULT_PROC,
                   help=argparse.SUPPRESS)
    p.add_argument("--sysfs-root", metavar="DIR", default=DEFAULT_SYSFS,
                   help="broker sysfs directory (default %(default)s)")
    return p


def main(argv=None, out=None):
    out = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    reader = None
    if not args.no_ptrace:
        try:
            reader = PtracePkru()
        except OSError as e:
            sys.stderr.write("%s: warning: cannot read PKRU: %s\n" % (PROG, e))
    auditor = Auditor(Proc(args.proc), args.sysfs_root, reader, args.qemu)
    reports, failed = [], False
    for pid in args.pids:
        if pid == os.getpid():
            sys.stderr.write("%s: cannot audit itself\n" % PROG)
            failed = True
            continue
        try:
            reports.append(auditor.audit(pid, args.role))
        except AuditError as e:
            sys.stderr.write("%s: %s\n" % (PROG, e))
            failed = True
    nfind = sum(len(r["findings"]) for r in reports)
    try:
        if args.json:
            json.dump({"processes": reports, "findings": nfind}, out,
                      indent=2, sort_keys=False)
            out.write("\n")
        else:
            for i, r in enumerate(reports):
                if i:
                    out.write("\n")
                print_report(r, out, args.memory_only)
        out.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if failed or any(r.get("incomplete") for r in reports):
        return EXIT_ERROR
    return EXIT_FINDINGS if nfind else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
