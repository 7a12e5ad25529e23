/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * satchel/module.h -- the module ABI.  Every auth and storage backend is
 * one shared object exporting one symbol, SATCHEL_MODULE_SYMBOL, of type
 * struct satchel_module.  The core (daemon/module.c) refuses a module
 * whose abi_major differs from its own or whose abi_minor is newer.
 *
 * Evolving: append members to the ops structs and bump the minor; the
 * core checks ops_size before it uses a member.  Any other change here
 * bumps the major.
 */
#ifndef SATCHEL_MODULE_H
#define SATCHEL_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SATCHEL_ABI_MAJOR	1	/* bump on any incompatible change */
#define SATCHEL_ABI_MINOR	5	/* bump when appending members */
#define SATCHEL_MODULE_SYMBOL	"satchel_module"

#define SATCHEL_MODULE_AUTH	1
#define SATCHEL_MODULE_STORAGE	2

#if defined(__GNUC__)
#define SATCHEL_EXPORT	__attribute__((visibility("default")))
#define SATCHEL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SATCHEL_EXPORT
#define SATCHEL_PRINTF(a, b)
#endif

/* Limits shared by the core and the modules. */
#define SATCHEL_USER_MAX	255	/* canonical user name, octets */
#define SATCHEL_PATH_MAX	1024	/* mail location, home */
#define SATCHEL_PASS_MAX	255	/* ABI 1.4: proxy pass=, octets */
#define SATCHEL_UID_MAX		70	/* RFC 1939 unique-id, octets */
#define SATCHEL_HASH_HEX	32	/* core->hash128_hex() digits */
#define SATCHEL_HOST_MAX	255	/* ABI 1.3: proxy host name, octets */

/* Start value of core->fnv64() (the FNV-1a-64 offset basis). */
#define SATCHEL_FNV64_INIT	0xcbf29ce484222325ULL

struct satchel_core;
struct satchel_conf;
struct satchel_conf_key;	/* satchel/conftab.h */
struct satchel_uidset;
struct satchel_uidl_vars;	/* ABI 1.3, below */

/* ABI 1.5: an MD5 (RFC 1321) context for core->md5_*; opaque. */
struct satchel_md5 {
	uint32_t	 state[4];
	uint64_t	 count;		/* bytes */
	unsigned char	 buffer[64];
};

/* Opaque state of the core's message sizer (core->msg_size_*). */
struct satchel_msgsize {
	uint64_t	 opaque[16];
};

/* Log levels for core->log(). */
#define SATCHEL_LOG_ERR		3
#define SATCHEL_LOG_WARNING	4
#define SATCHEL_LOG_INFO	6
#define SATCHEL_LOG_DEBUG	7

/*
 * What the core offers a module.  A module never calls syslog, fork,
 * exit, setuid or signal, and never writes to the client.
 */
struct satchel_core {
	uint32_t	 abi_major, abi_minor;
	uint32_t	 size;		/* sizeof(struct satchel_core) */

	/* Log one line, prefixed with the module name. */
	void		(*log)(int level, const char *fmt, ...)
			    SATCHEL_PRINTF(2, 3);

	/*
	 * Configuration of the module's own section ("[file]" for the
	 * module named "file").  conf_get returns the value of key or NULL
	 * when unset; it marks the key used, and the core reports every
	 * key of the section that no module asked for as unknown.
	 * conf_error logs "file:line: key 'k': message" for that key (or
	 * for the section when key is NULL) and makes the load fail.
	 */
	const char	*(*conf_get)(const struct satchel_conf *conf,
			    const char *key);
	void		(*conf_error)(const struct satchel_conf *conf,
			    const char *key, const char *fmt, ...)
			    SATCHEL_PRINTF(3, 4);
	/* Strict parsers: return 0 and set *val_r, or -1 (not a number,
	 * out of [min, max], trailing junk). */
	int		(*parse_uint)(const char *s, uint64_t min, uint64_t max,
			    uint64_t *val_r);
	int		(*parse_bool)(const char *s, int *val_r);

	/*
	 * Password schemes shared by every module that stores hashes.
	 * stored is "{SCHEME}data" or a bare crypt(3) hash ("$y$...",
	 * "$2b$...", "$6$...", "$5$...").  Returns 1 match, 0 mismatch,
	 * -1 unusable stored value (logged).  Runs in constant time for a
	 * given stored value; never logs the password.
	 */
	int		(*password_verify)(const char *stored,
			    const char *password);
	/* Burn the same time as password_verify() for an unknown user. */
	void		(*password_dummy)(const char *password);
	/* If stored is "{PLAIN}secret" (or another plaintext-equivalent
	 * scheme), copy the secret to buf and return 1; 0 if it is a hash;
	 * -1 if buf is too small. */
	int		(*password_plain)(const char *stored, char *buf,
			    size_t bufsz);

	/* Constant-time comparison: 0 when equal. */
	int		(*timingsafe_bcmp)(const void *a, const void *b,
			    size_t len);

	/*
	 * Session lock: an fcntl write lock on the whole of fd, without
	 * waiting when timeout_ms is 0, else retried with backoff until the
	 * timeout.  Returns 0 locked, 1 held by someone else, -1 error.
	 * lock_dotlock creates path + ".lock" the NFS-safe way, breaking
	 * a lock older than stale_s seconds; lock_dotunlock removes it.
	 */
	int		(*lock_fcntl)(int fd, int write, int timeout_ms);
	int		(*lock_dotlock)(const char *path, int timeout_ms,
			    int stale_s);
	int		(*lock_dotunlock)(const char *path);

	/*
	 * Size in RFC 1939 terms (CRLF line ends, escapes removed) of
	 * message bytes stored as described by flags (SATCHEL_MSG_*), fed
	 * in chunks of any size: msg_size_init, then msg_size_feed for each
	 * chunk, then msg_size_end, adding up what they return.  This is
	 * the code RETR streams with, so a LIST size always equals what
	 * RETR sends.
	 */
	void		(*msg_size_init)(struct satchel_msgsize *st,
			    uint32_t flags);
	uint64_t	(*msg_size_feed)(struct satchel_msgsize *st,
			    const char *p, size_t len);
	uint64_t	(*msg_size_end)(struct satchel_msgsize *st);

	/* ---- ABI 1.1 ---- */

	/*
	 * For lookup(): if stored can serve a challenge-response mechanism
	 * ({PLAIN}/{CLEAR} for APOP, CRAM-MD5 and SCRAM; {SCRAM-SHA-256}
	 * for SCRAM), copy it to buf in tagged form and return 1; 0 when it
	 * is a one-way hash; -1 if buf is too small.  A module built for
	 * 1.0 does not know this member; one built for 1.1 checks
	 * SATCHEL_CORE_HAS(core, password_credential) before use.
	 */
	int		(*password_credential)(const char *stored, char *buf,
			    size_t bufsz);

	/* ---- ABI 1.2: config tables for module sections ---- */

	/*
	 * Read the module's section through a key table (include
	 * satchel/conftab.h): every key of the table is parsed, checked
	 * and stored at (char *)base + off, defaults applied; messages
	 * name the file, the line and the key.  Returns 0, or -1 after
	 * logging every error (the load then fails).  Check
	 * SATCHEL_CORE_HAS(core, conf_table) before use.
	 */
	int		(*conf_table)(const struct satchel_conf *conf,
			    const struct satchel_conf_key *keys, void *base);
	/* ---- ABI 1.2: helpers shared by the storage modules ---- */

	/*
	 * FNV-1a-64 of p[0..len) continuing from h (SATCHEL_FNV64_INIT to
	 * start), and the 128-bit UID hash: h_r[0] is FNV-1a-64 of the bytes,
	 * h_r[1] FNV-1a-64 with another seed of the bytes followed by their
	 * length (a uint64_t, host order).  Not cryptographic; stable
	 * forever, since UIDs are made of it.  hash128_hex writes the 32
	 * lowercase hex digits of h[0] then h[1], and a NUL, to out.
	 */
	uint64_t	(*fnv64)(uint64_t h, const void *p, size_t len);
	void		(*hash128)(const void *p, size_t len, uint64_t h_r[2]);
	void		(*hash128_hex)(const uint64_t h[2],
			    char out[SATCHEL_HASH_HEX + 1]);

	/*
	 * The duplicate-UID rule, the same for every module: UIDs are
	 * added in message order; uidset_add gives base itself when no
	 * earlier message has it, else the first free "<base>-2",
	 * "<base>-3", ... (with base replaced by its hash128_hex when that
	 * would exceed SATCHEL_UID_MAX), so no UID is ever handed out
	 * twice.  base must be 1..SATCHEL_UID_MAX bytes.  The result goes to
	 * out; returns 0 or -1 (out of memory).  uidset_has says whether uid
	 * is taken (1) or free (0), for a module that prefers one of
	 * several candidates.  hint is the expected number of UIDs.
	 */
	struct satchel_uidset *(*uidset_new)(size_t hint);
	int		(*uidset_has)(const struct satchel_uidset *set,
			    const char *uid);
	int		(*uidset_add)(struct satchel_uidset *set,
			    const char *base, char out[SATCHEL_UID_MAX + 1]);
	void		(*uidset_free)(struct satchel_uidset *set);

	/*
	 * The session lock (one POP3 session per mailbox): open path
	 * relative to dirfd (or absolute with AT_FDCWD), creating it mode
	 * 0600, never through a symlink; refuse anything but a regular
	 * file of the effective uid; take an fcntl write lock, waiting up
	 * to timeout_ms.  Returns SATCHEL_MBOX_OK with *fd_r (closing it
	 * releases the lock), SATCHEL_MBOX_INUSE when another session holds
	 * it, else SATCHEL_MBOX_ERROR (cannot be created: logged, with hint
	 * appended when the directory is not writable) or _TEMPFAIL, with
	 * *errstr_r (static).
	 */
	int		(*session_lock)(int dirfd, const char *path,
			    int timeout_ms, const char *hint, int *fd_r,
			    const char **errstr_r);

	/*
	 * Open path (relative, no ".." component) beneath dirfd without
	 * following a symlink in any component (openat2 RESOLVE_BENEATH |
	 * RESOLVE_NO_SYMLINKS, or O_NOFOLLOW on each component where the
	 * kernel lacks it).  flags and mode as for openat; O_NOFOLLOW and
	 * O_CLOEXEC are added.  With mine set, every component must belong
	 * to the effective uid (not checked when that is root).  Returns
	 * the descriptor, or -1 with errno: ELOOP for a symlink, EXDEV for
	 * ".." or an absolute path, EPERM for a component of another owner.
	 * Logs nothing: the caller names the path.
	 */
	int		(*open_beneath)(int dirfd, const char *path, int flags,
			    mode_t mode, int mine);

	/* log_vis: escape an outside value for a log line (printable ASCII
	 * but backslash, space, '"' and '=' kept, the rest \xNN), at most
	 * dstsz bytes with the NUL, "..." when truncated.  Returns dst. */
	char		*(*vis)(char *dst, size_t dstsz, const char *src,
			    size_t srclen);
	/* Wipe secrets: a memset the compiler does not remove. */
	void		(*wipe)(void *p, size_t len);
	/*
	 * Room for one more element in the array *(T **)arrp holding n of
	 * *cap elements of size bytes: the capacity doubles (from first).
	 * Returns 0, or -1 when out of memory (the array is unchanged).
	 */
	int		(*array_grow)(void *arrp, size_t *cap, size_t n,
			    size_t size, size_t first);
	/*
	 * Strict digits: the run of decimal (base 10) or lowercase hex
	 * (base 16) digits at the start of p[0..len).  Returns how many
	 * there are (>= 1) with *val_r, 0 when p starts with no digit or
	 * the value exceeds UINT64_MAX.  The caller checks what follows.
	 */
	size_t		(*parse_digits)(const char *p, size_t len, int base,
			    uint64_t *val_r);

	/* ABI 1.3: uidl_format, Dovecot's pop3_uidl_format syntax */

	/*
	 * conf_global: the value of a top-level key of the file conf was
	 * read from (NULL when unset), for a module whose section may
	 * override a global key (uidl_format).
	 * uidl_parse: check fmt, a Dovecot pop3_uidl_format template:
	 * %u IMAP UID, %v UIDVALIDITY, %f file name, %m header MD5, %g GUID
	 * (or %{uid} %{uidvalidity} %{filename} %{md5} %{guid}), %% a '%',
	 * with Dovecot's [-][0][width][.[-][0]width] and the modifiers L
	 * (lower case), U (upper case), X (decimal to lowercase hex), R
	 * (reverse), T (trim).  Returns 0 with *vars_r the SATCHEL_UIDL_*
	 * variables it uses, or -1 with *errstr_r (static).
	 * uidl_expand: fmt (checked) with the values in v into out; returns
	 * the length, or -1 when the result is empty, longer than
	 * SATCHEL_UID_MAX or holds a byte outside 0x21..0x7e.
	 * Pure; any process.
	 */
	const char	*(*conf_global)(const struct satchel_conf *conf,
			    const char *key);
	int		(*uidl_parse)(const char *fmt, unsigned int *vars_r,
			    const char **errstr_r);
	int		(*uidl_expand)(const char *fmt,
			    const struct satchel_uidl_vars *v,
			    char out[SATCHEL_UID_MAX + 1]);
	/*
	 * Pinned UIDLs (satchel-uidl import): the file path (relative to
	 * dirfd, or absolute with AT_FDCWD; a regular file of the
	 * effective uid, never through a symlink) holds
	 * "satchel-uidl-pins 1" and lines "<uidl served so far> <old
	 * server's uidl>".  Each uids[i] (malloc'ed, in message order)
	 * named there is replaced by its pin; a pin that would repeat a
	 * UIDL of an earlier message is refused (logged).  Returns how
	 * many were pinned, 0 when there is no file, -1 when it is unusable
	 * (logged; uids unchanged) or out of memory.
	 */
	int		(*uidl_pins)(int dirfd, const char *path, char **uids,
			    size_t n);
	/*
	 * uidl_conf: a storage module's uidl_format, read from its section
	 * (conf_get), else the top-level key (conf_global); checked with
	 * uidl_parse, and refused with the message refused_why when it uses
	 * a SATCHEL_UIDL_* variable in refused (one the module cannot
	 * fill).  An error names the section's key (conf_error) or the
	 * global value (log).  Returns 1 with *fmt_r (malloc'ed, the
	 * module frees it) and *vars_r the variables used; 0 when unset or
	 * empty (*fmt_r NULL); -1 on error (logged) or out of memory.  At
	 * module init, in the master.
	 */
	int		(*uidl_conf)(const struct satchel_conf *conf,
			    unsigned int refused, const char *refused_why,
			    char **fmt_r, unsigned int *vars_r);

	/* ---- ABI 1.5: MD5, for uidl_format's %m (header MD5) ---- */

	/*
	 * RFC 1321 over a satchel_md5 context: init, then update with
	 * any number of byte runs, then final writes the 16-byte digest.
	 * Pure; any process.  Not for passwords (use the core's
	 * password_check); the mbox module hashes headers with it, as
	 * Dovecot does for %m.
	 */
	void		(*md5_init)(struct satchel_md5 *ctx);
	void		(*md5_update)(struct satchel_md5 *ctx, const void *data,
			    size_t len);
	void		(*md5_final)(struct satchel_md5 *ctx,
			    unsigned char digest[16]);
};

/* ABI 1.3: the variables of uidl_format (core->uidl_parse/_expand). */
#define SATCHEL_UIDL_UID	0x01	/* %u */
#define SATCHEL_UIDL_VALIDITY	0x02	/* %v */
#define SATCHEL_UIDL_FILENAME	0x04	/* %f */
#define SATCHEL_UIDL_MD5	0x08	/* %m */
#define SATCHEL_UIDL_GUID	0x10	/* %g */

struct satchel_uidl_vars {
	uint32_t	 uid, uidvalidity;
	const char	*filename;	/* NULL: empty */
	const char	*md5;		/* 32 lowercase hex digits, or NULL */
	const char	*guid;
};

/* True when the running core has member m (it may be older than us). */
#define SATCHEL_CORE_HAS(core, m)					\
	((core)->size >= offsetof(struct satchel_core, m) +		\
	    sizeof((core)->m))

/* ---- Auth modules ------------------------------------------------ */

#define SATCHEL_AUTH_OK		0
#define SATCHEL_AUTH_FAIL	1	/* bad credentials, or account disabled */
#define SATCHEL_AUTH_TEMPFAIL	2	/* backend down: [SYS/TEMP] */
#define SATCHEL_AUTH_ERROR	3	/* broken entry or config: [SYS/PERM] */
#define SATCHEL_AUTH_NOUSER	4	/* unknown user: the chain goes on */

struct satchel_auth_request {
	const char	*user;		/* as the client sent it, validated */
	const char	*password;	/* plaintext, or NULL for lookup() */
	const char	*remote_addr;	/* client address, text */
	const char	*local_addr;
	const char	*session;	/* 16 hex digits, for logs */
};

struct satchel_user {
	char		 name[SATCHEL_USER_MAX + 1];	/* canonical */
	uid_t		 uid;
	gid_t		 gid;
	char		 home[SATCHEL_PATH_MAX];
	char		 mail[SATCHEL_PATH_MAX];	/* "maildir:/..." or empty
							   for the default */
	unsigned int	 login_delay;	/* seconds, 0 for none */
	int		 uid_set, gid_set;	/* the backend gave them */
	/* ABI 1.3 */
	/*
	 * Why verify() or lookup() did not return OK: SATCHEL_REASON_*,
	 * for auth_verbose and "satchelctl auth test".  The core zeroes
	 * the record before the call, so a 1.2 module says nothing (0).
	 */
	uint32_t	 reason;
	/*
	 * Proxy mode, from Dovecot's passdb extra fields (proxy=y host=
	 * hostip= port= ssl=yes|starttls destuser=, and Satchel's own
	 * proxy_haproxy=y|n): with proxy set, the session is relayed to
	 * the POP3 server at proxy_host instead of a local mailbox.  A
	 * module built for 1.2 leaves all of it zero (no proxy).
	 */
	int		 proxy;			/* proxy=y */
	int		 proxy_ssl;		/* SATCHEL_PROXY_SSL_* */
	int		 proxy_haproxy;		/* SATCHEL_PROXY_HAPROXY_* */
	unsigned int	 proxy_port;		/* 0: 110, or 995 with ssl=yes */
	char		 proxy_host[SATCHEL_HOST_MAX + 1];	/* name or IP */
	char		 proxy_hostip[64];	/* connect here, check host */
	char		 proxy_destuser[SATCHEL_USER_MAX + 1];	/* "": name */
	/* ABI 1.4 */
	/*
	 * Proxy mode with a master user (Dovecot's master= and pass=):
	 * the front logs in at the backend with AUTH PLAIN, authzid the
	 * destuser, authcid proxy_master, password proxy_pass.  That
	 * login happens in the auth process; the password never reaches
	 * a worker.  A module built for 1.3 leaves both empty.
	 */
	char		 proxy_master[SATCHEL_USER_MAX + 1];
	char		 proxy_pass[SATCHEL_PASS_MAX + 1];
};

/* ABI 1.3: satchel_user.proxy_ssl and proxy_haproxy. */
#define SATCHEL_PROXY_SSL_NO		0
#define SATCHEL_PROXY_SSL_YES		1	/* TLS from the first byte */
#define SATCHEL_PROXY_SSL_STARTTLS	2	/* STLS after the greeting */
#define SATCHEL_PROXY_HAPROXY_DEFAULT	0	/* proxy_send_haproxy */
#define SATCHEL_PROXY_HAPROXY_YES	1
#define SATCHEL_PROXY_HAPROXY_NO	2

/* satchel_user.reason (ABI 1.3) */
#define SATCHEL_REASON_NONE		0	/* not said */
#define SATCHEL_REASON_UNKNOWN_USER	1
#define SATCHEL_REASON_MISMATCH		2	/* wrong password */
#define SATCHEL_REASON_DISABLED		3	/* nologin, enabled = 0,
						   expired, locked */
#define SATCHEL_REASON_SCHEME		4	/* stored value unusable or
						   scheme not supported */
#define SATCHEL_REASON_BACKEND		5	/* backend down (TEMPFAIL) */
#define SATCHEL_REASON_ONEWAY		6	/* lookup(): only a one-way
						   hash is stored */

struct satchel_auth_ops {
	/* Called in the master (root) at start and on reload. */
	int	(*init)(const struct satchel_core *core,
		    const struct satchel_conf *conf, void **ctx_r);
	/* Called in each auth process after fork: open connections. */
	int	(*postfork)(void *ctx);
	/*
	 * Verify req->password.  Returns SATCHEL_AUTH_*; on OK fills *user.
	 * An unknown user returns NOUSER after the same work as a wrong
	 * password (password_dummy), so timing does not tell them apart.
	 */
	int	(*verify)(void *ctx, const struct satchel_auth_request *req,
		    struct satchel_user *user);
	/*
	 * Optional (NULL): the stored credential for challenge-response
	 * mechanisms (APOP, CRAM-MD5, SCRAM-SHA-256), in the tagged form
	 * core->password_credential() makes ("{PLAIN}secret" or
	 * "{SCRAM-SHA-256}..."), with *user filled as verify() would.
	 * Returns OK, NOUSER, FAIL when the user has only a one-way hash,
	 * or TEMPFAIL.
	 */
	int	(*lookup)(void *ctx, const struct satchel_auth_request *req,
		    struct satchel_user *user, char *secret, size_t secretsz);
	void	(*fini)(void *ctx);
};

/* ---- Storage modules --------------------------------------------- */

#define SATCHEL_MBOX_OK		0
#define SATCHEL_MBOX_INUSE	1	/* session lock held: [IN-USE] */
#define SATCHEL_MBOX_TEMPFAIL	2	/* [SYS/TEMP] */
#define SATCHEL_MBOX_ERROR	3	/* [SYS/PERM] */

/* How a message's bytes are stored; the core converts while sending. */
#define SATCHEL_MSG_CRLF	0x01	/* informational: lines end CRLF */
#define SATCHEL_MSG_MBOXRD	0x02	/* ">+From " loses one '>' */
#define SATCHEL_MSG_MBOXO	0x04	/* ">From " loses its '>' */
/*
 * Optional, for a module that caches what a scan found: the stored bytes
 * are already the wire bytes (every line ends CRLF, the last one too, no
 * line starts with '.', no escape to undo), so the worker may send them
 * with sendfile() without reading them.  The worker believes it only
 * when the stored length equals the message's RFC 1939 size; a module
 * that is not sure leaves it clear (the worker then scans each chunk).
 */
#define SATCHEL_MSG_WIRE	0x08
/*
 * The header lines that are Dovecot's own mbox metadata (Content-Length,
 * Status, X-IMAP, X-IMAPbase, X-Keywords, X-Status, X-UID; names matched
 * without case, folded continuation lines included) are not sent, nor
 * counted in the size: what Dovecot's POP3 serves from an mbox.  Never
 * with SATCHEL_MSG_WIRE.  Cores before this flag ignore it (the mbox
 * module and the core ship together).
 */
#define SATCHEL_MSG_HIDE	0x10

struct satchel_mailbox_ref {
	const char	*driver;	/* "maildir" */
	const char	*path;		/* expanded and validated */
	const char	*user;		/* canonical user, for logs */
	/* ABI 1.2: the user's home or NULL.  Below it (or below the
	 * mailbox's parent directory when path is not under it) no
	 * symlink is followed and every component must be the user's. */
	const char	*home;
};

struct satchel_msginfo {
	uint64_t	 size;		/* RFC 1939 size */
	char		 uid[SATCHEL_UID_MAX + 1];
};

struct satchel_msgref {
	int		 fd;		/* owned by the caller after return */
	off_t		 offset;
	uint64_t	 length;	/* stored bytes */
	uint32_t	 flags;		/* SATCHEL_MSG_* */
};

/* Per-message flags passed to commit(). */
#define SATCHEL_MARK_DELETED	0x01
#define SATCHEL_MARK_SEEN	0x02	/* retrieved (RETR) */

struct satchel_storage_ops {
	/* Called in the master at start and on reload. */
	int	(*init)(const struct satchel_core *core,
		    const struct satchel_conf *conf, void **ctx_r);
	/*
	 * In the mailbox agent, as the mail user: take the session lock and
	 * scan.  Returns SATCHEL_MBOX_*, with *errstr_r (static) on failure.
	 */
	int	(*open)(void *ctx, const struct satchel_mailbox_ref *ref,
		    void **mbox_r, const char **errstr_r);
	/* Number of messages, fixed for the session. */
	size_t	(*count)(void *mbox);
	/* Message n (0-based): size and UID. */
	int	(*info)(void *mbox, size_t n, struct satchel_msginfo *info);
	/* Message n's bytes: 0 ok, 1 vanished, -1 error. */
	int	(*message)(void *mbox, size_t n, struct satchel_msgref *ref,
		    const char **errstr_r);
	/* UPDATE: marks[n] is SATCHEL_MARK_*; returns 0 or -1. */
	int	(*commit)(void *mbox, const uint8_t *marks, size_t count,
		    const char **errstr_r);
	/* Release the lock and everything else. */
	void	(*close)(void *mbox);
	void	(*fini)(void *ctx);
};

struct satchel_module {
	uint32_t	 abi_major, abi_minor;
	uint32_t	 kind;		/* SATCHEL_MODULE_AUTH or _STORAGE */
	uint32_t	 ops_size;	/* sizeof(*ops) as the module was built */
	const char	*name;		/* "file", "maildir", ... */
	const char	*version;	/* the module's own, for logs */
	const void	*ops;
};

/*
 * The ops table of a storage module whose functions are named
 * <p>_init, <p>_open, <p>_count, <p>_info, <p>_message, <p>_commit,
 * <p>_close and <p>_fini, defined after them:  SATCHEL_STORAGE_OPS(mbox)
 * makes "static const struct satchel_storage_ops mbox_ops".
 */
#define SATCHEL_STORAGE_OPS(p)						\
static const struct satchel_storage_ops p##_ops = {			\
	.init = p##_init, .open = p##_open, .count = p##_count,		\
	.info = p##_info, .message = p##_message, .commit = p##_commit,	\
	.close = p##_close, .fini = p##_fini,				\
}

/*
 * The one exported symbol, for a module whose ops table is the static
 * object ops_:  SATCHEL_MODULE_DEFINE(SATCHEL_MODULE_STORAGE, "mbox",
 * PACKAGE_VERSION, mbox_ops);
 */
#define SATCHEL_MODULE_DEFINE(kind_, name_, version_, ops_)		\
SATCHEL_EXPORT const struct satchel_module satchel_module = {		\
	.abi_major = SATCHEL_ABI_MAJOR,					\
	.abi_minor = SATCHEL_ABI_MINOR,					\
	.kind = (kind_),						\
	.ops_size = sizeof(ops_),					\
	.name = (name_),						\
	.version = (version_),						\
	.ops = &(ops_),							\
}

#endif /* SATCHEL_MODULE_H */
