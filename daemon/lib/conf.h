/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * conf.h -- satchel.conf: "key = value" lines, '#' comments, and
 * "[name]" sections holding a module's settings.  Every error names the
 * file, the line and the key.  Parsed in the master (root) only.
 */
#ifndef SATCHEL_CONF_H
#define SATCHEL_CONF_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define CONF_LISTEN_MAX		16
#define CONF_MODULES_MAX	8
#define CONF_SNI_MAX		16
#define CONF_NETS_MAX		32

/* conf_load_mem() flags */
#define CONF_LOAD_OFFLINE	0x01	/* touch nothing outside the text:
					 * no file checks, no user lookups */

struct satchel_conf_key;

struct conf_entry {
	char			*section;	/* "" at top level */
	char			*key;
	char			*value;
	int			 line;
	int			 used;
	struct conf_entry	*next;
};

/* A module's view of its section (struct satchel_conf in module.h). */
struct satchel_conf {
	struct config		*cf;
	const char		*section;
};

struct conf_listen {
	char		 host[256];	/* "" for any */
	char		 port[16];
	int		 tls;		/* implicit TLS */
	int		 haproxy;	/* a PROXY header comes first */
};

struct config {
	char			*path;
	struct conf_entry	*entries;
	int			 errors;
	int			 load_flags;	/* CONF_LOAD_* */

	/* listen = ADDR:PORT [tls] [haproxy], repeatable; [v6]:port; *:port */
	struct conf_listen	 listen[CONF_LISTEN_MAX];
	size_t			 nlisten;

	char			*worker_user;	/* default "satchel" */
	char			*chroot;	/* "" disables */
	unsigned int		 workers_min_spare;
	unsigned int		 workers_max_spare;
	unsigned int		 workers_max;
	unsigned int		 worker_max_sessions;
	unsigned int		 auth_processes;
	unsigned int		 auth_workers;	/* module workers per module */
	unsigned int		 auth_timeout;	/* seconds per module call */
	unsigned int		 agent_max_sessions;
	unsigned int		 login_fail_delay_max_ms;

	char			*auth[CONF_MODULES_MAX];	/* order */
	size_t			 nauth;
	char			*module_dir;
	char			*mail_location;	/* default for users */
	char			*auth_username_format;	/* "": none */
	int			 mail_home_create;	/* mkdir homes */
	long			 mail_uid, mail_gid;	/* -1 unset; a name
						 * is resolved at load */
	char			*mail_extra_groups;	/* e.g. "mail" */
	char			*uidl_format;	/* "" = native UIDs */
	unsigned long		 first_valid_uid;	/* default 100 */
	unsigned long		 first_valid_gid;	/* default 1: never 0 */

	char			*pidfile;
	char			*syslog_facility;
	int			 log_level;	/* SATCHEL_LOG_* */

	unsigned int		 timeout_preauth;	/* seconds */
	unsigned int		 timeout_session;
	unsigned int		 shutdown_timeout;
	unsigned int		 login_fail_delay_ms;	/* base */
	unsigned int		 login_fail_max;	/* per connection */
	unsigned int		 login_delay;	/* LOGIN-DELAY, 0 off */
	char			*expire;	/* EXPIRE value, "NEVER" */
	int			 apop;		/* offer APOP: 0 no, 1 yes */
	char			*greeting;	/* banner text */

	/* TLS (only with OpenSSL) and plaintext policy */
	char			*tls_cert;	/* chain, PEM */
	char			*tls_key;
	struct conf_sni {
		char		*name;		/* host name, or *.domain */
		char		*cert;
		char		*key;
	}			 tls_sni[CONF_SNI_MAX];
	size_t			 ntls_sni;
	int			 tls_min_version;	/* 12 or 13 */
	char			*tls_ciphers;		/* TLS 1.2 list */
	char			*tls_ciphersuites;	/* TLS 1.3 list */
	unsigned int		 tls_ticket_rotate;	/* seconds, 0: off */
	int			 disable_plaintext_auth;
	int			 tls_required;	/* login only in TLS */
	struct conf_net {
		int		 family;
		unsigned char	 addr[16];
		unsigned int	 prefix;
	} __attribute__((aligned(8)))	 trusted[CONF_NETS_MAX];
	size_t			 ntrusted;
	char			*sasl;		/* mechanisms offered */

	/* Abuse limits: 0 means no limit (see limits.h). */
	unsigned int		 max_connections_per_ip;
	unsigned int		 max_sessions_per_user;
	unsigned int		 max_preauth_connections;	/* 0: auto */
	int			 limits_exempt_trusted;
	unsigned int		 timeout_login;		/* accept to login */
	struct conf_net		 tarpit_allow[CONF_NETS_MAX];
	size_t			 ntarpit_allow;	/* right after its array */
	int			 sandbox;	/* seccomp in worker, agent */

	/* PROXY protocol senders allowed on "haproxy" listeners. */
	struct conf_net		 haproxy_trusted[CONF_NETS_MAX];
	size_t			 nhaproxy_trusted;	/* after its array */
	/* satchelctl and the admin's view (issue 13: control.c) */
	char			*control_socket;	/* "": beside pidfile */
	int			 auth_verbose;	/* log why a login failed */
	int			 lock_conflict;	/* LOCK_CONFLICT_* */
	/* Proxy mode (doc/SCALING "Proxy tier"): users with proxy=y. */
	int			 proxy_send_haproxy;	/* PROXY v2 header */
	char			*proxy_ssl_ca_file;	/* "": system bundle */
	unsigned int		 proxy_connect_timeout;	/* seconds */
	/* Master users (issue 14): USER "target<sep>master"; "" off. */
	char			*auth_master_user_separator;
	/* Metrics (issue 14): "" off, else ADDR:PORT (stats.c). */
	char			*metrics_listen;
};

#define LOCK_CONFLICT_REFUSE	0	/* RFC 1939: [IN-USE] */
#define LOCK_CONFLICT_TAKEOVER	1	/* end the older session */
#define CONTROL_SOCKET_NAME	"satcheld.ctl"

/*
 * Read and check path.  Returns a config, or NULL after logging every
 * error as "path:line: key 'k': message".
 */
struct config	*conf_load(const char *path);
/*
 * The same from len bytes of text (no NUL needed); name stands for the
 * file in messages.  flags: CONF_LOAD_*.  Used by the fuzz target.
 */
struct config	*conf_load_mem(const char *name, const void *text,
		    size_t len, int flags);
void		 conf_free(struct config *cf);
/*
 * After the modules have read their sections: report keys nobody used,
 * and sections that name no loaded module.  Returns the error count.
 */
int		 conf_check_unused(struct config *cf);
/* Look up a top-level or section key (marks it used); NULL if unset. */
const char	*conf_get(struct config *cf, const char *section,
		    const char *key);
/* A module's section view, valid as long as cf. */
struct satchel_conf *conf_section(struct config *cf, const char *section);
/* Log "path:line: key 'k' [section]: message" and count an error. */
void		 conf_error(struct config *cf, const char *section,
		    const char *key, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/*
 * Read [section] through a key table (satchel/conftab.h) into base:
 * defaults, bounds, file:line messages.  Returns 0, or -1 after logging
 * every error.  Keys not in the table are left to conf_get().  Offered
 * to modules as core->conf_table.  Only the public kinds are allowed.
 */
int		 conf_table(struct config *cf, const char *section,
		    const struct satchel_conf_key *keys, void *base);
/*
 * Call report(key) for each key whose new value a reload cannot apply
 * (listen, pidfile, syslog_facility, workers_max raised: the keys with
 * SATCHEL_CONF_RESTART or _RESTART_UP in conf.c's table).  Returns how
 * many.  conf_restart_log() logs "'key' changed: restart satcheld to
 * apply it".
 */
int		 conf_restart_changed(const struct config *old,
		    const struct config *new, void (*report)(const char *key));
void		 conf_restart_log(const char *key);
/*
 * The control socket's path: control_socket, or CONTROL_SOCKET_NAME in
 * the directory of pidfile (of /run when there is none).  0, or -1 when
 * it does not fit bufsz.
 */
int		 conf_control_path(const struct config *cf, char *buf,
		    size_t bufsz);
/*
 * The effective configuration, one "key = value" line at a time to
 * out(arg, line): every top-level key (its value in the file, else its
 * default), then each module section's lines as written.  nondefault:
 * only what the file sets to something else than the default.  Values
 * of secret keys (a name holding "password" or "secret", but not a
 * *_file path) are written as "********".  Master and satchelctl.
 */
void		 conf_dump(const struct config *cf, int nondefault,
		    void (*out)(void *arg, const char *line), void *arg);
/* Strict parsers shared with modules; numbers go through proto_number. */
int		 conf_parse_uint(const char *s, uint64_t min, uint64_t max,
		    uint64_t *val_r);
int		 conf_parse_bool(const char *s, int *val_r);
/* 1 when the address (AF_INET or AF_INET6, v4-mapped handled) is in one
 * of the trusted networks. */
int		 conf_trusted(const struct config *cf, const struct sockaddr *sa);
/* The same test against any list of networks. */
int		 conf_in_nets(const struct conf_net *nets, size_t nnets,
		    const struct sockaddr *sa);

#endif /* SATCHEL_CONF_H */
