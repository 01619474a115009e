#!/usr/bin/env python3
"""Independent entry signer: builds a govmesh log entry (payload = RFC 8785 JSON of the
operation, by Python `rfc8785`) and signs it as a DSSE envelope with `securesystemslib`,
using the secret seed of a govmesh key file. Prints the envelope JSON.

Usage: sign_entry.py KEYFILE OPERATION_JSON
Exit code 3 when a module is missing (pip install -r requirements-test.txt).
"""
import base64
import hashlib
import json
import sys

try:
    import rfc8785
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner, SSlibKey
except ImportError as e:
    print(f"python module missing ({e}): pip install -r requirements-test.txt", file=sys.stderr)
    sys.exit(3)

ENTRY_PAYLOAD_TYPE = "application/vnd.govmesh.entry.v1+json"

keyfile = json.load(open(sys.argv[1]))
op = json.loads(sys.argv[2])
priv = Ed25519PrivateKey.from_private_bytes(base64.b64decode(keyfile["secret_seed"]))
raw = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
# govmesh key ids: lower-hex SHA-256 of the raw public key.
key = SSlibKey(hashlib.sha256(raw).hexdigest(), "ed25519", "ed25519", {"public": raw.hex()})
payload = dict(op, author=keyfile["node_id"])
env = Envelope(payload=rfc8785.dumps(payload), payload_type=ENTRY_PAYLOAD_TYPE, signatures={})
env.sign(CryptoSigner(priv, key))
print(json.dumps(env.to_dict()))
