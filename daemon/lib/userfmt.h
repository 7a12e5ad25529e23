/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * userfmt.h -- auth_username_format: the name a client sent, rewritten
 * once before any module looks it up (Dovecot's auth_username_format).
 * Pure code, no process state: runs in the auth pool and in the config
 * checks.
 */
#ifndef SATCHEL_USERFMT_H
#define SATCHEL_USERFMT_H

#include <stddef.h>

/*
 * Check format: text with %u (the whole name), %n (its local part, the
 * whole name when it has no '@'), %d (its domain, empty without '@') and
 * %% (a '%'); each variable may carry one modifier, L (lower case) or U
 * (upper case): "%Lu", "%Ln@%Ld".  Returns 0, or -1 with a static
 * message in *err_r.
 */
int	 userfmt_check(const char *format, const char **err_r);

/*
 * Write user rewritten by format into out (outsz bytes, NUL-terminated).
 * An empty or NULL format copies user unchanged.  Only ASCII letters
 * change case.  Returns 0, or -1 when format is not valid or the result
 * does not fit (out is then empty).
 */
int	 userfmt_apply(const char *format, const char *user, char *out,
	    size_t outsz);

/*
 * userfmt_apply() in place: buf (bufsz bytes) holds the name and gets
 * the result; on -1 it is emptied, which every caller treats as a name
 * that cannot log in.
 */
int	 userfmt_rewrite(const char *format, char *buf, size_t bufsz);

#endif /* SATCHEL_USERFMT_H */
