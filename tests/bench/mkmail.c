/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mkmail.c -- a deterministic mailbox generator for benchmarks and tests
 * (tests/bench/).  The same arguments and seed always give the same bytes.
 *
 *   mkmail maildir DIR   -n COUNT -s SIZE [-S seed]
 *   mkmail mbox    FILE  -n COUNT -s SIZE [-S seed]
 *   mkmail users   ROOT  -U USERS -n COUNT -s SIZE [-S seed] [-D domain]
 *
 * maildir writes DIR/{cur,new,tmp} with COUNT messages in cur/ named like
 * Dovecot's deliver does ("T.MnPp.bench,S=size,W=crlfsize:2,").  mbox
 * writes one mbox file (mboxrd escaping: a body line matching /^>*From /
 * gets one more '>').  users writes ROOT/DOMAIN/userN (N from 0) Maildirs.
 *
 * SIZE is "4k", "1m" (every message that size, approximately: the last
 * line is cut to fit) or a range "1k-10m" (log-uniform, deterministic).
 *
 * Content is deliberately awkward for a POP3 server: lines that are "."
 * or start with "." (dot-stuffing), body lines starting with "From " and
 * ">From " (mbox escaping), lines up to 20,000 bytes, 8-bit bytes, and
 * base64-like runs for bulk.  Lines end in LF, as in real Maildirs.
 *
 * -C (maildir): "wire-clean" messages instead, stored exactly as POP3
 * sends them: every line ends CRLF and a line that would start with '.'
 * starts with ',' instead.  A server can send those with sendfile()
 * (Satchel's zero-copy RETR path); everything else above still holds.
 *
 * Build: gcc -O2 -o mkmail mkmail.c
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL	(256 * 1024)
#define MSG_MAX	(64 * 1024 * 1024)

static uint64_t rng_state;
static char pool[POOL];		/* printable text */
static char pool8[POOL];	/* text with 8-bit bytes */
static char b64[POOL];		/* base64 alphabet run */
static char *msg;
static size_t msglen;
static int wire_clean;		/* -C */

static uint64_t
rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
rnd_range(size_t lo, size_t hi)		/* [lo, hi] */
{
	return lo + (size_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static void
pools_init(void)
{
	static const char words[] = "the quick brown fox jumps over a lazy "
	    "dog while mail servers count octets and dots ";
	static const char a64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789+/";
	size_t i;

	rng_state = 42;
	for (i = 0; i < POOL; i++) {
		pool[i] = words[rnd() % (sizeof(words) - 1)];
		pool8[i] = (rnd() & 3) == 0 ? (char)(0x80 + rnd() % 0x80) :
		    words[rnd() % (sizeof(words) - 1)];
		b64[i] = a64[rnd() % 64];
	}
}

static void
put(const void *p, size_t n)
{
	if (msglen + n > MSG_MAX)
		n = MSG_MAX - msglen;
	memcpy(msg + msglen, p, n);
	msglen += n;
}

static void
puts_(const char *s)
{
	put(s, strlen(s));
}

static void
put_from(const char *src, size_t n)
{
	put(src + rnd() % (POOL - n), n);
}

/* One body line of a random kind, at most room bytes with its LF. */
static void
body_line(size_t room, int bulk)
{
	static const char *dots[] = { ".", "..", ".hidden by a dot",
	    "...three", ". ", ".\r" };
	static const char *froms[] = { "From the desk of the editor",
	    "From ", ">From an escaped line", ">>From twice escaped",
	    "From: not a header in the body" };
	unsigned k = (unsigned)(rnd() % 100);
	size_t n;

	if (room < 2)
		return;
	if (bulk && k < 97) {
		n = room - 1 < 76 ? room - 1 : 76;
		put_from(b64, n);
	} else if (k < 60) {
		n = rnd_range(1, 78);
		put_from(pool, n < room - 1 ? n : room - 1);
	} else if (k < 72) {
		const char *d = dots[rnd() % 6];

		n = strlen(d) < room - 1 ? strlen(d) : room - 1;
		put(d, n);
	} else if (k < 80) {
		const char *f = froms[rnd() % 5];

		n = strlen(f) < room - 1 ? strlen(f) : room - 1;
		put(f, n);
	} else if (k < 90) {
		n = rnd_range(1, 120);
		put_from(pool8, n < room - 1 ? n : room - 1);
	} else if (k < 93) {
		n = rnd_range(1000, 20000);
		put_from(pool, n < room - 1 ? n : room - 1);
	} else if (k < 96) {
		/* empty line */
	} else {
		n = rnd_range(1, 76);
		put_from(b64, n < room - 1 ? n : room - 1);
	}
	put("\n", 1);
}

/* -C: rewrite msg as wire bytes (CRLF, no line starting with '.'). */
static void
make_clean(void)
{
	static char *w;
	size_t i, o = 0;

	if (w == NULL && (w = malloc(2 * (size_t)MSG_MAX)) == NULL) {
		perror("malloc");
		exit(1);
	}
	for (i = 0; i < msglen; i++) {
		if ((i == 0 || msg[i - 1] == '\n') && msg[i] == '.') {
			w[o++] = ',';
			continue;
		}
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			w[o++] = '\r';
		w[o++] = msg[i];
	}
	if (o > MSG_MAX)
		o = MSG_MAX;	/* a whole number of lines is not needed */
	memcpy(msg, w, o);
	msglen = o;
}

/* Build message idx of about target bytes into msg/msglen. */
static void make_clean(void);

static void
make_message(uint64_t seed, long idx, size_t target)
{
	char h[512];
	int bulk;

	rng_state = seed * 1000003ULL + (uint64_t)idx * 7919ULL + 1;
	msglen = 0;
	snprintf(h, sizeof(h),
	    "Return-Path: <sender%ld@bench.example>\n"
	    "Received: from bench.example by mx.bench.example; "
	    "Mon, 1 Jan 2024 00:00:%02ld +0000\n"
	    "From: Sender %ld <sender%ld@bench.example>\n"
	    "To: user@bench.example\n"
	    "Subject: benchmark message %ld (%zu bytes)\n"
	    "Date: Mon, 1 Jan 2024 00:00:%02ld +0000\n"
	    "Message-ID: <%ld.%llu@bench.example>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "\n", idx, idx % 60, idx, idx, idx, target, idx % 60, idx,
	    (unsigned long long)seed);
	puts_(h);
	/* Bulk (base64-like) past 64 KiB keeps big messages realistic and
	 * generation fast; the first 16 KiB are always the tricky mix. */
	while (msglen + 1 < target) {
		bulk = target > 65536 && msglen > 16384;
		body_line(target - msglen, bulk);
	}
	if (msglen == 0 || msg[msglen - 1] != '\n')
		put("\n", 1);
	if (wire_clean)
		make_clean();
}

static size_t
parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (v < 256 || v > MSG_MAX || (*end != '\0' && *end != '-')) {
		fprintf(stderr, "mkmail: bad size '%s' (256 bytes to 64m)\n",
		    s);
		exit(2);
	}
	return (size_t)v;
}

static size_t size_lo, size_hi;

static size_t
pick_size(uint64_t seed, long idx)
{
	double f;

	if (size_lo == size_hi)
		return size_lo;
	rng_state = seed * 31 + (uint64_t)idx * 104729ULL + 17;
	f = (double)(rnd() >> 11) / (double)(1ULL << 53);
	return (size_t)exp(log((double)size_lo) +
	    f * (log((double)size_hi) - log((double)size_lo)));
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
mkdir_p(const char *path)
{
	char tmp[4096], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p != '\0'; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	if (mkdir(tmp, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
make_maildir(const char *dir, long count, uint64_t seed, long user)
{
	char path[4096];
	const char *sub[] = { "cur", "new", "tmp" };
	size_t i, lf, sz;
	long m;
	int fd;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		if (mkdir_p(path) == -1) {
			perror(path);
			return -1;
		}
	}
	for (m = 0; m < count; m++) {
		sz = pick_size(seed + (uint64_t)user, m);
		make_message(seed + (uint64_t)user, m, sz);
		/* W= is the RFC 1939 size: one more byte per bare LF. */
		for (lf = 0, i = 0; i < msglen; i++)
			lf += msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r');
		snprintf(path, sizeof(path),
		    "%s/cur/%ld.M%ldP%ld.bench,S=%zu,W=%zu:2,", dir,
		    1700000000L + m, m, 1000 + user, msglen, msglen + lf);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) ==
		    -1 || write_all(fd, msg, msglen) == -1 || close(fd) == -1) {
			perror(path);
			return -1;
		}
	}
	return 0;
}

static int
make_mbox(const char *file, long count, uint64_t seed)
{
	static char *esc;
	char from[128];
	size_t i, o, ls;
	long m;
	int fd;

	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		perror(file);
		return -1;
	}
	if (esc == NULL && (esc = malloc(MSG_MAX + MSG_MAX / 4)) == NULL)
		return -1;
	for (m = 0; m < count; m++) {
		make_message(seed, m, pick_size(seed, m));
		snprintf(from, sizeof(from), "From sender%ld@bench.example "
		    "Mon Jan  1 00:%02ld:%02ld 2024\n", m, (m / 60) % 60,
		    m % 60);
		/* mboxrd: /^>*From / gets one more '>'. */
		for (i = 0, o = 0, ls = 0; i < msglen; i++) {
			if (i == ls) {
				size_t j = i;

				while (j < msglen && msg[j] == '>')
					j++;
				if (msglen - j >= 5 &&
				    memcmp(msg + j, "From ", 5) == 0)
					esc[o++] = '>';
			}
			esc[o++] = msg[i];
			if (msg[i] == '\n')
				ls = i + 1;
		}
		esc[o++] = '\n';	/* blank separator line */
		if (write_all(fd, from, strlen(from)) == -1 ||
		    write_all(fd, esc, o) == -1) {
			perror(file);
			return -1;
		}
	}
	return close(fd);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mkmail maildir DIR -n COUNT -s SIZE[-SIZE] [-S seed] [-C]\n"
	    "       mkmail mbox FILE -n COUNT -s SIZE[-SIZE] [-S seed]\n"
	    "       mkmail users ROOT -U USERS -n COUNT -s SIZE[-SIZE] "
	    "[-S seed] [-D domain]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *mode, *target, *domain = "bench.example", *s = "4k";
	char path[4096], *dash;
	long count = 10, users = 1, u;
	uint64_t seed = 1;
	int ch;

	if (argc < 3)
		usage();
	mode = argv[1];
	target = argv[2];
	optind = 3;
	while ((ch = getopt(argc, argv, "Cn:s:S:U:D:")) != -1) {
		switch (ch) {
		case 'C': wire_clean = 1; break;
		case 'n': count = atol(optarg); break;
		case 's': s = optarg; break;
		case 'S': seed = strtoull(optarg, NULL, 10); break;
		case 'U': users = atol(optarg); break;
		case 'D': domain = optarg; break;
		default: usage();
		}
	}
	if (count < 0 || count > 10000000 || users < 1 || users > 1000000)
		usage();
	size_lo = size_hi = parse_size(s);
	if ((dash = strchr(s, '-')) != NULL)
		size_hi = parse_size(dash + 1);
	if (size_hi < size_lo)
		usage();
	if ((msg = malloc(MSG_MAX)) == NULL)
		return 1;
	pools_init();
	if (strcmp(mode, "maildir") == 0)
		return make_maildir(target, count, seed, 0) == 0 ? 0 : 1;
	if (strcmp(mode, "mbox") == 0)
		return make_mbox(target, count, seed) == 0 ? 0 : 1;
	if (strcmp(mode, "users") == 0) {
		for (u = 0; u < users; u++) {
			snprintf(path, sizeof(path), "%s/%s/user%ld", target,
			    domain, u);
			if (make_maildir(path, count, seed, u) == -1)
				return 1;
		}
		return 0;
	}
	usage();
	return 2;
}
