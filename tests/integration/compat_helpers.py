"""Helpers shared by the mbox and Dovecot-compatibility tests
(test_mbox.py, test_mbox_compat.py, test_dovecot_uidl.py): MboxBox, an
mbox user of Satchel; Dovecot, a private Dovecot POP3 server (Debian's
dovecot-pop3d) with its own base_dir, state_dir and log in the test's
directory, one passwd-file user with the mail user's uid, loopback only;
and mbox_dovecot(), a Dovecot serving its own copy of given mbox
bytes."""
import os
import signal
import subprocess

from satchel import (DEFAULT_PASSWORD, DOMAIN, Failure, Pop, check,
                     ensure_tool, free_port, wait_for)


class MboxBox:
    """An mbox user of Satchel: the file env.dir/mbox/DOMAIN/<local>
    (mail_location mbox:), with conf (text, or an object that adds
    itself to a string) as its [mbox] section when given."""

    def __init__(self, env, local, data=b"", conf=""):
        self.env = env
        self.user = env.add_user(local)
        pw = env.mail_pw
        self.dir = os.path.join(env.dir, "mbox", DOMAIN)
        os.makedirs(self.dir, exist_ok=True)
        for d in (os.path.dirname(self.dir), self.dir):
            os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(d, 0o755)
        self.path = os.path.join(self.dir, local)
        # Dovecot's mail root for this mbox (dovecot_mail()).
        self.root = os.path.join(env.dir, "mbox-root")
        os.makedirs(self.root, exist_ok=True)
        os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.write(data)
        if not isinstance(conf, str) or conf:
            orig = env.config_text
            env.config_text = lambda **o: orig(**o) + "\n[mbox]\n" + conf
        env.conf["mail_location"] = "mbox:%s/mbox/%%d/%%n" % env.dir

    def write(self, data):
        with open(self.path, "wb") as f:
            f.write(data)
        os.chown(self.path, self.env.mail_pw.pw_uid,
                 self.env.mail_pw.pw_gid)
        os.chmod(self.path, 0o600)

    def append(self, data):
        with open(self.path, "ab") as f:
            f.write(data)

    def read(self):
        with open(self.path, "rb") as f:
            return f.read()

    def dovecot_mail(self):
        """Dovecot's mail_location for this very file."""
        return "mbox:%s:INBOX=%s" % (self.root, self.path)


class Dovecot:
    """A private Dovecot POP3 server on 127.0.0.1:port for one user."""

    def __init__(self, env, user, mail, uidl_format=None, mbox=False,
                 extra=(), sub="dovecot"):
        ensure_tool("dovecot", "dovecot-pop3d")
        if not os.path.exists("/usr/lib/dovecot/pop3"):
            ensure_tool("/usr/lib/dovecot/pop3", "dovecot-pop3d")
        self.env = env
        self.dir = os.path.join(env.dir, sub)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        pw = env.mail_pw
        self.passwd = os.path.join(self.dir, "passwd")
        home = os.path.join(self.dir, "home")
        os.makedirs(home, exist_ok=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        with open(self.passwd, "w") as f:
            f.write("%s:{PLAIN}%s:%d:%d::%s::userdb_mail=%s\n" % (
                user, DEFAULT_PASSWORD, pw.pw_uid, pw.pw_gid, home, mail))
        self.conf = os.path.join(self.dir, "dovecot.conf")
        lines = [
            "base_dir = %s/run" % self.dir,
            "state_dir = %s/state" % self.dir,
            "log_path = %s/dovecot.log" % self.dir,
            "protocols = pop3",
            "listen = 127.0.0.1",
            "ssl = no",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain",
            "first_valid_uid = 1",
            "mail_fsync = always",
            "passdb {\n driver = passwd-file\n args = %s\n}" % self.passwd,
            "userdb {\n driver = passwd-file\n args = %s\n}" % self.passwd,
            "service pop3-login {\n inet_listener pop3 {\n"
            "  address = 127.0.0.1\n  port = %d\n }\n"
            " inet_listener pop3s {\n  port = 0\n }\n}" % self.port,
            "service imap-login {\n inet_listener imap {\n  port = 0\n }\n"
            " inet_listener imaps {\n  port = 0\n }\n}",
            "service stats {\n unix_listener stats-reader {\n"
            "  mode = 0600\n }\n}",
        ]
        if uidl_format is not None:
            lines.append("pop3_uidl_format = %s" % uidl_format)
        lines.extend(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.started = False

    def start(self):
        errf = os.path.join(self.dir, "start.err")
        with open(errf, "w") as err:
            # It forks into the background, keeping no pipe of ours.
            r = subprocess.run(["dovecot", "-c", self.conf],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err,
                               timeout=30)
        with open(errf) as f:
            check(r.returncode == 0, "dovecot: %s" % f.read())
        self.started = True
        try:
            wait_for(self._up, 15, what="dovecot listening")
        except Failure:
            raise Failure("dovecot did not answer; its log:\n%s"
                          % self.log()[-3000:])
        return self

    def _up(self):
        try:
            with Pop(self.port, timeout=2) as p:
                return p.greeting.startswith("+OK")
        except (OSError, EOFError):
            return False

    def stop(self):
        if not self.started:
            return
        pidf = os.path.join(self.dir, "run", "master.pid")
        try:
            with open(pidf) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not os.path.exists(pidf), 15,
                     what="dovecot stopped")
        except (OSError, ValueError, Failure):
            pass
        self.started = False

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""


def mbox_dovecot(env, data, sub="dovecot-mbox", user="dove"):
    """A Dovecot (not started) serving its own copy of the mbox bytes
    data as the INBOX of user (password DEFAULT_PASSWORD); .inbox is the
    file, as Dovecot leaves it."""
    pw = env.mail_pw
    root = os.path.join(env.dir, sub + "-mail")
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    os.chown(root, pw.pw_uid, pw.pw_gid)
    inbox = os.path.join(root, "inbox")
    with open(inbox, "wb") as f:
        f.write(data)
    os.chown(inbox, pw.pw_uid, pw.pw_gid)
    os.chmod(inbox, 0o600)
    dc = Dovecot(env, user, "mbox:%s:INBOX=%s" % (root, inbox), sub=sub)
    dc.inbox = inbox
    return dc
