/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * stats_shm.c -- the shared counters behind the metrics endpoint: mapping,
 * the per-role narrowing, the hooks every role calls, the snapshot of
 * the stats process (see stats_shm.h for the layout and its trust rules).
 * Mapped by the master as root; the hooks run in whatever process calls
 * them, with its privileges, and touch only that process's own section.
 *
 * Caution: a hook must never fail a session or a login, nor block, nor
 * allocate: each is a few relaxed atomic adds on memory mapped before
 * the fork, and does nothing when metrics are off (nothing mapped) or
 * when the calling role does not own the counter.
 */
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "log.h"
#include "scoreboard.h"
#include "stats_shm.h"
#include "compat/poison.h"

/* This process's view: NULL where the role has no mapping. */
static struct stats_master *sm;
static struct stats_auth *sa;
static struct stats_worker *sw;
static int srole = STATS_ROLE_NONE;
static uint64_t *slimits;		/* the section this role counts in */
static int aslot = -1;			/* auth: this process's procs[] */
/* Auth: the module names, copied from the master's section at fork. */
static char amod[STATS_MODULES_MAX][STATS_MODULE_NAME];
static uint32_t namod;

static void *stats_mmap(size_t);
static void stats_unmap(void **, size_t);

#define ADD(p, n)	__atomic_fetch_add((p), (n), __ATOMIC_RELAXED)

static void *
stats_mmap(size_t size)
{
	void *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_warn("%s: mmap %zu bytes", __func__, size);
		return NULL;
	}
	memset(p, 0, size);
	return p;
}

static void
stats_unmap(void **p, size_t size)
{
	if (*p != NULL)
		(void)munmap(*p, size);
	*p = NULL;
}

int
stats_map(void)
{
	if (sm != NULL)
		return 0;
	if ((sm = stats_mmap(sizeof(*sm))) == NULL ||
	    (sa = stats_mmap(sizeof(*sa))) == NULL ||
	    (sw = stats_mmap(sizeof(*sw))) == NULL) {
		stats_unmap((void **)&sm, sizeof(*sm));
		stats_unmap((void **)&sa, sizeof(*sa));
		return -1;
	}
	sm->start_time = (uint64_t)time(NULL);
	/* A login no module answered (every one said "no such user"). */
	strlcpy(sm->modules[0], "none", sizeof(sm->modules[0]));
	sm->nmodules = 1;
	srole = STATS_ROLE_MASTER;
	slimits = sm->limits;
	return 0;
}

int
stats_enabled(void)
{
	return sm != NULL || sa != NULL || sw != NULL;
}

void
stats_keep(int role)
{
	/*
	 * Only the master's full view narrows to a role; any role may
	 * still give up everything (an agent forked by the auth pool).
	 */
	if (!stats_enabled() || (srole != STATS_ROLE_MASTER &&
	    role != STATS_ROLE_NONE))
		return;
	srole = role;
	slimits = NULL;
	switch (role) {
	case STATS_ROLE_WORKER:
		stats_unmap((void **)&sm, sizeof(*sm));
		stats_unmap((void **)&sa, sizeof(*sa));
		slimits = sw->limits;
		break;
	case STATS_ROLE_AUTH:
		/* The names are all it needs of the master's section. */
		namod = sm->nmodules;
		if (namod > STATS_MODULES_MAX)
			namod = STATS_MODULES_MAX;
		memcpy(amod, sm->modules, sizeof(amod));
		stats_unmap((void **)&sm, sizeof(*sm));
		stats_unmap((void **)&sw, sizeof(*sw));
		break;
	case STATS_ROLE_READER:
		/* Read only: the stats process writes no counter. */
		if (mprotect(sm, sizeof(*sm), PROT_READ) == -1 ||
		    mprotect(sa, sizeof(*sa), PROT_READ) == -1 ||
		    mprotect(sw, sizeof(*sw), PROT_READ) == -1)
			log_warn("%s: mprotect", __func__);
		break;
	case STATS_ROLE_MASTER:
		srole = STATS_ROLE_MASTER;
		slimits = sm->limits;
		break;
	default:
		srole = STATS_ROLE_NONE;
		stats_unmap((void **)&sm, sizeof(*sm));
		stats_unmap((void **)&sa, sizeof(*sa));
		stats_unmap((void **)&sw, sizeof(*sw));
		break;
	}
}

/* ---- auth ---- */

static int
stats_module_index(const char *module)
{
	uint32_t i;

	if (module == NULL)
		return 0;
	for (i = 0; i < namod; i++)
		if (strncmp(amod[i], module, STATS_MODULE_NAME) == 0)
			return (int)i;
	return 0;
}

void
stats_login(const char *module, int result, uint64_t ms)
{
	/* Upper bounds of the buckets, in ms (stats_render() agrees). */
	static const uint64_t le[STATS_BUCKETS] = { 1, 5, 10, 25, 50, 100,
	    250, 500, 1000, 2500, 5000, 10000 };
	int m, b;

	if (sa == NULL || srole != STATS_ROLE_AUTH)
		return;
	if (result < 0 || result >= STATS_RESULTS)
		result = STATS_RES_ERROR;
	m = stats_module_index(module);
	ADD(&sa->logins[m][result], 1);
	for (b = 0; b < STATS_BUCKETS; b++)
		if (ms <= le[b])
			break;
	ADD(&sa->bucket[m][b], 1);
	ADD(&sa->sum_ms[m], ms);
}

void
stats_auth_spare(uint32_t spare)
{
	int32_t pid, zero;
	int i;

	if (sa == NULL || srole != STATS_ROLE_AUTH)
		return;
	if (aslot == -1) {
		/* Claim a free slot; the master frees it when we die. */
		pid = (int32_t)getpid();
		for (i = 0; i < STATS_AUTHPROC_MAX; i++) {
			zero = 0;
			if (__atomic_compare_exchange_n(&sa->procs[i].pid,
			    &zero, pid, 0, __ATOMIC_RELAXED,
			    __ATOMIC_RELAXED)) {
				aslot = i;
				break;
			}
		}
		if (aslot == -1)
			return;
	}
	__atomic_store_n(&sa->procs[aslot].spare, spare, __ATOMIC_RELAXED);
}

/* ---- worker ---- */

void
stats_session(uint64_t retr, uint64_t retr_bytes, uint64_t dele,
    uint64_t dele_bytes, uint64_t in, uint64_t out)
{
	if (sw == NULL || srole != STATS_ROLE_WORKER)
		return;
	ADD(&sw->sessions, 1);
	ADD(&sw->retr, retr);
	ADD(&sw->retr_bytes, retr_bytes);
	ADD(&sw->dele, dele);
	ADD(&sw->dele_bytes, dele_bytes);
	ADD(&sw->bytes_in, in);
	ADD(&sw->bytes_out, out);
}

void
stats_in_use(void)
{
	if (sw != NULL && srole == STATS_ROLE_WORKER)
		ADD(&sw->in_use, 1);
}

void
stats_tls(const char *version)
{
	int v = STATS_TLS_OTHER;

	if (sw == NULL || srole != STATS_ROLE_WORKER || version == NULL)
		return;
	if (strncmp(version, "TLSv1.3", 7) == 0)
		v = STATS_TLS_13;
	else if (strncmp(version, "TLSv1.2", 7) == 0)
		v = STATS_TLS_12;
	ADD(&sw->tls[v], 1);
}

void
stats_limit(const char *name)
{
	int i;

	if (slimits == NULL || name == NULL)
		return;
	if ((i = stats_limit_index(name)) == -1)
		i = STATS_LIMITS - 1;	/* "other" */
	ADD(&slimits[i], 1);
}

/* ---- master ---- */

void
stats_modules(char *const *names, size_t n)
{
	size_t i;
	uint32_t j;

	if (sm == NULL || srole != STATS_ROLE_MASTER)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < sm->nmodules; j++)
			if (strncmp(sm->modules[j], names[i],
			    STATS_MODULE_NAME) == 0)
				break;
		if (j < sm->nmodules || sm->nmodules >= STATS_MODULES_MAX)
			continue;	/* known, or counted as "none" */
		strlcpy(sm->modules[j], names[i], sizeof(sm->modules[j]));
		__atomic_store_n(&sm->nmodules, j + 1, __ATOMIC_RELEASE);
	}
}

void
stats_pool(const struct scoreboard *sb, uint32_t busy, uint32_t idle,
    uint32_t workers_max, uint32_t auth)
{
	uint32_t states[STATS_STATES], i, st;

	if (sm == NULL || srole != STATS_ROLE_MASTER)
		return;
	memset(states, 0, sizeof(states));
	for (i = 0; sb != NULL && i < sb_count(sb); i++) {
		st = __atomic_load_n(&sb->slots[i].state, __ATOMIC_RELAXED);
		if (st < STATS_STATES)
			states[st]++;
	}
	for (i = 0; i < STATS_STATES; i++)
		__atomic_store_n(&sm->states[i], states[i], __ATOMIC_RELAXED);
	__atomic_store_n(&sm->workers_busy, busy, __ATOMIC_RELAXED);
	__atomic_store_n(&sm->workers_idle, idle, __ATOMIC_RELAXED);
	__atomic_store_n(&sm->workers_max, workers_max, __ATOMIC_RELAXED);
	__atomic_store_n(&sm->auth_processes, auth, __ATOMIC_RELAXED);
}

void
stats_reaped(int pid)
{
	int i;

	/* The master may write every section; only it frees a slot. */
	if (sa == NULL || srole != STATS_ROLE_MASTER || pid <= 0)
		return;
	for (i = 0; i < STATS_AUTHPROC_MAX; i++)
		if (__atomic_load_n(&sa->procs[i].pid, __ATOMIC_RELAXED) ==
		    (int32_t)pid) {
			__atomic_store_n(&sa->procs[i].spare, 0,
			    __ATOMIC_RELAXED);
			__atomic_store_n(&sa->procs[i].pid, 0,
			    __ATOMIC_RELAXED);
		}
}

void
stats_restarted(void)
{
	if (sm != NULL && srole == STATS_ROLE_MASTER)
		ADD(&sm->stats_restarts, 1);
}

/* ---- the stats process ---- */

/* Word by word, relaxed: no torn counter, no lock. */
_Static_assert(sizeof(struct stats_master) % 8 == 0 &&
    sizeof(struct stats_auth) % 8 == 0 &&
    sizeof(struct stats_worker) % 8 == 0, "sections are 64-bit words");

static void
stats_copy(void *dst, const void *src, size_t size)
{
	const uint64_t *s = src;
	uint64_t *d = dst;
	size_t i;

	for (i = 0; i < size / sizeof(uint64_t); i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

void
stats_snapshot(struct stats_snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	if (sm != NULL)
		stats_copy(&snap->m, sm, sizeof(*sm));
	if (sa != NULL)
		stats_copy(&snap->a, sa, sizeof(*sa));
	if (sw != NULL)
		stats_copy(&snap->w, sw, sizeof(*sw));
	snap->now = (uint64_t)time(NULL);
}
