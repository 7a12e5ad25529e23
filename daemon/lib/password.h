/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * password.h -- password schemes shared by every auth module (exposed to
 * modules through struct satchel_core).  Runs in the auth pool.
 *
 * Stored forms (Dovecot's, tag case-insensitive): "{PLAIN}secret",
 * "{CLEAR}", "{CLEARTEXT}"; crypt(3): "{CRYPT}hash", "{SHA512-CRYPT}$6$",
 * "{SHA256-CRYPT}$5$", "{BLF-CRYPT}$2b$", "{YESCRYPT}$y$",
 * "{MD5-CRYPT}$1$" (alias "{MD5}"), or a bare "$y$ $2b$ $6$ $5$ $1$"
 * hash; digests: "{SHA}" ("{SHA1}"), "{SSHA}", "{SHA256}", "{SSHA256}",
 * "{SHA512}", "{SSHA512}", "{SMD5}", "{LDAP-MD5}" (base64) and
 * "{PLAIN-MD5}" (hex); "{CRAM-MD5}" ("{HMAC-MD5}", 64 hex digits of the
 * HMAC-MD5 key state); "{PBKDF2}$1$salt$rounds$hex"; "{ARGON2I}" and
 * "{ARGON2ID}" (or a bare "$argon2i[d]$" hash, with libargon2);
 * "{SCRAM-SHA-256}ITER,SALT,STORED,SERVER".  SHA, SSHA*, PBKDF2 and
 * SCRAM need OpenSSL.  The plaintext, digest and CRAM-MD5 schemes take
 * a ".b64" (".base64") or ".hex" suffix ("{SHA256.HEX}..."), as
 * doveadm pw -s SCHEME.HEX makes them.  A value of any other form is
 * refused with a log line that names the scheme and what to do.
 */
#ifndef SATCHEL_PASSWORD_H
#define SATCHEL_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

/* 1 match, 0 mismatch, -1 unusable stored value (logged, no secret). */
int	 password_verify(const char *stored, const char *password);
/*
 * The work for an unknown user (or a user without a password): one
 * verification of a model of the costliest scheme and parameters this
 * process has seen, so that it takes what the slowest configured user
 * takes.  The model is learnt by every password_verify() (the slowest
 * one measured wins, by a 25% margin against noise) and by
 * password_dummy_learn(); it keeps the scheme, costs and salt of a
 * stored value but never its digest.  Before any is seen it is a
 * yescrypt hash at libxcrypt's default cost.
 */
void	 password_dummy(const char *password);
/*
 * Teach password_dummy() a configured stored value without a login: an
 * auth pool can call it for each value it holds (or one per scheme) at
 * start.  Measures one dummy verification when the scheme or costs are
 * new.  0, or -1 for a value that has no costly model (plaintext and
 * plain digests are cheaper than any model, and are ignored).
 */
int	 password_dummy_learn(const char *stored);
/* What one password_dummy() costs now, in ns (0: the default model). */
uint64_t password_dummy_cost_ns(void);
/* 1 and secret copied for {PLAIN}/{CLEAR}; 0 for hashes; -1 too small. */
int	 password_plain(const char *stored, char *buf, size_t bufsz);
/*
 * For challenge-response mechanisms: if stored can serve one ({PLAIN},
 * {CLEAR}, {PLAIN.B64}: APOP, CRAM-MD5, SCRAM; {CRAM-MD5}: CRAM-MD5
 * only; {SCRAM-SHA-256}: SCRAM), copy it to buf in canonical tagged
 * form ("{PLAIN}secret", "{CRAM-MD5}<64 lower-case hex>",
 * "{SCRAM-SHA-256}...") and return 1; 0 when it cannot (a one-way
 * hash); -1 buf too small.
 */
int	 password_credential(const char *stored, char *buf, size_t bufsz);
/*
 * Make a stored value for password in scheme ("SHA512-CRYPT",
 * "YESCRYPT", "BLF-CRYPT", "SHA256-CRYPT", "PLAIN"), with a fresh salt
 * from getrandom().  Returns 0 and fills buf, or -1.
 */
int	 password_hash(const char *scheme, const char *password, char *buf,
	    size_t bufsz);

/*
 * CRAM-MD5 (RFC 2195) from a credential as password_credential() makes
 * it: digest = HMAC-MD5(key, challenge), the key being the {PLAIN}
 * secret or the stored {CRAM-MD5} HMAC state (Dovecot's form, which
 * serves CRAM-MD5 without the plaintext).  1 and digest filled; 0 when
 * cred cannot serve CRAM-MD5 (a hash, SCRAM); -1 malformed.
 */
int	 password_cram_md5(const char *cred, const void *challenge,
	    size_t len, unsigned char digest[16]);
/*
 * The whole CRAM-MD5 check for the auth pool: answer is the client's 32
 * hex digits (either case).  1 match (constant-time compare), 0
 * mismatch or a credential that cannot serve CRAM-MD5, -1 malformed.
 */
int	 password_cram_md5_verify(const char *cred, const char *challenge,
	    const char *answer);

#endif /* SATCHEL_PASSWORD_H */
