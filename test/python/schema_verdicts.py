#!/usr/bin/python3
"""Validate envelopes with Debian's python3-jsonschema against mailgw's schemas.

Usage: schema_verdicts.py SCHEMA_DIR < lines
Each input line is "NAME<TAB>ENVELOPE": NAME is the schema of the msg
("-" for none), ENVELOPE one envelope as JSON. Each output line is "valid"
or "invalid: <first error>". Only the schema files are read: every $ref
resolves among them, nothing is fetched.
"""
import json
import os
import sys

import jsonschema

DRAFT = jsonschema.Draft202012Validator


def load(directory):
    schemas = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                schemas[name[:-5]] = json.load(f)
    for doc in schemas.values():
        DRAFT.check_schema(doc)
    return schemas


def validators(schemas):
    """One validator per schema name, resolving $refs among the files."""
    try:
        from referencing import Registry, Resource  # jsonschema >= 4.18
        from referencing.jsonschema import DRAFT202012

        registry = Registry().with_resources(
            (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012))
            for doc in schemas.values())
        return {name: DRAFT(doc, registry=registry) for name, doc in schemas.items()}
    except ImportError:  # Debian 12: jsonschema 4.10
        store = {doc["$id"]: doc for doc in schemas.values()}
        return {name: DRAFT(doc, resolver=jsonschema.RefResolver.from_schema(doc, store=store))
                for name, doc in schemas.items()}


def first_error(validator, instance):
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    return "/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message


def main():
    vals = validators(load(sys.argv[1]))
    for line in sys.stdin:
        name, _, body = line.rstrip("\n").partition("\t")
        env = json.loads(body)
        err = first_error(vals["envelope"], env)
        if err is None and name != "-":
            err = first_error(vals[name], env.get("msg"))
        print("valid" if err is None else "invalid: " + err.replace("\n", " ")[:300])
        sys.stdout.flush()


if __name__ == "__main__":
    main()
