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
	    "key 'workers_min_spare': 20 is above workers_max_spare" },
	{ "bad facility", "listen = *:110\nauth = file\n"
	    "syslog_facility = kern2\n", "key 'syslog_facility'" },
	{ "tls listener without certificate", "listen = *:995 tls\n"
	    "auth = file\n", "key 'tls_cert'" },
	{ "tls_key without tls_cert", "listen = *:110\nauth = file\n"
	    "tls_key = /k\n", "key 'tls_key'" },
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
};

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
	cf = load_flags("# comment\n\n  listen = [::1]:995 tls  \nlisten = *:110\n"
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

	return test_summary();
}
