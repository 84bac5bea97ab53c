# SPDX-License-Identifier: BSD-3-Clause
"""ovs.py - Debian's OVS-DPDK (openvswitch-switch-dpdk 3.1) in a private run
directory, on the patched librte_vhost.

Shared by tools/dpdk/tests/dpdk_tests.py (svhost-fe front ends) and
tools/e2e/run --profile ovs (real guests in the patched QEMU).  OVS cannot
pass the secure registration flag, so the sockets it registers are switched
to secure mode by SVHOST_SECURE_SOCKETS (fnmatch patterns of socket paths,
see README "DPDK secure mode"); LD_LIBRARY_PATH puts the patched
librte_vhost.so.23 under Debian's ovs-vswitchd-dpdk.

    ovs = OVS(rundir, lib, secure_glob)     # ovsdb-server + ovs-vswitchd
    ovs.vsctl('add-br', 'br0', ...)
    ovs.kill(); ovs.start()                 # SIGKILL, start again on the same db
    ovs.stop()                              # ovs-appctl exit, ovsdb-server too

ovs-vswitchd runs in the foreground as a child of the caller (so its exit
status and a SIGKILL can be observed); ovsdb-server detaches.  Everything
(database, sockets, pid files, logs) stays in rundir unless log= says
otherwise.
"""

import os
import signal
import subprocess
import time

OVS_VSWITCHD = '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk'
SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'


def unavailable():
    """Why OVS-DPDK cannot run here (a reason to skip), or None."""
    if not os.path.exists(OVS_VSWITCHD):
        return 'openvswitch-switch-dpdk is not installed (tools/deps.sh)'
    # the bridge's internal port of the userspace datapath is a tap
    if not os.path.exists('/dev/net/tun'):
        subprocess.run(['modprobe', 'tun'], stderr=subprocess.DEVNULL)
    if not os.path.exists('/dev/net/tun'):
        return 'OVS needs /dev/net/tun (modprobe tun)'
    return None


class OVS:
    """ovsdb-server and ovs-vswitchd of one private run directory.

    lib: directory of the patched librte_vhost.so.23 (LD_LIBRARY_PATH);
    secure_glob: SVHOST_SECURE_SOCKETS; socket_mem: MiB of hugepages DPDK
    takes at start (and its limit); nice: niceness of ovs-vswitchd (its PMD
    thread busy-polls); config: more other_config:KEY=VALUE settings;
    wait: wait until ovs-vswitchd has initialised (else call sync()))."""

    def __init__(self, rundir, lib, secure_glob, log=None, socket_mem=256, nice=0,
                 config=(), timeout=300, wait=True):
        self.rundir = rundir
        os.makedirs(rundir, exist_ok=True)
        self.env = dict(os.environ, OVS_RUNDIR=rundir, OVS_DBDIR=rundir,
                        OVS_LOGDIR=rundir, OVS_SYSCONFDIR=rundir)
        self.vswitchd_env = dict(self.env, LD_LIBRARY_PATH=lib,
                                 SVHOST_SECURE_SOCKETS=secure_glob)
        self.db = 'unix:%s/db.sock' % rundir
        self.log = log or os.path.join(rundir, 'ovs-vswitchd.log')
        self.ctl = os.path.join(rundir, 'ovs-vswitchd.ctl')
        self.nice = nice
        self.proc = None
        self.starts = 0
        self.syncs = 0
        db = os.path.join(rundir, 'conf.db')
        if os.path.exists(db):
            os.unlink(db)
        subprocess.run(['ovsdb-tool', 'create', db, SCHEMA], check=True, env=self.env)
        # -vconsole:off before --log-file, which logs that it opened the file
        subprocess.run(['ovsdb-server', '-vconsole:off', '--remote=punix:%s/db.sock' % rundir,
                        '--pidfile=%s/ovsdb.pid' % rundir, '--detach',
                        '--log-file=%s/ovsdb.log' % rundir, db], check=True, env=self.env)
        try:
            self.vsctl('--no-wait', 'init')
            self.vsctl('--no-wait', 'set', 'Open_vSwitch', '.', 'other_config:dpdk-init=true',
                       'other_config:dpdk-lcore-mask=0x1', 'other_config:pmd-cpu-mask=0x2',
                       'other_config:dpdk-socket-mem=%d' % socket_mem,
                       'other_config:dpdk-socket-limit=%d' % socket_mem,
                       'other_config:dpdk-extra="--no-pci --single-file-segments"',
                       *['other_config:' + c for c in config])
            self.start(timeout, wait)
        except BaseException:
            self.stop()
            raise

    def argv(self):
        a = ['nice', '-n', str(self.nice)] if self.nice else []
        # the control socket at a fixed path: its default name is the
        # program's, ovs-vswitchd-dpdk.PID.ctl, which ovs-appctl -t
        # ovs-vswitchd does not find
        return a + [OVS_VSWITCHD, self.db, '--pidfile=%s/ovs-vswitchd.pid' % self.rundir,
                    '--unixctl=%s' % self.ctl, '--log-file=%s' % self.log, '-vconsole:off']

    def start(self, timeout=300, wait=True):
        """Start ovs-vswitchd and (wait) wait until it has applied the database
        (DPDK initialised, bridges and ports configured)."""
        self.starts += 1
        with open(self.log, 'a') as f:
            f.write('# start %d: %s\n' % (self.starts, ' '.join(self.argv())))
        self.proc = subprocess.Popen(self.argv(), env=self.vswitchd_env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait:
            self.sync(timeout)

    def sync(self, timeout=300):
        """Wait until ovs-vswitchd has applied every change of the database so
        far (ovs-vsctl waits for cur_cfg to reach next_cfg after a change)."""
        self.syncs += 1
        p = subprocess.Popen(['ovs-vsctl', '--db=' + self.db, '--timeout=%d' % timeout,
                              'set', 'Open_vSwitch', '.',
                              'external_ids:svhost-sync=%d' % self.syncs],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        while p.poll() is None:
            if self.proc.poll() is not None:
                p.kill()
                p.wait()
                raise RuntimeError('ovs-vswitchd exited %s while starting; its log %s ends:\n%s'
                                   % (self.proc.returncode, self.log, self.text()[-3000:]))
            time.sleep(0.5)
        if p.returncode:
            raise RuntimeError('ovs-vswitchd did not apply the database within %d s (%s); '
                               'its log %s ends:\n%s' % (timeout, p.stdout.read().decode().strip(),
                                                         self.log, self.text()[-3000:]))

    @property
    def pid(self):
        """The ovs-vswitchd process (nice execs it)."""
        return self.proc.pid

    def vsctl(self, *args):
        return subprocess.run(['ovs-vsctl', '--db=' + self.db, '--timeout=120'] + list(args),
                              check=True, env=self.env, stdout=subprocess.PIPE).stdout.decode()

    def ofctl(self, *args):
        return subprocess.run(['ovs-ofctl'] + list(args), check=True, env=self.env,
                              stdout=subprocess.PIPE).stdout.decode()

    def appctl(self, *args, timeout=60):
        return subprocess.run(['ovs-appctl', '--timeout=%d' % timeout, '-t', self.ctl] +
                              list(args), env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout + 10)

    def text(self):
        try:
            with open(self.log, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def kill(self):
        """SIGKILL ovs-vswitchd: no goodbye to the front ends or the broker."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=60):
        """ovs-appctl exit (SIGKILL if it does not go), then ovsdb-server;
        returns ovs-vswitchd's exit status."""
        rc = None
        if self.proc:
            if self.proc.poll() is None:
                try:
                    r = self.appctl('exit', timeout=timeout)
                    if r.returncode:
                        with open(self.log, 'a') as f:
                            f.write('# ovs-appctl exit: exit %d: %s\n' % (
                                r.returncode, r.stdout.decode(errors='replace').strip()))
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.kill()
            rc = self.proc.returncode
        try:
            with open(os.path.join(self.rundir, 'ovsdb.pid')) as f:
                pid = int(f.read())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                with open('/proc/%d/stat' % pid) as f:
                    if f.read().rpartition(')')[2].split()[0] == 'Z':
                        break
                time.sleep(0.1)
        except (OSError, ValueError):
            pass
        return rc
