/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * password.h -- password schemes shared by every auth module (exposed to
 * modules through struct satchel_core).  Runs in the auth pool.
 *
 * Stored forms: "{PLAIN}secret", "{CLEAR}secret", "{CRYPT}hash",
 * "{SHA512-CRYPT}$6$...", "{SHA256-CRYPT}$5$...", "{BLF-CRYPT}$2b$...",
 * "{YESCRYPT}$y$...", "{SCRAM-SHA-256}ITER,SALT,STORED,SERVER" (with
 * OpenSSL), or a bare crypt(3) hash starting with '$'.
 * Scheme names are case-insensitive.
 */
#ifndef SATCHEL_PASSWORD_H
#define SATCHEL_PASSWORD_H

#include <stddef.h>

/* 1 match, 0 mismatch, -1 unusable stored value (logged, no secret). */
int	 password_verify(const char *stored, const char *password);
/* Run a hash of the default scheme to match the time of a real check. */
void	 password_dummy(const char *password);
/* 1 and secret copied for {PLAIN}/{CLEAR}; 0 for hashes; -1 too small. */
int	 password_plain(const char *stored, char *buf, size_t bufsz);
/*
 * For challenge-response mechanisms: if stored can serve one ({PLAIN},
 * {CLEAR}: APOP, CRAM-MD5, SCRAM; {SCRAM-SHA-256}: SCRAM), copy it to
 * buf in canonical tagged form ("{PLAIN}secret", "{SCRAM-SHA-256}...")
 * and return 1; 0 when it cannot (a crypt hash); -1 buf too small.
 */
int	 password_credential(const char *stored, char *buf, size_t bufsz);
/*
 * Make a stored value for password in scheme ("SHA512-CRYPT",
 * "YESCRYPT", "BLF-CRYPT", "SHA256-CRYPT", "PLAIN"), with a fresh salt
 * from getrandom().  Returns 0 and fills buf, or -1.
 */
int	 password_hash(const char *scheme, const char *password, char *buf,
	    size_t bufsz);

#endif /* SATCHEL_PASSWORD_H */
