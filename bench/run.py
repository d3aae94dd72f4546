#!/usr/bin/python3
"""mailgw benchmarks: one table, mailgw next to the fedmsg way and libzmq.

Run it through bench/run.sh (see docs/benchmarks.md). Every row is the
median of --runs runs (5 by default); raw numbers, logs and the table go
to bench/out/. The rows are produced by bench/rows.py; this file builds the
programs, generates the mboxes and prints the table.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 run of everything, small sizes (smoke test)")
    ap.add_argument("--runs", type=int, help="runs per row (default 5, --quick 1)")
    ap.add_argument("--mails", type=int, help="mails in the end-to-end and dry-run mbox (default 50000)")
    ap.add_argument("--ref-mails", type=int, help="mails in the reference's mbox (default 1000)")
    ap.add_argument("--profile", action="store_true", help="also write a CPU profile of the end-to-end replay")
    ap.add_argument("--no-rss-1g", action="store_true", help="skip the 1 GiB xz mbox peak-RSS row")
    ap.add_argument("--mailgw", help="use this mailgw binary instead of building one (before/after comparisons)")
    ap.add_argument("--only", help="comma-separated row functions of bench/rows.py (e.g. e2e,reference)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    a = ap.parse_args()
    q = a.quick
    a.runs = a.runs or (1 if q else 5)
    a.mails = a.mails or (3000 if q else 50000)
    a.ref_mails = a.ref_mails or (60 if q else 1000)
    a.benchtime = "300x" if q else "1s"
    a.pyzmq_n = 5000 if q else 100000
    a.smtp_mails, a.lat_mails = (1000, 300) if q else (20000, 5000)
    a.deliver_n = 10 if q else 200
    a.rss_1g = not (q or a.no_rss_1g)
    return a


class Ctx:
    """Paths and helpers shared by the row functions."""

    def __init__(self, a):
        self.a = a
        self.out = a.out
        self.bin = os.path.join(a.out, "bin")
        self.work = os.path.join(a.out, "work")
        self.logs = os.path.join(a.out, "logs")
        for d in (self.bin, self.work, self.logs):
            os.makedirs(d, exist_ok=True)
        self.env = dict(os.environ)
        self.env["PATH"] = "/usr/local/go/bin:" + self.env.get("PATH", "")
        self.mailgw = a.mailgw or os.path.join(self.bin, "mailgw")

    def sh(self, args, log=None, cwd=ROOT, env=None, check=True):
        """Runs args; stdout+stderr go to logs/LOG (appended) and are returned."""
        r = subprocess.run(args, cwd=cwd, env=env or self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors="replace")
        if log:
            with open(os.path.join(self.logs, log), "a") as f:
                f.write("$ %s\n%s\n" % (" ".join(args), r.stdout))
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (exit %d):\n%s" % (" ".join(args), r.returncode, r.stdout[-3000:]))
        return r.stdout

    def mbox(self, n):
        """A generated mbox of n mails from testdata/mails (kept in work/)."""
        path = os.path.join(self.work, "bench-%d.mbox" % n)
        if not os.path.exists(path):
            self.sh([os.path.join(self.bin, "mboxgen"), "-n", str(n), "-o", path + ".tmp"], "build.log")
            os.rename(path + ".tmp", path)
        return path


def build(c):
    progs = [("./cmd/mboxgen", "mboxgen"), ("./bench/dkimdns", "dkimdns"), ("./bench/websearch", "websearch"),
             ("./bench/smtpmix", "smtpmix"), ("./bench/smtplatency", "smtplatency")]
    if not c.a.mailgw:
        progs.append(("./cmd/mailgw", "mailgw"))
    if c.a.profile:
        progs.append(("./bench/replayprof", "replayprof"))
    for pkg, name in progs:
        c.sh(["go", "build", "-o", os.path.join(c.bin, name), pkg], "build.log")
    for pkg in ("parsers", "bus", "internal/auth"):
        c.sh(["go", "test", "-c", "-o", os.path.join(c.bin, os.path.basename(pkg) + ".test"), "./" + pkg], "build.log")


def fmt_num(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def table(results, header):
    lines = [header, ""]
    w = max(len(r["name"]) for r in results)
    lines.append("%-*s  %12s  %-10s  %-4s  %-14s  %s" % (w, "row", "median", "unit", "runs", "target", "ok / notes"))
    lines.append("-" * (w + 60))
    for r in results:
        ok = {True: "OK", False: "MISS", None: ""}[r.get("ok")]
        note = (ok + "  " + r.get("note", "")).strip()
        lines.append("%-*s  %12s  %-10s  %-4s  %-14s  %s" % (
            w, r["name"], fmt_num(r.get("value")), r.get("unit", ""), r.get("runs", ""),
            r.get("target", ""), note))
    return "\n".join(lines) + "\n"


def main():
    a = parse_args()
    c = Ctx(a)
    started = time.time()
    build(c)
    results = []
    for fn in rows.ALL:
        if (fn is rows.rss_1g and not a.rss_1g) or (a.only and fn.__name__ not in a.only.split(",")):
            continue
        t0 = time.time()
        try:
            got = fn(c)
        except Exception as e:  # a broken row is reported, the rest still runs
            got = [{"name": fn.__name__, "ok": False, "note": "FAILED: %s" % str(e).splitlines()[0][:200]}]
            with open(os.path.join(c.logs, "errors.log"), "a") as f:
                f.write("%s: %s\n" % (fn.__name__, e))
        for r in got:
            r.setdefault("runs", len(r.get("samples", [])) or "")
            results.append(r)
        print("# %s: %.0fs" % (fn.__name__, time.time() - t0), file=sys.stderr, flush=True)
    load = open("/proc/loadavg").read().split()[:3]
    header = "mailgw benchmarks, %s, %d CPUs, load average %s (at end), %s, %.0fs" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(), " ".join(load),
        "quick" if a.quick else "full", time.time() - started)
    text = table(results, header)
    with open(os.path.join(c.out, "table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(c.out, "results.json"), "w") as f:
        json.dump({"header": header, "rows": results}, f, indent=1)
    sys.stdout.write(text)
    return 1 if any(r.get("ok") is False and "FAILED" in r.get("note", "") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
