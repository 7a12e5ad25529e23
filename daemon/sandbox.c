/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * sandbox.c -- the kernel sandbox of the worker and of the mailbox
 * agent: a seccomp-bpf allow-list, written by hand with the kernel's
 * own headers (no libseccomp), and the drop of the capability bounding
 * set.  sandbox_caps_drop() runs as root in every child the master
 * forks; sandbox_worker() and sandbox_agent() run unprivileged, right
 * after the process has dropped to its user and set NO_NEW_PRIVS, and
 * before it reads a byte from a client or a mailbox.
 *
 * The filter first checks the architecture (a 32-bit system call on
 * x86_64, or an x32 one, is killed: its numbers mean other calls), then
 * compares the call number against a list.  A few calls are allowed
 * only with some arguments: mmap and mprotect without PROT_EXEC, prctl
 * only PR_SET_NAME (setproctitle), tgkill only to itself (raise and
 * abort), socket only AF_UNIX.  Everything else kills the whole process
 * with SIGSYS (SECCOMP_RET_KILL_PROCESS).  With SANDBOX_LOG, at
 * log_level debug, or with SATCHEL_SANDBOX_LOG=1 in the environment of
 * the daemon, a forbidden call is trapped
 * instead, its number logged, and the process then dies by SIGSYS all
 * the same; the forbidden call never runs in either mode.
 *
 * Caution: glibc and OpenSSL open some files lazily (locale, time zone,
 * /dev/urandom, openssl.cnf, NSS).  Everything of that kind must have
 * been loaded before the filter is installed: the master initialises
 * OpenSSL, log_init() calls tzset() and opens syslog's socket with
 * LOG_NDELAY, the agent looks up its groups before it drops.  A new
 * library call that opens a file after the drop shows up as a SIGSYS.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SANDBOX_UNDER_VALGRIND()	RUNNING_ON_VALGRIND
#endif
#endif
#ifndef SANDBOX_UNDER_VALGRIND
#define SANDBOX_UNDER_VALGRIND()	0
#endif

#include "satchel/module.h"
#include "log.h"
#include "sandbox.h"
#include "compat/poison.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH		AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH		AUDIT_ARCH_AARCH64
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS	0x80000000U
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT			47
#define PR_CAP_AMBIENT_CLEAR_ALL	4
#endif

#define SANDBOX_INSNS	512

/* The low 32 bits of argument i: int arguments live there. */
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ARG_LO(i)	(offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i)	(offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif

enum sandbox_role { ROLE_WORKER, ROLE_AGENT, ROLE_STATS };

struct filter {
	struct sock_filter	 ins[SANDBOX_INSNS];
	size_t			 n;
	int			 overflow;
	uint32_t		 deny;		/* KILL_PROCESS or TRAP */
};

static void emit(struct filter *, uint16_t, uint32_t, uint8_t, uint8_t);
static void allow(struct filter *, int);
static void allow_masked(struct filter *, int, int, uint32_t, uint32_t);
static void allow_socket(struct filter *, int);
static int sandbox_install(enum sandbox_role, int);
static void sandbox_sigsys(int, siginfo_t *, void *);

/* Calls both roles make: I/O on descriptors they hold, memory, time. */
static const int sandbox_common[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_recvmsg,
	SYS_sendmsg, SYS_recvfrom, SYS_sendto, SYS_ppoll,
#ifdef SYS_poll
	SYS_poll,
#endif
	SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait,
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
	SYS_close, SYS_shutdown, SYS_getsockopt, SYS_setsockopt,
	SYS_getpeername, SYS_getsockname, SYS_connect,
	SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday,
#ifdef SYS_time
	SYS_time,
#endif
	SYS_nanosleep, SYS_clock_nanosleep, SYS_getrandom,
	SYS_munmap, SYS_mremap, SYS_brk, SYS_madvise,
	SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn,
	SYS_restart_syscall, SYS_exit, SYS_exit_group,
	SYS_getpid, SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid,
	SYS_getgid, SYS_getegid, SYS_fcntl, SYS_futex, SYS_lseek,
	SYS_pread64, SYS_dup, SYS_dup3,
#ifdef SYS_dup2
	SYS_dup2,
#endif
	SYS_uname, SYS_sysinfo, SYS_sched_yield,
};

static const int sandbox_worker_only[] = {
	SYS_accept4,
	/*
	 * RETR's zero-copy path: a message file the agent passed, to the
	 * client socket (sendfile also serves SSL_sendfile with kernel
	 * TLS).  It reads only descriptors the worker already holds.
	 */
	SYS_sendfile,
	/*
	 * Proxy mode's relay when neither side is TLS (proxy.c): socket to
	 * pipe to socket in the kernel.  pipe2 makes only the pair of pipe
	 * ends, splice moves between descriptors the worker holds.
	 */
	SYS_splice, SYS_pipe2,
#ifdef SYS_fstat
	SYS_fstat,
#endif
};

/*
 * The storage modules' calls (modules/storage, daemon/lock.c): the
 * agent opens, scans, renames and unlinks the mail user's files by
 * name.  No symlink(): a mail user has no use for creating one, and a
 * symlink is the first step of the attacks of issue 11 item 3.
 */
static const int sandbox_agent_only[] = {
#ifdef SYS_open
	SYS_open,
#endif
	SYS_openat,
#ifdef SYS_openat2
	SYS_openat2,
#endif
#ifdef SYS_stat
	SYS_stat, SYS_lstat,
#endif
#ifdef SYS_fstat
	SYS_fstat,
#endif
	SYS_newfstatat, SYS_statx, SYS_getdents64,
#ifdef SYS_mkdir
	SYS_mkdir,
#endif
	SYS_mkdirat,
#ifdef SYS_rename
	SYS_rename,
#endif
#ifdef SYS_renameat
	SYS_renameat,
#endif
	SYS_renameat2,
#ifdef SYS_unlink
	SYS_unlink, SYS_rmdir,
#endif
	SYS_unlinkat,
#ifdef SYS_link
	SYS_link,
#endif
	SYS_linkat,
#ifdef SYS_access
	SYS_access,
#endif
	SYS_faccessat,
#ifdef SYS_faccessat2
	SYS_faccessat2,
#endif
	SYS_fsync, SYS_fdatasync, SYS_ftruncate, SYS_pwrite64,
	SYS_flock, SYS_utimensat, SYS_fchmod, SYS_fchown, SYS_umask,
#ifdef SYS_fadvise64
	SYS_fadvise64,
#endif
};

static void
emit(struct filter *f, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	struct sock_filter ins = BPF_JUMP(code, k, jt, jf);

	if (f->n >= SANDBOX_INSNS) {
		f->overflow = 1;
		return;
	}
	f->ins[f->n++] = ins;
}

/* if (nr == call) allow; */
static void
allow(struct filter *f, int nr)
{
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
	emit(f, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
}

/*
 * if (nr == call) { if ((arg & mask) == value) allow; else deny; }
 * The block is skipped whole when nr differs, so the accumulator still
 * holds nr for the next comparison.
 */
static void
allow_masked(struct filter *f, int nr, int arg, uint32_t mask,
    uint32_t value)
{
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 5);
	emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(arg), 0, 0);
	emit(f, BPF_ALU | BPF_AND | BPF_K, mask, 0, 0);
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1);
	emit(f, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	emit(f, BPF_RET | BPF_K, f->deny, 0, 0);
}

/*
 * socket(): AF_UNIX SOCK_SEQPACKET is the worker's way to the auth
 * pool (seqpacket_ok).  AF_UNIX SOCK_DGRAM or SOCK_STREAM is what
 * glibc's syslog() asks for when it reconnects after syslogd
 * restarted: it fails with EACCES (the process loses its log, not its
 * life).  Any other family or type is killed.
 */
static void
allow_socket(struct filter *f, int seqpacket_ok)
{
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 11);
	emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(0), 0, 0);
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 1, 0);
	emit(f, BPF_RET | BPF_K, f->deny, 0, 0);
	emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(1), 0, 0);
	emit(f, BPF_ALU | BPF_AND | BPF_K,
	    ~(uint32_t)(SOCK_CLOEXEC | SOCK_NONBLOCK), 0, 0);
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, SOCK_SEQPACKET, 0, 1);
	emit(f, BPF_RET | BPF_K, seqpacket_ok ? SECCOMP_RET_ALLOW : f->deny,
	    0, 0);
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, SOCK_DGRAM, 2, 0);
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, SOCK_STREAM, 1, 0);
	emit(f, BPF_RET | BPF_K, f->deny, 0, 0);
	emit(f, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES &
	    SECCOMP_RET_DATA), 0, 0);
}

/*
 * The SIGSYS handler of SANDBOX_LOG: name the call, then die by the
 * same signal the kernel would have sent.  Only allowed calls here:
 * write or sendto (the log), rt_sigaction, rt_sigprocmask, getpid,
 * gettid, tgkill to itself.
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
	struct sigaction sa;
	sigset_t set;

	(void)uctx;
	log_warnx("sandbox: forbidden system call %d (arch 0x%x): killing "
	    "the process; 'ausyscall %d' names it", si->si_syscall,
	    si->si_arch, si->si_syscall);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

int
sandbox_caps_drop(void)
{
	int cap, r;

	/* The ambient set: nothing a later exec could keep. */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (cap = 0; cap < 64; cap++) {
		if ((r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) == -1) {
			if (errno == EINVAL)
				break;	/* past the kernel's last cap */
			log_warn("sandbox: prctl CAPBSET_READ %d", cap);
			return -1;
		}
		if (r == 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1) {
			if (errno == EPERM && geteuid() != 0)
				return 0;	/* development run */
			log_warn("sandbox: prctl CAPBSET_DROP %d", cap);
			return -1;
		}
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0) {
			log_warnx("sandbox: capability %d still in the "
			    "bounding set", cap);
			return -1;
		}
	}
	return 0;
}

int
sandbox_worker(int flags)
{
	return sandbox_install(ROLE_WORKER, flags);
}

int
sandbox_agent(int flags)
{
	return sandbox_install(ROLE_AGENT, flags);
}

int
sandbox_stats(int flags)
{
	return sandbox_install(ROLE_STATS, flags);
}

static int
sandbox_install(enum sandbox_role role, int flags)
{
#ifdef SANDBOX_ARCH
	static struct filter f;
	struct sock_fprog prog;
	struct sigaction sa;
	const char *env;
	uint32_t action = SECCOMP_RET_KILL_PROCESS;
	size_t i;

	if (SANDBOX_UNDER_VALGRIND()) {
		log_info("sandbox: running under valgrind: no seccomp filter");
		return 0;
	}
	if (((env = getenv("SATCHEL_SANDBOX_LOG")) != NULL &&
	    strcmp(env, "1") == 0) || log_getlevel() >= SATCHEL_LOG_DEBUG)
		flags |= SANDBOX_LOG;

	memset(&f, 0, sizeof(f));
	/* Kernels before 4.14 only kill the thread: the same to us. */
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0)
		action = SECCOMP_RET_KILL;
	f.deny = (flags & SANDBOX_LOG) ? SECCOMP_RET_TRAP : action;

	/* Another architecture's numbers mean other calls: kill. */
	emit(&f, BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch), 0, 0);
	emit(&f, BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0);
	emit(&f, BPF_RET | BPF_K, action, 0, 0);
	emit(&f, BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr), 0, 0);
#if defined(__x86_64__)
	/* x32 calls are the same numbers with bit 30 set. */
	emit(&f, BPF_JMP | BPF_JGE | BPF_K, 0x40000000U, 0, 1);
	emit(&f, BPF_RET | BPF_K, action, 0, 0);
#endif
	for (i = 0; i < sizeof(sandbox_common) / sizeof(sandbox_common[0]);
	    i++)
		allow(&f, sandbox_common[i]);
	if (role == ROLE_WORKER) {
		for (i = 0; i < sizeof(sandbox_worker_only) /
		    sizeof(sandbox_worker_only[0]); i++)
			allow(&f, sandbox_worker_only[i]);
		/*
		 * fstat() is newfstatat(fd, "", AT_EMPTY_PATH) in glibc.
		 * A non-empty path is still looked up (metadata only, in
		 * the empty chroot); no flag, no call.
		 */
		allow_masked(&f, SYS_newfstatat, 3, AT_EMPTY_PATH,
		    AT_EMPTY_PATH);
	} else if (role == ROLE_STATS) {
		/* The metrics socket: accept, read, write, close. */
		allow(&f, SYS_accept4);
#ifdef SYS_fstat
		allow(&f, SYS_fstat);
#endif
		allow_masked(&f, SYS_newfstatat, 3, AT_EMPTY_PATH,
		    AT_EMPTY_PATH);
	} else {
		for (i = 0; i < sizeof(sandbox_agent_only) /
		    sizeof(sandbox_agent_only[0]); i++)
			allow(&f, sandbox_agent_only[i]);
		/*
		 * kill(pid, 0) only: lock.c asks whether a dotlock's owner
		 * is alive; signal 0 sends nothing.
		 */
		allow_masked(&f, SYS_kill, 1, ~0U, 0);
	}
	allow_socket(&f, role == ROLE_WORKER);
	allow_masked(&f, SYS_mmap, 2, PROT_EXEC, 0);
	allow_masked(&f, SYS_mprotect, 2, PROT_EXEC, 0);
	allow_masked(&f, SYS_prctl, 0, ~0U, PR_SET_NAME);
	allow_masked(&f, SYS_tgkill, 0, ~0U, (uint32_t)getpid());
	emit(&f, BPF_RET | BPF_K, f.deny, 0, 0);
	if (f.overflow) {
		log_warnx("sandbox: filter longer than %d instructions",
		    SANDBOX_INSNS);
		return -1;
	}

	if (flags & SANDBOX_LOG) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sandbox_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) == -1) {
			log_warn("sandbox: sigaction SIGSYS");
			return -1;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("sandbox: prctl NO_NEW_PRIVS");
		return -1;
	}
	memset(&prog, 0, sizeof(prog));
	prog.len = (unsigned short)f.n;
	prog.filter = f.ins;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == -1) {
		log_warn("sandbox: prctl SET_SECCOMP (%s)",
		    role == ROLE_WORKER ? "worker" : role == ROLE_STATS ?
		    "stats" : "agent");
		return -1;
	}
	return 0;
#else
	static int warned;

	(void)role;
	(void)flags;
	if (!warned++)
		log_warnx("sandbox: no seccomp allow-list for this "
		    "architecture: running without");
	return 0;
#endif
}
