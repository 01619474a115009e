"""Checks govmesh DSSE envelopes with `securesystemslib`, and signs one for Rust to check.

Usage: dsse_crosscheck.py IN OUT. IN is a JSON object:
  {"verify": [{"name", "public_key_hex", "keyid", "envelope"}],
   "sign": {"seed_hex", "keyid", "payload_type", "payload_hex"}}
OUT receives {"verify": [{"name", "verified", "error"}], "signed": envelope}.
Exit code 3: a module is missing.
"""

import json
import sys

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner, SSlibKey
except ImportError as e:
    print(f"missing Python module ({e}); run: pip install -r requirements-test.txt", file=sys.stderr)
    sys.exit(3)


def ed25519_key(keyid: str, public_key_hex: str) -> SSlibKey:
    return SSlibKey(keyid, "ed25519", "ed25519", {"public": public_key_hex})


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        job = json.load(f)

    results = []
    for case in job["verify"]:
        key = ed25519_key(case["keyid"], case["public_key_hex"])
        try:
            Envelope.from_dict(case["envelope"]).verify([key], 1)
            results.append({"name": case["name"], "verified": True, "error": None})
        except Exception as e:  # noqa: BLE001 - any refusal counts as not verified
            results.append({"name": case["name"], "verified": False, "error": f"{type(e).__name__}: {e}"})

    sign = job["sign"]
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sign["seed_hex"]))
    public = SSlibKey.from_crypto(private.public_key(), keyid=sign["keyid"])
    signer = CryptoSigner(private, public)
    envelope = Envelope(bytes.fromhex(sign["payload_hex"]), sign["payload_type"], {})
    envelope.sign(signer)

    with open(dst, "w", encoding="utf-8") as f:
        json.dump({"verify": results, "signed": envelope.to_dict()}, f)


if __name__ == "__main__":
    main()
