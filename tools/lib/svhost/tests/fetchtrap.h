/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fetchtrap.h: make every load from one page of shared memory visible, and
 * let the "peer" rewrite that memory between two loads, deterministically.
 *
 * The page is PROT_NONE.  A load faults (SIGSEGV); the handler records the
 * address, opens the page and sets the trap flag, so the load is retried
 * and completes; the single-step trap that follows (SIGTRAP) calls the
 * test's mutate() callback (the hostile peer's write, as if it raced with
 * the load) and closes the page again.  So the library sees a slot that
 * changes after every single load it makes, and the test knows how many
 * loads hit each address: code that reads a field twice is caught every
 * time, not only when a race happens to line up.  Stores fault too; they
 * are counted apart and do not mutate.
 *
 * x86-64 Linux only (trap flag in the saved EFLAGS); ft_supported() says.
 */
#ifndef SVHOST_FETCHTRAP_H
#define SVHOST_FETCHTRAP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define FT_PAGE	4096u
#define FT_MAX	512

struct fetchtrap {
	uint8_t *page;
	void (*mutate)(struct fetchtrap *ft);
	void *arg;
	bool armed;
	unsigned nloads, nstores;
	uint32_t load_off[FT_MAX];	/* page offsets of the loads, in order */
	bool pending_write;
};

static struct fetchtrap *ft_cur;

static inline bool ft_supported(void)
{
#if defined(__x86_64__) && defined(REG_EFL) && defined(REG_ERR)
	return true;
#else
	return false;
#endif
}

#if defined(__x86_64__) && defined(REG_EFL) && defined(REG_ERR)
static void ft_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	struct fetchtrap *ft = ft_cur;
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)sig;
	if (!ft || a - (uintptr_t)ft->page >= FT_PAGE) {
		signal(SIGSEGV, SIG_DFL);	/* a real crash: let it happen */
		return;
	}
	ft->pending_write = uc->uc_mcontext.gregs[REG_ERR] & 2;
	if (ft->pending_write)
		ft->nstores++;
	else if (ft->nloads < FT_MAX)
		ft->load_off[ft->nloads++] = (uint32_t)(a - (uintptr_t)ft->page);
	mprotect(ft->page, FT_PAGE, PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= 0x100;	/* trap after this instruction */
}

static void ft_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	struct fetchtrap *ft = ft_cur;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_EFL] &= ~0x100L;
	if (!ft)
		return;
	if (!ft->pending_write && ft->mutate)
		ft->mutate(ft);	/* the peer writes right after our load */
	if (ft->armed)
		mprotect(ft->page, FT_PAGE, PROT_NONE);
}
#endif

/* Start trapping page (page-aligned, FT_PAGE bytes, mapped RW). */
static inline void ft_arm(struct fetchtrap *ft)
{
#if defined(__x86_64__) && defined(REG_EFL) && defined(REG_ERR)
	struct sigaction sa = { .sa_flags = SA_SIGINFO | SA_NODEFER };

	sa.sa_sigaction = ft_segv;
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = ft_trap;
	sigaction(SIGTRAP, &sa, NULL);
	ft->nloads = ft->nstores = 0;
	ft->armed = true;
	ft_cur = ft;
	mprotect(ft->page, FT_PAGE, PROT_NONE);
#else
	(void)ft;
#endif
}

static inline void ft_disarm(struct fetchtrap *ft)
{
	ft->armed = false;
	mprotect(ft->page, FT_PAGE, PROT_READ | PROT_WRITE);
	ft_cur = NULL;
	signal(SIGSEGV, SIG_DFL);
	signal(SIGTRAP, SIG_DFL);
}

/* Loads whose first byte lies in [off, off + len) of the page. */
static inline unsigned ft_loads_in(const struct fetchtrap *ft, uint32_t off, uint32_t len)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ft->nloads; i++)
		n += ft->load_off[i] - off < len;
	return n;
}

/* Largest number of loads that hit one and the same address. */
static inline unsigned ft_max_same(const struct fetchtrap *ft)
{
	unsigned best = 0;

	for (unsigned i = 0; i < ft->nloads; i++) {
		unsigned n = 0;

		for (unsigned j = 0; j < ft->nloads; j++)
			n += ft->load_off[j] == ft->load_off[i];
		if (n > best)
			best = n;
	}
	return best;
}

#endif /* SVHOST_FETCHTRAP_H */
