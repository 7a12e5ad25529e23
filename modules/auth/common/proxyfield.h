/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * proxyfield.h -- Dovecot's proxy passdb extra fields (proxy host hostip
 * port ssl destuser master pass, and Satchel's proxy_haproxy) into the ABI 1.3
 * members of struct satchel_user.  Pure code built into auth_file.so,
 * auth_mysql.so and tests/unit/test_proxyfield; runs in the auth
 * workers (root or auth_user) and in the master's config check.
 */
#ifndef SATCHEL_PROXYFIELD_H
#define SATCHEL_PROXYFIELD_H

#include "satchel/module.h"

/*
 * If key is one of the proxy fields, check val (NULL for a field given
 * without '=') and store it in *u.  Returns 1 stored, 0 not a proxy
 * field (u untouched), -1 bad value with *err_r (static text naming
 * the field).  "proxy" with no value, "", y, yes, 1 or true turns proxy
 * mode on (Dovecot: the field's presence); n, no, 0, false turn it
 * off.  ssl=any-cert and proxy_maybe are refused: they would weaken
 * or change routing in ways Satchel does not implement.
 */
int	 proxyfield_set(struct satchel_user *u, const char *key,
	    const char *val, const char **err_r);

#endif /* SATCHEL_PROXYFIELD_H */
