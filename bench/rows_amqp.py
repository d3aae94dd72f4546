"""The AMQP rows of bench/run.py's table (docs/amqp.md): bench/amqpbench
runs a private RabbitMQ from Debian's rabbitmq-server and measures, side
by side in one run, replay --publish without and with [amqp], and the AMQP
outlet publishing with confirms next to python3-pika doing the same."""
import os
import re
import statistics

from rows import BENCH, at_least, key, row


def amqp(c):
    """Needs rabbitmq-server and python3-pika (test/install-deps.sh)."""
    prog = os.path.join(c.bin, "amqpbench")
    c.sh(["go", "build", "-o", prog, "./bench/amqpbench"], "build.log")
    mails = 2000 if c.a.quick else 20000
    out = c.sh([prog, "-mailgw", c.mailgw, "-key", key(c)[0], "-pika", os.path.join(BENCH, "amqp_pika.py"),
                "-runs", str(c.a.runs), "-pika-n", "300" if c.a.quick else "0", c.mbox(mails)], "amqp.log")

    def rates(pattern):
        return [float(x) for x in re.findall(pattern, out, re.M)]

    plain, plain_exit = rates(r"^replay plain ([0-9.]+) mails/s"), rates(r"^replay plain .* to exit ([0-9.]+)")
    withq, with_exit = rates(r"^replay amqp ([0-9.]+) mails/s"), rates(r"^replay amqp .* to exit ([0-9.]+)")
    plain_cpu, with_cpu = rates(r"^replay plain .* cpu ([0-9.]+)"), rates(r"^replay amqp .* cpu ([0-9.]+)")
    mailgw, pika = rates(r"^publish mailgw ([0-9.]+) msg/s"), rates(r"^publish pika ([0-9.]+) msg/s")

    # Runs are taken in turn; each ratio is the median of the per-run ratios.
    def ratio(a, b, scale=100):
        return [scale * x / y for x, y in zip(a, b)]

    how = "median of %d runs taken in turn" % len(plain)
    return [
        row("AMQP: outlet publishing with confirms, durable queue", mailgw, "msg/s", note="corpus events, headers as sent"),
        row("AMQP: python3-pika, confirms, one at a time", pika, "msg/s",
            note="as fedora-messaging's api.publish; the same messages" + ("" if c.a.quick else ", all of them, into the same empty queue")),
        row("ratio: AMQP outlet / pika", ratio(mailgw, pika, 1), "x", ">= 5x", at_least(5), how),
        row("replay --publish (%d mails), AMQP off" % mails, plain_cpu, "mails/cpu-s",
            note="wall: its own rate %.0f mails/s" % statistics.median(plain)),
        row("replay --publish (%d mails), AMQP on" % mails, with_cpu, "mails/cpu-s",
            note="wall: its own rate %.0f, to exit with every event confirmed %.0f (off: %.0f) mails/s" % (
                statistics.median(withq), statistics.median(with_exit), statistics.median(plain_exit))),
        row("ratio: replay --publish with AMQP / without", ratio(with_cpu, plain_cpu), "%", ">= 80%", at_least(80),
            how + ", per CPU-second of mailgw (the broker runs beside it here); wall clock: own rate %.0f%%, "
            "to exit %.0f%%" % (statistics.median(ratio(withq, plain)), statistics.median(ratio(with_exit, plain_exit)))),
    ]
