/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_worker.c -- a module worker of the auth pool.  Forked by the auth
 * process, runs as root (PAM and root-only password files need it), and
 * is the only kind of process that initialises an auth module and so
 * holds its data (the passwd-file table, the SQL password).  It answers
 * one AW_CALL at a time: verify a password, look up a stored
 * credential, or make SCRAM-SHA-256 keys.  A call may block as long as
 * the module likes: the auth process gives up after the module's
 * timeout and kills this process.
 *
 * Caution: it talks only to the auth process, which checked the request
 * already, but it still validates what it unpacks.  It never logs a
 * password.  SCRAM keys cost one PBKDF2 derivation whether the user is
 * stored in plaintext, as SCRAM keys, or not at all, so the time to the
 * server-first message does not tell them apart.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netdb.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth_fail.h"
#include "auth_int.h"
#include "conf.h"
#include "core.h"
#include "log.h"
#include "mailloc.h"
#include "master.h"
#include "module.h"
#include "msg.h"
#include "priv.h"
#include "privsep.h"
#ifdef HAVE_OPENSSL
#include "scram.h"
#endif
#include "compat/poison.h"

#ifdef HAVE_OPENSSL
/* Turn what lookup() found into "{SCRAM-SHA-256}" keys in cred. */
static uint32_t
aw_scram_keys(const char *user, uint32_t r, char *cred, size_t credsz)
{
	struct scram_keys k;
	unsigned char salt[16];
	const char *pw = "satchel-not-a-password";
	int plain = r == SATCHEL_AUTH_OK && strncmp(cred, "{PLAIN}", 7) == 0;
	int stored = r == SATCHEL_AUTH_OK &&
	    strncmp(cred, "{SCRAM-SHA-256}", 15) == 0;

	/* One derivation on every path: the same cost for everyone. */
	scram_salt_for(user, salt);
	if (scram_derive(plain ? cred + 7 : pw, salt, sizeof(salt),
	    SCRAM_ITER_DEFAULT, &k) == -1) {
		explicit_bzero(cred, credsz);
		return SATCHEL_AUTH_TEMPFAIL;
	}
	if (plain) {
		explicit_bzero(cred, credsz);
		if (scram_format_keys(&k, cred, credsz) == -1)
			r = SATCHEL_AUTH_FAIL;
	} else if (!stored) {
		explicit_bzero(cred, credsz);
		if (r == SATCHEL_AUTH_OK)
			r = SATCHEL_AUTH_FAIL;	/* a one-way hash */
	}
	explicit_bzero(&k, sizeof(k));
	return r;
}
#endif

/*
 * Proxy mode: a host= name without hostip= is resolved here, where a
 * call may block (within the module's timeout), never in the auth
 * process's event loop, where one slow DNS answer would hold up every
 * login.  The first address goes to proxy_hostip (host= stays for the
 * certificate check); if none, hostip stays empty and the auth process
 * answers [SYS/TEMP] with a log line.
 */
static void
aw_resolve(struct satchel_user *u, const char *session)
{
	struct addrinfo hints, *res = NULL;
	char host[NI_MAXHOST];
	int e;

	if (!u->proxy || u->proxy_hostip[0] != '\0' ||
	    u->proxy_host[0] == '\0')
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(u->proxy_host, NULL, &hints, &res) == 0) {
		freeaddrinfo(res);
		return;			/* an address already */
	}
	hints.ai_flags = AI_ADDRCONFIG;
	if ((e = getaddrinfo(u->proxy_host, NULL, &hints, &res)) != 0 ||
	    res == NULL || getnameinfo(res->ai_addr, res->ai_addrlen, host,
	    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0 ||
	    strlen(host) >= sizeof(u->proxy_hostip)) {
		log_warnx("session=%s event=proxy host=%s result=fail "
		    "reason=resolve error=\"%s\"", session, u->proxy_host,
		    e != 0 ? gai_strerror(e) : "no usable address");
		if (res != NULL)
			freeaddrinfo(res);
		return;
	}
	freeaddrinfo(res);
	strlcpy(u->proxy_hostip, host, sizeof(u->proxy_hostip));
}

static void
aw_call(struct module *m, struct msg_aw_call *call, struct msg_aw_reply *rp)
{
	const struct satchel_auth_ops *ops = m->ops;
	struct satchel_auth_request ar;
	uint32_t reason;
	int r;

	memset(&ar, 0, sizeof(ar));
	ar.user = call->user;
	ar.remote_addr = call->remote;
	ar.local_addr = call->local;
	ar.session = call->session;
	if (user_name_valid(call->user) == -1) {
		rp->result = SATCHEL_AUTH_NOUSER;
		rp->user.reason = SATCHEL_REASON_UNKNOWN_USER;
		return;
	}
	core_set_module_name(m->desc->name);
	if (call->op == AW_VERIFY) {
		ar.password = call->password;
		r = ops->verify(m->ctx, &ar, &rp->user);
	} else if (ops->lookup == NULL)
		r = SATCHEL_AUTH_NOUSER;
	else
		r = ops->lookup(m->ctx, &ar, &rp->user, rp->cred,
		    sizeof(rp->cred));
	core_set_module_name("core");
	rp->cred[sizeof(rp->cred) - 1] = '\0';
	if (r < SATCHEL_AUTH_OK || r > SATCHEL_AUTH_NOUSER)
		r = SATCHEL_AUTH_ERROR;
#ifdef HAVE_OPENSSL
	if (call->op == AW_SCRAM && r != SATCHEL_AUTH_TEMPFAIL &&
	    r != SATCHEL_AUTH_ERROR)
		r = (int)aw_scram_keys(call->user, (uint32_t)r, rp->cred,
		    sizeof(rp->cred));
#endif
	/* ABI 1.3: the module's reason goes back on every result. */
	reason = rp->user.reason;
	if (call->op == AW_USER) {
		/*
		 * satchelctl user: the record, never the secret.  A user
		 * with a one-way hash is found all the same.
		 */
		explicit_bzero(rp->cred, sizeof(rp->cred));
		if (r == SATCHEL_AUTH_FAIL &&
		    reason == SATCHEL_REASON_ONEWAY && rp->user.name[0] != '\0')
			r = SATCHEL_AUTH_OK;
	}
	if (r == SATCHEL_AUTH_OK)
		aw_resolve(&rp->user, call->session);
	if (r != SATCHEL_AUTH_OK) {
		explicit_bzero(rp->cred, sizeof(rp->cred));
		memset(&rp->user, 0, sizeof(rp->user));
		rp->user.reason = reason;
	}
	rp->result = (uint32_t)r;
}

void
auth_worker_main(int ctl, struct satcheld *s, size_t idx)
{
	static struct privsep_msg m;
	struct module *mod = s->auth[idx];
	const struct satchel_auth_ops *ops = mod->ops;
	struct msg_aw_call call;
	struct msg_aw_reply rp;
	struct sigaction sa;

	log_procname("auth-module");
	setproctitle_fmt("satcheld: auth module %s", mod->desc->name);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (getppid() == 1)
		_exit(0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* Nothing inherited stays open but ctl and stdin/out/err. */
	if ((ctl = priv_keep_fd(ctl, s->foreground ? NULL :
	    s->cf->syslog_facility)) == -1)
		_exit(1);
	/* The module's data lives here, and only in processes like this. */
	if (module_init(mod, s->cf) == -1)
		_exit(2);
	if (ops->postfork != NULL && ops->postfork(mod->ctx) != 0)
		log_warnx("module %s: postfork failed; it will answer "
		    "temporary failures", mod->path);

	for (;;) {
		if (privsep_recv(ctl, &m, -1) != 0)
			break;
		if (m.fd != -1 || msg_get_aw_call(&m, &call) == -1 ||
		    call.op < AW_VERIFY || call.op > AW_USER) {
			log_warnx("auth module worker: bad call: exiting");
			break;
		}
		explicit_bzero(m.data, m.len);
		memset(&rp, 0, sizeof(rp));
		aw_call(mod, &call, &rp);
		explicit_bzero(&call, sizeof(call));
		if (msg_send_aw_reply(ctl, &rp, -1) == -1)
			break;
		explicit_bzero(&rp, sizeof(rp));
	}
	_exit(0);
}
