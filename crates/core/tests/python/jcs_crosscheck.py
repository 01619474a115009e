"""Canonicalizes JSON texts with the Python `rfc8785` package, for the Rust cross-check.

Usage: jcs_crosscheck.py IN OUT. IN is a JSON array of JSON texts; OUT receives a
JSON array of {"canonical": hex of the RFC 8785 bytes, "sha256": hex digest}, or
{"error": message} for a text rfc8785 refuses. Exit code 3: a module is missing.
"""

import hashlib
import json
import sys

try:
    import rfc8785
except ImportError as e:
    print(f"missing Python module ({e}); run: pip install -r requirements-test.txt", file=sys.stderr)
    sys.exit(3)


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        texts = json.load(f)
    out = []
    for text in texts:
        try:
            canonical = rfc8785.dumps(json.loads(text))
        except Exception as e:  # noqa: BLE001 - reported to the Rust side
            out.append({"error": f"{type(e).__name__}: {e}"})
            continue
        out.append({"canonical": canonical.hex(), "sha256": hashlib.sha256(canonical).hexdigest()})
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
