/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_conf.c -- satchel.conf parsing: defaults, every value type, and
 * errors that must name the file, the line and the key.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "satchel/conftab.h"
#include "conf.h"
#include "log.h"
#include "test.h"

static char path[512];
static char errlog[512];

/*
 * Write text as the config, load it with stderr captured; NULL on error.
 * flags 0: from the file with conf_load(); else conf_load_mem() with
 * those flags (CONF_LOAD_OFFLINE: certificate paths need not exist).
 */
/* conf_dump's output, for the satchelctl config test. */
static char dump_buf[16384];
static size_t dump_len;

static void
dump_line(void *arg, const char *line)
{
	int n;

	(void)arg;
	n = snprintf(dump_buf + dump_len, sizeof(dump_buf) - dump_len, "%s\n",
	    line);
	if (n > 0 && (size_t)n < sizeof(dump_buf) - dump_len)
		dump_len += (size_t)n;
}

static struct config *
load_flags(const char *text, int flags)
{
	struct config *cf;
	int saved, fd;

	snprintf(path, sizeof(path), "%s/satchel.conf", test_tmpdir());
	snprintf(errlog, sizeof(errlog), "%s/err.log", test_tmpdir());
	test_write_file(path, text, strlen(text));
	fflush(stderr);
	saved = dup(2);
	fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	if (flags == 0)
		cf = conf_load(path);
	else
		cf = conf_load_mem(path, text, strlen(text), flags);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return cf;
}

static struct config *
load(const char *text)
{
	return load_flags(text, 0);
}

static int
log_has(const char *needle)
{
	char buf[8192];
	FILE *fp;
	size_t n;

	if ((fp = fopen(errlog, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if (strstr(buf, needle) == NULL) {
		printf("    log lacks \"%s\"; log is: %s\n", needle, buf);
		return 0;
	}
	return 1;
}

static const char *minimal = "listen = 127.0.0.1:1110\nauth = file\n";

struct bad_case {
	const char	*label;
	const char	*text;
	const char	*expect;	/* in the error log */
};

static const struct bad_case bad_cases[] = {
	{ "unknown key", "listen = *:110\nauth = file\nworkers_mx = 3\n",
	    "satchel.conf:3: unknown key 'workers_mx'" },
	{ "bad number", "listen = *:110\nauth = file\nworkers_max = 12x\n",
	    "satchel.conf:3: key 'workers_max': want a number" },
	{ "number out of range", "listen = *:110\nauth = file\n"
	    "timeout_session = 60\n", "satchel.conf:3: key 'timeout_session'" },
	{ "negative", "listen = *:110\nauth = file\nworkers_max = -1\n",
	    "satchel.conf:3: key 'workers_max'" },
	{ "no listen", "auth = file\n", "no 'listen' address" },
	{ "no auth", "listen = *:110\n", "key 'auth'" },
	{ "bad listen", "listen = 127.0.0.1\nauth = file\n",
	    "satchel.conf:1: key 'listen'" },
	{ "bad port", "listen = 127.0.0.1:70000\nauth = file\n",
	    "satchel.conf:1: key 'listen'" },
	{ "bad listen option", "listen = *:110 ssl\nauth = file\n",
	    "satchel.conf:1: key 'listen': unknown option 'ssl'" },
	{ "set twice", "listen = *:110\nauth = file\nchroot = /a\nchroot = /b\n",
	    "satchel.conf:4: key 'chroot': set twice (first at line 3)" },
	{ "no equals", "listen = *:110\nauth file\n",
	    "satchel.conf:2: expected 'key = value'" },
	{ "bad section", "listen = *:110\nauth = file\n[fi le]\n",
	    "satchel.conf:3: bad section name" },
	{ "bad bool", "listen = *:110\nauth = file\napop = maybe\n",
	    "satchel.conf:3: key 'apop': want yes or no" },
	{ "bad log level", "listen = *:110\nauth = file\nlog_level = loud\n",
	    "satchel.conf:3: key 'log_level'" },
	{ "min above max spare", "listen = *:110\nauth = file\n"
	    "workers_min_spare = 20\nworkers_max_spare = 10\n",
	    "satchel.conf:3: key 'workers_min_spare': 20 is above "
	    "workers_max_spare" },
	{ "bad facility", "listen = *:110\nauth = file\n"
	    "syslog_facility = kern2\n", "key 'syslog_facility'" },
	{ "tls listener without certificate", "listen = *:995 tls\n"
	    "auth = file\n", "key 'tls_cert'" },
	{ "tls_key without tls_cert", "listen = *:110\nauth = file\n"
	    "tls_key = /k\n", "key 'tls_key'" },
	{ "tls_key without tls_cert names its line", "listen = *:110\n"
	    "auth = file\ntls_key = /dev/null\n", "satchel.conf:3: key "
	    "'tls_key': tls_cert and tls_key go together" },
	{ "max_spare above max", "listen = *:110\nauth = file\n"
	    "workers_max = 10\n", "satchel.conf: key 'workers_max_spare': 32 "
	    "is above workers_max (10)" },
	{ "bad tls version", "listen = *:110\nauth = file\n"
	    "tls_min_version = SSLv3\n", "satchel.conf:3: key 'tls_min_version'" },
	{ "bad network", "listen = *:110\nauth = file\n"
	    "trusted_networks = 10.0.0.0/33\n",
	    "satchel.conf:3: key 'trusted_networks': '10.0.0.0/33'" },
	{ "bad sni", "listen = *:110\nauth = file\ntls_sni = a.b /c\n",
	    "satchel.conf:3: key 'tls_sni'" },
	{ "unknown sasl mechanism", "listen = *:110\nauth = file\n"
	    "sasl = PLAIN DIGEST-MD5\n", "unknown mechanism 'DIGEST-MD5'" },
	{ "long greeting", "listen = *:110\nauth = file\ngreeting = "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxx\n", "key 'greeting'" },
	{ "bad expire", "listen = *:110\nauth = file\nexpire = soon\n",
	    "key 'expire'" },
	/* every setter kind names the line and the key */
	{ "uint below min", "listen = *:110\nauth = file\n"
	    "workers_max = 0\n", "satchel.conf:3: key 'workers_max': want a "
	    "number from 1 to 100000, not '0'" },
	{ "uint above max", "listen = *:110\nauth = file\n"
	    "login_fail_max = 101\n", "satchel.conf:3: key 'login_fail_max': "
	    "want a number from 1 to 100, not '101'" },
	{ "ulong above max", "listen = *:110\nauth = file\n"
	    "first_valid_uid = 4294967296\n", "satchel.conf:3: key "
	    "'first_valid_uid': want a number from 0 to 4294967295" },
	{ "first_valid_gid not a number", "listen = *:110\nauth = file\n"
	    "first_valid_gid = wheel\n", "satchel.conf:3: key "
	    "'first_valid_gid': want a number" },
	{ "bool", "listen = *:110\nauth = file\n"
	    "disable_plaintext_auth = sometimes\n", "satchel.conf:3: key "
	    "'disable_plaintext_auth': want yes or no, not 'sometimes'" },
	{ "enum lists its words", "listen = *:110\nauth = file\n"
	    "log_level = loud\n", "satchel.conf:3: key 'log_level': want "
	    "error, warning, info or debug, not 'loud'" },
	{ "enum of two", "listen = *:110\nauth = file\n"
	    "tls_min_version = TLSv1.1\n", "satchel.conf:3: key "
	    "'tls_min_version': want TLSv1.2 or TLSv1.3, not 'TLSv1.1'" },
	{ "string length bound", "listen = *:110\nauth = file\ngreeting = "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxx\n", "satchel.conf:3: key 'greeting': longer than "
	    "200 characters" },
	{ "list: too many modules", "listen = *:110\n"
	    "auth = a b c d e f g h i\n", "satchel.conf:2: key 'auth': more "
	    "than 8 modules" },
	{ "list: empty", "listen = *:110\nauth =\n",
	    "satchel.conf:2: key 'auth': no auth module named" },
	{ "address: listen set twice is fine, a bad one is not",
	    "listen = *:110\nlisten = [::1:110\nauth = file\n",
	    "satchel.conf:2: key 'listen': want ADDRESS:PORT" },
	{ "expire line", "listen = *:110\nauth = file\nexpire = -1\n",
	    "satchel.conf:3: key 'expire': want NEVER or a number of days" },
	{ "sasl line", "listen = *:110\nauth = file\nsasl = PLAIN NTLM\n",
	    "satchel.conf:3: key 'sasl': unknown mechanism 'NTLM'" },
	{ "facility line", "listen = *:110\nauth = file\n"
	    "syslog_facility = mial\n", "satchel.conf:3: key "
	    "'syslog_facility': unknown facility 'mial'" },
	/* issue 13 item 6: what -t checks */
	{ "mail_location: unknown driver", "listen = *:110\nauth = file\n"
	    "mail_location = maildr:/var/vmail/%d/%n\n", "satchel.conf:3: key "
	    "'mail_location': unknown storage driver 'maildr' (known: maildir "
	    "mbox)" },
	{ "mail_location: no driver", "listen = *:110\nauth = file\n"
	    "mail_location = /var/vmail/%d/%n\n", "satchel.conf:3: key "
	    "'mail_location': want DRIVER:PATH" },
	{ "mail_location: empty driver", "listen = *:110\nauth = file\n"
	    "mail_location = :/var/vmail\n", "satchel.conf:3: key "
	    "'mail_location': unknown storage driver ''" },
	{ "mail_location: relative path", "listen = *:110\nauth = file\n"
	    "mail_location = maildir:var/vmail/%d/%n\n", "satchel.conf:3: key "
	    "'mail_location': path 'var/vmail/%d/%n' is not absolute" },
	{ "mail_location: unknown %-sequence", "listen = *:110\nauth = file\n"
	    "mail_location = mbox:/var/mail/%x\n", "satchel.conf:3: key "
	    "'mail_location': unknown %-sequence '%x'" },
	{ "mail_location: lone % at the end", "listen = *:110\n"
	    "auth = file\nmail_location = mbox:/var/mail/%\n",
	    "satchel.conf:3: key 'mail_location': unknown %-sequence '%'" },
	{ "chroot relative", "listen = *:110\nauth = file\n"
	    "chroot = var/empty\n", "satchel.conf:3: key 'chroot': "
	    "'var/empty' is not an absolute path" },
	{ "module_dir relative", "listen = *:110\nauth = file\n"
	    "module_dir = .libs\n", "satchel.conf:3: key 'module_dir': "
	    "'.libs' is not an absolute path" },
	{ "pidfile relative", "listen = *:110\nauth = file\n"
	    "pidfile = satcheld.pid\n", "satchel.conf:3: key 'pidfile': "
	    "'satcheld.pid' is not an absolute path" },
	{ "module_dir empty", "listen = *:110\nauth = file\nmodule_dir =\n",
	    "satchel.conf:3: key 'module_dir': '' is not an absolute path" },
	{ "tls_cert relative", "listen = *:110\nauth = file\n"
	    "tls_cert = cert.pem\ntls_key = /k\n", "satchel.conf:3: key "
	    "'tls_cert': 'cert.pem' is not an absolute path" },
	{ "tls_cert missing", "listen = *:110\nauth = file\n"
	    "tls_cert = /nonexistent/c.pem\n", "satchel.conf:3: key "
	    "'tls_cert': cannot read /nonexistent/c.pem: No such file or "
	    "directory" },
	{ "tls_cert a directory", "listen = *:110\nauth = file\n"
	    "tls_cert = /\n", "satchel.conf:3: key 'tls_cert': cannot read /: "
	    "Is a directory" },
	{ "tls_key missing", "listen = *:110\nauth = file\n"
	    "tls_key = /nonexistent/k.pem\n", "satchel.conf:3: key "
	    "'tls_key': cannot read /nonexistent/k.pem: No such file or "
	    "directory" },
	{ "tls_sni certificate missing", "listen = *:110\nauth = file\n"
	    "tls_sni = a.example /nonexistent/a.pem /nonexistent/a.key\n",
	    "satchel.conf:3: key 'tls_sni': cannot read /nonexistent/a.pem" },
	{ "tls_sni key relative", "listen = *:110\nauth = file\n"
	    "tls_sni = a.example /dev/null a.key\n", "satchel.conf:3: key "
	    "'tls_sni': key 'a.key' is not an absolute path" },
	{ "mail_uid unknown user", "listen = *:110\nauth = file\n"
	    "mail_uid = no-such-user-satchel\n", "satchel.conf:3: key "
	    "'mail_uid': unknown user 'no-such-user-satchel'" },
	{ "mail_gid unknown group", "listen = *:110\nauth = file\n"
	    "mail_gid = no-such-group-satchel\n", "satchel.conf:3: key "
	    "'mail_gid': unknown group 'no-such-group-satchel'" },
	{ "mail_uid out of range", "listen = *:110\nauth = file\n"
	    "mail_uid = 4294967295\n", "satchel.conf:3: key 'mail_uid': want "
	    "a number from 0 to 4294967294 or a user name" },
	{ "mail_gid: a name that starts with a digit is a name",
	    "listen = *:110\nauth = file\nmail_gid = 12no-such-group\n",
	    "satchel.conf:3: key 'mail_gid': unknown group '12no-such-group'" },
	{ "mail_uid empty", "listen = *:110\nauth = file\nmail_uid =\n",
	    "satchel.conf:3: key 'mail_uid': want a number or a user name, "
	    "not ''" },
};

/* ---- a module-style section through conf_table() ------------------ */

struct modconf {
	unsigned int	 count;
	uint64_t	 bytes;
	int		 strict;
	char		*label;
	char		*file;
	int		 mode;
	char		*opt_path;
};

static const struct satchel_conf_name mod_modes[] = {
	{ "fast", 1 }, { "safe", 2 }, { NULL, 0 }
};

static const struct satchel_conf_key mod_keys[] = {
	{ .key = "count", .kind = SATCHEL_CONF_UINT,
	  .off = offsetof(struct modconf, count), .min = 1, .max = 10,
	  .def = "5" },
	{ .key = "bytes", .kind = SATCHEL_CONF_U64,
	  .off = offsetof(struct modconf, bytes), .min = 0,
	  .max = UINT64_MAX / 2 },
	{ .key = "strict", .kind = SATCHEL_CONF_BOOL,
	  .off = offsetof(struct modconf, strict), .def = "yes" },
	{ .key = "label", .kind = SATCHEL_CONF_STRING,
	  .off = offsetof(struct modconf, label), .max = 8, .def = "none" },
	{ .key = "file", .kind = SATCHEL_CONF_PATH,
	  .off = offsetof(struct modconf, file),
	  .flags = SATCHEL_CONF_REQUIRED | SATCHEL_CONF_FILE },
	{ .key = "mode", .kind = SATCHEL_CONF_ENUM,
	  .off = offsetof(struct modconf, mode), .names = mod_modes,
	  .def = "safe" },
	{ .key = "opt_path", .kind = SATCHEL_CONF_PATH,
	  .off = offsetof(struct modconf, opt_path) },
	SATCHEL_CONF_KEYS_END
};

static int capture_saved = -1;

static void
capture_start(void)
{
	int fd;

	fflush(stderr);
	capture_saved = dup(2);
	fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
}

static void
capture_end(void)
{
	fflush(stderr);
	dup2(capture_saved, 2);
	close(capture_saved);
}

/* Parse the [mod] section of text with mod_keys, through the core. */
static int
mod_parse(const char *text, struct modconf *mc)
{
	const struct satchel_core *core = test_core();
	struct satchel_conf *sc;
	struct config *cf;
	int r;

	memset(mc, 0, sizeof(*mc));
	if ((cf = load(text)) == NULL)
		return -2;
	sc = conf_section(cf, "mod");
	capture_start();
	r = core->conf_table(sc, mod_keys, mc);
	capture_end();
	free(sc);
	conf_free(cf);
	return r;
}

struct mod_bad {
	const char	*label;
	const char	*section;	/* after "[mod]\n", from line 4 on */
	const char	*expect;
};

static const struct mod_bad mod_bad[] = {
	{ "uint below min", "file = /dev/null\ncount = 0\n",
	    "satchel.conf:5: key 'count' in [mod]: want a number from 1 to 10, "
	    "not '0'" },
	{ "uint above max", "file = /dev/null\ncount = 11\n",
	    "satchel.conf:5: key 'count' in [mod]: want a number from 1 to "
	    "10" },
	{ "uint junk", "file = /dev/null\ncount = 3s\n",
	    "satchel.conf:5: key 'count' in [mod]: want a number" },
	{ "u64 above max", "file = /dev/null\nbytes = 9223372036854775808\n",
	    "satchel.conf:5: key 'bytes' in [mod]: want a number from 0 to "
	    "9223372036854775807" },
	{ "bool", "file = /dev/null\nstrict = maybe\n",
	    "satchel.conf:5: key 'strict' in [mod]: want yes or no, not "
	    "'maybe'" },
	{ "string too long", "file = /dev/null\nlabel = ninechars\n",
	    "satchel.conf:5: key 'label' in [mod]: longer than 8 characters" },
	{ "path relative", "file = dev/null\n",
	    "satchel.conf:4: key 'file' in [mod]: 'dev/null' is not an "
	    "absolute path" },
	{ "path unreadable", "file = /nonexistent/x\n",
	    "satchel.conf:4: key 'file' in [mod]: cannot read /nonexistent/x: "
	    "No such file or directory" },
	{ "enum", "file = /dev/null\nmode = quick\n",
	    "satchel.conf:5: key 'mode' in [mod]: want fast or safe, not "
	    "'quick'" },
	{ "required", "count = 2\n",
	    "satchel.conf: key 'file' in [mod]: required, not set" },
	{ "set twice", "file = /dev/null\ncount = 2\ncount = 3\n",
	    "satchel.conf:6: key 'count' in [mod]: set twice (first at line "
	    "5)" },
	{ "optional path still absolute", "file = /dev/null\n"
	    "opt_path = x\n", "satchel.conf:5: key 'opt_path' in [mod]: 'x' "
	    "is not an absolute path" },
};

static const char *restart_seen[8];
static size_t nrestart_seen;

static void
restart_report(const char *key)
{
	if (nrestart_seen < 8)
		restart_seen[nrestart_seen++] = key;
}

int
main(void)
{
	struct config *cf;
	size_t i;
	uint64_t v;
	int b;

	TEST_START("defaults");
	cf = load(minimal);
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		ASSERT_INT_EQ(cf->nlisten, 1);
		ASSERT_STR_EQ(cf->listen[0].host, "127.0.0.1");
		ASSERT_STR_EQ(cf->listen[0].port, "1110");
		ASSERT_INT_EQ(cf->listen[0].tls, 0);
		ASSERT_STR_EQ(cf->worker_user, "satchel");
		ASSERT_INT_EQ(cf->workers_min_spare, 8);
		ASSERT_INT_EQ(cf->workers_max, 256);
		ASSERT_INT_EQ(cf->worker_max_sessions, 1);
		ASSERT_INT_EQ(cf->timeout_session, 600);
		ASSERT_INT_EQ(cf->apop, 0);
		ASSERT_INT_EQ(cf->nauth, 1);
		ASSERT_STR_EQ(cf->auth[0], "file");
		ASSERT_INT_EQ(cf->mail_uid, -1);
		ASSERT_INT_EQ(cf->tls_min_version, 12);
		ASSERT_STR_EQ(cf->pidfile, "/run/satcheld.pid");
		{
			struct sockaddr_in a4;
			struct sockaddr_in6 a6;

			memset(&a4, 0, sizeof(a4));
			a4.sin_family = AF_INET;
			inet_pton(AF_INET, "127.0.0.2", &a4.sin_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a4), 1);
			inet_pton(AF_INET, "192.0.2.1", &a4.sin_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a4), 0);
			memset(&a6, 0, sizeof(a6));
			a6.sin6_family = AF_INET6;
			inet_pton(AF_INET6, "::1", &a6.sin6_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a6), 1);
		}
		conf_free(cf);
	}
	TEST_DONE();

	TEST_START("values and listeners");
	/* Offline: /c.pem and the others are names, not files, here. */
	cf = load_flags("# comment\n\n  listen = [::1]:995 tls  \n"
	    "listen = *:110\n"
	    "listen = 10.0.0.1:1110\nauth = file, mysql\n"
	    "workers_max = 1000\nmail_uid = 5000\nlog_level = debug\n"
	    "apop = yes\nexpire = NEVER\ngreeting = Hello there = friend\n"
	    "tls_cert = /c.pem\ntls_key = /k.pem\ntls_min_version = TLSv1.3\n"
	    "tls_sni = mail.example.org /m.pem /m.key\n"
	    "trusted_networks = 10.1.0.0/16 2001:db8::/32 192.0.2.7\n"
	    "sasl = PLAIN SCRAM-SHA-256\n"
	    "[file]\npath = /etc/satchel/users\n", CONF_LOAD_OFFLINE);
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		ASSERT_INT_EQ(cf->nlisten, 3);
		ASSERT_STR_EQ(cf->listen[0].host, "::1");
		ASSERT_STR_EQ(cf->listen[0].port, "995");
		ASSERT_INT_EQ(cf->listen[0].tls, 1);
		ASSERT_STR_EQ(cf->listen[1].host, "");
		ASSERT_STR_EQ(cf->listen[2].host, "10.0.0.1");
		ASSERT_INT_EQ(cf->nauth, 2);
		ASSERT_STR_EQ(cf->auth[1], "mysql");
		ASSERT_INT_EQ(cf->workers_max, 1000);
		ASSERT_INT_EQ(cf->mail_uid, 5000);
		ASSERT_INT_EQ(cf->log_level, SATCHEL_LOG_DEBUG);
		ASSERT_INT_EQ(cf->apop, 1);
		ASSERT_STR_EQ(cf->expire, "NEVER");
		ASSERT_STR_EQ(cf->greeting, "Hello there = friend");
		ASSERT_INT_EQ(cf->tls_min_version, 13);
		ASSERT_INT_EQ(cf->ntls_sni, 1);
		ASSERT_STR_EQ(cf->tls_sni[0].name, "mail.example.org");
		ASSERT_STR_EQ(cf->tls_sni[0].key, "/m.key");
		ASSERT_STR_EQ(cf->sasl, "PLAIN SCRAM-SHA-256");
		ASSERT_INT_EQ(cf->disable_plaintext_auth, 1);
		ASSERT_INT_EQ(cf->ntrusted, 3);
		{
			struct sockaddr_in a4;
			struct sockaddr_in6 a6;

			memset(&a4, 0, sizeof(a4));
			a4.sin_family = AF_INET;
			inet_pton(AF_INET, "10.1.200.3", &a4.sin_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a4), 1);
			inet_pton(AF_INET, "10.2.0.1", &a4.sin_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a4), 0);
			inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a4), 1);
			inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a4), 0);
			memset(&a6, 0, sizeof(a6));
			a6.sin6_family = AF_INET6;
			inet_pton(AF_INET6, "2001:db8:1::5", &a6.sin6_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a6), 1);
			inet_pton(AF_INET6, "::ffff:10.1.0.9", &a6.sin6_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a6), 1);
			inet_pton(AF_INET6, "2001:db9::1", &a6.sin6_addr);
			ASSERT_INT_EQ(conf_trusted(cf,
			    (struct sockaddr *)&a6), 0);
		}
		ASSERT_STR_EQ(conf_get(cf, "file", "path"),
		    "/etc/satchel/users");
		ASSERT_TRUE(conf_get(cf, "file", "nope") == NULL);
		ASSERT_INT_EQ(conf_check_unused(cf), 0);
		conf_free(cf);
	}
	TEST_DONE();

	TEST_START("unused module key is reported with its line");
	cf = load("listen = *:110\nauth = file\n[file]\npath = /x\n"
	    "paht = /y\n");
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		int saved = dup(2), fd;

		(void)conf_get(cf, "file", "path");
		fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		close(fd);
		ASSERT_INT_EQ(conf_check_unused(cf), 1);
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		ASSERT_TRUE(log_has("satchel.conf:5: unknown key 'paht' in "
		    "[file]"));
		conf_free(cf);
	}
	TEST_DONE();

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		TEST_START(bad_cases[i].label);
		cf = load(bad_cases[i].text);
		ASSERT_TRUE(cf == NULL);
		conf_free(cf);
		ASSERT_TRUE(log_has(bad_cases[i].expect));
		TEST_DONE();
	}

	TEST_START("missing file names the file");
	cf = conf_load("/nonexistent/satchel.conf");
	ASSERT_TRUE(cf == NULL);
	TEST_DONE();

	TEST_START("strict number and boolean parsers");
	ASSERT_INT_EQ(conf_parse_uint("42", 0, 100, &v), 0);
	ASSERT_U64_EQ(v, 42);
	ASSERT_INT_EQ(conf_parse_uint("", 0, 100, &v), -1);
	ASSERT_INT_EQ(conf_parse_uint(" 1", 0, 100, &v), -1);
	ASSERT_INT_EQ(conf_parse_uint("1 ", 0, 100, &v), -1);
	ASSERT_INT_EQ(conf_parse_uint("+1", 0, 100, &v), -1);
	ASSERT_INT_EQ(conf_parse_uint("101", 0, 100, &v), -1);
	ASSERT_INT_EQ(conf_parse_uint("99999999999999999999", 0, UINT64_MAX,
	    &v), -1);
	ASSERT_INT_EQ(conf_parse_bool("yes", &b), 0);
	ASSERT_INT_EQ(b, 1);
	ASSERT_INT_EQ(conf_parse_bool("off", &b), 0);
	ASSERT_INT_EQ(b, 0);
	ASSERT_INT_EQ(conf_parse_bool("Yes!", &b), -1);
	TEST_DONE();

	TEST_START("new defaults: first_valid_gid, paths, names");
	cf = load(minimal);
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		ASSERT_U64_EQ(cf->first_valid_uid, 100);
		ASSERT_U64_EQ(cf->first_valid_gid, 1);
		ASSERT_INT_EQ(cf->mail_gid, -1);
		ASSERT_STR_EQ(cf->module_dir, SATCHEL_MODULE_DIR);
		ASSERT_STR_EQ(cf->syslog_facility, "mail");
		ASSERT_STR_EQ(cf->chroot, "");
		ASSERT_STR_EQ(cf->tls_cert, "");
		ASSERT_STR_EQ(cf->mail_location, "");
		ASSERT_STR_EQ(cf->sasl, "PLAIN LOGIN");
		ASSERT_INT_EQ(cf->log_level, SATCHEL_LOG_INFO);
		ASSERT_INT_EQ(cf->disable_plaintext_auth, 1);
		ASSERT_INT_EQ(cf->tls_ticket_rotate, 3600);
		ASSERT_INT_EQ(cf->ntrusted, 2);
		conf_free(cf);
	}
	TEST_DONE();

	TEST_START("mail_uid and mail_gid by name, bounds at the edge");
	{
		char text[4096], cert[600], key[600];

		snprintf(cert, sizeof(cert), "%s/c.pem", test_tmpdir());
		snprintf(key, sizeof(key), "%s/k.pem", test_tmpdir());
		test_write_file(cert, "x\n", 2);
		test_write_file(key, "x\n", 2);
		snprintf(text, sizeof(text), "listen = *:995 tls\n"
		    "auth = file\nmail_uid = root\nmail_gid = root\n"
		    "first_valid_uid = 4294967295\nfirst_valid_gid = 0\n"
		    "workers_max = 100000\nworkers_min_spare = 0\n"
		    "mail_location = maildir:%%h/Maildir\n"
		    "chroot = /var/empty\npidfile = /tmp/x.pid\n"
		    "tls_cert = %s\ntls_key = %s\n"
		    "tls_sni = b.example %s %s\n", cert, key, cert, key);
		cf = load(text);
		ASSERT_TRUE(cf != NULL);
		if (cf != NULL) {
			ASSERT_INT_EQ(cf->mail_uid, 0);
			ASSERT_INT_EQ(cf->mail_gid, 0);
			ASSERT_U64_EQ(cf->first_valid_uid, 4294967295ULL);
			ASSERT_U64_EQ(cf->first_valid_gid, 0);
			ASSERT_INT_EQ(cf->workers_max, 100000);
			ASSERT_INT_EQ(cf->workers_min_spare, 0);
			ASSERT_STR_EQ(cf->mail_location, "maildir:%h/Maildir");
			ASSERT_STR_EQ(cf->tls_cert, cert);
			ASSERT_STR_EQ(cf->tls_sni[0].cert, cert);
			conf_free(cf);
		}
	}
	cf = load("listen = *:110\nauth = file\nmail_uid = 0\n"
	    "mail_gid = 4294967294\n"
	    "mail_location = mbox:/var/mail/%u%%%n@%d\n");
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		ASSERT_INT_EQ(cf->mail_uid, 0);
		ASSERT_INT_EQ(cf->mail_gid, 4294967294LL);
		conf_free(cf);
	}
	/* An empty pidfile means none (satchel.conf(5)); chroot too. */
	cf = load("listen = *:110\nauth = file\npidfile =\nchroot =\n");
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		ASSERT_STR_EQ(cf->pidfile, "");
		ASSERT_STR_EQ(cf->chroot, "");
		conf_free(cf);
	}
	TEST_DONE();

	TEST_START("conf_load_mem: offline, empty, NUL, no final newline");
	{
		static const char mem[] = "listen = *:110\nauth = file\n"
		    "mail_uid = no-such-user-satchel\n"
		    "tls_cert = /nonexistent/c\ntls_key = /nonexistent/k";

		cf = conf_load_mem("mem.conf", mem, sizeof(mem) - 1,
		    CONF_LOAD_OFFLINE);
	}
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		ASSERT_INT_EQ(cf->mail_uid, -1);
		ASSERT_STR_EQ(cf->tls_key, "/nonexistent/k");
		ASSERT_STR_EQ(cf->path, "mem.conf");
		conf_free(cf);
	}
	capture_start();
	cf = conf_load_mem("mem.conf", "", 0, CONF_LOAD_OFFLINE);
	capture_end();
	ASSERT_TRUE(cf == NULL);
	ASSERT_TRUE(log_has("mem.conf: no 'listen' address"));
	capture_start();
	{
		static const char mem[] = "listen = *:110\nauth = fi\0le\n";

		cf = conf_load_mem("mem.conf", mem, sizeof(mem) - 1,
		    CONF_LOAD_OFFLINE);
	}
	capture_end();
	ASSERT_TRUE(cf == NULL);
	ASSERT_TRUE(log_has("mem.conf:2: NUL byte in line"));
	conf_free(cf);
	TEST_DONE();

	TEST_START("module section through core->conf_table");
	{
		struct modconf mc;
		const struct satchel_core *core = test_core();

		ASSERT_TRUE(SATCHEL_CORE_HAS(core, conf_table));
		ASSERT_INT_EQ(mod_parse("listen = *:110\nauth = file\n[mod]\n"
		    "file = /dev/null\ncount = 10\n"
		    "bytes = 9223372036854775807\n"
		    "strict = off\nlabel = eight888\nmode = fast\n"
		    "other = left for conf_get\n", &mc), 0);
		ASSERT_INT_EQ(mc.count, 10);
		ASSERT_U64_EQ(mc.bytes, UINT64_MAX / 2);
		ASSERT_INT_EQ(mc.strict, 0);
		ASSERT_STR_EQ(mc.label, "eight888");
		ASSERT_STR_EQ(mc.file, "/dev/null");
		ASSERT_INT_EQ(mc.mode, 1);
		ASSERT_TRUE(mc.opt_path == NULL);
		satchel_conf_table_free(mod_keys, &mc);
		ASSERT_TRUE(mc.label == NULL && mc.file == NULL);

		/* defaults */
		ASSERT_INT_EQ(mod_parse("listen = *:110\nauth = file\n[mod]\n"
		    "file = /dev/null\n", &mc), 0);
		ASSERT_INT_EQ(mc.count, 5);
		ASSERT_U64_EQ(mc.bytes, 0);
		ASSERT_INT_EQ(mc.strict, 1);
		ASSERT_STR_EQ(mc.label, "none");
		ASSERT_INT_EQ(mc.mode, 2);
		satchel_conf_table_free(mod_keys, &mc);
	}
	TEST_DONE();

	TEST_START("module section: an unknown key is left to "
	    "conf_check_unused");
	{
		const struct satchel_core *core = test_core();
		struct satchel_conf *sc;
		struct modconf mc;

		cf = load("listen = *:110\nauth = file\n[mod]\n"
		    "file = /dev/null\ncuont = 3\n");
		ASSERT_TRUE(cf != NULL);
		if (cf != NULL) {
			memset(&mc, 0, sizeof(mc));
			sc = conf_section(cf, "mod");
			capture_start();
			ASSERT_INT_EQ(core->conf_table(sc, mod_keys, &mc), 0);
			ASSERT_INT_EQ(conf_check_unused(cf), 1);
			capture_end();
			ASSERT_TRUE(log_has("satchel.conf:5: unknown key "
			    "'cuont' in [mod]"));
			satchel_conf_table_free(mod_keys, &mc);
			free(sc);
			conf_free(cf);
		}
	}
	TEST_DONE();

	for (i = 0; i < sizeof(mod_bad) / sizeof(mod_bad[0]); i++) {
		char text[1024];
		struct modconf mc;

		TEST_START(mod_bad[i].label);
		snprintf(text, sizeof(text), "listen = *:110\nauth = file\n"
		    "[mod]\n%s", mod_bad[i].section);
		ASSERT_INT_EQ(mod_parse(text, &mc), -1);
		ASSERT_TRUE(log_has(mod_bad[i].expect));
		satchel_conf_table_free(mod_keys, &mc);
		TEST_DONE();
	}

	TEST_START("a module table cannot use the core's own kinds");
	{
		static const struct satchel_conf_key evil[] = {
			{ .key = "listen", .kind = 35, .off = 0 },
			SATCHEL_CONF_KEYS_END
		};
		static const struct satchel_conf_key noname[] = {
			{ .key = "mode", .kind = SATCHEL_CONF_ENUM, .off = 0 },
			SATCHEL_CONF_KEYS_END
		};
		int dummy[64];

		cf = load("listen = *:110\nauth = file\n[mod]\nlisten = x\n");
		ASSERT_TRUE(cf != NULL);
		if (cf != NULL) {
			capture_start();
			ASSERT_INT_EQ(conf_table(cf, "mod", evil, dummy), -1);
			ASSERT_INT_EQ(conf_table(cf, "mod", noname, dummy), -1);
			capture_end();
			ASSERT_TRUE(log_has("key 'listen' in [mod]: bad key "
			    "table"));
			ASSERT_INT_EQ(cf->nlisten, 1);
			conf_free(cf);
		}
	}
	TEST_DONE();

	TEST_START("conf_restart_changed names what a reload cannot apply");
	{
		struct config *a, *c2;

		a = load("listen = *:110\nauth = file\nworkers_max = 100\n"
		    "greeting = one\n");
		c2 = load("listen = *:110\nauth = file\nworkers_max = 50\n"
		    "greeting = two\nworker_user = nobody\n");
		ASSERT_TRUE(a != NULL && c2 != NULL);
		if (a != NULL && c2 != NULL) {
			nrestart_seen = 0;
			/* lowering workers_max and other keys: nothing */
			ASSERT_INT_EQ(conf_restart_changed(a, c2,
			    restart_report), 0);
			ASSERT_INT_EQ(conf_restart_changed(a, a,
			    restart_report), 0);
			/* raising it is */
			ASSERT_INT_EQ(conf_restart_changed(c2, a,
			    restart_report), 1);
			ASSERT_STR_EQ(restart_seen[0], "workers_max");
		}
		conf_free(a);
		conf_free(c2);
		a = load("listen = *:110\nauth = file\n");
		c2 = load("listen = *:111\nauth = file\npidfile = /run/x.pid\n"
		    "syslog_facility = local3\n");
		ASSERT_TRUE(a != NULL && c2 != NULL);
		if (a != NULL && c2 != NULL) {
			nrestart_seen = 0;
			ASSERT_INT_EQ(conf_restart_changed(a, c2,
			    restart_report), 3);
			ASSERT_STR_EQ(restart_seen[0], "listen");
			ASSERT_STR_EQ(restart_seen[1], "pidfile");
			ASSERT_STR_EQ(restart_seen[2], "syslog_facility");
			capture_start();
			ASSERT_INT_EQ(conf_restart_changed(a, c2,
			    conf_restart_log), 3);
			capture_end();
			ASSERT_TRUE(log_has("'listen' changed: restart "
			    "satcheld to apply it"));
		}
		conf_free(a);
		conf_free(c2);
		/* one more listener is a change too */
		a = load("listen = *:110\nauth = file\n");
		c2 = load("listen = *:110\nlisten = *:995\nauth = file\n");
		if (a != NULL && c2 != NULL) {
			nrestart_seen = 0;
			ASSERT_INT_EQ(conf_restart_changed(a, c2,
			    restart_report), 1);
		}
		conf_free(a);
		conf_free(c2);
	}
	TEST_DONE();

	/* issue 13: satchelctl config and the control socket's path */
	TEST_START("conf_dump: -n, defaults, secrets masked; control path");
	{
		static const char mem[] = "listen = *:110\nauth = mysql\n"
		    "login_fail_max = 3\nlock_conflict = takeover\n"
		    "pidfile = /run/satchel/satcheld.pid\n"
		    "[mysql]\npassword = s3cret\n"
		    "password_file = /etc/satchel/db.pw\nuser = satchel\n";
		char p[256];

		cf = conf_load_mem("mem.conf", mem, sizeof(mem) - 1,
		    CONF_LOAD_OFFLINE);
		ASSERT_TRUE(cf != NULL);
		if (cf != NULL) {
			dump_len = 0;
			dump_buf[0] = '\0';
			conf_dump(cf, 1, dump_line, NULL);
			ASSERT_TRUE(strstr(dump_buf, "lock_conflict = takeover\n")
			    != NULL);
			/* set to its default: not in -n */
			ASSERT_TRUE(strstr(dump_buf, "login_fail_max") == NULL);
			ASSERT_TRUE(strstr(dump_buf, "workers_max") == NULL);
			ASSERT_TRUE(strstr(dump_buf, "[mysql]\n") != NULL);
			ASSERT_TRUE(strstr(dump_buf, "s3cret") == NULL);
			ASSERT_TRUE(strstr(dump_buf, "password = ********\n")
			    != NULL);
			ASSERT_TRUE(strstr(dump_buf, "password_file = "
			    "/etc/satchel/db.pw\n") != NULL);
			dump_len = 0;
			dump_buf[0] = '\0';
			conf_dump(cf, 0, dump_line, NULL);
			ASSERT_TRUE(strstr(dump_buf, "workers_max = 256\n") !=
			    NULL);
			ASSERT_TRUE(strstr(dump_buf, "auth_verbose = no\n") !=
			    NULL);
			ASSERT_TRUE(strstr(dump_buf, "s3cret") == NULL);
			ASSERT_INT_EQ(conf_control_path(cf, p, sizeof(p)), 0);
			ASSERT_STR_EQ(p, "/run/satchel/satcheld.ctl");
			ASSERT_INT_EQ(conf_control_path(cf, p, 10), -1);
			conf_free(cf);
		}
		{
			static const char m2[] = "listen = *:110\n"
			    "auth = file\ncontrol_socket = /tmp/x.sock\n";

			cf = conf_load_mem("mem.conf", m2, sizeof(m2) - 1,
			    CONF_LOAD_OFFLINE);
		}
		ASSERT_TRUE(cf != NULL);
		if (cf != NULL) {
			ASSERT_INT_EQ(conf_control_path(cf, p, sizeof(p)), 0);
			ASSERT_STR_EQ(p, "/tmp/x.sock");
			conf_free(cf);
		}
	}
	TEST_DONE();

	return test_summary();
}
