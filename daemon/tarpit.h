/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tarpit.h -- delays for failed logins that grow per client address and
 * per user across connections, capped, with an allow-list of addresses
 * (tarpit_allow).  The counters live in the auth pool's failure table
 * (auth_fail.c): a mapping the master creates before any fork, so they
 * survive the exit of any worker or auth process.
 *
 * Runs in the auth processes, with the master's privileges.  Workers
 * and agents unmap the table (auth_fail_forget) before they read a byte:
 * only the auth pool writes it, and it enforces the delay itself.
 */
#ifndef SATCHEL_TARPIT_H
#define SATCHEL_TARPIT_H

#include <stdint.h>

struct config;

#define TARPIT_WINDOW_MS	(300 * 1000)	/* a failure is remembered */
#define TARPIT_STEPS		4	/* the delay doubles 4 times */

/* 1 when addr (numeric text, as the worker reports it) is allowed. */
int		tarpit_allowed(const struct config *cf, const char *addr);
/*
 * Account one login outcome (SATCHEL_AUTH_*) of user from addr, whose
 * processing started at start_ms, and return the delay in milliseconds
 * after start_ms at which the pool answers: 0 after a success (which
 * forgets the user's failures), else login_fail_delay_ms doubled per
 * failure counted for the (lower-cased) user or for the address,
 * whichever is more, up to login_fail_delay_max_ms.  No later attempt
 * of that user or from that address starts before then.  An allowed
 * address is not counted (its users still are).  TEMPFAIL is not the
 * client's fault and counts nothing.
 */
uint32_t	tarpit_login(const struct config *cf, const char *user,
		    const char *addr, uint32_t result, uint64_t start_ms);

#endif /* SATCHEL_TARPIT_H */
