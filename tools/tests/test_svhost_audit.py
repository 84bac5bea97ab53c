# SPDX-License-Identifier: GPL-2.0
"""Tests for `svhostctl audit` (tools/svhost_audit.py).

Three kinds: the /proc parsers on fabricated text; whole audits of
fabricated /proc and sysfs trees (a classic vSwitch holding guest RAM, a
secure QEMU whose threads have known PKRU values); and real runs against
live processes: a "QEMU" that passes a memfd over a unix socket to a
"vSwitch" that maps it, and, where the CPU has protection keys (the test
VM), PKRU read with ptrace from threads with known rights.

Run: python3 -m unittest discover -s tools/tests -v
"""

import ctypes
import errno
import io
import json
import mmap
import os
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
sys.path.insert(0, TOOLS)
import svhost_audit as au  # noqa: E402

SVHOSTCTL = os.path.join(TOOLS, "svhostctl")
PAGE = 4096


# --------------------------------------------------------------------------
# parsers

class ParserTest(unittest.TestCase):
    def test_maps_line(self):
        m = au.parse_maps_line(
            "7f0000000000-7f0008000000 rw-s 00000000 00:01 1097"
            "                       /memfd:pc.ram (deleted)\n")
        self.assertEqual(m["start"], 0x7f0000000000)
        self.assertEqual(m["end"], 0x7f0008000000)
        self.assertEqual(m["perms"], "rw-s")
        self.assertEqual(m["dev"], os.makedev(0, 1))
        self.assertEqual(m["inode"], 1097)
        self.assertEqual(m["path"], "/memfd:pc.ram (deleted)")
        anon = au.parse_maps_line("7f00-7f01 rw-p 00000000 00:00 0 \n")
        self.assertEqual(anon["path"], "")
        self.assertEqual(au.parse_maps_line("7f00-7f01 rw-p 0 08:01 12 /a b"
                                            )["path"], "/a b")

    def test_maps_malformed(self):
        for bad in ("", "garbage", "zz-7f01 rw-p 0 00:00 0",
                    "7f00-7f01 rw-p 0 0001 0", "7f00-7f01 rw-p 0 00:00 x"):
            self.assertIsNone(au.parse_maps_line(bad), bad)
        self.assertEqual(len(au.parse_maps("junk\n7f00-7f01 rw-p 0 00:00 0\n"
                                           )), 1)

    def test_smaps(self):
        text = textwrap.dedent("""\
            7f0000000000-7f0000200000 rw-s 00000000 00:0e 55 /dev/svhost
            Size:               2048 kB
            KernelPageSize:        4 kB
            VmFlags: rd wr sh mr mw me ms pf io dc de dd
            ProtectionKey:         3
            7f0000400000-7f0000600000 rw-s 00000000 00:2f 9 /dev/hugepages/x
            Size:               2048 kB
            KernelPageSize:     2048 kB
            ProtectionKey:         0
            """)
        s = au.parse_smaps(text)
        self.assertEqual(s[0x7f0000000000], {"pkey": 3, "kpagesize": 4096})
        self.assertEqual(s[0x7f0000400000], {"pkey": 0,
                                             "kpagesize": 2 << 20})

    def test_mountinfo(self):
        text = textwrap.dedent("""\
            22 1 0:33 / /dev/hugepages rw,relatime shared:3 - hugetlbfs hugetlbfs rw,pagesize=2M
            23 1 0:34 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw
            24 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
            bad line
            """)
        fstypes, mntdev = au.parse_mountinfo(text)
        # decimal here, hexadecimal in maps ("00:21")
        self.assertEqual(fstypes[os.makedev(0, 33)], "hugetlbfs")
        self.assertEqual(fstypes[os.makedev(0, 34)], "tmpfs")
        self.assertEqual(fstypes[os.makedev(8, 1)], "ext4")
        self.assertEqual(mntdev[23], os.makedev(0, 34))

    def test_fdinfo_and_unix(self):
        self.assertEqual(au.parse_fdinfo("pos:\t0\nflags:\t02100002\n"
                                         "mnt_id:\t15\nino:\t1097\n"),
                         {"pos": 0, "flags": 0o2100002, "mnt_id": 15,
                          "ino": 1097})
        text = ("Num       RefCount Protocol Flags    Type St Inode Path\n"
                "0000000000000000: 00000002 00000000 00010000 0001 01 4242 "
                "/run/vh0.sock\n"
                "0000000000000000: 00000003 00000000 00000000 0001 03 4243\n")
        self.assertEqual(au.parse_net_unix(text), {4242: "/run/vh0.sock"})

    def test_pkru_rights(self):
        # init_pkru: every key but 0 access-disabled
        self.assertEqual(au.pkru_rights(0x55555554, 0), "rw")
        self.assertEqual(au.pkru_rights(0x55555554, 1), "--")
        self.assertEqual(au.pkru_rights(0x55555550, 1), "rw")
        self.assertEqual(au.pkru_rights(0x55555558, 1), "r-")   # WD only
        self.assertEqual(au.pkru_rights(0, 15), "rw")
        self.assertEqual(au.pkru_rights(0xC0000000, 15), "--")
        self.assertEqual(au.pkru_rights(None, 1), "?")

    def test_layout_matches_uapi(self):
        # one queue pair, 256 descriptors, 2 KiB x 1024 buffers:
        # rings = 2 * (256 + 256 * 32) = 16896 -> 20480; pool 2 MiB
        r = au.layout(1, 256, 2048, 1024, PAGE)
        self.assertEqual(r["header"], (0, PAGE))
        self.assertEqual(r["rings"], (PAGE, 20480))
        self.assertEqual(r["pool"], (PAGE + 20480, 2 << 20))
        self.assertEqual(au.region_of(0, r), "header")
        self.assertEqual(au.region_of(PAGE, r), "rings")
        self.assertEqual(au.region_of(PAGE + 20480, r), "pool")
        self.assertEqual(au.region_of(PAGE + 20480 + (2 << 20), r), "?")
        self.assertEqual(au.region_of(PAGE, None), "?")
        # 3 MiB of buffers round up to 4 MiB
        self.assertEqual(au.layout(2, 64, 2048, 1536, PAGE)["pool"][1],
                         4 << 20)

    def test_uapi_header_constants(self):
        # the numbers layout() relies on, as the uapi header defines them
        with open(os.path.join(TOOLS, "..", "uapi", "linux",
                               "svhost.h")) as f:
            h = f.read()
        for pat in (r"#define\s+SVHOST_POOL_CHUNK_SIZE\s+\(2U << 20\)",
                    r"#define\s+SVHOST_RING_HDR_SIZE\s+"
                    r"\(4 \* SVHOST_CACHELINE\)",
                    r"#define\s+SVHOST_CACHELINE\s+64\b"):
            self.assertRegex(h, pat)

    def test_xstate_pkru(self):
        buf = bytearray(3000)
        struct.pack_into("<I", buf, 2688, 0x55555550)
        # XSTATE_BV without bit 9: PKRU in its init state, 0
        self.assertEqual(au.xstate_pkru(bytes(buf), 2688), 0)
        struct.pack_into("<Q", buf, 512, 1 << 9 | 3)
        self.assertEqual(au.xstate_pkru(bytes(buf), 2688), 0x55555550)
        with self.assertRaises(ValueError):
            au.xstate_pkru(bytes(buf[:2690]), 2688)
        with self.assertRaises(ValueError):
            au.xstate_pkru(b"\0" * 100, 2688)

    def test_classify(self):
        c = au.classify
        self.assertEqual(c("/memfd:pc.ram (deleted)", None), "memfd")
        self.assertEqual(c("/memfd:x (deleted)", None, 2 << 20), "hugetlbfs")
        self.assertEqual(c("/dev/hugepages/qemu_back_mem.x (deleted)",
                           "hugetlbfs"), "hugetlbfs")
        self.assertEqual(c("/dev/shm/vm1", "tmpfs"), "shm")
        self.assertEqual(c("/SYSV00000000 (deleted)", None), "sysv-shm")
        self.assertEqual(c("/dev/svhost", "devtmpfs"), "svhost")
        self.assertEqual(c("/dev/null", "devtmpfs"), "device")
        self.assertEqual(c("/dev/zero (deleted)", None), "anon")
        self.assertEqual(c("/usr/lib/libc.so.6", "ext4"), "file")
        self.assertEqual(c("", None), "anon")
        self.assertEqual(c("[heap]", None), "anon")
        self.assertEqual(c("[vdso]", None), "vdso")
        self.assertEqual(c("anon_inode:[eventfd]", None), "eventfd")
        self.assertEqual(c("anon_inode:[eventpoll]", None), "eventpoll")
        self.assertEqual(c("socket:[123]", None), "socket")
        self.assertEqual(c("pipe:[9]", None), "pipe")


# --------------------------------------------------------------------------
# fabricated /proc and sysfs trees

class TreeProc(au.Proc):
    """A fabricated /proc: fd symlinks dangle, so their (dev, ino) come
    from a side table, as stat() of a magic link would give them."""

    def __init__(self, root, fdstat):
        super().__init__(root)
        self.fdstat = fdstat

    def fd_stat(self, pid, fd):
        try:
            return self.fdstat[(int(pid), int(fd))]
        except KeyError:
            raise OSError(errno.ENOENT, "no stat for fd")


class Tree:
    """Builds a fake /proc (and sysfs) in a temporary directory."""

    MOUNTINFO = textwrap.dedent("""\
        21 1 254:0 / / rw - ext4 /dev/vda rw
        22 21 0:33 / /dev/hugepages rw - hugetlbfs hugetlbfs rw,pagesize=2M
        23 21 0:34 / /dev/shm rw - tmpfs tmpfs rw
        24 21 0:5 / /dev rw - devtmpfs udev rw
        """)

    def __init__(self, tmp):
        self.root = os.path.join(tmp, "proc")
        self.sysfs = os.path.join(tmp, "svhost")
        self.fdstat = {}
        os.makedirs(self.root)

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def process(self, pid, comm, exe, maps=(), smaps=None, fds=(),
                threads=None, unix=""):
        d = os.path.join(self.root, str(pid))
        self.write(os.path.join(d, "comm"), comm + "\n")
        os.symlink(exe, os.path.join(d, "exe"))
        self.write(os.path.join(d, "maps"), "".join(l + "\n" for l in maps))
        self.write(os.path.join(d, "smaps"), smaps or "")
        self.write(os.path.join(d, "mountinfo"), self.MOUNTINFO)
        self.write(os.path.join(d, "net", "unix"),
                   "Num RefCount Protocol Flags Type St Inode Path\n" + unix)
        os.makedirs(os.path.join(d, "fd"))
        for fd, target, dev, ino, mnt in fds:
            os.symlink(target, os.path.join(d, "fd", str(fd)))
            self.write(os.path.join(d, "fdinfo", str(fd)),
                       "pos:\t0\nflags:\t02\nmnt_id:\t%d\nino:\t%d\n" % (
                           mnt, ino))
            if dev is not None:
                self.fdstat[(pid, fd)] = (dev, ino)
        for tid, tcomm in (threads or {pid: comm}).items():
            self.write(os.path.join(d, "task", str(tid), "comm"),
                       tcomm + "\n")

    def port(self, name, **attrs):
        for k, v in attrs.items():
            self.write(os.path.join(self.sysfs, "ports", name, k),
                       "%s\n" % v)

    def proc(self):
        return TreeProc(self.root, self.fdstat)


MEMFD = os.makedev(0, 1)
HUGE = os.makedev(0, 33)
SHM = os.makedev(0, 34)
DISK = os.makedev(254, 0)


def classic_tree(tmp):
    """testpmd (pid 100) holding the RAM of QEMU 200 (memfd) and 300
    (hugetlbfs file); its own DPDK memory; libc mapped by everyone."""
    t = Tree(tmp)
    libc = "7f1000000000-7f1000020000 r-xp 00000000 fe:00 500 /usr/lib/libc.so.6"
    t.process(200, "qemu-system-x86", "/usr/bin/qemu-system-x86_64", maps=[
        "7f2000000000-7f2008000000 rw-s 00000000 00:01 77 /memfd:ram (deleted)",
        libc], fds=[(12, "/memfd:ram (deleted)", MEMFD, 77, 0),
                    (13, "anon_inode:[eventfd]", os.makedev(0, 14), 9, 14)])
    t.process(300, "qemu-system-x86", "/usr/bin/qemu-system-x86_64", maps=[
        "7f3000000000-7f3008000000 rw-s 00000000 00:21 88 "
        "/dev/hugepages/qemu_back_mem.ram.Xy (deleted)", libc])
    t.process(100, "dpdk-testpmd", "/usr/bin/dpdk-testpmd", maps=[
        "55d000000000-55d000001000 r-xp 00000000 fe:00 600 /usr/bin/dpdk-testpmd",
        libc,
        "7f4000000000-7f4004000000 rw-s 00000000 00:21 99 /memfd:seg_0 (deleted)",
        "7f5000000000-7f5008000000 rw-s 00000000 00:01 77 /memfd:ram (deleted)",
        "7f6000000000-7f6008000000 rw-s 00000000 00:21 88 "
        "/dev/hugepages/qemu_back_mem.ram.Xy (deleted)",
        "7f7000000000-7f7000001000 rw-p 00000000 00:00 0 "],
        smaps="7f4000000000-7f4004000000 rw-s 00000000 00:21 99 x\n"
              "KernelPageSize:     2048 kB\n",
        fds=[(0, "/dev/null", os.makedev(0, 5), 4, 24),
             (5, "socket:[4242]", os.makedev(0, 8), 4242, 0),
             (30, "/memfd:ram (deleted)", MEMFD, 77, 0),
             (31, "anon_inode:[eventfd]", os.makedev(0, 14), 9, 14),
             # dangling and unstat-able: inode from fdinfo, dev from mnt_id
             (32, "/dev/hugepages/qemu_back_mem.ram.Xy (deleted)", None, 88,
              22)],
        unix="0000: 00000002 00000000 00010000 0001 01 4242 /run/vh0.sock\n")
    return t


SVH = "00:0e 555 /dev/svhost"


def secure_tree(tmp, pkey=1):
    """QEMU 200 attached to port vm1 (1 queue pair, 256 descriptors, 1024
    2-KiB buffers: rings at 4 KiB, pool at 24 KiB) with key pkey; threads
    main 200, vcpu 201, PD 202; testpmd 100 owns the port."""
    t = Tree(tmp)
    rings, pool = PAGE, PAGE + 20480
    maps = ["7e0000000000-7e0000001000 r--s 00000000 " + SVH,
            "7e0000100000-7e0000105000 rw-s %08x %s" % (rings, SVH),
            "7e0000200000-7e0000400000 rw-s %08x %s" % (pool, SVH),
            "7f2000000000-7f2008000000 rw-p 00000000 00:00 0 "]
    smaps = "".join("%s\nKernelPageSize: 4 kB\nProtectionKey: %d\n" % (
        m, 0 if i == 0 or i == 3 else pkey) for i, m in enumerate(maps))
    t.process(200, "qemu-system-x86", "/usr/bin/qemu-system-x86_64",
              maps=maps, smaps=smaps,
              threads={200: "qemu-system-x86", 201: "CPU 0/TCG",
                       202: "svhost-pd"})
    t.process(100, "dpdk-testpmd", "/usr/bin/dpdk-testpmd", maps=[
        "7d0000000000-7d0000001000 r--s 00000000 " + SVH,
        "7d0000100000-7d0000105000 rw-s %08x %s" % (rings, SVH),
        "7d0000200000-7d0000400000 rw-s %08x %s" % (pool, SVH)],
        fds=[(40, "/dev/svhost", os.makedev(0, 5), 555, 24)])
    t.port("vm1", owner_pid=100, copier_pid=200, copier_tid=202,
           copier_pkey=pkey, queue_pairs=1, ring_size=256, buf_size=2048,
           buf_count=1024)
    return t


INIT_PKRU = 0x55555554      # every key but 0 denied
PD_PKRU = 0x55555550        # key 1 open


def reader(values):
    def read(tid):
        v = values[tid]
        if isinstance(v, Exception):
            raise v
        return v
    return read


class FabricatedTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_classic_vswitch_flags_guest_ram(self):
        t = classic_tree(self.tmp.name)
        a = au.Auditor(t.proc(), t.sysfs, None)
        rep = a.audit(100)
        self.assertEqual(rep["role"], "vswitch")
        self.assertEqual([q["pid"] for q in rep["qemus"]], [200, 300])
        flagged = {(x["start"] if "start" in x else x["fd"]): x["shared_with"]
                   for x in rep["mappings"] + rep["fds"] if x["flags"]}
        self.assertEqual(flagged, {0x7f5000000000: [200],
                                   0x7f6000000000: [300], 30: [200],
                                   32: [300]})
        kinds = {m["start"]: m["kind"] for m in rep["mappings"]}
        self.assertEqual(kinds[0x7f4000000000], "hugetlbfs")   # own, unflagged
        self.assertEqual(kinds[0x7f5000000000], "memfd")
        self.assertEqual(kinds[0x7f6000000000], "hugetlbfs")
        self.assertEqual(kinds[0x7f1000000000], "file")        # libc: shared, fine
        self.assertEqual(len(rep["findings"]), 4)
        self.assertTrue(rep["verdict"].startswith("FAIL"))
        sock = [f for f in rep["fds"] if f["fd"] == 5][0]
        self.assertEqual(sock.get("socket_path"), "/run/vh0.sock")
        evt = [f for f in rep["fds"] if f["fd"] == 31][0]
        self.assertEqual((evt["kind"], evt["flags"]), ("eventfd", []))

    def test_vswitch_clean_without_qemu(self):
        t = classic_tree(self.tmp.name)
        for q in ("200", "300"):
            os.unlink(os.path.join(t.root, q, "exe"))
            os.symlink("/usr/bin/sleep", os.path.join(t.root, q, "exe"))
            with open(os.path.join(t.root, q, "comm"), "w") as f:
                f.write("sleep\n")
        rep = au.Auditor(t.proc(), t.sysfs, None).audit(100)
        self.assertEqual(rep["findings"], [])
        self.assertTrue(rep["verdict"].startswith("OK"))
        # --qemu makes any process count as a QEMU
        rep = au.Auditor(t.proc(), t.sysfs, None, qemu_pids=[300]).audit(100)
        self.assertEqual(len(rep["findings"]), 2)

    def test_secure_vswitch_clean(self):
        t = secure_tree(self.tmp.name)
        rep = au.Auditor(t.proc(), t.sysfs, None).audit(100)
        self.assertEqual(rep["role"], "vswitch")
        self.assertEqual(rep["ports"], ["vm1"])
        self.assertEqual(rep["findings"], [])
        regions = [(m["port"], m["region"]) for m in rep["mappings"]
                   if m["kind"] == "svhost"]
        self.assertEqual(regions, [("vm1", "header"), ("vm1", "rings"),
                                   ("vm1", "pool")])

    def test_two_ports_regions_and_keys(self):
        # a vSwitch with two ports of one geometry: the region of each
        # mapping is known, the port is not; a QEMU copying for both with
        # one key per PD: its rings and pools are told apart by key
        t = secure_tree(self.tmp.name)
        t.port("vm2", owner_pid=100, copier_pid=200, copier_tid=203,
               copier_pkey=2, queue_pairs=1, ring_size=256, buf_size=2048,
               buf_count=1024)
        rep = au.Auditor(t.proc(), t.sysfs, None).audit(100)
        self.assertEqual([(m["port"], m["region"]) for m in rep["mappings"]
                          if m["kind"] == "svhost"],
                         [(None, "header"), (None, "rings"), (None, "pool")])
        # a second port of another geometry: the pool's offset is also a
        # ring offset there, so its region is unknown
        t.port("vm2", queue_pairs=64)
        rep = au.Auditor(t.proc(), t.sysfs, None).audit(100)
        self.assertEqual([m["region"] for m in rep["mappings"]
                          if m["kind"] == "svhost"], ["header", "rings", "?"])
        t.port("vm2", queue_pairs=1)
        r = reader({200: INIT_PKRU, 201: INIT_PKRU, 202: PD_PKRU})
        rep = au.Auditor(t.proc(), t.sysfs, r).audit(200)
        self.assertEqual([(m["port"], m["region"])
                          for m in rep["svhost_mappings"]],
                         [(None, "header"), ("vm1", "rings"),
                          ("vm1", "pool")])
        self.assertEqual(rep["keys"], {"1": ["vm1"]})

    def test_secure_qemu_only_pd(self):
        t = secure_tree(self.tmp.name)
        r = reader({200: INIT_PKRU, 201: INIT_PKRU, 202: PD_PKRU})
        rep = au.Auditor(t.proc(), t.sysfs, r).audit(200)
        self.assertEqual(rep["role"], "qemu")
        self.assertEqual(rep["keys"], {"1": ["vm1"]})
        self.assertEqual([(m["region"], m["pkey"])
                          for m in rep["svhost_mappings"]],
                         [("header", 0), ("rings", 1), ("pool", 1)])
        touch = {t["tid"]: t["may_touch"] for t in rep["threads"]}
        self.assertEqual(touch, {200: [], 201: [], 202: ["vm1"]})
        self.assertEqual(rep["findings"], [])
        self.assertEqual(rep["verdict"], "OK: port vm1: only thread 202 "
                         "(svhost-pd)")

    def test_secure_qemu_second_thread_with_key(self):
        t = secure_tree(self.tmp.name)
        r = reader({200: INIT_PKRU, 201: 0x55555558, 202: PD_PKRU})
        rep = au.Auditor(t.proc(), t.sysfs, r).audit(200)
        # the vCPU thread may read (WD only): two threads, one not the copier
        self.assertEqual(len(rep["findings"]), 2, rep["findings"])
        self.assertIn("2 threads may touch", rep["findings"][0])
        self.assertIn("thread 201 (CPU 0/TCG)", rep["findings"][1])

    def test_secure_qemu_wrong_thread(self):
        t = secure_tree(self.tmp.name)
        r = reader({200: PD_PKRU, 201: INIT_PKRU, 202: INIT_PKRU})
        rep = au.Auditor(t.proc(), t.sysfs, r).audit(200)
        self.assertEqual(len(rep["findings"]), 1)
        self.assertIn("not its attached copier (tid 202)",
                      rep["findings"][0])

    def test_pool_without_key(self):
        t = secure_tree(self.tmp.name, pkey=0)
        r = reader({200: INIT_PKRU, 201: INIT_PKRU, 202: INIT_PKRU})
        rep = au.Auditor(t.proc(), t.sysfs, r).audit(200)
        self.assertEqual(len(rep["findings"]), 2)     # rings and pool
        self.assertIn("no protection key", rep["findings"][1])

    def test_pkru_unreadable_is_incomplete(self):
        t = secure_tree(self.tmp.name)
        r = reader({200: INIT_PKRU, 201: OSError(errno.EPERM, "denied"),
                    202: PD_PKRU})
        rep = au.Auditor(t.proc(), t.sysfs, r).audit(200)
        self.assertTrue(rep["incomplete"])
        self.assertTrue(rep["verdict"].startswith("INCOMPLETE"))
        rep = au.Auditor(t.proc(), t.sysfs, None).audit(200)
        self.assertTrue(rep["incomplete"])

    def test_thread_gone_is_skipped(self):
        t = secure_tree(self.tmp.name)
        import shutil
        shutil.rmtree(os.path.join(t.root, "200", "task", "201"))
        r = reader({200: INIT_PKRU, 202: PD_PKRU})
        rep = au.Auditor(t.proc(), t.sysfs, r).audit(200)
        self.assertEqual([x["tid"] for x in rep["threads"]], [200, 202])

    def test_cli_json_and_exit_status(self):
        t = classic_tree(self.tmp.name)
        out = io.StringIO()
        orig = au.Proc
        au.Proc = lambda root: t.proc()
        try:
            rc = au.main(["--json", "--no-ptrace", "--sysfs-root", t.sysfs,
                          "100"], out)
        finally:
            au.Proc = orig
        self.assertEqual(rc, au.EXIT_FINDINGS)
        doc = json.loads(out.getvalue())
        self.assertEqual(doc["findings"], 4)
        self.assertEqual(doc["processes"][0]["pid"], 100)

    def test_cli_table(self):
        t = secure_tree(self.tmp.name)
        out = io.StringIO()
        rep = au.Auditor(t.proc(), t.sysfs, reader(
            {200: INIT_PKRU, 201: INIT_PKRU, 202: PD_PKRU})).audit(200)
        au.print_report(rep, out)
        text = out.getvalue()
        self.assertIn("KEY 1", text)
        self.assertRegex(text, r"202\s+svhost-pd\s+0x55555550\s+rw\s+vm1")
        self.assertIn("verdict: OK", text)

    def test_no_such_process(self):
        t = classic_tree(self.tmp.name)
        with self.assertRaises(au.AuditError):
            au.Auditor(t.proc(), t.sysfs, None).audit(4242)


class CommandLineTest(unittest.TestCase):
    def run_ctl(self, *args):
        return subprocess.run([sys.executable, SVHOSTCTL, "audit"] +
                              list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def test_help_through_svhostctl(self):
        p = self.run_ctl("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("GUEST-RAM", p.stdout)

    def test_usage_errors(self):
        self.assertEqual(self.run_ctl().returncode, 2)
        self.assertEqual(self.run_ctl("notapid").returncode, 2)
        self.assertEqual(self.run_ctl("--as", "bogus", "1").returncode, 2)

    def test_missing_process(self):
        p = self.run_ctl("--no-ptrace", "999999999")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no process 999999999", p.stderr)


# --------------------------------------------------------------------------
# real processes

CHILD = r"""
import mmap, os, socket, sys, time, array
role, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if role == "qemu":
    ram = os.memfd_create("guest-ram", 0)
    os.ftruncate(ram, 1 << 20)
    m = mmap.mmap(ram, 1 << 20)
    s.bind(path); s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    c.sendmsg([b"m"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                        array.array("i", [ram]))])
else:
    own = os.memfd_create("own-mem", 0)
    os.ftruncate(own, 1 << 16)
    m2 = mmap.mmap(own, 1 << 16)
    s.connect(path)
    msg, anc, _, _ = s.recvmsg(1, socket.CMSG_SPACE(4))
    fd = array.array("i", anc[0][2][:4])[0]
    if sys.argv[3] == "map":
        m = mmap.mmap(fd, 1 << 20)
    print("ready", flush=True)
sys.stdin.read()
"""


class RealProcessTest(unittest.TestCase):
    """A 'QEMU' sends its guest RAM memfd over a unix socket, as classic
    vhost-user's SET_MEM_TABLE does, to a 'vSwitch'."""

    def spawn(self, *args):
        p = subprocess.Popen([sys.executable, "-c", CHILD] + list(args),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        self.addCleanup(lambda: (p.stdin.close(), p.wait(), p.stdout.close()))
        self.assertEqual(p.stdout.readline().strip(), "ready")
        return p

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.sock = os.path.join(self.tmp.name, "vhost.sock")

    def audit(self, vsw, qemu):
        out = io.StringIO()
        rc = au.main(["--json", "--no-ptrace", "--qemu", str(qemu.pid),
                      str(vsw.pid)], out)
        return rc, json.loads(out.getvalue())["processes"][0]

    def test_received_and_mapped_fd_is_flagged(self):
        qemu = self.spawn("qemu", self.sock)
        vsw = self.spawn("vswitch", self.sock, "map")
        rc, rep = self.audit(vsw, qemu)
        self.assertEqual(rc, au.EXIT_FINDINGS)
        maps = [m for m in rep["mappings"] if m["flags"]]
        fds = [f for f in rep["fds"] if f["flags"]]
        self.assertEqual([(m["kind"], m["shared_with"]) for m in maps],
                         [("memfd", [qemu.pid])])
        self.assertTrue(maps[0]["path"].startswith("/memfd:guest-ram"))
        self.assertGreaterEqual(len(fds), 1)
        self.assertTrue(all(f["kind"] == "memfd" for f in fds))
        # the vSwitch's own memfd is listed and not flagged
        own = [m for m in rep["mappings"]
               if m["path"].startswith("/memfd:own-mem")]
        self.assertEqual([m["flags"] for m in own], [[]])

    def test_received_fd_only_is_flagged(self):
        qemu = self.spawn("qemu", self.sock)
        vsw = self.spawn("vswitch", self.sock, "nomap")
        rc, rep = self.audit(vsw, qemu)
        self.assertEqual(rc, au.EXIT_FINDINGS)
        self.assertEqual([m for m in rep["mappings"] if m["flags"]], [])
        self.assertEqual([f["kind"] for f in rep["fds"] if f["flags"]],
                         ["memfd"])

    def test_not_flagged_without_that_qemu(self):
        qemu = self.spawn("qemu", self.sock)
        vsw = self.spawn("vswitch", self.sock, "map")
        out = io.StringIO()
        # no --qemu: a python process is not taken for a QEMU
        rc = au.main(["--json", "--no-ptrace", str(vsw.pid)], out)
        rep = json.loads(out.getvalue())["processes"][0]
        self.assertNotIn(qemu.pid, [q["pid"] for q in rep["qemus"]])
        self.assertEqual(rc, au.EXIT_OK)


PKEY_CHILD = r"""
import ctypes, threading, sys, os, time
libc = ctypes.CDLL(None, use_errno=True)
PKEY_DISABLE_ACCESS, PKEY_DISABLE_WRITE = 1, 2
key = libc.pkey_alloc(0, PKEY_DISABLE_ACCESS)    # this thread: no access
if key < 0:
    print("nokey", flush=True); sys.exit(0)
go = threading.Event()
tids = {}
def worker(name, rights):
    if libc.pkey_set(key, rights) != 0:
        raise SystemExit("pkey_set")
    tids[name] = threading.get_native_id()
    go.wait()
ts = [threading.Thread(target=worker, args=("pd", 0)),
      threading.Thread(target=worker, args=("ro", PKEY_DISABLE_WRITE)),
      threading.Thread(target=worker, args=("off", PKEY_DISABLE_ACCESS))]
for t in ts: t.start()
while len(tids) < 3: time.sleep(0.01)
print(key, threading.get_native_id(), tids["pd"], tids["ro"], tids["off"],
      flush=True)
sys.stdin.read()
go.set()
"""


class RealPkruTest(unittest.TestCase):
    """PKRU of live threads with known rights, read with ptrace.  Runs
    where the CPU and kernel have protection keys (the test VM: -cpu max);
    skipped elsewhere."""

    def test_pkru_of_threads(self):
        if au.pkru_offset() is None:
            self.skipTest("no protection keys on this CPU (OSPKE clear)")
        p = subprocess.Popen([sys.executable, "-c", PKEY_CHILD],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        self.addCleanup(lambda: (p.stdin.close(), p.wait(), p.stdout.close()))
        line = p.stdout.readline().split()
        if line == ["nokey"]:
            self.skipTest("pkey_alloc failed")
        key, main, pd, ro, off = (int(x) for x in line)
        read = au.PtracePkru()
        self.assertEqual(au.pkru_rights(read(main), key), "--")
        self.assertEqual(au.pkru_rights(read(pd), key), "rw")
        self.assertEqual(au.pkru_rights(read(ro), key), "r-")
        self.assertEqual(au.pkru_rights(read(off), key), "--")
        # the threads run on after the audit stopped them
        p.stdin.close()
        self.assertEqual(p.wait(30), 0)

    def test_ptrace_of_missing_thread(self):
        if au.pkru_offset() is None:
            self.skipTest("no protection keys on this CPU (OSPKE clear)")
        with self.assertRaises(OSError) as cm:
            au.PtracePkru()(999999999)
        self.assertEqual(cm.exception.errno, errno.ESRCH)


if __name__ == "__main__":
    unittest.main()
