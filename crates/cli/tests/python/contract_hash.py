#!/usr/bin/env python3
"""Independent contract hash: SHA-256 over Python rfc8785's canonical JSON of a contract
record exactly as served, without its own `contract_hash` field (clause 11.0
contract_chain.hash): nothing else is removed, so a field served inside the record that
its hash does not cover makes the hashes differ. Reads the record as JSON on stdin,
prints the lower-hex hash.

Exit code 3 when the rfc8785 module is missing (pip install -r requirements-test.txt).
"""
import hashlib
import json
import sys

try:
    import rfc8785
except ImportError:
    print("python module rfc8785 is missing: pip install -r requirements-test.txt", file=sys.stderr)
    sys.exit(3)

record = json.load(sys.stdin)
record.pop("contract_hash", None)
print(hashlib.sha256(rfc8785.dumps(record)).hexdigest())
