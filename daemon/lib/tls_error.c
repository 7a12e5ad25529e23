/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls_error.c -- OpenSSL's error queue as text (see tls_error.h).  Pure
 * code, no process state but its static buffer.
 */
#include <openssl/err.h>

#include "tls_error.h"
#include "compat/poison.h"

const char *
tls_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}
