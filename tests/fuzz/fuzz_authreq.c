/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_authreq.c -- libFuzzer target for the auth pool's handling of a
 * worker's requests: the real conn_accept() and conn_readable()
 * (daemon/auth_conn.c: the request table with its state column, the
 * CHALLENGE_REQ, REQUEST and SCRAM_FINAL handlers, the address read from
 * the passed socket, the hold and in-flight rules, conclude, failure
 * and result), the module workers' side (auth_modules.c: dispatch and
 * aw_readable, with a stub module worker whose replies come from the
 * input) and the hand-over to an agent (auth_agents.c, with one stub
 * spare agent), all through the real framing decoder (privsep_recv)
 * and the typed messages (msg.c).
 *
 * Input: one byte of setup (does the stub module look up secrets, is
 * APOP offered), then records: an op byte, a 16-bit length, that many
 * bytes.  The op's low 3 bits pick what happens: 0-3, a message from
 * the worker (bits 3-4: REQUEST, CHALLENGE_REQ, SCRAM_FINAL, CONTINUE,
 * with the payload; bit 0x80: the bytes are the raw packet; bit 0x40
 * attaches a TCP socket, 0x20 instead a UNIX one); 4, the module
 * worker's reply to the call it was given (typed, or raw with 0x80);
 * 5, every timer fires; 6, the worker hangs up.
 *
 * Invariants (abort): the module worker is only ever asked with a call
 * that decodes; a reply to the worker decodes; every connection and
 * descriptor is gone at the end of the input.  The failure counts are
 * cleared after each input, so runs do not depend on earlier ones.
 * Descriptors: socketpairs, an abstract UNIX listening socket (the
 * pool's), and one loopback TCP connection made once (the client
 * socket a worker passes); no disk.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth_fail.h"
#include "auth_proc.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "msg.h"
#include "privsep.h"
#include "fuzz_records.h"

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char conf_text[] =
    "listen = 127.0.0.1:1110\n"
    "auth = stub\n"
    "mail_location = maildir:/nonexistent/%d/%n\n"
    "login_fail_delay_ms = 50\n";

static struct satcheld sd;
static struct config *cf;
static struct auth_ctx actx;
static struct aworker fakew;
static struct module storage;
static struct satchel_module storage_desc = { .name = "maildir" };
static int tcp_fd = -1;

/* What the worker may send, by bits 3-4 of the op (others: raw). */
static const uint32_t worker_types[] = {
	MSG_AUTH_REQUEST, MSG_AUTH_CHALLENGE_REQ, MSG_AUTH_SCRAM_FINAL,
	MSG_AUTH_CONTINUE,
};

static void
setup_once(void)
{
	struct sockaddr_un sun;
	struct sockaddr_in sin;
	socklen_t len;
	int l, fd;

	/* Quiet, unless FUZZ_LOG is set. */
	log_setlevel(getenv("FUZZ_LOG") != NULL ? SATCHEL_LOG_DEBUG :
	    SATCHEL_LOG_ERR - 1);
	if (auth_fail_create() == -1)
		abort();
	if ((cf = conf_load_mem("fuzz.conf", conf_text, sizeof(conf_text) - 1,
	    CONF_LOAD_OFFLINE)) == NULL)
		abort();
	sd.cf = cf;
	sd.worker_uid = geteuid();
	sd.privileged = 0;
	storage.desc = &storage_desc;
	sd.storage = &storage;

	/* The pool's socket, as master_auth_socket() makes it. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
	    "satchel-fuzz-authreq-%ld", (long)getpid());
	sd.auth_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    1 + strlen(sun.sun_path + 1));
	memcpy(&sd.auth_addr, &sun, sizeof(sun));
	if ((sd.auth_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 || bind(sd.auth_fd,
	    (struct sockaddr *)&sd.auth_addr, sd.auth_addrlen) == -1 ||
	    listen(sd.auth_fd, 16) == -1)
		abort();

	/* A client's TCP socket, passed with a request (loopback). */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = sizeof(sin);
	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (tcp_fd = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		abort();
	close(l);
	/* fd stays open: the peer of tcp_fd. */

	actx.s = &sd;
	actx.spawner_ev.fd = -1;
	strlcpy(actx.host, "fuzz.example.org", sizeof(actx.host));
	if ((actx.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		abort();
}

/* The stub module worker: a socketpair whose far end is ours. */
static int
stub_module_worker(int lookup, int *far_r)
{
	struct agroup *g = &actx.groups[0];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	memset(&fakew, 0, sizeof(fakew));
	fakew.ev.kind = EV_AW;
	fakew.ev.fd = sv[0];
	fakew.pid = -2;		/* never 0 (free) and never signalled */
	fakew.g = g;
	memset(g, 0, sizeof(*g));
	g->name = "stub";
	g->lookup = lookup;
	g->w = &fakew;
	g->nw = g->maxw = 1;
	g->timeout_ms = 1000;
	actx.ngroups = 1;
	*far_r = sv[1];
	return 0;
}

/* One stub spare agent; its far end is ours. */
static int
stub_spare_agent(void)
{
	struct agentref *r;
	int sv[2];

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	r->ev.kind = EV_AGENT;
	r->ev.fd = sv[0];
	r->spare = 1;
	actx.agents = r;
	actx.nspare = 1;
	return sv[1];
}

/* Read what the pool sent on fd; each reply must decode. */
static void
drain(int fd, int from_pool)
{
	static struct privsep_msg m;
	struct msg_auth_result res;
	struct msg_auth_challenge ch;
	struct msg_auth_data d;

	while (fd != -1 && privsep_recv(fd, &m, 0) == 0) {
		if (from_pool) {
			if (m.type == MSG_AUTH_RESULT)
				CHECK(msg_get_auth_result(&m, &res) == 0);
			else if (m.type == MSG_AUTH_CHALLENGE)
				CHECK(msg_get_auth_challenge(&m, &ch) == 0);
			else
				CHECK(m.type == MSG_AUTH_CONTINUE &&
				    msg_get_auth_data(&m, MSG_AUTH_CONTINUE,
				    &d) == 0);
		}
		if (m.fd != -1)
			close(m.fd);
	}
}

static void
clear_counts(struct aconn *list, int grave)
{
	struct aconn *c;

	for (c = list; c != NULL; c = grave ? c->qnext : c->next) {
		if (c->key_user[0] != '\0')
			auth_fail_clear(c->key_user);
		if (c->key_addr[0] != '\0')
			auth_fail_clear(c->key_addr);
	}
}

static void
bury(void)
{
	clear_counts(actx.grave, 1);
	auth_bury(&actx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct privsep_msg m;
	struct msg_aw_call call;
	struct aconn *c, *next;
	struct agentref *r;
	const uint8_t *p;
	size_t off, len;
	int wfd, mfar, afar, op, fd, before;

	if (actx.s == NULL)
		setup_once();
	if (size < 1)
		return 0;
	before = fuzz_fd_count();
	sd.lookup = (data[0] & 1) != 0;
	sd.apop = (data[0] & 2) != 0;
	stub_module_worker(sd.lookup, &mfar);
	afar = stub_spare_agent();

	/* A worker connects; the pool accepts as it would. */
	if ((wfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(wfd, (struct sockaddr *)&sd.auth_addr, sd.auth_addrlen) ==
	    -1)
		abort();
	conn_accept(&actx);
	CHECK(actx.nconns == 1);
	c = actx.conns;

	off = 1;
	while (fuzz_record(data, size, &off, &op, &p, &len)) {
		switch (op & 0x07) {
		case 0: case 1: case 2: case 3:
			/* A message from the worker. */
			if (wfd == -1)
				break;
			if (op & 0x80) {
				if (send(wfd, p, len,
				    MSG_DONTWAIT) == -1)
					break;
			} else {
				fd = (op & 0x40) ? dup(tcp_fd) : (op & 0x20) ?
				    dup(mfar) : -1;
				(void)privsep_send(wfd, worker_types[(op >> 3) &
				    0x03], p, len, fd);
				if (fd != -1)
					close(fd);
			}
			if (!c->dead && c->ev.fd != -1)
				conn_readable(&actx, c);
			break;
		case 4:
			/* The stub module worker answers its call. */
			if (fakew.busy == NULL || fakew.ev.fd == -1)
				break;
			CHECK(privsep_recv(mfar, &m, 0) == 0 &&
			    msg_get_aw_call(&m, &call) == 0);
			explicit_bzero(&call, sizeof(call));
			if (op & 0x80)
				(void)send(mfar, p, len,
				    MSG_DONTWAIT);
			else
				(void)privsep_send(mfar, MSG_AW_REPLY,
				    p, len, -1);
			aw_readable(&actx, &fakew);
			break;
		case 5:
			/* Every timer fires. */
			for (c = actx.conns; c != NULL; c = next) {
				next = c->next;
				if (c->wake_at != 0)
					conn_timer(&actx, c);
			}
			c = actx.conns != NULL ? actx.conns : c;
			break;
		case 6:
			/* The worker hangs up. */
			if (wfd != -1)
				close(wfd);
			wfd = -1;
			if (!c->dead && c->ev.fd != -1)
				conn_readable(&actx, c);
			break;
		default:
			break;
		}
		drain(wfd, 1);
		drain(afar, 0);
		bury();
		if (actx.conns == NULL)
			break;
		c = actx.conns;
	}

	/* Everything goes, as when the pool ends a connection. */
	clear_counts(actx.conns, 0);
	for (c = actx.conns; c != NULL; c = next) {
		next = c->next;
		conn_free(&actx, c);
	}
	CHECK(actx.groups[0].qhead == NULL && actx.wait_head == NULL);
	while ((r = actx.agents) != NULL)
		agent_drop(&actx, r);
	bury();
	CHECK(actx.nconns == 0 && actx.conns == NULL);
	if (fakew.ev.fd != -1)
		close(fakew.ev.fd);
	close(mfar);
	close(afar);
	if (wfd != -1)
		close(wfd);
	actx.nspare = actx.nidle = actx.spares_asked = 0;
	CHECK(fuzz_fd_count() == before);
	return 0;
}
