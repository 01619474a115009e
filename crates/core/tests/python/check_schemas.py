#!/usr/bin/env python3
"""Validates records against JSON Schemas with Python `jsonschema`, independently of
the Rust validator: the seed's draft-07 schemas with Draft7Validator, ours (draft
2020-12) with Draft202012Validator, both with format checking (date-time, uri).

Input on stdin: {"cases": [{"name": str, "schema": path, "record": any}, ...]}.
Output on stdout: {"results": [{"name": str, "errors": [str, ...]}, ...]}.
Exit 0 when every case was checked (valid or not), 3 when a module is missing.
"""
import json
import sys

try:
    from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
except ImportError as e:
    print(f"python jsonschema is missing ({e}): pip install -r requirements-test.txt", file=sys.stderr)
    sys.exit(3)

checker = FormatChecker()
# Without these optional modules jsonschema silently skips the formats.
for fmt, module in (("date-time", "rfc3339-validator"), ("uri", "rfc3986-validator")):
    if fmt not in checker.checkers:
        print(f"python module {module} is missing, jsonschema would not check format {fmt!r}: "
              "pip install -r requirements-test.txt", file=sys.stderr)
        sys.exit(3)

VALIDATORS = {
    "http://json-schema.org/draft-07/schema#": Draft7Validator,
    "https://json-schema.org/draft/2020-12/schema": Draft202012Validator,
}


def main():
    request = json.load(sys.stdin)
    cache = {}
    results = []
    for case in request["cases"]:
        path = case["schema"]
        if path not in cache:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            cls = VALIDATORS.get(schema.get("$schema"))
            if cls is None:
                print(f"{path}: unexpected $schema {schema.get('$schema')!r}", file=sys.stderr)
                sys.exit(2)
            cls.check_schema(schema)
            cache[path] = cls(schema, format_checker=checker)
        errors = sorted(
            f"{'/'.join(str(p) for p in e.absolute_path) or '/'}: {e.message[:200]}"
            for e in cache[path].iter_errors(case["record"])
        )
        results.append({"name": case["name"], "errors": errors})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
