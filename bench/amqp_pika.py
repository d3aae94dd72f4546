#!/usr/bin/python3
"""The reference for bench/amqpbench: python3-pika publishing mailgw's AMQP
messages with publisher confirms the way fedora-messaging's api.publish
does (a BlockingConnection channel in confirm mode, one message at a time,
each publish returning once the broker confirmed it).

usage: amqp_pika.py URL MESSAGES.jsonl

MESSAGES.jsonl holds one message per line as amqpbench writes it (routing
key, base64 body, properties, headers). Prints "RATE msg/s".
"""
import base64
import json
import sys
import time

import pika


def main():
    url, path = sys.argv[1], sys.argv[2]
    msgs = []
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            props = pika.BasicProperties(
                content_type=m["content_type"], content_encoding=m["content_encoding"],
                delivery_mode=m["delivery_mode"], message_id=m["message_id"], app_id=m["app_id"],
                headers=m["headers"])
            msgs.append((m["routing_key"], base64.b64decode(m["body"]), props))
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.confirm_delivery()
    t0 = time.time()
    for key, body, props in msgs:
        ch.basic_publish(exchange="amq.topic", routing_key=key, body=body, properties=props)
    secs = time.time() - t0
    conn.close()
    print("%.1f msg/s" % (len(msgs) / secs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
