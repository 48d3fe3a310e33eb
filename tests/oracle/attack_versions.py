#!/usr/bin/env python3
"""Independent oracle for the ATT&CK versioning figures asserted in src/node/cli_test.cc.

Works out, with nothing but Python's json module, what importing bundle B after bundle A must report
under STIX 2.1 versioning: (id, modified) already stored with equal content -> unchanged; with different
content -> conflict; an id already known with another modified -> new version; an unknown id -> new.

    tests/oracle/attack_versions.py ../shared/data/attack/mobile-attack-17.0.json ../shared/data/attack/mobile-attack-17.1.json
"""
import json
import sys


def objects(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["objects"]


def key(o):
    return o["id"], o.get("modified", o.get("created", ""))


def main(first, second):
    stored = {key(o): o for o in objects(first)}
    known_ids = {o["id"] for o in objects(first)}
    counts = dict(new=0, new_version=0, unchanged=0, conflict=0)
    for o in objects(second):
        k = key(o)
        if k in stored:
            counts["unchanged" if stored[k] == o else "conflict"] += 1
        elif o["id"] in known_ids:
            counts["new_version"] += 1
        else:
            counts["new"] += 1
    print(json.dumps({"first": len(stored), **counts}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
