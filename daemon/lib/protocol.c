/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * protocol.c -- the pure parts of POP3 (see protocol.h): the command line
 * reader, keyword and argument splitting, the strict number parser, and
 * the streaming converter from stored message bytes to wire bytes, with
 * the sizer built on it.  No I/O, no allocation, no globals.  Runs
 * unprivileged in the worker; the sizer also runs in the mailbox agent
 * as the mail user.
 */
#include <stdint.h>
#include <string.h>

#include "compat/compat.h"

#include "satchel/module.h"
#include "buf.h"
#include "protocol.h"

#include "compat/poison.h"

/* What a header line held before its LF (TOP looks for the blank line). */
#define LINE_EMPTY	0
#define LINE_CR		1	/* just a CR: "\r\n" is a blank line too */
#define LINE_TEXT	2

#define FROM_LEN	5
static const char from_line[FROM_LEN + 1] = "From ";

/*
 * SATCHEL_MSG_HIDE: the header lines Dovecot's POP3 never serves from an
 * mbox (its mbox_hide_headers), lower case.  A line is one of them when
 * the bytes before its first ':', less trailing LWSP, are one of these
 * names in any case; the folded lines after it (starting with a space
 * or a tab) go with it.  The header ends at the first empty line ("\n"
 * or "\r\n").
 */
#define HS_NONE		0
#define HS_NAME		1	/* hbuf holds a line's start that may go */
#define HS_SKIP		2	/* inside a hidden line: nothing written */
static const char *const hide_names[] = {
	"content-length", "status", "x-imap", "x-imapbase", "x-keywords",
	"x-status", "x-uid",
};

/*
 * Caution: struct proto_xfer lives inside the opaque struct
 * satchel_msgsize that modules allocate, and the worker embeds it in its
 * own fixed-size state.
 */
_Static_assert(sizeof(struct proto_xfer) <= 128,
    "struct proto_xfer must fit in 128 bytes");
_Static_assert(sizeof(struct proto_xfer) <= sizeof(struct satchel_msgsize),
    "struct proto_xfer must fit in struct satchel_msgsize");

/* Write to out, or only count when out is NULL (proto_size). */
#define EMIT(s, n) do {							\
	if (out != NULL)						\
		memcpy(out + o, (s), (n));				\
	o += (n);							\
} while (0)
#define EMIT1(c) do {							\
	if (out != NULL)						\
		out[o] = (c);						\
	o++;								\
} while (0)

static void	 xfer_eol(struct proto_xfer *);
static size_t	 xfer_lines(struct proto_xfer *, const char *, size_t, char *,
		    uint64_t *);
static uint64_t	 xfer_run(struct proto_xfer *, const char *, size_t, char *);
static uint64_t	 xfer_finish(struct proto_xfer *, char *, int);
static int	 hide_match(const char *, size_t, int);

/* ---- line reader ------------------------------------------------- */

void
proto_reader_init(struct proto_reader *rd, size_t max)
{
	rd->max = max;
	rd->skipping = 0;
}

int
proto_getline(struct proto_reader *rd, struct buf *in, const char **line_r,
    size_t *len_r)
{
	char *p, *lf;
	size_t n, clen, limit;

	for (;;) {
		if (in->len == 0)
			return PROTO_LINE_NEED;
		p = buf_ptr(in);
		lf = memchr(p, '\n', in->len);
		if (!rd->skipping)
			break;
		/* The rest of an overlong line, already reported. */
		if (lf == NULL) {
			buf_consume(in, in->len);
			return PROTO_LINE_NEED;
		}
		buf_consume(in, (size_t)(lf - p) + 1);
		rd->skipping = 0;
	}

	if (lf == NULL) {
		/*
		 * A line that fits has at most max - 1 bytes before its LF
		 * (max - 2 and a CR), so max bytes without one can only be
		 * the start of an overlong line: drop them now, and the rest
		 * as it comes, so that the tail is never taken for a command.
		 */
		if (in->len >= rd->max) {
			buf_consume(in, in->len);
			rd->skipping = 1;
			return PROTO_LINE_TOOLONG;
		}
		return PROTO_LINE_NEED;
	}

	n = (size_t)(lf - p);
	clen = n;
	if (clen > 0 && p[clen - 1] == '\r')
		clen--;
	/* Consuming does not move data (buf.c), so p stays valid. */
	buf_consume(in, n + 1);
	limit = rd->max >= 2 ? rd->max - 2 : 0;
	if (clen > limit)
		return PROTO_LINE_TOOLONG;
	if (memchr(p, '\0', clen) != NULL)
		return PROTO_LINE_NUL;
	p[clen] = '\0';		/* overwrites the CR or the LF */
	*line_r = p;
	*len_r = clen;
	return PROTO_LINE_OK;
}

/* ---- commands and arguments -------------------------------------- */

int
proto_parse(const char *line, size_t len, struct proto_cmd *cmd)
{
	unsigned char c;
	size_t i, k;

	memset(cmd, 0, sizeof(*cmd));
	cmd->rest = "";
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			return -1;
	}
	for (k = 0; k < len && line[k] != ' '; k++) {
		if (k == PROTO_KEYWORD_MAX)
			goto bad;
		c = (unsigned char)line[k];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		else if (c < 'A' || c > 'Z')
			goto bad;
		cmd->keyword[k] = (char)c;
	}
	if (k == 0)
		goto bad;
	cmd->keyword[k] = '\0';
	if (k < len) {
		/* Everything after the first space, spaces included. */
		cmd->rest = line + k + 1;
		cmd->restlen = len - k - 1;
	}
	return 0;
 bad:
	memset(cmd->keyword, 0, sizeof(cmd->keyword));
	return -1;
}

int
proto_split(const char *rest, size_t len, char args[][PROTO_ARG_MAX + 1],
    int max)
{
	size_t i, start, n;
	int count = 0;

	i = 0;
	while (i < len) {
		if (rest[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < len && rest[i] != ' ') {
			if (rest[i] == '\0')
				return -1;
			i++;
		}
		n = i - start;
		if (n > PROTO_ARG_MAX || count >= max)
			return -1;
		memcpy(args[count], rest + start, n);
		args[count][n] = '\0';
		count++;
	}
	return count;
}

int
proto_number(const char *s, size_t len, uint64_t min, uint64_t max,
    uint64_t *val_r)
{
	uint64_t v = 0;
	unsigned int d;
	size_t i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned int)(s[i] - '0');
		/* Cannot happen with 19 digits, but stay overflow-safe. */
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*val_r = v;
	return 0;
}

/* ---- message converter ------------------------------------------- */

void
proto_xfer_init(struct proto_xfer *x, uint32_t flags, int dotstuff, int top,
    uint64_t top_lines)
{
	memset(x, 0, sizeof(*x));
	x->flags = flags;
	x->dotstuff = dotstuff;
	x->top = top;
	x->top_lines = top_lines;
	x->bol = 1;
	x->line = LINE_EMPTY;
}

/*
 * Are b[0..n) one of hide_names without case (full), or the start of
 * one?
 */
static int
hide_match(const char *b, size_t n, int full)
{
	size_t i, j, hl;
	unsigned char c;

	for (i = 0; i < sizeof(hide_names) / sizeof(hide_names[0]); i++) {
		hl = strlen(hide_names[i]);
		if (n > hl || (full && n != hl))
			continue;
		for (j = 0; j < n; j++) {
			c = (unsigned char)b[j];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			if (c != (unsigned char)hide_names[i][j])
				break;
		}
		if (j == n)
			return 1;
	}
	return 0;
}

/* A LF was written: count lines for TOP, start the next line. */
static void
xfer_eol(struct proto_xfer *x)
{
	if (x->line != LINE_TEXT)
		x->hdr_done = 1;	/* the empty line ends the header */
	if (x->top) {
		if (!x->in_body) {
			if (x->line != LINE_TEXT) {
				x->in_body = 1;
				if (x->top_lines == 0)
					x->done = 1;
			}
		} else if (++x->body_lines >= x->top_lines)
			x->done = 1;
	}
	x->bol = 1;
	x->line = LINE_EMPTY;
	x->last_cr = 0;
}

/*
 * The fast path of RETR (no TOP, inside a line): copy through each LF,
 * add the CR a bare LF lacks, and go straight on into the next line
 * while it starts with an ordinary byte, without going back through the
 * state machine.  Stops at the end of the input or before the first
 * byte of a line that needs care ('.', '>' with an mbox escape, CR, LF),
 * leaving x at the beginning of that line.  Writes at most 2 bytes per
 * byte read (the same bound as xfer_run).  Returns the bytes consumed
 * and adds what it wrote (or would write, when out is NULL) to *o_r.
 */
static size_t
xfer_lines(struct proto_xfer *x, const char *in, size_t inlen, char *out,
    uint64_t *o_r)
{
	const char *p = in, *end = in + inlen, *lf;
	uint64_t o = *o_r;
	size_t run;
	unsigned char c;
	int esc = (x->flags & (SATCHEL_MSG_MBOXRD | SATCHEL_MSG_MBOXO)) != 0;

	x->line = LINE_TEXT;
	for (;;) {
		lf = memchr(p, '\n', (size_t)(end - p));
		if (lf == NULL) {
			run = (size_t)(end - p);
			if (run > 0) {
				EMIT(p, run);
				x->last_cr = p[run - 1] == '\r';
			}
			p = end;
			break;
		}
		run = (size_t)(lf - p);
		if (run > 0) {
			EMIT(p, run);
			x->last_cr = p[run - 1] == '\r';
		}
		/* CRLF stays CRLF; a bare LF becomes CRLF. */
		if (x->last_cr)
			EMIT1('\n');
		else
			EMIT("\r\n", 2);
		x->last_cr = 0;
		p = lf + 1;
		if (p == end) {
			x->bol = 1;
			x->line = LINE_EMPTY;
			break;
		}
		c = (unsigned char)*p;
		if (c == '.' || c == '\n' || c == '\r' || (c == '>' && esc)) {
			x->bol = 1;
			x->line = LINE_EMPTY;
			break;
		}
		/* An ordinary first byte: the next line has begun. */
	}
	*o_r = o;
	return (size_t)(p - in);
}

/*
 * Convert in[0..inlen) to out, or only count when out is NULL.
 *
 * Output bound (why 3 * inlen + PROTO_XFER_SLACK is enough): the only
 * bytes written now that were read by an earlier call are the held
 * escape candidate, at most FROM_LEN bytes ('>' and "From").  Every
 * byte read by this call writes at most 2 bytes (SATCHEL_MSG_HIDE: plus
 * a line's start held as maybe hidden, at most PROTO_HNAME_MAX - 1
 * bytes read earlier, never held together with a '>'): an ordinary
 * byte 1; a
 * LF 2 ("\r\n"); a '.' at the beginning of a line 2 (".."); a '>' or a
 * letter of "From" that is held back 0 now and at most 1 when flushed,
 * whether in this call or a later one (the completed "From " writes 5
 * bytes for 6 read, the first '>' being dropped); a further '>' of
 * ">>From" 1.  A mismatching byte after held bytes is then handled as
 * an ordinary byte.  So one call writes at most 2 * inlen +
 * PROTO_HNAME_MAX - 1 <= 3 * inlen + PROTO_XFER_SLACK.  proto_xfer_end
 * writes at most PROTO_HNAME_MAX - 1 + 2 + 3 = 36 <= PROTO_XFER_SLACK.
 */
static uint64_t
xfer_run(struct proto_xfer *x, const char *in, size_t inlen, char *out)
{
	const char *lf;
	uint64_t o = 0;
	size_t i = 0, run;
	unsigned char c;

	int hide = (x->flags & SATCHEL_MSG_HIDE) != 0;

	while (i < inlen && !x->done) {
		if (hide && !x->hdr_done && !x->held_gt &&
		    (x->bol || x->hstate != HS_NONE)) {
			/* SATCHEL_MSG_HIDE, in the header, a line's start. */
			c = (unsigned char)in[i];
			if (x->hstate == HS_SKIP) {
				lf = memchr(in + i, '\n', inlen - i);
				if (lf == NULL) {
					i = inlen;
					break;
				}
				i = (size_t)(lf - in) + 1;
				x->hstate = HS_NONE;
				continue;
			}
			if (x->hstate == HS_NAME) {
				size_t nl = x->hlen - x->hlwsp;

				if (c == ':' && hide_match(x->hbuf, nl, 1)) {
					/* A hidden line: drop it. */
					x->hstate = HS_SKIP;
					x->hiding = 1;
					x->hlen = x->hlwsp = 0;
					i++;
					continue;
				}
				if (x->hlen < PROTO_HNAME_MAX - 1 &&
				    (((c == ' ' || c == '\t') &&
				    hide_match(x->hbuf, nl, 1)) ||
				    (x->hlwsp == 0 && (x->hbuf[x->hlen] =
				    (char)c, hide_match(x->hbuf,
				    (size_t)x->hlen + 1, 0))))) {
					x->hbuf[x->hlen++] = (char)c;
					if (c == ' ' || c == '\t')
						x->hlwsp++;
					i++;
					continue;
				}
				/* Kept: write what was held (letters first:
				 * nothing to stuff or unescape), then c
				 * inside the line. */
				EMIT(x->hbuf, x->hlen);
				x->hstate = HS_NONE;
				x->hlen = x->hlwsp = 0;
				x->bol = 0;
				x->line = LINE_TEXT;
				x->last_cr = 0;
				continue;
			}
			if (c == ' ' || c == '\t') {
				if (x->hiding) {
					/* A folded line of a hidden one. */
					x->hstate = HS_SKIP;
					continue;
				}
			} else if (hide_match((const char *)&in[i], 1, 0)) {
				x->hbuf[0] = (char)c;
				x->hlen = 1;
				x->hlwsp = 0;
				x->hstate = HS_NAME;
				x->hiding = 0;
				i++;
				continue;
			} else
				x->hiding = 0;
			/* Any other line: as without the flag. */
		}
		if (!x->bol && !x->held_gt && !x->top &&
		    (!hide || x->hdr_done)) {
			/* RETR: whole lines at a time (xfer_lines). */
			i += xfer_lines(x, in + i, inlen - i, out, &o);
			continue;
		}
		if (!x->bol && !x->held_gt) {
			/* Inside a line: copy through the next LF. */
			lf = memchr(in + i, '\n', inlen - i);
			run = (lf == NULL ? inlen : (size_t)(lf - in)) - i;
			if (run > 0) {
				EMIT(in + i, run);
				x->last_cr = in[i + run - 1] == '\r';
				x->line = LINE_TEXT;
				i += run;
			}
			if (lf == NULL)
				break;
			i++;
			/* CRLF stays CRLF; a bare LF becomes CRLF. */
			if (x->last_cr)
				EMIT1('\n');
			else
				EMIT("\r\n", 2);
			xfer_eol(x);
			continue;
		}

		c = (unsigned char)in[i++];
		if (x->held_gt) {
			/* A '>' at the start of the line, maybe ">From ". */
			if (c == (unsigned char)from_line[x->matched]) {
				if (++x->matched == FROM_LEN) {
					EMIT(from_line, FROM_LEN);
					x->held_gt = 0;
					x->matched = 0;
				}
				continue;
			}
			if (c == '>' && x->matched == 0 &&
			    (x->flags & SATCHEL_MSG_MBOXRD)) {
				/* ">>": keep one '>' held, write this one. */
				EMIT1('>');
				continue;
			}
			/* No escape: give back what was held, and handle c
			 * again as an ordinary byte inside the line. */
			EMIT1('>');
			EMIT(from_line, x->matched);
			x->held_gt = 0;
			x->matched = 0;
			i--;
			continue;
		}

		/* The first byte of a line. */
		x->bol = 0;
		x->line = LINE_TEXT;
		x->last_cr = 0;
		switch (c) {
		case '\n':
			/* An empty line: the end of the header for TOP. */
			x->line = LINE_EMPTY;
			EMIT("\r\n", 2);
			xfer_eol(x);
			break;
		case '\r':
			EMIT1('\r');
			x->last_cr = 1;
			x->line = LINE_CR;
			break;
		case '.':
			if (x->dotstuff)
				EMIT1('.');
			EMIT1('.');
			break;
		case '>':
			if (x->flags &
			    (SATCHEL_MSG_MBOXRD | SATCHEL_MSG_MBOXO)) {
				x->held_gt = 1;
				break;
			}
			/* FALLTHROUGH */
		default:
			EMIT1((char)c);
			break;
		}
	}
	return o;
}

/*
 * eol: end an unfinished last line with CRLF (what RETR sends).  The
 * sizer passes 0: like Dovecot and popa3d, an RFC 1939 size counts the
 * stored message's octets, not the line end sent only so that the
 * terminator stands on a line of its own.
 */
static uint64_t
xfer_finish(struct proto_xfer *x, char *out, int eol)
{
	uint64_t o = 0;

	if (x->hstate == HS_NAME) {
		/* A line's start held as maybe hidden: it was not. */
		EMIT(x->hbuf, x->hlen);
		x->bol = 0;
		x->last_cr = 0;
	}
	x->hstate = HS_NONE;
	x->hlen = x->hlwsp = 0;
	if (x->held_gt) {
		EMIT1('>');
		EMIT(from_line, x->matched);
		x->held_gt = 0;
		x->matched = 0;
		x->last_cr = 0;
	}
	/* A CR at the very end stays a byte of the line: "\r\r\n", as
	 * Dovecot sends it. */
	if (!x->bol && eol)
		EMIT("\r\n", 2);
	if (x->dotstuff)
		EMIT(".\r\n", 3);
	x->bol = 1;
	x->line = LINE_EMPTY;
	x->last_cr = 0;
	x->done = 1;
	return o;
}

size_t
proto_xfer(struct proto_xfer *x, const char *in, size_t inlen, char *out)
{
	return (size_t)xfer_run(x, in, inlen, out);
}

size_t
proto_xfer_clean(struct proto_xfer *x, const char *in, size_t inlen)
{
	const char *p = in, *end = in + inlen, *lf;
	unsigned char c;
	int esc = (x->flags & (SATCHEL_MSG_MBOXRD | SATCHEL_MSG_MBOXO)) != 0;

	if (x->top || x->held_gt || x->done ||
	    ((x->flags & SATCHEL_MSG_HIDE) && !x->hdr_done))
		return 0;
	while (p < end) {
		if (x->bol) {
			c = (unsigned char)*p;
			/* Lines the converter changes: dot-stuffed, a bare
			 * LF (an empty line), maybe an mbox escape. */
			if (c == '.' || c == '\n' || (c == '>' && esc))
				break;
			x->bol = 0;
			x->line = c == '\r' ? LINE_CR : LINE_TEXT;
			x->last_cr = c == '\r';
			p++;
			continue;
		}
		lf = memchr(p, '\n', (size_t)(end - p));
		if (lf == NULL) {
			x->last_cr = end[-1] == '\r';
			x->line = LINE_TEXT;
			p = end;
			break;
		}
		if (lf > p) {
			x->last_cr = lf[-1] == '\r';
			x->line = LINE_TEXT;
		}
		if (!x->last_cr) {
			/* A bare LF: the converter adds a CR here. */
			p = lf;
			break;
		}
		p = lf + 1;
		xfer_eol(x);
	}
	return (size_t)(p - in);
}

size_t
proto_xfer_end(struct proto_xfer *x, char *out)
{
	return (size_t)xfer_finish(x, out, 1);
}

int
proto_xfer_done(const struct proto_xfer *x)
{
	return x->done;
}

uint64_t
proto_size(struct proto_xfer *x, const char *in, size_t inlen)
{
	return xfer_run(x, in, inlen, NULL);
}

uint64_t
proto_size_end(struct proto_xfer *x)
{
	return xfer_finish(x, NULL, 0);
}

/* ---- sizer for struct satchel_core ------------------------------- */

/*
 * The state is copied in and out rather than accessed through a cast
 * pointer: the opaque storage is declared as uint64_t[], and memcpy
 * keeps this clear of strict-aliasing trouble at no measurable cost.
 */
void
proto_msgsize_init(struct satchel_msgsize *st, uint32_t flags)
{
	struct proto_xfer x;

	memset(st, 0, sizeof(*st));
	proto_xfer_init(&x, flags, 0, 0, 0);
	memcpy(st->opaque, &x, sizeof(x));
}

uint64_t
proto_msgsize_feed(struct satchel_msgsize *st, const char *p, size_t len)
{
	struct proto_xfer x;
	uint64_t n;

	memcpy(&x, st->opaque, sizeof(x));
	n = proto_size(&x, p, len);
	memcpy(st->opaque, &x, sizeof(x));
	return n;
}

uint64_t
proto_msgsize_end(struct satchel_msgsize *st)
{
	struct proto_xfer x;
	uint64_t n;

	memcpy(&x, st->opaque, sizeof(x));
	n = proto_size_end(&x);
	memcpy(st->opaque, &x, sizeof(x));
	return n;
}
