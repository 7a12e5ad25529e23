/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_mbox.c -- the mbox storage module, loaded with dlopen from
 * $SATCHEL_BUILDDIR/.libs/storage_mbox.so and driven with the real core:
 * the fixtures in tests/data/mbox (escapes, CRLF, NULs, no final newline,
 * empty, not an mbox, Content-Length, X-UIDL, duplicates), escape =
 * none/mboxrd/mboxo and Content-Length framing (a body without a final
 * newline before the next From_ line, CRLF, the end of the file, an
 * invalid length, a framed body never unescaped), random mboxes
 * against a reference splitter (lines across read chunks, huge lines),
 * sizes against the converter RETR uses, UID stability, the index, the
 * session lock from another process, busy dotlock and fcntl locks,
 * changes under us, commit with mail appended meanwhile, owner and mode,
 * ENOSPC on a small tmpfs, and a kill -9 loop during commit.
 */
#include <sys/types.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "satchel/module.h"
#include "conf.h"
#include "module.h"
#include "protocol.h"
#include "test.h"
#include "compat/poison.h"

static const struct satchel_storage_ops *ops;
static const struct satchel_core *core;
static void *ctx;		/* defaults */

struct blob {
	char	*p;
	size_t	 len;
	size_t	 size;	/* wire_of(): the RFC 1939 size */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
path_in(char *buf, size_t sz, const char *name)
{
	int n = snprintf(buf, sz, "%s/%s", test_tmpdir(), name);

	if (n < 0 || (size_t)n >= sz)
		exit(2);
}

static struct blob
slurp(const char *path)
{
	struct blob b = { NULL, 0, 0 };
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1) {
		if (fd != -1)
			close(fd);
		return b;
	}
	b.p = malloc((size_t)st.st_size + 1);
	if (b.p == NULL || read(fd, b.p, (size_t)st.st_size) != st.st_size)
		exit(2);
	b.len = (size_t)st.st_size;
	close(fd);
	return b;
}

static void
append_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd == -1 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	close(fd);
}

/* Copy a fixture from tests/data/mbox to the test directory. */
static void
fixture(const char *name, char *dst, size_t sz)
{
	char src[1024];
	const char *dir = getenv("SATCHEL_SRCDIR");
	struct blob b;

	snprintf(src, sizeof(src), "%s/tests/data/mbox/%s", dir ? dir : ".",
	    name);
	b = slurp(src);
	if (b.p == NULL) {
		perror(src);
		exit(2);
	}
	path_in(dst, sz, name);
	test_write_file(dst, b.p, b.len);
	free(b.p);
}

/* A module context with the [mbox] section given (NULL: defaults). */
/* Everything ctx_with() made, freed by ctx_free_all() at the end. */
#define CTX_MAX	32
static struct {
	struct config		*cf;
	struct satchel_conf	*sc;
	void			*ctx;
} made[CTX_MAX];
static size_t nmade;

static void *
ctx_with(const char *section)
{
	char p[1024], text[1024];
	struct config *cf;
	struct satchel_conf *sc;
	void *c = NULL;

	snprintf(text, sizeof(text), "listen = 127.0.0.1:110\nauth = file\n"
	    "[file]\npath = /x\n[mbox]\n%s", section);
	path_in(p, sizeof(p), "satchel.conf");
	test_write_file(p, text, strlen(text));
	if ((cf = conf_load(p)) == NULL)
		return NULL;
	/* cf lives as long as the context: the context points into it. */
	sc = conf_section(cf, "mbox");
	if (ops->init(core, sc, &c) != 0)
		c = NULL;
	if (nmade < CTX_MAX) {
		made[nmade].cf = cf;
		made[nmade].sc = sc;
		made[nmade].ctx = c;
		nmade++;
	}
	return c;
}

static void
ctx_free_all(void)
{
	size_t i;

	for (i = 0; i < nmade; i++) {
		if (made[i].ctx != NULL && ops->fini != NULL)
			ops->fini(made[i].ctx);
		free(made[i].sc);
		conf_free(made[i].cf);
	}
	nmade = 0;
}

static int
mb_open_ctx(void *c, const char *path, void **mb)
{
	struct satchel_mailbox_ref ref;
	const char *err = NULL;

	memset(&ref, 0, sizeof(ref));
	ref.driver = "mbox";
	ref.path = path;
	ref.user = "tester";
	*mb = NULL;
	return ops->open(c, &ref, mb, &err);
}

static int
mb_open(const char *path, void **mb)
{
	return mb_open_ctx(ctx, path, mb);
}

static const char *
uid_of(void *mb, size_t n)
{
	static struct satchel_msginfo info[4];
	static int k;

	k = (k + 1) % 4;
	memset(&info[k], 0, sizeof(info[k]));
	if (ops->info(mb, n, &info[k]) != 0)
		return "(info failed)";
	return info[k].uid;
}

static uint64_t
size_of(void *mb, size_t n)
{
	struct satchel_msginfo info;

	if (ops->info(mb, n, &info) != 0)
		return UINT64_MAX;
	return info.size;
}

/*
 * The RFC 1939 size of wire bytes w made from stored in[0..len): all of
 * them but the line end RETR adds to an unfinished last line (Dovecot
 * and popa3d do not count it).
 */
static size_t
size_want(size_t wlen, const char *in, size_t len)
{
	if (len == 0 || in[len - 1] == '\n')
		return wlen;
	return wlen - 2;
}

/*
 * Message n as the client gets it: the stored bytes through the core's
 * converter without dot-stuffing; w.size is what the RFC 1939 size
 * counts of it (size_want).
 */
static struct blob
wire_of(void *mb, size_t n, struct satchel_msgref *ref_r)
{
	struct satchel_msgref ref;
	struct proto_xfer x;
	struct blob w = { NULL, 0, 0 };
	const char *err = NULL;
	char *in;
	ssize_t r;

	memset(&ref, 0, sizeof(ref));
	if (ops->message(mb, n, &ref, &err) != 0)
		return w;
	in = malloc(ref.length + 1);
	w.p = malloc(3 * ref.length + PROTO_XFER_SLACK);
	if (in == NULL || w.p == NULL)
		exit(2);
	r = pread(ref.fd, in, ref.length, ref.offset);
	close(ref.fd);
	if (r != (ssize_t)ref.length) {
		free(in);
		free(w.p);
		w.p = NULL;
		return w;
	}
	proto_xfer_init(&x, ref.flags, 0, 0, 0);
	w.len = proto_xfer(&x, in, ref.length, w.p);
	w.len += proto_xfer_end(&x, w.p + w.len);
	w.size = size_want(w.len, in, ref.length);
	free(in);
	if (ref_r != NULL)
		*ref_r = ref;
	return w;
}

/* ---- fixtures ------------------------------------------------------ */

struct expect {
	const char	*file;
	const char	*conf;		/* [mbox] lines, NULL: defaults */
	int		 status;
	int		 count;
	int		 msg;		/* message checked, -1 none */
	const char	*wire;		/* its RETR bytes (not dot-stuffed) */
	size_t		 wire_len;
	uint32_t	 flags;
};

#define W(s)	s, sizeof(s) - 1

static const struct expect expects[] = {
	/* The defaults (escape = none, content_length = yes): as stored. */
	{ "escaped.mbox", NULL, SATCHEL_MBOX_OK, 3, 0,
	  W("From: alice@example.org\r\nSubject: escapes\r\n"
	  "Message-ID: <esc1@example.org>\r\n\r\n"
	  ">From the start of a line\r\n>>From twice\r\n>>>From thrice\r\n"
	  "From inside, no blank line before\r\n.\r\n..\r\n.dot\r\n"
	  ">Fromage is not escaped\r\n"), 0 },
	{ "escaped.mbox", "escape = mboxrd\n", SATCHEL_MBOX_OK, 3, 0,
	  W("From: alice@example.org\r\nSubject: escapes\r\n"
	  "Message-ID: <esc1@example.org>\r\n\r\n"
	  "From the start of a line\r\n>From twice\r\n>>From thrice\r\n"
	  "From inside, no blank line before\r\n.\r\n..\r\n.dot\r\n"
	  ">Fromage is not escaped\r\n"), SATCHEL_MSG_MBOXRD },
	{ "escaped.mbox", "escape = mboxo\n", SATCHEL_MBOX_OK, 3, 0,
	  W("From: alice@example.org\r\nSubject: escapes\r\n"
	  "Message-ID: <esc1@example.org>\r\n\r\n"
	  "From the start of a line\r\n>>From twice\r\n>>>From thrice\r\n"
	  "From inside, no blank line before\r\n.\r\n..\r\n.dot\r\n"
	  ">Fromage is not escaped\r\n"), SATCHEL_MSG_MBOXO },
	{ "escaped.mbox", "escape = none\n", SATCHEL_MBOX_OK, 3, 0,
	  W("From: alice@example.org\r\nSubject: escapes\r\n"
	  "Message-ID: <esc1@example.org>\r\n\r\n"
	  ">From the start of a line\r\n>>From twice\r\n>>>From thrice\r\n"
	  "From inside, no blank line before\r\n.\r\n..\r\n.dot\r\n"
	  ">Fromage is not escaped\r\n"), 0 },
	{ "escaped.mbox", "escape = mboxrd\n", SATCHEL_MBOX_OK, 3, 2,
	  W("From: carol\r\n\r\nthree\r\n"), SATCHEL_MSG_MBOXRD },
	/* Every line CRLF, no dot line, nothing to undo: wire bytes. */
	{ "crlf.mbox", NULL, SATCHEL_MBOX_OK, 2, 0,
	  W("Subject: crlf one\r\n\r\nline\r\n>From x\r\n"),
	  SATCHEL_MSG_WIRE },
	{ "crlf.mbox", NULL, SATCHEL_MBOX_OK, 2, 1,
	  W("Subject: crlf two\r\n\r\nmixed\r\nends\r\n"), 0 },
	{ "crlf.mbox", "escape = mboxrd\n", SATCHEL_MBOX_OK, 2, 0,
	  W("Subject: crlf one\r\n\r\nline\r\nFrom x\r\n"),
	  SATCHEL_MSG_MBOXRD },
	{ "crlf.mbox", "escape = mboxrd\n", SATCHEL_MBOX_OK, 2, 1,
	  W("Subject: crlf two\r\n\r\nmixed\r\nends\r\n"),
	  SATCHEL_MSG_MBOXRD },
	{ "nul.mbox", "escape = mboxrd\n", SATCHEL_MBOX_OK, 2, 0,
	  W("Subject: nul\r\n\r\nbefore\0after\r\n\0\r\n\0From not a boundary\r\n"),
	  SATCHEL_MSG_MBOXRD },
	{ "nofinalnl.mbox", NULL, SATCHEL_MBOX_OK, 2, 1,
	  W("Subject: truncated\r\n\r\nno final newline\r\n"), 0 },
	{ "empty.mbox", NULL, SATCHEL_MBOX_OK, 0, -1, NULL, 0, 0 },
	{ "notmbox.mbox", NULL, SATCHEL_MBOX_ERROR, 0, -1, NULL, 0, 0 },
	{ "leadingblank.mbox", NULL, SATCHEL_MBOX_OK, 1, 0,
	  W("Subject: after blanks\r\n\r\nbody\r\n"), 0 },
	/* Without content_length, the body's "From " after an empty line
	 * starts a message (empty: its separator follows at once). */
	{ "contentlength.mbox", "content_length = no\nescape = mboxrd\n",
	  SATCHEL_MBOX_OK, 4, 0,
	  W("Subject: cl\r\nContent-Length: 36\r\n\r\nline one\r\n"),
	  SATCHEL_MSG_MBOXRD },
	{ "contentlength.mbox", "content_length = no\nescape = mboxrd\n",
	  SATCHEL_MBOX_OK, 4, 1, W(""), SATCHEL_MSG_MBOXRD },
	/* A valid Content-Length frames the body: served as stored (no
	 * escape undone), whatever escape says; an invalid one does not. */
	{ "contentlength.mbox", "escape = mboxrd\n", SATCHEL_MBOX_OK, 3,
	  0, W("Subject: cl\r\nContent-Length: 36\r\n\r\nline one\r\n\r\n"
	  "From inside the body text\r\n"), 0 },
	{ "contentlength.mbox", "escape = mboxrd\n", SATCHEL_MBOX_OK, 3,
	  1, W("Subject: bad cl\r\nContent-Length: 3\r\n\r\nbody two\r\n"),
	  SATCHEL_MSG_MBOXRD },
	{ "contentlength.mbox", NULL, SATCHEL_MBOX_OK, 3,
	  0, W("Subject: cl\r\nContent-Length: 36\r\n\r\nline one\r\n\r\n"
	  "From inside the body text\r\n"), 0 },
};

static void
test_fixtures(void)
{
	char path[1024], label[128];
	const struct expect *e;
	struct satchel_msgref ref;
	struct blob w, before, after;
	void *mb, *c;
	size_t i;
	int n, st;

	for (i = 0; i < sizeof(expects) / sizeof(expects[0]); i++) {
		e = &expects[i];
		snprintf(label, sizeof(label), "fixture %s [%.*s] message %d",
		    e->file, e->conf ? (int)strcspn(e->conf, "\n") : 8,
		    e->conf ? e->conf : "defaults", e->msg + 1);
		TEST_START(label);
		fixture(e->file, path, sizeof(path));
		before = slurp(path);
		c = e->conf != NULL ? ctx_with(e->conf) : ctx;
		ASSERT_TRUE(c != NULL);
		st = mb_open_ctx(c, path, &mb);
		ASSERT_INT_EQ(st, e->status);
		if (st == SATCHEL_MBOX_OK && mb != NULL) {
			ASSERT_INT_EQ(ops->count(mb), e->count);
			/* Every message: LIST size == bytes RETR sends
			 * (less an added final CRLF). */
			for (n = 0; n < (int)ops->count(mb); n++) {
				w = wire_of(mb, (size_t)n, &ref);
				ASSERT_TRUE(w.p != NULL);
				ASSERT_U64_EQ(size_of(mb, (size_t)n), w.size);
				if (n == e->msg) {
					ASSERT_MEM_EQ(w.p, w.len, e->wire,
					    e->wire_len);
					ASSERT_INT_EQ(ref.flags, e->flags);
				}
				free(w.p);
			}
			ops->close(mb);
		}
		/* Opening never changes the mbox. */
		after = slurp(path);
		ASSERT_MEM_EQ(after.p, after.len, before.p, before.len);
		free(before.p);
		free(after.p);
		TEST_DONE();
	}

	TEST_START("a missing mbox is an empty mailbox");
	path_in(path, sizeof(path), "no-such-mbox");
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->count(mb), 0);
		ops->close(mb);
	}
	TEST_DONE();

	TEST_START("the module refuses a bad [mbox] section");
	ASSERT_TRUE(ctx_with("escape = mboxcl2\n") == NULL);
	ASSERT_TRUE(ctx_with("hide_headers = yes\n") == NULL);
	ASSERT_TRUE(ctx_with("lock_timeout_ms = soon\n") == NULL);
	TEST_DONE();
}

/* ---- random mboxes against a reference splitter -------------------- */

struct refmsg {
	size_t	 data, len;
};

/* The rule from the top of storage_mbox.c, in memory.  -1: not mbox. */
static int
ref_split(const char *d, size_t len, struct refmsg *out, size_t max)
{
	size_t pos = 0, ls, le, empty_off = 0, n = 0;
	int open = 0, prev_empty = 0, empty;

	while (pos < len) {
		ls = pos;
		le = ls;
		while (le < len && d[le] != '\n')
			le++;
		if (le < len)
			le++;
		pos = le;
		if (le - ls >= 5 && memcmp(d + ls, "From ", 5) == 0 &&
		    (ls == 0 || prev_empty)) {
			if (open)
				out[n - 1].len = (prev_empty ? empty_off :
				    ls) - out[n - 1].data;
			if (n == max)
				return -1;
			out[n].data = le;
			out[n++].len = 0;
			open = 1;
			prev_empty = 0;
			continue;
		}
		empty = (le - ls == 1 && d[ls] == '\n') ||
		    (le - ls == 2 && d[ls] == '\r' && d[ls + 1] == '\n');
		if (!open && !empty)
			return -1;
		prev_empty = empty;
		if (empty)
			empty_off = ls;
	}
	if (open)
		out[n - 1].len = (prev_empty ? empty_off : len) -
		    out[n - 1].data;
	return (int)n;
}

static uint32_t rnd_state = 12345;

static uint32_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void
gen_line(struct blob *b, size_t cap)
{
	static const char *const kinds[] = {
		"From ", ">From ", ">>From ", "", "\r", ".", "..", "From",
		"Message-ID: <x@y>", "Date: now", "Subject: random",
	};
	size_t k = rnd() % 16, i, n;

	if (b->len + 12000 > cap)
		return;
	if (k < sizeof(kinds) / sizeof(kinds[0])) {
		n = strlen(kinds[k]);
		memcpy(b->p + b->len, kinds[k], n);
		b->len += n;
	}
	n = rnd() % 100 == 0 ? 4000 + rnd() % 6000 : rnd() % 80;
	for (i = 0; i < n; i++)
		b->p[b->len++] = rnd() % 50 == 0 ? '\0' : (char)('a' +
		    rnd() % 26);
	if (rnd() % 4 == 0)
		b->p[b->len++] = '\r';
	b->p[b->len++] = '\n';
}

static void
test_random(void)
{
	char path[1024], label[64], *in;
	struct refmsg *rm;
	struct satchel_msgref ref;
	struct proto_xfer x;
	const char *err;
	size_t cap = 5 * 1024 * 1024, i, j;
	struct blob b, w;
	int seed, n, bad;
	void *mb;

	rm = calloc(100000, sizeof(*rm));
	b.p = malloc(cap);
	w.p = malloc(3 * cap + 64);
	in = malloc(cap);
	for (seed = 1; seed <= 4; seed++) {
		snprintf(label, sizeof(label), "random mbox, seed %d", seed);
		TEST_START(label);
		rnd_state = (uint32_t)seed * 2654435761u;
		b.len = 0;
		while (b.len + 12000 < cap - 64 * 1024) {
			/* A From_ line, sometimes very long, then lines. */
			if (b.len > 0 && rnd() % 8 != 0)
				b.p[b.len++] = '\n';
			memcpy(b.p + b.len, "From sender ", 12);
			b.len += 12;
			j = rnd() % 30 == 0 ? 5000 : 20;
			for (i = 0; i < j; i++)
				b.p[b.len++] = (char)('0' + rnd() % 10);
			b.p[b.len++] = '\n';
			j = rnd() % 200;
			for (i = 0; i < j; i++)
				gen_line(&b, cap);
		}
		if (seed % 2 == 0)
			b.len--;	/* no final newline */
		path_in(path, sizeof(path), "random.mbox");
		test_write_file(path, b.p, b.len);
		n = ref_split(b.p, b.len, rm, 100000);
		ASSERT_TRUE(n > 100);
		ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
		if (mb == NULL) {
			TEST_DONE();
			continue;
		}
		ASSERT_INT_EQ(ops->count(mb), n);
		for (i = 0, bad = 0; i < (size_t)n && i < ops->count(mb) &&
		    bad < 3; i++) {
			memset(&ref, 0, sizeof(ref));
			if (ops->message(mb, i, &ref, &err) != 0) {
				bad++;
				ASSERT_TRUE(0);
				continue;
			}
			close(ref.fd);
			if ((size_t)ref.offset != rm[i].data ||
			    ref.length != rm[i].len) {
				bad++;
				test_fail(__FILE__, __LINE__, "message %zu: "
				    "at %lld+%llu, want %zu+%zu", i,
				    (long long)ref.offset,
				    (unsigned long long)ref.length,
				    rm[i].data, rm[i].len);
			}
			proto_xfer_init(&x, 0, 0, 0, 0);
			w.len = proto_xfer(&x, b.p + rm[i].data, rm[i].len,
			    w.p);
			w.len += proto_xfer_end(&x, w.p + w.len);
			w.len = size_want(w.len, b.p + rm[i].data,
			    rm[i].len);
			if (size_of(mb, i) != w.len) {
				bad++;
				ASSERT_U64_EQ(size_of(mb, i), w.len);
			}
		}
		ops->close(mb);
		/* The second open uses the index: same answers. */
		ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
		if (mb != NULL) {
			ASSERT_INT_EQ(ops->count(mb), n);
			if (n > 0 && (int)ops->count(mb) == n) {
				proto_xfer_init(&x, 0, 0, 0, 0);
				w.len = proto_xfer(&x, b.p + rm[n - 1].data,
				    rm[n - 1].len, w.p);
				w.len += proto_xfer_end(&x, w.p + w.len);
				w.len = size_want(w.len, b.p +
				    rm[n - 1].data, rm[n - 1].len);
				ASSERT_U64_EQ(size_of(mb, (size_t)n - 1),
				    w.len);
			}
			ops->close(mb);
		}
		TEST_DONE();
	}
	free(in);
	free(rm);
	free(b.p);
	free(w.p);
}

static void
test_huge_line(void)
{
	char path[1024];
	struct blob b, w;
	void *mb;
	size_t i, n = 1024 * 1024 + 7;

	TEST_START("a 1 MiB line, and a 2 MiB From_ line");
	b.p = malloc(4 * n);
	b.len = 0;
	memcpy(b.p, "From a Mon Jan  1 00:00:00 2024\nSubject: huge\n\n", 48);
	b.len = 48;
	for (i = 0; i < n; i++)
		b.p[b.len++] = (char)('a' + i % 26);
	b.p[b.len++] = '\n';
	b.p[b.len++] = '\n';
	memcpy(b.p + b.len, "From ", 5);
	b.len += 5;
	for (i = 0; i < 2 * n; i++)
		b.p[b.len++] = 'x';
	memcpy(b.p + b.len, "\nSubject: two\n\nbody\n", 20);
	b.len += 20;
	path_in(path, sizeof(path), "huge.mbox");
	test_write_file(path, b.p, b.len);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->count(mb), 2);
		ASSERT_U64_EQ(size_of(mb, 0), 16 + 2 + n + 2);
		w = wire_of(mb, 1, NULL);
		ASSERT_MEM_EQ(w.p, w.len, "Subject: two\r\n\r\nbody\r\n", 22);
		free(w.p);
		ops->close(mb);
	}
	free(b.p);
	TEST_DONE();
}

/* ---- Content-Length framing and escape = none ----------------------- */

#define FL(n)	"From s" #n "@example.org Mon Jan  1 00:00:0" #n " 2024"

struct framed {
	const char	*label;
	const char	*conf;		/* NULL: defaults */
	const char	*mbox;
	size_t		 mbox_len;
	int		 count;
	/* Each message's stored bytes (after its From_ line) and flags. */
	const char	*msg[4];
	uint32_t	 flags[4];
};

#define S(s)	s, sizeof(s) - 1

static const struct framed framed[] = {
	{ "CL body without a final newline, next From_ after one LF", NULL,
	  S(FL(1) "\nContent-Length: 7\n\nno LF\n.\n" FL(2) "\nSubject: two\n"
	  "\nbody\n\n"), 2,
	  { "Content-Length: 7\n\nno LF\n.", "Subject: two\n\nbody\n" },
	  { 0, 0 } },
	{ "CL body, CRLF, next From_ after one CRLF", NULL,
	  S(FL(1) "\r\nContent-Length: 10\r\n\r\nx\r\n>From y" "\r\n" FL(2)
	  "\r\n\r\nb\r\n"), 2,
	  { "Content-Length: 10\r\n\r\nx\r\n>From y", "\r\nb\r\n" },
	  { 0, SATCHEL_MSG_WIRE } },
	{ "SATCHEL_MSG_WIRE: CRLF only, no dot line, nothing to undo",
	  "escape = mboxrd\n",
	  S(FL(1) "\r\nA: b\r\n\r\nx\r\n\r\n" FL(2) "\r\nA: b\r\n\r\n.x\r\n"
	  "\r\n" FL(3) "\r\nContent-Length: 9\r\n\r\n>From y\r\n\r\n"), 3,
	  { "A: b\r\n\r\nx\r\n", "A: b\r\n\r\n.x\r\n",
	  "Content-Length: 9\r\n\r\n>From y\r\n" },
	  { SATCHEL_MSG_MBOXRD, SATCHEL_MSG_MBOXRD, SATCHEL_MSG_WIRE } },
	/* A CR inside a line goes out as it is: still wire bytes. */
	{ "SATCHEL_MSG_WIRE: not for LF, a bare LF or a dot line", NULL,
	  S(FL(1) "\nA: b\n\nx\n\n" FL(2) "\r\nA: b\r\n\r\nx\ry\r\nz\n\r\n"
	  FL(3) "\r\nA: b\r\n\r\n..\r\n\r\n" FL(4) "\r\n\r\nx\ry\r\n"), 4,
	  { "A: b\n\nx\n", "A: b\r\n\r\nx\ry\r\nz\n", "A: b\r\n\r\n..\r\n",
	  "\r\nx\ry\r\n" }, { 0, 0, 0, SATCHEL_MSG_WIRE } },
	{ "CL body with From lines after empty lines", NULL,
	  S(FL(1) "\nContent-Length: 23\n\na\n\nFrom x Mon\n\n>From z\n\n"
	  FL(2) "\n\nz\n"), 2,
	  { "Content-Length: 23\n\na\n\nFrom x Mon\n\n>From z\n", "\nz\n" },
	  { 0, 0 } },
	{ "CL body ends the file with one LF after it", NULL,
	  S(FL(1) "\nContent-Length: 3\n\nabc\n"), 1,
	  { "Content-Length: 3\n\nabc" }, { 0 } },
	{ "CL body runs to the end of the file", NULL,
	  S(FL(1) "\nContent-Length: 4\n\nabc\n"), 1,
	  { "Content-Length: 4\n\nabc\n" }, { 0 } },
	/* An invalid length: the From_ line scan decides, and a From_ line
	 * after a text line is body text (the documented rule). */
	{ "invalid CL: the message continues into the next From_ line",
	  NULL, S(FL(1) "\nContent-Length: 5\n\nno LF\n.\n" FL(2) "\n\nb\n"),
	  1, { "Content-Length: 5\n\nno LF\n.\n" FL(2) "\n\nb\n" }, { 0 } },
	{ "content_length = no: the same two messages are one",
	  "content_length = no\n",
	  S(FL(1) "\nContent-Length: 7\n\nno LF\n.\n" FL(2) "\n\nb\n"), 1,
	  { "Content-Length: 7\n\nno LF\n.\n" FL(2) "\n\nb\n" }, { 0 } },
	{ "escape = mboxrd: a CL body is not unescaped, others are",
	  "escape = mboxrd\n",
	  S(FL(1) "\nContent-Length: 17\n\n>From a\n>>From b\n\n" FL(2)
	  "\n\n>From c\n\n"), 2,
	  { "Content-Length: 17\n\n>From a\n>>From b\n", "\n>From c\n" },
	  { 0, SATCHEL_MSG_MBOXRD } },
	{ "escape = mboxo: a CL body is not unescaped, header included",
	  "escape = mboxo\n",
	  S(FL(1) "\n>From in the header\nContent-Length: 8\n\n>From a\n\n"
	  FL(2) "\n>From h\n\n>From c\n"), 2,
	  { ">From in the header\nContent-Length: 8\n\n>From a\n",
	  ">From h\n\n>From c\n" }, { 0, SATCHEL_MSG_MBOXO } },
	{ "escape = none: nothing is unescaped", "escape = none\n",
	  S(FL(1) "\n\n>From a\n>>From b\n"), 1,
	  { "\n>From a\n>>From b\n" }, { 0 } },
	{ "a CL that lands mid-line is ignored", NULL,
	  S(FL(1) "\nContent-Length: 2\n\nabc\n\n" FL(2) "\n\nb\n"), 2,
	  { "Content-Length: 2\n\nabc\n", "\nb\n" }, { 0, 0 } },
};

static void
check_framed(void *c, const char *path, const struct framed *f)
{
	struct satchel_msgref ref;
	struct blob w, all;
	const char *err;
	void *mb;
	int n;

	ASSERT_INT_EQ(mb_open_ctx(c, path, &mb), SATCHEL_MBOX_OK);
	if (mb == NULL)
		return;
	all = slurp(path);
	ASSERT_INT_EQ(ops->count(mb), f->count);
	for (n = 0; n < f->count && n < (int)ops->count(mb); n++) {
		memset(&ref, 0, sizeof(ref));
		ASSERT_INT_EQ(ops->message(mb, (size_t)n, &ref, &err), 0);
		close(ref.fd);
		ASSERT_MEM_EQ(all.p + ref.offset, (size_t)ref.length,
		    f->msg[n], strlen(f->msg[n]));
		ASSERT_INT_EQ(ref.flags, f->flags[n]);
		/* LIST equals the octets RETR sends with those flags
		 * (less an added final CRLF). */
		w = wire_of(mb, (size_t)n, NULL);
		ASSERT_TRUE(w.p != NULL);
		ASSERT_U64_EQ(size_of(mb, (size_t)n), w.size);
		free(w.p);
	}
	ops->close(mb);
	free(all.p);
}

static void
test_framing(void)
{
	char path[1024], label[160], name[32], *big;
	const struct framed *f;
	struct framed fb;
	size_t i, n, m0end;
	void *c;

	for (i = 0; i < sizeof(framed) / sizeof(framed[0]); i++) {
		f = &framed[i];
		snprintf(label, sizeof(label), "framing: %s", f->label);
		TEST_START(label);
		c = f->conf != NULL ? ctx_with(f->conf) : ctx;
		ASSERT_TRUE(c != NULL);
		/* A file of its own: the index is for append-only growth. */
		snprintf(name, sizeof(name), "framed-%zu.mbox", i);
		path_in(path, sizeof(path), name);
		test_write_file(path, f->mbox, f->mbox_len);
		check_framed(c, path, f);
		/* The second open comes from the index: the same answers. */
		check_framed(c, path, f);
		TEST_DONE();
	}

	/*
	 * A header longer than a read chunk, with a ">From" header line
	 * the escape would undo: the size of the framed message must be the
	 * one without unescaping, fed across buffer moves.
	 */
	TEST_START("framing: a 3 MiB header before a CL body (escape = mboxrd)");
	n = 3 * 1024 * 1024;
	big = malloc(n + 256);
	ASSERT_TRUE(big != NULL);
	i = 0;
#define APPEND(lit)	do {					\
	memcpy(big + i, lit, sizeof(lit) - 1);			\
	i += sizeof(lit) - 1;					\
} while (0)
	APPEND(FL(1) "\nX-Long: ");
	for (; i < n; i++)
		big[i] = (char)('a' + i % 26);
	APPEND("\n>From hdr\nContent-Length: 9\n\n>From bo\n");
	m0end = i;
	APPEND("\n" FL(2) "\n\n>From c\n");
#undef APPEND
	path_in(path, sizeof(path), "framed-big.mbox");
	test_write_file(path, big, i);
	memset(&fb, 0, sizeof(fb));
	fb.count = 2;
	big[m0end] = '\0';	/* the file is written: end message 1 */
	fb.msg[0] = big + sizeof(FL(1));
	fb.msg[1] = "\n>From c\n";
	fb.flags[0] = 0;
	fb.flags[1] = SATCHEL_MSG_MBOXRD;
	c = ctx_with("escape = mboxrd\n");
	check_framed(c, path, &fb);
	free(big);
	TEST_DONE();
}

/* ---- UIDs and the index ------------------------------------------ */

static const char *
msg_text(int i)
{
	static char buf[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "From sender%d@example.org Mon Jan  "
	    "1 00:%02d:%02d 2024\nFrom: sender%d@example.org\nMessage-ID: "
	    "<m%d@example.org>\nSubject: message %d\n\nbody of %d\n>From "
	    "escaped\n.\n\n", i, i / 60 % 60, i % 60, i, i, i, i);
	return buf[k];
}

static void
write_mbox(const char *path, int first, int count)
{
	int i;

	test_write_file(path, "", 0);
	for (i = first; i < first + count; i++)
		append_file(path, msg_text(i), strlen(msg_text(i)));
}

/* RFC 1939 size of a message text as msg_text() makes it. */
static uint64_t
text_size(const char *t)
{
	struct proto_xfer x;
	const char *data = strchr(t, '\n') + 1;
	size_t len = strlen(data) - 1;	/* the separator */

	proto_xfer_init(&x, 0, 0, 0, 0);	/* escape = none */
	return proto_size(&x, data, len) + proto_size_end(&x);
}

static void
test_uids(void)
{
	char path[1024], uids[8][SATCHEL_UID_MAX + 1], idx[1100];
	uint8_t marks[8];
	const char *err;
	struct stat st;
	struct timespec ts[2];
	void *mb;
	int i, fd;
	char c, changed[512];
	uint64_t s_old, s_new;

	TEST_START("UIDs: 32 hex, stable across reopen");
	snprintf(changed, sizeof(changed), "%s", msg_text(0));
	s_old = text_size(changed);
	changed[strlen(changed) - 5] = '\n';
	s_new = text_size(changed);
	ASSERT_U64_EQ(s_new, s_old + 1);
	path_in(path, sizeof(path), "uids.mbox");
	write_mbox(path, 0, 5);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	for (i = 0; i < 5; i++) {
		snprintf(uids[i], sizeof(uids[i]), "%s", uid_of(mb, (size_t)i));
		ASSERT_INT_EQ(strlen(uids[i]), 32);
	}
	ASSERT_TRUE(strcmp(uids[0], uids[1]) != 0);
	ops->close(mb);
	path_in(idx, sizeof(idx), ".uids.mbox.satchel-index");
	unlink(idx);	/* computed again, not only remembered */
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	for (i = 0; i < 5; i++)
		ASSERT_STR_EQ(uid_of(mb, (size_t)i), uids[i]);
	ops->close(mb);
	TEST_DONE();

	TEST_START("UIDs: unchanged by appended mail and deletions");
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	append_file(path, msg_text(5), strlen(msg_text(5)));
	ASSERT_INT_EQ(ops->count(mb), 5);
	memset(marks, 0, sizeof(marks));
	marks[1] = marks[3] = SATCHEL_MARK_DELETED;
	ASSERT_INT_EQ(ops->commit(mb, marks, 5, &err), 0);
	ops->close(mb);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ASSERT_INT_EQ(ops->count(mb), 4);
	ASSERT_STR_EQ(uid_of(mb, 0), uids[0]);
	ASSERT_STR_EQ(uid_of(mb, 1), uids[2]);
	ASSERT_STR_EQ(uid_of(mb, 2), uids[4]);
	snprintf(uids[5], sizeof(uids[5]), "%s", uid_of(mb, 3));
	ops->close(mb);
	unlink(idx);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ASSERT_STR_EQ(uid_of(mb, 1), uids[2]);
	ASSERT_STR_EQ(uid_of(mb, 3), uids[5]);
	ops->close(mb);
	TEST_DONE();

	TEST_START("index: an unchanged mbox is not scanned again");
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ops->close(mb);
	ASSERT_INT_EQ(stat(path, &st), 0);
	/* Change a body byte so that a scan would size it differently. */
	fd = open(path, O_RDWR);
	c = '\n';
	ASSERT_INT_EQ(pwrite(fd, &c, 1, (off_t)strlen(msg_text(0)) - 5), 1);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	ASSERT_INT_EQ(futimens(fd, ts), 0);
	close(fd);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ASSERT_U64_EQ(size_of(mb, 0), s_old);
	ops->close(mb);
	TEST_DONE();

	TEST_START("index: a grown mbox reuses it; a corrupt one is rebuilt");
	append_file(path, msg_text(6), strlen(msg_text(6)));
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ASSERT_INT_EQ(ops->count(mb), 5);
	ASSERT_U64_EQ(size_of(mb, 0), s_old);
	ASSERT_STR_EQ(uid_of(mb, 3), uids[5]);
	ops->close(mb);
	fd = open(idx, O_WRONLY);
	ASSERT_INT_EQ(pwrite(fd, "9", 1, 100), 1);
	close(fd);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ASSERT_INT_EQ(ops->count(mb), 5);
	ASSERT_U64_EQ(size_of(mb, 0), s_new);
	ASSERT_STR_EQ(uid_of(mb, 0), uids[0]);
	ops->close(mb);
	TEST_DONE();

	TEST_START("UIDs: duplicates are suffixed and keep their UID");
	fixture("duplicates.mbox", path, sizeof(path));
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ASSERT_INT_EQ(ops->count(mb), 3);
	for (i = 0; i < 3; i++)
		snprintf(uids[i], sizeof(uids[i]), "%s", uid_of(mb, (size_t)i));
	ASSERT_INT_EQ(strlen(uids[0]), 32);
	ASSERT_TRUE(strncmp(uids[1], uids[0], 32) == 0 &&
	    strcmp(uids[1] + 32, "-2") == 0);
	ASSERT_TRUE(strcmp(uids[2] + 32, "-3") == 0);
	memset(marks, 0, sizeof(marks));
	marks[0] = SATCHEL_MARK_DELETED;
	ASSERT_INT_EQ(ops->commit(mb, marks, 3, &err), 0);
	ops->close(mb);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ASSERT_INT_EQ(ops->count(mb), 2);
	ASSERT_STR_EQ(uid_of(mb, 0), uids[1]);
	ASSERT_STR_EQ(uid_of(mb, 1), uids[2]);
	ops->close(mb);
	TEST_DONE();

	/*
	 * Other options (or an index of the older format) mean a full scan,
	 * but the twins keep the suffixed UIDs the old index remembers.
	 */
	TEST_START("UIDs: twins keep their UIDs when the options change");
	ASSERT_INT_EQ(mb_open_ctx(ctx_with("escape = mboxrd\n"), path, &mb),
	    SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->count(mb), 2);
		ASSERT_STR_EQ(uid_of(mb, 0), uids[1]);
		ASSERT_STR_EQ(uid_of(mb, 1), uids[2]);
		ops->close(mb);
	}
	/* And back, through the index the mboxrd session wrote. */
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_STR_EQ(uid_of(mb, 0), uids[1]);
		ASSERT_STR_EQ(uid_of(mb, 1), uids[2]);
		ops->close(mb);
	}
	TEST_DONE();

	TEST_START("x_uidl: used when valid and unique, never twice");
	fixture("xuidl.mbox", path, sizeof(path));
	ASSERT_INT_EQ(mb_open_ctx(ctx_with("x_uidl = yes\n"), path, &mb),
	    SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_STR_EQ(uid_of(mb, 0), "migrated-1");
		ASSERT_INT_EQ(strlen(uid_of(mb, 1)), 32);
		ASSERT_INT_EQ(strlen(uid_of(mb, 2)), 32);
		ASSERT_STR_EQ(uid_of(mb, 3), "migrated-4");
		ops->close(mb);
	}
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_INT_EQ(strlen(uid_of(mb, 0)), 32);
		ASSERT_INT_EQ(strlen(uid_of(mb, 3)), 32);
		ops->close(mb);
	}
	TEST_DONE();
}

/* ---- locks ---------------------------------------------------------- */

static void
test_locks(void)
{
	char path[1024], lock[1100];
	struct flock fl;
	pid_t pid;
	int status, fd, p[2];
	double t0, t;
	void *mb, *mb2, *c;
	char ch;

	path_in(path, sizeof(path), "locks.mbox");
	write_mbox(path, 0, 3);

	TEST_START("a second session gets IN-USE (other process)");
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	if ((pid = fork()) == 0)
		_exit(mb_open(path, &mb2));
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(WEXITSTATUS(status), SATCHEL_MBOX_INUSE);
	/* The session lock never blocks an MDA's locks. */
	if ((pid = fork()) == 0)
		_exit(core->lock_dotlock(path, 0, 300) == 0 &&
		    core->lock_dotunlock(path) == 0 ? 0 : 1);
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
	ops->close(mb);
	TEST_DONE();

	TEST_START("a held dotlock: TEMPFAIL within lock_timeout_ms");
	c = ctx_with("lock_timeout_ms = 300\n");
	snprintf(lock, sizeof(lock), "%s.lock", path);
	test_write_file(lock, "", 0);
	t0 = now_s();
	ASSERT_INT_EQ(mb_open_ctx(c, path, &mb), SATCHEL_MBOX_TEMPFAIL);
	t = now_s() - t0;
	ASSERT_TRUE(t >= 0.25 && t < 2.0);
	ASSERT_INT_EQ(access(lock, F_OK), 0);	/* not ours to remove */
	unlink(lock);
	ASSERT_INT_EQ(mb_open_ctx(c, path, &mb), SATCHEL_MBOX_OK);
	if (mb != NULL)
		ops->close(mb);
	TEST_DONE();

	TEST_START("an fcntl lock held by an MDA: TEMPFAIL, then OK");
	if (pipe(p) == -1)
		exit(2);
	if ((pid = fork()) == 0) {
		fd = open(path, O_RDWR);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == -1)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ASSERT_INT_EQ(read(p[0], &ch, 1), 1);
	close(p[0]);
	t0 = now_s();
	ASSERT_INT_EQ(mb_open_ctx(c, path, &mb), SATCHEL_MBOX_TEMPFAIL);
	ASSERT_TRUE(now_s() - t0 < 2.0);
	ASSERT_INT_EQ(access(lock, F_OK), -1);	/* our dotlock is gone */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ASSERT_INT_EQ(mb_open_ctx(c, path, &mb), SATCHEL_MBOX_OK);
	if (mb != NULL)
		ops->close(mb);
	TEST_DONE();
}

/* ---- changes under us, commit -------------------------------------- */

static void
test_changes(void)
{
	char path[1024], tmp[1100];
	struct satchel_msgref ref;
	uint8_t marks[4] = { SATCHEL_MARK_DELETED, 0, 0, 0 };
	const char *err;
	struct blob a, b;
	void *mb;
	int fd;

	path_in(path, sizeof(path), "changes.mbox");
	snprintf(tmp, sizeof(tmp), "%s.new", path);

	TEST_START("rewritten by another program: message() and commit fail");
	write_mbox(path, 0, 3);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	ASSERT_INT_EQ(ops->message(mb, 1, &ref, &err), 0);
	close(ref.fd);
	write_mbox(tmp, 1, 3);	/* another MUA's rewrite */
	ASSERT_INT_EQ(rename(tmp, path), 0);
	a = slurp(path);
	ASSERT_INT_EQ(ops->message(mb, 1, &ref, &err), -1);
	ASSERT_INT_EQ(ops->commit(mb, marks, 3, &err), -1);
	ops->close(mb);
	b = slurp(path);
	ASSERT_MEM_EQ(b.p, b.len, a.p, a.len);
	free(a.p);
	free(b.p);
	TEST_DONE();

	TEST_START("rewritten in place, or truncated: message() fails");
	write_mbox(path, 0, 3);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	fd = open(path, O_WRONLY);
	ASSERT_INT_EQ(pwrite(fd, "X", 1, (off_t)strlen(msg_text(0)) + 6), 1);
	ASSERT_INT_EQ(ops->message(mb, 0, &ref, &err), 0);
	close(ref.fd);
	ASSERT_INT_EQ(ops->message(mb, 1, &ref, &err), -1);
	ASSERT_INT_EQ(ftruncate(fd, 10), 0);
	close(fd);
	ASSERT_INT_EQ(ops->message(mb, 0, &ref, &err), -1);
	ops->close(mb);
	TEST_DONE();

	TEST_START("commit: exactly the marked ones go, appended mail stays");
	write_mbox(path, 0, 4);
	ASSERT_INT_EQ(chown(path, 4321, 4322), 0);
	ASSERT_INT_EQ(chmod(path, 0640), 0);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	append_file(path, msg_text(9), strlen(msg_text(9)));
	marks[0] = marks[2] = SATCHEL_MARK_DELETED;
	marks[1] = SATCHEL_MARK_SEEN;
	marks[3] = 0;
	ASSERT_INT_EQ(ops->commit(mb, marks, 4, &err), 0);
	ops->close(mb);
	a = slurp(path);
	b.len = 0;
	b.p = malloc(4096);
	memcpy(b.p, msg_text(1), strlen(msg_text(1)));
	b.len = strlen(msg_text(1));
	memcpy(b.p + b.len, msg_text(3), strlen(msg_text(3)));
	b.len += strlen(msg_text(3));
	memcpy(b.p + b.len, msg_text(9), strlen(msg_text(9)));
	b.len += strlen(msg_text(9));
	ASSERT_MEM_EQ(a.p, a.len, b.p, b.len);
	free(a.p);
	free(b.p);
	TEST_DONE();

	TEST_START("commit keeps owner, group and mode; no files left");
	{
		struct stat st;
		char p2[1100];

		ASSERT_INT_EQ(stat(path, &st), 0);
		ASSERT_INT_EQ(st.st_uid, 4321);
		ASSERT_INT_EQ(st.st_gid, 4322);
		ASSERT_INT_EQ(st.st_mode & 07777, 0640);
		snprintf(p2, sizeof(p2), "%s/.changes.mbox.satchel-new",
		    test_tmpdir());
		ASSERT_INT_EQ(access(p2, F_OK), -1);
		snprintf(p2, sizeof(p2), "%s.lock", path);
		ASSERT_INT_EQ(access(p2, F_OK), -1);
	}
	TEST_DONE();

	TEST_START("commit: deleting the last message while mail arrived");
	write_mbox(path, 0, 2);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	append_file(path, msg_text(7), strlen(msg_text(7)));
	marks[0] = 0;
	marks[1] = SATCHEL_MARK_DELETED;
	ASSERT_INT_EQ(ops->commit(mb, marks, 2, &err), 0);
	ops->close(mb);
	a = slurp(path);
	ASSERT_INT_EQ(a.len, strlen(msg_text(0)) + strlen(msg_text(7)));
	ASSERT_TRUE(a.p != NULL && memcmp(a.p + strlen(msg_text(0)),
	    msg_text(7), strlen(msg_text(7))) == 0);
	free(a.p);
	TEST_DONE();
}

static void
test_enospc(void)
{
	char dir[1024], path[1100], fill[1100], *junk;
	uint8_t marks[64];
	const char *err;
	struct blob a, b;
	void *mb;
	int i, fd;

	TEST_START("ENOSPC during commit: -1, the mbox untouched");
	path_in(dir, sizeof(dir), "full");
	mkdir(dir, 0700);
	if (geteuid() != 0 || mount("tmpfs", dir, "tmpfs", 0,
	    "size=1m") == -1) {
		TEST_SKIP("cannot mount a tmpfs (needs root)");
		TEST_DONE();
		return;
	}
	snprintf(path, sizeof(path), "%s/mbox", dir);
	snprintf(fill, sizeof(fill), "%s/fill", dir);
	test_write_file(path, "", 0);
	junk = malloc(8192);
	memset(junk, 'j', 8192);
	for (i = 0; i < 60; i++) {
		char head[128];

		snprintf(head, sizeof(head), "From x Mon Jan  1 00:00:%02d "
		    "2024\nSubject: %d\n\n", i, i);
		append_file(path, head, strlen(head));
		append_file(path, junk, 8191);
		append_file(path, "\n\n", 2);
	}
	/* Leave less room than a copy of the mbox needs. */
	fd = open(fill, O_WRONLY | O_CREAT, 0600);
	while (write(fd, junk, 8192) == 8192)
		;
	close(fd);
	if (truncate(fill, 0) == -1)
		exit(2);
	fd = open(fill, O_WRONLY, 0600);
	for (i = 0; i < 1024 * 1024 / 8192 - 60 - 8 && write(fd, junk,
	    8192) == 8192; i++)
		;
	close(fd);
	a = slurp(path);
	ASSERT_INT_EQ(mb_open(path, &mb), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->count(mb), 60);
		memset(marks, 0, sizeof(marks));
		marks[0] = SATCHEL_MARK_DELETED;
		ASSERT_INT_EQ(ops->commit(mb, marks, 60, &err), -1);
		ops->close(mb);
	}
	b = slurp(path);
	ASSERT_MEM_EQ(b.p, b.len, a.p, a.len);
	snprintf(fill, sizeof(fill), "%s/.mbox.satchel-new", dir);
	ASSERT_INT_EQ(access(fill, F_OK), -1);
	free(a.p);
	free(b.p);
	free(junk);
	umount(dir);
	TEST_DONE();
}

/* ---- kill -9 during commit ------------------------------------------ */

#define KILL_MSGS	120
#define KILL_ITER	60

static void
test_kill_loop(void)
{
	char path[1024], dl[1100], tmpf[1100];
	uint8_t marks[KILL_MSGS];
	size_t off[KILL_MSGS + 1], i;
	struct blob orig, now, want;
	const char *err;
	char *body;
	double t0, full, deadline;
	pid_t pid;
	int it, status, ok_old = 0, ok_new = 0, other = 0, missing = 0;
	void *mb;

	TEST_START("kill -9 at random points of the update loses nothing");
	path_in(path, sizeof(path), "kill.mbox");
	snprintf(dl, sizeof(dl), "%s.lock", path);
	snprintf(tmpf, sizeof(tmpf), "%s/.kill.mbox.satchel-new",
	    test_tmpdir());
	body = malloc(20000);
	orig.p = malloc(KILL_MSGS * 21000);
	orig.len = 0;
	for (i = 0; i < KILL_MSGS; i++) {
		size_t j, n = 2000 + (i * 7919) % 16000;
		int k = snprintf(orig.p + orig.len, 200, "From k%zu Mon Jan  1 "
		    "00:00:00 2024\nSubject: kill %zu\n\n", i, i);

		off[i] = orig.len;
		orig.len += (size_t)k;
		for (j = 0; j < n; j++)
			body[j] = j % 64 == 63 ? '\n' : (char)('a' +
			    (i + j) % 26);
		memcpy(orig.p + orig.len, body, n);
		orig.len += n;
		memcpy(orig.p + orig.len, "\n\n", 2);
		orig.len += 2;
	}
	off[KILL_MSGS] = orig.len;
	want.p = malloc(orig.len);
	rnd_state = 777;

	/*
	 * How long does a whole update take, the way the loop runs it: a
	 * forked child that opens and commits?  (Under ASan a fork alone
	 * costs more than the update.)  Kills then land from the start to
	 * twice that, so both outcomes occur.
	 */
	test_write_file(path, orig.p, orig.len);
	memset(marks, 0, sizeof(marks));
	marks[3] = SATCHEL_MARK_DELETED;
	t0 = now_s();
	if ((pid = fork()) == 0) {
		if (mb_open(path, &mb) != SATCHEL_MBOX_OK)
			_exit(3);
		_exit(ops->commit(mb, marks, KILL_MSGS, &err) == 0 ? 0 : 4);
	}
	waitpid(pid, &status, 0);
	full = now_s() - t0;
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	deadline = now_s() + 30;
	for (it = 0; it < KILL_ITER && now_s() < deadline; it++) {
		test_write_file(path, orig.p, orig.len);
		for (i = 0; i < KILL_MSGS; i++)
			marks[i] = rnd() % 3 == 0 ? SATCHEL_MARK_DELETED : 0;
		want.len = 0;
		for (i = 0; i < KILL_MSGS; i++)
			if (!marks[i]) {
				memcpy(want.p + want.len, orig.p + off[i],
				    off[i + 1] - off[i]);
				want.len += off[i + 1] - off[i];
			}
		if ((pid = fork()) == 0) {
			if (mb_open(path, &mb) != SATCHEL_MBOX_OK)
				_exit(3);
			_exit(ops->commit(mb, marks, KILL_MSGS, &err) == 0 ?
			    0 : 4);
		}
		usleep((useconds_t)((double)(rnd() % 1000) / 1000.0 *
		    full * 2.0 * 1e6));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		/* A dotlock left by a killed process is removed by hand
		 * (it would be broken as stale after 300 s). */
		unlink(dl);
		now = slurp(path);
		if (now.len == orig.len && memcmp(now.p, orig.p, orig.len) ==
		    0)
			ok_old++;
		else if (now.len == want.len && memcmp(now.p, want.p,
		    want.len) == 0)
			ok_new++;
		else
			other++;
		for (i = 0; i < KILL_MSGS; i++)
			if (!marks[i] && memmem(now.p, now.len,
			    orig.p + off[i], off[i + 1] - off[i]) == NULL)
				missing++;
		free(now.p);
		(void)unlink(tmpf);
	}
	printf("    %d iterations (full forked update %.1f ms): %d old file, "
	    "%d new file, %d other\n", it, full * 1000, ok_old, ok_new,
	    other);
	ASSERT_TRUE(it >= 50);
	ASSERT_INT_EQ(missing, 0);
	ASSERT_INT_EQ(other, 0);
	ASSERT_TRUE(ok_old > 0 && ok_new > 0);
	free(body);
	free(orig.p);
	free(want.p);
	TEST_DONE();
}

/* ---- Content-Length and the update -------------------------------- */

/*
 * Found by fuzzing: message 1's Content-Length: 57 ends inside message
 * 3's From_ line, so the scan ignores it; once message 2 is gone it ends
 * just before message 4's From_ line, and a scan without the index
 * would make messages 1 and 3 one.
 */
static const char cl_trap[] =
    "From u0 Mon\nContent-Length: 57\n\nbb\na\nbb\n\n"
    "From u1 Mon\nContent-Length: 34\n\nbb\n\n\n"
    "From u2 Mon\nContent-Length: 16\n\na\nccc\n\nFrom y\na\n\n"
    "From u3 Mon\nContent-Length: 0\n\n\n";

static void
test_cl_update(void)
{
	char path[1024], idx[1100];
	uint8_t marks[8];
	const char *err;
	struct blob a, b, w[4], v;
	void *mb, *cl, *noidx;
	size_t i, n;

	TEST_START("content_length: a deletion that would merge two kept "
	    "messages is refused, nothing lost");
	cl = ctx_with("content_length = yes\n");
	noidx = ctx_with("content_length = yes\nindex = no\n");
	ASSERT_TRUE(cl != NULL && noidx != NULL);
	path_in(path, sizeof(path), "cltrap.mbox");
	test_write_file(path, cl_trap, sizeof(cl_trap) - 1);
	a = slurp(path);
	ASSERT_INT_EQ(mb_open_ctx(cl, path, &mb), SATCHEL_MBOX_OK);
	n = mb != NULL ? ops->count(mb) : 0;
	ASSERT_INT_EQ(n, 4);
	for (i = 0; i < 4; i++)
		w[i] = i < n ? wire_of(mb, i, NULL) : (struct blob){ NULL, 0, 0 };
	memset(marks, 0, sizeof(marks));
	marks[1] = SATCHEL_MARK_DELETED;
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->commit(mb, marks, n, &err), -1);
		ops->close(mb);
	}
	/* Whatever the update did, a fresh scan must see what is kept. */
	ASSERT_INT_EQ(mb_open_ctx(noidx, path, &mb), SATCHEL_MBOX_OK);
	n = mb != NULL ? ops->count(mb) : 0;
	ASSERT_TRUE(n == 4 || n == 3);
	for (i = 0; i < n; i++) {
		v = wire_of(mb, i, NULL);
		b = w[n == 4 || i == 0 ? i : i + 1];
		ASSERT_MEM_EQ(v.p, v.len, b.p, b.len);
		free(v.p);
	}
	if (mb != NULL)
		ops->close(mb);
	b = slurp(path);
	ASSERT_MEM_EQ(b.p, b.len, a.p, a.len);
	free(a.p);
	free(b.p);
	for (i = 0; i < 4; i++)
		free(w[i].p);
	TEST_DONE();

	TEST_START("content_length: other deletions still work and read back "
	    "the same without the index");
	fixture("contentlength.mbox", path, sizeof(path));
	ASSERT_INT_EQ(mb_open_ctx(cl, path, &mb), SATCHEL_MBOX_OK);
	n = mb != NULL ? ops->count(mb) : 0;
	ASSERT_INT_EQ(n, 3);
	for (i = 0; i < 3; i++)
		w[i] = i < n ? wire_of(mb, i, NULL) : (struct blob){ NULL, 0, 0 };
	memset(marks, 0, sizeof(marks));
	marks[1] = SATCHEL_MARK_DELETED;
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->commit(mb, marks, n, &err), 0);
		ops->close(mb);
	}
	snprintf(idx, sizeof(idx), "%s/.contentlength.mbox.satchel-index",
	    test_tmpdir());
	ASSERT_INT_EQ(unlink(idx), 0);
	ASSERT_INT_EQ(mb_open_ctx(cl, path, &mb), SATCHEL_MBOX_OK);
	ASSERT_INT_EQ(mb != NULL ? ops->count(mb) : 0, 2);
	if (mb != NULL && ops->count(mb) == 2) {
		v = wire_of(mb, 0, NULL);
		ASSERT_MEM_EQ(v.p, v.len, w[0].p, w[0].len);
		free(v.p);
		v = wire_of(mb, 1, NULL);
		ASSERT_MEM_EQ(v.p, v.len, w[2].p, w[2].len);
		free(v.p);
	}
	if (mb != NULL)
		ops->close(mb);
	for (i = 0; i < 3; i++)
		free(w[i].p);
	TEST_DONE();
}

/*
 * hide_headers = dovecot: every message carries SATCHEL_MSG_HIDE (never
 * _WIRE), sizes leave Dovecot's header lines out, and the index written
 * with one setting is not believed with the other.
 */
static void
test_hide_headers(void)
{
	static const char box[] =
	    "From a@b Mon Jan  1 00:00:00 2024\r\n"
	    "Status: RO\r\nX-UID: 7\r\nSubject: s\r\n\r\nbody\r\n\r\n"
	    "From a@b Mon Jan  1 00:00:01 2024\r\n"
	    "Subject: t\r\n\r\nclean\r\n";
	char path[1024];
	struct satchel_msgref ref;
	struct blob w;
	void *c, *mb;
	int round;

	TEST_START("hide_headers = dovecot: flags, sizes, the index");
	path_in(path, sizeof(path), "hide.mbox");
	test_write_file(path, box, sizeof(box) - 1);
	for (round = 0; round < 4; round++) {
		/* off, on, on (from the index), off again */
		c = round == 1 || round == 2 ?
		    ctx_with("hide_headers = dovecot\n") : ctx_with("");
		ASSERT_TRUE(c != NULL);
		if (c == NULL)
			break;
		ASSERT_INT_EQ(mb_open_ctx(c, path, &mb), SATCHEL_MBOX_OK);
		if (mb == NULL)
			break;
		ASSERT_INT_EQ(ops->count(mb), 2);
		w = wire_of(mb, 0, &ref);
		if (round == 1 || round == 2) {
			ASSERT_INT_EQ(ref.flags, SATCHEL_MSG_HIDE);
			ASSERT_MEM_EQ(w.p, w.len, "Subject: s\r\n\r\nbody\r\n",
			    20);
			ASSERT_U64_EQ(size_of(mb, 0), 20);
		} else {
			ASSERT_INT_EQ(ref.flags, SATCHEL_MSG_WIRE);
			ASSERT_U64_EQ(size_of(mb, 0), 42);
		}
		free(w.p);
		w = wire_of(mb, 1, &ref);
		ASSERT_INT_EQ(ref.flags, round == 1 || round == 2 ?
		    SATCHEL_MSG_HIDE : SATCHEL_MSG_WIRE);
		ASSERT_U64_EQ(size_of(mb, 1), 21);
		free(w.p);
		ops->close(mb);
	}
	TEST_DONE();
}

int
main(void)
{
	const struct satchel_module *mod;
	struct module *m;

	TEST_START("load the mbox module through module_load");
	core = test_core();
	if ((m = test_load_module("mbox", SATCHEL_MODULE_STORAGE)) == NULL) {
		TEST_DONE();
		return test_summary();
	}
	mod = m->desc;
	ASSERT_INT_EQ(mod->abi_major, SATCHEL_ABI_MAJOR);
	ASSERT_INT_EQ(mod->abi_minor, SATCHEL_ABI_MINOR);
	ASSERT_INT_EQ(mod->kind, SATCHEL_MODULE_STORAGE);
	ASSERT_STR_EQ(mod->name, "mbox");
	ASSERT_INT_EQ(mod->ops_size, sizeof(struct satchel_storage_ops));
	ASSERT_TRUE(dlsym(m->handle, "mbox_open") == NULL);
	ASSERT_TRUE(dlsym(m->handle, "mb_scan") == NULL);
	ops = mod->ops;
	ASSERT_INT_EQ(ops->init(core, NULL, &ctx), 0);
	TEST_DONE();

	test_fixtures();
	test_random();
	test_huge_line();
	test_framing();
	test_uids();
	test_locks();
	test_changes();
	test_cl_update();
	test_enospc();
	test_kill_loop();
	test_hide_headers();

	ops->fini(ctx);
	ctx_free_all();
	module_unload(m);
	return test_summary();
}
