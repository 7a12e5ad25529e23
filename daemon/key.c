/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * key.c -- the key process (see key.h); the master's side of starting
 * and supervising it is master_key.c.
 *
 * master_key.c's key_spawn() forks it.  The key process: as root it reads each private key file (the master never
 * opens one), checks that it is an RSA or EC key, and sends the master
 * the public key (SubjectPublicKeyInfo DER) on a socketpair; the master
 * checks it against the certificate and builds the worker's proxy key
 * from it (tls_proxy.c).  The key process then binds its abstract
 * socket, drops to worker_user (chroot when configured, NO_NEW_PRIVS,
 * not dumpable), says READY and serves.
 *
 * Caution: everything a client of the key socket sends is hostile: it
 * may come from a worker running an attacker's code.  Only the worker
 * user and root may connect (SO_PEERCRED); every request is checked by
 * keyproto_req_parse() against the request table and the key it names;
 * a refused request is logged and ends that connection.  What a worker
 * can get is what TLS needs: a signature with a key it names (for RSA a
 * raw m^d mod n, since OpenSSL pads PSS in the caller), one at a time,
 * for as long as this process runs; never the key.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "compat/compat.h"
#include "auth_fail.h"
#include "conf.h"
#include "key.h"
#include "keyproto.h"
#include "log.h"
#include "master.h"
#include "priv.h"
#include "privsep.h"
#include "scoreboard.h"
#include "tls_error.h"
#include "stats_shm.h"
#include "worker.h"
#include "compat/poison.h"

struct key_slot {
	EVP_PKEY	*pk;
	struct key_info	 info;
};


static volatile sig_atomic_t key_quit, key_retiring;

static int key_load(struct config *, size_t, struct key_slot *, int);
static void key_serve(struct satcheld *, struct key_slot *, size_t, int,
    int) __attribute__((noreturn));
static int key_request(struct key_slot *, size_t, int, pid_t);
static int key_op(struct key_slot *, const struct key_req *,
    unsigned char *, size_t *);

static void
key_signal(int sig)
{
	if (sig == SIGUSR1)
		key_retiring = 1;
	else
		key_quit = 1;
}

int
key_conf_line(struct config *cf, const char *key, size_t n)
{
	struct conf_entry *e;
	int line = 0;

	for (e = cf->entries; e != NULL; e = e->next)
		if (e->section[0] == '\0' && strcmp(e->key, key) == 0) {
			line = e->line;
			if (n-- == 0)
				break;
		}
	return line;
}

/* A key file must not ask for a passphrase on the terminal. */
static int
key_no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

/*
 * Key process, as root: read key i and send its public half.  0 or -1
 * (logged with file:line and the key's name).
 */
static int
key_load(struct config *cf, size_t i, struct key_slot *ks, int ctl)
{
	const char *path = i == 0 ? cf->tls_key : cf->tls_sni[i - 1].key;
	const char *what = i == 0 ? "tls_key" : "tls_sni";
	int line = key_conf_line(cf, what, i == 0 ? 0 : i - 1);
	unsigned char der[4096 + 8], *p;
	struct stat st;
	uint32_t idx = (uint32_t)i;
	FILE *fp;
	int n;

	if ((fp = fopen(path, "re")) == NULL) {
		log_warnx("%s:%d: key '%s': %s: %s", cf->path, line, what,
		    path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & S_IROTH) != 0)
		log_warnx("%s:%d: key '%s': %s is readable by everyone "
		    "(chmod o-r)", cf->path, line, what, path);
	ks->pk = PEM_read_PrivateKey(fp, NULL, key_no_passphrase, NULL);
	fclose(fp);
	if (ks->pk == NULL) {
		log_warnx("%s:%d: key '%s': %s: %s", cf->path, line, what,
		    path, tls_file_error("private key"));
		return -1;
	}
	if (EVP_PKEY_get_base_id(ks->pk) == EVP_PKEY_RSA)
		ks->info.kind = KEY_KIND_RSA;
	else if (EVP_PKEY_get_base_id(ks->pk) == EVP_PKEY_EC)
		ks->info.kind = KEY_KIND_EC;
	else {
		log_warnx("%s:%d: key '%s': %s: not an RSA or EC key",
		    cf->path, line, what, path);
		return -1;
	}
	ks->info.size = (size_t)EVP_PKEY_get_size(ks->pk);
	if (ks->info.size == 0 || ks->info.size > KEY_DATA_MAX) {
		log_warnx("%s:%d: key '%s': %s: keys over 8192 bits are not "
		    "supported", cf->path, line, what, path);
		return -1;
	}
	memcpy(der, &idx, sizeof(idx));
	p = der + sizeof(idx);
	if ((n = i2d_PUBKEY(ks->pk, NULL)) <= 0 ||
	    (size_t)n > sizeof(der) - sizeof(idx) ||
	    i2d_PUBKEY(ks->pk, &p) != n) {
		log_warnx("%s:%d: key '%s': %s: %s", cf->path, line, what,
		    path, tls_error());
		return -1;
	}
	if (privsep_send(ctl, KEY_CTL_PUB, der, sizeof(idx) + (size_t)n,
	    -1) == -1) {
		log_warn("key process: send to master");
		return -1;
	}
	return 0;
}

void
key_child(struct satcheld *s, struct key_proc *kp, int ctl)
{
	static struct key_slot keys[KEY_KEYS_MAX];
	struct config *cf = s->cf;
	struct sigaction sa;
	sigset_t set;
	pid_t master = getppid();
	size_t i;
	int lfd, fd;

	log_procname("key");
	setproctitle_fmt("satcheld: key");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = key_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);

	/*
	 * Nothing of the master's: no listener, no auth socket, no worker
	 * channel, no other key process's control socket, nothing the master
	 * inherited.  The control socket moves to 3, every descriptor above
	 * is closed, and syslog (if the master logs there) is opened again.
	 */
	key_close_inherited();
	if (ctl != 3) {
		if (dup2(ctl, 3) == -1) {
			log_warn("key process: dup2");
			(void)privsep_send(ctl, KEY_CTL_FAIL, NULL, 0, -1);
			_exit(1);
		}
		close(ctl);
		ctl = 3;
	}
	closelog();
	if (close_range(4, ~0U, 0) == -1) {
		log_warn("key process: close_range");
		goto fail;
	}
	if (s->running && !s->foreground)
		log_init(0, s->cf->syslog_facility, 0);
	/* The failed-login table is the auth pool's, never ours. */
	auth_fail_forget();
	stats_keep(STATS_ROLE_NONE);	/* nor the metrics counters */

	for (i = 0; i < kp->nkeys; i++)
		if (key_load(cf, i, &keys[i], ctl) == -1)
			goto fail;
	if ((lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 || bind(lfd, (struct sockaddr *)&kp->addr,
	    kp->addrlen) == -1 || listen(lfd, 128) == -1) {
		log_warn("key process: socket");
		goto fail;
	}
	/* Started before daemon(): leave the terminal like the master. */
	if (!s->foreground && !s->running) {
		(void)setsid();
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			(void)dup2(fd, STDIN_FILENO);
			(void)dup2(fd, STDOUT_FILENO);
			(void)dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
		log_init(0, cf->syslog_facility, 0);
	}
	if (priv_drop(cf->chroot, s->worker_uid, s->worker_gid, NULL,
	    0) == -1)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("key process: prctl NO_NEW_PRIVS");
		goto fail;
	}
	/*
	 * Die with the master (a retired key process too: it would
	 * otherwise outlive it by its grace period).  Not when started
	 * before daemon(): that master is about to be replaced by its
	 * child, and atexit stops us if it fails instead.
	 */
	if ((s->foreground || s->running) &&
	    priv_tie_to_parent(master, SIGTERM) == -1)
		goto fail;
	/* No core file, no ptrace, no /proc/PID/mem for the worker user. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		log_warn("key process: prctl DUMPABLE");
		goto fail;
	}
	if (privsep_send(ctl, KEY_CTL_READY, NULL, 0, -1) == -1)
		_exit(1);
	key_serve(s, keys, kp->nkeys, lfd, ctl);
fail:
	(void)privsep_send(ctl, KEY_CTL_FAIL, NULL, 0, -1);
	_exit(1);
}

/*
 * The key process's loop.  It ends on SIGTERM, or once retired (SIGUSR1
 * from the master at a reload, or the master gone: end of file on ctl)
 * when the grace period is over and no worker is connected; never later
 * than an hour after retiring.
 */
static void
key_serve(struct satcheld *s, struct key_slot *keys, size_t nkeys, int lfd,
    int ctl)
{
	static struct pollfd pfd[2 + KEY_CLIENTS_MAX];
	static pid_t peer[2 + KEY_CLIENTS_MAX];
	struct ucred cred;
	socklen_t credlen;
	time_t retired = 0, now, grace;
	size_t n = 2, i;
	int fd, r;

	grace = (time_t)s->cf->timeout_preauth + KEY_GRACE_S;
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = ctl;
	pfd[1].events = POLLIN;
	log_debug("key process: %zu keys, serving", nkeys);
	for (;;) {
		if (key_quit)
			_exit(0);
		now = time(NULL);
		if (key_retiring && retired == 0) {
			retired = now;
			log_debug("key process: retiring");
		}
		if (retired != 0 && ((now - retired >= grace && n == 2) ||
		    now - retired >= 3600))
			_exit(0);
		r = poll(pfd, n, 1000);
		if (r == -1 && errno != EINTR) {
			log_warn("key process: poll");
			_exit(1);
		}
		if (r <= 0)
			continue;
		if (pfd[1].fd != -1 && pfd[1].revents != 0) {
			/*
			 * The master sends nothing after READY: this is the
			 * end of file of a master that exited.
			 */
			close(ctl);
			pfd[1].fd = -1;
			key_retiring = 1;
		}
		if ((pfd[0].revents & POLLIN) != 0) {
			fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
			    SOCK_CLOEXEC);
			credlen = sizeof(cred);
			if (fd == -1)
				;
			else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
			    &credlen) == -1 || (cred.uid != s->worker_uid &&
			    cred.uid != 0)) {
				log_warnx("key process: connection from uid "
				    "%ld refused", (long)cred.uid);
				close(fd);
			} else if (n == 2 + KEY_CLIENTS_MAX) {
				log_warnx("key process: %d workers connected: "
				    "connection from pid %ld refused",
				    KEY_CLIENTS_MAX, (long)cred.pid);
				close(fd);
			} else {
				pfd[n].fd = fd;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				peer[n] = cred.pid;
				n++;
			}
		}
		for (i = 2; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (key_request(keys, nkeys, pfd[i].fd, peer[i]) == 0)
				continue;
			close(pfd[i].fd);
			pfd[i] = pfd[n - 1];
			peer[i] = peer[n - 1];
			n--;
			i--;
		}
	}
}

/*
 * One message from a connected worker.  0 to keep the connection, -1
 * to close it (end of file, or a refusal, which is logged).
 */
static int
key_request(struct key_slot *keys, size_t nkeys, int fd, pid_t pid)
{
	static struct privsep_msg m;
	static struct key_info info[KEY_KEYS_MAX];
	static struct key_req req;
	unsigned char out[KEY_DATA_MAX], rep[KEY_DATA_MAX + 8];
	const char *err;
	size_t outlen, replen, i;
	int r;

	if ((r = privsep_recv(fd, &m, -1)) == 1)	/* non-blocking */
		return -1;
	if (r == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		if (errno == EBADMSG)
			log_warnx("key process: request from pid %ld refused: "
			    "malformed message", (long)pid);
		return -1;
	}
	if (m.fd != -1) {
		close(m.fd);
		log_warnx("key process: request from pid %ld refused: it "
		    "carries a descriptor", (long)pid);
		return -1;
	}
	for (i = 0; i < nkeys; i++)
		info[i] = keys[i].info;
	if (keyproto_req_parse(m.type, m.data, m.len, info, nkeys, &req,
	    &err) == -1) {
		log_warnx("key process: request from pid %ld refused: %s",
		    (long)pid, err);
		return -1;
	}
	outlen = sizeof(out);
	if (key_op(keys, &req, out, &outlen) == -1) {
		log_warnx("key process: %s with key %lu for pid %ld failed: "
		    "%s", keyproto_req_name(req.type), (unsigned long)req.key,
		    (long)pid, tls_error());
		replen = keyproto_rep_pack(KEY_FAILED, NULL, 0, rep,
		    sizeof(rep));
	} else
		replen = keyproto_rep_pack(KEY_OK, out, outlen, rep,
		    sizeof(rep));
	explicit_bzero(out, sizeof(out));
	if (privsep_send(fd, KEY_REP_RESULT, rep, replen, -1) == -1) {
		log_warn("key process: answer to pid %ld", (long)pid);
		return -1;
	}
	return 0;
}

/* The private-key operation itself, with OpenSSL's EVP interface. */
static int
key_op(struct key_slot *keys, const struct key_req *r, unsigned char *out,
    size_t *outlen)
{
	EVP_PKEY_CTX *ctx;
	int ok = 0;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, keys[r->key].pk, NULL)) ==
	    NULL)
		return -1;
	switch (r->type) {
	case KEY_REQ_RSA_PRIV_ENC:
		if (r->pad == KEY_PAD_PKCS1) {
			/* PKCS#1 type 1 over the worker's DigestInfo. */
			ok = EVP_PKEY_sign_init(ctx) == 1 &&
			    EVP_PKEY_CTX_set_rsa_padding(ctx,
			    RSA_PKCS1_PADDING) == 1 &&
			    EVP_PKEY_sign(ctx, out, outlen, r->data,
			    r->len) == 1;
			break;
		}
		/*
		 * Raw RSA (the worker did the PSS encoding): m^d mod n,
		 * which is what a decryption without padding computes.
		 */
		ok = EVP_PKEY_decrypt_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
		    EVP_PKEY_decrypt(ctx, out, outlen, r->data, r->len) == 1;
		break;
	case KEY_REQ_EC_SIGN:
		ok = EVP_PKEY_sign_init(ctx) == 1 &&
		    EVP_PKEY_sign(ctx, out, outlen, r->data, r->len) == 1;
		break;
	}
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* ---- the master's side --------------------------------------------- */
