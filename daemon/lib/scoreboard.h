/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * scoreboard.h -- shared memory between the master and the workers.
 * Created by the master before any fork (MAP_SHARED | MAP_ANONYMOUS), so
 * every child shares it.  Each worker writes its own slot, and workers
 * read them for the shared limits (limit.c).  No process state here:
 * the functions work on the mapping they are given.  (The failed-login table is the auth
 * pool's own mapping: auth_fail.c.)
 *
 * Caution: the worker is untrusted.  The master decides nothing from
 * the scoreboard: it keeps its own slot map and slot count, and learns
 * each worker's idle/busy state from that worker's own channel
 * (master.c).  It writes slots for the workers' shared limits and for
 * display.  Workers still read other slots for the limits (limit.c).
 *
 * A compromised worker can also ask for a takeover in the name of any
 * user whose name it writes into its slot, ending that user's session
 * (without UPDATE: nothing is lost); only with lock_conflict = takeover.
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
	/*
	 * issue 13 (control.c): the session id and bytes sent, for
	 * "satchelctl who"; takeover is set by a worker whose agent met
	 * the session lock with lock_conflict = takeover (then it pokes
	 * the master); kick is set by the master before it sends SIGUSR2
	 * to the worker whose session must end without UPDATE.
	 */
	char			 session[20];
	volatile uint64_t	 bytes;
	volatile uint32_t	 takeover;
	volatile uint32_t	 kick;		/* SB_KICK_* */
};

#define SB_KICK_NONE		0
#define SB_KICK_ADMIN		1	/* satchelctl kick */
#define SB_KICK_TAKEOVER	2	/* a newer login of the same user */

struct scoreboard {
	uint32_t	 nslots;
	struct sb_slot	 slots[];
};

/* Map a scoreboard with nslots worker slots.  NULL on error. */
struct scoreboard *sb_create(uint32_t nslots);
/*
 * How many slots sb has, from this process's own memory, never from the
 * shared nslots field (a worker may have written it): 0 for a mapping
 * this process did not create or inherit from sb_create().
 */
uint32_t sb_count(const struct scoreboard *sb);
/* Set a slot's state (and the time it changed). */
void	 sb_set(struct sb_slot *s, uint32_t state);
const char *sb_state_name(uint32_t state);

#endif /* SATCHEL_SCOREBOARD_H */
