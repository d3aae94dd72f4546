#!/usr/bin/python3
"""Generate bus/testdata/canonical_table.json: inputs and the bytes that
Python's json.dumps(v, sort_keys=True, separators=(',', ':')) (fedmsg's
canonical form, ensure_ascii on) makes of them.

The Go test TestCanonicalPythonTable compares bus.Canonical with every
row. Inputs are random but seeded, so a rerun gives the same file:

    /usr/bin/python3 test/python/canonical_table.py > bus/testdata/canonical_table.json

Floats are compared live against /usr/bin/python3 by
TestCanonicalFloatsPython instead (12,000 random doubles a run). Lone
surrogates are left out because a Go string cannot hold one.
"""

import json
import random
import sys

SEED = 20261127
CASES = 600

# Character pools, each a list of (lo, hi) code point ranges.
POOLS = [
    [(0x20, 0x7E)],                      # printable ASCII
    [(0x00, 0x1F), (0x7F, 0x7F)],        # controls and DEL
    [(0x80, 0xFF)],                      # C1 and Latin-1
    [(0x100, 0x2FFF)],                   # BMP, scripts and symbols
    [(0x2028, 0x2029), (0xFEFF, 0xFEFF), (0xFFFD, 0xFFFF)],  # oddities
    [(0xE000, 0xFFFF)],                  # BMP above the surrogates
    [(0x10000, 0x1FFFF)],                # astral, emoji
    [(0x20000, 0x10FFFF)],               # astral, up to the last code point
    [(ord(c), ord(c)) for c in '"\\/<>&\b\f\n\r\t'],  # escapes
]


def rand_char(r):
    lo, hi = r.choice(r.choice(POOLS))
    return chr(r.randint(lo, hi))


def rand_str(r, n=None):
    if n is None:
        n = r.choice([0, 1, 2, 3, 5, 8, 13, 40])
    return "".join(rand_char(r) for _ in range(n))


def rand_int(r):
    return r.choice([
        0, 1, -1, r.randint(-1000, 1000), r.randint(-2**63, 2**63 - 1),
        2**63 - 1, -2**63, 2**64 - 1, r.randint(2**64, 2**100), -r.randint(2**64, 2**100),
    ])


def rand_value(r, depth):
    kinds = ["str", "int", "bool", "null"]
    if depth < 4:
        kinds += ["list", "dict", "dict"]
    k = r.choice(kinds)
    if k == "str":
        return rand_str(r)
    if k == "int":
        return rand_int(r)
    if k == "bool":
        return r.random() < 0.5
    if k == "null":
        return None
    if k == "list":
        return [rand_value(r, depth + 1) for _ in range(r.randint(0, 5))]
    return {rand_str(r, r.randint(0, 6)): rand_value(r, depth + 1) for _ in range(r.randint(0, 6))}


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def main():
    r = random.Random(SEED)
    rows = []
    fixed = [
        {"s": "\u00e9\U0001F600\x7f\x1f\n\t\"\\/<>&\u2028"},
        {"b": 1, "B": 2, "a": 3, "\u00e9": 4, "z": 5, "_": 6, "1": 7},
        {"\uffff": 1, "\U00010000": 2, "\ue000": 3, "\U0010ffff": 4},
        ["", "\x00", "\U0010ffff", 10**30, -0],
    ]
    for v in fixed:
        rows.append({"input": v, "output": canonical(v)})
    while len(rows) < CASES:
        v = rand_value(r, 0)
        if r.random() < 0.3:
            v = {rand_str(r, 3): v, "k": rand_str(r, 20)}
        rows.append({"input": v, "output": canonical(v)})
    # One row per line keeps regenerated diffs readable.
    out = sys.stdout
    out.write('{"generator":"test/python/canonical_table.py","seed":%d,"python":%s,"rows":[\n'
              % (SEED, json.dumps(sys.version.split()[0])))
    out.write(",\n".join(json.dumps(row, sort_keys=True) for row in rows))
    out.write("\n]}\n")


if __name__ == "__main__":
    main()
