/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_fail.c -- the auth pool's table of failed logins (see
 * auth_fail.h).  Mapped shared and anonymous by the master before it
 * forks, so that every auth process sees the same counts; every other
 * child unmaps it at once (auth_fail_forget), so a worker or an agent
 * can neither read nor forge it.  Written by the auth processes only,
 * as root.
 *
 * Keys are hashed with a per-start random seed, so a client cannot pick
 * names that collide on purpose to evict someone's count.  Two auth
 * processes may race on one entry; the worst outcome is a count off by
 * one, which only changes a delay.
 */
#include <sys/mman.h>
#include <sys/random.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "compat/compat.h"
#include "auth_fail.h"
#include "log.h"
#include "compat/poison.h"

#define FAIL_SLOTS	8192
#define FAIL_PROBES	8

struct fail_entry {
	uint64_t	 key;
	uint32_t	 count;
	uint64_t	 last_ms;	/* last failure */
	uint64_t	 hold_ms;	/* no attempt is answered before */
};

struct fail_table {
	uint64_t		 seed;
	struct fail_entry	 e[FAIL_SLOTS];
};

static struct fail_table *ft;

uint64_t
auth_fail_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
auth_fail_create(void)
{
	if (ft != NULL)
		return 0;
	ft = mmap(NULL, sizeof(*ft), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ft == MAP_FAILED) {
		ft = NULL;
		log_warn("%s: mmap", __func__);
		return -1;
	}
	if (getrandom(&ft->seed, sizeof(ft->seed), 0) != sizeof(ft->seed))
		ft->seed = (uint64_t)auth_fail_now_ms() * 0x9e3779b97f4a7c15ULL;
	return 0;
}

void
auth_fail_forget(void)
{
	if (ft != NULL) {
		munmap(ft, sizeof(*ft));
		ft = NULL;
	}
}

int
auth_fail_mapped(void)
{
	return ft != NULL;
}

static uint64_t
fail_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL ^ ft->seed;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	return h == 0 ? 1 : h;
}

static struct fail_entry *
fail_find(const char *key, int create, uint64_t window_ms, uint64_t now)
{
	struct fail_entry *f, *oldest = NULL;
	uint64_t h;
	uint32_t i;

	if (ft == NULL)
		return NULL;
	h = fail_hash(key);
	for (i = 0; i < FAIL_PROBES; i++) {
		f = &ft->e[(h + i) % FAIL_SLOTS];
		if (f->key == h) {
			if (now - f->last_ms > window_ms && f->hold_ms <= now)
				f->count = 0;	/* forgotten */
			return f;
		}
		if (oldest == NULL || f->last_ms < oldest->last_ms)
			oldest = f;
	}
	if (!create)
		return NULL;
	oldest->key = h;
	oldest->count = 0;
	oldest->last_ms = now;
	oldest->hold_ms = 0;
	return oldest;
}

uint64_t
auth_fail_hold(const char *key, uint64_t now)
{
	struct fail_entry *f = fail_find(key, 0, UINT64_MAX, now);

	return f == NULL ? 0 : f->hold_ms;
}

uint32_t
auth_fail_count(const char *key, uint64_t window_ms, uint64_t now)
{
	struct fail_entry *f = fail_find(key, 0, window_ms, now);

	return f == NULL ? 0 : f->count;
}

uint32_t
auth_fail_add(const char *key, uint64_t window_ms, uint64_t now)
{
	struct fail_entry *f = fail_find(key, 1, window_ms, now);

	if (f == NULL)
		return 0;
	f->last_ms = now;
	return __atomic_add_fetch(&f->count, 1, __ATOMIC_RELAXED);
}

void
auth_fail_set_hold(const char *key, uint64_t until)
{
	struct fail_entry *f = fail_find(key, 0, UINT64_MAX, 0);

	if (f != NULL && f->hold_ms < until)
		f->hold_ms = until;
}

void
auth_fail_clear(const char *key)
{
	struct fail_entry *f = fail_find(key, 0, UINT64_MAX, 0);

	if (f != NULL) {
		f->count = 0;
		f->hold_ms = 0;
	}
}
