/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tarpit.h -- delays for failed logins that grow per client address and
 * per user across connections, capped, with an allow-list of addresses
 * (tarpit_allow).  The counters live in the failed-login table of the
 * scoreboard (sb_fail_*): a mapping the master creates before any fork,
 * so they survive the exit of any worker or auth process.
 *
 * Runs in the auth processes, with the master's privileges.  Workers
 * and agents unmap the table (sb_forget_fails) before they read a byte:
 * only the auth pool writes it.
 */
#ifndef SATCHEL_TARPIT_H
#define SATCHEL_TARPIT_H

#include <stdint.h>

struct config;
struct scoreboard;

#define TARPIT_WINDOW_S		300	/* a failure is remembered so long */
#define TARPIT_STEPS		4	/* the delay doubles 4 times */
#define TARPIT_CAP_MS		30000	/* and never exceeds 30 s */

/* 1 when addr (numeric text, as the worker reports it) is allowed. */
int		tarpit_allowed(const struct config *cf, const char *addr);
/*
 * Account one login outcome (SATCHEL_AUTH_*) of user from addr and
 * return the delay in milliseconds the worker must wait before it
 * answers: 0 after a success (which forgets the user's failures), else
 * login_fail_delay_ms doubled per failure counted for the user or for
 * the address, whichever is more, up to TARPIT_CAP_MS.  An allowed
 * address is not counted (its users still are).  TEMPFAIL is not the
 * client's fault and counts nothing.
 */
uint32_t	tarpit_login(const struct config *cf, struct scoreboard *sb,
		    const char *user, const char *addr, uint32_t result);

#endif /* SATCHEL_TARPIT_H */
