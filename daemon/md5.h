/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * md5.h -- MD5 (RFC 1321) and HMAC-MD5 (RFC 2104), for APOP and
 * CRAM-MD5 only.  Not for passwords at rest.
 */
#ifndef SATCHEL_MD5_H
#define SATCHEL_MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LENGTH_	16

struct md5_ctx {
	uint32_t	 state[4];
	uint64_t	 count;		/* bytes */
	unsigned char	 buffer[64];
};

void	 md5_init(struct md5_ctx *ctx);
void	 md5_update(struct md5_ctx *ctx, const void *data, size_t len);
void	 md5_final(struct md5_ctx *ctx, unsigned char digest[16]);
/* digest -> 32 lower-case hex digits + NUL */
void	 md5_hex(const unsigned char digest[16], char hex[33]);
void	 hmac_md5(const void *key, size_t keylen, const void *msg,
	    size_t msglen, unsigned char digest[16]);

#endif /* SATCHEL_MD5_H */
