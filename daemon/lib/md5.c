/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * md5.c -- MD5 (RFC 1321), written from the algorithm, and HMAC-MD5
 * (RFC 2104).  Used for APOP digests, CRAM-MD5 and constant-time
 * comparison of plaintext secrets; never for passwords at rest.  Pure
 * functions, no state beyond the caller's context: runs in any process
 * with any privileges.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compat/compat.h"
#include "md5.h"
#include "compat/poison.h"

#define MD5_BLOCK	64

static uint32_t	md5_rol(uint32_t x, unsigned int n);
static void	md5_transform(uint32_t state[4], const unsigned char block[64]);
static void	md5_wipe(void *p, size_t len);

/* Per-round shift amounts (RFC 1321 section 3.4). */
static const uint8_t md5_shift[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

/* T[i] = floor(2^32 * abs(sin(i + 1))), RFC 1321 section 3.4. */
static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
	0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
	0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
	0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
	0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/*
 * Wipe key material.  The digest contexts of APOP and CRAM-MD5 hold the
 * shared secret, so they are cleared on every path.
 */
static void
md5_wipe(void *p, size_t len)
{
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, len);
#else
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
#endif
}

static uint32_t
md5_rol(uint32_t x, unsigned int n)
{
	return (x << n) | (x >> (32 - n));
}

/* One 512-bit block, RFC 1321 section 3.4; words are little-endian. */
static void
md5_transform(uint32_t state[4], const unsigned char block[64])
{
	uint32_t a, b, c, d, f, tmp, x[16];
	unsigned int i, g;

	for (i = 0; i < 16; i++)
		x[i] = (uint32_t)block[i * 4] |
		    (uint32_t)block[i * 4 + 1] << 8 |
		    (uint32_t)block[i * 4 + 2] << 16 |
		    (uint32_t)block[i * 4 + 3] << 24;

	a = state[0];
	b = state[1];
	c = state[2];
	d = state[3];
	for (i = 0; i < 64; i++) {
		switch (i / 16) {
		case 0:		/* F(X,Y,Z) = XY v not(X) Z */
			f = (b & c) | (~b & d);
			g = i;
			break;
		case 1:		/* G(X,Y,Z) = XZ v Y not(Z) */
			f = (b & d) | (c & ~d);
			g = (5 * i + 1) % 16;
			break;
		case 2:		/* H(X,Y,Z) = X xor Y xor Z */
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
			break;
		default:	/* I(X,Y,Z) = Y xor (X v not(Z)) */
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
			break;
		}
		tmp = d;
		d = c;
		c = b;
		b = b + md5_rol(a + f + md5_t[i] + x[g], md5_shift[i]);
		a = tmp;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
	md5_wipe(x, sizeof(x));
}

void
md5_init(struct satchel_md5 *ctx)
{
	ctx->state[0] = 0x67452301;
	ctx->state[1] = 0xefcdab89;
	ctx->state[2] = 0x98badcfe;
	ctx->state[3] = 0x10325476;
	ctx->count = 0;
	memset(ctx->buffer, 0, sizeof(ctx->buffer));
}

void
md5_update(struct satchel_md5 *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t have, need;

	if (len == 0)
		return;
	have = (size_t)(ctx->count % MD5_BLOCK);
	ctx->count += len;
	if (have > 0) {
		need = MD5_BLOCK - have;
		if (len < need) {
			memcpy(ctx->buffer + have, p, len);
			return;
		}
		memcpy(ctx->buffer + have, p, need);
		md5_transform(ctx->state, ctx->buffer);
		p += need;
		len -= need;
	}
	while (len >= MD5_BLOCK) {
		md5_transform(ctx->state, p);
		p += MD5_BLOCK;
		len -= MD5_BLOCK;
	}
	if (len > 0)
		memcpy(ctx->buffer, p, len);
}

/*
 * Pad with 0x80, zeros to 56 mod 64, then the message length in bits as
 * a little-endian 64-bit number (RFC 1321 sections 3.1 and 3.2).  The
 * context is wiped afterwards.
 */
void
md5_final(struct satchel_md5 *ctx, unsigned char digest[16])
{
	unsigned char pad[MD5_BLOCK + 8];
	uint64_t bits = ctx->count << 3;
	size_t have, padlen, i;

	have = (size_t)(ctx->count % MD5_BLOCK);
	padlen = (have < 56) ? 56 - have : 120 - have;
	memset(pad, 0, sizeof(pad));
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (8 * i));
	md5_update(ctx, pad, padlen + 8);

	for (i = 0; i < 4; i++) {
		digest[i * 4] = (unsigned char)ctx->state[i];
		digest[i * 4 + 1] = (unsigned char)(ctx->state[i] >> 8);
		digest[i * 4 + 2] = (unsigned char)(ctx->state[i] >> 16);
		digest[i * 4 + 3] = (unsigned char)(ctx->state[i] >> 24);
	}
	md5_wipe(ctx, sizeof(*ctx));
}

void
md5_hex(const unsigned char digest[16], char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 16; i++) {
		hex[i * 2] = digits[digest[i] >> 4];
		hex[i * 2 + 1] = digits[digest[i] & 0x0f];
	}
	hex[32] = '\0';
}

/*
 * HMAC-MD5 (RFC 2104): MD5(K xor opad, MD5(K xor ipad, msg)), where a key
 * longer than the block size is first replaced by its MD5.
 */
void
hmac_md5(const void *key, size_t keylen, const void *msg, size_t msglen,
    unsigned char digest[16])
{
	struct satchel_md5 ctx;
	unsigned char k[MD5_BLOCK], pad[MD5_BLOCK], inner[16];
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > MD5_BLOCK) {
		md5_init(&ctx);
		md5_update(&ctx, key, keylen);
		md5_final(&ctx, k);
	} else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < MD5_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	md5_init(&ctx);
	md5_update(&ctx, pad, sizeof(pad));
	md5_update(&ctx, msg, msglen);
	md5_final(&ctx, inner);

	for (i = 0; i < MD5_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	md5_init(&ctx);
	md5_update(&ctx, pad, sizeof(pad));
	md5_update(&ctx, inner, sizeof(inner));
	md5_final(&ctx, digest);

	md5_wipe(k, sizeof(k));
	md5_wipe(pad, sizeof(pad));
	md5_wipe(inner, sizeof(inner));
}

/* The chaining values after one 64-byte block of key xor pad. */
static void
hmac_md5_pad_state(const unsigned char k[MD5_BLOCK], unsigned char x,
    uint32_t out[4])
{
	struct satchel_md5 ctx;
	unsigned char pad[MD5_BLOCK];
	size_t i;

	for (i = 0; i < MD5_BLOCK; i++)
		pad[i] = k[i] ^ x;
	md5_init(&ctx);
	md5_update(&ctx, pad, sizeof(pad));
	memcpy(out, ctx.state, sizeof(ctx.state));
	md5_wipe(pad, sizeof(pad));
	md5_wipe(&ctx, sizeof(ctx));
}

void
hmac_md5_state_init(const void *key, size_t keylen, struct hmac_md5_state *st)
{
	struct satchel_md5 ctx;
	unsigned char k[MD5_BLOCK];

	memset(k, 0, sizeof(k));
	if (keylen > MD5_BLOCK) {
		md5_init(&ctx);
		md5_update(&ctx, key, keylen);
		md5_final(&ctx, k);
	} else if (keylen > 0)
		memcpy(k, key, keylen);
	hmac_md5_pad_state(k, 0x36, st->inner);
	hmac_md5_pad_state(k, 0x5c, st->outer);
	md5_wipe(k, sizeof(k));
}

/* Resume MD5 after one block, from its chaining values. */
static void
md5_resume(struct satchel_md5 *ctx, const uint32_t state[4])
{
	memset(ctx, 0, sizeof(*ctx));
	memcpy(ctx->state, state, sizeof(ctx->state));
	ctx->count = MD5_BLOCK;
}

void
hmac_md5_state_final(const struct hmac_md5_state *st, const void *msg,
    size_t msglen, unsigned char digest[16])
{
	struct satchel_md5 ctx;
	unsigned char inner[16];

	md5_resume(&ctx, st->inner);
	md5_update(&ctx, msg, msglen);
	md5_final(&ctx, inner);
	md5_resume(&ctx, st->outer);
	md5_update(&ctx, inner, sizeof(inner));
	md5_final(&ctx, digest);
	md5_wipe(inner, sizeof(inner));
}

void
hmac_md5_state_pack(const struct hmac_md5_state *st, unsigned char out[32])
{
	size_t i;
	uint32_t w;

	for (i = 0; i < 8; i++) {
		w = i < 4 ? st->outer[i] : st->inner[i - 4];
		out[i * 4] = (unsigned char)w;
		out[i * 4 + 1] = (unsigned char)(w >> 8);
		out[i * 4 + 2] = (unsigned char)(w >> 16);
		out[i * 4 + 3] = (unsigned char)(w >> 24);
	}
}

void
hmac_md5_state_unpack(const unsigned char in[32], struct hmac_md5_state *st)
{
	size_t i;
	uint32_t w;

	for (i = 0; i < 8; i++) {
		w = (uint32_t)in[i * 4] | (uint32_t)in[i * 4 + 1] << 8 |
		    (uint32_t)in[i * 4 + 2] << 16 |
		    (uint32_t)in[i * 4 + 3] << 24;
		if (i < 4)
			st->outer[i] = w;
		else
			st->inner[i - 4] = w;
	}
}
