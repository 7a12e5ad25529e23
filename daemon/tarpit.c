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
#include "auth_fail.h"
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
tarpit_login(const struct config *cf, const char *user, const char *addr,
    uint32_t result, uint64_t start_ms)
{
	char ukey[SATCHEL_USER_MAX + 3], akey[80];
	uint32_t fails, afails = 0;
	uint64_t delay, now = auth_fail_now_ms(), at;
	int allowed = tarpit_allowed(cf, addr);
	size_t o;

	/* Users are counted lower-cased: ALICE is alice. */
	o = strlcpy(ukey, "u:", sizeof(ukey));
	for (; *user != '\0' && o + 1 < sizeof(ukey); user++)
		ukey[o++] = *user >= 'A' && *user <= 'Z' ?
		    (char)(*user + 32) : *user;
	ukey[o] = '\0';
	(void)snprintf(akey, sizeof(akey), "a:%s", addr);
	if (result == SATCHEL_AUTH_OK) {
		auth_fail_clear(ukey);
		return 0;
	}
	if (result != SATCHEL_AUTH_FAIL && result != SATCHEL_AUTH_ERROR)
		return 0;
	fails = auth_fail_add(ukey, TARPIT_WINDOW_MS, now);
	if (!allowed)
		afails = auth_fail_add(akey, TARPIT_WINDOW_MS, now);
	if (afails > fails)
		fails = afails;
	if (fails == 0)
		fails = 1;	/* no table: still the base delay */
	if (fails > TARPIT_STEPS + 1)
		fails = TARPIT_STEPS + 1;
	delay = (uint64_t)cf->login_fail_delay_ms << (fails - 1);
	/* Doubling stops at the cap (or the base, if that is more). */
	if (delay > cf->login_fail_delay_max_ms)
		delay = cf->login_fail_delay_ms > cf->login_fail_delay_max_ms ?
		    cf->login_fail_delay_ms : cf->login_fail_delay_max_ms;
	/* Nothing more for this user or address is answered before. */
	at = start_ms + delay;
	auth_fail_set_hold(ukey, at);
	if (!allowed)
		auth_fail_set_hold(akey, at);
	return (uint32_t)delay;
}
