/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_pam.c -- the "pam" auth module: system accounts through PAM.
 *
 *	[pam]
 *	service = satchel		# /etc/pam.d/<service>
 *	mail = mbox:/var/mail/%u	# or maildir:%h/Maildir; empty: the
 *					# global mail_location
 *
 * verify() runs pam_authenticate() and then pam_acct_mgmt(), so locked
 * and expired accounts are refused, with PAM_RHOST set to the client's
 * address.  The uid, gid, home and canonical name come from the passwd
 * database (getpwnam_r, so NSS) once PAM has said yes.  PAM cannot tell
 * an unknown user from a wrong password reliably, so after a failure we
 * ask the passwd database: no entry is NOUSER (the chain goes on), an
 * entry is FAIL.  pam_authenticate() runs in both cases, so the time
 * taken does not tell them apart.  PAM has no plaintext-equivalent
 * secret, so there is no lookup(): APOP cannot be served by PAM.
 *
 * init() runs in the master (root); verify() runs in the auth pool,
 * which keeps root because pam_unix must read /etc/shadow.  The password
 * is handed to PAM only through the conversation function and is never
 * logged.  Linux-PAM's failure delay (pam_unix asks for two seconds) is
 * replaced by a no-op: the auth process must not sleep, and the core
 * already delays failed logins in the worker.
 */
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "satchel/module.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"unknown"
#endif

#define PAM_DEFAULT_SERVICE	"satchel"
#define PAM_DEFAULT_MAIL	"mbox:/var/mail/%u"
#define PAM_SERVICE_MAX		64
#define PAM_CONV_MAX		32	/* messages in one conversation call */
#define PAM_PWBUF_MAX		(1024 * 1024)

struct pam_ctx {
	const struct satchel_core	*core;
	char				*service;
	char				*mail;
};

/* What the conversation function needs; lives on verify()'s stack. */
struct pam_conv_data {
	const struct satchel_core	*core;
	const char			*user;
	const char			*password;
	const char			*session;
};

static int	pam_mod_init(const struct satchel_core *,
		    const struct satchel_conf *, void **);
static int	pam_mod_verify(void *, const struct satchel_auth_request *,
		    struct satchel_user *);
static void	pam_mod_fini(void *);

static int	pam_conversation(int, const struct pam_message **,
		    struct pam_response **, void *);
static void	pam_free_responses(struct pam_response *, int);
static void	pam_no_delay(int, unsigned int, void *);
static int	pam_passwd(const struct satchel_core *, const char *,
		    struct passwd *, char **);
static void	pam_clean(char *, size_t, const char *);
static void	pam_wipe(void *, size_t);

static const struct satchel_auth_ops pam_ops = {
	.init = pam_mod_init,
	.postfork = NULL,
	.verify = pam_mod_verify,
	.lookup = NULL,		/* no plaintext secret: no APOP */
	.fini = pam_mod_fini,
};

SATCHEL_EXPORT const struct satchel_module satchel_module = {
	.abi_major = SATCHEL_ABI_MAJOR,
	.abi_minor = SATCHEL_ABI_MINOR,
	.kind = SATCHEL_MODULE_AUTH,
	.ops_size = sizeof(pam_ops),
	.name = "pam",
	.version = PACKAGE_VERSION,
	.ops = &pam_ops,
};

/* A memset the compiler may not drop: the buffer held a password. */
static void
pam_wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

/* Copy a PAM module's message for the log, without control bytes. */
static void
pam_clean(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = ((unsigned char)src[i] < ' ' ||
		    (unsigned char)src[i] == 0x7f) ? '?' : src[i];
	dst[i] = '\0';
}

static void
pam_free_responses(struct pam_response *resp, int n)
{
	int i;

	if (resp == NULL)
		return;
	for (i = 0; i < n; i++)
		if (resp[i].resp != NULL) {
			pam_wipe(resp[i].resp, strlen(resp[i].resp));
			free(resp[i].resp);
		}
	free(resp);
}

/*
 * The conversation: PAM asks, we answer from the request.  A hidden
 * prompt gets the password, a visible one the user name; messages for
 * the user are logged.  On any failure every response allocated so far
 * is wiped and freed and PAM gets PAM_CONV_ERR (PAM frees the responses
 * only on success).  Linux-PAM passes msg as an array of pointers.
 */
static int
pam_conversation(int num_msg, const struct pam_message **msg,
    struct pam_response **resp_r, void *appdata)
{
	struct pam_conv_data *cd = appdata;
	struct pam_response *resp;
	char text[256];
	int i;

	if (resp_r == NULL)
		return PAM_CONV_ERR;
	*resp_r = NULL;
	if (num_msg <= 0 || num_msg > PAM_CONV_MAX || msg == NULL ||
	    cd == NULL)
		return PAM_CONV_ERR;
	if ((resp = calloc((size_t)num_msg, sizeof(*resp))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < num_msg; i++) {
		if (msg[i] == NULL)
			goto fail;
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if ((resp[i].resp = strdup(cd->password)) == NULL)
				goto fail;
			break;
		case PAM_PROMPT_ECHO_ON:
			if ((resp[i].resp = strdup(cd->user)) == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
			pam_clean(text, sizeof(text), msg[i]->msg);
			cd->core->log(SATCHEL_LOG_WARNING, "session=%s PAM "
			    "error message: %s", cd->session, text);
			break;
		case PAM_TEXT_INFO:
			pam_clean(text, sizeof(text), msg[i]->msg);
			cd->core->log(SATCHEL_LOG_INFO, "session=%s PAM "
			    "info: %s", cd->session, text);
			break;
		default:
			cd->core->log(SATCHEL_LOG_WARNING, "session=%s PAM "
			    "asked with message style %d, which we cannot "
			    "answer", cd->session, msg[i]->msg_style);
			goto fail;
		}
		resp[i].resp_retcode = 0;
	}
	*resp_r = resp;
	return PAM_SUCCESS;
 fail:
	pam_free_responses(resp, num_msg);
	return PAM_CONV_ERR;
}

/* Replaces pam_unix's two-second sleep after a failure. */
static void
pam_no_delay(int retval, unsigned int usec_delay, void *appdata)
{
	(void)retval;
	(void)usec_delay;
	(void)appdata;
}

/*
 * Look name up in the passwd database.  Returns 1 found (*pw filled,
 * *buf_r to be freed by the caller), 0 no such user, -1 lookup error.
 */
static int
pam_passwd(const struct satchel_core *core, const char *name,
    struct passwd *pw, char **buf_r)
{
	struct passwd *res = NULL;
	char *buf = NULL, *nbuf;
	long sz;
	size_t bufsz;
	int r;

	*buf_r = NULL;
	sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	bufsz = sz > 0 ? (size_t)sz : 4096;
	for (;;) {
		if ((nbuf = realloc(buf, bufsz)) == NULL) {
			free(buf);
			core->log(SATCHEL_LOG_ERR, "getpwnam_r: %s",
			    strerror(errno));
			return -1;
		}
		buf = nbuf;
		r = getpwnam_r(name, pw, buf, bufsz, &res);
		if (r == ERANGE && bufsz < PAM_PWBUF_MAX) {
			bufsz *= 2;
			continue;
		}
		break;
	}
	if (res != NULL) {
		*buf_r = buf;
		return 1;
	}
	free(buf);
	/* Not found is 0 with res NULL; glibc may also say ENOENT. */
	if (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
		return 0;
	core->log(SATCHEL_LOG_ERR, "getpwnam_r: %s", strerror(r));
	return -1;
}

static int
pam_mod_init(const struct satchel_core *core, const struct satchel_conf *conf,
    void **ctx_r)
{
	struct pam_ctx *ctx;
	const char *service, *mail;
	size_t i;

	if (core == NULL || core->abi_major != SATCHEL_ABI_MAJOR ||
	    core->size < offsetof(struct satchel_core, password_dummy) +
	    sizeof(core->password_dummy))
		return -1;
	if ((service = core->conf_get(conf, "service")) == NULL)
		service = PAM_DEFAULT_SERVICE;
	if (service[0] == '\0' || strlen(service) > PAM_SERVICE_MAX) {
		core->conf_error(conf, "service", "must be 1 to %d characters",
		    PAM_SERVICE_MAX);
		return -1;
	}
	/* It names a file in /etc/pam.d. */
	for (i = 0; service[i] != '\0'; i++)
		if (!((service[i] >= 'a' && service[i] <= 'z') ||
		    (service[i] >= 'A' && service[i] <= 'Z') ||
		    (service[i] >= '0' && service[i] <= '9') ||
		    service[i] == '-' || service[i] == '_' ||
		    (service[i] == '.' && i > 0))) {
			core->conf_error(conf, "service", "only letters, "
			    "digits, '-', '_' and '.' (not first) allowed");
			return -1;
		}
	if ((mail = core->conf_get(conf, "mail")) == NULL)
		mail = PAM_DEFAULT_MAIL;
	if (strlen(mail) >= SATCHEL_PATH_MAX) {
		core->conf_error(conf, "mail", "longer than %d",
		    SATCHEL_PATH_MAX - 1);
		return -1;
	}
	if (mail[0] != '\0' && strchr(mail, ':') == NULL) {
		core->conf_error(conf, "mail", "needs a driver, as in "
		    "maildir:%%h/Maildir or mbox:/var/mail/%%u");
		return -1;
	}
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL ||
	    (ctx->service = strdup(service)) == NULL ||
	    (ctx->mail = strdup(mail)) == NULL) {
		core->conf_error(conf, NULL, "%s", strerror(errno));
		pam_mod_fini(ctx);
		return -1;
	}
	ctx->core = core;
	core->log(SATCHEL_LOG_INFO, "service %s, mail %s", ctx->service,
	    ctx->mail[0] != '\0' ? ctx->mail : "(mail_location)");
	*ctx_r = ctx;
	return 0;
}

static int
pam_mod_verify(void *arg, const struct satchel_auth_request *req,
    struct satchel_user *user)
{
	struct pam_ctx *ctx = arg;
	const struct satchel_core *core = ctx->core;
	struct pam_conv_data cd;
	struct pam_conv conv;
	struct passwd pw;
	pam_handle_t *pamh = NULL;
	const void *item = NULL;
	const char *name, *sess;
	char *pwbuf = NULL, pamuser[SATCHEL_USER_MAX + 1];
	int st, st2, found, ret;

	if (req == NULL || req->user == NULL || req->password == NULL ||
	    user == NULL)
		return SATCHEL_AUTH_ERROR;
	sess = req->session != NULL ? req->session : "-";
	memset(&cd, 0, sizeof(cd));
	cd.core = core;
	cd.user = req->user;
	cd.password = req->password;
	cd.session = sess;
	conv.conv = pam_conversation;
	conv.appdata_ptr = &cd;

	st = pam_start(ctx->service, req->user, &conv, &pamh);
	if (st != PAM_SUCCESS) {
		core->log(SATCHEL_LOG_ERR, "session=%s pam_start(%s): %s",
		    sess, ctx->service, pam_strerror(NULL, st));
		user->reason = SATCHEL_REASON_BACKEND;
		return SATCHEL_AUTH_TEMPFAIL;
	}
	if (req->remote_addr != NULL && req->remote_addr[0] != '\0' &&
	    (st = pam_set_item(pamh, PAM_RHOST, req->remote_addr)) !=
	    PAM_SUCCESS)
		goto tempfail;
#ifdef PAM_FAIL_DELAY
	if ((st = pam_set_item(pamh, PAM_FAIL_DELAY,
	    (const void *)pam_no_delay)) != PAM_SUCCESS)
		goto tempfail;
#endif

	st = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (st == PAM_SUCCESS)
		st = pam_acct_mgmt(pamh, PAM_SILENT |
		    PAM_DISALLOW_NULL_AUTHTOK);

	/* A module may have mapped the name; the passwd entry is for it. */
	name = req->user;
	if (pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS &&
	    item != NULL && ((const char *)item)[0] != '\0' &&
	    strlen(item) <= SATCHEL_USER_MAX) {
		memcpy(pamuser, item, strlen(item) + 1);
		name = pamuser;
	}

	switch (st) {
	case PAM_SUCCESS:
		ret = SATCHEL_AUTH_OK;
		break;
	case PAM_USER_UNKNOWN:
		ret = SATCHEL_AUTH_NOUSER;
		user->reason = SATCHEL_REASON_UNKNOWN_USER;
		break;
	case PAM_NEW_AUTHTOK_REQD:
		core->log(SATCHEL_LOG_INFO, "session=%s password expired: "
		    "it must be changed (e.g. with passwd) before POP3 "
		    "logins work again", sess);
		ret = SATCHEL_AUTH_FAIL;
		user->reason = SATCHEL_REASON_DISABLED;
		break;
	case PAM_ACCT_EXPIRED:
		core->log(SATCHEL_LOG_INFO, "session=%s account expired",
		    sess);
		ret = SATCHEL_AUTH_FAIL;
		user->reason = SATCHEL_REASON_DISABLED;
		break;
	case PAM_AUTHINFO_UNAVAIL:
	case PAM_SYSTEM_ERR:
	case PAM_BUF_ERR:
	case PAM_CONV_ERR:
	case PAM_ABORT:
		core->log(SATCHEL_LOG_WARNING, "session=%s PAM service %s: "
		    "%s", sess, ctx->service, pam_strerror(pamh, st));
		ret = SATCHEL_AUTH_TEMPFAIL;
		user->reason = SATCHEL_REASON_BACKEND;
		break;
	default:
		/* PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_MAXTRIES, ... */
		core->log(SATCHEL_LOG_DEBUG, "session=%s PAM: %s", sess,
		    pam_strerror(pamh, st));
		ret = SATCHEL_AUTH_FAIL;
		user->reason = st == PAM_AUTH_ERR ? SATCHEL_REASON_MISMATCH :
		    SATCHEL_REASON_DISABLED;
		break;
	}
	if ((st2 = pam_end(pamh, st)) != PAM_SUCCESS)
		core->log(SATCHEL_LOG_WARNING, "session=%s pam_end: %s", sess,
		    pam_strerror(NULL, st2));
	pamh = NULL;

	if (ret == SATCHEL_AUTH_TEMPFAIL || ret == SATCHEL_AUTH_NOUSER)
		return ret;

	found = pam_passwd(core, name, &pw, &pwbuf);
	if (found == -1) {
		user->reason = SATCHEL_REASON_BACKEND;
		return SATCHEL_AUTH_TEMPFAIL;
	}
	if (ret != SATCHEL_AUTH_OK) {
		if (found == 0)
			user->reason = SATCHEL_REASON_UNKNOWN_USER;
		return found == 0 ? SATCHEL_AUTH_NOUSER : SATCHEL_AUTH_FAIL;
	}
	if (found == 0) {
		core->log(SATCHEL_LOG_WARNING, "session=%s PAM accepted a "
		    "user who is not in the passwd database; refused", sess);
		return SATCHEL_AUTH_ERROR;
	}

	memset(user, 0, sizeof(*user));
	ret = SATCHEL_AUTH_OK;
	if (strlen(pw.pw_name) >= sizeof(user->name) || pw.pw_dir == NULL ||
	    strlen(pw.pw_dir) >= sizeof(user->home)) {
		core->log(SATCHEL_LOG_WARNING, "session=%s passwd entry: name "
		    "or home too long", sess);
		ret = SATCHEL_AUTH_ERROR;
	} else {
		memcpy(user->name, pw.pw_name, strlen(pw.pw_name) + 1);
		memcpy(user->home, pw.pw_dir, strlen(pw.pw_dir) + 1);
		memcpy(user->mail, ctx->mail, strlen(ctx->mail) + 1);
		user->uid = pw.pw_uid;
		user->gid = pw.pw_gid;
		user->uid_set = user->gid_set = 1;
	}
	if (pw.pw_passwd != NULL)
		pam_wipe(pw.pw_passwd, strlen(pw.pw_passwd));
	free(pwbuf);
	return ret;

 tempfail:
	core->log(SATCHEL_LOG_ERR, "session=%s pam_set_item: %s", sess,
	    pam_strerror(pamh, st));
	(void)pam_end(pamh, st);
	user->reason = SATCHEL_REASON_BACKEND;
	/* The same work as a real attempt would have been fairer, but
	 * PAM is broken here: say so at once. */
	return SATCHEL_AUTH_TEMPFAIL;
}

static void
pam_mod_fini(void *arg)
{
	struct pam_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	free(ctx->service);
	free(ctx->mail);
	free(ctx);
}
