/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * md5.h -- MD5 (RFC 1321) and HMAC-MD5 (RFC 2104), for APOP and
 * CRAM-MD5, and for the storage modules' %m (core->md5_*).  Not for
 * passwords at rest.
 */
#ifndef SATCHEL_MD5_H
#define SATCHEL_MD5_H

#include <stddef.h>
#include <stdint.h>

#include "satchel/module.h"

#define MD5_DIGEST_LENGTH_	16

/* The context is the module ABI's (core->md5_*, ABI 1.5). */

void	 md5_init(struct satchel_md5 *ctx);
void	 md5_update(struct satchel_md5 *ctx, const void *data, size_t len);
void	 md5_final(struct satchel_md5 *ctx, unsigned char digest[16]);
/* digest -> 32 lower-case hex digits + NUL */
void	 md5_hex(const unsigned char digest[16], char hex[33]);
void	 hmac_md5(const void *key, size_t keylen, const void *msg,
	    size_t msglen, unsigned char digest[16]);

/*
 * The HMAC-MD5 key state: MD5's chaining values after the (key xor
 * ipad) and (key xor opad) blocks.  Knowing it is as good as knowing the
 * key for HMAC-MD5 (CRAM-MD5), but it does not give the password.
 * Dovecot's {CRAM-MD5} stores it as 32 bytes: outer a b c d, then inner
 * a b c d, each word little-endian.
 */
struct hmac_md5_state {
	uint32_t	 outer[4];
	uint32_t	 inner[4];
};

void	 hmac_md5_state_init(const void *key, size_t keylen,
	    struct hmac_md5_state *st);
void	 hmac_md5_state_final(const struct hmac_md5_state *st,
	    const void *msg, size_t msglen, unsigned char digest[16]);
void	 hmac_md5_state_pack(const struct hmac_md5_state *st,
	    unsigned char out[32]);
void	 hmac_md5_state_unpack(const unsigned char in[32],
	    struct hmac_md5_state *st);

#endif /* SATCHEL_MD5_H */
