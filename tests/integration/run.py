#!/usr/bin/env python3
"""Run Satchel's integration tests against a built tree.

    python3 tests/integration/run.py --builddir DIR [-k PATTERN] [-v]

Finds tests/integration/test_*.py, runs every function named test_* in
the order it is defined.  A test that takes an argument gets a fresh
satchel.Env (temporary directory, users, config; the test starts the
daemon with env.start(...)), cleaned up afterwards whatever happens.
Prints "ok/FAIL/skip NAME" per test and ends with one line
"integration: N passed, N failed, N skipped"; exits 1 if any failed.
Needs root (the daemon drops privileges, mail files belong to vmail).
"""
import argparse
import importlib.util
import inspect
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import satchel  # noqa: E402

TEST_TIMEOUT = 90       # seconds per test, whatever it does


class Timeout(Exception):
    pass


def on_alarm(sig, frame):
    raise Timeout("test took more than %d s" % TEST_TIMEOUT)


def discover(pattern):
    tests = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        name = fn[:-3]
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for attr, obj in list(vars(mod).items()):
            if attr.startswith("test_") and inspect.isfunction(obj) and \
                    obj.__module__ == name:
                full = "%s.%s" % (name, attr)
                if pattern is None or pattern in full:
                    tests.append((full, obj))
    return tests


def run_one(name, fn, verbose):
    env = None
    t0 = time.monotonic()
    signal.alarm(TEST_TIMEOUT)
    try:
        if inspect.signature(fn).parameters:
            env = satchel.Env()
            fn(env)
        else:
            fn()
        status, detail = "ok", ""
    except satchel.Skip as e:
        status, detail = "skip", str(e)
    except Exception as e:  # noqa: BLE001 -- any error fails the test
        status = "FAIL"
        detail = "%s: %s" % (type(e).__name__, e)
        if verbose or not isinstance(e, AssertionError):
            detail += "\n" + traceback.format_exc()
        if env is not None:
            detail += "\n--- daemon log (tail) ---\n" + env.log()[-3000:]
    finally:
        signal.alarm(0)
        if env is not None:
            try:
                env.cleanup()
            except Exception as e:  # noqa: BLE001
                if status == "ok":
                    status, detail = "FAIL", "cleanup: %s" % e
    return status, detail, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--builddir", required=True,
                    help="build directory holding satcheld and .libs/")
    ap.add_argument("-k", dest="pattern", help="run tests whose name "
                    "contains this string")
    ap.add_argument("-v", dest="verbose", action="store_true",
                    help="tracebacks for every failure")
    args = ap.parse_args()

    satchel.BUILDDIR = os.path.abspath(args.builddir)
    signal.signal(signal.SIGALRM, on_alarm)
    counts = {"ok": 0, "FAIL": 0, "skip": 0}
    if os.geteuid() != 0:
        tests = discover(args.pattern)
        for name, _ in tests:
            print("skip %s (integration tests need root)" % name)
        counts["skip"] = len(tests)
    elif not os.access(os.path.join(satchel.BUILDDIR, "satcheld"), os.X_OK):
        print("FAIL setup: no satcheld in %s" % satchel.BUILDDIR)
        counts["FAIL"] = 1
    else:
        t_all = time.monotonic()
        for name, fn in discover(args.pattern):
            status, detail, secs = run_one(name, fn, args.verbose)
            counts[status] += 1
            line = "%s %s (%.1f s)" % (status, name, secs)
            if status == "skip":
                line += ": " + detail
            print(line, flush=True)
            if status == "FAIL":
                for d in detail.rstrip().split("\n"):
                    print("    " + d)
                sys.stdout.flush()
        print("total time %.1f s" % (time.monotonic() - t_all))
    print("integration: %d passed, %d failed, %d skipped"
          % (counts["ok"], counts["FAIL"], counts["skip"]))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
