/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * password_int.h -- between password.c (the scheme table, verify,
 * dummy) and password_digest.c (Dovecot's digest, CRAM-MD5, PBKDF2 and
 * Argon2 formats).  Pure code; runs where password.c does.
 */
#ifndef SATCHEL_PASSWORD_INT_H
#define SATCHEL_PASSWORD_INT_H

#include <stddef.h>

/* How the binary part of a stored value is written (".b64", ".hex"). */
enum pw_enc { PW_ENC_NONE, PW_ENC_B64, PW_ENC_HEX };

/* Digest algorithms of the {SHA}... {SMD5} schemes. */
enum pw_alg { PW_ALG_NONE, PW_ALG_MD5, PW_ALG_SHA1, PW_ALG_SHA256,
    PW_ALG_SHA512 };

#define PW_RAW_MAX	512	/* decoded stored value, octets */

/* Ceilings on stored costs, so that one entry cannot stall the pool. */
#ifndef PW_PBKDF2_ROUNDS_MAX
#define PW_PBKDF2_ROUNDS_MAX	10000000U
#endif
#ifndef PW_ARGON2_MEMORY_MAX
#define PW_ARGON2_MEMORY_MAX	1048576U	/* KiB: 1 GiB */
#endif
#ifndef PW_BCRYPT_COST_MAX
#define PW_BCRYPT_COST_MAX	16U		/* 2^16 rounds */
#endif
#ifndef PW_SHACRYPT_ROUNDS_MAX
#define PW_SHACRYPT_ROUNDS_MAX	10000000UL
#endif
#ifndef PW_ARGON2_TIME_MAX
#define PW_ARGON2_TIME_MAX	64U
#endif

void	 pw_wipe(void *, size_t);
/* Decode in (enc) into out; the length, or -1.  HEX falls back to B64. */
int	 pw_decode(const char *in, enum pw_enc enc, unsigned char *out,
	    size_t outsz);
/* Digest length of alg, 0 when this build cannot compute it. */
size_t	 pw_alg_len(enum pw_alg alg);
/*
 * {SHA}-style schemes: raw is the decoded value, digest(password) or,
 * salted, digest(password || salt) || salt.  1 match, 0 mismatch, -1
 * malformed (*why_r says what).
 */
int	 pw_digest_verify(enum pw_alg alg, int salted, const unsigned char *raw,
	    size_t rawlen, const char *password, const char **why_r);
/* Dovecot's PBKDF2: "$1$salt$rounds$hex(sha1 key)". */
int	 pw_pbkdf2_verify(const char *data, const char *password, int dummy,
	    const char **why_r);
/* "$argon2i[d]$v=19$m=..,t=..,p=..$salt$hash" (dummy: no compare). */
int	 pw_argon2_verify(const char *data, const char *password, int dummy,
	    const char **why_r);
/* Check an Argon2 value's form and costs: 0 or -1 (*why_r). */
int	 pw_argon2_check(const char *data, const char **why_r);

#endif /* SATCHEL_PASSWORD_INT_H */
