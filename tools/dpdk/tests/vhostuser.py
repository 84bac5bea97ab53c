# SPDX-License-Identifier: BSD-3-Clause
"""A raw vhost-user front end for tests: every message by hand, any payload
size, any fds (SCM_RIGHTS).  It speaks the secure protocol of
docs/PROTOCOL.md (and enough of the classic one to be refused)."""

import array
import os
import socket
import struct
import time

# requests (QEMU's docs/interop/vhost-user.rst; 1024 is docs/PROTOCOL.md's)
REQ = dict(
    GET_FEATURES=1, SET_FEATURES=2, SET_OWNER=3, RESET_OWNER=4,
    SET_MEM_TABLE=5, SET_LOG_BASE=6, SET_LOG_FD=7, SET_VRING_NUM=8,
    SET_VRING_ADDR=9, SET_VRING_BASE=10, GET_VRING_BASE=11,
    SET_VRING_KICK=12, SET_VRING_CALL=13, SET_VRING_ERR=14,
    GET_PROTOCOL_FEATURES=15, SET_PROTOCOL_FEATURES=16, GET_QUEUE_NUM=17,
    SET_VRING_ENABLE=18, SEND_RARP=19, NET_SET_MTU=20, SET_SLAVE_REQ_FD=21,
    IOTLB_MSG=22, SET_VRING_ENDIAN=23, GET_CONFIG=24, SET_CONFIG=25,
    CREATE_CRYPTO_SESSION=26, CLOSE_CRYPTO_SESSION=27, POSTCOPY_ADVISE=28,
    POSTCOPY_LISTEN=29, POSTCOPY_END=30, GET_INFLIGHT_FD=31,
    SET_INFLIGHT_FD=32, GPU_SET_SOCKET=33, RESET_DEVICE=34, VRING_KICK=35,
    GET_MAX_MEM_SLOTS=36, ADD_MEM_REG=37, REM_MEM_REG=38, SET_STATUS=39,
    GET_STATUS=40, SVHOST_GET_PORT=1024)

VERSION = 0x1
REPLY = 0x4
NEED_REPLY = 0x8
NOFD = 0x100

F_PROTOCOL_FEATURES = 30
F_VERSION_1 = 32
PF_MQ, PF_RARP, PF_REPLY_ACK, PF_NET_MTU, PF_STATUS = 0, 2, 3, 4, 16
PF_SVHOST = 48
SVHOST_VERSION = 1
PORT_F_ACCEPT_MEMFD = 0x1
PORT_F_MEMFD = 0x2
PORT_FMT = '<II32sIIIIQQ'          # struct vhost_user_svhost_port, 72 bytes
assert struct.calcsize(PORT_FMT) == 72


class Closed(Exception):
    """The back end closed the connection."""


class Client:
    def __init__(self, path, timeout=10.0):
        deadline = time.time() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)

    def close(self):
        self.sock.close()

    def send(self, req, payload=b'', fds=(), flags=VERSION, size=None):
        """Send one message; size overrides the header's size field."""
        if isinstance(req, str):
            req = REQ[req]
        hdr = struct.pack('<III', req, flags, len(payload) if size is None else size)
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))] if fds else []
        self.sock.sendmsg([hdr + payload], anc)

    def recv(self):
        """Read one reply: (request, flags, payload, fds)."""
        fds = array.array('i')
        hdr, anc, _, _ = self.sock.recvmsg(12, socket.CMSG_SPACE(8 * 4))
        if len(hdr) == 0:
            raise Closed()
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % 4])
        req, flags, size = struct.unpack('<III', hdr)
        payload = b''
        while len(payload) < size:
            chunk = self.sock.recv(size - len(payload))
            if not chunk:
                raise Closed()
            payload += chunk
        return req, flags, payload, list(fds)

    def closed(self, timeout=5.0):
        """True when the back end has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b''
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def get_u64(self, req):
        self.send(req)
        r, flags, payload, fds = self.recv()
        assert r == REQ[req] and flags & REPLY and len(payload) == 8, (r, flags, payload)
        return struct.unpack('<Q', payload)[0]

    def set_u64(self, req, value, fds=(), ack=False):
        self.send(req, struct.pack('<Q', value), fds, VERSION | (NEED_REPLY if ack else 0))
        if ack:
            r, flags, payload, _ = self.recv()
            assert r == REQ[req] and len(payload) == 8
            return struct.unpack('<Q', payload)[0]
        return None

    def vring_state(self, req, index, num=0):
        self.send(req, struct.pack('<II', index, num))

    def get_vring_base(self, index):
        self.vring_state('GET_VRING_BASE', index)
        r, flags, payload, _ = self.recv()
        assert r == REQ['GET_VRING_BASE'] and len(payload) == 8
        return struct.unpack('<II', payload)

    def get_port(self, flags=0):
        self.send('SVHOST_GET_PORT', struct.pack(PORT_FMT, SVHOST_VERSION, flags, b'', 0, 0, 0, 0, 0, 0))
        r, rflags, payload, fds = self.recv()
        assert r == REQ['SVHOST_GET_PORT'] and len(payload) == 72, (r, payload)
        v, f, name, qp, ring, bs, bc, r0, r1 = struct.unpack(PORT_FMT, payload)
        return dict(version=v, flags=f, name=name.rstrip(b'\0').decode(), queue_pairs=qp,
                    ring_size=ring, buf_size=bs, buf_count=bc, reserved=(r0, r1), fds=fds)

    def negotiate(self, accept_memfd=False, protocol=None):
        """Steps 1-6 of docs/PROTOCOL.md section 3; returns the GET_PORT reply."""
        feats = self.get_u64('GET_FEATURES')
        assert feats & (1 << F_PROTOCOL_FEATURES)
        pf = self.get_u64('GET_PROTOCOL_FEATURES')
        want = protocol if protocol is not None else \
            pf & ((1 << PF_SVHOST) | (1 << PF_MQ) | (1 << PF_REPLY_ACK) | (1 << PF_RARP))
        self.set_u64('SET_PROTOCOL_FEATURES', want)
        qn = self.get_u64('GET_QUEUE_NUM')
        port = self.get_port(PORT_F_ACCEPT_MEMFD if accept_memfd else 0)
        port['features'] = feats
        port['protocol_features'] = pf
        port['queue_num'] = qn
        self.send('SET_OWNER')
        self.set_u64('SET_FEATURES', feats & ((1 << F_VERSION_1) | (1 << F_PROTOCOL_FEATURES) |
                                               (1 << 22)))  # + MQ
        return port

    def start_vring(self, index):
        """Doorbells and enable for one vring; returns (kick, call) eventfds."""
        kick = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        call = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.set_u64('SET_VRING_KICK', index, [kick])
        self.set_u64('SET_VRING_CALL', index, [call])
        self.vring_state('SET_VRING_ENABLE', index, 1)
        return kick, call
