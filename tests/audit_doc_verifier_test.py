#!/usr/bin/env python3
"""The independent verifier printed in docs/audit.md, run against an audit file the real `concord` wrote.

Usage: audit_doc_verifier_test.py CONCORD DOCS_AUDIT_MD

The log holds entries of both stored forms of object_ids: JSON text (what audit files before version 4 hold,
written here as such a Concord did) and packed (version 4), with ids of a standard type (a type code) and a
custom one (verbatim). The documented script must agree with `concord audit verify` on an intact log and
report the altered entry, as `concord audit verify` does, after each kind of tampering.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

CONCORD, DOC = sys.argv[1], sys.argv[2]
BUNDLE = {
    "type": "bundle",
    "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
    "objects": [
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
         "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
         "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"},
        {"type": "x-acme-widget", "spec_version": "2.1", "id": "x-acme-widget--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
         "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "w"},
    ],
}
failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


def run(*args):
    return subprocess.run([CONCORD, *args], capture_output=True, text=True)


def tamper(path, sql, params=()):
    db = sqlite3.connect(path)
    db.executescript("DROP TRIGGER IF EXISTS audit_log_no_update;")
    db.execute(sql, params)
    db.commit()
    db.close()


def verify_doc(script, path):
    out = subprocess.run([sys.executable, script, path], capture_output=True, text=True)
    return (out.stdout + out.stderr).strip()


with tempfile.TemporaryDirectory() as work:
    doc = open(DOC, encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    verifier = [b for b in blocks if "Re-verifies a Concord audit log" in b]
    check("verifier blocks in the doc", len(verifier), 1)
    script = os.path.join(work, "verify.py")
    open(script, "w", encoding="utf-8").write(verifier[0])

    db = os.path.join(work, "n.db")
    audit = os.path.join(work, "n.audit.db")
    bundle = os.path.join(work, "b.json")
    json.dump(BUNDLE, open(bundle, "w"))
    check("import", run("import", "--db", db, "--quiet", bundle).returncode, 0)
    check("export 1", run("export", "--db", db, "-o", os.path.join(work, "1.json")).returncode, 0)
    # Entry 1 (the import's write) as a Concord before audit file version 4 stored it: JSON text.
    conn = sqlite3.connect(audit)
    conn.executescript("DROP TRIGGER IF EXISTS audit_log_no_update;")
    conn.execute("UPDATE audit_log SET object_ids = ? WHERE seq = 1",
                 (json.dumps([o["id"] for o in BUNDLE["objects"]], separators=(",", ":")),))
    conn.commit()
    conn.close()
    check("export 2", run("export", "--db", db, "-o", os.path.join(work, "2.json")).returncode, 0)
    check("org add", run("org", "add", "--db", db, "ACME").returncode, 0)
    conn = sqlite3.connect(audit)
    check("stored forms", conn.execute("SELECT group_concat(typeof(object_ids)) FROM audit_log").fetchone()[0],
          "text,blob,blob,blob")  # import, export, export, org add
    conn.close()

    concord_verify = json.loads(run("audit", "verify", "--db", db, "--json").stdout)
    check("concord verify", concord_verify["intact"], True)
    head = concord_verify["head"]
    check("doc verifier, intact", verify_doc(script, audit),
          f"audit log intact: 4 entries, head 4 {head['hash']}")

    cases = [
        ("a UUID byte changed in a packed entry",
         "UPDATE audit_log SET object_ids = CAST(substr(object_ids, 1, 5) || X'00' || substr(object_ids, 7) AS BLOB) "
         "WHERE seq = 2", "broken at entry 2: altered"),
        ("a packed entry cut short", "UPDATE audit_log SET object_ids = X'0107AABB' WHERE seq = 2",
         "broken at entry 2: altered (object_ids)"),
        ("an unknown type code", "UPDATE audit_log SET object_ids = X'01FF' || zeroblob(16) WHERE seq = 3",
         "broken at entry 3: altered (object_ids)"),
        ("a JSON entry changed", "UPDATE audit_log SET object_ids = '[]' WHERE seq = 1", "broken at entry 1: altered"),
        ("bytes that are not UTF-8 in a text column", "UPDATE audit_log SET user_name = CAST(X'FF' AS TEXT) WHERE seq = 3",
         "broken at entry 3: altered"),
    ]
    for name, sql, want in cases:
        copy = os.path.join(work, "t.audit.db")
        shutil.copy(audit, copy)
        tamper(copy, sql)
        got = verify_doc(script, copy)
        check(f"doc verifier, {name}", got, want)
        # The same file through Concord: it reports the same entry as altered.
        shutil.copy(copy, os.path.join(work, "t2.audit.db"))
        concord = json.loads(run("audit", "verify", "--db", os.path.join(work, "t2.db"), "--json").stdout)
        check(f"concord verify, {name}", (concord["intact"], concord.get("bad_seq"), concord.get("problem")),
              (False, int(want.split()[3].rstrip(":")), "altered"))

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("the documented verifier agrees with concord audit verify")
