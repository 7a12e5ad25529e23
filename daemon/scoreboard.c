/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * scoreboard.c -- the shared memory scoreboard (see scoreboard.h).
 * Created by the master as root; written by workers (own slot only) and
 * by the auth pool (failed login table, the tarpit's counters: see
 * tarpit.h).
 */
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "compat/compat.h"
#include "log.h"
#include "master.h"
#include "scoreboard.h"
#include "tarpit.h"
#include "compat/poison.h"

/* Process-local: each child decides for itself whether it keeps it. */
static struct sb_fail *sb_fails;

struct scoreboard *
sb_create(uint32_t nslots)
{
	struct scoreboard *sb;
	size_t size;

	size = sizeof(*sb) + (size_t)nslots * sizeof(struct sb_slot);
	sb = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sb == MAP_FAILED) {
		log_warn("%s: mmap %zu bytes", __func__, size);
		return NULL;
	}
	memset(sb, 0, size);
	sb->nslots = nslots;
	sb_fails = mmap(NULL, SB_FAIL_SLOTS * sizeof(struct sb_fail),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sb_fails == MAP_FAILED) {
		sb_fails = NULL;
		log_warn("%s: mmap", __func__);
		munmap(sb, size);
		return NULL;
	}
	return sb;
}

void
sb_forget_fails(struct scoreboard *sb)
{
	(void)sb;
	if (sb_fails != NULL) {
		munmap(sb_fails, SB_FAIL_SLOTS * sizeof(struct sb_fail));
		sb_fails = NULL;
	}
}

void
sb_set(struct sb_slot *s, uint32_t state)
{
	s->since = time(NULL);
	__atomic_store_n(&s->state, state, __ATOMIC_RELEASE);
}

const char *
sb_state_name(uint32_t state)
{
	static const char *names[] = { "free", "starting", "idle", "preauth",
	    "auth", "transaction", "update", "exiting" };

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

static uint32_t
sb_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h == 0 ? 1 : h;
}

/*
 * Open addressing over a small fixed table.  Two auth processes may race
 * on one entry; the worst outcome is a count off by one, which only
 * changes a delay.  A full probe sequence reuses the oldest entry.
 */
static struct sb_fail *
sb_fail_find(struct scoreboard *sb, const char *key, int create)
{
	struct sb_fail *f, *oldest = NULL;
	uint32_t h = sb_hash(key), i;

	if (sb_fails == NULL)
		return NULL;
	for (i = 0; i < 8; i++) {
		f = &sb_fails[(h + i) % SB_FAIL_SLOTS];
		if (f->key == h)
			return f;
		if (oldest == NULL || f->last < oldest->last)
			oldest = f;
	}
	if (!create)
		return NULL;
	oldest->key = h;
	oldest->count = 0;
	oldest->last = 0;
	return oldest;
}

uint32_t
sb_fail_add(struct scoreboard *sb, const char *key, int window)
{
	struct sb_fail *f;
	time_t now = time(NULL);

	/* An address on the tarpit allow-list is never counted. */
	if (strncmp(key, "a:", 2) == 0 && sd != NULL &&
	    tarpit_allowed(sd->cf, key + 2))
		return 0;
	if ((f = sb_fail_find(sb, key, 1)) == NULL)
		return 0;
	if (now - f->last > window)
		f->count = 0;
	f->last = now;
	return __atomic_add_fetch(&f->count, 1, __ATOMIC_RELAXED);
}

uint32_t
sb_fail_get(struct scoreboard *sb, const char *key, int window)
{
	struct sb_fail *f = sb_fail_find(sb, key, 0);

	if (f == NULL || time(NULL) - f->last > window)
		return 0;
	return f->count;
}

void
sb_fail_clear(struct scoreboard *sb, const char *key)
{
	struct sb_fail *f = sb_fail_find(sb, key, 0);

	if (f != NULL)
		f->count = 0;
}
