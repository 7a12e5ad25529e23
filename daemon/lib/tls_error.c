/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls_error.c -- OpenSSL's error queue as text (see tls_error.h).  Pure
 * code, no process state but its static buffer.
 */
#include <openssl/err.h>
#include <openssl/pem.h>

#include <stdio.h>
#include <string.h>

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

const char *
tls_file_error(const char *what)
{
	static char buf[256];
	unsigned long e = ERR_peek_error();	/* the first: the cause */
	const char *r;
	int nopem;

	nopem = e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
#ifdef ERR_LIB_OSSL_DECODER
	nopem = nopem || ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER;
#endif
	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS)
		(void)snprintf(buf, sizeof(buf), "%s",
		    strerror(ERR_GET_REASON(e)));
	else if (nopem)
		(void)snprintf(buf, sizeof(buf), "no PEM %s in the file "
		    "(want a \"-----BEGIN %s-----\" block%s)", what,
		    strcmp(what, "certificate") == 0 ? "CERTIFICATE" :
		    "PRIVATE KEY", strcmp(what, "certificate") == 0 ? "" :
		    ", not encrypted");
	else {
		r = ERR_reason_error_string(e);
		(void)snprintf(buf, sizeof(buf), "not a usable PEM %s (%s)",
		    what, r != NULL ? r : "unreadable");
	}
	ERR_clear_error();
	return buf;
}
