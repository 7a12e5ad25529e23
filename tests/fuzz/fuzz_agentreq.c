/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_agentreq.c -- libFuzzer target for the mailbox agent's request
 * handling: the real agent_session() (daemon/agent.c: the request
 * table, its use counts and order rule, and the LIST, OPEN, MARKS and
 * COMMIT handlers) fed through the real framing decoder
 * (privsep_recv) by a worker that says anything, against a stub
 * storage module with a mailbox of up to 15 messages.
 *
 * Input: one byte for the mailbox (message count, what OPEN answers),
 * then records: an op byte, a 16-bit length, that many bytes.  Op bit
 * 0x80: the bytes go as one raw packet (header included); else the op
 * picks a message type, the bytes are its payload, and bit 0x40
 * attaches a descriptor (which the agent must refuse).  The worker's
 * end is shut after the last record; the agent's replies are read and
 * their descriptors closed.
 *
 * Invariants (abort): the module is never asked for a message outside
 * the mailbox, commit sees only DELETED and SEEN marks and happens at
 * most once, the mailbox is closed exactly once per session, and no
 * descriptor is left open.  Only socketpairs and one memfd, no disk.
 */
#define _GNU_SOURCE 1

#include <sys/mman.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "agent.h"
#include "log.h"
#include "module.h"
#include "msg.h"
#include "privsep.h"
#include "fuzz_records.h"

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct {
	size_t		 count;
	int		 open_answer;	/* 0 ok, 1 vanished, -1 error */
	int		 opened, closed, commits;
	int		 memfd;
} box;

static int
stub_open(void *ctx, const struct satchel_mailbox_ref *ref, void **mbox_r,
    const char **err_r)
{
	(void)ctx;
	(void)ref;
	(void)err_r;
	box.opened++;
	*mbox_r = &box;
	return SATCHEL_MBOX_OK;
}

static size_t
stub_count(void *mbox)
{
	CHECK(mbox == &box);
	return box.count;
}

static int
stub_info(void *mbox, size_t n, struct satchel_msginfo *info)
{
	CHECK(mbox == &box && n < box.count);
	info->size = 100 + n;
	(void)snprintf(info->uid, sizeof(info->uid), "uid-%zu", n);
	return 0;
}

static int
stub_message(void *mbox, size_t n, struct satchel_msgref *ref,
    const char **err_r)
{
	CHECK(mbox == &box && n < box.count && !box.closed);
	if (box.open_answer != 0) {
		*err_r = "stub refuses";
		return box.open_answer;
	}
	if ((ref->fd = dup(box.memfd)) == -1)
		abort();
	ref->offset = (off_t)n;
	ref->length = 100 + n;
	return 0;
}

static int
stub_commit(void *mbox, const uint8_t *marks, size_t count,
    const char **err_r)
{
	size_t i;

	(void)err_r;
	CHECK(mbox == &box && count == box.count && !box.closed);
	for (i = 0; i < count; i++)
		CHECK((marks[i] & ~(SATCHEL_MARK_DELETED |
		    SATCHEL_MARK_SEEN)) == 0);
	box.commits++;
	CHECK(box.commits == 1);
	return 0;
}

static void
stub_close(void *mbox)
{
	CHECK(mbox == &box);
	box.closed++;
}

static const struct satchel_storage_ops stub_ops = {
	.open = stub_open, .count = stub_count, .info = stub_info,
	.message = stub_message, .commit = stub_commit, .close = stub_close,
};
static const struct satchel_module stub_desc = {
	.abi_major = SATCHEL_ABI_MAJOR, .abi_minor = SATCHEL_ABI_MINOR,
	.kind = SATCHEL_MODULE_STORAGE, .ops_size = sizeof(stub_ops),
	.name = "stub", .version = "fuzz", .ops = &stub_ops,
};

/* What the worker may send, by op. */
static const uint32_t types[] = {
	MSG_MBOX_LIST, MSG_MBOX_OPEN, MSG_MBOX_MARKS, MSG_MBOX_COMMIT,
	MSG_MBOX_HELLO, MSG_AUTH_REQUEST, 0,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct privsep_msg m;
	static struct module mod;
	struct msg_agent_start st;
	const uint8_t *p;
	size_t off, len;
	int sv[2], before, op, fd;

	if (mod.desc == NULL) {
		/* Quiet, unless FUZZ_LOG is set. */
		log_setlevel(getenv("FUZZ_LOG") != NULL ? SATCHEL_LOG_DEBUG :
		    SATCHEL_LOG_ERR - 1);
		if ((box.memfd = memfd_create("fuzz", MFD_CLOEXEC)) == -1 ||
		    write(box.memfd, "x", 1) != 1)
			abort();
		mod.desc = &stub_desc;
		mod.ops = &stub_ops;
	}
	if (size < 1)
		return 0;
	box.count = data[0] & 0x0f;
	box.open_answer = (data[0] & 0x30) == 0x10 ? 1 :
	    (data[0] & 0x30) == 0x20 ? -1 : 0;
	box.opened = box.closed = box.commits = 0;
	before = fuzz_fd_count();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	/* Replies that do not fit fail the agent's send, never block it. */
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
		abort();

	off = 1;
	while (fuzz_record(data, size, &off, &op, &p, &len)) {
		if (op & 0x80) {
			/* A raw packet: the decoder judges the framing. */
			if (send(sv[0], p, len, MSG_DONTWAIT) ==
			    -1)
				break;
			continue;
		}
		fd = (op & 0x40) ? dup(box.memfd) : -1;
		if (privsep_send(sv[0], types[(op & 0x3f) % nitems(types)],
		    p, len, fd) == -1 && fd == -1)
			break;	/* the buffer is full: enough */
		if (fd != -1)
			close(fd);
	}
	(void)shutdown(sv[0], SHUT_WR);

	memset(&st, 0, sizeof(st));
	strlcpy(st.driver, "stub", sizeof(st.driver));
	strlcpy(st.path, "/nonexistent/fuzz", sizeof(st.path));
	strlcpy(st.user, "fuzz@example.org", sizeof(st.user));
	strlcpy(st.session, "0011223344556677", sizeof(st.session));
	agent_session(sv[1], &mod, &st, 0);

	CHECK(box.opened == 1 && box.closed == 1);
	/* What the agent answered: descriptors come back, closed here. */
	while (privsep_recv(sv[0], &m, 0) == 0)
		if (m.fd != -1)
			close(m.fd);
	close(sv[0]);
	close(sv[1]);
	CHECK(fuzz_fd_count() == before);
	return 0;
}
