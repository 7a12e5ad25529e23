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
#include "stats_shm.h"
#ifdef HAVE_OPENSSL
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

/* One pread: a quarter MiB keeps system calls per MiB at four. */
#define READ_CHUNK		(256 * 1024)
/* Converted at a time (the output needs up to 3x room). */
#define CONV_PIECE		(64 * 1024)

/*
 * The zero-copy proof cache, one byte per message of this session:
 * WIRE_CLEAN once a whole RETR found the stored bytes equal to the wire
 * bytes (CRLF line ends, no line starting with '.', nothing to unescape,
 * the last line ended), WIRE_DIRTY once it found less than half of them
 * clean (not worth scanning again).  A clean
 * message is sent again with sendfile() alone, without reading it.
 * Freed and forgotten with the mailbox (session_free_mailbox), so
 * nothing of it survives into a reused worker's next session.
 */
#define WIRE_UNKNOWN		0
#define WIRE_CLEAN		1
#define WIRE_DIRTY		2
static uint8_t *wire_proof;
static size_t wire_count;

/* Clean runs shorter than this are copied: sendfile costs a call. */
#define ZC_MIN			(16 * 1024)

static void
wire_forget(void)
{
	free(wire_proof);
	wire_proof = NULL;
	wire_count = 0;
}

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
	wire_forget();
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
	/* lock_conflict = takeover: the agent met the lock (session_auth.c) */
	if (r == 0 && mp->type == MSG_MBOX_WAIT)
		r = session_takeover_wait(s, fd, mp);
	if (r != 0 || mp->fd != -1 || msg_get_mbox_hello(mp, &hello) == -1)
		goto broken;
	status = hello.status;
	count = hello.count;
	total = hello.total;
	if (status == SATCHEL_MBOX_INUSE) {
		session_free_mailbox(s);
		log_info("session=%s event=mailbox user=%s result=in-use",
		    s->id, s->slot->user);
		stats_in_use();	/* metrics */
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

/* Room for n more bytes in the output buffer, flushing if need be. */
static char *
out_room(struct session *s, size_t n)
{
	char *out;

	if (buf_reserve(&s->c.out, n, &out) == -1 &&
	    (conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1 ||
	    buf_reserve(&s->c.out, n, &out) == -1))
		return NULL;
	return out;
}

/*
 * Send stored bytes [pos, pos + len) of fd, which are also in mem (when
 * mem is not NULL), unchanged: with sendfile when it is worth a call
 * and the transport can, else copied through the output buffer.  0, -1
 * on a connection error, -3 when the file ended early.
 */
static int
send_clean(struct session *s, int fd, uint64_t pos, const char *mem,
    size_t len, uint64_t *zc_r)
{
	size_t sent = 0, n;
	char *out;
	int r;

	if (len >= ZC_MIN && conn_can_sendfile(&s->c)) {
		r = conn_sendfile(&s->c, fd, (off_t)pos, len, IO_WRITE_TIMEOUT_MS,
		    &sent);
		*zc_r += sent;
		if (r == 0)
			return 0;
		if (r != -2 || mem == NULL)
			return r == -2 ? -1 : r;
		/* The kernel refused: write the rest from memory. */
	}
	if (mem == NULL)
		return -1;
	while (sent < len) {
		n = len - sent < IO_FLUSH_AT ? len - sent : IO_FLUSH_AT;
		if ((out = out_room(s, n)) == NULL)
			return -1;
		memcpy(out, mem + sent, n);
		buf_commit(&s->c.out, n);
		sent += n;
		if (s->c.out.len >= IO_FLUSH_AT &&
		    conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1)
			return -1;
	}
	return 0;
}

/*
 * Ask the agent for message idx and stream it: the agent answers with a
 * file descriptor, offset and length, and the bytes are converted
 * chunk by chunk (CRLF, unescaping, dot-stuffing), never held whole.
 *
 * RETR takes the zero-copy path where it can (doc/DESIGN, "The RETR
 * path"): each chunk read is first scanned (proto_xfer_clean), and its
 * prefix that needs no change goes out with sendfile() straight from
 * the page cache; only the rest goes through the converter.  A message
 * proven clean earlier in the session, or one the storage module marks
 * SATCHEL_MSG_WIRE with a stored length equal to its announced size, is
 * sent with sendfile() alone, without being read here.
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
	uint64_t offset, length, done = 0, clean = 0, zc_bytes = 0;
	uint32_t flags;
	ssize_t n;
	size_t w, k;
	int fd, zc, r;

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

	if (wire_proof == NULL && s->count > 0 &&
	    (wire_proof = calloc(s->count, 1)) != NULL)
		wire_count = s->count;
	zc = !top && wire_proof != NULL && idx < wire_count &&
	    wire_proof[idx] != WIRE_DIRTY;
	/*
	 * Known clean (it equals its RFC 1939 size byte for byte): no scan.
	 * The module's flag is believed only with the size to match, and
	 * a message that ends without a line end is never "clean".
	 */
	if (zc && length >= ZC_MIN && length == s->sizes[idx] &&
	    (wire_proof[idx] == WIRE_CLEAN || (flags & SATCHEL_MSG_WIRE)) &&
	    conn_can_sendfile(&s->c)) {
		r = send_clean(s, fd, offset, NULL, (size_t)length, &zc_bytes);
		if (r == 0) {
			done = length;
			clean = length;
			goto end;
		}
		if (r == -3)
			goto short_read;
		if (s->c.error || zc_bytes > 0) {
			/* Part of it went: no way to resume honestly. */
			close(fd);
			s->c.error = 1;
			return -1;
		}
		/* The kernel refused before a byte went: convert. */
	}

	while (done < length && !proto_xfer_done(&x)) {
		size_t want = length - done < sizeof(mbox_in) ?
		    (size_t)(length - done) : sizeof(mbox_in);

		n = pread(fd, in, want, (off_t)(offset + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto short_read;
		k = 0;
		if (zc) {
			k = proto_xfer_clean(&x, in, (size_t)n);
			if (k > 0 && (r = send_clean(s, fd, offset + done, in,
			    k, &zc_bytes)) != 0) {
				if (r == -3)
					goto short_read;
				close(fd);
				return -1;
			}
			clean += k;
		}
		/*
		 * Convert the rest in pieces, so that the output buffer
		 * stays under IO_FLUSH_AT + 3 * CONV_PIECE (512 KiB of
		 * storage) however large a read is.
		 */
		while ((size_t)n > k) {
			size_t piece = (size_t)n - k < CONV_PIECE ?
			    (size_t)n - k : CONV_PIECE;

			if ((out = out_room(s, 3 * piece +
			    PROTO_XFER_SLACK)) == NULL) {
				close(fd);
				return -1;
			}
			w = proto_xfer(&x, in + k, piece, out);
			buf_commit(&s->c.out, w);
			k += piece;
			if (s->c.out.len >= IO_FLUSH_AT &&
			    conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1) {
				close(fd);
				return -1;
			}
		}
		done += (uint64_t)n;
	}
 end:
	close(fd);
	if (zc && done == length) {
		/*
		 * A whole RETR: remember what the scan found.  A message
		 * that is mostly clean (a dot line in a CRLF message) is
		 * scanned again next time for its clean runs; one that is
		 * mostly not (LF line ends) is not scanned again.
		 */
		if (clean == length && length > 0 && proto_xfer_bol(&x))
			wire_proof[idx] = WIRE_CLEAN;
		else if (clean < length / 2 || length == 0)
			wire_proof[idx] = WIRE_DIRTY;
	}
	log_debug("session=%s event=%s msg=%zu stored=%llu clean=%llu "
	    "zerocopy=%llu proof=%s", s->id, top ? "top" : "retr", idx + 1,
	    (unsigned long long)length, (unsigned long long)clean,
	    (unsigned long long)zc_bytes, wire_proof == NULL ||
	    idx >= wire_count ? "none" : wire_proof[idx] == WIRE_CLEAN ? "clean" :
	    wire_proof[idx] == WIRE_DIRTY ? "dirty" : "unknown");
	if ((out = out_room(s, PROTO_XFER_SLACK)) == NULL)
		return -1;
	buf_commit(&s->c.out, proto_xfer_end(&x, out));
	return 0;
 short_read:
	/*
	 * The message shrank under us: the reply is already under way, so
	 * the only honest thing left is to drop the connection rather than
	 * end it with "."
	 */
	log_warnx("session=%s event=retr user=%s result=short-read", s->id,
	    s->slot->user);
	close(fd);
	s->reason = "read-error";
	return CMD_CLOSE;
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

