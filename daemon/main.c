/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * main.c -- satcheld: options, config check, start.  Runs as root (or as
 * an ordinary user for development, without privilege separation).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "compat/poison.h"

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: satcheld [-dFhtv] [-c config]\n"
	    "  -c FILE  configuration file (default %s/satchel/satchel.conf)\n"
	    "  -d       debug logging\n"
	    "  -F       stay in the foreground and log to stderr\n"
	    "  -t       check the configuration and modules, then exit\n"
	    "  -v       print the version\n", SATCHEL_SYSCONFDIR);
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *path = SATCHEL_SYSCONFDIR "/satchel/satchel.conf";
	struct satcheld *s;
	int ch, foreground = 0, test = 0, debug = 0;

	/*
	 * Whatever started us may have left descriptors open (a shell's,
	 * a supervisor's pipe, a test harness's socket): none of them may
	 * reach a worker or an agent.  Keep stdin, stdout and stderr only,
	 * and make sure those three exist, so that no socket or file we
	 * open later lands on 0..2.
	 */
	(void)close_range(3, ~0U, 0);
	for (ch = 0; ch < 3; ch++)
		if (fcntl(ch, F_GETFD) == -1 &&
		    open("/dev/null", ch == 0 ? O_RDONLY : O_WRONLY) == -1)
			return 1;

	while ((ch = getopt(argc, argv, "c:dFhtv")) != -1) {
		switch (ch) {
		case 'c':
			/* A copy: the process title overwrites argv. */
			if ((path = strdup(optarg)) == NULL) {
				perror("satcheld");
				return 1;
			}
			break;
		case 'd':
			debug = 1;
			break;
		case 'F':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'v':
			printf("satcheld %s (module ABI %d.%d)\n",
			    PACKAGE_VERSION, SATCHEL_ABI_MAJOR,
			    SATCHEL_ABI_MINOR);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/* Messages go to stderr until the config says otherwise. */
	log_init(1, "mail", 0);
	if (debug)
		log_setlevel(SATCHEL_LOG_DEBUG);
	compat_init_setproctitle(argc, argv);
	if ((s = master_configure(path, foreground)) == NULL) {
		fprintf(stderr, "satcheld: %s: configuration not usable\n",
		    path);
		return 1;
	}
	if (test) {
		printf("satcheld: %s: configuration OK\n", path);
		return 0;
	}
	s->debug = debug;
	if (!foreground)
		log_init(0, s->cf->syslog_facility, 0);
	log_setlevel(debug ? SATCHEL_LOG_DEBUG : s->cf->log_level);
	if (!s->privileged)
		log_warnx("not running as root: privilege separation is off "
		    "(development mode)");
	setproctitle_fmt("satcheld: master");
	return master_run(s);
}
