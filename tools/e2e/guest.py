# SPDX-License-Identifier: GPL-2.0
"""guest.py - boot and drive an end-to-end test guest.

A Guest is one qemu-system-x86_64 process running the small kernel and
busybox initramfs of tools/guest/build under TCG.  Its kernel console
(ttyS0) goes to a log file; its second serial port (ttyS1) is QEMU's stdio,
a pipe to this process, on which the guest's /init (tools/guest/init) runs
commands:

    guest: "@@READY <uptime>"        once booted
    host:  "<id> <command>"          one line of sh
    guest: output..., "@@END <id> <status>"

The network device is a virtio-net-pci on a vhost-user netdev.  How QEMU
gets its memory and which netdev options it uses comes from the caller (the
profile in tools/e2e/run), so the same class boots classic and secure VMs.
"""

import json
import os
import re
import select
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class GuestError(Exception):
    pass


def build_dir():
    return os.environ.get("SVHOST_BUILD_DIR") or os.path.join(ROOT, "build")


def guest_images():
    """(vmlinux, initramfs) built by tools/guest/build."""
    g = os.path.join(build_dir(), "guest")
    k, i = os.path.join(g, "vmlinux"), os.path.join(g, "initramfs.cpio")
    for p in (k, i):
        if not os.path.isfile(p):
            raise GuestError("%s missing: run tools/guest/build" % p)
    return k, i


def tsc_khz():
    """The TSC rate the nested guest should assume, from /proc/cpuinfo
    (a TCG guest's TSC runs at the rate of the CPU QEMU runs on)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return int(float(line.split(":")[1]) * 1000)
    except (OSError, ValueError):
        pass
    return None


class Guest:
    """One nested test VM.  netdev: the -netdev value (without id=, added
    here); memory: extra QEMU arguments for guest RAM (e.g. a shared
    memory backend); qemu: the binary; env: extra environment for QEMU;
    qmp: the path of a QMP socket for qmp() (none without it)."""

    def __init__(self, name, logdir, ip=None, mac=None, netdev=None,
                 chardev=None, memory=(), mem_mib=128, qemu="qemu-system-x86_64",
                 env=None, device_opts="", extra=(), qmp=None):
        self.name = name
        self.logdir = logdir
        self.ip = ip
        self.mac = mac
        self.netdev = netdev
        self.chardev = chardev
        self.memory = list(memory)
        self.mem_mib = mem_mib
        self.qemu = qemu
        self.env = env or {}
        self.device_opts = device_opts
        self.extra = list(extra)
        self.qmp_path = qmp
        self.boots = 0
        self.proc = None
        self.buf = b""
        self.seq = 0
        self.lost = None
        self.boot_seconds = None
        self.guest_uptime = None
        self.console = os.path.join(logdir, "guest-%s-console.log" % name)
        self.qemu_log = os.path.join(logdir, "guest-%s-qemu.log" % name)

    # --- life cycle ---------------------------------------------------------

    def argv(self):
        kernel, initrd = guest_images()
        append = ["console=ttyS0", "panic=-1", "e2e_name=" + self.name]
        # E2E_GUEST_DEBUG=1: the whole boot log, with times, in the console log
        append += (["printk.time=1", "ignore_loglevel"]
                   if os.environ.get("E2E_GUEST_DEBUG") else ["quiet"])
        append += os.environ.get("E2E_GUEST_APPEND", "").split()
        khz = tsc_khz()
        if khz:
            append += ["tsc_early_khz=%d" % khz, "tsc=reliable",
                       "no_timer_check"]
        if self.ip:
            append.append("e2e_ip=" + self.ip)
        a = [self.qemu, "-accel", "tcg,tb-size=64", "-M", "pc", "-m",
             "%dM" % self.mem_mib, "-smp", "1", "-nodefaults",
             "-no-user-config", "-display", "none", "-no-reboot",
             # thread names (CPU 0/TCG, ...) for svhostctl audit
             "-name", "e2e-%s,debug-threads=on" % self.name,
             "-kernel", kernel, "-initrd", initrd, "-append", " ".join(append),
             "-serial", "file:" + self.console, "-serial", "stdio"]
        if self.qmp_path:
            a += ["-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        a += self.memory
        if os.environ.get("E2E_QEMU_EXTRA"):
            a += os.environ["E2E_QEMU_EXTRA"].split()
        if self.netdev:
            if self.chardev:
                a += ["-chardev", "%s,id=chr-%s" % (self.chardev, self.name)]
            a += ["-netdev", "%s,id=net-%s" % (self.netdev, self.name),
                  "-device", "virtio-net-pci,netdev=net-%s,romfile=%s%s%s" % (
                      self.name, ",mac=" + self.mac if self.mac else "",
                      "," if self.device_opts else "", self.device_opts)]
        return a + self.extra

    def start(self):
        os.makedirs(self.logdir, exist_ok=True)
        self.boots += 1
        if self.boots > 1:
            # a second boot of the same guest keeps the first one's logs
            for attr in ("console", "qemu_log"):
                setattr(self, attr, re.sub(r"(-\d+)?\.log$", "-%d.log" %
                                           self.boots, getattr(self, attr)))
            self.buf, self.lost = b"", None
            self.boot_seconds = self.guest_uptime = None
        if self.qmp_path and os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        env = dict(os.environ)
        env.update(self.env)
        with open(self.qemu_log, "w") as log:
            log.write("# %s\n" % " ".join(self.argv()))
            log.flush()
            self.t0 = time.monotonic()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log,
                                         env=env, bufsize=0)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _read(self, deadline):
        """Read what is there (at most until deadline); False on EOF."""
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        r, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
        if not r:
            return True
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            return False
        self.buf += data
        return True

    def _wait_for(self, marker, timeout, what):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if not self._read(deadline):
                raise GuestError("%s: QEMU closed the serial port while "
                                 "waiting for %s (exit %s; see %s, %s)" % (
                                     self.name, what, self.proc.poll(),
                                     self.console, self.qemu_log))
            if time.monotonic() >= deadline:
                raise GuestError("%s: no %s within %d s (see %s)" % (
                    self.name, what, timeout, self.console))
        before, _, after = self.buf.partition(marker)
        self.buf = after
        return before

    def wait_ready(self, timeout=300):
        """Wait for /init's READY line; returns the boot time in seconds."""
        self._wait_for(b"@@READY ", timeout, "READY line")
        line = self._wait_for(b"\n", 10, "end of the READY line")
        self.boot_seconds = time.monotonic() - self.t0
        try:
            self.guest_uptime = float(line.split()[0])
        except (ValueError, IndexError):
            self.guest_uptime = None
        return self.boot_seconds

    def run(self, command, timeout=120):
        """Run one line of sh in the guest: (exit status, output)."""
        if "\n" in command:
            raise ValueError("a guest command is one line")
        if self.lost:
            raise GuestError("%s: not answering since %s" % (self.name,
                                                              self.lost))
        self.seq += 1
        tag = "c%d" % self.seq
        self.proc.stdin.write(("%s %s\n" % (tag, command)).encode())
        try:
            out = self._wait_for(("@@END %s " % tag).encode(), timeout,
                                 "end of '%s'" % command)
        except GuestError:
            # the guest still runs that command: later ones would not start
            self.lost = "'%s' timed out" % command
            raise
        status = self._wait_for(b"\n", 10, "exit status of '%s'" % command)
        try:
            rc = int(status.strip())
        except ValueError:
            raise GuestError("%s: bad exit status line %r" % (self.name,
                                                                status))
        return rc, out.decode(errors="replace")

    def check(self, command, timeout=120):
        """run(), raising GuestError on a non-zero exit status."""
        rc, out = self.run(command, timeout)
        if rc != 0:
            raise GuestError("%s: '%s' exited %d: %s" % (
                self.name, command, rc, out.strip()[-400:]))
        return out

    def qmp(self, command, timeout=30, **arguments):
        """Run one QMP command on the -qmp socket: its "return" value."""
        if not self.qmp_path:
            raise GuestError("%s: started without a QMP socket" % self.name)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.qmp_path)
            f = s.makefile("rw")
            replies = []
            for req in ({"execute": "qmp_capabilities"},
                        dict({"execute": command}, **(
                            {"arguments": arguments} if arguments else {}))):
                f.write(json.dumps(req) + "\n")
                f.flush()
                while True:
                    line = f.readline()
                    if not line:
                        raise GuestError("%s: QMP socket closed" % self.name)
                    msg = json.loads(line)
                    if "return" in msg or "error" in msg:
                        break       # greeting and events are skipped
                if "error" in msg:
                    raise GuestError("%s: QMP %s: %s" % (
                        self.name, req["execute"], msg["error"]))
                replies.append(msg["return"])
            return replies[-1]
        except (OSError, ValueError) as e:
            raise GuestError("%s: QMP %s: %s" % (self.name, command, e))
        finally:
            s.close()

    def stop(self, timeout=30):
        """reboot -f (QEMU exits: -no-reboot); kill if it does not."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"x reboot -f\n")
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
