"""The rows of bench/run.py's table: each function measures one thing
--runs times and returns rows {name, value (median), unit, target, ok,
note, samples}. Ctx (run.py) gives the paths, options and sh()."""
import json
import os
import re
import socket
import statistics
import subprocess
import time

PY = "/usr/bin/python3"  # Debian's, with python3-zmq and python3-debian
BENCH = os.path.dirname(os.path.abspath(__file__))


def row(name, samples, unit, target=None, cmp=None, note=""):
    v = statistics.median(samples) if samples else None
    ok = None if cmp is None or v is None else cmp(v)
    return {"name": name, "value": v, "unit": unit, "target": target or "", "ok": ok,
            "note": note, "samples": samples}


def at_least(t):
    return lambda v: v >= t


def at_most(t):
    return lambda v: v <= t


def metric(out, bench, unit):
    """The values of a custom metric (e.g. "msgs/s") of go test -bench output."""
    vals = []
    for line in out.splitlines():
        if line.startswith(bench):
            m = re.search(r"([0-9.e+]+) %s(\s|$)" % re.escape(unit), line)
            if m:
                vals.append(float(m.group(1)))
    return vals


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def gotest(c, pkg, bench, cpu="1"):
    name = os.path.basename(pkg)
    return c.sh([os.path.join(c.bin, name + ".test"), "-test.run", "^$", "-test.bench", bench,
                 "-test.cpu", cpu, "-test.count", str(c.a.runs), "-test.benchtime", c.a.benchtime,
                 "-test.benchmem"], name + ".bench.log", cwd=os.path.join(os.path.dirname(BENCH), pkg))


def parse(c):
    out = gotest(c, "parsers", "^BenchmarkClassifyCorpus$")
    cpu = metric(out, "BenchmarkClassifyCorpus", "mails/cpu-s")
    wall = metric(out, "BenchmarkClassifyCorpus", "mails/s")
    allocs = metric(out, "BenchmarkClassifyCorpus", "allocs/op")
    return [row("parse only, 1 core (ClassifyCorpus)", cpu, "mails/cpu-s", ">= 30,000", at_least(30000),
                "wall %s mails/s; %.0f allocs/mail" % (f0(wall), statistics.median(allocs) if allocs else 0))]


def dry_run(c):
    mbox, rates, cpu = c.mbox(c.a.mails), [], []
    for _ in range(c.a.runs):
        out = c.sh(["/usr/bin/time", "-f", "cpu %U %S", c.mailgw, "replay", "--dry-run", "--no-progress", mbox],
                   "dryrun.log")
        rates += [float(x) for x in re.findall(r"([0-9.]+) mails/s", out)[-1:]]
        u, s = re.findall(r"^cpu ([0-9.]+) ([0-9.]+)$", out, re.M)[-1]
        cpu.append(float(u) + float(s))
    return [row("replay --dry-run (2 cores, %d mails)" % c.a.mails, rates, "mails/s", ">= 30,000",
                at_least(30000), "%s mails/cpu-s" % f0(c.a.mails / statistics.median(cpu)))]


def sign(c):
    out = gotest(c, "bus", "^BenchmarkSign(Ed25519|RSA3072)_4K$")
    return [row("sign only, Ed25519, 4 KiB msg, 1 core", metric(out, "BenchmarkSignEd25519_4K", "msgs/s"),
                "envs/s", ">= 20,000", at_least(20000)),
            row("sign only, RSA-3072, 4 KiB msg, 1 core", metric(out, "BenchmarkSignRSA3072_4K", "msgs/s"),
                "envs/s")]


def publish(c):
    out = gotest(c, "bus", "^BenchmarkZMQPublish4K$", cpu="2")
    zmq4 = metric(out, "BenchmarkZMQPublish4K", "msg/s")
    out = c.sh([PY, os.path.join(BENCH, "pyzmq_rate.py"), "-n", str(c.a.pyzmq_n), "--runs", str(c.a.runs)],
               "pyzmq.log")
    py = [float(x) for x in re.findall(r"^run \d+: ([0-9.]+) msg/s", out, re.M)]
    r = [row("publish 4 KiB, mailgw PUB (bus/zmtp) -> SUB", zmq4, "msg/s", ">= 50,000", at_least(50000)),
         row("publish 4 KiB, libzmq (pyzmq) PUB -> SUB", py, "msg/s")]
    if zmq4 and py:
        r[0]["note"] = "%.0f%% of libzmq" % (100 * statistics.median(zmq4) / statistics.median(py))
    return r


def key(c):
    """An Ed25519 key from mailgw keygen, and a GnuPG home holding it
    (looked up once per invocation: every e2e and reference run asks)."""
    if getattr(c, "signing_key", None):
        return c.signing_key
    k = os.path.join(c.work, "key.asc")
    if not os.path.exists(k):
        c.sh([c.mailgw, "keygen", "--secret", k, "--public",
              os.path.join(c.work, "key.pub.asc")], "setup.log")
    gh = os.path.join(c.work, "gnupg")
    if not os.path.isdir(gh):
        os.makedirs(gh, mode=0o700)
        c.sh(["gpg", "--homedir", gh, "--batch", "--import", k], "setup.log")
    out = c.sh(["gpg", "--homedir", gh, "--with-colons", "--list-secret-keys"], "setup.log")
    fpr = [l.split(":")[9] for l in out.splitlines() if l.startswith("fpr:")][0]
    c.signing_key = (k, gh, fpr)
    return c.signing_key


def counted(c, cmd, log, ep, save=None):
    """Runs cmd (a publisher that binds ep) with sub_count.py subscribed to
    ep; returns (subscriber result, seconds from cmd's start to the later
    of its exit and the last message received, cmd's output)."""
    sub_cmd = [PY, os.path.join(BENCH, "sub_count.py"), ep, "--idle", "1" if c.a.quick else "2"]
    if save:
        sub_cmd += ["--save", save]
    sub = subprocess.Popen(sub_cmd, stdout=subprocess.PIPE, text=True)
    assert sub.stdout.readline().strip() == "ready"
    try:
        t0 = time.time()
        out = c.sh(cmd, log)
        t1 = time.time()
        res = json.loads(sub.stdout.readline())
    finally:
        sub.kill()
        sub.wait()
    return res, max(t1, res["last"] or t1) - t0, out


def e2e_config(c, ep):
    state = os.path.join(c.work, "state")
    subprocess.run(["rm", "-rf", state], check=True)
    os.makedirs(state)
    cfg = os.path.join(c.work, "mailgw.toml")
    with open(cfg, "w") as f:
        # A high-water mark of 100,000 messages: the per-subscriber byte
        # bound (64 MiB) is what limits the queue then, as in a real
        # backfill into a slower consumer (the default, 10,000, drops
        # when the Python subscriber falls more than 10,000 behind).
        f.write('state_dir = "%s"\ngpg_signing_key = "%s"\nhigh_water_mark = 100000\n'
                '[endpoints]\nmailgw = ["%s"]\n' % (state, key(c)[0], ep))
    return cfg


def e2e(c):
    mbox = c.mbox(c.a.mails)
    mails, events, rss, cpu, subcpu, lost = [], [], [], [], [], 0
    frames = os.path.join(c.work, "e2e.frames")
    # Each end-to-end run is followed by one libzmq run on the envelopes
    # it published and, when the reference row is wanted too, by one
    # reference run: the ratios are then taken pair by pair (ratios()),
    # so that the VM's drift over the minutes of a run moves both sides.
    py, refs = [], ([] if wanted(c, "reference") else None)
    for i in range(c.a.runs):
        cmd = ["/usr/bin/time", "-v", c.mailgw, "replay", "--config", "CFG",
               "--publish", "--no-progress", "--wait-subscribers", "1", mbox]
        ep = "tcp://127.0.0.1:%d" % free_port()
        cmd[cmd.index("CFG")] = e2e_config(c, ep)
        res, secs, out = counted(c, cmd, "e2e.log", ep, save=frames if i == 0 else None)
        new = int(re.findall(r"events: (\d+) new", out)[-1])
        if not (res["count"] == res["distinct"] == new and res["bad"] == 0):
            lost += 1
        subcpu.append(res["cpu"])
        mails.append(c.a.mails / secs)
        events.append(new / secs)
        rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out).group(1)) / 1024)
        cpu.append(sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", out)))
        out = c.sh([PY, os.path.join(BENCH, "pyzmq_rate.py"), "--frames", frames, "-n",
                    str(min(c.a.pyzmq_n, 4 * new)), "--runs", "1"], "pyzmq.log")
        py += [float(x) for x in re.findall(r"^run \d+: ([0-9.]+) msg/s", out, re.M)]
        if refs is not None:
            refs.append(reference_run(c))
    c.e2e = {"mails": mails, "events": events, "libzmq": py, "new": new}
    note = "every event received, each once" if not lost else "%d runs LOST or duplicated events" % lost
    note += "; CPU-s: mailgw %.1f (%s mails/cpu-s), subscriber %.1f" % (
        statistics.median(cpu), f0(c.a.mails / statistics.median(cpu)), statistics.median(subcpu))
    r = [row("end to end: replay --publish, Ed25519, pyzmq SUB (%d mails)" % c.a.mails, mails, "mails/s",
             ">= 15,000", at_least(15000), note),
         row("end to end: events/s (%d events per run)" % new, events, "events/s"),
         row("end to end: peak RSS of mailgw replay", rss, "MiB")]
    if lost:
        r[0]["ok"] = False
    r.append(row("libzmq (pyzmq) PUB -> SUB of the same envelopes", py, "msg/s"))
    if refs is not None:
        c.ref_rows = reference_rows(c, refs)
    if c.a.profile:
        r.append(profile(c, mbox))
    return r


def serve_config(c, ep):
    """A config for a serve the end-to-end mbox is backfilled into: the
    e2e config plus its own SMTP, replay and admin ports, and subscriber
    queues that hold what a backfill has in flight (64 MiB, what replay
    --publish allows; docs/operations.md)."""
    cfg = e2e_config(c, ep)
    smtp, admin = free_port(), free_port()
    with open(cfg) as f:
        text = f.read()
    text = text.replace("high_water_mark = 100000\n", "high_water_mark = 100000\nsubscriber_queue_bytes = 67108864\n")
    text += ('[replay_endpoints]\nmailgw = "tcp://127.0.0.1:%d"\n[metrics]\nlisten = "127.0.0.1:%d"\n'
             '[smtp]\nlisten = "127.0.0.1:%d"\nlmtp_listen = ""\n' % (free_port(), admin, smtp))
    with open(cfg, "w") as f:
        f.write(text)
    return cfg, "127.0.0.1:%d" % smtp, admin


def serve_metric(admin, name):
    import urllib.request
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=2).read().decode()
    except OSError:
        return None
    m = re.search(r"^%s (\S+)$" % re.escape(name), body, re.M)
    return float(m.group(1)) if m else None


def serve_backfill(c):
    """mailgw replay --control of the end-to-end mbox into a running serve
    (its control socket), Ed25519-signed, into sub_count.py, which serve
    counts as a subscriber before the replay starts."""
    mbox = c.mbox(c.a.mails)
    mails, lost, cpu = [], 0, []
    for _ in range(c.a.runs):
        ep = "tcp://127.0.0.1:%d" % free_port()
        cfg, _, admin = serve_config(c, ep)
        log = open(os.path.join(c.logs, "serve_backfill.serve.log"), "a")
        serve = subprocess.Popen([c.mailgw, "serve", "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
        sub = subprocess.Popen([PY, os.path.join(BENCH, "sub_count.py"), ep, "--idle", "1" if c.a.quick else "2"],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert sub.stdout.readline().strip() == "ready"
            deadline = time.time() + 30
            while (serve_metric(admin, "mailgw_bus_subscribers") or 0) < 1:
                if time.time() > deadline or serve.poll() is not None:
                    raise RuntimeError("serve did not start or the subscriber did not connect")
                time.sleep(0.01)
            cpu0 = proc_cpu(serve.pid)
            t0 = time.time()
            out = c.sh([c.mailgw, "replay", "--config", cfg, "--control", "--no-progress", mbox], "serve_backfill.log")
            t1 = time.time()
            res = json.loads(sub.stdout.readline())
            cpu.append(proc_cpu(serve.pid) - cpu0)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait()
            serve.terminate()
            serve.wait(timeout=60)
            log.close()
        new = int(re.findall(r"events: (\d+) new", out)[-1])
        if not (res["count"] == res["distinct"] == new and res["bad"] == 0):
            lost += 1
        mails.append(c.a.mails / (max(t1, res["last"] or t1) - t0))
    note = "every event received, each once" if not lost else "%d runs LOST or duplicated events" % lost
    note += "; CPU-s of serve %.1f (%s mails/cpu-s)" % (statistics.median(cpu), f0(c.a.mails / statistics.median(cpu)))
    r = [row("replay into a running serve, Ed25519, pyzmq SUB (%d mails)" % c.a.mails, mails, "mails/s",
             ">= 15,000", at_least(15000), note)]
    if lost:
        r[0]["ok"] = False
    return r + serve_backfill_live(c, mbox)


def serve_backfill_live(c, mbox):
    """Live SMTP mail while a backfill runs in serve: bench/smtplatency
    sends debbugs mails at 100/s over 4 connections, starting once the
    replay is under way, and times each from its 250 to its event on the
    bus; the row is the median of the runs' 99th percentiles. A run counts
    only if the backfill was still running when the last live mail got
    its event (otherwise the live mail did not compete with it). The
    reference, in each run on the same serve before the replay starts: the
    same live load without a backfill, which tells the machine's limit
    from the backfill's share. Between the two, serve sees no live mail
    for longer than the engine's liveRecent (5 s), so the first live mail
    of each run comes after a quiet spell, as most live mail does in
    Debian's traffic (a mail every few seconds): its latency is a row of
    its own."""
    p99s, p50s, overlap, firsts = [], [], 0, []
    ref99, ref50 = [], []
    live = 30 if c.a.quick else 150
    for _ in range(c.a.runs):
        ep = "tcp://127.0.0.1:%d" % free_port()
        cfg, smtp_addr, admin = serve_config(c, ep)
        log = open(os.path.join(c.logs, "serve_backfill_live.serve.log"), "a")
        serve = subprocess.Popen([c.mailgw, "serve", "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
        replay = None
        try:
            deadline = time.time() + 30
            while serve_metric(admin, "mailgw_bus_subscribers") is None:
                if time.time() > deadline or serve.poll() is not None:
                    raise RuntimeError("serve did not start")
                time.sleep(0.01)
            out = c.sh([os.path.join(c.bin, "smtplatency"), "-smtp", smtp_addr, "-bus", ep, "-rate", "100",
                        "-n", str(live), "-conns", "4"], "serve_backfill_live.log")
            m = re.search(r"p50 (\S+)\s+p99 (\S+)", out)
            if m:
                ref50.append(dur_ms(m.group(1)))
                ref99.append(dur_ms(m.group(2)))
            time.sleep(5.5)  # no live mail for longer than liveRecent
            rlog = open(os.path.join(c.logs, "serve_backfill_live.log"), "a")
            replay = subprocess.Popen([c.mailgw, "replay", "--config", cfg, "--control", "--no-progress", mbox],
                                      stdout=rlog, stderr=subprocess.STDOUT)
            # Live mail starts once serve is journaling the backfill.
            deadline = time.time() + 30
            while (serve_metric(admin, 'mailgw_mails_received_total{mode="replay"}') or 0) < 1000:
                if time.time() > deadline or replay.poll() is not None:
                    raise RuntimeError("the backfill did not start")
                time.sleep(0.01)
            out = c.sh([os.path.join(c.bin, "smtplatency"), "-smtp", smtp_addr, "-bus", ep, "-rate", "100",
                        "-n", str(live), "-conns", "4"], "serve_backfill_live.log")
            still = replay.poll() is None
            if replay.wait(timeout=600) != 0:
                raise RuntimeError("replay --control failed (bench/out/logs/serve_backfill_live.log)")
            rlog.close()
        finally:
            if replay is not None and replay.poll() is None:
                replay.kill()
                replay.wait()
            serve.terminate()
            serve.wait(timeout=60)
            log.close()
        m = re.search(r"p50 (\S+)\s+p99 (\S+)", out)
        if m and still:
            overlap += 1
            p50s.append(dur_ms(m.group(1)))
            p99s.append(dur_ms(m.group(2)))
            first = re.search(r"^first mail: (\S+)$", out, re.M)
            if first:
                firsts.append(dur_ms(first.group(1)))
    note = "%d live mails at 100/s during the backfill, %d of %d runs overlapped it; p50 %s ms" % (
        live, overlap, c.a.runs, f0(statistics.median(p50s)) if p50s else "-")
    ref = "%d live mails at 100/s, same serve, before the backfill; p50 %s ms" % (
        live, f0(statistics.median(ref50)) if ref50 else "-")
    return [row("live SMTP 250 -> bus during that backfill, p99", p99s, "ms", "<= 100 ms", at_most(100), note),
            row("  the first live mail after 5 s without any, during that backfill", firsts, "ms", "<= 100 ms",
                at_most(100), "one a run (%s ms), the median; the engine then sees no live mail flowing" %
                " ".join(f0(v) for v in firsts)),
            row("  the same live mail without a backfill (reference), p99", ref99, "ms", note=ref)]


def proc_cpu(pid):
    """User+system CPU seconds of a running process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(c, mbox):
    prof = os.path.join(c.out, "cpu.prof")
    cmd = [os.path.join(c.bin, "replayprof"), "-config", "CFG", "-cpuprofile", prof, mbox]
    ep = "tcp://127.0.0.1:%d" % free_port()
    cmd[cmd.index("CFG")] = e2e_config(c, ep)
    res, secs, _ = counted(c, cmd, "profile.log", ep)
    top = c.sh(["go", "tool", "pprof", "-top", "-nodecount", "45", os.path.join(c.bin, "replayprof"), prof],
               "profile.log")
    with open(os.path.join(c.out, "profile-top.txt"), "w") as f:
        f.write(top)
    cum = c.sh(["go", "tool", "pprof", "-top", "-cum", "-nodecount", "120", os.path.join(c.bin, "replayprof"), prof],
               "profile.log")
    with open(os.path.join(c.out, "profile-cum.txt"), "w") as f:
        f.write(cum)
    return row("profiled replay (bench/out/profile-*.txt)", [c.a.mails / secs], "mails/s",
               note="%d events received" % res["count"])


def wanted(c, name):
    """Whether the row function name runs in this invocation (--only)."""
    return not c.a.only or name in c.a.only.split(",")


def reference_run(c):
    """One run of the reference: (mails/s, events/s, events, all received once)."""
    mbox = c.mbox(c.a.ref_mails)
    _, gh, fpr = key(c)
    ep = "tcp://127.0.0.1:%d" % free_port()
    cmd = [PY, os.path.join(BENCH, "reference", "reference.py"), mbox, ep, "--gpg-home", gh, "--key", fpr]
    res, secs, out = counted(c, cmd, "reference.log", ep)
    ref = json.loads(out.strip().splitlines()[-1])
    ok = res["count"] == res["distinct"] == ref["events"] and res["bad"] == 0
    return ref["mails"] / secs, ref["events"] / secs, ref["events"], ok


def reference_rows(c, runs):
    _, gh, _ = key(c)
    c.sh(["gpgconf", "--homedir", gh, "--kill", "gpg-agent"], "setup.log", check=False)
    c.ref = {"mails": [x[0] for x in runs]}
    lost = sum(1 for x in runs if not x[3])
    note = "%d events per run, every one received" % runs[-1][2] if not lost else "%d runs LOST events" % lost
    if hasattr(c, "e2e"):
        note += "; runs taken in turn with the end-to-end runs"
    return [row("reference: email+python-debian+gpg+pyzmq (%d mails)" % c.a.ref_mails, c.ref["mails"], "mails/s",
                note=note),
            row("reference: events/s", [x[1] for x in runs], "events/s")]


def reference(c):
    if hasattr(c, "ref_rows"):  # measured by e2e(), run for run
        return c.ref_rows
    return reference_rows(c, [reference_run(c) for _ in range(c.a.runs)])


def ratios(c):
    """The ratios run by run when the runs were taken in turn (e2e()), as
    the median of the per-run ratios; else the ratio of the medians."""
    e, ref = getattr(c, "e2e", None), getattr(c, "ref", None)

    def per_run(num, den, scale):
        if len(num) == len(den):
            return [scale * a / b for a, b in zip(num, den)], "median of %d runs taken in turn" % len(num)
        return [scale * statistics.median(num) / statistics.median(den)], "ratio of the medians"

    r = []
    if e and ref:
        xs, how = per_run(e["mails"], ref["mails"], 1)
        r.append(row("ratio: end to end / reference (mails/s)", xs, "x", ">= 50x", at_least(50), how))
    if e:
        xs, how = per_run(e["events"], e["libzmq"], 100)
        r.append(row("ratio: end to end / libzmq, same envelopes", xs, "%", ">= 15%", at_least(15), how))
    return r


def trust(c):
    """DKIM checking: one mail's check with its key cached (go test
    -bench), and replay --publish of an mbox whose DKIM-signed mails are
    signed afresh (mboxgen -dkim-key), keys served by bench/dkimdns on
    loopback, with DKIM checked and not checked, runs taken in turn."""
    out = gotest(c, "internal/auth", "^BenchmarkCheckCached$")
    r = [row("DKIM check, RSA-2048 key cached, 1 core (CheckCached)", metric(out, "BenchmarkCheckCached", "mails/cpu-s"),
             "mails/cpu-s", ">= 5,000", at_least(5000), "a 11 KiB debbugs mail, relaxed/relaxed")]
    key = os.path.join(c.work, "dkim.pem")
    mbox = os.path.join(c.work, "bench-dkim-%d.mbox" % c.a.mails)
    if not os.path.exists(mbox):
        c.sh([os.path.join(c.bin, "mboxgen"), "-n", str(c.a.mails), "-dkim-key", key, "-o", mbox + ".tmp"], "build.log")
        os.rename(mbox + ".tmp", mbox)
    dns = subprocess.Popen([os.path.join(c.bin, "dkimdns"), "-record", key + ".record"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        addr = dns.stdout.readline().split()[1]
        on, off, trusted = [], [], []
        for _ in range(c.a.runs):
            for checked, rates in ((True, on), (False, off)):
                ep = "tcp://127.0.0.1:%d" % free_port()
                cfg = e2e_config(c, ep)
                with open(cfg, "a") as f:
                    f.write('[trust]\ndkim = %s\ndns_resolver = "%s"\n'
                            '[trust.dak]\ndkim_domains = ["ftp-master.debian.org"]\n'
                            '[trust.debbugs]\ndkim_domains = ["bugs.debian.org"]\n' % (str(checked).lower(), addr))
                cmd = [c.mailgw, "replay", "--config", cfg, "--publish", "--no-progress", "--wait-subscribers", "1", mbox]
                res, secs, out = counted(c, cmd, "trust.log", ep)
                new = int(re.findall(r"events: (\d+) new", out)[-1])
                if not (res["count"] == res["distinct"] == new and res["bad"] == 0):
                    raise RuntimeError("events lost or duplicated (DKIM %s)" % checked)
                rates.append(c.a.mails / secs)
                if checked:
                    with open(os.path.join(c.work, "state", "journal.sqlite-bodies"), errors="replace") as f:
                        trusted.append(f.read().count('"by":"dkim:'))
        dns.stdin.close()
        queries = dns.stdout.read().strip()
    finally:
        dns.kill()
        dns.wait()
    if min(trusted) == 0:
        raise RuntimeError("no event trusted by DKIM: the signatures did not verify")
    note = "%d events trusted by DKIM per run; DNS %s in all" % (statistics.median(trusted), queries)
    r += [row("replay --publish, DKIM checked, keys cached (%d mails)" % c.a.mails, on, "mails/s", note=note),
          row("replay --publish, DKIM not checked (same mbox)", off, "mails/s"),
          row("ratio: DKIM checked / not checked", [100 * a / b for a, b in zip(on, off)], "%", ">= 80%",
              at_least(80), "median of %d runs taken in turn" % len(on))]
    return r


def smtp(c):
    env = dict(c.env, SMTP_MAILS=str(c.a.smtp_mails), LAT_MAILS=str(c.a.lat_mails), MAILGW_BIN=c.mailgw)
    out = c.sh([os.path.join(BENCH, "smtp_ingest.sh"), str(c.a.runs)], "smtp.log", env=env)
    rates = [float(x) for x in re.findall(r"= (\d+) mails/s", out)]
    m = re.search(r"p50 (\S+)\s+p99 (\S+)", out)
    p50, p99 = (dur_ms(m.group(1)), dur_ms(m.group(2))) if m else (None, None)
    return [row("SMTP ingest, smtp-source, 50 clients, 2 KiB", rates, "mails/s", ">= 2,000", at_least(2000),
                "acknowledged after fsync; %d mails per run" % c.a.smtp_mails),
            row("SMTP 250 -> bus at 500 mails/s, p99", [p99] if p99 is not None else [], "ms", "<= 100 ms",
                at_most(100), "p50 %s ms, %d mails" % (f0(p50), c.a.lat_mails))]


def smtpmix(c):
    """bench/smtpmix: serve taking the corpus mix over 50 SMTP connections
    (issue 19), the events counted by sub_count.py; after each serve run,
    the same client and mails against the two references (smtpmix
    -reference: go-smtp alone, DATA discarded; go-smtp handing the DATA
    to mailgw's spool), so the ratios are taken run by run. Each run in a
    fresh state directory, all removed at the end (see smtp_ingest.sh on
    why)."""
    work = os.path.join(c.work, "smtpmix.%d" % os.getpid())
    kinds = ("serve", "discard", "spool")
    rates, cpu = {k: [] for k in kinds}, {k: [] for k in kinds}  # mails/s; CPU ms a mail of the server
    drains, note = [], ""
    try:
        for i in range(c.a.runs):
            for kind in kinds:
                args = [os.path.join(c.bin, "smtpmix"), "-n", str(c.a.smtp_mails),
                        "-state", os.path.join(work, "%s.%d" % (kind, i))]
                if kind == "serve":
                    args += ["-mailgw", c.mailgw, "-key", key(c)[0], "-sub", os.path.join(BENCH, "sub_count.py"),
                             "-python", PY]
                else:
                    args += ["-reference", kind]
                out = c.sh(args, "smtpmix.log")
                rates[kind].append(float(re.search(r"= (\d+) mails/s", out).group(1)))
                cpu[kind].append(float(re.search(r"CPU [0-9.]+s \(([0-9.]+) ms a mail", out).group(1)))
                if kind != "serve":
                    continue
                drains.append(float(re.search(r"drain: last 250 -> last event (-?\d+) ms", out).group(1)))
                if i == 0:
                    note = re.search(r"^events: (expected \d+)", out, re.M).group(1) + " events per run, every one received once"
                    note += "; %s" % re.search(r"^mix: \d+ mails from \S+ \(\d+ bytes, ([0-9.]+ KiB a mail)", out, re.M).group(1)
    finally:
        subprocess.run(["rm", "-rf", work])

    def ms(kind):
        return "%s CPU %.3f ms a mail" % ("serve" if kind == "serve" else "server", statistics.median(cpu[kind]))

    turns = "median of %d runs taken in turn with serve's" % c.a.runs
    r = [row("SMTP, corpus mix, 50 clients, acknowledged (%d mails)" % c.a.smtp_mails, rates["serve"], "mails/s",
             ">= 3,000", at_least(3000), note + "; " + ms("serve")),
         row("SMTP, corpus mix: drain, last 250 -> last event", drains, "ms", note="the same runs"),
         row("SMTP, corpus mix: reference, go-smtp alone, DATA discarded", rates["discard"], "mails/s",
             note="%s; the same client and mails, runs taken in turn with serve's" % ms("discard")),
         row("SMTP, corpus mix: reference, go-smtp + mailgw's spool (fsync)", rates["spool"], "mails/s",
             note="%s; no pipeline, journal or bus" % ms("spool"))]
    for kind, name in (("spool", "go-smtp + spool"), ("discard", "go-smtp alone")):
        r.append(row("ratio: SMTP corpus mix, serve / %s" % name,
                     [100 * a / b for a, b in zip(rates["serve"], rates[kind])], "%",
                     note="%s; server CPU a mail, %s / serve: %.0f%% (medians)" % (
                         turns, name, 100 * statistics.median(cpu[kind]) / statistics.median(cpu["serve"]))))
    return r


def deliver(c):
    env = dict(c.env, MAILGW_BIN=c.mailgw)
    out = c.sh([os.path.join(BENCH, "deliver_latency.sh"), str(c.a.deliver_n)], "deliver.log", env=env)
    med = float(re.search(r"mailgw deliver: \d+ runs, median ([0-9.]+) ms", out).group(1))
    start = re.search(r"\(process start only\): \d+ runs, median ([0-9.]+) ms", out)
    return [row("mailgw deliver, process start + fsync", [med], "ms", "<= 10 ms", at_most(10),
                "median of %d; process start alone %s ms" % (c.a.deliver_n, start.group(1) if start else "?"))]


def rss_1g(c):
    env = dict(c.env, BENCH_DIR=c.work, MAILGW_BIN=c.mailgw, MBOXGEN_BIN=os.path.join(c.bin, "mboxgen"))
    out = c.sh([os.path.join(BENCH, "replay_rss.sh")], "rss.log", env=env, check=False)
    m = re.search(r"peak RSS: (\d+) MiB", out)
    if not m:
        raise RuntimeError("replay_rss.sh printed no peak RSS:\n" + out[-2000:])
    rate = re.findall(r"([0-9.]+) mails/s", out)
    return [row("replay --dry-run of a 1 GiB xz mbox, peak RSS", [int(m.group(1))] if m else [], "MiB",
                "<= 100 MiB", at_most(100), "%s mails/s" % (rate[-1] if rate else "?"))]


def websearch(c):
    """bench/websearch: /v2/search on a journal of a million envelopes
    (built once in work/websearch-N/, through the journal's API), one
    page per query, 4 at a time, against mailgw serve."""
    n = 20000 if c.a.quick else 1000000
    queries = 200 if c.a.quick else 2000
    path = os.path.join(c.work, "websearch-%d" % n, "journal.sqlite")
    topic, pkg, notes = [], [], ""
    for i in range(c.a.runs):
        out = c.sh([os.path.join(c.bin, "websearch"), "-mailgw", c.mailgw, "-journal", path,
                    "-events", str(n), "-n", str(queries)], "websearch.log")
        if i == 0:
            notes = "; ".join(l for l in out.splitlines() if l.startswith("journal:"))
        for kind, dst in (("topic", topic), ("package", pkg)):
            m = re.search(r"^%s: n=\d+ p50=([0-9.]+) ms p99=([0-9.]+) ms" % kind, out, re.M)
            dst.append((float(m.group(1)), float(m.group(2))))
    return [row("/v2/search, topic, one page, %d-event journal, p99" % n, [p for _, p in topic], "ms", "<= 50 ms",
                at_most(50), "p50 %.1f ms; %d queries per run, 4 at a time; %s" % (
                    statistics.median(m for m, _ in topic), queries, notes)),
            row("/v2/search, package, one page, %d-event journal, p99" % n, [p for _, p in pkg], "ms", "<= 50 ms",
                at_most(50), "p50 %.1f ms" % statistics.median(m for m, _ in pkg))]


def dur_ms(s):
    """A Go time.Duration string as milliseconds."""
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)(ns|µs|us|ms|s|m|h)", s):
        total += float(num) * {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4, "h": 3.6e6}[unit]
    return total


def f0(xs):
    if isinstance(xs, list):
        xs = statistics.median(xs) if xs else None
    return "-" if xs is None else "{:,.0f}".format(xs)


from rows_amqp import amqp  # noqa: E402  (it imports helpers from here)

ALL = [parse, dry_run, sign, publish, e2e, reference, ratios, serve_backfill, trust, smtp, smtpmix, deliver, amqp, websearch, rss_1g]
