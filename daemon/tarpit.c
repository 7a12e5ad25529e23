/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tarpit.c -- failed-login delays shared by all workers (see tarpit.h).
 * Runs in the auth processes; the table is in shared memory made by the
 * master (scoreboard.c).
 *
 * Caution: the address comes from the worker, which is untrusted.  A
 * compromised worker can therefore make failures count against any
 * address or user it names (raising their delays up to the cap), and a
 * correct password it knows clears that user's counter.  It can never
 * clear an address's counter, nor write the table directly: it has
 * unmapped it.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "conf.h"
#include "scoreboard.h"
#include "tarpit.h"
#include "compat/poison.h"

int
tarpit_allowed(const struct config *cf, const char *addr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (cf == NULL || cf->ntarpit_allow == 0)
		return 0;
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return conf_in_nets(cf->tarpit_allow, cf->ntarpit_allow,
		    (struct sockaddr *)&sin);
	}
	if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		return conf_in_nets(cf->tarpit_allow, cf->ntarpit_allow,
		    (struct sockaddr *)&sin6);
	}
	return 0;
}

uint32_t
tarpit_login(const struct config *cf, struct scoreboard *sb,
    const char *user, const char *addr, uint32_t result)
{
	char key[300];
	uint32_t fails, afails;
	uint64_t delay;

	(void)snprintf(key, sizeof(key), "u:%s", user);
	if (result == SATCHEL_AUTH_OK) {
		sb_fail_clear(sb, key);
		return 0;
	}
	if (result != SATCHEL_AUTH_FAIL && result != SATCHEL_AUTH_ERROR)
		return 0;
	fails = sb_fail_add(sb, key, TARPIT_WINDOW_S);
	(void)snprintf(key, sizeof(key), "a:%s", addr);
	afails = sb_fail_add(sb, key, TARPIT_WINDOW_S);
	if (afails > fails)
		fails = afails;
	if (fails == 0)
		fails = 1;	/* no table: still the base delay */
	if (fails > TARPIT_STEPS + 1)
		fails = TARPIT_STEPS + 1;
	delay = (uint64_t)cf->login_fail_delay_ms << (fails - 1);
	/* Doubling stops at the cap (or the base, if that is more). */
	if (delay > TARPIT_CAP_MS)
		delay = cf->login_fail_delay_ms > TARPIT_CAP_MS ?
		    cf->login_fail_delay_ms : TARPIT_CAP_MS;
	return (uint32_t)delay;
}
