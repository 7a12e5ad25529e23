/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * maildir_name.c -- what a Maildir file name says (the rules are at the
 * top of storage_maildir.c): the unique part, the delivery stamp, the
 * ",S=" and ",W=" hints, the info part and its flags, the UID asked for,
 * and the name a message gets in cur/.  Pure code, fuzzed on names in
 * memory; runs in the mailbox agent as the mail user.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "satchel/module.h"
#include "maildir.h"

static int	md_printable(const char *, size_t);

const char *const md_subname[2] = { "new", "cur" };

/* Only 0x21..0x7e: what a UID and a cache key may hold. */
static int
md_printable(const char *p, size_t len)
{
	size_t k;

	for (k = 0; k < len; k++)
		if ((unsigned char)p[k] < 0x21 || (unsigned char)p[k] > 0x7e)
			return 0;
	return 1;
}

int
md_ukeycmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r;

	r = memcmp(a, b, alen < blen ? alen : blen);
	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen;
}

int
md_hint(const struct satchel_core *core, const char *name, size_t ulen,
    char key, uint64_t *val_r)
{
	const char *p = name + ulen, *end;
	uint64_t v;
	size_t n;

	if ((end = strchr(name, ':')) == NULL)
		end = name + strlen(name);
	while (p < end && *p == ',') {
		p++;
		if (p + 1 < end && p[0] == key && p[1] == '=') {
			p += 2;
			n = core->parse_digits(p, (size_t)(end - p), 10, &v);
			p += n;
			if (n > 0 && (p == end || *p == ',')) {
				*val_r = v;
				return 1;
			}
		}
		while (p < end && *p != ',')
			p++;
	}
	return 0;
}

void
md_name_parse(const struct satchel_core *core, struct md_msg *m)
{
	const char *name = m->name;

	m->ulen = strcspn(name, ":,");
	/* The delivery time; an absurd one sorts last. */
	if (core->parse_digits(name, strlen(name), 10, &m->stamp) == 0)
		m->stamp = name[0] >= '0' && name[0] <= '9' ? UINT64_MAX : 0;
	if (md_hint(core, name, m->ulen, 'W', &m->size))
		m->sized = 1;
}

/*
 * The unique part if it is a valid UID (1..SATCHEL_UID_MAX bytes of
 * 0x21..0x7e), else the hex of its hash128 (of the whole name when the
 * unique part is empty).
 */
void
md_uid_base(const struct satchel_core *core, const struct md_msg *m,
    char *out)
{
	uint64_t h[2];

	if (m->ulen > 0 && m->ulen <= SATCHEL_UID_MAX &&
	    md_printable(m->name, m->ulen)) {
		memcpy(out, m->name, m->ulen);
		out[m->ulen] = '\0';
		return;
	}
	core->hash128(m->name, m->ulen > 0 ? m->ulen : strlen(m->name), h);
	core->hash128_hex(h, out);
}

int
md_msgcmp(const void *va, const void *vb)
{
	const struct md_msg *a = va, *b = vb;
	int r;

	if (a->stamp != b->stamp)
		return a->stamp < b->stamp ? -1 : 1;
	if ((r = md_ukeycmp(a->name, a->ulen, b->name, b->ulen)) != 0)
		return r;
	if ((r = strcmp(a->name, b->name)) != 0)
		return r;
	return (int)a->sub - (int)b->sub;
}

/*
 * The name message m should have in cur/: the unique part and hints
 * kept, ",S=<phys>" and ",W=<size>" added when missing (only for a move
 * from new/; dropped if the name would get too long), and the info part
 * ":2,<flags>" with 'S' added in ASCII order when seen.  An info part
 * in another format is left alone.  Returns 0, or -1 if no valid name
 * fits.
 */
int
md_target(const struct satchel_core *core, const struct md_msg *m,
    int seen, char *out, size_t outsz, uint64_t phys)
{
	const char *info, *flags = "";
	char hints[64];
	size_t blen, pre;
	uint64_t v;
	int n, add_s;

	hints[0] = '\0';
	info = strchr(m->name, ':');
	blen = info != NULL ? (size_t)(info - m->name) : strlen(m->name);
	if (info != NULL && strncmp(info, ":2,", 3) != 0) {
		n = snprintf(out, outsz, "%s", m->name);
		return n < 0 || (size_t)n >= outsz ? -1 : 0;
	}
	if (info != NULL)
		flags = info + 3;
	/* With uidl_format, the base name is Dovecot's key: kept. */
	if (m->sub == MD_NEW && !m->keep_base) {
		n = 0;
		if (!md_hint(core, m->name, m->ulen, 'S', &v))
			n = snprintf(hints, sizeof(hints), ",S=%llu",
			    (unsigned long long)phys);
		if (n >= 0 && !md_hint(core, m->name, m->ulen, 'W', &v))
			n = snprintf(hints + n, sizeof(hints) - (size_t)n,
			    ",W=%llu", (unsigned long long)m->size);
		if (n < 0)
			return -1;
	}
	/* Flags stay in ASCII order: 'S' goes before the first one above. */
	add_s = seen && strchr(flags, 'S') == NULL;
	for (pre = 0; flags[pre] != '\0' && (!add_s || flags[pre] < 'S');
	    pre++)
		;
	n = snprintf(out, outsz, "%.*s%s:2,%.*s%s%s", (int)blen, m->name,
	    blen + strlen(hints) + 4 + strlen(flags) > MD_NAME_MAX ? "" :
	    hints, (int)pre, flags, add_s ? "S" : "", flags + pre);
	if (n < 0 || (size_t)n >= outsz || (size_t)n > MD_NAME_MAX)
		return -1;
	return 0;
}

/* Worth caching: sized by reading, no W= hint, a printable key. */
int
md_cacheable(const struct satchel_core *core, const struct md_msg *m)
{
	uint64_t v;

	if (m->gone || !m->sized || m->ulen == 0 || m->ulen > MD_NAME_MAX ||
	    md_hint(core, m->name, m->ulen, 'W', &v))
		return 0;
	return md_printable(m->name, m->ulen);
}
