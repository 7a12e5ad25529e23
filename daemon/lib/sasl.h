/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * sasl.h -- pure helpers for SASL (RFC 4422) in POP3 AUTH (RFC 5034):
 * base64 and the PLAIN message.  No I/O; used by the worker (which
 * parses what the client sends) and the auth pool.
 */
#ifndef SATCHEL_SASL_H
#define SATCHEL_SASL_H

#include <stddef.h>

/*
 * Encode len bytes as base64 into dst (dstsz includes the NUL).
 * Returns the length, or -1 if dst is too small.
 */
int	 sasl_b64_encode(const void *src, size_t len, char *dst, size_t dstsz);
/*
 * Decode strict base64 (padding required, no white space) into dst.
 * Returns the number of bytes, or -1 for bad input or a small dst.
 * dst gets a NUL after the data when there is room (not counted).
 */
int	 sasl_b64_decode(const char *src, size_t len, void *dst,
	    size_t dstsz);
/*
 * Split a PLAIN message "authzid NUL authcid NUL passwd" (RFC 4616).
 * authzid must be empty or equal to authcid (no proxy logins); neither
 * user nor password may be empty or hold a NUL.  Copies out, NUL-
 * terminated.  Returns 0 or -1.
 */
int	 sasl_plain_parse(const char *msg, size_t len, char *user,
	    size_t usersz, char *pass, size_t passsz);
/*
 * The same with the authzid copied out to authz (a master user login,
 * issue 14): "" when it was empty or equal to the authcid, else the
 * user to log in as, with user the master.  authz shorter than
 * authzsz.  Returns 0 or -1.
 */
int	 sasl_plain_parse_authz(const char *msg, size_t len, char *authz,
	    size_t authzsz, char *user, size_t usersz, char *pass,
	    size_t passsz);

/*
 * One LOGIN step (draft-murchison-sasl-login), decoded: the user name
 * or the password.  Not empty, no NUL, shorter than outsz.  Copies it
 * out NUL-terminated.  Returns 0 or -1.
 */
int	 sasl_login_parse(const char *msg, size_t len, char *out,
	    size_t outsz);
/*
 * A CRAM-MD5 response (RFC 2195), decoded: "user SP digest".  The user
 * is not empty and holds no NUL or space; the digest is 32 hex digits,
 * copied out lower-cased into digest (33 bytes, NUL-terminated).
 * Returns 0 or -1.
 */
int	 sasl_cram_parse(const char *msg, size_t len, char *user,
	    size_t usersz, char digest[33]);

/*
 * The SASL mechanisms Satchel knows, in the order CAPA lists them: one
 * table for the CAPA line, the bare AUTH list, AUTH itself and the
 * `sasl` key's check.  plaintext: the client sends the password (only
 * over TLS or from trusted networks); lookup: the pool needs a stored
 * plaintext-equivalent credential; openssl: built only with OpenSSL.
 */
struct sasl_mech {
	const char	*name;
	int		 id;		/* SASL_MECH_* */
	int		 plaintext;
	int		 lookup;
	int		 openssl;
};

#define SASL_MECH_PLAIN		1
#define SASL_MECH_LOGIN		2
#define SASL_MECH_CRAM_MD5	3
#define SASL_MECH_SCRAM_SHA256	4

extern const struct sasl_mech sasl_mechs[];
extern const size_t sasl_nmechs;
/* The mechanism named name (exact, upper case), or NULL. */
const struct sasl_mech *sasl_mech_find(const char *name);

#endif /* SATCHEL_SASL_H */
