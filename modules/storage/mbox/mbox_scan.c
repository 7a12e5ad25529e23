/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mbox_scan.c -- the mbox scanner: message boundaries, sizes and UID
 * keys (the rules are at the top of storage_mbox.c).  Pure code: it
 * reads the file only through the scanner's read() callback and logs
 * nothing, so the fuzz target drives it over bytes in memory.  Runs in
 * the mailbox agent as the mail user, never privileged.
 */
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "mbox.h"

#define H_NONE		0
#define H_MSGID		1
#define H_DATE		2
#define H_XUIDL		3
#define H_CL		4
#define H_XUID		5	/* Dovecot's X-UID: and X-IMAPbase: (uidl) */
#define H_IBASE		6

static void	mb_feed(struct mb_scanner *, uint64_t);
static void	mb_cl_check(struct mb_scanner *);
static void	mb_close_msg(struct mb_scanner *, uint64_t);
static size_t	mb_hval(char *, size_t, size_t, const char *, size_t);
static void	mb_header(struct mb_scanner *, const char *, size_t);
static void	mb_md5_line(struct mb_scanner *, const char *, size_t);
static int	mb_line_head(struct mb_scanner *);
static void	mb_line_end(struct mb_scanner *);

int
mb_list_push(const struct satchel_core *core, struct mb_list *l,
    struct mb_msg *m)
{
	if (core->array_grow(&l->v, &l->cap, l->n, sizeof(*m), 1024) == -1)
		return -1;
	l->v[l->n++] = *m;
	return 0;
}

/* Forget the messages (their strings too), keeping the array. */
void
mb_list_clear(struct mb_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].uid);
		free(l->v[i].cand);
	}
	l->n = 0;
}

/*
 * Feed the current message's bytes up to file offset to (never past the
 * end a valid Content-Length: gave it: the line end after that is the
 * separator).  Header bytes also go to the sizer without unescaping
 * when there is an escape to undo, for mb_cl_check().
 */
static void
mb_feed(struct mb_scanner *s, uint64_t to)
{
	struct mb_scan *sc = &s->sc;
	const char *p;
	size_t n;

	if (sc->cl_ok && to > sc->cl_end)
		to = sc->cl_end;
	if (to > sc->fed) {
		p = s->buf + (sc->fed - sc->base);
		n = (size_t)(to - sc->fed);
		sc->size += s->core->msg_size_feed(&sc->st, p, n);
		sc->last_lf = p[n - 1] == '\n';
		if (sc->in_hdr && s->escape != 0)
			sc->size0 += s->core->msg_size_feed(&sc->st0, p, n);
		sc->fed = to;
	}
}

/*
 * The header ended with the empty line before sc->off.  Does its
 * Content-Length: frame the body?  Valid (Dovecot's rule) when the body
 * ends at the end of the file, or is followed by one line end ("\n" or
 * "\r\n") and then the end of the file or a "From " line: that line
 * end is the separator, so a body without a final newline and the next
 * From_ line need no empty line between them.  Such a body is served
 * exactly as stored: none of it is unescaped, whatever escape says, and
 * "From " lines inside it are text.  Anything else: the From_ line scan
 * decides, as without the header.
 */
static void
mb_cl_check(struct mb_scanner *s)
{
	struct mb_scan *sc = &s->sc;
	uint64_t target = sc->off + sc->cl, next;
	char tb[8];
	ssize_t r;

	if (!s->content_length || sc->seen[H_CL] != 2 || sc->cl > sc->end ||
	    target > sc->end)
		return;
	if (target == sc->end)
		next = target;
	else {
		r = s->read(s->arg, tb, sizeof(tb), target);
		if (r >= 1 && tb[0] == '\n')
			next = target + 1;
		else if (r >= 2 && tb[0] == '\r' && tb[1] == '\n')
			next = target + 2;
		else
			return;
		if (next > sc->end)
			return;		/* the line end is not scanned yet */
		if (next != sc->end && (sc->end - next < 5 ||
		    (uint64_t)r < next - target + 5 ||
		    memcmp(tb + (next - target), "From ", 5) != 0))
			return;
	}
	sc->cl_ok = 1;
	sc->cl_end = target;
	sc->cl_next = sc->cl_until = next;
	if (s->escape != 0) {
		/* The header was sized both ways: keep the plain one. */
		sc->st = sc->st0;
		sc->size = sc->size0;
	}
	sc->cur.flags = s->hide;
}

static void
mb_close_msg(struct mb_scanner *s, uint64_t end)
{
	char key[MB_LCAP + 2 * MB_HVAL + 2];
	struct mb_scan *sc = &s->sc;
	struct mb_msg *m = &sc->cur;
	size_t k = 0;

	mb_feed(s, end);
	sc->size += s->core->msg_size_end(&sc->st);
	m->length = end - m->data_off;
	m->size = sc->size;
	/*
	 * Already wire bytes?  With nothing to unescape the converter only
	 * ever adds bytes (CRLF for a bare LF or CR), so a size equal to
	 * the stored length proves every line ends CRLF, if the last one
	 * ends at all: the final CRLF RETR adds is not counted (Dovecot's
	 * size), so the last byte must be a LF.  Dot-stuffing is not
	 * counted in sizes, so no line may start with '.'.  Then the
	 * worker may sendfile() it unread.
	 */
	if (m->flags == 0 && !sc->dot && m->size == m->length &&
	    m->length > 0 && sc->last_lf)
		m->flags |= SATCHEL_MSG_WIRE;
	memcpy(key, sc->from, sc->from_len);
	k = sc->from_len;
	key[k++] = '\n';
	memcpy(key + k, sc->msgid, sc->msgid_len);
	k += sc->msgid_len;
	key[k++] = '\n';
	memcpy(key + k, sc->date, sc->date_len);
	k += sc->date_len;
	s->core->hash128(key, k, m->key);
	if (s->md5)
		s->core->md5_final(&sc->md5, m->md5);
	m->xuid = sc->xuid;
	m->ibase_validity = sc->ibase_validity;
	m->ibase_last = sc->ibase_last;
	if (s->x_uidl && sc->xuidl_len > 0 &&
	    sc->xuidl_len <= SATCHEL_UID_MAX && m->cand == NULL) {
		size_t i;
		int ok = 1;

		for (i = 0; i < sc->xuidl_len; i++)
			if ((unsigned char)sc->xuidl[i] < 0x21 ||
			    (unsigned char)sc->xuidl[i] > 0x7e)
				ok = 0;
		if (ok && (m->cand = malloc(sc->xuidl_len + 1)) != NULL) {
			memcpy(m->cand, sc->xuidl, sc->xuidl_len);
			m->cand[sc->xuidl_len] = '\0';
		}
	}
	if (mb_list_push(s->core, s->out, m) == -1) {
		free(m->cand);
		s->fail = SATCHEL_MBOX_TEMPFAIL;
		s->err = "out of memory";
	}
	memset(m, 0, sizeof(*m));
	sc->open = 0;
}

/*
 * %m: Dovecot's header MD5 with its default mbox_md5 = apop3d.  Each
 * header line (a folded line on its own) is parsed as Dovecot's
 * message-header-parser does: the name is what comes before the first
 * ':' less trailing LWSP, the value what follows it less one leading
 * LWSP, a folded line's value is the whole line and its name the one it
 * continues; the line end (LF, or CRLF) is not part of it.  Hashed are
 * the values of Delivered-To: and X-Delivery-ID:, every line, and of
 * Date:, Message-ID: and the first Received: until the first Received:
 * has ended (mbox-md5-apop3d.c).  Names without case.  Only the first
 * MB_LCAP bytes of a longer line are seen.
 */
#define M5_NONE		0
#define M5_ALWAYS	1	/* Delivered-To, X-Delivery-ID */
#define M5_BEFORE	2	/* Date, Message-ID: before a Received */
#define M5_RECEIVED	3

static void
mb_md5_line(struct mb_scanner *s, const char *p, size_t len)
{
	static const struct {
		const char *name;
		int which;
	} names[] = {
		{ "date", M5_BEFORE }, { "delivered-to", M5_ALWAYS },
		{ "message-id", M5_BEFORE }, { "received", M5_RECEIVED },
		{ "x-delivery-id", M5_ALWAYS },
	};
	struct mb_scan *sc = &s->sc;
	const char *colon;
	size_t i, j, nl;
	int w;

	if (len > 0 && p[len - 1] == '\n') {
		len--;
		if (len > 0 && p[len - 1] == '\r')
			len--;
	}
	if (len > 0 && (p[0] == ' ' || p[0] == '\t'))
		w = sc->md5_cur;	/* folded: the whole line */
	else {
		if (sc->md5_cur == M5_RECEIVED)
			sc->md5_received = 1;	/* the first one ended */
		w = M5_NONE;
		if ((colon = memchr(p, ':', len)) != NULL) {
			for (nl = (size_t)(colon - p); nl > 0 &&
			    (p[nl - 1] == ' ' || p[nl - 1] == '\t'); nl--)
				;
			for (i = 0; i < sizeof(names) / sizeof(names[0]);
			    i++) {
				if (strlen(names[i].name) != nl)
					continue;
				for (j = 0; j < nl; j++)
					if ((p[j] >= 'A' && p[j] <= 'Z' ?
					    p[j] - 'A' + 'a' : p[j]) !=
					    names[i].name[j])
						break;
				if (j == nl)
					break;
			}
			if (i < sizeof(names) / sizeof(names[0]))
				w = names[i].which;
			len -= (size_t)(colon - p) + 1;
			p = colon + 1;
			if (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
				p++;
				len--;
			}
		}
		sc->md5_cur = w;
	}
	if (w == M5_ALWAYS || ((w == M5_BEFORE || w == M5_RECEIVED) &&
	    !sc->md5_received))
		s->core->md5_update(&sc->md5, p, len);
}

/* Append a header value (trimmed) to dst, at most MB_HVAL - 1 bytes. */
static size_t
mb_hval(char *dst, size_t have, size_t max, const char *p, size_t len)
{
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' ||
	    p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (have > 0 && len > 0 && have < max)
		dst[have++] = ' ';
	if (len > max - have)
		len = max - have;
	memcpy(dst + have, p, len);
	return have + len;
}

/* One header line (its first MB_LCAP bytes) of the current message. */
static void
mb_header(struct mb_scanner *s, const char *p, size_t len)
{
	static const struct {
		const char *name;
		size_t len;
		int which;
	} hdrs[] = {
		{ "message-id:", 11, H_MSGID },
		{ "date:", 5, H_DATE },
		{ "x-uidl:", 7, H_XUIDL },
		{ "content-length:", 15, H_CL },
		{ "x-uid:", 6, H_XUID },
		{ "x-imapbase:", 11, H_IBASE },
	};
	struct mb_scan *sc = &s->sc;
	size_t i, j, digits;
	uint64_t v;

	if (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
		/* A folded line continues the header before it. */
		if (sc->hdr_cur == H_MSGID)
			sc->msgid_len = mb_hval(sc->msgid, sc->msgid_len,
			    sizeof(sc->msgid), p, len);
		else if (sc->hdr_cur == H_DATE)
			sc->date_len = mb_hval(sc->date, sc->date_len,
			    sizeof(sc->date), p, len);
		return;
	}
	sc->hdr_cur = H_NONE;
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		if (len < hdrs[i].len)
			continue;
		for (j = 0; j < hdrs[i].len; j++)
			if ((p[j] | 0x20) != hdrs[i].name[j] &&
			    p[j] != hdrs[i].name[j])
				break;
		if (j == hdrs[i].len)
			break;
	}
	if (i == sizeof(hdrs) / sizeof(hdrs[0]) || sc->seen[hdrs[i].which])
		return;		/* only the first of each counts */
	sc->seen[hdrs[i].which] = 1;
	sc->hdr_cur = hdrs[i].which;
	p += hdrs[i].len;
	len -= hdrs[i].len;
	switch (hdrs[i].which) {
	case H_MSGID:
		sc->msgid_len = mb_hval(sc->msgid, 0, sizeof(sc->msgid), p,
		    len);
		break;
	case H_DATE:
		sc->date_len = mb_hval(sc->date, 0, sizeof(sc->date), p,
		    len);
		break;
	case H_XUIDL:
		sc->xuidl_len = mb_hval(sc->xuidl, 0, sizeof(sc->xuidl), p,
		    len);
		break;
	case H_XUID:
		sc->xuid = mb_parse_xuid(p, len);
		break;
	case H_IBASE:
		(void)mb_parse_imapbase(p, len, &sc->ibase_validity,
		    &sc->ibase_last);
		break;
	case H_CL:
		for (; len > 0 && (*p == ' ' || *p == '\t'); p++, len--)
			;
		if ((digits = s->core->parse_digits(p, len, 10, &v)) == 0)
			return;		/* none, or too large */
		p += digits;
		len -= digits;
		for (; len > 0 && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'); p++, len--)
			;
		if (len == 0) {
			sc->cl = v;
			sc->seen[H_CL] = 2;	/* valid */
		}
		break;
	}
}

/*
 * At the start of a line (at least 5 bytes, or all up to the end, are in
 * the buffer): is it a From_ line that starts a message?  Returns 0, or
 * -1 when the file is not an mbox.
 */
static int
mb_line_head(struct mb_scanner *s)
{
	struct mb_scan *sc = &s->sc;
	const char *p = s->buf + (sc->off - sc->base);
	uint64_t left = sc->end - sc->off;

	sc->in_line = 1;
	sc->line_off = sc->off;
	sc->captured = 0;
	sc->line_from = 0;
	if (left >= 5 && memcmp(p, "From ", 5) == 0 && (sc->off == 0 ||
	    sc->prev_empty || (sc->cl_ok && sc->off == sc->cl_next)) &&
	    sc->off >= sc->cl_until) {
		if (sc->open)
			mb_close_msg(s, sc->cl_ok ? sc->cl_end :
			    sc->prev_empty ? sc->empty_off : sc->off);
		memset(&sc->cur, 0, sizeof(sc->cur));
		sc->cl_ok = 0;
		sc->dot = 0;
		sc->cur.from_off = sc->off;
		sc->open = 1;
		sc->in_from = 1;
		sc->line_from = 1;
		sc->prev_empty = 0;
		return 0;
	}
	if (!sc->open) {
		/* Before the first message only empty lines may come. */
		if (p[0] == '\n' || (left >= 2 && p[0] == '\r' &&
		    p[1] == '\n'))
			return 0;
		s->notmbox = 1;
		s->bad_off = sc->off;
		s->fail = SATCHEL_MBOX_ERROR;
		s->err = "the mailbox file is not in mbox format";
		return -1;
	}
	/* A held empty line was content after all: it is fed later. */
	sc->prev_empty = 0;
	if (left >= 1 && p[0] == '.')
		sc->dot = 1;	/* dot-stuffed on the wire */
	return 0;
}

/* The current line ended (sc->off is just past it). */
static void
mb_line_end(struct mb_scanner *s)
{
	struct mb_scan *sc = &s->sc;
	uint64_t llen = sc->off - sc->line_off;
	const char *p;
	size_t plen;

	if (sc->line_off >= sc->base) {
		p = s->buf + (sc->line_off - sc->base);
		plen = llen > MB_LCAP ? MB_LCAP : (size_t)llen;
	} else {
		p = sc->lbuf;
		plen = sc->cap_len;
	}
	sc->in_line = 0;
	if (sc->line_from) {
		sc->line_from = 0;
		sc->in_from = 0;
		sc->in_hdr = 1;
		sc->hdr_cur = H_NONE;
		memset(sc->seen, 0, sizeof(sc->seen));
		sc->msgid_len = sc->date_len = sc->xuidl_len = 0;
		sc->xuid = sc->ibase_validity = sc->ibase_last = 0;
		s->core->md5_init(&sc->md5);
		sc->md5_cur = M5_NONE;
		sc->md5_received = 0;
		sc->cur.data_off = sc->off;
		sc->cur.from_hash = s->core->fnv64(SATCHEL_FNV64_INIT, p,
		    llen > MB_FROMCHK ? MB_FROMCHK : (size_t)llen);
		sc->from_len = plen;
		while (sc->from_len > 0 && (p[sc->from_len - 1] == '\n' ||
		    p[sc->from_len - 1] == '\r'))
			sc->from_len--;
		memcpy(sc->from, p, sc->from_len);
		sc->fed = sc->off;
		sc->last_lf = 0;
		sc->size = sc->size0 = 0;
		sc->cur.flags = s->escape | s->hide;
		s->core->msg_size_init(&sc->st, s->escape | s->hide);
		s->core->msg_size_init(&sc->st0, s->hide);
		return;
	}
	if ((llen == 1 && p[0] == '\n') ||
	    (llen == 2 && p[0] == '\r' && p[1] == '\n')) {
		if (sc->in_hdr) {
			/* The header so far is sized both ways. */
			mb_feed(s, sc->line_off);
			sc->in_hdr = 0;
			mb_cl_check(s);
		}
		sc->prev_empty = 1;
		sc->empty_off = sc->line_off;
		return;
	}
	if (sc->in_hdr) {
		if (s->md5)
			mb_md5_line(s, p, plen);
		mb_header(s, p, plen);
	}
}

/*
 * Scan from offset start (0, or the From_ line of a message known from
 * the index) to end, appending to s->out.  Reads MB_CHUNK at a
 * time; a line of up to MB_LCAP bytes is always whole in the buffer (the
 * unfinished one is carried over), longer lines keep their head in
 * lbuf.  Returns 0, 1 if start is not a From_ line, or -1 (s->fail).
 */
int
mb_scan(struct mb_scanner *s, uint64_t start, uint64_t end)
{
	struct mb_scan *sc = &s->sc;
	uint64_t keep, bufend;
	size_t want, cap = MB_BUFSZ;
	ssize_t r;
	char *lf;

	memset(sc, 0, sizeof(*sc));
	sc->base = sc->off = start;
	sc->end = end;
	s->fail = 0;
	s->err = NULL;
	s->notmbox = s->readerr = 0;
	if (start > 0) {
		sc->prev_empty = 1;	/* the separator before it */
		sc->empty_off = start;
	}
	for (;;) {
		/* Refill: read after what is carried over. */
		bufend = sc->base + sc->len;
		if (bufend < sc->end && sc->len < cap - MB_LCAP) {
			want = cap - sc->len;
			if (want > sc->end - bufend)
				want = (size_t)(sc->end - bufend);
			r = s->read(s->arg, s->buf + sc->len, want, bufend);
			if (r <= 0) {
				/* The reader logged it (or the file shrank). */
				s->readerr = 1;
				s->bad_off = bufend;
				s->fail = SATCHEL_MBOX_TEMPFAIL;
				s->err = "cannot read the mailbox";
				return -1;
			}
			sc->len += (size_t)r;
			bufend += (uint64_t)r;
		}
		while (sc->off < bufend) {
			if (!sc->in_line) {
				uint64_t need = sc->end - sc->off;

				if (need > 5)
					need = 5;
				if (bufend - sc->off < need)
					break;
				if (start > 0 && sc->off == start &&
				    (sc->end - start < 5 || memcmp(s->buf +
				    (start - sc->base), "From ", 5) != 0))
					return 1;
				if (mb_line_head(s) == -1)
					return -1;
			}
			lf = memchr(s->buf + (sc->off - sc->base), '\n',
			    (size_t)(bufend - sc->off));
			if (lf == NULL) {
				sc->off = bufend;
				break;
			}
			sc->off = sc->base + (uint64_t)(lf - s->buf) + 1;
			mb_line_end(s);
			if (s->fail != 0)
				return -1;
		}
		if (bufend >= sc->end && sc->off >= sc->end) {
			if (sc->in_line)
				mb_line_end(s);	/* no final LF */
			if (sc->open)
				mb_close_msg(s, sc->cl_ok ? sc->cl_end :
				    sc->prev_empty ? sc->empty_off : sc->end);
			return s->fail != 0 ? -1 : 0;
		}
		/* Decide what must stay in the buffer. */
		keep = sc->off;
		if (sc->in_line) {
			if (sc->off - sc->line_off <= MB_LCAP)
				keep = sc->line_off;
			else if (!sc->captured) {
				memcpy(sc->lbuf, s->buf + (sc->line_off -
				    sc->base), MB_LCAP);
				sc->cap_len = MB_LCAP;
				sc->captured = 1;
			}
		}
		if (sc->prev_empty && sc->empty_off < keep &&
		    sc->empty_off >= sc->base)
			keep = sc->empty_off;
		if (sc->open && !sc->in_from && keep > sc->fed)
			mb_feed(s, keep);
		memmove(s->buf, s->buf + (keep - sc->base),
		    (size_t)(bufend - keep));
		sc->len = (size_t)(bufend - keep);
		sc->base = keep;
	}
}
