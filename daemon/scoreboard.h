/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * scoreboard.h -- shared memory between the master, the workers and the
 * auth pool.  Created by the master before any fork (MAP_SHARED |
 * MAP_ANONYMOUS), so every child shares it.  Each worker writes only its
 * own slot; the master reads every slot to size the pool.  The failed
 * login table is written by the auth processes.
 *
 * Caution: the worker is untrusted.  The master uses a slot's state only
 * to decide how many workers to spawn and which idle one to retire; it
 * never trusts the pid field (it keeps its own pid to slot map), so a
 * compromised worker can at worst make the pool grow to workers_max.
 */
#ifndef SATCHEL_SCOREBOARD_H
#define SATCHEL_SCOREBOARD_H

#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#define SB_FREE		0
#define SB_STARTING	1
#define SB_IDLE		2
#define SB_PREAUTH	3
#define SB_AUTH		4	/* waiting for the auth pool */
#define SB_TRANSACTION	5
#define SB_UPDATE	6
#define SB_EXITING	7

struct sb_slot {
	volatile pid_t		 pid;
	volatile uint32_t	 generation;
	volatile uint32_t	 state;
	volatile pid_t		 agent;
	volatile time_t		 since;
	volatile uint64_t	 sessions;
	char			 user[64];
	char			 peer[64];
};

#define SB_FAIL_SLOTS	4096

struct sb_fail {
	volatile uint32_t	 key;	/* hash of "u:user" or "a:address" */
	volatile uint32_t	 count;
	volatile time_t		 last;
};

struct scoreboard {
	uint32_t	 nslots;
	struct sb_slot	 slots[];
};

/* Map a scoreboard with nslots worker slots.  NULL on error. */
struct scoreboard *sb_create(uint32_t nslots);
/*
 * The failed-login table is a mapping of its own, separate from the
 * scoreboard, and its address is process-local memory: a worker or an
 * agent unmaps it (sb_forget_fails) so it cannot forge the counts,
 * while the master and the auth pool keep it.
 */
void	 sb_forget_fails(struct scoreboard *sb);
/* Set a slot's state (and the time it changed). */
void	 sb_set(struct sb_slot *s, uint32_t state);
const char *sb_state_name(uint32_t state);
/*
 * Failed login accounting, keyed by a string ("u:alice", "a:192.0.2.7").
 * sb_fail_add returns the number of failures within the last window
 * (the count decays to 0 after window seconds without a failure).
 */
uint32_t sb_fail_add(struct scoreboard *sb, const char *key, int window);
uint32_t sb_fail_get(struct scoreboard *sb, const char *key, int window);
void	 sb_fail_clear(struct scoreboard *sb, const char *key);

#endif /* SATCHEL_SCOREBOARD_H */
