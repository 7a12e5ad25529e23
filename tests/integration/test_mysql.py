"""auth_mysql against a real MariaDB.

The tests start Debian's mariadbd in temporary data directories (the
TESTING.md recipe): one on a UNIX socket, shared by the tests of this
file, and for the failover test a second one on TCP 127.0.0.1:<random>.
The schema is postfixadmin's mailbox table (tests/data/mysql/schema.sql);
Satchel connects as a database user with SELECT only, its password in a
0600 password_file.  Every server is stopped by its pid and its directory
removed, at the end of the test that made it or (for the shared one)
when the test process exits.

Also used by test_chain.py (MariaDB, add_mysql_user, mysql_section).
"""
import atexit
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import satchel as S
from satchel import check, eq, try_login
from satchel import assert_login_ok as assert_ok
from satchel import assert_login_refused as assert_refused

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "data", "mysql", "schema.sql")
PACKAGES = ("mariadb-server", "mariadb-client")
DB_USER = "satchel"
_ready = []
# Kept on the harness module, so that test_chain.py (which imports this
# file a second time) shares the same server.
_shared = S.__dict__.setdefault("_mysql_shared", {})


def setup():
    if _ready:
        return
    if shutil.which("mariadbd") and shutil.which("mariadb-install-db") \
            and shutil.which("mariadb"):
        _ready.append(True)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q"] + list(PACKAGES)
    r = subprocess.run(cmd, capture_output=True, timeout=600, env=env)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True,
                       timeout=600, env=env)
        r = subprocess.run(cmd, capture_output=True, timeout=600, env=env)
    if r.returncode != 0 or not shutil.which("mariadbd"):
        raise S.Skip("apt-get install %s failed: %s" % (
            " ".join(PACKAGES), r.stderr.decode(errors="replace")[-300:]))
    _ready.append(True)


def need_mysql(env):
    if not os.path.exists(os.path.join(env.module_dir, "auth_mysql.so")):
        raise S.Skip("auth_mysql.so not built (configure found no "
                     "libmysqlclient)")
    setup()


def lit(s):
    """A SQL string literal (only for the test's own admin statements)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


class MariaDB:
    """A mariadbd in its own temporary directory, root on the socket."""

    def __init__(self, port=None, db_password=None):
        self.dir = tempfile.mkdtemp(prefix="satchel-mariadb-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.pidfile = os.path.join(self.dir, "pid")
        self.port = port
        self.proc = None
        self.db_password = db_password or "db-" + secrets.token_hex(8)
        r = subprocess.run(
            ["mariadb-install-db", "--user=root", "--datadir=" + self.data,
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, timeout=120)
        if r.returncode != 0:
            self.remove()
            raise S.Failure("mariadb-install-db: %s" % r.stderr[-500:])
        self.start()
        self.sql("CREATE DATABASE mail")
        with open(SCHEMA) as f:
            self.sql(f.read(), db="mail")
        for host in ("localhost", "127.0.0.1"):
            self.sql("CREATE USER %s@%s IDENTIFIED BY %s; "
                     "GRANT SELECT ON mail.* TO %s@%s"
                     % (lit(DB_USER), lit(host), lit(self.db_password),
                        lit(DB_USER), lit(host)))

    def hostspec(self):
        return "127.0.0.1:%d" % self.port if self.port else \
            "unix:" + self.sock

    def start(self):
        args = ["mariadbd", "--user=root", "--datadir=" + self.data,
                "--socket=" + self.sock, "--pid-file=" + self.pidfile,
                "--log-error=" + os.path.join(self.dir, "err.log"),
                "--innodb-buffer-pool-size=16M", "--max-connections=400"]
        if self.port:
            args += ["--port=%d" % self.port, "--bind-address=127.0.0.1"]
        else:
            args += ["--skip-networking"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise S.Failure("mariadbd exited: %s" % self.errlog()[-800:])
            if os.path.exists(self.sock) and subprocess.run(
                    ["mariadb", "--socket=" + self.sock, "-uroot",
                     "-e", "SELECT 1"], capture_output=True,
                    timeout=30).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise S.Failure("mariadbd not ready after 60 s: %s"
                                % self.errlog()[-800:])
            time.sleep(0.1)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM by the pid in its pid file (or the one we started);
        wait for it to go."""
        if not self.running():
            return
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pid = self.proc.pid
        check(pid == self.proc.pid, "mariadb pid file holds %d, we "
              "started %d" % (pid, self.proc.pid))
        os.kill(pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def remove(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def errlog(self):
        try:
            with open(os.path.join(self.dir, "err.log")) as f:
                return f.read()
        except OSError:
            return ""

    def sql(self, text, db=None):
        cmd = ["mariadb", "--socket=" + self.sock, "-uroot", "-N", "-B"]
        if db:
            cmd.append(db)
        r = subprocess.run(cmd, input=text.encode(), capture_output=True,
                           timeout=60)
        if r.returncode != 0:
            raise S.Failure("mariadb: %s" % r.stderr.decode()[-500:])
        return r.stdout.decode()

    def password_file(self, directory, mode=0o600):
        p = os.path.join(directory, "mysql-%s.pw" % secrets.token_hex(2))
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.db_password + "\n")
        os.chmod(p, mode)
        return p


def shared_db():
    """The socket server shared by this file's tests (and test_chain)."""
    db = _shared.get("db")
    if db is None:
        db = _shared["db"] = MariaDB()
        atexit.register(db.remove)
    elif not db.running():
        db.start()
    return db


QUERY = ("SELECT password, CONCAT('maildir:', %s, maildir) AS mail, active "
         "FROM mailbox WHERE username = %%u")


def mysql_section(env, db, hosts=None, query=None, extra=""):
    """The [mysql] section: the README's example, pointed at env."""
    pwfile = db.password_file(env.dir)
    q = query or QUERY % lit(env.mail + "/")
    return ("[mysql]\nhosts = %s\nuser = %s\npassword_file = %s\n"
            "database = mail\nquery = %s\nconnect_timeout = 3\n"
            "read_timeout = 5\n%s" % (hosts or db.hostspec(), DB_USER, pwfile,
                                      q, extra))


def add_mysql_user(env, dbs, local, password=S.DEFAULT_PASSWORD, active=1,
                   messages=(), maildir=True):
    """A postfixadmin mailbox row in each of dbs, with a Maildir made by
    the harness (env.add_user also puts the user in the passwd-file;
    tests that chain 'file mysql' remove it there)."""
    user = "%s@%s" % (local, S.DOMAIN)
    if maildir:
        env.add_user(local, password, messages=list(messages))
    pw = "{SHA512-CRYPT}" + S.sha512_crypt(password)
    for db in dbs:
        db.sql("INSERT INTO mailbox (username, password, name, maildir, "
               "local_part, domain, active) VALUES (%s, %s, %s, %s, %s, %s, "
               "%d)" % (lit(user), lit(pw), lit("Test " + local),
                        lit("%s/%s/" % (S.DOMAIN, local)), lit(local),
                        lit(S.DOMAIN), active), db="mail")
    return user


def clear_users(env, dbs):
    for db in dbs:
        db.sql("DELETE FROM mailbox", db="mail")
    env.users.clear()
    env.write_users()


def start_mysql(env, auth, sections, keep_file=False, **over):
    """env.start() with auth = AUTH and SECTIONS appended; drops the
    harness's [file] section unless the chain uses the file module.
    mail_uid/mail_gid: the query gives no uid, so the README's global
    setting (the vmail user) applies."""
    orig = S.Env.config_text

    def config_text(**o):
        t = orig(env, **o)
        if not keep_file:
            t = t.split("\n[file]\n")[0] + "\n"
        return t + "\n" + sections + "\n"

    env.config_text = config_text
    over.setdefault("mail_uid", env.mail_pw.pw_uid)
    over.setdefault("mail_gid", env.mail_pw.pw_gid)
    return env.start(auth=auth, **over)








def assert_tempfail(env, user, password=S.DEFAULT_PASSWORD):
    r = try_login(env, user, password, timeout=30)
    check(r.startswith("-ERR [SYS/TEMP]"), "login %s with the database "
          "down: want -ERR [SYS/TEMP], got %r" % (user, r))


def no_password_in_log(env, db, *passwords):
    log = env.log()
    for pw in passwords + (db.db_password,):
        check(pw not in log, "a password appears in the daemon log")


# ---- tests -------------------------------------------------------------

def test_mysql_logins(env):
    """Success (Maildir from the row), wrong password, unknown user,
    disabled account, injection attempts as user names."""
    need_mysql(env)
    db = shared_db()
    clear_users(env, [db])
    alice = add_mysql_user(env, [db], "alice", messages=[
        S.simple_message(1), S.simple_message(2)])
    off = add_mysql_user(env, [db], "disabled", active=0)
    start_mysql(env, "mysql", mysql_section(env, db))
    env.wait_log(r"mysql: query checked on the database", 5)
    assert_ok(env, alice, messages=2)
    env.wait_log(r"event=auth user=%s .*result=ok" % alice, 5)
    r = assert_refused(env, alice, "wrong-password")
    check("[AUTH]" in r, "wrong password: %r" % r)
    assert_refused(env, "nobody@" + S.DOMAIN)
    assert_refused(env, off)
    env.wait_log(r"account disabled in the database", 5)
    # SQL in the user name is data, never code.
    for bad in ("x' OR '1'='1", "' OR 1=1 -- ", "alice@test.example' -- ",
                "\" OR \"\"=\"", "x'; DROP TABLE mailbox; --",
                "alice@test.example\\"):
        assert_refused(env, bad, S.DEFAULT_PASSWORD)
    eq(db.sql("SELECT note FROM canary", db="mail").strip(), "still here",
       "canary table")
    eq(db.sql("SELECT COUNT(*) FROM mailbox", db="mail").strip(), "2",
       "mailbox rows")
    assert_ok(env, alice, messages=2)
    no_password_in_log(env, db, S.DEFAULT_PASSWORD)


def test_mysql_quoted_user(env):
    """A user name with an apostrophe (o'brien@...) is bound as a
    parameter and logs in.  Skipped while the daemon's user-name check
    (auth_user_valid) refuses "'" before any module is asked."""
    need_mysql(env)
    db = shared_db()
    clear_users(env, [db])
    db.sql("INSERT INTO mailbox (username, password, maildir, local_part, "
           "domain) VALUES (%s, %s, %s, %s, %s)" % (
               lit("o'brien@" + S.DOMAIN), lit("{PLAIN}Obrien-pw-7"),
               lit("%s/obrien/" % S.DOMAIN), lit("o'brien"), lit(S.DOMAIN)),
           db="mail")
    env.add_user("obrien", messages=[S.simple_message(1)])
    start_mysql(env, "mysql", mysql_section(env, db), log_level="debug")
    # A name with "=" and "-" reaches the module: it says "no such user".
    n0 = env.log().count("mysql: session=")
    assert_refused(env, "x=1--@" + S.DOMAIN)
    env.wait_log(r"mysql: session=\S+ no such user", 5)
    r = try_login(env, "o'brien@" + S.DOMAIN, "Obrien-pw-7")
    if r.startswith("+OK"):
        check(" | +OK 1 " in r, "STAT: %r" % r)
        return
    if env.log().count("mysql: session=") == n0 + 1:
        raise S.Skip("the daemon refuses \"'\" in user names before the "
                     "auth modules see them (auth_user_valid); got %r" % r)
    raise S.Failure("o'brien reached the module and failed: %r" % r)


def test_mysql_dovecot_schemes(env):
    """postfixadmin-era and Dovecot hashes in SQL rows, made by Dovecot's
    own doveadm pw: a bare $1$ md5crypt, {MD5-CRYPT}, {SSHA512},
    {PLAIN-MD5}, {ARGON2ID}; right password in, wrong refused."""
    need_mysql(env)
    S.ensure_tool("doveadm", "dovecot-core")
    db = shared_db()
    clear_users(env, [db])
    pw = "Pfa-pw-9"
    users = {}
    for scheme in ("bare-md5", "MD5-CRYPT", "SSHA512", "PLAIN-MD5",
                   "ARGON2ID"):
        r = subprocess.run(["doveadm", "-o", "log_path=/dev/null", "pw",
                            "-s", scheme.replace("bare-md5", "MD5-CRYPT"),
                            "-p", pw], capture_output=True, timeout=60)
        stored = r.stdout.decode().strip()
        check(r.returncode == 0 and stored.startswith("{"),
              "doveadm pw -s %s: %r" % (scheme, stored))
        if scheme == "bare-md5":
            stored = stored.split("}", 1)[1]
        local = "s-" + scheme.lower()
        user = "%s@%s" % (local, S.DOMAIN)
        env.add_user(local, messages=[S.simple_message(1)])
        db.sql("INSERT INTO mailbox (username, password, maildir, "
               "local_part, domain) VALUES (%s, %s, %s, %s, %s)" % (
                   lit(user), lit(stored), lit("%s/%s/" % (S.DOMAIN, local)),
                   lit(local), lit(S.DOMAIN)), db="mail")
        users[scheme] = user
    start_mysql(env, "mysql", mysql_section(env, db))
    for scheme, user in sorted(users.items()):
        r = try_login(env, user, pw, timeout=30)
        check(r.startswith("+OK") and " | +OK 1 " in r,
              "%s from SQL, right password: %r" % (scheme, r))
        assert_refused(env, user, pw + "x")


def test_mysql_dovecot_query(env):
    """A Dovecot password_query pasted as is: '%n' and '%d' quoted,
    userdb_ column names, a literal '%' (LIKE '%%')."""
    need_mysql(env)
    db = shared_db()
    clear_users(env, [db])
    bob = add_mysql_user(env, [db], "bob", messages=[S.simple_message(1)])
    add_mysql_user(env, [db], "carol", active=0)
    q = ("SELECT username AS user, password, CONCAT('maildir:%s/', maildir) "
         "AS userdb_mail FROM mailbox WHERE local_part = '%%n' AND "
         "domain = '%%d' AND active = '1' AND username LIKE '%%%%@%%%%'"
         % env.mail)
    start_mysql(env, "mysql", mysql_section(env, db, query=q))
    assert_ok(env, bob, messages=1)
    assert_refused(env, bob, "nope")
    assert_refused(env, "carol@" + S.DOMAIN)
    assert_refused(env, "bob@other.example")


def test_mysql_restart_and_down(env):
    """Restart the database mid-run: the next login works.  Stop it:
    [SYS/TEMP], never a wrong-password answer.  Start it: logins work."""
    need_mysql(env)
    db = shared_db()
    clear_users(env, [db])
    dave = add_mysql_user(env, [db], "dave", messages=[S.simple_message(1)])
    try:
        start_mysql(env, "mysql", mysql_section(env, db), auth_processes=1)
        assert_ok(env, dave, messages=1)
        db.stop()
        db.start()
        assert_ok(env, dave, messages=1)
        env.wait_log(r"database connection lost; reconnecting", 5)
        db.stop()
        assert_tempfail(env, dave)
        assert_tempfail(env, dave, "even-a-wrong-password")
        db.start()
        assert_ok(env, dave, messages=1)
        no_password_in_log(env, db, S.DEFAULT_PASSWORD)
    finally:
        if not db.running():
            db.start()


def test_mysql_failover(env):
    """hosts = the socket server, then a second server on TCP: when the
    first is down, logins go to the second."""
    need_mysql(env)
    db = shared_db()
    clear_users(env, [db])
    db2 = MariaDB(port=S.free_port(), db_password=db.db_password)
    try:
        erin = add_mysql_user(env, [db, db2], "erin",
                              messages=[S.simple_message(1)])
        only2 = add_mysql_user(env, [db2], "only2")
        start_mysql(env, "mysql", mysql_section(
            env, db, hosts="%s %s" % (db.hostspec(), db2.hostspec())),
            auth_processes=2)
        assert_ok(env, erin, messages=1)
        assert_refused(env, only2)          # the first server answers
        db.stop()
        assert_ok(env, only2)               # now the second one does
        assert_ok(env, erin, messages=1)
        env.wait_log(r"connected to 127\.0\.0\.1 port %d" % db2.port, 5)
        db2.stop()
        assert_tempfail(env, erin)          # both down
    finally:
        db2.remove()
        if not db.running():
            db.start()


def test_mysql_concurrent(env):
    """200 concurrent logins (4 auth processes, one connection each):
    every one gets +OK and the right STAT."""
    need_mysql(env)
    db = shared_db()
    clear_users(env, [db])
    users = []
    rows = []
    pw = "{SHA512-CRYPT}" + S.sha512_crypt(S.DEFAULT_PASSWORD)
    for i in range(200):
        local = "load%03d" % i
        env.add_user(local, messages=[S.simple_message(i)])
        users.append("%s@%s" % (local, S.DOMAIN))
        rows.append("(%s, %s, %s, %s, %s)" % (
            lit(users[-1]), lit(pw), lit("%s/%s/" % (S.DOMAIN, local)),
            lit(local), lit(S.DOMAIN)))
    db.sql("INSERT INTO mailbox (username, password, maildir, local_part, "
           "domain) VALUES " + ", ".join(rows), db="mail")
    start_mysql(env, "mysql", mysql_section(env, db), auth_processes=4,
                workers_max=260, workers_max_spare=64, workers_min_spare=16,
                max_connections_per_ip=0)
    results = [None] * len(users)
    go = threading.Event()

    def one(i):
        go.wait(10)
        try:
            results[i] = try_login(env, users[i], S.DEFAULT_PASSWORD,
                                   timeout=60)
        except Exception as e:  # noqa: BLE001
            results[i] = "exception: %r" % e

    threads = [threading.Thread(target=one, args=(i,)) for i in
               range(len(users))]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(80)
    bad = [(users[i], r) for i, r in enumerate(results)
           if r is None or not r.startswith("+OK") or " | +OK 1 " not in r]
    check(not bad, "%d of %d concurrent logins failed, e.g. %r"
          % (len(bad), len(users), bad[:3]))
    check(not re.search(r"mysql: session=\S+ (query|fetch):", env.log()),
          "database errors during the load")


def test_mysql_config_errors(env):
    """Refused at start, naming the key: a password_file readable by
    group or others; a %-sequence the module does not know; a query the
    database refuses (a column typo)."""
    need_mysql(env)
    db = shared_db()
    clear_users(env, [db])
    env.add_user("frank")
    env.port = S.free_port()
    cases = [
        ("password_file", lambda s: s),     # the file is made 0640 below
        ("query", lambda s: s.replace("%u", "%x")),
        ("query", lambda s: s.replace("SELECT password", "SELECT pasword")),
    ]
    for i, (key, edit) in enumerate(cases):
        sec = mysql_section(env, db)
        if i == 0:
            pwfile = sec.split("password_file = ")[1].split("\n")[0]
            os.chmod(pwfile, 0o640)
        orig = S.Env.config_text(env, auth="mysql",
                                 mail_uid=env.mail_pw.pw_uid,
                                 mail_gid=env.mail_pw.pw_gid)
        text = orig.split("\n[file]\n")[0] + "\n\n" + edit(sec) + "\n"
        path = env.write_config(path=os.path.join(env.dir, "bad%d.conf" % i),
                                text=text)
        r = subprocess.run([env.satcheld, "-t", "-c", path],
                           capture_output=True, timeout=30)
        out = (r.stdout + r.stderr).decode(errors="replace")
        check(r.returncode != 0, "satcheld -t accepted case %d (%s): %s"
              % (i, key, out[-500:]))
        check("key '%s'" % key in out,
              "case %d: the error does not name '%s': %s" % (i, key, out))
        check(db.db_password not in out, "DB password in the output")
    # And the good config passes -t.
    sec = mysql_section(env, db)
    orig = S.Env.config_text(env, auth="mysql", mail_uid=env.mail_pw.pw_uid,
                             mail_gid=env.mail_pw.pw_gid)
    path = env.write_config(path=os.path.join(env.dir, "good.conf"),
                            text=orig.split("\n[file]\n")[0] + "\n\n" + sec)
    r = subprocess.run([env.satcheld, "-t", "-c", path], capture_output=True,
                       timeout=30)
    check(r.returncode == 0, "satcheld -t refused the good config: %s"
          % (r.stdout + r.stderr).decode(errors="replace")[-800:])
