//! The REUSE Specification 3.3, judged exactly as `reuse lint` (reuse 6.2) judges it.
//!
//! The walk (in `engine`) reads every file once and hands us each file's tags; this
//! module decides which files are covered, applies `.license` sidecars, REUSE.toml or
//! dep5, and sorts problems into reuse's categories. It does no I/O.

pub mod expr;
pub mod extract;
pub mod global;
pub mod spdx_list;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use regex::Regex;

pub use extract::FileTags;
pub use global::{Dep5, Global, GlobalParseError, ReuseToml};

/// reuse lint's category names, in its JSON order.
pub const CATEGORIES: [&str; 9] = [
    "bad-licenses",
    "deprecated-licenses",
    "licenses-without-extension",
    "missing-licenses",
    "unused-licenses",
    "read-errors",
    "missing-copyright-info",
    "missing-licensing-info",
    "invalid-spdx-expressions",
];

static IGNORED_FILE_NAMES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:LICEN[CS]E(?:[-.].*)?|COPYING(?:[-.].*)?|\.git|\.hgtags|.*\.license|REUSE\.toml",
        r"|CAL-1\.0(?:-Combined-Work-Exception)?(?:\..+)?|SHL-2\.1(?:\..+)?",
        r"|.*\.spdx|.*\.spdx.(?:rdf|json|xml|ya?ml))$"
    ))
    .expect("static regex")
});

const IGNORED_DIR_NAMES: [&str; 5] = [".git", ".hg", ".sl", "LICENSES", ".reuse"];

/// Whether reuse skips a directory with this name and parent name.
pub fn is_ignored_dir_name(name: &str, parent_name: &str) -> bool {
    IGNORED_DIR_NAMES.contains(&name) || parent_name == "subprojects"
}

/// Whether reuse skips a regular file with this name (LICENSE/COPYING files,
/// sidecars, REUSE.toml, SPDX documents, ...).
pub fn is_ignored_file_name(name: &str) -> bool {
    // Every alternative of the pattern starts with one of these bytes, ends with
    // `.license` or holds `.spdx`: most names are decided without the regex.
    let may_match = name.starts_with(['L', 'C', '.', 'R', 'S'])
        || name.ends_with(".license")
        || name.contains(".spdx");
    may_match && IGNORED_FILE_NAMES.is_match(name)
}

/// Whether the file at `path` (relative, `/`-separated, size `size`) is a Covered File:
/// no ignored directory on its way, not an ignored name, not empty, not inside a
/// submodule. Symlinks are never covered; the caller does not pass them.
pub fn is_covered(path: &str, size: u64, submodules: &[String]) -> bool {
    if size == 0 {
        return false;
    }
    let mut parent = "";
    let mut start = 0;
    for (end, _) in path.match_indices('/') {
        let dir = &path[start..end];
        if is_ignored_dir_name(dir, parent) || submodules.iter().any(|s| s == &path[..end]) {
            return false;
        }
        parent = dir;
        start = end + 1;
    }
    !is_ignored_file_name(&path[start..])
}

/// Submodule paths declared in `.gitmodules` (`path = ...` lines).
pub fn submodule_paths(gitmodules: &str) -> Vec<String> {
    gitmodules
        .lines()
        .filter_map(|line| {
            let (key, value) = line.trim().split_once('=')?;
            (key.trim() == "path").then(|| value.trim().trim_end_matches('/').to_string())
        })
        .collect()
}

fn lookup(id: &str) -> Option<bool> {
    spdx_list::SPDX_IDS
        .binary_search_by(|(i, _)| (*i).cmp(id))
        .ok()
        .map(|i| spdx_list::SPDX_IDS[i].1)
}

static LICENSEREF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^LicenseRef-[a-zA-Z0-9\-.]+$").expect("static regex"));

/// Python's `PurePath.suffix` / `stem` split of a file name.
fn split_suffix(name: &str) -> (&str, Option<&str>) {
    if name.ends_with('.') {
        return (name, None);
    }
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], Some(&name[i..])),
        _ => (name, None),
    }
}

/// One license text under `LICENSES/` as reuse identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseFile {
    pub id: String,
    pub path: String,
    pub without_extension: bool,
    /// In the SPDX list, or a well-formed `LicenseRef-` without "Unknown".
    pub known: bool,
    pub deprecated: bool,
}

/// Identifies a file under `LICENSES/` (path relative to the root).
pub fn identify_license(path: &str) -> Option<LicenseFile> {
    let rel = path.strip_prefix("LICENSES/")?;
    if rel.split('/').any(|part| part.starts_with('.')) || path.ends_with(".license") {
        return None;
    }
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let (stem, suffix) = split_suffix(name);
    // reuse's `_identifier_of_license`: the stem when it is listed or a LicenseRef;
    // otherwise the whole name when *that* is listed ("licenses without extension",
    // e.g. `GPL-3.0`, whose "extension" is `.0`); otherwise the stem, unresolved.
    let (id, without_extension) =
        if suffix.is_some() && (lookup(stem).is_some() || LICENSEREF.is_match(stem)) {
            (stem.to_string(), false)
        } else if lookup(name).is_some() {
            (name.to_string(), true)
        } else {
            (stem.to_string(), false)
        };
    let licenseref = LICENSEREF.is_match(&id) && !id.contains("Unknown");
    let listed = lookup(&id);
    Some(LicenseFile {
        known: listed.is_some() || licenseref,
        deprecated: listed.unwrap_or(false),
        id,
        path: path.to_string(),
        without_extension,
    })
}

/// What the walk found, ready for judging.
#[derive(Debug, Default)]
pub struct ProjectInput {
    /// Covered files with the tags in their own contents.
    pub files: Vec<(String, FileTags)>,
    /// Tags of every `X.license` file, keyed by its path (`X.license`).
    pub sidecars: HashMap<String, FileTags>,
    /// Files under `LICENSES/` (paths relative to the root).
    pub license_paths: Vec<String>,
    /// Covered files that could not be read, with the reason.
    pub read_errors: Vec<(String, String)>,
    pub global: Global,
}

/// Where a finding about a file points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Located {
    pub path: String,
    pub line: Option<u32>,
    pub detail: String,
}

/// The result of judging a project, by reuse lint category.
#[derive(Debug, Default)]
pub struct ReuseReport {
    pub licenses: Vec<LicenseFile>,
    /// Identifiers claimed by more than one file under LICENSES/ (reuse aborts).
    pub duplicate_licenses: BTreeMap<String, Vec<String>>,
    pub used_licenses: BTreeSet<String>,
    pub unused_licenses: BTreeSet<String>,
    /// License id -> files (with the line of the expression when in the file).
    pub missing_licenses: BTreeMap<String, Vec<Located>>,
    pub read_errors: Vec<Located>,
    pub missing_copyright: BTreeSet<String>,
    pub missing_licensing: BTreeSet<String>,
    pub invalid_expressions: Vec<Located>,
    pub files_total: usize,
}

impl ReuseReport {
    /// The report in the shape of `reuse lint --json`'s `non_compliant` object (plus
    /// `invalid_spdx_expressions` as the set of files), for agreement tests.
    pub fn categories(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
        let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        for c in CATEGORIES {
            out.insert(c, BTreeSet::new());
        }
        for l in &self.licenses {
            if !l.known {
                out.get_mut("bad-licenses")
                    .expect("category")
                    .insert(l.id.clone());
            }
            if l.deprecated {
                out.get_mut("deprecated-licenses")
                    .expect("category")
                    .insert(l.id.clone());
            }
            if l.without_extension {
                out.get_mut("licenses-without-extension")
                    .expect("category")
                    .insert(l.id.clone());
            }
        }
        out.insert(
            "missing-licenses",
            self.missing_licenses.keys().cloned().collect(),
        );
        out.insert("unused-licenses", self.unused_licenses.clone());
        out.insert(
            "read-errors",
            self.read_errors.iter().map(|l| l.path.clone()).collect(),
        );
        out.insert("missing-copyright-info", self.missing_copyright.clone());
        out.insert("missing-licensing-info", self.missing_licensing.clone());
        out.insert(
            "invalid-spdx-expressions",
            self.invalid_expressions
                .iter()
                .map(|l| l.path.clone())
                .collect(),
        );
        out
    }

    /// Whether the checked files are compliant on their own (reuse's `lint-file`):
    /// the license-directory categories are left out.
    pub fn files_compliant(&self) -> bool {
        self.missing_licenses.is_empty()
            && self.read_errors.is_empty()
            && self.missing_copyright.is_empty()
            && self.missing_licensing.is_empty()
            && self.invalid_expressions.is_empty()
    }

    /// Whether reuse would call the project compliant.
    pub fn is_compliant(&self) -> bool {
        self.duplicate_licenses.is_empty() && self.categories().values().all(BTreeSet::is_empty)
    }
}

/// One source of information about a file: copyright notices and expressions, each
/// with a line when it comes from the file itself.
type Info = (Vec<(Option<u32>, String)>, Vec<(Option<u32>, String)>);

fn from_global(entries: &[(Vec<String>, Vec<String>)]) -> Vec<Info> {
    entries
        .iter()
        .map(|(c, e)| {
            (
                c.iter().map(|s| (None, s.clone())).collect(),
                e.iter().map(|s| (None, s.clone())).collect(),
            )
        })
        .collect()
}

/// reuse's `Project.reuse_info_of`.
fn infos_of(path: &str, own: &FileTags, input: &ProjectInput) -> Vec<Info> {
    let global = input.global.info_of(path);
    let mut result = from_global(&global.overriding);
    result.extend(from_global(&global.aggregate));
    let file_tags = if !global.overriding.is_empty() {
        None
    } else if input.sidecars.is_empty() {
        Some(own)
    } else {
        Some(
            input
                .sidecars
                .get(&format!("{path}.license"))
                .unwrap_or(own),
        )
    };
    let (has_c, has_l) = file_tags.map_or((false, false), |t| {
        (!t.copyrights.is_empty(), !t.expressions.is_empty())
    });
    if let Some(t) = file_tags.filter(|t| t.contains_info()) {
        result.push((
            t.copyrights
                .iter()
                .map(|(l, s)| (Some(*l), s.clone()))
                .collect(),
            t.expressions
                .iter()
                .map(|(l, s)| (Some(*l), s.clone()))
                .collect(),
        ));
    }
    let closest = from_global(&global.closest);
    if !has_c && !has_l {
        result.extend(closest);
    } else if has_c != has_l
        && let Some(first) = closest.into_iter().next()
    {
        if has_c {
            result.push((Vec::new(), first.1));
        } else {
            result.push((first.0, Vec::new()));
        }
    }
    result
}

/// Judges a project the way `reuse lint` does.
pub fn judge(input: &ProjectInput) -> ReuseReport {
    let mut report = ReuseReport::default();
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut paths = input.license_paths.clone();
    paths.sort();
    for path in &paths {
        if let Some(l) = identify_license(path) {
            by_id.entry(l.id.clone()).or_default().push(l.path.clone());
            report.licenses.push(l);
        }
    }
    report.duplicate_licenses = by_id
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let license_ids: BTreeSet<&str> = report.licenses.iter().map(|l| l.id.as_str()).collect();

    for (path, error) in &input.read_errors {
        report.read_errors.push(Located {
            path: path.clone(),
            line: None,
            detail: error.clone(),
        });
    }
    report.files_total = input.files.len();
    // Most files of a project share a handful of expressions: parse each text once.
    let mut parsed_cache: HashMap<String, Option<expr::Expression>> = HashMap::new();
    for (path, own) in &input.files {
        let infos = infos_of(path, own, input);
        let mut licenses_in_file = Vec::new();
        let mut invalid = BTreeSet::new();
        for (_, expressions) in &infos {
            for (line, text) in expressions {
                if !parsed_cache.contains_key(text.as_str()) {
                    parsed_cache.insert(text.clone(), expr::parse(text));
                }
                let Some(parsed) = &parsed_cache[text.as_str()] else {
                    if invalid.insert(text.clone()) {
                        report.invalid_expressions.push(Located {
                            path: path.clone(),
                            line: *line,
                            detail: text.clone(),
                        });
                    }
                    continue;
                };
                for id in &parsed.licenses {
                    let stripped = id.strip_suffix('+').unwrap_or(id);
                    if !license_ids.contains(id.as_str()) && !license_ids.contains(stripped) {
                        let list = report.missing_licenses.entry(id.clone()).or_default();
                        // Files come one at a time: a repeat is always the last entry.
                        if list.last().is_none_or(|l| l.path != *path) {
                            list.push(Located {
                                path: path.clone(),
                                line: *line,
                                detail: text.clone(),
                            });
                        }
                    }
                    licenses_in_file.push(id.clone());
                }
            }
        }
        if !infos.iter().any(|(c, _)| !c.is_empty()) {
            report.missing_copyright.insert(path.clone());
        }
        if licenses_in_file.is_empty() {
            report.missing_licensing.insert(path.clone());
        }
        report.used_licenses.extend(licenses_in_file);
    }
    for l in &report.licenses {
        if !report.used_licenses.contains(&l.id)
            && !report.used_licenses.contains(&format!("{}+", l.id))
        {
            report.unused_licenses.insert(l.id.clone());
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_files_follow_reuse_ignores() {
        let subs = vec!["ext/lib".to_string()];
        assert!(is_covered("src/a.c", 1, &subs));
        assert!(!is_covered("src/a.c", 0, &subs));
        assert!(!is_covered("LICENSE", 5, &subs));
        assert!(!is_covered("LICENSE-MIT", 5, &subs));
        assert!(!is_covered("COPYING.LIB", 5, &subs));
        assert!(is_covered("LICENSEE", 5, &subs));
        assert!(!is_covered("a/LICENSES/MIT.txt", 5, &subs));
        assert!(!is_covered("a.c.license", 5, &subs));
        assert!(!is_covered("sbom.spdx.json", 5, &subs));
        assert!(!is_covered("subprojects/zlib/a.c", 5, &subs));
        assert!(is_covered("subprojects/a.c", 5, &subs));
        assert!(!is_covered("ext/lib/a.c", 5, &subs));
        assert!(!is_covered("x/.git", 5, &subs));
    }

    #[test]
    fn licenses_are_identified_like_reuse() {
        let l = identify_license("LICENSES/GPL-3.0").expect("license");
        assert!(l.without_extension && l.known && l.deprecated);
        let l = identify_license("LICENSES/Foo").expect("license");
        assert!(!l.without_extension && !l.known);
        let l = identify_license("LICENSES/LicenseRef-x.txt").expect("license");
        assert!(l.known);
        let l = identify_license("LICENSES/LicenseRef-Unknown.txt").expect("license");
        assert!(!l.known);
        assert_eq!(identify_license("LICENSES/MIT.txt.license"), None);
    }
}
