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

/* tests/integration/test_privsep.py writes slots by this layout. */
_Static_assert(sizeof(struct sb_slot) == 200 &&
    offsetof(struct scoreboard, slots) == 8 &&
    offsetof(struct sb_slot, state) == 8, "scoreboard layout changed: "
    "update SB_SLOT in tests/integration/test_privsep.py");

/*
 * The slot count as this process knows it: set by sb_create() in the
 * master before any fork, so every child inherits its own copy.  The
 * nslots field in the mapping is shared, and a compromised worker could
 * write anything there; readers bound their loops with sb_count().
 */
static const struct scoreboard *sb_mine;
static uint32_t sb_mine_nslots;

uint32_t
sb_count(const struct scoreboard *sb)
{
	return sb == sb_mine ? sb_mine_nslots : 0;
}

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
	sb_mine = sb;
	sb_mine_nslots = nslots;
	return sb;
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
