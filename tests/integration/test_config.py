"""satcheld -t: what the config check names, as file:line: key 'k':.

Issue 13 item 6: mail_location syntax, absolute paths, readable
certificate and key files, mail_uid/mail_gid by name, first_valid_gid;
and the reload's "restart satcheld to apply it" lines, which now come
from the key table (conf_restart_changed).
"""
import grp
import os
import signal
import subprocess

from satchel import check, eq, free_port, simple_message, wire

MSGS = [simple_message(1)]


def _check(env, text):
    """Run satcheld -t -c FILE on text: (path, exit status, output)."""
    path = os.path.join(env.dir, "check.conf")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([env.satcheld, "-t", "-c", path],
                       capture_output=True, timeout=30)
    return path, r.returncode, (r.stdout + r.stderr).decode("latin-1")


def _line_of(text, needle):
    for i, l in enumerate(text.split("\n")):
        if l.startswith(needle):
            return i + 1
    raise AssertionError("%r not in config" % needle)


def _refused(env, text, key, message):
    """-t must fail and print 'path:line: key 'key': message'."""
    path, rc, out = _check(env, text)
    check(rc != 0, "-t accepted %s: %r" % (key, out))
    want = "%s:%d: key '%s': %s" % (path, _line_of(text, key + " ="), key,
                                     message)
    check(want in out, "want %r in %r" % (want, out))
    check("configuration OK" not in out, "-t said OK: %r" % out)
    return out


def _accepted(env, text, what):
    path, rc, out = _check(env, text)
    eq(rc, 0, "-t on %s (output %r)" % (what, out))
    check("configuration OK" in out, "output: %r" % out)


def _setup(env):
    env.add_user("alice", messages=MSGS)
    env.port = free_port()


def test_config_mail_location_syntax(env):
    _setup(env)
    for value, message in (
            ("maildr:/var/vmail/%d/%n",
             "unknown storage driver 'maildr' (known: maildir mbox)"),
            ("/var/vmail/%d/%n", "want DRIVER:PATH"),
            ("maildir:var/vmail/%d/%n",
             "path 'var/vmail/%d/%n' is not absolute"),
            ("maildir:/var/vmail/%d/%x", "unknown %-sequence '%x'"),
            ("mbox:/var/mail/%", "unknown %-sequence '%'")):
        _refused(env, env.config_text(mail_location=value), "mail_location",
                 message)
    for value in ("maildir:%h/Maildir", "mbox:/var/mail/%u",
                  "maildir:/srv/mail/%d/%n%%x", "maildir:%s/%%d/%%n"
                  % env.mail):
        _accepted(env, env.config_text(mail_location=value), value)


def test_config_absolute_paths(env):
    _setup(env)
    for key, value in (("chroot", "var/lib/satchel/empty"),
                       ("module_dir", ".libs"),
                       ("pidfile", "satcheld.pid"),
                       ("tls_cert", "cert.pem"),
                       ("tls_key", "key.pem")):
        _refused(env, env.config_text(**{key: value}), key,
                 "'%s' is not an absolute path" % value)
    _refused(env, env.config_text(tls_sni="pop.example.org /dev/null "
                                  "relative.key"),
             "tls_sni", "key 'relative.key' is not an absolute path")


def test_config_unreadable_certificate(env):
    _setup(env)
    cert = os.path.join(env.dir, "cert.pem")
    key = os.path.join(env.dir, "key.pem")
    for p in (cert, key):
        with open(p, "w") as f:
            f.write("placeholder\n")
    missing = os.path.join(env.dir, "missing.pem")
    listen = "127.0.0.1:%d\nlisten = 127.0.0.1:%d tls" % (env.port,
                                                          free_port())
    out = _refused(env, env.config_text(listen=listen, tls_cert=missing,
                                        tls_key=key),
                   "tls_cert", "cannot read %s: No such file or directory"
                   % missing)
    check("error:" not in out and "system library" not in out,
          "a raw OpenSSL error is still printed: %r" % out)
    _refused(env, env.config_text(listen=listen, tls_cert=cert,
                                  tls_key=missing),
             "tls_key", "cannot read %s: No such file or directory" % missing)
    d = os.path.join(env.dir, "a-directory")
    os.mkdir(d)
    _refused(env, env.config_text(listen=listen, tls_cert=d, tls_key=key),
             "tls_cert", "cannot read %s: Is a directory" % d)
    text = env.config_text(listen=listen, tls_cert=cert, tls_key=key,
                           tls_sni="pop.example.org %s %s" % (cert, missing))
    _refused(env, text, "tls_sni", "cannot read %s" % missing)
    # the daemon itself gives the same line, not OpenSSL's
    env.write_config(listen=listen, tls_cert=missing, tls_key=key)
    r = subprocess.run([env.satcheld, "-F", "-c", env.conf_path],
                       capture_output=True, timeout=30)
    err = r.stderr.decode("latin-1")
    check(r.returncode != 0, "satcheld started without its certificate")
    check("key 'tls_cert': cannot read %s" % missing in err,
          "start error: %r" % err)


def test_config_mail_uid_gid_by_name(env):
    user = env.add_user("alice", messages=MSGS)
    env.port = free_port()
    uname = env.mail_pw.pw_name
    gname = grp.getgrgid(env.mail_pw.pw_gid).gr_name
    _refused(env, env.config_text(mail_uid="no-such-user-satchel"),
             "mail_uid", "unknown user 'no-such-user-satchel'")
    _refused(env, env.config_text(mail_gid="no-such-group-satchel"),
             "mail_gid", "unknown group 'no-such-group-satchel'")
    _refused(env, env.config_text(mail_uid="4294967295"), "mail_uid",
             "want a number from 0 to 4294967294 or a user name")
    _accepted(env, env.config_text(mail_uid=uname, mail_gid=gname),
              "mail_uid/mail_gid by name")
    # The names really resolve: the agent runs as that user and serves
    # the mailbox.  The passwd-file gives uid and gid per user, so use a
    # user without them (the file module falls back on mail_uid).
    with open(env.users_path) as f:
        line = f.read().strip()
    fields = line.split(":")
    fields[2], fields[3] = "", ""
    with open(env.users_path, "w") as f:
        f.write(":".join(fields) + "\n")
    env.start(mail_uid=uname, mail_gid=gname)
    with env.session(user) as p:
        eq(p.cmd("RETR 1")[:3], "+OK", "RETR 1 with mail_uid by name")
        eq(p.raw_multiline(), wire(MSGS[0]), "RETR 1 body")
        p.cmd("QUIT")


def test_config_first_valid_gid(env):
    _setup(env)
    _accepted(env, env.config_text(first_valid_gid="0"), "first_valid_gid 0")
    _accepted(env, env.config_text(first_valid_gid="1000"),
              "first_valid_gid 1000")
    _refused(env, env.config_text(first_valid_gid="wheel"),
             "first_valid_gid", "want a number from 0 to 4294967295, "
             "not 'wheel'")


def test_reload_names_keys_that_need_a_restart(env):
    _setup(env)
    env.start(workers_max=20, workers_max_spare=5)
    p2 = free_port()
    env.write_config(listen="127.0.0.1:%d\nlisten = 127.0.0.1:%d"
                     % (env.port, p2), workers_max=40)
    mark = len(env.log())
    env.signal(signal.SIGHUP)
    env.wait_log(r"reloaded: generation 1", 5, mark)
    log = env.log()[mark:]
    for key in ("listen", "workers_max"):
        check("'%s' changed: restart satcheld to apply it" % key in log,
              "no restart line for %s in %r" % (key, log))
    check("'pidfile' changed" not in log, "pidfile reported: %r" % log)
    # lowering workers_max again is applied without a restart
    env.write_config(listen="127.0.0.1:%d\nlisten = 127.0.0.1:%d"
                     % (env.port, p2), workers_max=10)
    mark = len(env.log())
    env.signal(signal.SIGHUP)
    env.wait_log(r"reloaded: generation 2", 5, mark)
    check("restart satcheld" not in env.log()[mark:],
          "lowering workers_max asked for a restart: %r" % env.log()[mark:])
