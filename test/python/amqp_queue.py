#!/usr/bin/python3
"""A python3-pika consumer of mailgw's AMQP outlet, for the end-to-end tests.

usage: amqp_queue.py URL declare EXCHANGE QUEUE BINDING...
       amqp_queue.py URL consume QUEUE COUNT IDLE_SECONDS
       amqp_queue.py URL ids QUEUE COUNT IDLE_SECONDS

declare: declares EXCHANGE (a durable topic exchange; amq.topic exists
already) and the durable QUEUE bound to it with each BINDING, as a
consumer of mailgw's events does (docs/amqp.md).

consume: reads QUEUE until COUNT messages arrived or none came for
IDLE_SECONDS, acknowledging each, and prints one JSON line per message:
{"routing_key", "exchange", "redelivered", "body" (base64 of the bytes),
"properties": {content_type, content_encoding, delivery_mode, priority,
message_id, app_id}, "headers": {name: [python type name, value]},
"fm_errors": [...]}. fm_errors lists what a fedora-messaging consumer
using its base Message class would object to: the headers checked against
fedora-messaging's header schema (with python3-jsonschema) and the body
decoded with content_encoding and parsed as a JSON object.

ids: as consume, but prints only each message's message_id, one a line
(for queues of many thousands).
"""
import base64
import json
import sys

import jsonschema
import pika

# fedora-messaging's base schema for headers (fedora_messaging/message.py,
# Message.headers_schema; the names and types, re-stated here).
HEADERS_SCHEMA = {
    "type": "object",
    "properties": {
        "fedora_messaging_severity": {"type": "number", "enum": [10, 20, 30, 40]},
        "fedora_messaging_schema": {"type": "string"},
        "fedora_messaging_schema_package": {"type": "string"},
        "sent-at": {"type": "string"},
    },
    # wire-format.rst: the three headers every message must have.
    "required": ["fedora_messaging_severity", "fedora_messaging_schema", "sent-at"],
}


HEADERS_VALIDATOR = jsonschema.Draft4Validator(HEADERS_SCHEMA)


def fm_errors(props, body):
    errs = ["headers: %s" % e.message for e in HEADERS_VALIDATOR.iter_errors(props.headers or {})]
    try:
        msg = json.loads(body.decode(props.content_encoding or "utf-8"))
        if not isinstance(msg, dict):
            errs.append("body is not a JSON object")
    except ValueError as e:
        errs.append("body: %s" % e)
    return errs


def kind(v):
    """The JSON-ish type of a header value as pika decoded it (pika's
    64-bit integers are a subclass of int)."""
    for t in (bool, int, str, bytes, float):
        if isinstance(v, t):
            return t.__name__
    return type(v).__name__


def declare(ch, exchange, queue, bindings):
    if exchange != "amq.topic":
        ch.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    ch.queue_declare(queue=queue, durable=True)
    for b in bindings:
        ch.queue_bind(queue=queue, exchange=exchange, routing_key=b)


def consume(ch, queue, count, idle, ids_only):
    n = 0
    for method, props, body in ch.consume(queue, inactivity_timeout=idle):
        if method is None:
            break
        n += 1
        ch.basic_ack(method.delivery_tag)
        if ids_only:
            print(props.message_id)
            if n >= count:
                break
            continue
        headers = {k: [kind(v), v if not isinstance(v, bytes) else v.decode("latin-1")]
                   for k, v in (props.headers or {}).items()}
        print(json.dumps({
            "routing_key": method.routing_key,
            "exchange": method.exchange,
            "redelivered": method.redelivered,
            "body": base64.b64encode(body).decode("ascii"),
            "properties": {
                "content_type": props.content_type,
                "content_encoding": props.content_encoding,
                "delivery_mode": props.delivery_mode,
                "priority": props.priority,
                "message_id": props.message_id,
                "app_id": props.app_id,
            },
            "headers": headers,
            "fm_errors": fm_errors(props, body),
        }))
        if n >= count:
            break
    ch.cancel()
    sys.stdout.flush()


def main():
    url, cmd = sys.argv[1], sys.argv[2]
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    if cmd == "declare":
        declare(ch, sys.argv[3], sys.argv[4], sys.argv[5:])
    elif cmd in ("consume", "ids"):
        ch.basic_qos(prefetch_count=1000)
        consume(ch, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), cmd == "ids")
    else:
        sys.exit("unknown command " + cmd)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
