"""Checks SARIF logs against the SARIF 2.1.0 JSON Schema and GitHub code scanning's
upload rules; used by crates/hygiene/tests/hygiene/sarif.rs.

Usage: python3 sarif_check.py SCHEMA LOG...
Prints one JSON object: {"LOG": ["problem", ...], ...} (empty lists when all is well).
Formats (uri, uri-reference, date-time...) are checked too: jsonschema's format
checker with rfc3986-validator and rfc3339-validator (requirements-test.txt).
"""

import json
import re
import sys

import jsonschema

LEVELS = {"none", "note", "warning", "error"}
# GitHub's limits for one upload (docs: "SARIF support for code scanning").
MAX_RUNS = 20
MAX_RESULTS_PER_RUN = 25000
MAX_RULES_PER_RUN = 25000
MAX_LOCATIONS_PER_RESULT = 1000


def github_problems(log):
    """The rules GitHub code scanning applies on top of the schema."""
    out = []
    if log.get("version") != "2.1.0":
        out.append(f"version is {log.get('version')!r}, GitHub accepts 2.1.0")
    runs = log.get("runs") or []
    if not runs:
        out.append("no runs")
    if len(runs) > MAX_RUNS:
        out.append(f"{len(runs)} runs, GitHub takes at most {MAX_RUNS}")
    for r, run in enumerate(runs):
        where = f"runs[{r}]"
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            out.append(f"{where}.tool.driver.name is missing")
        rules = driver.get("rules") or []
        if len(rules) > MAX_RULES_PER_RUN:
            out.append(f"{where}: {len(rules)} rules, GitHub takes {MAX_RULES_PER_RUN}")
        ids = [rule.get("id") for rule in rules]
        if len(set(ids)) != len(ids):
            out.append(f"{where}: rule ids are not unique")
        for i, rule in enumerate(rules):
            for field in ("shortDescription", "fullDescription", "help"):
                if not (rule.get(field) or {}).get("text"):
                    out.append(f"{where}.tool.driver.rules[{i}] ({rule.get('id')}) has no {field}.text")
            if rule.get("name") is not None and rule.get("name") == rule.get("id"):
                out.append(f"{where}.tool.driver.rules[{i}]: name equals id (SARIF 3.49.7)")
        bases = run.get("originalUriBaseIds") or {}
        results = run.get("results")
        if results is None:
            out.append(f"{where}.results is missing (GitHub needs the array, empty if clean)")
            results = []
        if len(results) > MAX_RESULTS_PER_RUN:
            out.append(f"{where}: {len(results)} results, GitHub takes {MAX_RESULTS_PER_RUN}")
        for j, res in enumerate(results):
            w = f"{where}.results[{j}]"
            rule_id = res.get("ruleId") or (res.get("rule") or {}).get("id")
            if not rule_id:
                out.append(f"{w} has no ruleId")
            elif rule_id not in ids:
                out.append(f"{w}.ruleId {rule_id!r} is not among the driver's rules")
            if "ruleIndex" in res:
                k = res["ruleIndex"]
                if not (0 <= k < len(rules)) or rules[k].get("id") != rule_id:
                    out.append(f"{w}.ruleIndex {k} does not point at rule {rule_id!r}")
            if not (res.get("message") or {}).get("text"):
                out.append(f"{w} has no message.text")
            if "level" in res and res["level"] not in LEVELS:
                out.append(f"{w}.level {res['level']!r}")
            locs = res.get("locations") or []
            if not locs:
                out.append(f"{w} has no locations (GitHub shows results at a file)")
            if len(locs) > MAX_LOCATIONS_PER_RESULT:
                out.append(f"{w}: {len(locs)} locations")
            for n, loc in enumerate(locs):
                lw = f"{w}.locations[{n}]"
                art = (loc.get("physicalLocation") or {}).get("artifactLocation") or {}
                uri = art.get("uri")
                if not uri:
                    out.append(f"{lw} has no physicalLocation.artifactLocation.uri")
                    continue
                if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri) or uri.startswith("/"):
                    out.append(f"{lw}: uri {uri!r} is not relative to the repository")
                if "\\" in uri or any(seg == ".." for seg in uri.split("/")):
                    out.append(f"{lw}: uri {uri!r} has a backslash or a .. segment")
                base = art.get("uriBaseId")
                if base is not None and base not in bases:
                    out.append(f"{lw}: uriBaseId {base!r} is not in originalUriBaseIds")
                region = (loc.get("physicalLocation") or {}).get("region")
                if region is not None:
                    line = region.get("startLine")
                    if not isinstance(line, int) or line < 1:
                        out.append(f"{lw}: region.startLine {line!r}")
    return out


def main():
    schema = json.load(open(sys.argv[1], encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    report = {}
    for path in sys.argv[2:]:
        log = json.load(open(path, encoding="utf-8"))
        problems = [
            f"schema: at /{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(log)
        ]
        problems += github_problems(log)
        report[path] = problems
    print(json.dumps(report))


if __name__ == "__main__":
    main()
