#!/usr/bin/env python3
"""Generates python-oracle.jsonl: CPython's own answers for the primitives the
record pipeline must reproduce (float repr, strptime + UTC formatting, lenient
b64decode, json.loads + both json.dumps forms). Deterministic for a seed.

    python3 tests/data/python_oracle.py | gzip -9 -n > tests/data/python-oracle.jsonl.gz

Weir's tests (tests/it/python_oracle.rs) read the output; they do not need Python.
"""
import base64
import binascii
import json
import random
import struct
import sys
from datetime import datetime, timezone

rng = random.Random(20261122)
out = sys.stdout


def emit(kind, **fields):
    fields["kind"] = kind
    out.write(json.dumps(fields, ensure_ascii=True, allow_nan=False) + "\n")


# float repr: random bit patterns, random decimals, edges.
floats = [0.0, -0.0, 1.0, 0.1, 1e16, 1e15, 9999999999999998.0, 1e-4, 1e-5, 5e-324,
          1.7976931348623157e308, 2.2250738585072014e-308, 123456789012345678.0]
for _ in range(3000):
    bits = rng.getrandbits(64)
    f = struct.unpack("<d", struct.pack("<Q", bits))[0]
    if f == f and f not in (float("inf"), float("-inf")):
        floats.append(f)
for _ in range(2000):
    floats.append(round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)))
    floats.append(rng.uniform(0, 1) * 10 ** rng.randint(-30, 30))
for f in floats:
    emit("float_repr", bits=struct.unpack("<Q", struct.pack("<d", f))[0], repr=repr(f), str=str(f))

# strptime: well-formed, near-miss and hostile date strings.
def rand_date():
    parts = [
        rng.choice(["2019", "0001", "9999", "1970", "0000", "20190", "٢٠١٩", "201"]),
        rng.choice(["-"]),
        rng.choice(["07", "7", "12", "13", "00", "1", "10", "02"]),
        "-",
        rng.choice(["04", "4", " 4", "29", "30", "31", "32", "00"]),
        rng.choice(["T", "t", " "]),
        rng.choice(["07", "7", "23", "24", "00"]),
        ":",
        rng.choice(["27", "2", "59", "60"]),
        ":",
        rng.choice(["35", "5", "59", "60", "61"]),
        rng.choice([".", ""]),
        rng.choice(["104", "1", "123456", "1234567", "", "4"]),
        rng.choice(["Z", "z", "+0000", "-0000", "+0100", "-0530", "+05:30", "+2359", "+2400",
                    "+01:0030", "+010030", "+01:00:30", "+01:00:30.5", "+0100:30", "", "+01", "Z\n", "+0000x"]),
    ]
    return "".join(parts)

fmt = "%Y-%m-%dT%H:%M:%S.%f%z"
for _ in range(4000):
    s = rand_date()
    try:
        d = datetime.strptime(s, fmt).astimezone(timezone.utc)
        text = d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if d.year < 1000:
            continue  # platform strftime differs for such years; see date.rs
        emit("strptime", text=s, ok=text)
    except (ValueError, OverflowError) as e:
        emit("strptime", text=s, error=type(e).__name__)

# b64decode: alphabet, padding and noise.
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
for _ in range(3000):
    n = rng.randint(0, 14)
    s = "".join(rng.choice(alphabet + "=== \n*-_.") for _ in range(n))
    try:
        emit("b64decode", text=s, hex=base64.b64decode(s).hex())
    except binascii.Error:
        emit("b64decode", text=s, error="binascii.Error")

# json: loads + dumps (ascii, insertion order) and the canonical form.
KEYS = ["a", "b", "$date", "_id", "é", "😀", "\u0000", "A", "aa", ""]
def rand_value(depth):
    r = rng.random()
    if depth > 3 or r < 0.45:
        return rng.choice([
            lambda: "null", lambda: "true", lambda: "false", lambda: "NaN", lambda: "Infinity",
            lambda: "-Infinity", lambda: str(rng.randint(-10**30, 10**30)), lambda: "-0",
            lambda: repr(rng.uniform(-1e20, 1e20)), lambda: "%de%d" % (rng.randint(-99, 99), rng.randint(-400, 400)),
            lambda: "1.5E+3", lambda: "-0.0", lambda: "0.1e1",
            lambda: json.dumps("".join(rng.choice(["a", "é", "\n", "\\", "\"", "😀", "\u2028", "\x7f", "\x01", "$"]) for _ in range(rng.randint(0, 5))), ensure_ascii=rng.random() < 0.5),
        ])()
    if r < 0.7:
        return "[" + ", ".join(rand_value(depth + 1) for _ in range(rng.randint(0, 4))) + "]"
    items = ['%s:%s' % (json.dumps(rng.choice(KEYS)), rand_value(depth + 1)) for _ in range(rng.randint(0, 5))]
    return "{" + ",".join(items) + "}"

for _ in range(3000):
    t = rand_value(0)
    if rng.random() < 0.1:
        t = t[: rng.randint(0, len(t))]  # truncated: usually an error
    try:
        v = json.loads(t)
    except ValueError:
        emit("json", text=t, error="ValueError")
        continue
    emit("json", text=t,
         ascii=json.dumps(v),
         canonical=json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True))
