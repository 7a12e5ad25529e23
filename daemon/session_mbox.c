/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * session_mbox.c -- the worker's side of the mailbox agent's protocol:
 * the hello and the message list, a message as fd + offset + length
 * streamed through the converter, the marks and the commit.  Runs in
 * the worker, unprivileged and chrooted; trusts nothing the agent sends
 * beyond its layout and the sizes it announced.
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

#define READ_CHUNK		(64 * 1024)

/*
 * Buffers too big for the stack, at file scope so that
 * session_mbox_wipe() can clear them: they hold a session's message
 * bytes and list, which must not outlive it in a reused worker.
 */
static struct privsep_msg mbox_m;
static char mbox_in[READ_CHUNK];
static unsigned char mbox_req[PRIVSEP_MSG_MAX];

void
session_mbox_wipe(void)
{
	explicit_bzero(&mbox_m, sizeof(mbox_m));
	explicit_bzero(mbox_in, sizeof(mbox_in));
	explicit_bzero(mbox_req, sizeof(mbox_req));
}

void
session_free_mailbox(struct session *s)
{
	if (s->agent != -1)
		close(s->agent);
	s->agent = -1;
	free(s->sizes);
	free(s->uids);
	free(s->marks);
	s->sizes = NULL;
	s->uids = NULL;
	s->marks = NULL;
	s->count = 0;
	s->total = 0;
}

int
session_open_mailbox(struct session *s, int fd)
{
	struct privsep_msg *mp = &mbox_m;
	struct msg_mbox_hello hello;
	struct unpack u;
	uint32_t status, n, i;
	uint64_t count, total, got = 0, sum = 0;
	size_t len;
	int r;

	s->agent = fd;
	/* The agent locks and scans: allow for a big mailbox. */
	r = privsep_recv(fd, mp, MAILBOX_OPEN_TIMEOUT_MS);
	if (r != 0 || mp->fd != -1 || msg_get_mbox_hello(mp, &hello) == -1)
		goto broken;
	status = hello.status;
	count = hello.count;
	total = hello.total;
	if (status == SATCHEL_MBOX_INUSE) {
		session_free_mailbox(s);
		log_info("session=%s event=mailbox user=%s result=in-use",
		    s->id, s->slot->user);
		return session_reply(s, "-ERR [IN-USE] Mailbox is locked by another "
		    "POP3 session");
	}
	if (status != SATCHEL_MBOX_OK) {
		session_free_mailbox(s);
		log_info("session=%s event=mailbox user=%s result=fail", s->id,
		    s->slot->user);
		return session_replyf(s, "-ERR [%s] Cannot open the mailbox",
		    status == SATCHEL_MBOX_TEMPFAIL ? "SYS/TEMP" : "SYS/PERM");
	}
	if (count > 10000000 || (s->sizes = calloc(count + 1,
	    sizeof(*s->sizes))) == NULL || (s->uids = calloc(count + 1,
	    sizeof(*s->uids))) == NULL || (s->marks = calloc(count + 1, 1))
	    == NULL)
		goto broken;
	s->count = (size_t)count;
	if (privsep_send(fd, MSG_MBOX_LIST, NULL, 0, -1) == -1)
		goto broken;
	for (;;) {
		if (privsep_recv(fd, mp, AUTH_TIMEOUT_MS) != 0)
			goto broken;
		if (mp->type == MSG_MBOX_LIST_END && mp->len == 0)
			break;
		if (mp->type != MSG_MBOX_LIST_BATCH)
			goto broken;
		unpack_init(&u, mp->data, mp->len);
		n = unpack_u32(&u);
		for (i = 0; i < n && !u.err; i++) {
			if (got >= count)
				goto broken;
			s->sizes[got] = unpack_u64(&u);
			unpack_str(&u, s->uids[got], sizeof(s->uids[0]));
			len = strlen(s->uids[got]);
			if (len == 0)
				goto broken;
			while (len-- > 0)
				if ((unsigned char)s->uids[got][len] < 0x21 ||
				    (unsigned char)s->uids[got][len] > 0x7e)
					goto broken;
			sum += s->sizes[got];
			got++;
		}
		if (unpack_done(&u) == -1)
			goto broken;
	}
	if (got != count || sum != total)
		goto broken;
	s->total = total;
	s->state = S_TRANS;
	sb_set(s->slot, SB_TRANSACTION);
	setproctitle_fmt("satcheld: worker %s", s->slot->user);
	return session_replyf(s, "+OK Logged in, %zu message%s (%llu octets)",
	    s->count, s->count == 1 ? "" : "s", (unsigned long long)s->total);
broken:
	log_warnx("session=%s event=mailbox user=%s result=error "
	    "reason=agent-failed", s->id, s->slot->user);
	session_free_mailbox(s);
	return session_reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try again "
	    "later");
}

/*
 * Ask the agent for message idx and stream it: the agent answers with a
 * file descriptor, offset and length, and the bytes are converted
 * chunk by chunk (CRLF, unescaping, dot-stuffing), never held whole.
 */
int
session_send_message(struct session *s, size_t idx, int top,
    uint64_t top_lines)
{
	struct privsep_msg *mp = &mbox_m;
	char *in = mbox_in;
	struct proto_xfer x;
	struct msg_mbox_open rq;
	struct msg_mbox_msg rp;
	char *out;
	uint64_t offset, length, done = 0;
	uint32_t flags;
	ssize_t n;
	size_t w;
	int fd;

	memset(&rq, 0, sizeof(rq));
	rq.index = idx;
	if (msg_send_mbox_open(s->agent, &rq, -1) == -1 ||
	    privsep_recv(s->agent, mp, AUTH_TIMEOUT_MS) != 0)
		goto agent_failed;
	fd = mp->fd;
	if (msg_get_mbox_msg(mp, &rp) == -1 || (rp.status == MBOX_ST_OK &&
	    fd == -1)) {
		if (fd != -1)
			close(fd);
		goto agent_failed;
	}
	offset = rp.offset;
	length = rp.length;
	flags = rp.flags;
	if (rp.status != MBOX_ST_OK) {
		if (fd != -1)
			close(fd);
		return session_replyf(s, "-ERR %s", rp.status ==
		    MBOX_ST_VANISHED ? "Message was removed by another program" :
		    "[SYS/TEMP] Cannot read the message");
	}
	if (top)
		session_reply(s, "+OK Top of message follows");
	else
		session_replyf(s, "+OK %llu octets",
		    (unsigned long long)s->sizes[idx]);
	proto_xfer_init(&x, flags, 1, top, top_lines);
	while (done < length && !proto_xfer_done(&x)) {
		size_t want = length - done < sizeof(mbox_in) ?
		    (size_t)(length - done) : sizeof(mbox_in);

		n = pread(fd, in, want, (off_t)(offset + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			/*
			 * The message shrank under us: the reply is already
			 * under way, so the only honest thing left is to
			 * drop the connection rather than end it with "."
			 */
			log_warnx("session=%s event=retr user=%s "
			    "result=short-read", s->id, s->slot->user);
			close(fd);
			s->reason = "read-error";
			return CMD_CLOSE;
		}
		done += (uint64_t)n;
		if (buf_reserve(&s->c.out, 3 * (size_t)n + PROTO_XFER_SLACK,
		    &out) == -1 && (conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1 ||
		    buf_reserve(&s->c.out, 3 * (size_t)n + PROTO_XFER_SLACK,
		    &out) == -1)) {
			close(fd);
			return -1;
		}
		w = proto_xfer(&x, in, (size_t)n, out);
		buf_commit(&s->c.out, w);
		if (s->c.out.len >= IO_FLUSH_AT &&
		    conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (buf_reserve(&s->c.out, PROTO_XFER_SLACK, &out) == -1) {
		if (conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1 ||
		    buf_reserve(&s->c.out, PROTO_XFER_SLACK, &out) == -1)
			return -1;
	}
	buf_commit(&s->c.out, proto_xfer_end(&x, out));
	return 0;
agent_failed:
	log_warnx("session=%s event=retr user=%s result=error "
	    "reason=agent-failed", s->id, s->slot->user);
	s->reason = "agent-failed";
	session_reply(s, "-ERR [SYS/TEMP] Mailbox service failed");
	return CMD_CLOSE;
}

int
session_commit(struct session *s)
{
	struct privsep_msg *mp = &mbox_m;
	unsigned char *req = mbox_req;
	struct msg_mbox_commit_result rp;
	struct pack pk;
	size_t i, n, chunk = PRIVSEP_MSG_MAX - 64;

	sb_set(s->slot, SB_UPDATE);
	s->reason = "quit";
	for (i = 0; i < s->count; i += n) {
		n = s->count - i < chunk ? s->count - i : chunk;
		pack_init(&pk, req, sizeof(mbox_req));
		pack_u64(&pk, i);
		pack_u32(&pk, (uint32_t)n);
		pack_bytes(&pk, s->marks + i, n);
		if (pk.err || privsep_send(s->agent, MSG_MBOX_MARKS, req,
		    pk.len, -1) == -1)
			goto failed;
	}
	if (privsep_send(s->agent, MSG_MBOX_COMMIT, NULL, 0, -1) == -1 ||
	    privsep_recv(s->agent, mp, AUTH_TIMEOUT_MS * 5) != 0 ||
	    mp->fd != -1 || msg_get_mbox_commit_result(mp, &rp) == -1)
		goto failed;
	if (rp.status != MBOX_ST_OK) {
		s->reason = "update-failed";
		session_reply(s, "-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed");
		return CMD_CLOSE;
	}
	session_replyf(s, "+OK Logging out, %zu message%s deleted", s->ndele,
	    s->ndele == 1 ? "" : "s");
	return CMD_CLOSE;
failed:
	log_warnx("session=%s event=update user=%s result=error", s->id,
	    s->slot->user);
	s->reason = "update-failed";
	session_reply(s, "-ERR [SYS/TEMP] Mailbox update failed, nothing was "
	    "deleted");
	return CMD_CLOSE;
}

