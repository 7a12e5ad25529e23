/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_proxy.c -- proxy mode in the auth process: a user whose auth
 * backend gave proxy=y (the ABI 1.3 fields of struct satchel_user) gets
 * no mailbox agent; the auth process connects to the user's backend
 * POP3 server, without blocking its event loop and within
 * proxy_connect_timeout, and hands the connected socket to the worker
 * with what it needs to log in there (AUTH_PROXY).  Runs in the auth
 * process, as root.
 *
 * Why here and not in the worker: the worker's seccomp list allows no
 * socket but the pool's AF_UNIX one, and it should not: a worker that
 * parsed client bytes cannot open connections to anywhere.  The auth
 * process only ever connects to the address the auth backend named,
 * after a successful login, and never reads a byte from that socket.
 *
 * A backend that refuses or does not answer in time is logged here
 * (event=proxy result=fail) and answered [SYS/TEMP] by the worker.
 */

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
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
#include "msg.h"
#include "compat/poison.h"

static void conn_proxy_connected(struct auth_ctx *, struct aconn *, int);


static const char *
proxy_mech_name(uint32_t mech)
{
	return mech == MECH_APOP ? "apop" : mech == MECH_CRAM ? "cram-md5" :
	    mech == MECH_SCRAM ? "scram" : "pass";
}

/*
 * The backend's address: hostip= (given, or resolved from host= by the
 * module worker that did the lookup: auth_worker.c), else host= when it
 * is an IP address.  Numeric only: nothing here waits for DNS, so one
 * slow answer cannot hold up this event loop.
 */
static int
proxy_addr(const struct satchel_user *u, unsigned int port,
    struct sockaddr_storage *ss, socklen_t *len_r, const char **err_r)
{
	struct addrinfo hints, *res = NULL;
	const char *h = u->proxy_hostip[0] != '\0' ? u->proxy_hostip :
	    u->proxy_host;
	char serv[16];
	int e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	(void)snprintf(serv, sizeof(serv), "%u", port);
	if ((e = getaddrinfo(h, serv, &hints, &res)) != 0 || res == NULL) {
		*err_r = e == EAI_NONAME ? "host= is a name the module "
		    "worker could not resolve" : e != 0 ? gai_strerror(e) :
		    "no address";
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len_r = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The login was good and the user is proxied: start the connect. */

void
conn_proxy_start(struct auth_ctx *a, struct aconn *c)
{
	struct satchel_user *u = &c->urec;
	struct sockaddr_storage ss;
	struct epoll_event ee;
	char host[NI_MAXHOST], vis[128];
	const char *err;
	socklen_t len = 0;
	unsigned int port;
	int fd;

	log_vis(vis, sizeof(vis), u->name, strlen(u->name));
	if (u->proxy_host[0] == '\0' && u->proxy_hostip[0] == '\0') {
		log_warnx("session=%s event=proxy user=%s result=error "
		    "reason=no-host (proxy=y needs host=)", c->session, vis);
		c->status = SATCHEL_AUTH_ERROR;
		conn_send_result(a, c);
		return;
	}
	/*
	 * Logging in at the backend takes the user's password, which the
	 * worker has only for USER/PASS and AUTH PLAIN/LOGIN.
	 */
	if (c->mech != MECH_PASS && u->proxy_master[0] == '\0') {
		log_warnx("session=%s event=proxy user=%s result=error "
		    "reason=mech-%s (a proxied user logs in with USER/PASS "
		    "or AUTH PLAIN, or master= and pass= are needed)",
		    c->session, vis,
		    proxy_mech_name(c->mech));
		c->status = SATCHEL_AUTH_ERROR;
		conn_send_result(a, c);
		return;
	}
	/* Issue 14: a master user logs in there, here (auth_proxy_master.c). */
	if (u->proxy_master[0] != '\0' && proxy_master_check(a, c) == -1)
		return;
	port = u->proxy_port != 0 ? u->proxy_port :
	    u->proxy_ssl == SATCHEL_PROXY_SSL_YES ? 995 : 110;
	if (proxy_addr(u, port, &ss, &len, &err) == -1) {
		log_warnx("session=%s event=proxy user=%s host=%s result=fail "
		    "reason=resolve error=\"%s\"", c->session, vis,
		    u->proxy_host, err);
		conn_proxy_answer(a, c, SATCHEL_AUTH_TEMPFAIL, NULL);
		return;
	}
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL,
	    0, NI_NUMERICHOST) != 0)
		strlcpy(host, "?", sizeof(host));
	(void)snprintf(c->paddr, sizeof(c->paddr), "%s%.46s%s:%u",
	    ss.ss_family == AF_INET6 ? "[" : "", host,
	    ss.ss_family == AF_INET6 ? "]" : "", port);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("session=%s event=proxy backend=%s: socket",
		    c->session, c->paddr);
		conn_proxy_answer(a, c, SATCHEL_AUTH_TEMPFAIL, NULL);
		return;
	}
	c->pev.fd = fd;
	c->state = CS_PROXY;
	c->wake_at = auth_fail_now_ms() +
	    (uint64_t)a->s->cf->proxy_connect_timeout * 1000;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		conn_proxy_connected(a, c, 0);
		return;
	}
	if (errno != EINPROGRESS) {
		conn_proxy_answer(a, c, SATCHEL_AUTH_TEMPFAIL, strerror(errno));
		return;
	}
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLOUT;
	ee.data.ptr = &c->pev;
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ee) == -1) {
		conn_proxy_answer(a, c, SATCHEL_AUTH_TEMPFAIL, strerror(errno));
		return;
	}
	c->pstep = PS_CONNECT;
}

/* Connected: the worker takes it from here, or a master login first. */
static void
conn_proxy_connected(struct auth_ctx *a, struct aconn *c, int in_epoll)
{
	if (c->urec.proxy_master[0] != '\0') {
		proxy_master_begin(a, c, in_epoll);
		return;
	}
	conn_proxy_answer(a, c, SATCHEL_AUTH_OK, NULL);
}

/* The backend's socket is writable: connected, or refused. */

void
conn_proxy_ready(struct auth_ctx *a, struct aconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state != CS_PROXY)
		return;
	if (c->pstep > PS_CONNECT) {
		proxy_master_readable(a, c);
		return;
	}
	if (getsockopt(c->pev.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == EINPROGRESS)
		return;
	if (err == 0) {
		conn_proxy_connected(a, c, 1);
		return;
	}
	c->wake_at = 0;
	conn_proxy_answer(a, c, SATCHEL_AUTH_TEMPFAIL, strerror(err));
}

void
conn_proxy_timeout(struct auth_ctx *a, struct aconn *c)
{
	char msg[64];

	(void)snprintf(msg, sizeof(msg), c->pstep > PS_CONNECT ?
	    "no master login within %u s" : "no connection within %u s",
	    a->s->cf->proxy_connect_timeout);
	conn_proxy_answer(a, c, SATCHEL_AUTH_TEMPFAIL, msg);
}

void
conn_proxy_free(struct aconn *c)
{
	/* close() takes the descriptor out of the epoll set too. */
	if (c->pev.fd != -1) {
		close(c->pev.fd);
		c->pev.fd = -1;
	}
}

/*
 * Tell the worker: OK with the connected socket, or TEMPFAIL (the
 * backend is down: logged with why).  Ends c.
 */
void
conn_proxy_answer(struct auth_ctx *a, struct aconn *c, uint32_t status,
    const char *why)
{
	struct satchel_user *u = &c->urec;
	struct config *cf = a->s->cf;
	struct msg_auth_proxy p;
	char vis[128];

	log_vis(vis, sizeof(vis), u->name, strlen(u->name));
	c->state = CS_REPLY;
	memset(&p, 0, sizeof(p));
	p.status = status;
	if (status != SATCHEL_AUTH_OK) {
		/* why NULL: the caller logged it already. */
		if (why != NULL)
			log_warnx("session=%s event=proxy user=%s backend=%s "
			    "result=fail reason=%s error=\"%s\"", c->session,
			    vis, c->paddr[0] != '\0' ? c->paddr : "?",
			    c->pstep > PS_CONNECT ? "master-login" : "connect",
			    why);
		conn_proxy_free(c);
	} else
		log_debug("session=%s event=proxy user=%s backend=%s "
		    "connected", c->session, vis, c->paddr);
	p.login_delay = u->login_delay > 0 ? u->login_delay : cf->login_delay;
	p.ssl = (uint32_t)u->proxy_ssl;
	p.haproxy = u->proxy_haproxy == SATCHEL_PROXY_HAPROXY_YES ? 1 :
	    u->proxy_haproxy == SATCHEL_PROXY_HAPROXY_NO ? 0 :
	    cf->proxy_send_haproxy != 0;
	p.port = u->proxy_port;
	strlcpy(p.user, u->name, sizeof(p.user));
	strlcpy(p.host, u->proxy_host[0] != '\0' ? u->proxy_host :
	    u->proxy_hostip, sizeof(p.host));
	strlcpy(p.destuser, u->proxy_destuser[0] != '\0' ?
	    u->proxy_destuser : u->name, sizeof(p.destuser));
	strlcpy(p.addr, c->paddr, sizeof(p.addr));
	/* SCRAM's server-final, for the client (a master login). */
	if (status == SATCHEL_AUTH_OK)
		strlcpy(p.data, c->data, sizeof(p.data));
	/* Logged in there already with a master user: the +OK line. */
	if (status == SATCHEL_AUTH_OK && c->pstep == PS_DONE) {
		p.loggedin = 1;
		p.haproxy = 0;		/* sent already */
		strlcpy(p.okline, c->pline, sizeof(p.okline));
	}
	if (c->ev.fd != -1 && msg_send_auth_proxy(c->ev.fd, &p,
	    status == SATCHEL_AUTH_OK ? c->pev.fd : -1) == -1)
		log_warn("auth: proxy reply to worker %ld", (long)c->peer_pid);
	explicit_bzero(&p, sizeof(p));
	explicit_bzero(u->proxy_pass, sizeof(u->proxy_pass));
	/* The worker has its own copy of the socket now. */
	conn_free(a, c);
}
