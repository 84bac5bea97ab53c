// SPDX-License-Identifier: BSD-3-Clause
/*
 * svhost-bench: data-path benchmark of libsvhost's PD copy loop.
 *
 *   svhost-bench pd      --dir to-guest|to-vswitch --size N [--reps R] [--seconds S]
 *   svhost-bench memcpy  --size N [--seconds S]
 *   svhost-bench density --mode poll|fifo-yield|adaptive --k K --size N [--seconds S]
 *
 * pd: one PD thread pinned to --pd-cpu copies between a synthetic guest and
 * a synthetic vSwitch that run in a peer thread on --peer-cpu; reports Mpps,
 * Gbit/s and PD busy cycles per packet (TSC), medians of --reps runs.
 * memcpy: copies of N bytes through a 64 MiB working set on --pd-cpu (the
 * bound for the PD's copy).  density: K separate PD processes all pinned to
 * --pd-cpu in one scheduling mode; aggregate Mpps and Jain's fairness index.
 * Pools come from the memfd "local" port (hugetlb when reserved): this tool
 * is a benchmark, never a product path.  Output lines start with "result ".
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "synth.h"

struct opts {
	const char *cmd;
	int to_guest;
	uint32_t size;
	int reps;
	double seconds;
	int pd_cpu, peer_cpu;
	enum svh_sched mode;
	int k;
	unsigned burst;
	uint32_t ring;
	uint16_t vq;		/* guest queue size */
	int inline_peer;	/* run peer and PD alternately in one thread */
	int peer_sleep;		/* idle peers sleep (density: many peers share a core) */
	double yield_us;	/* fifo-yield: yield at most every yield_us (0: every batch) */
	int vswitch;		/* VSW_LIB (svh_vsw), VSW_SYNTH (ring layer, LIFO, whole
				 * ring posted), VSW_FIFO (the same, cycling the pool) */
	int huge;		/* pool in 2 MiB pages (hugetlb) instead of 4 KiB */
	uint32_t pool_mib;	/* pool size */
};

enum { VSW_LIB, VSW_SYNTH, VSW_FIFO };
static const char *const vsw_names[] = { "lib", "synth", "fifo" };

static double o_tsc_hz = 2e9;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t s;

	if (cpu < 0)
		return;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static double tsc_hz(void)
{
	double t0 = now();
	uint64_t c0 = svh_rdtsc();

	usleep(200000);
	return (double)(svh_rdtsc() - c0) / (now() - t0);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- one rig driven by a peer thread ---------------------------------------------- */

struct run {
	volatile pid_t pd_tid;
	struct rig rig;
	struct svh_pd pd;
	const struct opts *o;
	pthread_t pd_thr, peer_thr;
	/* read by the peer on every pass: keep it off the line of pd.loops,
	 * which the PD thread writes on every pass */
	volatile int stop_peer __attribute__((aligned(64)));
};

/* struct run has 64-byte aligned members: allocate it cache-line aligned */
static struct run *run_alloc(void)
{
	size_t sz = (sizeof(struct run) + 63) / 64 * 64;
	struct run *r = aligned_alloc(64, sz);

	if (r)
		memset(r, 0, sz);
	return r;
}

/* The vSwitch role through libsvhost's API, as the DPDK glue drives it. */
static unsigned peer_step_lib(struct run *r)
{
	static __thread uint8_t src[SVH_MAX_PKT_LEN], dst[SVH_MAX_PKT_LEN];
	struct rig *g = &r->rig;
	uint32_t len = r->o->size;
	unsigned work = 0;

	if (r->o->to_guest) {
		struct iovec io = { src, len };
		struct svh_vsw_pkt pk[64];

		for (int i = 0; i < 64; i++)
			pk[i] = (struct svh_vsw_pkt){ .iov = &io, .iovcnt = 1, .len = len };
		work += svh_vsw_send(g->vsw, 0, pk, 64);	/* copy in: mbuf -> pool */
		work += sg_rx_poll(&g->g);
		sg_rx_refill(&g->g);
	} else {
		struct svh_vsw_rx rx[64];
		unsigned n;

		work += sg_tx_post_burst(&g->g, len, 64);
		n = svh_vsw_recv(g->vsw, 0, rx, 64);
		for (unsigned i = 0; i < n; i++) {
			struct iovec io = { dst, rx[i].len };

			svh_vsw_recv_copy(g->vsw, 0, &rx[i], 0, &io, 1);	/* pool -> mbuf */
		}
		svh_vsw_recv_release(g->vsw, 0, n);
		work += n + sg_tx_reap(&g->g);
	}
	return work;
}

static unsigned peer_step(struct run *r)
{
	struct rig *g = &r->rig;
	uint32_t len = r->o->size;
	unsigned work = 0;

	if (r->o->vswitch == VSW_LIB)
		return peer_step_lib(r);
	if (r->o->to_guest) {
		work += sv_send_burst(&g->sv, len, 64);
		work += sv_reap_sent(&g->sv);
		work += sg_rx_poll(&g->g);
		sg_rx_refill(&g->g);
	} else {
		work += sg_tx_post_burst(&g->g, len, 64);
		work += sv_drain(&g->sv);
		sv_post_empty(&g->sv, ~0u);
		work += sg_tx_reap(&g->g);
	}
	return work;
}

/* --inline: one thread, peer step then one PD pass; PD cycles still counted alone */
static void *inline_main(void *arg)
{
	struct run *r = arg;

	r->pd_tid = gettid();
	svh_pd_setup_thread(&r->pd);
	while (!__atomic_load_n(&r->pd.stop, __ATOMIC_ACQUIRE)) {
		peer_step(r);
		svh_pd_poll(&r->pd);
	}
	return NULL;
}

static void *peer_main(void *arg)
{
	struct run *r = arg;

	pin(r->o->peer_cpu);
	while (!r->stop_peer) {
		if (!peer_step(r)) {
			if (r->o->peer_sleep)
				usleep(50);	/* many peers share one core: let others run */
			else
				svh_cpu_relax();
		}
	}
	return NULL;
}

static void *pd_main(void *arg)
{
	struct run *r = arg;

	r->pd_tid = gettid();
	return svh_pd_thread(&r->pd);
}

/* Times the PD thread was preempted (nonvoluntary context switches). */
static long pd_preemptions(const struct run *r)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)r->pd_tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int run_start(struct run *r, const struct opts *o)
{
	struct rig_cfg c;
	struct svh_pd_cfg pc;
	struct svh_qp *qps[1];
	int rc;

	memset(r, 0, sizeof(*r));
	r->o = o;
	rig_cfg_default(&c);
	c.verify = false;
	c.g.verify = false;
	c.g.split_regions = false;
	c.g.tx_layout = SG_TX_SIMPLE;
	c.g.num = o->vq;
	c.g.tx_buf_cap = o->size + 64 > 2048 ? o->size + 64 : 2048;
	c.g.rx_buf_len = 2048;
	c.pp.ring_size = o->ring;
	c.pp.buf_count = (uint32_t)((uint64_t)o->pool_mib << 20) / c.pp.buf_size;
	c.pp.hugetlb = o->huge;
	c.vsw_lib = o->vswitch == VSW_LIB;
	rc = rig_init(&r->rig, &c);
	r->rig.sv.fifo = o->vswitch == VSW_FIFO;
	if (rc) {
		fprintf(stderr, "svhost-bench: rig: %s\n", strerror(-rc));
		return rc;
	}
	qps[0] = r->rig.qp;
	svh_pd_cfg_default(&pc);
	pc.cpu = o->pd_cpu;
	pc.mode = o->mode;
	pc.burst = o->burst;
	pc.yield_cycles = (uint64_t)(o->yield_us * o_tsc_hz / 1e6);
	rc = svh_pd_init(&r->pd, &pc, qps, 1);
	if (rc)
		return rc;
	if (o->vswitch != VSW_LIB)
		sv_post_empty(&r->rig.sv, ~0u);
	sg_rx_refill(&r->rig.g);
	if (o->inline_peer) {
		pthread_create(&r->pd_thr, NULL, inline_main, r);
		while (!r->pd_tid)
			usleep(100);
		return 0;
	}
	pthread_create(&r->peer_thr, NULL, peer_main, r);
	pthread_create(&r->pd_thr, NULL, pd_main, r);
	while (!r->pd_tid)
		usleep(100);
	return 0;
}

static void run_stop(struct run *r)
{
	svh_pd_stop(&r->pd);
	pthread_join(r->pd_thr, NULL);
	r->stop_peer = 1;
	if (!r->o->inline_peer)
		pthread_join(r->peer_thr, NULL);
	rig_fini(&r->rig);
}

struct snap {
	uint64_t pkts, bytes, busy, batches, loops;
	long preempt;
	double t;
};

static void take(const struct run *r, struct snap *s)
{
	const struct svh_dir_stats *st = &r->rig.qp->st[r->o->to_guest ? SVH_DIR_TO_GUEST
								      : SVH_DIR_TO_VSWITCH];

	s->pkts = __atomic_load_n(&st->packets, __ATOMIC_RELAXED);
	s->bytes = __atomic_load_n(&st->bytes, __ATOMIC_RELAXED);
	s->busy = __atomic_load_n(&st->busy_cycles, __ATOMIC_RELAXED);
	s->batches = __atomic_load_n(&st->batches, __ATOMIC_RELAXED);
	s->loops = __atomic_load_n(&r->pd.loops, __ATOMIC_RELAXED);
	s->preempt = r->pd_tid ? pd_preemptions(r) : -1;
	s->t = now();
}

static int cmd_pd(const struct opts *o)
{
	double mpps[64], gbps[64], cpp[64], hz = tsc_hz(), cmin = 1e30;
	long pre_total = 0;
	int n = o->reps > 64 ? 64 : o->reps;

	for (int i = 0; i < n; i++) {
		struct run *r = run_alloc();
		struct snap a, b;

		if (run_start(r, o))
			return 1;
		usleep(300000);	/* warm-up */
		take(r, &a);
		usleep((useconds_t)(o->seconds * 1e6));
		take(r, &b);
		run_stop(r);
		mpps[i] = (double)(b.pkts - a.pkts) / (b.t - a.t) / 1e6;
		gbps[i] = (double)(b.bytes - a.bytes) * 8 / (b.t - a.t) / 1e9;
		cpp[i] = b.pkts > a.pkts ? (double)(b.busy - a.busy) / (double)(b.pkts - a.pkts) : 0;
		if (cpp[i] > 0 && cpp[i] < cmin)
			cmin = cpp[i];
		pre_total += b.preempt - a.preempt;
		fprintf(stderr, "  run %d: %.3f Mpps %.2f Gbit/s %.1f cycles/pkt, %ld preemptions, "
			"%.1f pkts/batch, %.1f%% of PD passes busy\n", i, mpps[i], gbps[i], cpp[i],
			b.preempt - a.preempt,
			b.batches > a.batches ? (double)(b.pkts - a.pkts) / (double)(b.batches - a.batches) : 0,
			b.loops > a.loops ? 100.0 * (double)(b.batches - a.batches) / (double)(b.loops - a.loops) : 0);
		free(r);
	}
	printf("result pd dir=%s size=%u mpps=%.3f gbps=%.3f cycles_per_pkt=%.1f min_cycles_per_pkt=%.1f "
	       "tsc_mhz=%.0f reps=%d pd_preemptions=%ld vswitch=%s pages=%s pool_mib=%u\n",
	       o->to_guest ? "to-guest" : "to-vswitch", o->size, median(mpps, n), median(gbps, n),
	       median(cpp, n), cmin < 1e30 ? cmin : 0, hz / 1e6, n, pre_total,
	       vsw_names[o->vswitch], o->huge ? "2m" : "4k", o->pool_mib);
	return 0;
}

/* ---- memcpy bound ------------------------------------------------------------------------ */

static int cmd_memcpy(const struct opts *o)
{
	const size_t ws = 64u << 20;
	uint8_t *src = malloc(ws), *dst = malloc(ws);
	double best[5], cyc[5];
	size_t stride = (o->size + 63) / 64 * 64;

	pin(o->pd_cpu);
	memset(src, 1, ws);
	memset(dst, 2, ws);
	for (int rep = 0; rep < 5; rep++) {
		uint64_t copies = 0, c0 = svh_rdtsc();
		double t0 = now(), t;
		size_t off = 0;

		do {
			for (int i = 0; i < 1024; i++) {
				memcpy(dst + off, src + (ws - stride - off), o->size);
				off += stride;
				if (off + stride > ws)
					off = 0;
			}
			copies += 1024;
			t = now();
		} while (t - t0 < o->seconds / 5);
		best[rep] = (double)copies / (t - t0) / 1e6;
		cyc[rep] = (double)(svh_rdtsc() - c0) / (double)copies;
	}
	/* the bound is what the core can do: best of the runs (noise only slows it) */
	{
		double b = 0, c = 1e30;

		for (int i = 0; i < 5; i++) {
			if (best[i] > b)
				b = best[i];
			if (cyc[i] < c)
				c = cyc[i];
		}
		printf("result memcpy size=%u mcopies_per_s=%.3f gbps=%.3f cycles_per_copy=%.1f "
		       "median_mcopies_per_s=%.3f\n", o->size, b, b * o->size * 8 / 1e3, c,
		       median(best, 5));
	}
	free(src);
	free(dst);
	return 0;
}

/* ---- density -------------------------------------------------------------------------------- */

struct shared {
	volatile int phase;	/* 0 warm-up, 1 measure start, 2 measure end, 3 exit */
	volatile int ready;
	struct {
		volatile uint64_t a, b;
		volatile int failed;
	} child[64];
};

static void child_main(struct shared *sh, int idx, const struct opts *o)
{
	struct run *r = run_alloc();
	struct snap a, b;

	if (run_start(r, o)) {
		sh->child[idx].failed = 1;
		__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
		_exit(1);
	}
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (sh->phase < 1)
		usleep(1000);
	take(r, &a);
	sh->child[idx].a = a.pkts;
	while (sh->phase < 2)
		usleep(1000);
	take(r, &b);
	sh->child[idx].b = b.pkts;
	while (sh->phase < 3)
		usleep(1000);
	run_stop(r);
	_exit(0);
}

static int cmd_density(const struct opts *oo)
{
	struct opts ocopy = *oo, *o = &ocopy;
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[64];
	double t0, t1, sum = 0, sum2 = 0;
	int k = o->k > 64 ? 64 : o->k, failed = 0;

	o->peer_sleep = 1;
	memset(sh, 0, sizeof(*sh));
	for (int i = 0; i < k; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			child_main(sh, i, o);
	}
	while (sh->ready < k)
		usleep(1000);
	usleep(500000);
	sh->phase = 1;
	t0 = now();
	usleep((useconds_t)(o->seconds * 1e6));
	sh->phase = 2;
	t1 = now();
	usleep(20000);
	sh->phase = 3;
	for (int i = 0; i < k; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		if (sh->child[i].failed || !WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	}
	for (int i = 0; i < k; i++) {
		double x = (double)(sh->child[i].b - sh->child[i].a) / (t1 - t0) / 1e6;

		sum += x;
		sum2 += x * x;
		fprintf(stderr, "  pd[%d]: %.3f Mpps\n", i, x);
	}
	printf("result density mode=%s%s k=%d size=%u burst=%u yield_us=%.0f aggregate_mpps=%.3f "
	       "jain=%.4f failed=%d\n",
	       svh_sched_name(o->mode), o->yield_us > 0 ? "(quantum)" : "", k, o->size, o->burst,
	       o->yield_us, sum, sum2 > 0 ? sum * sum / (k * sum2) : 0, failed);
	munmap(sh, sizeof(*sh));
	return failed ? 1 : 0;
}

/*
 * fifo-yield[-<N>us][-b<B>]: SCHED_FIFO + sched_yield after every batch (the
 * original), or at most every N us (svh_pd_cfg.yield_cycles), with bursts of
 * B packets (svh_pd_cfg.burst).  rest is what follows "fifo-yield".
 */
static int parse_fifo_mode(const char *rest, struct opts *o)
{
	while (*rest) {
		double us;
		unsigned b;
		int len = 0;

		if (sscanf(rest, "-%lfus%n", &us, &len) == 1 && len > 0 && us > 0) {
			o->yield_us = us;
		} else if (sscanf(rest, "-b%u%n", &b, &len) == 1 && len > 0 && b > 0 &&
			   b <= SVH_PD_MAX_BURST) {
			o->burst = b;
		} else {
			return 0;
		}
		rest += len;
	}
	return 1;
}

/*
 * yieldcost: K processes pinned to --pd-cpu, SCHED_FIFO, doing nothing but
 * sched_yield() for --seconds: TSC cycles per yield (K=1: the system call
 * alone; K>1: system call plus a switch to another process).
 */
static int cmd_yieldcost(const struct opts *o)
{
	volatile uint64_t *cnt = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double hz = tsc_hz(), t0, t1;
	int k = o->k > 64 ? 64 : o->k;

	if (cnt == MAP_FAILED)
		return 1;
	cnt[0] = 0;
	cnt[1] = 0;
	for (int i = 0; i < k; i++) {
		if (fork() == 0) {
			struct sched_param sp = { .sched_priority = 1 };

			pin(o->pd_cpu);
			if (sched_setscheduler(0, SCHED_FIFO, &sp))
				__atomic_store_n(&cnt[1], 1, __ATOMIC_RELAXED);
			while (__atomic_load_n(&cnt[2], __ATOMIC_ACQUIRE) == 0)
				sched_yield();
			while (__atomic_load_n(&cnt[2], __ATOMIC_ACQUIRE) == 1) {
				sched_yield();
				__atomic_fetch_add(&cnt[0], 1, __ATOMIC_RELAXED);
			}
			_exit(0);
		}
	}
	usleep(200000);
	__atomic_store_n(&cnt[2], 1, __ATOMIC_RELEASE);
	t0 = now();
	{
		uint64_t c0 = __atomic_load_n(&cnt[0], __ATOMIC_RELAXED), c1;

		usleep((useconds_t)(o->seconds * 1e6));
		c1 = __atomic_load_n(&cnt[0], __ATOMIC_RELAXED);
		t1 = now();
		__atomic_store_n(&cnt[2], 2, __ATOMIC_RELEASE);
		while (wait(NULL) > 0)
			;
		printf("result yieldcost k=%d yields_per_s=%.0f cycles_per_yield=%.0f fifo=%s\n", k,
		       (double)(c1 - c0) / (t1 - t0),
		       c1 > c0 ? (t1 - t0) * hz / (double)(c1 - c0) : 0,
		       cnt[1] ? "refused" : "yes");
	}
	munmap((void *)cnt, 4096);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: svhost-bench pd|memcpy|density|yieldcost [--dir to-guest|to-vswitch] [--size N]\n"
		"       [--reps R] [--seconds S] [--pd-cpu C] [--peer-cpu C]\n"
		"       [--mode poll|fifo-yield[-<N>us][-b<B>]|adaptive] [--k K] [--burst B] [--ring N] [--vq N] [--inline]\n"
		"       [--vswitch lib|synth|fifo] [--pages 4k|2m] [--pool-mib N]\n"
		"  --vswitch: lib = libsvhost's vSwitch role (default; LIFO buffers, bounded posting),\n"
		"    synth = the ring-layer test vSwitch posting the whole ring, fifo = the same cycling\n"
		"    its buffers through the whole pool (worst case for TLB and caches)\n"
		"  --pages: pool in 4 KiB pages (default: what the broker maps) or 2 MiB hugetlb pages\n"
		"  fifo-yield-<N>us: yield at most every N us; -b<B>: bursts of B packets\n"
		"  yieldcost: K SCHED_FIFO processes on --pd-cpu that only yield: cycles per yield\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, 0, 'd' }, { "size", 1, 0, 's' }, { "reps", 1, 0, 'r' },
		{ "seconds", 1, 0, 't' }, { "pd-cpu", 1, 0, 'p' }, { "peer-cpu", 1, 0, 'q' },
		{ "mode", 1, 0, 'm' }, { "k", 1, 0, 'k' }, { "burst", 1, 0, 'b' },
		{ "ring", 1, 0, 'R' }, { "inline", 0, 0, 'i' }, { "vq", 1, 0, 'V' },
		{ "vswitch", 1, 0, 'W' }, { "pages", 1, 0, 'P' }, { "pool-mib", 1, 0, 'M' },
		{ 0, 0, 0, 0 }
	};
	struct opts o = { .size = 64, .reps = 5, .seconds = 1.0, .pd_cpu = 0, .peer_cpu = 1,
			  .mode = SVH_SCHED_POLL, .k = 1, .burst = 32, .ring = 1024, .vq = 1024,
			  .vswitch = VSW_LIB, .huge = 0, .pool_mib = 8 };
	int c;

	if (argc < 2)
		usage();
	o.cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.to_guest = !strcmp(optarg, "to-guest"); break;
		case 's': o.size = (uint32_t)atoi(optarg); break;
		case 'r': o.reps = atoi(optarg); break;
		case 't': o.seconds = atof(optarg); break;
		case 'p': o.pd_cpu = atoi(optarg); break;
		case 'q': o.peer_cpu = atoi(optarg); break;
		case 'm':
			if (!strncmp(optarg, "fifo-yield", 10) && parse_fifo_mode(optarg + 10, &o))
				o.mode = SVH_SCHED_FIFO_YIELD;
			else if (!strcmp(optarg, "adaptive"))
				o.mode = SVH_SCHED_ADAPTIVE;
			else if (!strcmp(optarg, "poll"))
				o.mode = SVH_SCHED_POLL;
			else
				usage();
			break;
		case 'k': o.k = atoi(optarg); break;
		case 'b': o.burst = (unsigned)atoi(optarg); break;
		case 'R': o.ring = (uint32_t)atoi(optarg); break;
		case 'i': o.inline_peer = 1; break;
		case 'V': o.vq = (uint16_t)atoi(optarg); break;
		case 'W':
			o.vswitch = !strcmp(optarg, "lib") ? VSW_LIB : !strcmp(optarg, "synth") ?
				    VSW_SYNTH : !strcmp(optarg, "fifo") ? VSW_FIFO : -1;
			if (o.vswitch < 0)
				usage();
			break;
		case 'P':
			if (strcmp(optarg, "4k") && strcmp(optarg, "2m"))
				usage();
			o.huge = !strcmp(optarg, "2m");
			break;
		case 'M': o.pool_mib = (uint32_t)atoi(optarg); break;
		default: usage();
		}
	}
	if (o.size > 8192 && o.pool_mib < 32)
		o.pool_mib = 32;	/* room for a ring of chained large packets */
	if (o.size == 0 || o.size > SVH_MAX_PKT_LEN || o.reps < 1 || o.k < 1 || o.vq < 64 ||
	    o.pool_mib == 0 || o.pool_mib > 1024 ||
	    (o.vq & (o.vq - 1)))
		usage();
	if (o.yield_us > 0)
		o_tsc_hz = tsc_hz();
	if (!strcmp(o.cmd, "pd"))
		return cmd_pd(&o);
	if (!strcmp(o.cmd, "memcpy"))
		return cmd_memcpy(&o);
	if (!strcmp(o.cmd, "density"))
		return cmd_density(&o);
	if (!strcmp(o.cmd, "yieldcost"))
		return cmd_yieldcost(&o);
	usage();
	return 2;
}
