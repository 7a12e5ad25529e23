/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_mbox.c -- libFuzzer target for the mbox scanner
 * (modules/storage/mbox/mbox_scan.c) and the UIDs made from what it
 * finds (mbox_uid.c), with the real core.
 *
 * Input: one option byte (bit 0 content_length, bit 1 x_uidl, bit 2
 * mboxo, bit 3 escape none, bit 4 hide_headers = dovecot, bit 5 the
 * header MD5 of %m), then the
 * mbox.  The scanner reads it from memory through its
 * read() callback.  Checked: messages lie inside the file, in order and
 * without overlap; each From_ line starts a line "From "; each size is
 * what the core's sizer says for the message's bytes; every UID is 1..70
 * bytes of 0x21..0x7e and no two are equal; a message's flags are the
 * escape or 0 (a body framed by Content-Length:), and one marked
 * SATCHEL_MSG_WIRE is wire bytes (CRLF lines, no '.' line).  A second scan from the
 * last message's From_ line (what the index's resume does) must find the
 * same last message.  Any violation calls abort().  Everything is freed
 * on every path; no disk, no network.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "core.h"
#include "mbox.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct mem {
	const uint8_t	*p;
	size_t		 len;
};

static ssize_t
mem_read(void *arg, void *buf, size_t len, uint64_t off)
{
	const struct mem *m = arg;

	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = (size_t)(m->len - off);
	memcpy(buf, m->p + off, len);
	return (ssize_t)len;
}

/* The model of SATCHEL_MSG_WIRE: every line ends CRLF, the last one
 * too, no line starts with '.' (a CR inside a line is sent as it is). */
static int
is_wire(const uint8_t *p, size_t len)
{
	size_t i;

	if (len > 0 && (len < 2 || p[len - 2] != '\r' || p[len - 1] != '\n'))
		return 0;
	for (i = 0; i < len; i++) {
		if ((i == 0 || p[i - 1] == '\n') && p[i] == '.')
			return 0;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

static void
setup(struct mb_scanner *s, char *buf, struct mem *m, struct mb_list *l,
    uint8_t opt)
{
	memset(s, 0, sizeof(*s));
	s->core = core_get();
	s->content_length = opt & 1;
	s->x_uidl = (opt >> 1) & 1;
	s->escape = (opt & 8) ? 0 : (opt & 4) ? SATCHEL_MSG_MBOXO :
	    SATCHEL_MSG_MBOXRD;
	s->hide = (opt & 16) ? SATCHEL_MSG_HIDE : 0;
	s->md5 = (opt & 32) != 0;	/* %m's header MD5 */
	s->read = mem_read;
	s->arg = m;
	s->buf = buf;
	s->out = l;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *buf;
	static struct mb_scanner *s;
	const struct satchel_core *core = core_get();
	struct satchel_msgsize st;
	struct satchel_uidset *set;
	char hb[SATCHEL_HASH_HEX + 1], out[SATCHEL_UID_MAX + 1];
	struct mb_list l, l2;
	struct mem m;
	const struct mb_msg *v;
	const char *u;
	uint64_t sz, prev_end = 0;
	size_t i, k;
	uint32_t fl;
	uint8_t opt;
	int r;

	if (size < 1)
		return 0;
	if (buf == NULL && ((buf = malloc(MB_BUFSZ)) == NULL ||
	    (s = malloc(sizeof(*s))) == NULL))
		abort();
	opt = data[0];
	m.p = data + 1;
	m.len = size - 1;
	memset(&l, 0, sizeof(l));
	memset(&l2, 0, sizeof(l2));
	setup(s, buf, &m, &l, opt);
	r = mb_scan(s, 0, m.len);
	if (r == 1)
		abort();	/* only a resumed scan may say so */
	if (r == -1 && (s->fail == 0 || s->err == NULL))
		abort();
	for (i = 0; r == 0 && i < l.n; i++) {
		v = &l.v[i];
		if (v->from_off < prev_end || v->data_off <= v->from_off ||
		    v->data_off > m.len || v->length > m.len - v->data_off ||
		    memcmp(m.p + v->from_off, "From ", 5) != 0 ||
		    (v->from_off > 0 && m.p[v->from_off - 1] != '\n'))
			abort();
		prev_end = v->data_off + v->length;
		/* hide_headers: on every message, never with _WIRE. */
		if ((v->flags & SATCHEL_MSG_HIDE) != s->hide ||
		    ((v->flags & SATCHEL_MSG_HIDE) &&
		    (v->flags & SATCHEL_MSG_WIRE)))
			abort();
		fl = v->flags & ~(uint32_t)(SATCHEL_MSG_WIRE |
		    SATCHEL_MSG_HIDE);
		if (fl != s->escape && (fl != 0 || !(opt & 1)))
			abort();
		if ((v->flags & SATCHEL_MSG_WIRE) && (fl != 0 ||
		    !is_wire(m.p + v->data_off, (size_t)v->length)))
			abort();
		core->msg_size_init(&st, v->flags);
		sz = core->msg_size_feed(&st, (const char *)m.p + v->data_off,
		    (size_t)v->length);
		sz += core->msg_size_end(&st);
		if (sz != v->size)
			abort();
	}
	if (r == 0 && l.n > 0) {
		/* The index's resume: rescan from the last From_ line. */
		setup(s, buf, &m, &l2, opt);
		if (mb_scan(s, l.v[l.n - 1].from_off, m.len) != 0 ||
		    l2.n == 0 || l2.v[0].data_off != l.v[l.n - 1].data_off)
			abort();
		if (mb_assign_uids(core, &l) == -1 ||
		    (set = core->uidset_new(l.n)) == NULL)
			abort();
		for (i = 0; i < l.n; i++) {
			u = mb_uid(core, &l.v[i], hb);
			k = strlen(u);
			if (k == 0 || k > SATCHEL_UID_MAX ||
			    core->uidset_has(set, u))
				abort();
			while (k-- > 0)
				if ((unsigned char)u[k] < 0x21 ||
				    (unsigned char)u[k] > 0x7e)
					abort();
			if (core->uidset_add(set, u, out) == -1 ||
			    strcmp(out, u) != 0)
				abort();
		}
		core->uidset_free(set);
	}
	mb_list_clear(&l);
	free(l.v);
	mb_list_clear(&l2);
	free(l2.v);
	return 0;
}
