/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_sandbox.c -- the seccomp allow-lists of the worker and the agent,
 * for real: each case forks a child that installs a sandbox and then
 * makes one call; a forbidden call must kill the child with SIGSYS, an
 * allowed one must work (the child exits 0 only if the call gave the
 * expected result).  Also: the bounding set is empty after
 * sandbox_caps_drop(), and SANDBOX_LOG names the forbidden call.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "satchel/module.h"
#include "log.h"
#include "sandbox.h"
#include "test.h"

enum role { WORKER, AGENT };
enum act {
	A_NOTHING, A_IO, A_MALLOC, A_UNIX_SEQPACKET, A_UNIX_DGRAM,
	A_EXECVE, A_OPENAT, A_OPEN_RDONLY, A_SOCKET_INET, A_SOCKET_INET6,
	A_FORK, A_MMAP_EXEC, A_MPROTECT_EXEC, A_PRCTL_DUMPABLE, A_PTRACE,
	A_KILL_OTHER, A_SETUID, A_I386, A_AGENT_FILES, A_BIND, A_SENDFILE,
	A_SETPROCTITLE, A_RAISE,
};

static const struct {
	const char	*label;
	enum role	 role;
	enum act	 act;
	int		 sig;	/* 0: must exit 0 */
} cases[] = {
	{ "worker: install only", WORKER, A_NOTHING, 0 },
	{ "worker: pipe I/O, poll, time, getrandom", WORKER, A_IO, 0 },
	{ "worker: malloc of 16 MiB (mmap, munmap)", WORKER, A_MALLOC, 0 },
	{ "worker: sendfile of a held file (RETR zero-copy)", WORKER,
	    A_SENDFILE, 0 },
	{ "worker: socket AF_UNIX SOCK_SEQPACKET", WORKER, A_UNIX_SEQPACKET,
	    0 },
	{ "worker: socket AF_UNIX SOCK_DGRAM is EACCES", WORKER,
	    A_UNIX_DGRAM, 0 },
	{ "worker: prctl PR_SET_NAME", WORKER, A_SETPROCTITLE, 0 },
	{ "worker: raise(SIGTERM) dies by SIGTERM", WORKER, A_RAISE,
	    SIGTERM },
	{ "worker: execve", WORKER, A_EXECVE, SIGSYS },
	{ "worker: openat of a path", WORKER, A_OPENAT, SIGSYS },
	{ "worker: open O_RDONLY of a path", WORKER, A_OPEN_RDONLY, SIGSYS },
	{ "worker: socket AF_INET", WORKER, A_SOCKET_INET, SIGSYS },
	{ "worker: socket AF_INET6", WORKER, A_SOCKET_INET6, SIGSYS },
	{ "worker: bind", WORKER, A_BIND, SIGSYS },
	{ "worker: fork", WORKER, A_FORK, SIGSYS },
	{ "worker: mmap PROT_EXEC", WORKER, A_MMAP_EXEC, SIGSYS },
	{ "worker: mprotect PROT_EXEC", WORKER, A_MPROTECT_EXEC, SIGSYS },
	{ "worker: prctl PR_SET_DUMPABLE", WORKER, A_PRCTL_DUMPABLE, SIGSYS },
	{ "worker: ptrace", WORKER, A_PTRACE, SIGSYS },
	{ "worker: kill another process", WORKER, A_KILL_OTHER, SIGSYS },
	{ "worker: setuid", WORKER, A_SETUID, SIGSYS },
	{ "worker: agent's file calls", WORKER, A_AGENT_FILES, SIGSYS },
#if defined(__x86_64__)
	{ "worker: i386 system call (int 0x80)", WORKER, A_I386, SIGSYS },
#endif
	{ "agent: install only", AGENT, A_NOTHING, 0 },
	{ "agent: pipe I/O, poll, time, getrandom", AGENT, A_IO, 0 },
	{ "agent: malloc of 16 MiB", AGENT, A_MALLOC, 0 },
	{ "agent: open, write, stat, rename, link, unlink, mkdir, readdir",
	    AGENT, A_AGENT_FILES, 0 },
	{ "agent: open O_RDONLY of a path", AGENT, A_OPEN_RDONLY, 0 },
	{ "agent: socket AF_UNIX SOCK_DGRAM is EACCES", AGENT, A_UNIX_DGRAM,
	    0 },
	{ "agent: execve", AGENT, A_EXECVE, SIGSYS },
	{ "agent: sendfile", AGENT, A_SENDFILE, SIGSYS },
	{ "agent: socket AF_INET", AGENT, A_SOCKET_INET, SIGSYS },
	{ "agent: socket AF_UNIX SOCK_SEQPACKET", AGENT, A_UNIX_SEQPACKET,
	    SIGSYS },
	{ "agent: bind", AGENT, A_BIND, SIGSYS },
	{ "agent: fork", AGENT, A_FORK, SIGSYS },
	{ "agent: mmap PROT_EXEC", AGENT, A_MMAP_EXEC, SIGSYS },
	{ "agent: ptrace", AGENT, A_PTRACE, SIGSYS },
	{ "agent: setuid", AGENT, A_SETUID, SIGSYS },
#if defined(__x86_64__)
	{ "agent: i386 system call (int 0x80)", AGENT, A_I386, SIGSYS },
#endif
};

static char dir[512];

/* Run in the sandboxed child: 0 if the call gave the expected result. */
static int
act(enum act a)
{
	char path[600], path2[600], buf[64];
	char *const argv[] = { "/bin/true", NULL };
	struct pollfd pfd;
	struct timespec ts;
	struct stat st;
	struct sockaddr_in sin;
	char *p;
	int fd, p2[2], i;

	switch (a) {
	case A_NOTHING:
		return 0;
	case A_IO:
		if (pipe(p2) == -1)	/* pipe is not allowed: make it first */
			return 1;
		return 2;
	case A_SENDFILE:	/* act_sendfile */
		return 2;
	case A_MALLOC:
		if ((p = malloc(16 << 20)) == NULL)
			return 1;
		memset(p, 1, 16 << 20);
		free(p);
		return 0;
	case A_UNIX_SEQPACKET:
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		return fd == -1;
	case A_UNIX_DGRAM:
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		return !(fd == -1 && errno == EACCES);
	case A_SETPROCTITLE:
		return prctl(PR_SET_NAME, "satcheld-test", 0, 0, 0) != 0;
	case A_RAISE:
		raise(SIGTERM);
		return 1;
	case A_EXECVE:
		execve(argv[0], argv, NULL);
		return 1;
	case A_OPENAT:
		fd = openat(AT_FDCWD, "/etc/passwd", O_RDONLY);
		return 1;
	case A_OPEN_RDONLY:
		snprintf(path, sizeof(path), "%s/ro", dir);
		if ((fd = open(path, O_RDONLY)) == -1)
			return 1;
		return read(fd, buf, sizeof(buf)) != 2;
	case A_SOCKET_INET:
		fd = socket(AF_INET, SOCK_STREAM, 0);
		return 1;
	case A_SOCKET_INET6:
		fd = socket(AF_INET6, SOCK_DGRAM, 0);
		return 1;
	case A_BIND:
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		(void)bind(0, (struct sockaddr *)&sin, sizeof(sin));
		return 1;
	case A_FORK:
		if (fork() == 0)
			_exit(0);
		return 1;
	case A_MMAP_EXEC:
		p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return 1;
	case A_MPROTECT_EXEC:
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 2;
		(void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
		return 1;
	case A_PRCTL_DUMPABLE:
		(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		return 1;
	case A_PTRACE:
		(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		return 1;
	case A_KILL_OTHER:
		(void)kill(1, 0);
		return 1;
	case A_SETUID:
		if (setuid(getuid()) == -1)
			return 2;
		return 1;
	case A_I386:
#if defined(__x86_64__)
		i = 20;		/* getpid on i386 */
		__asm__ volatile("int $0x80" : "+a"(i) : : "memory");
#endif
		return 1;
	case A_AGENT_FILES:
		snprintf(path, sizeof(path), "%s/new", dir);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1
		    || write(fd, "hi", 2) != 2 || fsync(fd) == -1 ||
		    fstat(fd, &st) == -1 || st.st_size != 2 ||
		    ftruncate(fd, 1) == -1 || close(fd) == -1)
			return 1;
		snprintf(path2, sizeof(path2), "%s/renamed", dir);
		if (rename(path, path2) == -1 || link(path2, path) == -1 ||
		    unlink(path) == -1 || unlink(path2) == -1 ||
		    stat(dir, &st) == -1 || lstat(dir, &st) == -1)
			return 2;
		snprintf(path, sizeof(path), "%s/sub", dir);
		if (mkdir(path, 0700) == -1 || rmdir(path) == -1)
			return 3;
		return 0;
	}
	(void)i;
	(void)pfd;
	(void)ts;
	return 9;
}

/* A_IO needs a pipe made before the filter: run it here. */
static int
act_io(int p2[2])
{
	struct pollfd pfd;
	struct timespec ts;
	unsigned char rnd[16];
	char buf[8];

	if (write(p2[1], "x", 1) != 1)
		return 1;
	pfd.fd = p2[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 1000) != 1 || read(p2[0], buf, sizeof(buf)) != 1)
		return 2;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 ||
	    clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 3;
	ts.tv_sec = 0;
	ts.tv_nsec = 1000;
	if (nanosleep(&ts, NULL) == -1)
		return 4;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return 5;
	if (getpid() <= 0 || fcntl(p2[0], F_SETFL, O_NONBLOCK) == -1)
		return 6;
	return 0;
}

/* A_SENDFILE: the file fd was opened before the filter. */
static int
act_sendfile(int fd, int p2[2])
{
	char buf[8];
	off_t off = 0;

	if (fd == -1)
		return 3;
	if (sendfile(p2[1], fd, &off, 2) != 2 || off != 2)
		return 1;
	if (read(p2[0], buf, sizeof(buf)) != 2 || memcmp(buf, "ro", 2) != 0)
		return 2;
	return 0;
}

/* Can this kernel run an i386 call at all (ia32 emulation)? */
static int
i386_available(void)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0)
		_exit(act(A_I386) == 1 ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Fork, sandbox, act; returns the wait status. */
static int
run(enum role role, enum act a, int flags, int errfd)
{
	pid_t pid;
	int status, p2[2], r, fd = -1;
	char path[600];

	switch (pid = fork()) {
	case -1:
		return -1;
	case 0:
		if (errfd != -1)
			dup2(errfd, STDERR_FILENO);
		if (pipe(p2) == -1)
			_exit(90);
		if (a == A_SENDFILE) {
			snprintf(path, sizeof(path), "%s/ro", dir);
			fd = open(path, O_RDONLY);
		}
		if ((role == WORKER ? sandbox_worker(flags) :
		    sandbox_agent(flags)) != 0)
			_exit(91);
		r = a == A_IO ? act_io(p2) : a == A_SENDFILE ?
		    act_sendfile(fd, p2) : act(a);
		_exit(r);
	}
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return status;
}

static void
proc_status_field(const char *name, char *out, size_t outsz)
{
	char line[256];
	FILE *f;
	size_t n = strlen(name);

	out[0] = '\0';
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			snprintf(out, outsz, "%s", line + n + 1);
			out[strcspn(out, "\n")] = '\0';
			memmove(out, out + strspn(out, " \t"),
			    strlen(out + strspn(out, " \t")) + 1);
			break;
		}
	fclose(f);
}

int
main(void)
{
	char path[600], got[128], logbuf[4096];
	size_t i;
	ssize_t n;
	int status, lp[2], fd, ia32;
	pid_t pid;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/*
	 * A sanitizer's runtime makes system calls of its own (signal
	 * stacks, shadow memory, its reports) that the allow-lists rightly
	 * forbid: the filters are tested in the normal build only.
	 */
	TEST_START("sandbox under a sanitizer");
	TEST_SKIP("the sanitizer runtime needs calls the filters forbid");
	TEST_DONE();
	return test_summary();
#endif
	snprintf(dir, sizeof(dir), "%s", test_tmpdir());
	snprintf(path, sizeof(path), "%s/ro", dir);
	test_write_file(path, "ro", 2);

	ia32 = i386_available();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TEST_START(cases[i].label);
		/* Below debug level: the real SECCOMP_RET_KILL_PROCESS. */
		log_setlevel(SATCHEL_LOG_INFO);
		if (cases[i].act == A_I386 && !ia32) {
			printf("%s: no i386 emulation in this kernel, "
			    "skipped\n", cases[i].label);
			TEST_DONE();
			continue;
		}
		status = run(cases[i].role, cases[i].act, 0, -1);
		ASSERT_TRUE(status != -1);
		if (cases[i].sig == 0) {
			ASSERT_TRUE(WIFEXITED(status));
			ASSERT_INT_EQ(WIFEXITED(status) ?
			    WEXITSTATUS(status) : -WTERMSIG(status), 0);
		} else {
			ASSERT_TRUE(WIFSIGNALED(status));
			ASSERT_INT_EQ(WIFSIGNALED(status) ? WTERMSIG(status) :
			    1000 + WEXITSTATUS(status), cases[i].sig);
		}
		TEST_DONE();
	}

	TEST_START("SANDBOX_LOG: the call is named, the process dies by "
	    "SIGSYS");
	ASSERT_INT_EQ(pipe(lp), 0);
	status = run(WORKER, A_SOCKET_INET, SANDBOX_LOG, lp[1]);
	close(lp[1]);
	n = read(lp[0], logbuf, sizeof(logbuf) - 1);
	close(lp[0]);
	logbuf[n > 0 ? n : 0] = '\0';
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
	snprintf(got, sizeof(got), "forbidden system call %d ",
	    (int)SYS_socket);
	ASSERT_TRUE(strstr(logbuf, got) != NULL);
	TEST_DONE();

	TEST_START("sandbox_caps_drop empties the bounding set");
	if (geteuid() == 0) {
		if ((pid = fork()) == 0) {
			if (sandbox_caps_drop() != 0)
				_exit(1);
			if (prctl(PR_CAPBSET_READ, 21 /* SYS_ADMIN */, 0, 0,
			    0) != 0 || prctl(PR_CAPBSET_READ, 0, 0, 0, 0) != 0)
				_exit(2);
			proc_status_field("CapBnd", got, sizeof(got));
			if (strcmp(got, "0000000000000000") != 0)
				_exit(3);
			/* Effective caps are kept: still root for setuid. */
			proc_status_field("CapEff", got, sizeof(got));
			if (strcmp(got, "0000000000000000") == 0)
				_exit(4);
			_exit(0);
		}
		ASSERT_TRUE(pid > 0);
		ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_INT_EQ(WEXITSTATUS(status), 0);
	} else
		printf("sandbox_caps_drop: not root, skipped\n");
	TEST_DONE();

	TEST_START("NO_NEW_PRIVS and Seccomp 2 in /proc after install");
	if ((pid = fork()) == 0) {
		if (sandbox_agent(0) != 0)
			_exit(1);
		proc_status_field("NoNewPrivs", got, sizeof(got));
		if (strcmp(got, "1") != 0)
			_exit(2);
		proc_status_field("Seccomp", got, sizeof(got));
		if (strcmp(got, "2") != 0)
			_exit(3);
		_exit(0);
	}
	ASSERT_TRUE(pid > 0 && waitpid(pid, &status, 0) == pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
	TEST_DONE();
	(void)fd;
	return test_summary();
}
