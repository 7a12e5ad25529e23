/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_proto.c -- libFuzzer target for daemon/protocol.c.
 *
 * Input: two parameter bytes, then the payload.  The payload goes
 *  1. through proto_reader/proto_getline in chunks (sizes drawn from a
 *     PRNG seeded by the input), and every result is checked against a
 *     simple whole-input model of the reader; each line then goes
 *     through proto_parse, proto_split and proto_number;
 *  2. through proto_xfer for every flag combination, dotstuff on/off,
 *     TOP on/off, whole and in random chunks, each chunk converted into
 *     an exactly sized heap buffer (3 * len + PROTO_XFER_SLACK), and is
 *     compared with a line-by-line model of the converter.  Checked:
 *     chunking does not change the output; proto_size and the core's
 *     msg_size equal the bytes written with dotstuff and TOP off, less
 *     the line end added to an unfinished last line; SATCHEL_MSG_HIDE's
 *     header lines are modelled by hidden_line(); with
 *     dotstuff, no line of the output is a lone "." before the
 *     terminator, and every LF is preceded by CR; and the zero-copy
 *     path (proto_xfer_clean's prefix of each chunk sent as stored, the
 *     rest converted) writes exactly the model's bytes too.
 * Any violation calls abort().  Everything is freed on every path.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "buf.h"
#include "protocol.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct out {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
out_add(struct out *o, const char *p, size_t n)
{
	size_t ncap;

	if (o->len + n > o->cap) {
		ncap = (o->len + n) * 2 + 64;
		if ((o->p = realloc(o->p, ncap)) == NULL)
			abort();
		o->cap = ncap;
	}
	if (n > 0)
		memcpy(o->p + o->len, p, n);
	o->len += n;
}

/* xorshift64*: chunk sizes that depend only on the input. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static size_t
chunk_len(uint64_t *s, size_t left)
{
	size_t n;

	switch (rnd(s) % 4) {
	case 0:
		n = 1;
		break;
	case 1:
		n = 1 + rnd(s) % 8;
		break;
	case 2:
		n = 1 + rnd(s) % 300;
		break;
	default:
		n = left;
		break;
	}
	return n < left ? n : left;
}

/* ---- line reader ------------------------------------------------- */

#define EV_OK		1
#define EV_LONG		2
#define EV_NUL		3

struct event {
	int		 type;
	const uint8_t	*line;	/* EV_OK: in the payload */
	size_t		 len;
};

static void
check_line(const char *line, size_t len)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	struct proto_cmd cmd;
	uint64_t v, ref;
	size_t i, alen;
	int n, j, digits;

	if (proto_parse(line, len, &cmd) == 0) {
		n = (int)strlen(cmd.keyword);
		if (n < 1 || n > PROTO_KEYWORD_MAX)
			abort();
		for (j = 0; j < n; j++)
			if (cmd.keyword[j] < 'A' || cmd.keyword[j] > 'Z')
				abort();
		if (cmd.restlen > 0 && (cmd.rest < line ||
		    cmd.rest + cmd.restlen != line + len))
			abort();
		for (i = 0; i < len; i++)
			if ((unsigned char)line[i] < 0x20 ||
			    (unsigned char)line[i] == 0x7f)
				abort();
		n = proto_split(cmd.rest, cmd.restlen, args, PROTO_ARGS_MAX);
		if (n > PROTO_ARGS_MAX)
			abort();
		for (j = 0; j < n; j++) {
			alen = strlen(args[j]);
			if (alen == 0 || alen > PROTO_ARG_MAX ||
			    memchr(args[j], ' ', alen) != NULL)
				abort();
			/* The strict parser against a reference. */
			digits = 1;
			ref = 0;
			for (i = 0; i < alen; i++) {
				if (args[j][i] < '0' || args[j][i] > '9')
					digits = 0;
				else
					ref = ref * 10 +
					    (uint64_t)(args[j][i] - '0');
			}
			digits = digits && alen <= 19;
			if ((proto_number(args[j], alen, 0, UINT64_MAX,
			    &v) == 0) != digits)
				abort();
			if (digits && v != ref)
				abort();
			if (digits && proto_number(args[j], alen, ref + 1,
			    UINT64_MAX, &v) == 0)
				abort();
			if (digits && ref > 0 && proto_number(args[j], alen,
			    0, ref - 1, &v) == 0)
				abort();
		}
	}
	(void)proto_number(line, len, 0, UINT64_MAX, &v);
}

/* What the reader must report for the whole payload. */
static size_t
reader_model(size_t max, const uint8_t *p, size_t len, struct event *ev)
{
	const uint8_t *lf;
	size_t n = 0, off = 0, raw, clen, limit;

	limit = max >= 2 ? max - 2 : 0;
	while (off < len) {
		lf = memchr(p + off, '\n', len - off);
		if (lf == NULL) {
			if (len - off >= max)
				ev[n++].type = EV_LONG;
			break;
		}
		raw = (size_t)(lf - (p + off));
		clen = raw;
		if (clen > 0 && p[off + clen - 1] == '\r')
			clen--;
		if (clen > limit)
			ev[n].type = EV_LONG;
		else if (memchr(p + off, '\0', clen) != NULL)
			ev[n].type = EV_NUL;
		else {
			ev[n].type = EV_OK;
			ev[n].line = p + off;
			ev[n].len = clen;
		}
		n++;
		off += raw + 1;
	}
	return n;
}

static void
fuzz_reader(size_t max, uint64_t seed, const uint8_t *p, size_t len)
{
	struct proto_reader rd;
	struct buf b;
	struct event *ev;
	const char *line;
	size_t nev, k = 0, off = 0, n, lineno;
	int r;

	if ((ev = calloc(len + 1, sizeof(*ev))) == NULL)
		abort();
	nev = reader_model(max, p, len, ev);
	proto_reader_init(&rd, max);
	buf_init(&b, max + 512);
	while (off < len) {
		/* The buffer holds less than max after each drain. */
		n = chunk_len(&seed, len - off < 512 ? len - off : 512);
		if (buf_append(&b, p + off, n) != 0)
			abort();
		off += n;
		while ((r = proto_getline(&rd, &b, &line, &lineno)) !=
		    PROTO_LINE_NEED) {
			if (k >= nev)
				abort();
			switch (r) {
			case PROTO_LINE_OK:
				if (ev[k].type != EV_OK ||
				    lineno != ev[k].len ||
				    memcmp(line, ev[k].line, lineno) != 0 ||
				    line[lineno] != '\0')
					abort();
				check_line(line, lineno);
				break;
			case PROTO_LINE_TOOLONG:
				if (ev[k].type != EV_LONG)
					abort();
				break;
			case PROTO_LINE_NUL:
				if (ev[k].type != EV_NUL)
					abort();
				break;
			default:
				abort();
			}
			k++;
		}
		if (b.len >= max)
			abort();
	}
	if (k != nev)
		abort();
	buf_free(&b);
	free(ev);
}

/* ---- converter --------------------------------------------------- */

/*
 * SATCHEL_MSG_HIDE: is this header line one of Dovecot's mbox headers?
 * Its first ':' within the first PROTO_HNAME_MAX bytes, before it one of
 * the names in any case, then only LWSP.
 */
static int
hidden_line(const uint8_t *l, size_t n)
{
	static const char *const names[] = {
		"content-length", "status", "x-imap", "x-imapbase",
		"x-keywords", "x-status", "x-uid",
	};
	const uint8_t *colon;
	size_t k, nl, i, j;

	if ((colon = memchr(l, ':', n)) == NULL)
		return 0;
	k = (size_t)(colon - l);
	if (k > PROTO_HNAME_MAX - 1)
		return 0;
	for (nl = k; nl > 0 && (l[nl - 1] == ' ' || l[nl - 1] == '\t'); nl--)
		;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) != nl)
			continue;
		for (j = 0; j < nl; j++)
			if (tolower(l[j]) != names[i][j])
				break;
		if (j == nl)
			return 1;
	}
	return 0;
}

/* The converter, one whole line at a time: the specification. */
static void
xfer_model(const uint8_t *p, size_t len, uint32_t flags, int dotstuff,
    int top, uint64_t top_lines, struct out *o)
{
	const uint8_t *lf, *l;
	size_t off = 0, n, k, ll;
	uint64_t body = 0;
	int in_body = 0, has_lf, in_hdr, hiding = 0;

	o->len = 0;
	in_hdr = (flags & SATCHEL_MSG_HIDE) != 0;
	while (off < len) {
		lf = memchr(p + off, '\n', len - off);
		has_lf = lf != NULL;
		n = has_lf ? (size_t)(lf - (p + off)) : len - off;
		l = p + off;
		ll = n;
		if (in_hdr) {
			if (has_lf && (n == 0 || (n == 1 && l[0] == '\r')))
				in_hdr = 0;
			else if (hiding && (l[0] == ' ' || l[0] == '\t')) {
				off += n + (has_lf ? 1 : 0);
				continue;
			} else {
				hiding = hidden_line(l, n);
				if (hiding) {
					off += n + (has_lf ? 1 : 0);
					continue;
				}
			}
		}
		if (flags & SATCHEL_MSG_MBOXRD) {
			for (k = 0; k < ll && l[k] == '>'; k++)
				;
			if (k > 0 && ll - k >= 5 &&
			    memcmp(l + k, "From ", 5) == 0) {
				l++;
				ll--;
			}
		} else if (flags & SATCHEL_MSG_MBOXO) {
			if (ll >= 6 && memcmp(l, ">From ", 6) == 0) {
				l++;
				ll--;
			}
		}
		if (dotstuff && ll > 0 && l[0] == '.')
			out_add(o, ".", 1);
		out_add(o, (const char *)l, ll);
		if (has_lf && ll > 0 && l[ll - 1] == '\r')
			out_add(o, "\n", 1);
		else
			out_add(o, "\r\n", 2);
		off += n + (has_lf ? 1 : 0);
		if (top && has_lf) {
			if (!in_body) {
				if (n == 0 || (n == 1 && p[off - 2] == '\r')) {
					in_body = 1;
					if (top_lines == 0)
						break;
				}
			} else if (++body >= top_lines)
				break;
		}
	}
	if (dotstuff)
		out_add(o, ".\r\n", 3);
}

static void
xfer_chunks(const uint8_t *p, size_t len, uint32_t flags, int dotstuff,
    int top, uint64_t top_lines, uint64_t seed, int whole, int zc,
    struct out *o)
{
	struct proto_xfer x;
	size_t off = 0, n, w, room, k;
	char *buf;

	o->len = 0;
	proto_xfer_init(&x, flags, dotstuff, top, top_lines);
	while (off < len) {
		n = whole ? len : chunk_len(&seed, len - off);
		room = 3 * n + PROTO_XFER_SLACK;
		if ((buf = malloc(room)) == NULL)
			abort();
		k = 0;
		if (zc) {
			/*
			 * The worker's zero-copy path: the clean prefix goes
			 * out as stored (sendfile), the rest is converted.
			 */
			k = proto_xfer_clean(&x, (const char *)p + off, n);
			if (k > n || (top && k != 0))
				abort();
			out_add(o, (const char *)p + off, k);
		}
		w = proto_xfer(&x, (const char *)p + off + k, n - k, buf);
		if (w > room)
			abort();
		out_add(o, buf, w);
		free(buf);
		off += n;
		if (proto_xfer_done(&x) && !top)
			abort();
	}
	if ((buf = malloc(PROTO_XFER_SLACK)) == NULL)
		abort();
	w = proto_xfer_end(&x, buf);
	if (w > PROTO_XFER_SLACK)
		abort();
	out_add(o, buf, w);
	free(buf);
}

static uint64_t
size_chunks(const uint8_t *p, size_t len, uint32_t flags, uint64_t seed)
{
	struct proto_xfer x;
	struct satchel_msgsize st;
	uint64_t a = 0, b = 0;
	size_t off = 0, n;

	proto_xfer_init(&x, flags, 0, 0, 0);
	proto_msgsize_init(&st, flags);
	while (off < len) {
		n = chunk_len(&seed, len - off);
		a += proto_size(&x, (const char *)p + off, n);
		b += proto_msgsize_feed(&st, (const char *)p + off, n);
		off += n;
	}
	a += proto_size_end(&x);
	b += proto_msgsize_end(&st);
	if (a != b)
		abort();
	return a;
}

/*
 * The CRLF proto_xfer_end adds to an unfinished last line, 2 or 0: with
 * dotstuff off it writes anything only when it writes that CRLF (the
 * rest are the held bytes of that line).
 */
static size_t
added(const uint8_t *p, size_t len, uint32_t flags)
{
	struct proto_xfer x;
	char *tmp, end[PROTO_XFER_SLACK];
	size_t n;

	if ((tmp = malloc(3 * len + PROTO_XFER_SLACK)) == NULL)
		abort();
	proto_xfer_init(&x, flags, 0, 0, 0);
	(void)proto_xfer(&x, (const char *)p, len, tmp);
	free(tmp);
	n = proto_xfer_end(&x, end);
	if (n > 0 && (n < 2 || memcmp(end + n - 2, "\r\n", 2) != 0))
		abort();
	return n > 0 ? 2 : 0;
}

static void
check_wire(const struct out *o)
{
	size_t i, end;

	/* Ends with the terminator, which is the only lone "." line. */
	if (o->len < 3 || memcmp(o->p + o->len - 3, ".\r\n", 3) != 0)
		abort();
	end = o->len - 3;
	if (end > 0 && (end < 2 || o->p[end - 1] != '\n' ||
	    o->p[end - 2] != '\r'))
		abort();
	for (i = 0; i < o->len; i++) {
		if (o->p[i] == '\n' && (i == 0 || o->p[i - 1] != '\r'))
			abort();
		/* At a line start before the terminator, a '.' is doubled. */
		if (i < end && (i == 0 || o->p[i - 1] == '\n') &&
		    o->p[i] == '.' && (i + 1 >= end || o->p[i + 1] != '.'))
			abort();
	}
	for (i = 0; i + 5 <= end; i++)
		if (memcmp(o->p + i, "\r\n.\r\n", 5) == 0)
			abort();
}

static void
fuzz_xfer(const uint8_t *p, size_t len, uint64_t top_lines, uint64_t seed)
{
	static const uint32_t flagsets[] = {
		0, SATCHEL_MSG_MBOXRD, SATCHEL_MSG_MBOXO,
		SATCHEL_MSG_MBOXRD | SATCHEL_MSG_MBOXO | SATCHEL_MSG_CRLF,
		SATCHEL_MSG_HIDE, SATCHEL_MSG_HIDE | SATCHEL_MSG_MBOXRD,
	};
	struct out model = { NULL, 0, 0 }, o = { NULL, 0, 0 };
	size_t f;
	int dot, top;

	for (f = 0; f < sizeof(flagsets) / sizeof(flagsets[0]); f++) {
		for (dot = 0; dot <= 1; dot++) {
			for (top = 0; top <= 1; top++) {
				xfer_model(p, len, flagsets[f], dot, top,
				    top_lines, &model);
				xfer_chunks(p, len, flagsets[f], dot, top,
				    top_lines, seed, 1, 0, &o);
				if (o.len != model.len || (o.len > 0 &&
				    memcmp(o.p, model.p, o.len) != 0))
					abort();
				xfer_chunks(p, len, flagsets[f], dot, top,
				    top_lines, rnd(&seed), 0, 0, &o);
				if (o.len != model.len || (o.len > 0 &&
				    memcmp(o.p, model.p, o.len) != 0))
					abort();
				/* Zero-copy prefixes, whole and chunked. */
				xfer_chunks(p, len, flagsets[f], dot, top,
				    top_lines, seed, 1, 1, &o);
				if (o.len != model.len || (o.len > 0 &&
				    memcmp(o.p, model.p, o.len) != 0))
					abort();
				xfer_chunks(p, len, flagsets[f], dot, top,
				    top_lines, rnd(&seed), 0, 1, &o);
				if (o.len != model.len || (o.len > 0 &&
				    memcmp(o.p, model.p, o.len) != 0))
					abort();
				if (dot)
					check_wire(&o);
				/* The size leaves out the CRLF added to an
				 * unfinished last line. */
				if (!dot && !top && size_chunks(p, len,
				    flagsets[f], rnd(&seed)) != o.len -
				    added(p, len, flagsets[f]))
					abort();
			}
		}
	}
	free(model.p);
	free(o.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed;
	size_t i;

	if (size < 2)
		return 0;
	/* FNV-1a of the whole input seeds the chunking. */
	seed = 14695981039346656037ULL;
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 1099511628211ULL;
	seed |= 1;

	fuzz_reader(data[0] < 200 ? 2 + (size_t)data[0] : PROTO_LINE_MAX,
	    seed, data + 2, size - 2);
	fuzz_xfer(data + 2, size - 2, data[1] % 8, seed);
	return 0;
}
