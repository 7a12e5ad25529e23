"""auth_pam against real PAM stacks.

- pam_wrapper (Debian's libpam-wrapper): the daemon runs with
  LD_PRELOAD=libpam_wrapper.so and reads its service file from a private
  directory; pam_matrix checks passwords from a file and the service name
  at account time, pam_chatty sends info and error messages through the
  conversation.
- the real pam_unix + pam_access from /etc/pam.d, with a system user
  this file creates (useradd -m, chpasswd) and removes: success, wrong
  password, locked (usermod -L), account expired (chage -E 0), password
  must be changed (chage -d 0), PAM_RHOST (pam_access refuses 127.0.0.2).
- the default mail location mbox:/var/mail/%u, when storage_mbox is built.

Every package needed is installed here (apt-get, idempotent); a test
is skipped only if that fails.  Users, service files and mail files made
here are removed at the end of each test.
"""
import glob
import os
import pwd
import secrets
import subprocess

import satchel as S
from satchel import check, eq, try_login
from satchel import assert_login_ok as assert_ok
from satchel import assert_login_refused as assert_refused

PACKAGES = ("libpam-wrapper", "pamtester", "passwd", "libpam-modules")
_ready = []


def setup():
    """Install what the tests need (once); Skip if that is impossible."""
    if _ready:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q"] + list(PACKAGES)
    r = subprocess.run(cmd, capture_output=True, timeout=600, env=env)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True,
                       timeout=600, env=env)
        r = subprocess.run(cmd, capture_output=True, timeout=600, env=env)
    if r.returncode != 0:
        raise S.Skip("apt-get install %s failed: %s" % (
            " ".join(PACKAGES), r.stderr.decode(errors="replace")[-300:]))
    _ready.append(True)


def module_present(env, name):
    return os.path.exists(os.path.join(env.module_dir, name + ".so"))


def need_pam(env):
    if not module_present(env, "auth_pam"):
        raise S.Skip("auth_pam.so not built (configure found no libpam)")
    setup()


def find_lib(pattern):
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
              "/usr/lib/*-linux-gnu", "/usr/lib", "/lib/*-linux-gnu"):
        hits = sorted(glob.glob(os.path.join(d, pattern)))
        if hits:
            return hits[0]
    raise S.Skip("%s not found after installing libpam-wrapper" % pattern)


def pam_module(name):
    for d in ("/usr/lib/x86_64-linux-gnu/security", "/lib/*-linux-gnu/security",
              "/usr/lib/*-linux-gnu/security", "/lib/security"):
        hits = sorted(glob.glob(os.path.join(d, name)))
        if hits:
            return hits[0]
    raise S.Skip("PAM module %s not found" % name)


# ---- helpers that the shared harness does not have -------------------

def start_with(env, auth, sections, keep_file=False, environ=None, **over):
    """env.start() with auth = AUTH and extra config SECTIONS (text)
    appended; the harness's [file] section is dropped unless the chain
    uses the file module (an unused section is a config error).
    environ: variables set for the daemon only (LD_PRELOAD...)."""
    orig = S.Env.config_text

    def config_text(**o):
        t = orig(env, **o)
        if not keep_file:
            t = t.split("\n[file]\n")[0] + "\n"
        return t + "\n" + sections + "\n"

    env.config_text = config_text
    saved = {}
    for k, v in (environ or {}).items():
        saved[k] = os.environ.get(k)
        os.environ[k] = v
    try:
        return env.start(auth=auth, **over)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v








def no_password_in_log(env, *passwords):
    log = env.log()
    for pw in passwords:
        check(pw not in log, "a password appears in the daemon log")


class SystemUser:
    """A local account made with useradd -m and chpasswd, removed with
    userdel -r by remove()."""

    def __init__(self, password):
        self.name = "satpam" + secrets.token_hex(3)
        self.password = password
        r = subprocess.run(["useradd", "-m", "-s", "/bin/sh", self.name],
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise S.Skip("useradd failed: %s" % r.stderr.decode()[-200:])
        self.created = True
        self.set_password(password)
        self.pw = pwd.getpwnam(self.name)

    def set_password(self, password):
        r = subprocess.run(["chpasswd"], input=("%s:%s\n" % (
            self.name, password)).encode(), capture_output=True, timeout=30)
        check(r.returncode == 0, "chpasswd: %r" % r.stderr)

    def run(self, *cmd):
        r = subprocess.run(list(cmd) + [self.name], capture_output=True,
                           timeout=30)
        check(r.returncode == 0, "%s: %r" % (" ".join(cmd), r.stderr))

    def maildir(self, messages):
        """~/Maildir owned by the user, holding messages."""
        md = os.path.join(self.pw.pw_dir, "Maildir")
        for sub in ("", "cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub), 0o700, exist_ok=True)
            os.chown(os.path.join(md, sub), self.pw.pw_uid, self.pw.pw_gid)
        for i, m in enumerate(messages):
            p = os.path.join(md, "cur", "%d.M%dP1.test:2," % (1700000000 + i,
                                                              i))
            with open(p, "wb") as f:
                f.write(m)
            os.chown(p, self.pw.pw_uid, self.pw.pw_gid)
        return md

    def remove(self):
        if getattr(self, "created", False):
            subprocess.run(["userdel", "-r", "-f", self.name],
                           capture_output=True, timeout=30)
            self.created = False
            for p in glob.glob("/var/mail/%s*" % self.name):
                os.unlink(p)


# ---- pam_wrapper -----------------------------------------------------

def test_pam_wrapper_matrix(env):
    """pam_matrix through pam_wrapper: success (with info and error
    messages from pam_chatty), wrong password, account refused by the
    account stack, user unknown to PAM and to passwd, service name from
    the config, PAM messages logged, password never logged."""
    need_pam(env)
    wrapper = find_lib("libpam_wrapper.so")
    matrix = find_lib("pam_wrapper/pam_matrix.so")
    chatty = find_lib("pam_wrapper/pam_chatty.so")
    good = SystemUser("Matrix-pw-1")
    other = SystemUser("Matrix-pw-2")
    try:
        good.maildir([S.simple_message(1), S.simple_message(2)])
        other.maildir([])
        svcdir = os.path.join(env.dir, "pam.d")
        os.mkdir(svcdir)
        passdb = os.path.join(env.dir, "passdb")
        with open(passdb, "w") as f:
            f.write("%s:Wrapped-secret-9:satchel-wrap\n" % good.name)
            # right password, but allowed for another service only
            f.write("%s:Other-secret-8:not-satchel\n" % other.name)
        with open(os.path.join(svcdir, "satchel-wrap"), "w") as f:
            f.write("auth requisite %s passdb=%s verbose\n" % (matrix, passdb))
            f.write("auth required %s num_lines=3 info error\n" % chatty)
            f.write("account required %s passdb=%s\n" % (matrix, passdb))
        start_with(env, "pam", "[pam]\nservice = satchel-wrap\n"
                   "mail = maildir:%h/Maildir\n",
                   environ={"LD_PRELOAD": wrapper, "PAM_WRAPPER": "1",
                            "PAM_WRAPPER_SERVICE_DIR": svcdir})
        assert_ok(env, good.name, "Wrapped-secret-9", messages=2)
        # The stack's messages came through the conversation.
        env.wait_log(r"PAM info: ", 5)
        env.wait_log(r"PAM error message: ", 5)
        # pam_matrix's password, not the system one, is what counts.
        assert_refused(env, good.name, "Matrix-pw-1")
        assert_refused(env, good.name, "wrong")
        # pam_acct_mgmt says no: not this service.
        assert_refused(env, other.name, "Other-secret-8")
        # Nobody knows this user.
        assert_refused(env, "nosuchuser" + secrets.token_hex(2), "x")
        assert_ok(env, good.name, "Wrapped-secret-9", messages=2)
        no_password_in_log(env, "Wrapped-secret-9", "Other-secret-8")
    finally:
        good.remove()
        other.remove()


# ---- the real pam_unix ----------------------------------------------

def test_pam_unix(env):
    """pam_unix with a user made here: success, wrong password, locked,
    account expired, password to be changed, PAM_RHOST (pam_access),
    unknown user; each refusal is undone to show the account works."""
    need_pam(env)
    pam_unix = pam_module("pam_unix.so")
    pam_access = pam_module("pam_access.so")
    service = "satchel-test-" + secrets.token_hex(3)
    svcfile = os.path.join("/etc/pam.d", service)
    u = SystemUser("Unix-pw-" + secrets.token_hex(4))
    try:
        u.maildir([S.simple_message(1)])
        access = os.path.join(env.dir, "access.conf")
        with open(access, "w") as f:
            f.write("-:ALL:127.0.0.2\n+:ALL:ALL\n")
        with open(svcfile, "w") as f:
            f.write("auth required %s\n" % pam_unix)
            f.write("account required %s\n" % pam_unix)
            f.write("account required %s accessfile=%s\n"
                    % (pam_access, access))
        start_with(env, "pam", "[pam]\nservice = %s\n"
                   "mail = maildir:%%h/Maildir\n" % service)
        assert_ok(env, u.name, u.password, messages=1)
        env.wait_log(r"event=auth user=%s .*result=ok" % u.name, 5)
        assert_refused(env, u.name, u.password + "x")
        assert_refused(env, "nosuch" + secrets.token_hex(3), u.password)

        # PAM_RHOST is the client address: pam_access refuses 127.0.0.2.
        assert_refused(env, u.name, u.password, source="127.0.0.2")
        assert_ok(env, u.name, u.password, source="127.0.0.1")

        u.run("usermod", "-L")
        assert_refused(env, u.name, u.password)
        u.run("usermod", "-U")
        assert_ok(env, u.name, u.password)

        u.run("chage", "-E", "0")
        assert_refused(env, u.name, u.password)
        env.wait_log(r"account expired", 5)
        u.run("chage", "-E", "-1")
        assert_ok(env, u.name, u.password)

        u.run("chage", "-d", "0")
        assert_refused(env, u.name, u.password)
        env.wait_log(r"password expired: it must be changed", 5)
        u.run("chage", "-d", "19000")
        assert_ok(env, u.name, u.password)
        no_password_in_log(env, u.password)
    finally:
        u.remove()
        if os.path.exists(svcfile):
            os.unlink(svcfile)


def test_pam_mbox_default(env):
    """With no 'mail' key, a PAM user reads mbox:/var/mail/%u (needs
    storage_mbox; skipped when it is not built)."""
    need_pam(env)
    if not module_present(env, "storage_mbox"):
        raise S.Skip("storage_mbox.so not built")
    pam_unix = pam_module("pam_unix.so")
    service = "satchel-test-" + secrets.token_hex(3)
    svcfile = os.path.join("/etc/pam.d", service)
    u = SystemUser("Mbox-pw-" + secrets.token_hex(4))
    spool = "/var/mail/" + u.name
    try:
        with open(svcfile, "w") as f:
            f.write("auth required %s\naccount required %s\n"
                    % (pam_unix, pam_unix))
        msgs = [S.simple_message(1), S.simple_message(2),
                S.simple_message(3)]
        with open(spool, "wb") as f:
            for i, m in enumerate(msgs):
                f.write(b"From sender@test.example Mon Jan  1 00:00:0%d "
                        b"2024\n" % i + m + b"\n")
        os.chown(spool, u.pw.pw_uid, u.pw.pw_gid)
        os.chmod(spool, 0o600)
        # Debian's /var/mail is root:mail 2775: the agent needs group
        # mail for its lock files there.
        start_with(env, "pam", "[pam]\nservice = %s\n" % service,
                   mail_extra_groups="mail")
        env.wait_log(r"mail mbox:/var/mail/%u", 5)
        p = env.session(u.name, u.password)
        st = p.cmd("STAT")
        check(st.startswith("+OK 3 "), "STAT: %r" % st)
        r, lines = p.cmd_multi("RETR 2")
        check(r.startswith("+OK"), "RETR 2: %r" % r)
        want = [l.decode() for l in S.wire_lines(msgs[1])]
        eq(lines[:len(want)], want, "RETR 2 lines")
        p.cmd("QUIT")
        p.close()
    finally:
        u.remove()
        for p in (svcfile, spool):
            if os.path.exists(p):
                os.unlink(p)
