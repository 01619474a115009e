//! Report formats: plain text, JSON (`{"summary", "findings"}`), SARIF 2.1.0 and
//! GitHub Actions workflow annotations. Pure functions from a report to text.

use serde_json::json;

use crate::finding::{Report, Severity};

/// Human-readable lines, one per finding, and a summary line.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let place = match f.line {
            Some(l) => format!("{}:{l}", f.path),
            None => f.path.clone(),
        };
        out.push_str(&format!(
            "{place}: {} [{}] {}\n",
            f.severity.as_str(),
            f.rule,
            f.message
        ));
    }
    let s = &report.summary;
    out.push_str(&format!(
        "{} files checked: {} errors, {} warnings, {} notes{}\n",
        s.files_checked,
        s.errors,
        s.warnings,
        s.infos,
        match s.reuse_compliant {
            Some(true) => "; REUSE compliant",
            Some(false) => "; not REUSE compliant",
            None => "",
        }
    ));
    out
}

/// `{"summary": {...}, "findings": [{"rule", "severity", "path", "line", "message"}]}`.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report serializes")
}

/// Writes [`json`]'s document to `out` without building it in memory first (a large
/// repository can have tens of thousands of findings).
pub fn write_json(report: &Report, out: impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(out, report).map_err(std::io::Error::other)
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// SARIF 2.1.0, as GitHub code scanning accepts it: one run, one rule per rule id,
/// paths relative to `%SRCROOT%`.
pub fn sarif(report: &Report, tool_version: &str) -> String {
    let mut rule_ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<_> = rule_ids
        .iter()
        .map(|id| {
            let (full, help) = rule_texts(id);
            json!({
                "id": id,
                "name": rule_name(id),
                "shortDescription": {"text": format!("govmesh hygiene rule {id}")},
                "fullDescription": {"text": full},
                "help": {"text": help},
            })
        })
        .collect();
    let results: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            let mut physical =
                json!({"artifactLocation": {"uri": uri_path(&f.path), "uriBaseId": "%SRCROOT%"}});
            if let Some(line) = f.line {
                physical["region"] = json!({"startLine": line});
            }
            json!({
                "ruleId": f.rule,
                "ruleIndex": rule_ids.binary_search(&f.rule.as_str()).unwrap_or(0),
                "level": sarif_level(f.severity),
                "message": {"text": f.message},
                "locations": [{"physicalLocation": physical}],
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "govmesh-hygiene",
                "version": tool_version,
                "informationUri": "https://reuse.software/spec-3.3/",
                "rules": rules,
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).expect("SARIF serializes")
}

/// A repository path as a relative URI reference (RFC 3986): every byte of a segment
/// other than the unreserved characters percent-encoded, `/` kept between segments.
pub fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A rule's display name, distinct from its id as SARIF 3.49.7 asks:
/// `reuse/missing-licenses` -> `ReuseMissingLicenses`.
fn rule_name(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A rule's full description and help text for SARIF (GitHub code scanning shows them).
fn rule_texts(id: &str) -> (String, String) {
    const REUSE_HELP: &str = "Every file must carry its copyright and license as the REUSE \
        specification 3.3 defines (https://reuse.software/spec-3.3/): SPDX-FileCopyrightText \
        and SPDX-License-Identifier in a comment header, a .license sidecar, REUSE.toml or \
        .reuse/dep5, with each license's text in LICENSES/. `govmesh hygiene fix` adds \
        missing headers and sidecars.";
    let full = match id.strip_prefix("reuse/") {
        Some("bad-licenses") => {
            "A license identifier is neither on the SPDX list nor a LicenseRef-."
        }
        Some("deprecated-licenses") => "A license identifier is deprecated by SPDX.",
        Some("licenses-without-extension") => "A file in LICENSES/ has no file extension.",
        Some("missing-licenses") => "A license is used but its text is not in LICENSES/.",
        Some("unused-licenses") => "A license text in LICENSES/ is used by no file.",
        Some("read-errors") => "A file could not be read.",
        Some("missing-copyright-info") => "A file has no copyright information.",
        Some("missing-licensing-info") => "A file has no licensing information.",
        Some("invalid-spdx-expressions") => "An SPDX license expression does not parse.",
        Some(_) => "A REUSE 3.3 requirement is not met.",
        None => "",
    };
    if !full.is_empty() {
        return (
            format!("REUSE 3.3 ({id}): {full} The reuse lint category of the same name."),
            REUSE_HELP.to_owned(),
        );
    }
    (
        format!(
            "Rule {id} of the repository hygiene policy (the Codex clause 5.2.5 rules or \
             the --policy file)."
        ),
        "Each result's message says what is wrong, why the rule exists and how to fix it. \
         `govmesh hygiene fix` creates missing required files from templates and adds \
         missing SPDX headers; other rules need a change by hand."
            .to_owned(),
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands (`::error file=...,line=...,title=...::message`).
pub fn github(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = format!("file={}", escape_property(&f.path));
        if let Some(l) = f.line {
            props.push_str(&format!(",line={l}"));
        }
        props.push_str(&format!(",title={}", escape_property(&f.rule)));
        out.push_str(&format!(
            "::{command} {props}::{}\n",
            escape_data(&f.message)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;

    fn sample() -> Report {
        let mut r = Report::default();
        r.findings.push(Finding {
            rule: "reuse/missing-licenses".into(),
            severity: Severity::Error,
            path: "src/a,b.c".into(),
            line: Some(3),
            message: "50% wrong\nreally".into(),
        });
        r.finish();
        r
    }

    #[test]
    fn github_escapes_properties_and_data() {
        assert_eq!(
            github(&sample()),
            "::error file=src/a%2Cb.c,line=3,title=reuse/missing-licenses::50%25 wrong%0Areally\n"
        );
    }

    #[test]
    fn sarif_has_version_rules_and_region() {
        let v: serde_json::Value = serde_json::from_str(&sarif(&sample(), "0.1.0")).expect("json");
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(
            v["runs"][0]["tool"]["driver"]["rules"][0]["id"],
            "reuse/missing-licenses"
        );
        assert_eq!(
            v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(v["runs"][0]["results"][0]["level"], "error");
        let rule = &v["runs"][0]["tool"]["driver"]["rules"][0];
        assert_eq!(rule["name"], "ReuseMissingLicenses");
        assert!(
            rule["fullDescription"]["text"]
                .as_str()
                .unwrap()
                .contains("LICENSES/")
        );
        assert!(rule["help"]["text"].as_str().unwrap().contains("REUSE"));
        assert_eq!(
            v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "src/a%2Cb.c"
        );
    }

    #[test]
    fn uri_paths_are_percent_encoded_per_rfc_3986() {
        assert_eq!(uri_path("src/main.rs"), "src/main.rs");
        assert_eq!(uri_path("."), ".");
        assert_eq!(
            uri_path("dir with space/a b.rs"),
            "dir%20with%20space/a%20b.rs"
        );
        assert_eq!(uri_path("100%#?.txt"), "100%25%23%3F.txt");
        assert_eq!(uri_path("ü"), "%C3%BC");
    }
}
