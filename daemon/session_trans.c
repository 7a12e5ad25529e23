/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * session_trans.c -- the TRANSACTION commands (RFC 1939: STAT, LIST,
 * UIDL, RETR, TOP, DELE, RSET, NOOP).  Runs in the worker, unprivileged
 * and chrooted, on the message list the agent gave at login.
 */

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth.h"
#include "conf.h"
#include "io.h"
#include "limit.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "privsep.h"
#include "protocol.h"
#include "scoreboard.h"
#include "session.h"
#include "session_int.h"
#ifdef HAVE_OPENSSL
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

static int session_msgnum(struct session *, const char *, size_t *);
static int session_msgargs(struct session *, const struct proto_cmd *,
    const char *, size_t *, char *, int *);
static void session_mark(struct session *, size_t, uint8_t, size_t *,
    uint64_t *);

static int
session_msgnum(struct session *s, const char *arg, size_t *idx_r)
{
	uint64_t n;

	if (proto_number(arg, strlen(arg), 1, s->count, &n) == -1) {
		session_reply(s, "-ERR No such message");
		return -1;
	}
	if (s->marks[n - 1] & SATCHEL_MARK_DELETED) {
		session_replyf(s, "-ERR Message %llu is deleted",
		    (unsigned long long)n);
		return -1;
	}
	*idx_r = (size_t)(n - 1);
	return 0;
}

/*
 * The arguments of a command on one message (RETR, DELE; TOP with a
 * second one): a message that exists and is not deleted, then, when
 * arg2 is not NULL, one more word copied there (PROTO_ARG_MAX + 1
 * octets).  1, with *idx_r set; or 0 once the -ERR is sent (usage, or
 * the message number's), with *ret_r what the handler returns.
 */
static int
session_msgargs(struct session *s, const struct proto_cmd *cmd,
    const char *usage, size_t *idx_r, char *arg2, int *ret_r)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	int nargs = arg2 != NULL ? 2 : 1;

	*ret_r = 0;
	if (proto_split(cmd->rest, cmd->restlen, args, nargs) != nargs) {
		*ret_r = session_reply(s, usage);
		return 0;
	}
	if (arg2 != NULL)
		memcpy(arg2, args[1], sizeof(args[1]));
	return session_msgnum(s, args[0], idx_r) == 0;
}

/*
 * Set mark on message i; the first time, count the message in *n_r and
 * its size in *bytes_r (the logout line's retr= and dele=).
 */
static void
session_mark(struct session *s, size_t i, uint8_t mark, size_t *n_r,
    uint64_t *bytes_r)
{
	if (s->marks[i] & mark)
		return;
	s->marks[i] |= mark;
	(*n_r)++;
	*bytes_r += s->sizes[i];
}

int
cmd_noop(struct session *s, const struct proto_cmd *cmd)
{
	return session_reply(s, "+OK");
}

int
cmd_stat(struct session *s, const struct proto_cmd *cmd)
{
	if (cmd->restlen != 0)
		return session_reply(s, "-ERR STAT takes no argument");
	return session_replyf(s, "+OK %zu %llu", s->count - s->ndele,
	    (unsigned long long)(s->total - s->bdele));
}

static int
cmd_list_uidl(struct session *s, const struct proto_cmd *cmd, int uidl)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1], line[128];
	size_t i;
	int n;

	n = proto_split(cmd->rest, cmd->restlen, args, 1);
	if (n == -1)
		return session_reply(s, "-ERR Too many arguments");
	if (n == 1) {
		if (session_msgnum(s, args[0], &i) == -1)
			return 0;
		if (uidl)
			return session_replyf(s, "+OK %zu %s", i + 1, s->uids[i]);
		return session_replyf(s, "+OK %zu %llu", i + 1,
		    (unsigned long long)s->sizes[i]);
	}
	if (uidl)
		session_reply(s, "+OK Unique-ID listing follows");
	else
		session_replyf(s, "+OK %zu messages (%llu octets)",
		    s->count - s->ndele,
		    (unsigned long long)(s->total - s->bdele));
	for (i = 0; i < s->count; i++) {
		if (s->marks[i] & SATCHEL_MARK_DELETED)
			continue;
		if (uidl)
			n = snprintf(line, sizeof(line), "%zu %s\r\n", i + 1,
			    s->uids[i]);
		else
			n = snprintf(line, sizeof(line), "%zu %llu\r\n", i + 1,
			    (unsigned long long)s->sizes[i]);
		if (n < 0 || (size_t)n >= sizeof(line) ||
		    conn_write(&s->c, line, (size_t)n) == -1)
			return -1;
	}
	return session_reply(s, ".");
}

int
cmd_list(struct session *s, const struct proto_cmd *cmd)
{
	return cmd_list_uidl(s, cmd, 0);
}

int
cmd_uidl(struct session *s, const struct proto_cmd *cmd)
{
	return cmd_list_uidl(s, cmd, 1);
}

int
cmd_retr(struct session *s, const struct proto_cmd *cmd)
{
	size_t i;
	int r;

	if (!session_msgargs(s, cmd, "-ERR Usage: RETR message", &i, NULL,
	    &r))
		return r;
	if ((r = session_send_message(s, i, 0, 0)) != 0)
		return r;
	session_mark(s, i, SATCHEL_MARK_SEEN, &s->nretr, &s->bretr);
	return 0;
}

int
cmd_top(struct session *s, const struct proto_cmd *cmd)
{
	char nlines[PROTO_ARG_MAX + 1];
	uint64_t lines;
	size_t i;
	int r;

	if (!session_msgargs(s, cmd, "-ERR Usage: TOP message lines", &i,
	    nlines, &r))
		return r;
	if (proto_number(nlines, strlen(nlines), 0, UINT64_MAX / 2,
	    &lines) == -1)
		return session_reply(s, "-ERR Invalid number of lines");
	return session_send_message(s, i, 1, lines);
}

int
cmd_dele(struct session *s, const struct proto_cmd *cmd)
{
	size_t i;
	int r;

	if (!session_msgargs(s, cmd, "-ERR Usage: DELE message", &i, NULL,
	    &r))
		return r;
	/* session_msgnum() refused a deleted message: this counts it. */
	session_mark(s, i, SATCHEL_MARK_DELETED, &s->ndele, &s->bdele);
	return session_replyf(s, "+OK Message %zu deleted", i + 1);
}

int
cmd_rset(struct session *s, const struct proto_cmd *cmd)
{
	size_t i;

	for (i = 0; i < s->count; i++)
		s->marks[i] &= (uint8_t)~SATCHEL_MARK_DELETED;
	s->ndele = 0;
	s->bdele = 0;
	return session_replyf(s, "+OK %zu messages (%llu octets)", s->count,
	    (unsigned long long)s->total);
}

