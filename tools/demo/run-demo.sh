#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-demo.sh: the secure-vhost demo, end to end.
#
# Runs as root inside the test VM with svhost.ko loaded, from the repo root:
#
#     make -C tools/demo                       # on the host, once
#     tools/vmtest/run --no-unload -- tools/demo/run-demo.sh
#
# (--no-unload: the demo unloads svhost.ko itself as its last step.)
#
# Starts tools/demo/svhost-demo (owner = vSwitch role, forked copier = QEMU
# role), and plays the administrator with tools/svhostctl at the demo's
# pause points: inspects the port, grants the copier's uid, inspects the
# attached copier, checks that rmmod is refused, revokes the copier.  At the
# end checks that every port and byte of pool is gone and unloads the module.
#
# Then the real-VM part: tools/e2e/run --profile secure --narrate (two
# nested guests in the patched QEMU through Debian's testpmd on the patched
# librte_vhost; make demo builds both and passes them in), then the same
# with Debian's ovs-vswitchd-dpdk on the patched librte_vhost
# (tools/e2e/run --profile ovs --narrate).  DEMO PASSED needs both.
#
# Environment: PACKETS (default 100000), COPIER_UID (default 4242),
# DEMO_QEMU (the patched qemu-system-x86_64), DEMO_DPDK_LIB (the directory
# of the patched librte_vhost.so.23), DEMO_LOGDIR (the real-VM part's logs).
# Exit status: 0 when every check passed, 1 otherwise.

set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1

PACKETS=${PACKETS:-100000}
COPIER_UID=${COPIER_UID:-4242}
PORT=demo0
DEMO=tools/demo/svhost-demo
CTL_BIN=tools/svhostctl
SYSFS=/sys/kernel/svhost
TIMEOUT=900		# seconds to wait for the demo at each step (TCG)

FAILS=0
DEMO_PID=
# Set by wait_pause from the demo's PAUSE lines.
P_copier_uid='' P_pid='' P_tid='' P_uid='' P_pkey=''
CTL=

section() { printf '\n======== %s ========\n' "$*"; }
ok() { printf '[admin] ok: %s\n' "$*"; }
bad() { printf '[admin] FAIL: %s\n' "$*"; FAILS=$((FAILS + 1)); }
run() { printf '# %s\n' "$*"; "$@"; }

die() {
	bad "$*"
	finish
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
	if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
		kill -KILL "$DEMO_PID" 2>/dev/null
		wait "$DEMO_PID" 2>/dev/null
	fi
	if [ -n "$CTL" ]; then rm -rf "$CTL"; fi
}
trap cleanup EXIT

finish() {
	section "Result"
	if [ "$FAILS" -eq 0 ]; then
		echo "DEMO PASSED"
		exit 0
	fi
	echo "DEMO FAILED: $FAILS check(s) failed"
	exit 1
}

svhostctl() { "$CTL_BIN" "$@"; }

# jcheck DESCRIPTION PYTHON-EXPR: evaluate EXPR with j = JSON from stdin;
# E is os.environ (pass expected values through the environment).
jcheck() {
	local desc=$1 expr=$2
	if python3 -c '
import json, os, sys
j = json.load(sys.stdin)
E = os.environ
sys.exit(0 if ('"$expr"') else 1)
'; then
		ok "$desc"
	else
		bad "$desc"
	fi
}

# Wait for "PAUSE <tag> k=v..." from the demo; export the k=v as P_k.
wait_pause() {
	local want=$1 word tag rest kv
	if ! read -r -t "$TIMEOUT" -u 3 word tag rest; then
		die "the demo did not reach the '$want' pause (exited or timed out)"
	fi
	if [ "$word" != PAUSE ] || [ "$tag" != "$want" ]; then
		die "expected 'PAUSE $want', the demo said '$word $tag $rest'"
	fi
	for kv in $rest; do
		case $kv in
		*=*) export "P_${kv%%=*}=${kv#*=}" ;;
		esac
	done
}

resume() { echo continue >&4; }

sysval() { cat "$SYSFS/$1" 2>/dev/null; }

# ---------------------------------------------------------------------------
section "secure-vhost demo: environment"
echo "kernel $(uname -r), $(nproc) CPUs; CPU flags:$(grep -o -w -e pku -e ospke /proc/cpuinfo | sort -u | tr '\n' ' ')"
[ "$(id -u)" -eq 0 ] || die "must run as root (inside the test VM)"
[ -d "$SYSFS" ] || die "$SYSFS missing: svhost.ko is not loaded"
[ -c /dev/svhost ] || die "/dev/svhost missing"
ls -l /dev/svhost
[ -x "$DEMO" ] || die "$DEMO not built: run 'make -C tools/demo' on the host"
[ -x "$CTL_BIN" ] || die "$CTL_BIN missing"
run svhostctl stats || bad "svhostctl stats"
[ "$(sysval ports_count)" = 0 ] || die "ports exist already: $(ls $SYSFS/ports)"

CTL=$(mktemp -d /tmp/svhost-demo.XXXXXX) || die "mktemp"
mkfifo "$CTL/status" "$CTL/cmd" || die "mkfifo"

section "Owner (vSwitch role) creates port $PORT; copier (QEMU role) forks and asks to attach"
"$DEMO" --ctl "$CTL" --packets "$PACKETS" --copier-uid "$COPIER_UID" &
DEMO_PID=$!
# Same order as the demo opens them.
exec 3<"$CTL/status" 4>"$CTL/cmd"

wait_pause grant
section "Administrator: the copier (uid $P_copier_uid) was refused; inspect, then grant"
run svhostctl list || bad "svhostctl list"
run svhostctl show "$PORT" || bad "svhostctl show"
export OWNER_PID=$DEMO_PID
jcheck \
	"port is ready, owned by svhost-demo[$DEMO_PID], no grant (uid 0 only), >= 1 denial" \
	'j["state"] == "ready" and j["owner_pid"] == int(E["OWNER_PID"]) and j["owner_comm"] == "svhost-demo" and j["grant"] is None and j["denials"] >= 1 and j["copier_pid"] == -1 and j["queue_pairs"] == 1 and j["ring_size"] == 256 and j["buf_size"] == 2048 and j["buf_count"] == 1024 and j["pool_bytes"] == 2 * 1024 * 1024' < <(svhostctl show "$PORT" --json)
run svhostctl grant "$PORT" --uid "$COPIER_UID" || bad "svhostctl grant"
export COPIER_UID
jcheck "the grant for $PORT now lists uids [0, $COPIER_UID]" \
	'j["grant"]["uids"] == [0, int(E["COPIER_UID"])]' < <(svhostctl show "$PORT" --json)
resume

wait_pause attached
section "Administrator: copier attached (pid $P_pid, PD thread $P_tid, pkey $P_pkey) and idle"
run svhostctl list || bad "svhostctl list"
run svhostctl show "$PORT" || bad "svhostctl show"
run svhostctl show "$PORT" --json || bad "svhostctl show --json"
export P_pid P_tid P_uid P_pkey
jcheck \
	"sysfs shows the copier: state attached, pid/tid/uid/pkey as the copier reported, comm svdemo-*" \
	'j["state"] == "attached" and j["copier_pid"] == int(E["P_pid"]) and j["copier_tid"] == int(E["P_tid"]) and j["copier_uid"] == int(E["P_uid"]) and j["copier_pkey"] == int(E["P_pkey"]) and j["copier_comm"].startswith("svdemo-") and j["attaches"] == 1' < <(svhostctl show "$PORT" --json)
jcheck "list --json: one port, totals agree" \
	'len(j["ports"]) == 1 and j["ports"][0]["name"] == "demo0" and j["totals"]["ports_count"] == 1 and j["totals"]["pool_bytes"] >= j["ports"][0]["pool_bytes"] and j["totals"]["attaches"] >= 1' < <(svhostctl list --json)
run svhostctl stats --json || bad "svhostctl stats --json"

section "Administrator: rmmod must be refused while the port is in use"
if run rmmod svhost; then
	bad "rmmod svhost succeeded while a port was open"
	die "module gone; cannot continue"
else
	ok "rmmod refused"
fi

section "Administrator: revoke the copier"
run svhostctl revoke "$PORT" || bad "svhostctl revoke"
resume

wait_pause revoked
section "Administrator: the copier saw REVOKED/ADMIN without a signal and stays out (the revoke emptied its grant)"
run svhostctl show "$PORT" || bad "svhostctl show"
jcheck "state revoked, 1 revocation, copier fields cleared, the grant emptied" \
	'j["state"] == "revoked" and j["revocations"] == 1 and j["copier_pid"] == -1 and j["grant"]["uids"] == []' < <(svhostctl show "$PORT" --json)
printf '# svhostctl revoke %s   (again: must fail)\n' "$PORT"
if out=$(svhostctl revoke "$PORT" 2>&1); then
	bad "second revoke succeeded"
else
	echo "$out"
	case $out in
	*"no copier attached (ENOENT)"*) ok "second revoke: no copier attached (ENOENT)" ;;
	*) bad "second revoke: unexpected message" ;;
	esac
fi
section "Administrator: grant the copier again"
run svhostctl grant "$PORT" --uid "$COPIER_UID" || bad "svhostctl grant"
resume

wait_pause reattached
section "Administrator: the copier's PD thread attached again by itself"
run svhostctl show "$PORT" || bad "svhostctl show"
jcheck "state attached again, 2 attaches, same copier process" \
	'j["state"] == "attached" and j["attaches"] == 2 and j["copier_pid"] == int(E["P_pid"])' < <(svhostctl show "$PORT" --json)
section "Administrator: withdraw the copier's grant (revokes it with reason ACL)"
run svhostctl ungrant "$PORT" --uid "$COPIER_UID" || bad "svhostctl ungrant"
resume

wait_pause ungranted
section "Administrator: the copier saw REVOKED/ACL and stays down; inspect the port"
jcheck "state revoked, 2 revocations, copier fields cleared, nobody granted" \
	'j["state"] == "revoked" and j["revocations"] == 2 and j["copier_pid"] == -1 and j["grant"]["uids"] == []' < <(svhostctl show "$PORT" --json)
run svhostctl show "$PORT" || bad "svhostctl show"
run svhostctl grants || bad "svhostctl grants"
resume

section "Both sides exit"
wait "$DEMO_PID"
rc=$?
DEMO_PID=
exec 3<&- 4>&-
if [ "$rc" -eq 0 ]; then ok "svhost-demo exited 0"; else bad "svhost-demo exited $rc"; fi

section "Teardown: nothing left behind"
run svhostctl ungrant "$PORT" --all || bad "svhostctl ungrant --all"
run svhostctl list || bad "svhostctl list"
run svhostctl stats || bad "svhostctl stats"
pc=$(sysval ports_count) pb=$(sysval pool_bytes)
if [ "$pc" = 0 ] && [ "$pb" = 0 ]; then
	ok "ports_count 0, pool_bytes 0"
else
	bad "ports_count '$pc', pool_bytes '$pb' (expected 0 and 0)"
fi
if [ -z "$(ls -A "$SYSFS/ports" 2>/dev/null)" ]; then
	ok "no port directories left"
else
	bad "port directories left: $(ls "$SYSFS/ports")"
fi
jcheck "counters: >= 2 attaches, >= 1 denial, 2 revocations" \
	'j["attaches"] >= 2 and j["denials"] >= 1 and j["revocations"] == 2' < <(svhostctl stats --json)

E2E=tools/lib/svhost/build/tests/broker_e2e
section "Data path: both libsvhost roles through the broker (broker_e2e, public API only)"
if [ -x "$E2E" ]; then
	if run "$E2E" -n "${DEMO_E2E_PACKETS:-200000}"; then
		ok "PD loop moved every packet both ways with payloads intact"
	else
		bad "broker_e2e failed"
	fi
	pc=$(sysval ports_count); pb=$(sysval pool_bytes)
	if [ "$pc" = 0 ] && [ "$pb" = 0 ]; then
		ok "ports_count 0, pool_bytes 0 after the data-path run"
	else
		bad "ports_count '$pc', pool_bytes '$pb' after the data-path run"
	fi
else
	bad "$E2E not built (make build builds it)"
fi

section "Real VMs: two guests in the patched QEMU (secure=on) through patched testpmd"
# tools/e2e/run --profile secure --narrate: Debian's testpmd on the patched
# librte_vhost (two secure net_vhost ports), grants, two guests with the
# stock virtio-net driver in the patched QEMU, 4 queue pairs with checksum
# and TSO offloads, ping, files with their checksums, svhostctl list and
# audit (testpmd, each QEMU), revoke and grant again, kill -9 of a QEMU and
# of testpmd mid-traffic (the broker back to zero), clean shutdown
# (docs/E2E.md).
if [ -n "${DEMO_QEMU:-}" ] && [ -n "${DEMO_DPDK_LIB:-}" ]; then
	if run tools/e2e/run --profile secure --narrate \
		--qemu "$DEMO_QEMU" --dpdk-lib "$DEMO_DPDK_LIB" \
		--logdir "${DEMO_LOGDIR:-/tmp/svhost-demo-e2e}"; then
		ok "real VMs: every step passed"
	else
		bad "real VMs: a step failed (see the E2E FAILED line above)"
	fi
	pc=$(sysval ports_count); pb=$(sysval pool_bytes)
	if [ "$pc" = 0 ] && [ "$pb" = 0 ]; then
		ok "ports_count 0, pool_bytes 0 after the guests and testpmd are gone"
	else
		bad "ports_count '$pc', pool_bytes '$pb' after the real-VM run"
	fi
	run svhostctl ungrant e2e0 --all || bad "svhostctl ungrant e2e0 --all"
	run svhostctl ungrant e2e1 --all || bad "svhostctl ungrant e2e1 --all"
else
	bad "real VMs: DEMO_QEMU and DEMO_DPDK_LIB not set (make demo sets them)"
fi

section "Then the same with Debian's ovs-vswitchd on the patched librte_vhost"
# tools/e2e/run --profile ovs --narrate: Debian's ovs-vswitchd-dpdk with
# LD_LIBRARY_PATH on the patched librte_vhost and SVHOST_SECURE_SOCKETS,
# bridge br0 with two dpdkvhostuserclient ports (each QEMU is the socket
# server), the grants first, then the same steps as above; the vSwitch
# restart is a kill -9 of ovs-vswitchd and a new one on the same database.
if [ -n "${DEMO_QEMU:-}" ] && [ -n "${DEMO_DPDK_LIB:-}" ]; then
	if run tools/e2e/run --profile ovs --narrate \
		--qemu "$DEMO_QEMU" --dpdk-lib "$DEMO_DPDK_LIB" \
		--logdir "${DEMO_LOGDIR:-/tmp/svhost-demo-e2e}/ovs"; then
		ok "real VMs on OVS-DPDK: every step passed"
	else
		bad "real VMs on OVS-DPDK: a step failed (see the E2E FAILED line above)"
	fi
	pc=$(sysval ports_count); pb=$(sysval pool_bytes)
	if [ "$pc" = 0 ] && [ "$pb" = 0 ]; then
		ok "ports_count 0, pool_bytes 0 after the guests and ovs-vswitchd are gone"
	else
		bad "ports_count '$pc', pool_bytes '$pb' after the OVS run"
	fi
	run svhostctl ungrant vhu0 --all || bad "svhostctl ungrant vhu0 --all"
	run svhostctl ungrant vhu1 --all || bad "svhostctl ungrant vhu1 --all"
else
	bad "real VMs on OVS-DPDK: DEMO_QEMU and DEMO_DPDK_LIB not set (make demo sets them)"
fi

section "Unload the module"
if run rmmod svhost; then
	ok "rmmod svhost"
else
	bad "rmmod svhost refused after everything was closed"
fi
if [ -e "$SYSFS" ] || [ -e /dev/svhost ]; then
	bad "$SYSFS or /dev/svhost still present after rmmod"
else
	ok "$SYSFS and /dev/svhost are gone"
fi
run svhostctl list
if [ $? -eq 1 ]; then
	ok "svhostctl reports the module as not loaded (exit 1)"
else
	bad "svhostctl list without the module should exit 1"
fi

finish
