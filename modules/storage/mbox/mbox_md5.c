/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mbox_md5.c -- MD5 (RFC 1321) for uidl_format's %m, Dovecot's header
 * MD5 (mbox_uid.c, mb_md5_line() in mbox_scan.c).  The same code as the
 * core's daemon/lib/md5.c: storage modules build against the installed
 * headers alone and the core interface offers no MD5.  Pure code.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "satchel/module.h"
#include "mbox.h"

#define MB_MD5_BLOCK	64

static uint32_t	mb_md5_rol(uint32_t x, unsigned int n);
static void	mb_md5_transform(uint32_t state[4],
		    const unsigned char block[64]);

/* Per-round shift amounts (RFC 1321 section 3.4). */
static const uint8_t mb_md5_shift[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

/* T[i] = floor(2^32 * abs(sin(i + 1))), RFC 1321 section 3.4. */
static const uint32_t mb_md5_t[64] = {
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

static uint32_t
mb_md5_rol(uint32_t x, unsigned int n)
{
	return (x << n) | (x >> (32 - n));
}

/* One 512-bit block, RFC 1321 section 3.4; words are little-endian. */
static void
mb_md5_transform(uint32_t state[4], const unsigned char block[64])
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
		b = b + mb_md5_rol(a + f + mb_md5_t[i] + x[g], mb_md5_shift[i]);
		a = tmp;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
}

void
mb_md5_init(struct mb_md5 *ctx)
{
	ctx->state[0] = 0x67452301;
	ctx->state[1] = 0xefcdab89;
	ctx->state[2] = 0x98badcfe;
	ctx->state[3] = 0x10325476;
	ctx->count = 0;
	memset(ctx->buffer, 0, sizeof(ctx->buffer));
}

void
mb_md5_update(struct mb_md5 *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t have, need;

	if (len == 0)
		return;
	have = (size_t)(ctx->count % MB_MD5_BLOCK);
	ctx->count += len;
	if (have > 0) {
		need = MB_MD5_BLOCK - have;
		if (len < need) {
			memcpy(ctx->buffer + have, p, len);
			return;
		}
		memcpy(ctx->buffer + have, p, need);
		mb_md5_transform(ctx->state, ctx->buffer);
		p += need;
		len -= need;
	}
	while (len >= MB_MD5_BLOCK) {
		mb_md5_transform(ctx->state, p);
		p += MB_MD5_BLOCK;
		len -= MB_MD5_BLOCK;
	}
	if (len > 0)
		memcpy(ctx->buffer, p, len);
}

/*
 * Pad with 0x80, zeros to 56 mod 64, then the message length in bits as
 * a little-endian 64-bit number (RFC 1321 sections 3.1 and 3.2). 
 */
void
mb_md5_final(struct mb_md5 *ctx, unsigned char digest[16])
{
	unsigned char pad[MB_MD5_BLOCK + 8];
	uint64_t bits = ctx->count << 3;
	size_t have, padlen, i;

	have = (size_t)(ctx->count % MB_MD5_BLOCK);
	padlen = (have < 56) ? 56 - have : 120 - have;
	memset(pad, 0, sizeof(pad));
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (8 * i));
	mb_md5_update(ctx, pad, padlen + 8);

	for (i = 0; i < 4; i++) {
		digest[i * 4] = (unsigned char)ctx->state[i];
		digest[i * 4 + 1] = (unsigned char)(ctx->state[i] >> 8);
		digest[i * 4 + 2] = (unsigned char)(ctx->state[i] >> 16);
		digest[i * 4 + 3] = (unsigned char)(ctx->state[i] >> 24);
	}
}
