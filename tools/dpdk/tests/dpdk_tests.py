#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""DPDK secure mode tests: Debian's dpdk-testpmd on the patched librte_vhost
and net_vhost PMD (build/dpdk/lib, `make dpdk`), svhost-fe as the front
end.  In the test VM (with /dev/svhost) the tests run through the real
broker; on a host without the broker, the tests of that case run instead
(secure mode refused without /dev/svhost; the test-only memfd transport):

    tools/vmtest/run --hugepages 160 -- tools/dpdk/tests/dpdk_tests.py [-k NAME] [--list]
    tools/dpdk/tests/dpdk_tests.py

KTAP on stdout, one test per line; exit 0 when all passed (skips pass).
Environment: SVHOST_DPDK_LIB (library directory, default build/dpdk/lib),
SVHOST_DPDK_PACKETS (packets each way in the traffic test, default 1000000),
SVHOST_DPDK_ASAN_LIB (ASan build of the libraries for the hostile test).
"""

import argparse
import glob
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import ovs as ovsmod  # noqa: E402
import vhostuser as vu  # noqa: E402



def eal_libdir(lib):
    """lib, or a copy that EAL accepts for -d (tools/dpdk/eal-libdir: a
    clone below /tmp has a world-writable directory on its path)."""
    if not os.path.isdir(lib):
        return lib
    return subprocess.run([os.path.join(ROOT, 'tools', 'dpdk', 'eal-libdir'), lib],
                          check=True, stdout=subprocess.PIPE).stdout.decode().strip()


LIB = eal_libdir(os.environ.get('SVHOST_DPDK_LIB', os.path.join(ROOT, 'build', 'dpdk', 'lib')))
FE = os.path.join(ROOT, 'tools', 'svhost-fe', 'build', 'svhost-fe')
TESTPMD = '/usr/bin/dpdk-testpmd'
WORK = tempfile.mkdtemp(prefix='svhost-dpdk-')
PACKETS = int(os.environ.get('SVHOST_DPDK_PACKETS', '1000000'))
# 64 B to 64 KiB, mostly small as real traffic is (a 64 KiB packet every 32)
SIZES_1M = '64,1518,512,60,128,1500,256,1024,64,9000,66,1400,200,2048,2049,4000,' \
           '64,1518,512,60,128,1500,256,1024,64,100,66,1400,200,300,400,65536'


class Skip(Exception):
    pass


def log(msg):
    for line in str(msg).splitlines():
        print('# ' + line, flush=True)


# ---- testpmd ---------------------------------------------------------------------------

class TestPMD:
    """Debian's dpdk-testpmd on our libraries, driven through its prompt."""

    count = 0

    def __init__(self, vdevs, app=(), eal=(), lib=LIB, env=None, cores='0,1', mbufs=16384):
        TestPMD.count += 1
        self.prefix = 'svt%d' % TestPMD.count
        self.log_path = os.path.join(WORK, self.prefix + '.log')
        self.logf = open(self.log_path, 'wb')
        e = dict(os.environ)
        e['LD_LIBRARY_PATH'] = lib
        e.update(env or {})
        args = [TESTPMD, '-l', cores, '--no-huge', '-m', '512', '--no-pci',
                '--file-prefix', self.prefix, '-d', os.path.join(lib, 'librte_net_vhost.so.23')]
        for v in vdevs:
            args += ['--vdev', v]
        args += list(eal) + ['--', '-i', '--no-flush-rx', '--no-mlockall',
                             '--total-num-mbufs=%d' % mbufs] + list(app)
        self.args = args
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=e)
        self.pid = self.proc.pid
        self.wait_prompt(0, 60)

    def text(self):
        with open(self.log_path, 'rb') as f:
            return f.read().decode(errors='replace')

    def wait_prompt(self, since, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if 'testpmd> ' in self.text()[since:]:
                return
            if self.proc.poll() is not None:
                raise AssertionError('testpmd exited (%s): %s' %
                                     (self.proc.returncode, self.text()[-2000:]))
            time.sleep(0.1)
        raise AssertionError('no testpmd prompt after %ds' % timeout)

    def wait_log(self, needle, count, timeout=30):
        """Wait until the log holds needle count times (events the vhost
        thread handles on its own, such as a closed connection)."""
        end = time.time() + timeout
        while self.text().count(needle) < count:
            if time.time() > end:
                raise AssertionError('%r not logged %d times after %ds' % (needle, count, timeout))
            time.sleep(0.05)

    def cmd(self, line, timeout=60):
        """Run one prompt command; returns its output."""
        since = len(self.text())
        self.proc.stdin.write((line + '\n').encode())
        self.proc.stdin.flush()
        # the echo of the prompt comes first; wait for the next one
        time.sleep(0.05)
        self.wait_prompt(since + 1, timeout)
        return self.text()[since:]

    def alive(self):
        return self.proc.poll() is None

    def telemetry(self, query):
        path = '/var/run/dpdk/%s/dpdk_telemetry.v2' % self.prefix
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        json.loads(s.recv(16384).decode())
        s.send(query.encode())
        data = b''
        s.settimeout(5)
        while True:
            chunk = s.recv(1 << 20)
            data += chunk
            try:
                reply = json.loads(data.decode())
                break
            except ValueError:
                continue
        s.close()
        return reply[query.split(',')[0]]

    def secure(self):
        """Every secure socket's port: {name: counters} (telemetry /vhost/secure_*)."""
        return {n: self.telemetry('/vhost/secure_port,' + n)
                for n in self.telemetry('/vhost/secure_list') or []}

    def xstats(self, port):
        return self.telemetry('/ethdev/xstats,%d' % port)

    def in_use(self):
        """Mbufs out of the pools (dump_mempool: size - free - cached)."""
        out = self.cmd('dump_mempool')
        total = 0
        for block in out.split('mempool <')[1:]:
            size = int(re.search(r'\bsize=(\d+)', block).group(1))
            free = int(re.search(r'common_pool_count=(\d+)', block).group(1))
            m = re.search(r'total_cache_count=(\d+)', block)
            total += size - free - (int(m.group(1)) if m else 0)
        return total

    def quit(self, timeout=60):
        if self.alive():
            try:
                self.proc.stdin.write(b'quit\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.logf.close()


def fds_of(pid):
    """The targets of every fd of pid (a multiset, as a sorted list)."""
    out = []
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            out.append(os.readlink('/proc/%d/fd/%s' % (pid, fd)))
        except OSError:
            pass
    return sorted(out)


def same_fds(pid, base, timeout=10):
    """The fds of pid come back to base (connections take a moment to close)."""
    from collections import Counter
    end = time.time() + timeout
    while True:
        now = fds_of(pid)
        if now == base:
            return
        if time.time() > end:
            raise AssertionError('fds differ from the start: extra %s, missing %s' %
                                 (dict(Counter(now) - Counter(base)),
                                  dict(Counter(base) - Counter(now))))
        time.sleep(0.5)


def maps_of(pid):
    with open('/proc/%d/maps' % pid) as f:
        return f.read()


def fe(sock, *args, timeout=None, wait=True):
    """Run svhost-fe; returns (rc, result dict, output), or the Popen (output in p.logpath)."""
    cmd = [FE] + list(args) + [sock]
    if not wait:
        fe.count = getattr(fe, 'count', 0) + 1
        path = os.path.join(WORK, 'fe%d.log' % fe.count)
        with open(path, 'wb') as out:
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        p.logpath = path
        return p
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return parse_fe(p.returncode, p.stdout.decode(errors='replace'))


def parse_fe(rc, out):
    res = {}
    for line in out.splitlines():
        if line.startswith('result fe '):
            for kv in line.split()[2:]:
                k, _, v = kv.partition('=')
                res[k] = v
    return rc, res, out


def fe_wait(p, timeout):
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return parse_fe(p.returncode, open(p.logpath, errors='replace').read())


def fe_tail(p, n=5):
    return '\n'.join(open(p.logpath, errors='replace').read().splitlines()[-n:])


def sock(name):
    return os.path.join(WORK, name)


def secure_vdev(i, name, extra=''):
    return 'net_vhost%d,iface=%s,secure=1%s' % (i, sock(name), extra)


def start_io(tp):
    tp.cmd('set burst tx delay 50 retry 100000')
    tp.cmd('set fwd io retry')
    tp.cmd('start')


def check_fe(res, what, n=None):
    rc, r, out = res
    if rc != 0 or (n is not None and (int(r.get('sent', -1)) != n or int(r.get('received', -1)) != n)):
        log(out[-3000:])
        raise AssertionError('%s: svhost-fe exit %d, %s' % (what, rc, r))
    return r


# ---- tests ---------------------------------------------------------------------------------

def audit(tp, expect_shared=False):
    """The vSwitch maps no guest memory and holds no fd of it (secure), or does (classic)."""
    maps = maps_of(tp.pid)
    fds = fds_of(tp.pid)
    shared = 'synth-guest-ram' in maps or any('synth-guest-ram' in f for f in fds)
    if expect_shared:
        assert shared, 'classic mode: the guest memory should be mapped by testpmd'
    else:
        assert not shared, 'secure mode: testpmd maps or holds guest memory:\n' + \
            '\n'.join(l for l in maps.splitlines() if 'synth-guest-ram' in l)
    return shared


def connected(tp):
    try:
        return any(c['connection'] >= 0 for c in (tp.secure() or {}).values())
    except (OSError, ValueError):
        return False


def run_pair(tp, socks, n, *args, audit_shared=None, timeout=3000):
    """
    Two front ends (one per port), io forward between them.  The audit runs
    while they do: secure, testpmd must never map or hold guest memory;
    classic (the negative control), it must be seen to.
    """
    ps = [fe(sk, '-n', str(n), '--seconds', str(timeout), '--linger', '3', *args, wait=False)
          for sk in socks]
    audits = seen = 0
    while any(p.poll() is None for p in ps):
        if audit_shared is False:
            audit(tp)
            audits += connected(tp)
        elif audit_shared and not seen:
            seen = 'synth-guest-ram' in maps_of(tp.pid)
        time.sleep(0.5)
    if audit_shared is False:
        assert audits, 'the audit never ran while a front end was connected'
    elif audit_shared:
        assert seen, 'classic mode: the audit did not see the guest memory in testpmd'
    return [fe_wait(p, 10) for p in ps]


def port_clean(tp, name, **expect):
    """The port's counters: no errors, every buffer back home."""
    c = tp.secure()[name]
    want = dict(forbidden_requests=0, classic_front_ends=0, malformed_requests=0,
                fds_closed_unread=0, bad_doorbell_fds=0, rings_bad_packets=0, rings_broken=0,
                rings_buffers_posted=0, rings_buffers_held=0, connection=-1)
    want.update(expect)
    bad = {k: (c.get(k), v) for k, v in want.items() if c.get(k) != v}
    assert not bad, 'port %s: %s' % (name, bad)
    return c


def test_io_forward_1m():
    """two secure ports, io forward between two front ends: 1M packets each way, 64 B..64 KiB"""
    tp = TestPMD([secure_vdev(0, 'a'), secure_vdev(1, 'b')])
    try:
        start_io(tp)
        t0 = time.time()
        ra, rb = run_pair(tp, [sock('a'), sock('b')], PACKETS, '--sizes', SIZES_1M,
                          audit_shared=False)
        log('%d packets each way in %.0f s' % (PACKETS, time.time() - t0))
        check_fe(ra, 'front end a', PACKETS)
        check_fe(rb, 'front end b', PACKETS)
        tp.cmd('stop')
        for name in ('a', 'b'):
            c = port_clean(tp, name)
            assert c['rings_packets'] >= 2 * PACKETS, c
        audit(tp)
    finally:
        tp.quit()


def test_offloads():
    """checksum and TSO requests travel guest -> mbuf flags -> guest (io forward, legacy flags)"""
    extra = ',legacy-ol-flags=1,tso=1'
    tp = TestPMD([secure_vdev(0, 'a', extra), secure_vdev(1, 'b', extra)])
    try:
        start_io(tp)
        n = min(PACKETS, 4000)
        ra, rb = run_pair(tp, [sock('a'), sock('b')], n, '--offload', '--sizes',
                          '70,128,1514,1503,3000,9000,65549,1502,200')
        check_fe(ra, 'front end a', n)
        check_fe(rb, 'front end b', n)
        for name in ('a', 'b'):
            port_clean(tp, name)
    finally:
        tp.quit()


def test_multiqueue():
    """4 queue pairs on each of two secure ports, one forwarding core"""
    q = '4'
    tp = TestPMD([secure_vdev(0, 'a', ',queues=4'), secure_vdev(1, 'b', ',queues=4')],
                 app=['--rxq=4', '--txq=4', '--nb-cores=1'])
    try:
        start_io(tp)
        n = min(PACKETS, 40000)
        ra, rb = run_pair(tp, [sock('a'), sock('b')], n, '--queues', q, audit_shared=False)
        check_fe(ra, 'front end a', n)
        check_fe(rb, 'front end b', n)
        for name in ('a', 'b'):
            c = port_clean(tp, name, queue_pairs=4)
    finally:
        tp.quit()


def test_classic_negative_control():
    """classic sockets of the rebuilt library still work, and the audit sees the shared memory"""
    tp = TestPMD(['net_vhost0,iface=%s' % sock('ca'), 'net_vhost1,iface=%s' % sock('cb')])
    try:
        assert 'mode: classic: the front end shares guest memory' in tp.text()
        start_io(tp)
        ra, rb = run_pair(tp, [sock('ca'), sock('cb')], 20000, '--classic', audit_shared=True)
        check_fe(ra, 'classic front end a', 20000)
        check_fe(rb, 'classic front end b', 20000)
        assert 'CLASSIC MODE' in ra[2]
        assert tp.secure() in ({}, None), tp.secure()
    finally:
        tp.quit()


def loop_port(name='p', extra='', **kw):
    """One secure port that forwards back to itself (io, loop topology)."""
    tp = TestPMD([secure_vdev(0, name, extra)], app=['--port-topology=loop'], **kw)
    start_io(tp)
    return tp


# every request a secure back end must refuse, with payloads and fds as a
# classic front end would send them
def forbidden_requests():
    def memfd(tag):
        fd = os.memfd_create('probe-' + tag)
        os.write(fd, b'x' * 4096)
        return fd
    u64 = b'\0' * 8
    return [
        ('SET_MEM_TABLE', b'\1\0\0\0\0\0\0\0' + b'\0' * 32, lambda: [memfd('memtable')]),
        ('ADD_MEM_REG', b'\0' * 40, lambda: [memfd('addmemreg')]),
        ('REM_MEM_REG', b'\0' * 40, lambda: [memfd('remmemreg')]),
        ('SET_LOG_BASE', b'\0' * 16, lambda: [memfd('logbase')]),
        ('SET_LOG_FD', u64, lambda: [os.eventfd(0)]),
        ('SET_VRING_NUM', u64, list),
        ('SET_VRING_BASE', u64, list),
        ('SET_VRING_ADDR', b'\0' * 40, list),
        ('GET_INFLIGHT_FD', b'\0' * 24, list),
        ('SET_INFLIGHT_FD', b'\0' * 24, lambda: [memfd('inflight')]),
        ('IOTLB_MSG', b'\0' * 32, list),
        ('SET_SLAVE_REQ_FD', b'', lambda: [socket.socketpair()[0].detach()]),
        ('POSTCOPY_ADVISE', b'', list),
        ('POSTCOPY_LISTEN', b'', list),
        ('POSTCOPY_END', b'', list),
        ('GET_CONFIG', b'\0' * 12, list),
        ('SET_CONFIG', b'\0' * 12, list),
        ('CREATE_CRYPTO_SESSION', b'\0' * 64, list),
        ('CLOSE_CRYPTO_SESSION', u64, list),
        ('VRING_KICK', u64, list),
        ('GET_MAX_MEM_SLOTS', b'', list),
        ('SET_VRING_ENDIAN', u64, list),
        ('GPU_SET_SOCKET', b'', lambda: [socket.socketpair()[0].detach()]),
        ('RESET_DEVICE', b'', list),
        (0, b'', list), (41, u64, list), (500, u64, list), (1023, u64, list),
        (1025, u64, list), (0xffffffff, u64, list),
    ]


def test_forbidden_requests():
    """each forbidden request drops the connection, is counted, its fds closed unread"""
    tp = loop_port()
    base = fds_of(tp.pid)
    n = 0
    try:
        for early in (True, False):
            for req, payload, mkfds in forbidden_requests():
                c = vu.Client(sock('p'))
                if not early:
                    c.negotiate()
                fds = mkfds()
                c.send(req, payload, fds)
                for fd in fds:
                    os.close(fd)
                assert c.closed(), 'request %s did not close the connection' % (req,)
                c.close()
                n += 1
        assert tp.alive()
        c = tp.secure()['p']
        assert c['forbidden_requests'] == n, (c, n)
        time.sleep(0.5)
        same_fds(tp.pid, base)
        assert 'probe-' not in maps_of(tp.pid)
        # the port still serves a well-behaved front end
        check_fe(fe(sock('p'), '-n', '2000', '--seconds', '300'), 'front end after abuse', 2000)
        port_clean(tp, 'p', forbidden_requests=n)
    finally:
        tp.quit()


def fds_of_every_kind():
    kinds = {}
    fd = os.memfd_create('probe-memfd')
    os.write(fd, b'secret' * 1000)
    kinds['memfd'] = fd
    path = os.path.join(WORK, 'probe-file')
    with open(path, 'wb') as f:
        f.write(b'secret')
    kinds['file'] = os.open(path, os.O_RDWR)
    r, w = os.pipe()
    kinds['pipe-r'], kinds['pipe-w'] = r, w
    kinds['socket'] = socket.socketpair()[0].detach()
    kinds['eventfd'] = os.eventfd(0)
    kinds['dir'] = os.open(WORK, os.O_RDONLY | os.O_DIRECTORY)
    kinds['devzero'] = os.open('/dev/zero', os.O_RDWR)
    kinds['svhost'] = os.open('/dev/svhost', os.O_RDWR)
    kinds['opath'] = os.open(path, os.O_PATH)
    import select
    ep = select.epoll()
    kinds['epoll'] = os.dup(ep.fileno())
    ep.close()
    return kinds


def test_fds_of_every_kind():
    """fds sent with allowed requests are closed unread; a doorbell must be an eventfd"""
    tp = loop_port()
    base = fds_of(tp.pid)
    kinds = fds_of_every_kind()
    every = list(kinds.values())
    try:
        c = vu.Client(sock('p'))
        # more fds than a message may carry: the kernel drops the rest
        c.send('GET_FEATURES', b'', every[:8])
        c.recv()
        c.send('GET_PROTOCOL_FEATURES', b'', every[8:])
        pf = vu.struct.unpack('<Q', c.recv()[2])[0]
        c.send('SET_PROTOCOL_FEATURES', vu.struct.pack('<Q', pf & ((1 << vu.PF_SVHOST) |
               (1 << vu.PF_MQ))), every[:3])
        c.send('GET_QUEUE_NUM', b'', every[3:6])
        c.recv()
        c.send('SVHOST_GET_PORT', vu.struct.pack(vu.PORT_FMT, 1, 0, b'', 0, 0, 0, 0, 0, 0), every[6:9])
        port = c.recv()
        assert len(port[3]) == 0, 'GET_PORT reply carries fds'
        c.send('SET_OWNER', b'', every[:2])
        c.set_u64('SET_FEATURES', 1 << 32, every[2:4])
        sent = 8 + len(every[8:]) + 3 + 3 + 3 + 2 + 2
        # a doorbell with an extra fd: the extra one is closed
        k0 = os.eventfd(0)
        c.set_u64('SET_VRING_KICK', 0, [k0, kinds['memfd']])
        sent += 1
        c.set_u64('SET_VRING_CALL', 0, [os.eventfd(0)])
        c.vring_state('SET_VRING_ENABLE', 0, 1)
        c.vring_state('SET_VRING_ENABLE', 0, 0)
        assert not c.closed(1), 'allowed requests with extra fds closed the connection'
        cnt = tp.secure()['p']
        assert cnt['fds_closed_unread'] == sent, (cnt, sent)
        c.close()
        # doorbells that are not eventfds: refused, connection dropped
        bad = 0
        for kind, fd in kinds.items():
            if kind == 'eventfd':
                continue
            for req in ('SET_VRING_KICK', 'SET_VRING_CALL', 'SET_VRING_ERR'):
                c = vu.Client(sock('p'))
                c.negotiate()
                c.set_u64(req, 1, [fd])
                assert c.closed(), '%s with a %s fd was accepted' % (req, kind)
                c.close()
                bad += 1
        time.sleep(0.5)
        cnt = tp.secure()['p']
        assert cnt['bad_doorbell_fds'] == bad, (cnt, bad)
        assert tp.alive()
        same_fds(tp.pid, base)
        maps = maps_of(tp.pid)
        assert 'probe-' not in maps and WORK not in maps, maps
        check_fe(fe(sock('p'), '-n', '2000', '--seconds', '300'), 'front end after abuse', 2000)
    finally:
        for fd in every:
            os.close(fd)
        tp.quit()


def test_malformed_requests():
    """bad sizes, flags, indexes and GET_PORT payloads drop the connection and are counted"""
    tp = loop_port()
    P = vu.PORT_FMT
    port_req = lambda *a: vu.struct.pack(P, *a)
    cases = [
        ('GET_FEATURES', b'\0' * 8, {}),
        ('SET_FEATURES', b'\0' * 4, {}),
        ('SET_FEATURES', b'\0' * 16, {}),
        ('SET_VRING_ENABLE', vu.struct.pack('<II', 2, 1), {}),    # beyond 1 queue pair
        ('SET_VRING_ENABLE', vu.struct.pack('<II', 255, 1), {}),
        ('GET_VRING_BASE', vu.struct.pack('<II', 9, 0), {}),
        ('SET_VRING_KICK', vu.struct.pack('<Q', 5 | vu.NOFD), {}),
        ('SET_VRING_KICK', vu.struct.pack('<Q', 0x200 | vu.NOFD), {}),  # unknown bit
        ('SET_VRING_KICK', vu.struct.pack('<Q', 0), {}),          # no fd, no NOFD
        ('SVHOST_GET_PORT', port_req(1, 0, b'', 0, 0, 0, 0, 0, 0)[:71], {}),
        ('SVHOST_GET_PORT', port_req(1, 0, b'', 0, 0, 0, 0, 0, 0) + b'\0', {}),
        ('SVHOST_GET_PORT', port_req(2, 0, b'', 0, 0, 0, 0, 0, 0), {}),
        ('SVHOST_GET_PORT', port_req(1, 4, b'', 0, 0, 0, 0, 0, 0), {}),
        ('SVHOST_GET_PORT', port_req(1, 0, b'x', 0, 0, 0, 0, 0, 0), {}),
        ('SVHOST_GET_PORT', port_req(1, 0, b'', 1, 0, 0, 0, 0, 0), {}),
        ('SVHOST_GET_PORT', port_req(1, 0, b'', 0, 0, 0, 0, 0, 1), {}),
        ('GET_QUEUE_NUM', b'', dict(flags=vu.VERSION | vu.REPLY)),
        ('GET_QUEUE_NUM', b'', dict(flags=0)),
        ('GET_QUEUE_NUM', b'', dict(flags=vu.VERSION | 0x100)),
    ]
    try:
        for req, payload, kw in cases:
            c = vu.Client(sock('p'))
            c.negotiate()
            c.send(req, payload, **kw)
            assert c.closed(), 'malformed %s %r %r accepted' % (req, payload[:16], kw)
            c.close()
        # a payload larger than any message, and a cut header
        c = vu.Client(sock('p'))
        c.send('GET_FEATURES', b'\0' * 4096)
        assert c.closed()
        c.close()
        c = vu.Client(sock('p'))
        c.sock.send(b'\1\0\0\0\1\0')
        c.close()
        time.sleep(0.5)
        cnt = tp.secure()['p']
        assert cnt['malformed_requests'] == len(cases), (cnt, len(cases))
        # classic order: requests before the secure protocol, or without it
        c = vu.Client(sock('p'))
        c.send('SET_OWNER')
        assert c.closed()
        c.close()
        c = vu.Client(sock('p'))
        c.set_u64('SET_PROTOCOL_FEATURES', 1 << vu.PF_MQ)
        assert c.closed()
        c.close()
        assert tp.secure()['p']['classic_front_ends'] == 2
        assert tp.alive()
    finally:
        tp.quit()


def test_features_and_port():
    """masked features, GET_QUEUE_NUM, GET_PORT against the broker's sysfs, GET_VRING_BASE"""
    tp = loop_port(extra=',queues=2,svhost-port=feat.port-1,svhost-ring-size=512,'
                   'svhost-buf-size=4096')
    try:
        c = vu.Client(sock('p'))
        feats = c.get_u64('GET_FEATURES')
        for bit, what in ((26, 'LOG_ALL'), (33, 'IOMMU_PLATFORM'), (34, 'RING_PACKED')):
            assert not feats & (1 << bit), what + ' offered'
        assert feats & (1 << vu.F_PROTOCOL_FEATURES)
        pf = c.get_u64('GET_PROTOCOL_FEATURES')
        allowed = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 16) | (1 << vu.PF_SVHOST)
        assert pf & (1 << vu.PF_SVHOST) and not pf & ~allowed, hex(pf)
        c.set_u64('SET_PROTOCOL_FEATURES', pf & ((1 << vu.PF_SVHOST) | (1 << vu.PF_MQ) |
                                                  (1 << vu.PF_REPLY_ACK)))
        assert c.get_u64('GET_QUEUE_NUM') == 2
        p = c.get_port()
        sysfs = '/sys/kernel/svhost/ports/feat.port-1'
        assert p['name'] == 'feat.port-1' and os.path.isdir(sysfs), p
        assert p['version'] == 1 and p['flags'] == 0 and p['fds'] == [] and p['reserved'] == (0, 0)
        assert (p['queue_pairs'], p['ring_size'], p['buf_size']) == (2, 512, 4096), p
        geo = open(sysfs + '/geometry').read() if os.path.exists(sysfs + '/geometry') else ''
        log('sysfs geometry: ' + geo.strip())
        for v in ('512', '4096'):
            assert not geo or v in geo, geo
        # refused with REPLY_ACK: an error reply, the session goes on
        assert c.set_u64('SET_FEATURES', (1 << 32) | (1 << 26), ack=True) != 0
        assert c.set_u64('SET_FEATURES', (1 << 32) | (1 << 34), ack=True) != 0
        assert c.set_u64('SET_FEATURES', (1 << 32) | (1 << vu.F_PROTOCOL_FEATURES), ack=True) == 0
        k, cl = c.start_vring(0)
        assert c.get_vring_base(0) == (0, 0)
        c.close()
        assert tp.alive()
    finally:
        tp.quit()


def test_classic_front_ends_refused():
    """DPDK's virtio_user and svhost-fe --classic get nowhere on a secure socket"""
    tp = loop_port()
    try:
        try:
            vuser = TestPMD(['net_virtio_user0,path=%s' % sock('p')], cores='0,1',
                            eal=['--main-lcore=1'])
            out = vuser.text()
            vuser.quit()
        except AssertionError as e:     # virtio_user fails its probe: testpmd exits
            out = str(e)
        log('virtio_user: ' + ' | '.join(l for l in out.splitlines()
                                          if 'virtio' in l.lower() and 'rror' in l)[:500])
        rc, r, out = fe(sock('p'), '--classic', '-n', '10', '--seconds', '30')
        assert rc != 0 and int(r.get('received', 0)) == 0, (rc, r)
        cnt = tp.secure()['p']
        assert cnt['classic_front_ends'] >= 2 or \
            cnt['classic_front_ends'] + cnt['forbidden_requests'] >= 2, cnt
        assert tp.alive()
        assert 'synth-guest-ram' not in maps_of(tp.pid)
    finally:
        tp.quit()


def hostile_run(lib, env=None):
    tp = loop_port(lib=lib, env=env, mbufs=8192)
    try:
        before = tp.in_use()
        rc, r, out = fe(sock('p'), '--hostile', '--seconds', '20', timeout=200)
        log(out.strip().splitlines()[-1] if out.strip() else 'no output')
        assert int(r.get('attacks', 0)) > 100, (rc, r)
        time.sleep(1)
        assert tp.alive(), 'testpmd died: ' + tp.text()[-3000:]
        c = tp.secure()['p']
        log('counters after the attack: ' + json.dumps({k: v for k, v in c.items() if v}))
        for k in ('rings_err_len', 'rings_err_flags', 'rings_err_reserved', 'rings_err_peer_index',
                  'rings_bad_packets', 'rings_broken'):
            assert c[k] > 0, '%s not counted: %s' % (k, c)
        assert c['rings_buffers_posted'] == 0 and c['rings_buffers_held'] == 0, c
        tp.cmd('stop')
        after = tp.in_use()
        assert after == before, 'mbufs leaked: %d in use before, %d after' % (before, after)
        tp.cmd('start')
        check_fe(fe(sock('p'), '-n', '2000', '--seconds', '300'), 'front end after the attack', 2000)
        return tp.text()
    finally:
        tp.quit()


def test_hostile_copier():
    """a compromised front end writes garbage into the rings: counted, survived, no mbuf lost"""
    hostile_run(LIB)


def test_hostile_copier_asan():
    """the same under AddressSanitizer (DPDK built with -Db_sanitize=address)"""
    lib = os.environ.get('SVHOST_DPDK_ASAN_LIB')
    if not lib or not os.path.exists(os.path.join(lib, 'librte_vhost.so.23')):
        raise Skip('no ASan build (SVHOST_DPDK_ASAN_LIB, tools/dpdk/build --asan)')
    lib = eal_libdir(lib)
    asan = subprocess.run(['gcc', '-print-file-name=libasan.so'], stdout=subprocess.PIPE).stdout
    env = {'LD_PRELOAD': os.path.realpath(asan.decode().strip()),
           'ASAN_OPTIONS': 'detect_leaks=0:abort_on_error=1:log_path=%s/asan' % WORK}
    text = hostile_run(lib, env)
    reports = glob.glob(WORK + '/asan*')
    assert 'AddressSanitizer' not in text and not reports, \
        text[-3000:] + ''.join(open(f).read()[:3000] for f in reports)


def test_front_end_reconnect():
    """the front end goes away five times: every buffer comes back, the next one attaches"""
    tp = loop_port()
    try:
        r = check_fe(fe(sock('p'), '--sessions', '5', '-n', '2000', '--seconds', '600'),
                     'five sessions')
        assert r['sessions'] == '5' and r['received'] == str(5 * 2000), r
        time.sleep(0.5)
        port_clean(tp, 'p')
    finally:
        tp.quit()


def test_vswitch_restart():
    """testpmd is killed mid-stream: the PD sees owner-gone, attaches to the new port"""
    tp = loop_port()
    # at most 1000 packets/s: still sending when testpmd is killed at 10 s
    p = fe(sock('p'), '--wait-restart', '-n', '20000', '--rate', '1000', '--seconds', '900',
           wait=False)
    try:
        time.sleep(10)
        assert p.poll() is None, 'the front end ended early'
        tp.kill()
        os.unlink(sock('p'))
        time.sleep(1)
        tp = loop_port()
        rc, r, out = fe_wait(p, 900)
        assert 'owner-gone' in out, out[-2000:]
        # the interrupted session starts over on the new port and completes
        check_fe((rc, r, out), 'front end across the restart')
        assert r['restarts'] == '1' and int(r['received']) >= 20000, r
    finally:
        if p.poll() is None:
            p.kill()
        tp.quit()


def test_registration():
    """refused combinations, the environment switch, port names, one front end per port"""
    for extra, msg in ((',iommu-support=1', 'cannot be combined'),
                       (',postcopy-support=1', 'cannot be combined'),
                       (',svhost-port=bad/name', 'invalid name or geometry'),
                       (',svhost-ring-size=100', 'cannot create broker port')):
        try:
            tp = TestPMD([secure_vdev(0, 'r', extra)])
        except AssertionError as e:
            assert msg in str(e), str(e)[-1500:]
            continue
        text = tp.text()
        tp.quit()
        assert msg in text, (extra, text[-1500:])
    # the environment switch, for applications that cannot pass a flag (OVS)
    tp = TestPMD(['net_vhost0,iface=%s' % sock('env-sock')],
                 env={'SVHOST_SECURE_SOCKETS': '/nowhere/*:%s/env-*' % WORK})
    try:
        assert 'mode: secure (environment SVHOST_SECURE_SOCKETS)' in tp.text()
        assert os.path.isdir('/sys/kernel/svhost/ports/env-sock')
        start_io(tp)
        # one front end at a time: a second connection is refused
        first = vu.Client(sock('env-sock'))
        first.negotiate()
        second = vu.Client(sock('env-sock'))
        assert second.closed(), 'a second front end was accepted'
        assert tp.secure()['env-sock']['refused_connections'] == 1
        first.close()
        second.close()
    finally:
        tp.quit()
    # two sockets whose names make the same port name
    os.makedirs(os.path.join(WORK, 'd2'), exist_ok=True)
    tp = TestPMD([secure_vdev(0, 'twin'), 'net_vhost1,iface=%s,secure=1' %
                  os.path.join(WORK, 'd2', 'twin')])
    try:
        assert 'a port of this name exists' in tp.text(), tp.text()[-2000:]
    finally:
        tp.quit()


# ---- on a host without the broker -------------------------------------------------------

def host_test(f):
    f.host = True
    return f


@host_test
def test_no_broker_no_fallback():
    """without /dev/svhost a secure socket fails to start: no fallback to shared memory"""
    tp = TestPMD([secure_vdev(0, 'nb')])
    try:
        text = tp.text()
        assert "cannot create broker port 'nb'" in text and '/dev/svhost missing' in text, \
            text[-2000:]
        assert 'no fallback to shared guest memory' in text
        assert not os.path.exists(sock('nb')), 'the socket listens although the port failed'
        assert tp.secure() == {}, tp.secure()
    finally:
        tp.quit()


@host_test
def test_memfd_transport():
    """the test-only memfd transport: both ends opt in, a front end that does not is refused"""
    tp = TestPMD([secure_vdev(0, 'ma', ',svhost-test-memfd=1'),
                  secure_vdev(1, 'mb', ',svhost-test-memfd=1')])
    try:
        assert 'TEST-ONLY memfd pool instead of the broker' in tp.text()
        start_io(tp)
        # the front end fails closed when the back end names another port
        rc, r, out = fe(sock('ma'), '--memfd', '-n', '1', '--seconds', '10', '--port', 'x')
        assert rc != 0 and "names port 'ma', not 'x'" in out, (rc, out[-1000:])
        # the port is free again once testpmd has seen that front end go
        tp.wait_log('vhost peer closed', 1)
        # a front end that does not accept the test transport is refused
        c = vu.Client(sock('ma'))
        feats = c.get_u64('GET_FEATURES')
        pf = c.get_u64('GET_PROTOCOL_FEATURES')
        c.set_u64('SET_PROTOCOL_FEATURES', pf & (1 << vu.PF_SVHOST))
        c.send('SVHOST_GET_PORT', vu.struct.pack(vu.PORT_FMT, 1, 0, b'', 0, 0, 0, 0, 0, 0))
        assert c.closed(), 'a front end without SVHOST_PORT_F_ACCEPT_MEMFD was answered'
        c.close()
        c = vu.Client(sock('ma'))
        p = c.negotiate(accept_memfd=True)
        assert p['flags'] == vu.PORT_F_MEMFD and len(p['fds']) == 2, p
        for fd in p['fds']:
            os.close(fd)
        c.close()
        time.sleep(1)
        n = min(PACKETS, 20000)
        ra, rb = run_pair(tp, [sock('ma'), sock('mb')], n, '--memfd')
        check_fe(ra, 'front end a', n)
        check_fe(rb, 'front end b', n)
        assert feats
    finally:
        tp.quit()


def test_ovs_dpdk():
    """Debian's ovs-vswitchd with the environment switch: two secure dpdkvhostuserclient ports"""
    why = ovsmod.unavailable()
    if why:
        raise Skip(why)
    free = int(re.search(r'HugePages_Free:\s+(\d+)', open('/proc/meminfo').read()).group(1))
    if free < 128:
        raise Skip('OVS-DPDK needs hugepages: %d free 2 MiB pages, 128 wanted '
                   '(tools/vmtest/run --hugepages 160)' % free)
    ovs = ovsmod.OVS(os.path.join(WORK, 'ovs'), LIB, os.path.join(WORK, 'ovs', 'vhu*'))
    fes = []
    try:
        # the front ends are the servers; OVS connects to them.  OVS drops
        # what a full ring cannot take (8 retries), so the front ends pace
        # themselves and count gaps as lost; integrity and order still hold
        n = 3000
        for name in ('vhu0', 'vhu1'):
            fes.append(fe(os.path.join(ovs.rundir, name + '.sock'), '--server', '-n', str(n),
                          '--sizes', '64,1518,512,60,128,1500,256,1024', '--seconds', '600',
                          '--lossy', '--rate', '200', '--linger', '12', wait=False))
        time.sleep(2)
        ovs.vsctl('add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev')
        for i, name in enumerate(('vhu0', 'vhu1')):
            ovs.vsctl('add-port', 'br0', name, '--', 'set', 'Interface', name,
                      'type=dpdkvhostuserclient', 'ofport_request=%d' % (i + 1),
                      'options:vhost-server-path=%s/%s.sock' % (ovs.rundir, name))
        ovs.ofctl('del-flows', 'br0')
        ovs.ofctl('add-flow', 'br0', 'in_port=1,actions=output:2')
        ovs.ofctl('add-flow', 'br0', 'in_port=2,actions=output:1')
        seen = 0
        end = time.time() + 900
        last = time.time()
        stats = {}
        while any(p.poll() is None for p in fes):
            maps = maps_of(ovs.pid)
            assert 'synth-guest-ram' not in maps, 'ovs-vswitchd maps guest memory'
            seen += 'svhost' in maps
            # the statistics of a connected port (refreshed every 5 s)
            for name in ('vhu0', 'vhu1'):
                out = ovs.vsctl('get', 'Interface', name, 'statistics')
                st = {k: int(v) for k, v in re.findall(r'"?(\w+)"?=(\d+)', out)}
                if st.get('rx_packets') is not None:
                    stats[name] = st
            if time.time() - last > 60:
                last = time.time()
                log('\n'.join(fe_tail(p, 2) for p in fes))
            assert time.time() < end, 'OVS test still running after 900 s'
            time.sleep(1)
        res = [fe_wait(p, 10) for p in fes]
        text = ovs.text()
        for name in ('vhu0', 'vhu1'):
            assert '%s.sock) mode: secure (environment SVHOST_SECURE_SOCKETS)' % name in text, \
                text[-3000:]
            assert "broker port '%s.sock' created" % name in text, text[-3000:]
        for name in ('vhu0', 'vhu1'):
            assert name in stats, 'no statistics for ' + name
            log('%s: %s' % (name, {k: v for k, v in stats[name].items()
                                    if v and ('packets' in k or 'drop' in k or 'svhost' in k)}))
        for i, (name, peer) in enumerate((('vhu0', 'vhu1'), ('vhu1', 'vhu0'))):
            r = check_fe(res[i], 'front end on ' + name)
            # every packet OVS delivered arrived intact (a flow's first
            # packets may overtake each other on OVS's upcall path)
            assert int(r['sent']) == n and int(r['received']) > 0, r
            assert int(r['out_of_order']) <= 32, r
            assert int(r['received']) == stats[name]['tx_packets'], (r, stats[name])
            assert int(r['received']) + int(r['lost']) == n, r
            assert stats[peer]['rx_packets'] == n, stats[peer]
        assert seen, 'the broker port was never mapped by ovs-vswitchd'
    except Exception:
        log('ovs-vswitchd.log:\n' + ovs.text()[-6000:])
        for p in fes:
            log(fe_tail(p, 20))
        raise
    finally:
        for p in fes:
            if p.poll() is None:
                p.kill()
        ovs.stop()


TESTS = [test_registration, test_features_and_port, test_forbidden_requests,
         test_fds_of_every_kind, test_malformed_requests, test_classic_front_ends_refused,
         test_hostile_copier, test_hostile_copier_asan, test_front_end_reconnect,
         test_vswitch_restart, test_classic_negative_control, test_offloads, test_multiqueue,
         test_ovs_dpdk, test_io_forward_1m, test_no_broker_no_fallback, test_memfd_transport]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('-k', help='run only tests whose name contains one of these (a,b,...)')
    ap.add_argument('--list', action='store_true')
    args = ap.parse_args()
    # through the broker in the test VM; the no-broker cases on a host without it
    broker = os.path.exists('/dev/svhost')
    tests = [t for t in TESTS if getattr(t, 'host', False) != broker and
             (not args.k or any(k in t.__name__ for k in args.k.split(',')))]
    if args.list:
        for t in tests:
            print('%s: %s' % (t.__name__, t.__doc__))
        return 0
    print('TAP version 13')
    print('1..%d' % len(tests), flush=True)
    failed = 0
    log('%s: %d tests' % ('through /dev/svhost' if broker else 'no broker on this host',
                          len(tests)))
    for f in (FE, TESTPMD, os.path.join(LIB, 'librte_vhost.so.23')):
        if not os.path.exists(f):
            for i, t in enumerate(tests, 1):
                print('not ok %d %s # %s missing (make dpdk, make -C tools/svhost-fe)' %
                      (i, t.__name__, f))
            return 1
    for i, t in enumerate(tests, 1):
        t0 = time.time()
        try:
            t()
            print('ok %d %s # %.1f s' % (i, t.__name__, time.time() - t0), flush=True)
        except Skip as e:
            print('ok %d %s # SKIP %s' % (i, t.__name__, e), flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, the run goes on
            failed += 1
            log(traceback.format_exc())
            print('not ok %d %s # %.1f s' % (i, t.__name__, time.time() - t0), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
