# SPDX-License-Identifier: GPL-2.0
"""Unit tests for tools/svhostctl against a fake sysfs tree.

Run: python3 -m unittest discover -s tools/tests -v
"""

import contextlib
import errno
import grp
import importlib.machinery
import importlib.util
import io
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "svhostctl")


def load_tool():
    loader = importlib.machinery.SourceFileLoader("svhostctl_under_test",
                                                  TOOL)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


ctl = load_tool()

PORT_KEYS = ["name", "state", "id", "owner_pid", "owner_comm",
             "copier_pid", "copier_tid", "copier_comm", "copier_uid",
             "copier_pkey", "copier_cgroup", "queue_pairs", "ring_size",
             "buf_size", "buf_count", "pool_bytes", "attaches", "denials",
             "revocations"]
TOTAL_KEYS = ["version", "ports_count", "pool_bytes", "attaches", "denials",
              "revocations", "invalid_requests"]
PARAM_KEYS = ["max_ports", "max_pool_mib", "max_port_pool_mib",
              "require_pkey"]

ATTACHED = {
    "name": "vm1", "state": "attached", "id": "7", "owner_pid": "100",
    "owner_comm": "testpmd", "copier_pid": "200", "copier_tid": "201",
    "copier_comm": "qemu-pd", "copier_uid": "107", "copier_pkey": "1",
    "copier_cgroup": "/machine.slice/vm1.scope", "queue_pairs": "2",
    "ring_size": "256", "buf_size": "2048", "buf_count": "1024",
    "pool_bytes": "2097152", "attaches": "3", "denials": "1",
    "revocations": "1",
}
READY = dict(ATTACHED, name="vm0", state="ready", id="3", copier_pid="-1",
             copier_tid="-1", copier_comm="", copier_uid="-1",
             copier_pkey="-1", copier_cgroup="", queue_pairs="1",
             pool_bytes="4194304", attaches="0", denials="0",
             revocations="0")
GONE = dict(ATTACHED, name="vm2", state="owner-gone", id="5",
            copier_pid="300", copier_tid="301", copier_comm="qemu-old")


class FakeSysfs:
    def __init__(self, base):
        self.root = os.path.join(base, "kernel", "svhost")
        self.params = os.path.join(base, "module", "svhost", "parameters")
        for d in ("ports", "gone", "grants"):
            os.makedirs(os.path.join(self.root, d))
        self.put(os.path.join(self.root, "grants", "add"), "")
        self.put(os.path.join(self.root, "grants", "remove"), "")
        os.makedirs(self.params)
        for k, v in (("version", 1), ("ports_count", 2),
                     ("pool_bytes", 6299648), ("attaches", 3),
                     ("denials", 1), ("revocations", 1),
                     ("invalid_requests", 4)):
            self.put(os.path.join(self.root, k), v)
        for k, v in (("max_ports", 64), ("max_pool_mib", 1024),
                     ("max_port_pool_mib", 256), ("require_pkey", "Y")):
            self.put(os.path.join(self.params, k), v)

    @staticmethod
    def put(path, value):
        with open(path, "w") as f:
            f.write("%s\n" % value)

    @staticmethod
    def get(path):
        with open(path) as f:
            return f.read()

    def add_port(self, name, attrs, sub="ports"):
        d = os.path.join(self.root, sub, name)
        os.makedirs(d)
        for k, v in attrs.items():
            self.put(os.path.join(d, k), v)
        self.put(os.path.join(d, "revoke"), "")
        return d

    def add_grant(self, name, uids="0", gids="", cgroups=()):
        d = os.path.join(self.root, "grants", name)
        os.makedirs(d)
        self.put(os.path.join(d, "uids"), uids)
        self.put(os.path.join(d, "gids"), gids)
        with open(os.path.join(d, "cgroups"), "w") as f:
            f.write("".join(c + "\n" for c in cgroups))
        return d

    def port_file(self, name, attr, sub="ports"):
        return os.path.join(self.root, sub, name, attr)

    def grant_file(self, name, lst):
        return os.path.join(self.root, "grants", name, lst)

    def kernel_write(self, path, value):
        """What the kernel does on a write to these files."""
        rel = os.path.relpath(path, self.root).split(os.sep)
        if rel[:1] == ["grants"] and rel[1:] == ["add"]:
            name = value.strip()
            if os.path.isdir(os.path.join(self.root, "grants", name)):
                raise OSError(errno.EEXIST, os.strerror(errno.EEXIST))
            self.add_grant(name)
            return
        if rel[:1] == ["grants"] and rel[1:] == ["remove"]:
            d = os.path.join(self.root, "grants", value.strip())
            if not os.path.isdir(d):
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
            shutil.rmtree(d)
            return
        if rel[:1] == ["ports"] and rel[2:] == ["revoke"]:
            d = os.path.join(self.root, "grants", rel[1])
            if not os.path.isdir(d):
                self.add_grant(rel[1])
            self.put(os.path.join(d, "uids"), "")
            self.put(os.path.join(d, "gids"), "")
            self.put(os.path.join(d, "cgroups"), "")
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "no such file")
        with open(path, "w") as f:
            f.write(value)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="svhostctl-test-")
        self.fs = FakeSysfs(self.tmp)
        self.fs.add_port("vm1", ATTACHED)
        self.fs.add_port("vm0", READY)
        self.fs.add_port("vm2@5", GONE, sub="gone")
        self.fs.add_grant("vm1", uids="0 107",
                          cgroups=["/machine.slice/vm1.scope"])
        self.fs.add_grant("vm9", uids="108")
        self.patch_write(self.fs.kernel_write)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_ctl(self, *argv, root=None, params=None):
        """Run main(); returns (status, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        args = ["--sysfs-root", root or self.fs.root,
                "--module-params", params or self.fs.params] + list(argv)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = ctl.main(args, out=out)
            except SystemExit as e:  # --help
                rc = e.code
        return rc, out.getvalue(), err.getvalue()

    def json_of(self, *argv):
        rc, out, err = self.run_ctl(*argv)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        return json.loads(out)

    def patch_write(self, func):
        """Replace sysfs_write for one test."""
        orig = ctl.sysfs_write
        ctl.sysfs_write = func
        self.addCleanup(setattr, ctl, "sysfs_write", orig)

    def failing_write(self, err, only=None):
        kernel = self.fs.kernel_write

        def w(path, value):
            if only is None or path.endswith(only):
                raise OSError(err, os.strerror(err))
            kernel(path, value)
        self.patch_write(w)


class TestList(Base):
    def test_table(self):
        rc, out, err = self.run_ctl("list")
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("NAME"))
        for h in ("STATE", "OWNER(pid/comm)", "COPIER(pid/tid/comm)", "PKEY",
                  "QUEUES", "POOL_MIB", "ATTACHES", "DENIALS", "REVOKED",
                  "GRANT"):
            self.assertIn(h, lines[0])
        # Sorted by name; the ready port shows no copier.
        self.assertEqual(lines[1].split()[:4], ["vm0", "ready", "100/testpmd",
                                                "-"])
        self.assertEqual(lines[1].split()[-1], "default")
        self.assertEqual(lines[2].split(),
                         ["vm1", "attached", "100/testpmd", "200/201/qemu-pd",
                          "107", "1", "2", "2", "3", "1", "1", "uid:0,107",
                          "cg:/machine.slice/vm1.scope"])
        self.assertIn("svhostctl revoke NAME@ID", out)
        self.assertRegex(out, r"(?m)^vm2@5\s+owner-gone\s+300/301/qemu-old"
                         r"\s+107\s+1$")
        self.assertRegex(out, r"(?m)^grants for names without a port:$")
        self.assertRegex(out, r"(?m)^vm9\s+uid:108$")
        self.assertEqual(lines[-1],
                         "total: 2 ports, 6.0 MiB pool, 3 attaches, "
                         "1 denials, 1 revocations, 4 invalid requests")

    def test_json_shape(self):
        for argv in (("list", "--json"), ("--json", "list")):
            j = self.json_of(*argv)
            self.assertEqual(list(j), ["ports", "gone", "grants", "totals"])
            self.assertEqual(list(j["totals"]), TOTAL_KEYS)
            self.assertEqual([p["name"] for p in j["ports"]], ["vm0", "vm1"])
            for p in j["ports"] + j["gone"]:
                self.assertEqual(list(p), PORT_KEYS)
            self.assertEqual([p["name"] for p in j["gone"]], ["vm2@5"])
            self.assertEqual(j["gone"][0]["copier_pid"], 300)
            vm1 = j["ports"][1]
            self.assertEqual(vm1["copier_pid"], 200)
            self.assertIsInstance(vm1["pool_bytes"], int)
            self.assertEqual(vm1["copier_cgroup"],
                             "/machine.slice/vm1.scope")
            vm0 = j["ports"][0]
            self.assertEqual(vm0["copier_pid"], -1)
            self.assertEqual(vm0["copier_comm"], "")
            self.assertEqual(j["grants"], [
                {"name": "vm1", "uids": [0, 107], "gids": [],
                 "cgroups": ["/machine.slice/vm1.scope"]},
                {"name": "vm9", "uids": [108], "gids": [], "cgroups": []}])
            self.assertEqual(j["totals"]["invalid_requests"], 4)

    def test_no_ports(self):
        shutil.rmtree(os.path.join(self.fs.root, "ports"))
        rc, out, _ = self.run_ctl("list")
        self.assertEqual(rc, 0)
        self.assertIn("no ports", out)
        j = self.json_of("list", "--json")
        self.assertEqual(j["ports"], [])

    def test_unreadable_attr_is_null(self):
        os.unlink(self.fs.port_file("vm1", "copier_pkey"))
        j = self.json_of("list", "--json")
        self.assertIsNone(j["ports"][1]["copier_pkey"])
        rc, out, _ = self.run_ctl("list")
        self.assertEqual(rc, 0)

    def test_empty_grant(self):
        self.fs.put(self.fs.grant_file("vm1", "uids"), "")
        self.fs.put(self.fs.grant_file("vm1", "cgroups"), "")
        rc, out, _ = self.run_ctl("list")
        self.assertRegex(out, r"(?m)^vm1 .* nobody$")

    def test_not_loaded(self):
        rc, out, err = self.run_ctl("list", root=os.path.join(self.tmp, "x"))
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("svhost module not loaded", err)
        self.assertEqual(len(err.splitlines()), 1)


class TestShow(Base):
    def kv(self, out):
        kv = {}
        for line in out.splitlines():
            k, _, v = line.partition(":")
            kv[k.strip()] = v.strip()
        return kv

    def test_text(self):
        rc, out, err = self.run_ctl("show", "vm1")
        self.assertEqual((rc, err), (0, ""))
        kv = self.kv(out)
        self.assertEqual(list(kv), PORT_KEYS + ["grant.uids", "grant.gids",
                                                "grant.cgroups"])
        self.assertEqual(kv["state"], "attached")
        self.assertEqual(kv["pool_bytes"], "2097152 (2 MiB)")
        self.assertEqual(kv["grant.uids"], "0 107")
        self.assertEqual(kv["grant.gids"], "(none)")
        self.assertEqual(kv["grant.cgroups"], "/machine.slice/vm1.scope")
        rc, out, _ = self.run_ctl("show", "vm0")
        self.assertRegex(out, r"copier_comm\s*: -\n")
        self.assertRegex(out, r"grant.uids\s*: 0 \(default: no grant")

    def test_json(self):
        j = self.json_of("show", "vm1", "--json")
        self.assertEqual(list(j), PORT_KEYS + ["grant"])
        self.assertEqual(j["name"], "vm1")
        for k in PORT_KEYS:
            if k in ("name", "state", "owner_comm", "copier_comm",
                     "copier_cgroup"):
                self.assertIsInstance(j[k], str, k)
            else:
                self.assertIsInstance(j[k], int, k)
        self.assertEqual(j["copier_pkey"], 1)
        self.assertEqual(j["grant"], {"uids": [0, 107], "gids": [],
                                      "cgroups": ["/machine.slice/vm1.scope"]})
        self.assertIsNone(self.json_of("show", "vm0", "--json")["grant"])

    def test_grant_without_port(self):
        j = self.json_of("show", "vm9", "--json")
        self.assertIsNone(j["state"])
        self.assertEqual(j["grant"]["uids"], [108])
        rc, out, _ = self.run_ctl("show", "vm9")
        self.assertRegex(out, r"state\s*: no port")

    def test_gone(self):
        j = self.json_of("show", "vm2@5", "--json")
        self.assertEqual(j["state"], "owner-gone")
        self.assertEqual(j["copier_pid"], 300)
        self.assertNotIn("grant", j)

    def test_extra_attributes(self):
        self.fs.put(self.fs.port_file("vm1", "future_counter"), 7)
        self.fs.put(self.fs.port_file("vm1", "future_text"), "abc")
        j = self.json_of("show", "vm1", "--json")
        self.assertEqual(list(j)[:len(PORT_KEYS)], PORT_KEYS)
        self.assertEqual(j["future_counter"], 7)
        self.assertEqual(j["future_text"], "abc")
        self.assertNotIn("revoke", j)
        rc, out, _ = self.run_ctl("show", "vm1")
        self.assertIn("future_counter", out)
        self.assertNotIn("revoke", out)

    def test_missing_port(self):
        rc, out, err = self.run_ctl("show", "nope")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertEqual(err, "svhostctl: show nope: no such port or grant "
                         "(ENOENT)\n")

    def test_bad_name(self):
        for bad in ("../vm1", ".", "..", "a" * 32, "a/b", "", "x y", "a@b",
                    "@1"):
            rc, out, err = self.run_ctl("show", bad)
            self.assertEqual(rc, 2, bad)
            self.assertIn("invalid port name", err)

    def test_missing_argument(self):
        rc, _, err = self.run_ctl("show")
        self.assertEqual(rc, 2)
        self.assertIn("NAME", err)

    def test_not_loaded(self):
        rc, _, err = self.run_ctl("show", "vm1",
                                  root=os.path.join(self.tmp, "x"))
        self.assertEqual(rc, 1)
        self.assertIn("not loaded", err)


class TestGrants(Base):
    def test_table(self):
        rc, out, err = self.run_ctl("grants")
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "UIDS", "GIDS",
                                            "CGROUPS", "PORT"])
        self.assertEqual(lines[1].split(), ["vm1", "0", "107", "(none)",
                                            "/machine.slice/vm1.scope",
                                            "yes"])
        self.assertEqual(lines[2].split(), ["vm9", "108", "(none)",
                                            "(none)", "no"])

    def test_json_and_empty(self):
        j = self.json_of("grants", "--json")
        self.assertEqual([g["name"] for g in j], ["vm1", "vm9"])
        shutil.rmtree(os.path.join(self.fs.root, "grants", "vm1"))
        shutil.rmtree(os.path.join(self.fs.root, "grants", "vm9"))
        rc, out, _ = self.run_ctl("grants")
        self.assertIn("no grants", out)


class TestStats(Base):
    def test_text(self):
        rc, out, err = self.run_ctl("stats")
        self.assertEqual((rc, err), (0, ""))
        for k in TOTAL_KEYS:
            self.assertRegex(out, r"(?m)^%s\s*: " % k)
        for k in PARAM_KEYS:
            self.assertRegex(out, r"(?m)^param\.%s\s*: " % k)
        self.assertRegex(out, r"param\.require_pkey\s*: Y")

    def test_json(self):
        j = self.json_of("stats", "--json")
        self.assertEqual(list(j), TOTAL_KEYS + ["parameters"])
        self.assertEqual(list(j["parameters"]), PARAM_KEYS)
        self.assertEqual(j["parameters"]["max_ports"], 64)
        self.assertIs(j["parameters"]["require_pkey"], True)
        self.assertEqual(j["pool_bytes"], 6299648)
        self.fs.put(os.path.join(self.fs.params, "require_pkey"), "N")
        self.assertIs(self.json_of("stats", "--json")["parameters"]
                      ["require_pkey"], False)

    def test_params_missing(self):
        rc, out, err = self.run_ctl("--json", "stats",
                                    params=os.path.join(self.tmp, "none"))
        self.assertEqual(rc, 0, err)
        j = json.loads(out)
        self.assertEqual(j["parameters"],
                         {k: None for k in PARAM_KEYS})

    def test_not_loaded(self):
        rc, _, err = self.run_ctl("stats", root=os.path.join(self.tmp, "x"))
        self.assertEqual(rc, 1)
        self.assertIn("not loaded", err)


class TestGrant(Base):
    def uids(self, name="vm1"):
        return self.fs.get(self.fs.grant_file(name, "uids"))

    def gids(self, name="vm1"):
        return self.fs.get(self.fs.grant_file(name, "gids"))

    def cgroups(self, name="vm1"):
        return self.fs.get(self.fs.grant_file(name, "cgroups"))

    def test_grant_keeps_existing(self):
        rc, out, err = self.run_ctl("grant", "vm1", "--uid", "5", "--uid",
                                    "107", "--gid", "36")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.uids(), "0 107 5\n")
        self.assertEqual(self.gids(), "36\n")
        self.assertIn("vm1: uids: 0 107 5", out)
        self.assertNotIn("new grant", out)

    def test_grant_creates(self):
        rc, out, err = self.run_ctl("grant", "vm0", "--uid", "107")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("vm0: new grant (it starts with uid 0", out)
        self.assertEqual(self.uids("vm0"), "0 107\n")
        # a name without a port works too
        rc, out, err = self.run_ctl("grant", "later", "--gid", "36")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.gids("later"), "36\n")

    def test_grant_cgroup(self):
        rc, out, err = self.run_ctl(
            "grant", "vm1", "--cgroup", "/sys/fs/cgroup/machine.slice/x",
            "--cgroup", "/machine.slice/vm1.scope", "--cgroup", "/")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.cgroups(),
                         "/machine.slice/vm1.scope\n/machine.slice/x\n/\n")

    def test_bad_cgroup(self):
        for bad in ("machine.slice", "/a//b", "/a/", "/a/../b", "/./a",
                    "/a\x01", "/" + "x" * 600):
            rc, _, err = self.run_ctl("grant", "vm1", "--cgroup", bad)
            self.assertEqual(rc, 2, bad)
            self.assertIn("invalid cgroup", err)

    def test_too_many_cgroups(self):
        argv = ["grant", "vm1"]
        for i in range(8):
            argv += ["--cgroup", "/c%d" % i]
        rc, _, err = self.run_ctl(*argv)
        self.assertEqual(rc, 1)
        self.assertIn("at most 8", err)

    def test_grant_names(self):
        user = pwd.getpwuid(0).pw_name
        group = grp.getgrgid(0).gr_name
        rc, _, err = self.run_ctl("grant", "vm9", "--user", user, "--group",
                                  group)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.uids("vm9"), "108 0\n")
        self.assertEqual(self.gids("vm9"), "0\n")

    def test_grant_nothing_new_does_not_write(self):
        self.patch_write(lambda p, v: self.fail("unexpected write %s" % p))
        rc, _, err = self.run_ctl("grant", "vm1", "--uid", "107")
        self.assertEqual((rc, err), (0, ""))

    def test_unknown_user_and_group(self):
        rc, _, err = self.run_ctl("grant", "vm1", "--user", "no-such-user-x")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "svhostctl: grant vm1: unknown user "
                         "'no-such-user-x'\n")
        rc, _, err = self.run_ctl("grant", "vm1", "--group", "no-such-grp-x")
        self.assertEqual(rc, 1)
        self.assertIn("unknown group", err)

    def test_usage_errors(self):
        for argv in (("grant", "vm1"), ("grant", "vm1", "--uid", "x"),
                     ("grant", "vm1", "--uid", "-1"),
                     ("grant", "vm1", "--uid", "4294967295"),
                     ("grant", "vm1", "--gid"), ("grant", "--uid", "1"),
                     ("grant", "../x", "--uid", "1"),
                     ("grant", "vm2@5", "--uid", "1")):
            rc, _, err = self.run_ctl(*argv)
            self.assertEqual(rc, 2, argv)
            self.assertTrue(err.startswith("svhostctl: "), err)
        self.assertEqual(self.uids(), "0 107\n")

    def test_too_many_ids(self):
        argv = ["grant", "vm1"]
        for i in range(1000, 1015):
            argv += ["--uid", str(i)]
        rc, _, err = self.run_ctl(*argv)
        self.assertEqual(rc, 1)
        self.assertIn("at most 16", err)
        self.assertEqual(self.uids(), "0 107\n")

    def test_kernel_rejects(self):
        self.failing_write(errno.EINVAL, only="uids")
        rc, _, err = self.run_ctl("grant", "vm1", "--uid", "5")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "svhostctl: grant vm1: writing uids: "
                         "the kernel rejected the list (EINVAL)\n")

    def test_too_many_grants(self):
        self.failing_write(errno.ENOSPC, only="add")
        rc, _, err = self.run_ctl("grant", "new", "--uid", "5")
        self.assertEqual(rc, 1)
        self.assertIn("too many grants (ENOSPC)", err)

    def test_permission_denied(self):
        self.failing_write(errno.EACCES)
        rc, _, err = self.run_ctl("grant", "vm1", "--uid", "5")
        self.assertEqual(rc, 1)
        self.assertIn("permission denied (EACCES)", err)
        self.assertIn("root", err)

    def test_grant_vanishes_before_write(self):
        kernel = self.fs.kernel_write

        def w(path, value):
            if path.endswith("uids"):
                raise FileNotFoundError(errno.ENOENT, "gone")
            kernel(path, value)
        self.patch_write(w)
        rc, _, err = self.run_ctl("grant", "vm1", "--uid", "5")
        self.assertEqual(rc, 1)
        self.assertIn("removed meanwhile (ENOENT)", err)

    def test_revokes_note(self):
        fs = self.fs
        kernel = fs.kernel_write

        def w(path, value):
            kernel(path, value)
            if path.endswith("cgroups"):
                fs.put(fs.port_file("vm1", "state"), "revoked")
        self.patch_write(w)
        # replacing is not what grant does; simulate a kernel revocation
        rc, _, err = self.run_ctl("grant", "vm1", "--cgroup", "/other")
        self.assertEqual(rc, 0)
        self.assertIn("no longer admitted and was revoked", err)


class TestUngrant(Base):
    def test_ungrant(self):
        self.fs.put(self.fs.grant_file("vm1", "gids"), "36 37")
        rc, out, err = self.run_ctl("ungrant", "vm1", "--gid", "36")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.fs.get(self.fs.grant_file("vm1", "gids")),
                         "37\n")

    def test_ungrant_cgroup(self):
        rc, out, err = self.run_ctl("ungrant", "vm1", "--cgroup",
                                    "/machine.slice/vm1.scope")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.fs.get(self.fs.grant_file("vm1", "cgroups")),
                         "\n")

    def test_ungrant_default_creates(self):
        rc, out, err = self.run_ctl("ungrant", "vm0", "--uid", "0")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.fs.get(self.fs.grant_file("vm0", "uids")),
                         "\n")
        rc, out, _ = self.run_ctl("show", "vm0")
        self.assertRegex(out, r"grant.uids\s*: \(none\)")

    def test_ungrant_all(self):
        rc, out, err = self.run_ctl("ungrant", "vm1", "--all")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("grant removed", out)
        self.assertFalse(os.path.exists(self.fs.grant_file("vm1", "uids")))
        rc, _, err = self.run_ctl("ungrant", "vm1", "--all")
        self.assertEqual(rc, 1)
        self.assertIn("no grant for this name (ENOENT)", err)
        rc, _, err = self.run_ctl("ungrant", "vm1", "--all", "--uid", "1")
        self.assertEqual(rc, 2)

    def test_not_granted_warns(self):
        rc, _, err = self.run_ctl("ungrant", "vm1", "--uid", "9", "--uid",
                                  "107")
        self.assertEqual(rc, 0)
        self.assertEqual(err, "svhostctl: ungrant vm1: uid 9 was not "
                         "granted\n")
        self.assertEqual(self.fs.get(self.fs.grant_file("vm1", "uids")),
                         "0\n")

    def test_revokes_attached_copier(self):
        fs = self.fs
        kernel = fs.kernel_write

        def w(path, value):  # what the kernel does on such a write
            kernel(path, value)
            if path.endswith("uids") and "107" not in value.split():
                fs.put(fs.port_file("vm1", "state"), "revoked")
                fs.put(fs.port_file("vm1", "copier_pid"), -1)
        self.patch_write(w)
        rc, _, err = self.run_ctl("ungrant", "vm1", "--uid", "107")
        self.assertEqual(rc, 0)
        self.assertEqual(err, "svhostctl: ungrant vm1: copier pid 200 "
                         "(uid 107) is no longer admitted and was revoked\n")

    def test_no_revocation_note_when_still_admitted(self):
        rc, _, err = self.run_ctl("ungrant", "vm1", "--uid", "0")
        self.assertEqual((rc, err), (0, ""))

    def test_errors(self):
        rc, _, err = self.run_ctl("ungrant", "vm1")
        self.assertEqual(rc, 2)
        rc, _, err = self.run_ctl("ungrant", "vm1", "--uid", "0",
                                  root=os.path.join(self.tmp, "x"))
        self.assertEqual(rc, 1)
        self.assertIn("not loaded", err)


class TestRevoke(Base):
    def test_revoke(self):
        rc, out, err = self.run_ctl("revoke", "vm1")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.fs.get(self.fs.port_file("vm1", "revoke")),
                         "1\n")
        self.assertEqual(out, "vm1: revoked copier pid 200 tid 201 "
                         "(qemu-pd)\nvm1: grant withdrawn: no copier "
                         "attaches again before 'svhostctl grant vm1 ...'\n")
        # the fake kernel emptied the grant, as the real one does
        self.assertEqual(self.fs.get(self.fs.grant_file("vm1", "uids")),
                         "\n")

    def test_revoke_gone(self):
        rc, out, err = self.run_ctl("revoke", "vm2@5")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.fs.get(self.fs.port_file("vm2@5", "revoke",
                                                       sub="gone")), "1\n")
        self.assertEqual(out, "vm2@5: revoked copier pid 300 tid 301 "
                         "(qemu-old)\n")

    def test_no_copier(self):
        self.failing_write(errno.ENOENT)
        rc, out, err = self.run_ctl("revoke", "vm0")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertEqual(err, "svhostctl: revoke vm0: no copier attached "
                         "(ENOENT)\n")

    def test_missing_port(self):
        for name in ("nope", "nope@1"):
            rc, _, err = self.run_ctl("revoke", name)
            self.assertEqual(rc, 1)
            self.assertEqual(err, "svhostctl: revoke %s: no such port "
                             "(ENOENT)\n" % name)

    def test_port_vanishes(self):
        fs = self.fs

        def w(path, value):
            shutil.rmtree(os.path.dirname(path))
            raise FileNotFoundError(errno.ENOENT, "gone")
        self.patch_write(w)
        rc, _, err = self.run_ctl("revoke", "vm1")
        self.assertEqual(rc, 1)
        self.assertIn("revoke vm1: no such port (ENOENT)", err)
        self.assertFalse(os.path.exists(fs.port_file("vm1", "state")))

    def test_permission(self):
        self.failing_write(errno.EACCES)
        rc, _, err = self.run_ctl("revoke", "vm1")
        self.assertEqual(rc, 1)
        self.assertIn("revoke vm1: permission denied (EACCES)", err)

    def test_other_errno(self):
        self.failing_write(errno.EIO)
        rc, _, err = self.run_ctl("revoke", "vm1")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "svhostctl: revoke vm1: input/output error "
                         "(EIO)\n")

    def test_usage(self):
        rc, _, _ = self.run_ctl("revoke")
        self.assertEqual(rc, 2)
        rc, _, _ = self.run_ctl("revoke", "a", "b")
        self.assertEqual(rc, 2)


class TestSetLimit(Base):
    def param(self, name):
        return self.fs.get(os.path.join(self.fs.params, name))

    def test_numeric(self):
        for p in ("max_ports", "max_pool_mib", "max_port_pool_mib"):
            rc, out, err = self.run_ctl("set-limit", p, "32")
            self.assertEqual((rc, err), (0, ""))
            self.assertEqual(self.param(p), "32\n")
            self.assertRegex(out, r"^%s: \d+ -> 32\n$" % p)

    def test_bool(self):
        for v, want in (("n", "N"), ("yes", "Y"), ("0", "N"), ("ON", "Y"),
                        ("false", "N"), ("Y", "Y")):
            rc, out, err = self.run_ctl("set-limit", "require_pkey", v)
            self.assertEqual((rc, err), (0, ""), v)
            self.assertEqual(self.param("require_pkey"), want + "\n")

    def test_usage(self):
        for argv in (("set-limit", "max_ports", "-1"),
                     ("set-limit", "max_ports", "x"),
                     ("set-limit", "max_ports", "99999999999"),
                     ("set-limit", "require_pkey", "maybe"),
                     ("set-limit", "nonsense", "1"),
                     ("set-limit", "max_ports")):
            rc, _, err = self.run_ctl(*argv)
            self.assertEqual(rc, 2, argv)
        self.assertEqual(self.param("max_ports"), "64\n")

    def test_kernel_rejects(self):
        self.failing_write(errno.EINVAL)
        rc, _, err = self.run_ctl("set-limit", "max_ports", "0")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "svhostctl: set-limit max_ports: the kernel "
                         "rejected 0 (EINVAL)\n")

    def test_permission(self):
        self.failing_write(errno.EPERM)
        rc, _, err = self.run_ctl("set-limit", "max_ports", "8")
        self.assertEqual(rc, 1)
        self.assertIn("permission denied (EPERM)", err)

    def test_params_missing(self):
        rc, _, err = self.run_ctl("set-limit", "max_ports", "8",
                                  params=os.path.join(self.tmp, "none"))
        self.assertEqual(rc, 1)
        self.assertIn("does not exist", err)

    def test_not_loaded(self):
        rc, _, err = self.run_ctl("set-limit", "max_ports", "8",
                                  root=os.path.join(self.tmp, "x"))
        self.assertEqual(rc, 1)
        self.assertIn("not loaded", err)


class TestHelp(Base):
    def test_main_help(self):
        rc, out, _ = self.run_ctl("--help")
        self.assertEqual(rc, 0)
        for s in ("usage: svhostctl", "commands:", "examples:",
                  "exit status:", "files:", "/sys/kernel/svhost",
                  "set-limit"):
            self.assertIn(s, out)

    def test_command_help(self):
        for cmd in ("list", "show", "grants", "grant", "ungrant", "revoke",
                    "stats", "set-limit"):
            rc, out, _ = self.run_ctl(cmd, "--help")
            self.assertEqual(rc, 0, cmd)
            for s in ("usage: svhostctl %s" % cmd, "examples:",
                      "exit status:", "files:"):
                self.assertIn(s, out, cmd)
        rc, out, _ = self.run_ctl("show", "--help")
        self.assertIn("--json", out)

    def test_no_command(self):
        rc, _, err = self.run_ctl()
        self.assertEqual(rc, 2)
        self.assertIn("no command", err)

    def test_unknown_command(self):
        rc, _, err = self.run_ctl("frobnicate")
        self.assertEqual(rc, 2)
        self.assertIn("invalid choice", err)


class TestExecutable(Base):
    """The installed file itself: shebang, exit statuses, streams."""

    def sh(self, *argv):
        p = subprocess.run([TOOL, "--sysfs-root", self.fs.root,
                            "--module-params", self.fs.params] + list(argv),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_executable(self):
        self.assertTrue(os.access(TOOL, os.X_OK))
        with open(TOOL) as f:
            self.assertEqual(f.readline(), "#!/usr/bin/env python3\n")

    def test_statuses(self):
        rc, out, err = self.sh("list", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(json.loads(out)["ports"]), 2)
        self.assertEqual(len(json.loads(out)["gone"]), 1)
        rc, out, err = self.sh("show", "nope")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "svhostctl: show nope: no such port or grant "
                         "(ENOENT)\n")
        rc, _, _ = self.sh("bogus")
        self.assertEqual(rc, 2)

    def test_broken_pipe(self):
        for i in range(40):
            self.fs.add_port("p%02d" % i, READY)
        p = subprocess.run("%s --sysfs-root %s list | head -c 1 >/dev/null" %
                           (TOOL, self.fs.root), shell=True,
                           capture_output=True, text=True, timeout=60)
        self.assertNotIn("Traceback", p.stderr)


if __name__ == "__main__":
    unittest.main()
