# SPDX-License-Identifier: GPL-2.0
"""Tests of tools/e2e: the command lines the classic and secure profiles
build (the secure run must differ from the classic one only where
docs/E2E.md says), and the guest's QEMU command line.  The runs themselves
are the e2e-classic stage of make test.

Run: python3 -m unittest discover -s tools/tests -v
"""

import argparse
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(HERE, "..", "e2e")
sys.path.insert(0, E2E)
import guest as guestmod  # noqa: E402


def load_run():
    loader = importlib.machinery.SourceFileLoader(
        "e2e_run_under_test", os.path.join(E2E, "run"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


run = load_run()


def args(**kw):
    a = dict(qemu=None, testpmd=None, dpdk_lib=None, vdev_extra="",
             netdev_extra="", guest_mem=128)
    a.update(kw)
    return argparse.Namespace(**a)


class ProfileTest(unittest.TestCase):
    def test_classic(self):
        p = run.Profile(args())
        self.assertEqual(p.qemu, "qemu-system-x86_64")
        self.assertEqual(p.vswitch_env, {})
        self.assertEqual(p.eal_extra, [])
        self.assertEqual(p.vdev(0, "/run/x/vhost0.sock"),
                         "net_vhost0,iface=/run/x/vhost0.sock,queues=1")
        self.assertEqual(p.netdev(1), "vhost-user,chardev=chr-b")
        mem, kind = p.guest_memory(0, 128)
        self.assertEqual(kind, "memfd")
        self.assertIn("memory-backend-memfd,id=ram,size=128M,share=on", mem)
        mem, kind = p.guest_memory(1, 128)
        self.assertEqual(kind, "hugetlbfs")
        self.assertTrue(any("memory-backend-file" in m and "share=on" in m
                            for m in mem))
        self.assertEqual(p.device_opts(), "vectors=0")
        self.assertTrue(p.expect_guest_ram)
        self.assertEqual(p.hugepages_needed(), 112)
        self.assertIsNone(p.skip_reason())

    def test_secure(self):
        p = run.SecureProfile(args(qemu="/opt/q/qemu-system-x86_64",
                                   dpdk_lib="/opt/dpdk/lib"))
        self.assertEqual(p.qemu, "/opt/q/qemu-system-x86_64")
        self.assertEqual(p.vswitch_env, {"LD_LIBRARY_PATH": "/opt/dpdk/lib"})
        self.assertEqual(p.eal_extra, ["-d", "/opt/dpdk/lib/"
                                       "librte_net_vhost.so.23"])
        # 4 queue pairs, TSO offered by net_vhost (tso=1), mq=on
        self.assertEqual(p.vdev(0, "/s"), "net_vhost0,iface=/s,queues=4,"
                         "tso=1,secure=1,svhost-port=e2e0")
        self.assertEqual(p.netdev(1), "vhost-user,chardev=chr-b,queues=4,"
                         "secure=on,svhost-port=e2e1")
        self.assertEqual(p.guest_memory(0, 128), ([], None))
        self.assertEqual(p.device_opts(), "mq=on")
        self.assertFalse(p.expect_guest_ram)
        self.assertEqual(p.hugepages_needed(), 48)
        self.assertEqual(p.chardev("/s"), "socket,path=/s,reconnect=1")
        self.assertIsInstance(p.vswitch("/run/x", "/tmp/logs", 2), run.Testpmd)

    def test_secure_options_can_be_overridden(self):
        p = run.SecureProfile(args(vdev_extra=",secure=1,svhost-port=x{port}",
                                   netdev_extra=",secure=on"))
        self.assertTrue(p.vdev(1, "/s").endswith(",svhost-port=xe2e1"))
        self.assertEqual(p.netdev(0), "vhost-user,chardev=chr-a,queues=4,"
                         "secure=on")

    def test_testpmd_queues(self):
        for cls, q in ((run.Profile, 1), (run.SecureProfile, 4)):
            a = run.Testpmd(cls(args()), "/r", "/l", 2).argv()
            self.assertIn("--rxq=%d" % q, a)
            self.assertIn("--txq=%d" % q, a)
            self.assertIn("net_vhost1,iface=/r/vhost1.sock,queues=%d" % q,
                          " ".join(a))


class HelperTest(unittest.TestCase):
    def test_kmsg_patterns(self):
        for line in ("[ 1.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2",
                     "[ 1.0] BUG: KASAN: use-after-free in f",
                     "[ 1.0] refcount_t: underflow; use-after-free.",
                     "[ 1.0] kmemleak: 2 new suspected memory leaks",
                     "[ 1.0] Oops: 0000 [#1] SMP"):
            self.assertTrue(run.KMSG_BAD.search(line), line)
        for line in ("[ 1.0] svhost: grant e2e0 added",
                     "[ 1.0] svhost: port e2e1: owner gone, copier x[1] "
                     "listed as e2e1@2"):
            self.assertFalse(run.KMSG_BAD.search(line), line)

    def test_busy_queues(self):
        before = {"tx_queue_0_packets": 5, "tx_queue_1_packets": 0}
        after = {"tx_queue_0_packets": 105, "tx_queue_1_packets": 7,
                 "tx_queue_2_packets": 8}
        self.assertEqual(run.busy(before, after, "tx_queue_%d_packets", 4),
                         [(0, 100), (2, 8)])

    def test_at_once(self):
        self.assertEqual(run.at_once(lambda: 1, lambda: 2), [1, 2])
        with self.assertRaises(KeyError):
            run.at_once(lambda: 1, lambda: {}["x"])


    def test_ovs(self):
        p = run.OvsProfile(args(qemu="/opt/q/qemu-system-x86_64",
                                dpdk_lib="/opt/dpdk/lib"))
        self.assertTrue(p.broker and p.grant_first)
        self.assertFalse(p.expect_guest_ram)
        self.assertEqual(p.vswitch_env, {"LD_LIBRARY_PATH": "/opt/dpdk/lib"})
        # the OVS interface, its socket and the broker port share the name
        self.assertEqual(p.port_name(1), "vhu1")
        self.assertEqual(p.netdev(1), "vhost-user,chardev=chr-b,secure=on,"
                         "svhost-port=vhu1")
        # QEMU is the socket server; OVS connects to it
        self.assertEqual(p.chardev("/run/x/vhu0"),
                         "socket,path=/run/x/vhu0,server=on,wait=off")
        vs = p.vswitch("/run/x", "/tmp/logs", 2)
        self.assertIsInstance(vs, run.OvsSwitch)
        self.assertEqual(vs.socks, ["/run/x/vhu0", "/run/x/vhu1"])
        self.assertEqual(vs.secure_glob, "/run/x/vhu*")
        self.assertEqual(p.guest_memory(0, 128), ([], None))
        self.assertIsNotNone(run.OvsProfile(args()).preflight())


class GuestArgvTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        os.makedirs(os.path.join(self.tmp.name, "guest"))
        for f in ("vmlinux", "initramfs.cpio"):
            open(os.path.join(self.tmp.name, "guest", f), "w").close()
        old = os.environ.get("SVHOST_BUILD_DIR")
        os.environ["SVHOST_BUILD_DIR"] = self.tmp.name
        self.addCleanup(lambda: os.environ.__setitem__(
            "SVHOST_BUILD_DIR", old) if old is not None else
            os.environ.pop("SVHOST_BUILD_DIR"))

    def test_argv(self):
        g = guestmod.Guest("a", self.tmp.name, ip="10.0.0.1",
                           mac="52:54:00:00:00:01",
                           netdev="vhost-user,chardev=chr-a",
                           chardev="socket,path=/s", device_opts="vectors=0")
        a = g.argv()
        k = a.index("-kernel")
        self.assertEqual(a[k + 1], os.path.join(self.tmp.name, "guest",
                                                "vmlinux"))
        append = a[a.index("-append") + 1].split()
        self.assertIn("e2e_ip=10.0.0.1", append)
        self.assertIn("e2e_name=a", append)
        self.assertIn("console=ttyS0", append)
        # ttyS0: console log; ttyS1: the command channel on stdio
        serials = [a[i + 1] for i, x in enumerate(a) if x == "-serial"]
        self.assertEqual(serials, ["file:" + g.console, "stdio"])
        self.assertIn("socket,path=/s,id=chr-a", a)
        self.assertIn("vhost-user,chardev=chr-a,id=net-a", a)
        self.assertIn("virtio-net-pci,netdev=net-a,romfile=,"
                      "mac=52:54:00:00:00:01,vectors=0", a)
        self.assertIn("-no-reboot", a)
        self.assertNotIn("-qmp", a)

    def test_qmp_socket(self):
        g = guestmod.Guest("a", self.tmp.name, qmp="/run/x/qmp-a.sock")
        a = g.argv()
        self.assertEqual(a[a.index("-qmp") + 1],
                         "unix:/run/x/qmp-a.sock,server=on,wait=off")
        with self.assertRaises(guestmod.GuestError):
            guestmod.Guest("b", self.tmp.name).qmp("query-status")

    def test_missing_images(self):
        os.unlink(os.path.join(self.tmp.name, "guest", "vmlinux"))
        with self.assertRaises(guestmod.GuestError):
            guestmod.Guest("a", self.tmp.name).argv()

    def test_one_line_commands(self):
        g = guestmod.Guest("a", self.tmp.name)
        with self.assertRaises(ValueError):
            g.run("echo a\necho b")


if __name__ == "__main__":
    unittest.main()
