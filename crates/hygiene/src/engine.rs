//! The check: a parallel walk (the `ignore` crate: .gitignore honoured, `.git` skipped,
//! no symlink followed) that reads each file at most once and applies the per-file
//! rules, then the project-wide rules (required files, REUSE judgement).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use globset::{GlobSet, GlobSetBuilder};
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

use crate::finding::{Finding, Report, Severity};
use crate::naming::{self, Case};
use crate::policy::{PathType, Policy, PolicyError, Target};
use crate::reuse::{self, FileTags, Global, ProjectInput};

/// Why a check could not run (a finding is not an error).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// How to run a check.
#[derive(Debug, Default)]
pub struct CheckOptions {
    /// Only these files (relative to the root, `/`-separated) get per-file rules, and
    /// project-wide rules are skipped (pre-commit mode).
    pub only: Option<BTreeSet<String>>,
    /// Worker threads; 0 picks the number of CPUs.
    pub threads: usize,
    /// Incremented once per file visited, for a progress display.
    pub progress: Option<std::sync::Arc<AtomicU64>>,
}

fn globset(globs: &[String], rule: &str) -> Result<GlobSet, PolicyError> {
    globset_case(globs, rule, false)
}

fn globset_case(globs: &[String], rule: &str, nocase: bool) -> Result<GlobSet, PolicyError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(true)
            .case_insensitive(nocase)
            .empty_alternates(true)
            .build()
            .map_err(|e| PolicyError::Rule {
                rule: rule.into(),
                message: format!("bad glob {g:?}: {e}"),
            })?;
        b.add(glob);
    }
    b.build().map_err(|e| PolicyError::Rule {
        rule: rule.into(),
        message: e.to_string(),
    })
}

fn regex_bytes(pattern: &str, rule: &str) -> Result<regex::bytes::Regex, PolicyError> {
    regex::bytes::RegexBuilder::new(pattern)
        .multi_line(true)
        .build()
        .map_err(|e| PolicyError::Rule {
            rule: rule.into(),
            message: format!("bad regular expression: {e}"),
        })
}

struct CompiledPattern {
    rule: String,
    regex: regex::bytes::Regex,
    globs: Option<GlobSet>,
    except: GlobSet,
    describe: Option<String>,
    fail_if_no_file: bool,
    globs_text: Vec<String>,
    severity: Severity,
    why: String,
}

impl CompiledPattern {
    fn applies(&self, path: &str) -> bool {
        self.globs.as_ref().is_none_or(|g| g.is_match(path)) && !self.except.is_match(path)
    }

    /// What findings call the pattern.
    fn described(&self) -> String {
        match &self.describe {
            Some(d) => d.clone(),
            None => format!("text matching '{}'", self.regex.as_str()),
        }
    }
}

struct CompiledNaming {
    rule: String,
    glob: GlobSet,
    except: GlobSet,
    target: Target,
    case: Case,
    pattern: Option<regex::Regex>,
    severity: Severity,
    why: String,
}

struct CompiledForbidden {
    rule: String,
    globs: GlobSet,
    except: GlobSet,
    include_dirs: bool,
    severity: Severity,
    why: String,
}

struct CompiledSize {
    rule: String,
    limit: u64,
    globs: Option<GlobSet>,
    except: GlobSet,
    severity: Severity,
    why: String,
}

struct CompiledStartsWith {
    rule: String,
    globs: GlobSet,
    globs_text: Vec<String>,
    except: GlobSet,
    except_paths: Vec<regex::Regex>,
    lines: usize,
    patterns: Vec<(String, regex::bytes::Regex)>,
    describe: Option<String>,
    skip_binary: bool,
    pass_if_no_file: bool,
    severity: Severity,
    why: String,
}

impl CompiledStartsWith {
    fn applies(&self, path: &str) -> bool {
        self.globs.is_match(path)
            && !self.except.is_match(path)
            && !self.except_paths.iter().any(|r| r.is_match(path))
    }
}

struct CompiledRequiredPath {
    rule: String,
    globs: GlobSet,
    globs_text: Vec<String>,
    except: GlobSet,
    path_type: PathType,
    message: Option<String>,
    severity: Severity,
    why: String,
}

/// A policy with its globs and regular expressions built.
struct Compiled {
    forbidden: Vec<CompiledForbidden>,
    max_size: Option<CompiledSize>,
    naming: Vec<CompiledNaming>,
    forbidden_patterns: Vec<CompiledPattern>,
    required_patterns: Vec<CompiledPattern>,
    starts_with: Vec<CompiledStartsWith>,
    required_paths: Vec<CompiledRequiredPath>,
    reuse: Option<Severity>,
}

fn why(w: &Option<String>) -> String {
    w.as_deref()
        .unwrap_or("the repository's hygiene policy requires it")
        .trim_end_matches('.')
        .to_string()
}

fn compile(policy: &Policy) -> Result<Compiled, PolicyError> {
    let mut forbidden = Vec::new();
    for f in &policy.structure.forbidden {
        let rule = f.id.clone();
        forbidden.push(CompiledForbidden {
            globs: globset_case(&f.globs, &rule, f.globs_case_insensitive)?,
            except: globset_case(&f.except, &rule, f.globs_case_insensitive)?,
            include_dirs: f.include_dirs,
            severity: f.severity,
            why: why(&f.why),
            rule,
        });
    }
    let max_size = match &policy.structure.max_file_size {
        Some(m) => Some(CompiledSize {
            rule: m.id.clone(),
            limit: m.bytes,
            globs: if m.globs.is_empty() {
                None
            } else {
                Some(globset_case(&m.globs, &m.id, m.globs_case_insensitive)?)
            },
            except: globset_case(&m.except, &m.id, m.globs_case_insensitive)?,
            severity: m.severity,
            why: why(&m.why),
        }),
        None => None,
    };
    let mut naming = Vec::new();
    for (i, n) in policy.naming.iter().enumerate() {
        let rule = n.id.clone().unwrap_or_else(|| format!("naming/{i}"));
        let pattern = match (n.case, &n.pattern) {
            (Case::Regex, Some(p)) => Some(regex::Regex::new(&format!("^(?:{p})$")).map_err(
                |e| PolicyError::Rule {
                    rule: rule.clone(),
                    message: format!("bad pattern: {e}"),
                },
            )?),
            (Case::Regex, None) => {
                return Err(PolicyError::Rule {
                    rule,
                    message: "case \"regex\" needs a \"pattern\"".into(),
                });
            }
            _ => None,
        };
        naming.push(CompiledNaming {
            glob: globset(std::slice::from_ref(&n.glob), &rule)?,
            except: globset(&n.except, &rule)?,
            target: n.applies_to,
            case: n.case,
            pattern,
            severity: n.severity,
            why: why(&n.why),
            rule,
        });
    }
    let patterns =
        |list: &[crate::policy::PatternRule]| -> Result<Vec<CompiledPattern>, PolicyError> {
            list.iter()
                .map(|p| {
                    let rule = p.id.clone();
                    let nocase = p.globs_case_insensitive;
                    Ok(CompiledPattern {
                        regex: regex_bytes(&p.pattern, &rule)?,
                        globs: if p.globs.is_empty() {
                            None
                        } else {
                            Some(globset_case(&p.globs, &rule, nocase)?)
                        },
                        except: globset_case(&p.except, &rule, nocase)?,
                        describe: p.describe.clone(),
                        fail_if_no_file: p.fail_if_no_file,
                        globs_text: p.globs.clone(),
                        severity: p.severity,
                        why: why(&p.why),
                        rule,
                    })
                })
                .collect()
        };
    let mut starts_with = Vec::new();
    for r in &policy.content.starts_with {
        let rule = r.id.clone();
        let nocase = r.globs_case_insensitive;
        let mut except_paths = Vec::new();
        for p in &r.except_paths_matching {
            except_paths.push(regex::Regex::new(p).map_err(|e| PolicyError::Rule {
                rule: rule.clone(),
                message: format!("bad regular expression {p:?} in except_paths_matching: {e}"),
            })?);
        }
        let mut patterns = Vec::new();
        for p in &r.patterns {
            patterns.push((p.clone(), regex_bytes(p, &rule)?));
        }
        if patterns.is_empty() {
            return Err(PolicyError::Rule {
                rule,
                message: "file_starts_with needs at least one pattern".into(),
            });
        }
        starts_with.push(CompiledStartsWith {
            globs: globset_case(&r.globs, &rule, nocase)?,
            globs_text: r.globs.clone(),
            except: globset_case(&r.except, &rule, nocase)?,
            except_paths,
            lines: usize::try_from(r.lines).unwrap_or(usize::MAX),
            patterns,
            describe: r.describe.clone(),
            skip_binary: r.skip_binary,
            pass_if_no_file: r.pass_if_no_file,
            severity: r.severity,
            why: why(&r.why),
            rule,
        });
    }
    let mut required_paths = Vec::new();
    for r in &policy.structure.required_paths {
        let rule = r.id.clone();
        if r.globs.is_empty() {
            return Err(PolicyError::Rule {
                rule,
                message: "required_path needs at least one glob".into(),
            });
        }
        required_paths.push(CompiledRequiredPath {
            globs: globset_case(&r.globs, &rule, r.globs_case_insensitive)?,
            globs_text: r.globs.clone(),
            except: globset_case(&r.except, &rule, r.globs_case_insensitive)?,
            path_type: r.path_type,
            message: r.message.clone(),
            severity: r.severity,
            why: why(&r.why),
            rule,
        });
    }
    Ok(Compiled {
        forbidden,
        max_size,
        naming,
        forbidden_patterns: patterns(&policy.content.forbidden_patterns)?,
        required_patterns: patterns(&policy.content.required_patterns)?,
        starts_with,
        required_paths,
        reuse: policy.licensing.reuse.as_ref().map(|r| r.severity),
    })
}

/// What the walk learned about one entry.
#[derive(Default)]
struct Collected {
    findings: Vec<Finding>,
    /// Every directory and regular file (relative path, is_dir), for structure rules.
    entries: Vec<(String, bool)>,
    /// Covered files and their own tags.
    covered: Vec<(String, FileTags)>,
    sidecars: Vec<(String, FileTags)>,
    license_paths: Vec<String>,
    read_errors: Vec<(String, String)>,
    /// REUSE.toml, .reuse/dep5, .gitmodules and the root README: path and text.
    texts: Vec<(String, Vec<u8>)>,
    /// Ids of content rules with `fail_if_no_file` that matched some file, and of
    /// starts-with rules that judged some file.
    applied: BTreeSet<String>,
    files_checked: u64,
}

struct Shared<'a> {
    root: &'a Path,
    compiled: &'a Compiled,
    only: Option<&'a BTreeSet<String>>,
    progress: Option<&'a AtomicU64>,
    out: &'a Mutex<Vec<Collected>>,
}

struct Visitor<'a> {
    shared: &'a Shared<'a>,
    collected: Collected,
    buf: Vec<u8>,
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let c = std::mem::take(&mut self.collected);
        if let Ok(mut out) = self.shared.out.lock() {
            out.push(c);
        }
    }
}

struct Builder<'a> {
    shared: &'a Shared<'a>,
}

impl<'s> ParallelVisitorBuilder<'s> for Builder<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            shared: self.shared,
            collected: Collected::default(),
            buf: Vec::new(),
        })
    }
}

fn rel_path(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    // On Unix a relative path of normal components is already `/`-separated.
    #[cfg(unix)]
    if let Some(s) = rel.to_str()
        && !s.starts_with('/')
        && !s.contains("//")
        && !s.split('/').any(|c| c == "." || c == "..")
    {
        return Some(s.to_string());
    }
    let mut out = String::new();
    for c in rel.components() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&c.as_os_str().to_string_lossy());
    }
    Some(out)
}

fn is_root_readme(rel: &str) -> bool {
    !rel.contains('/') && {
        let upper = rel.to_ascii_uppercase();
        upper == "README" || upper.starts_with("README.")
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err_path(&err)
                    .and_then(|p| rel_path(self.shared.root, &p))
                    .unwrap_or_else(|| ".".into());
                self.collected.read_errors.push((path, err.to_string()));
                return WalkState::Continue;
            }
        };
        if entry.depth() == 0 {
            return WalkState::Continue;
        }
        let Some(ft) = entry.file_type() else {
            return WalkState::Continue;
        };
        let Some(rel) = rel_path(self.shared.root, entry.path()) else {
            return WalkState::Continue;
        };
        if ft.is_dir() {
            self.visit_dir(&rel);
        } else if ft.is_file() {
            if let Some(p) = self.shared.progress {
                p.fetch_add(1, Ordering::Relaxed);
            }
            self.visit_file(&rel, entry.path());
        }
        // Symlinks and other special files: neither followed nor checked.
        WalkState::Continue
    }
}

fn err_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            err_path(err)
        }
        _ => None,
    }
}

/// Reads the file (whose size fstat gave) into `buf`, which is grown but never shrunk
/// or cleared, and returns how many bytes it holds. One `read` for a file that did not
/// change since the fstat; `read_to_end` would fstat and seek again and read twice.
fn read_file(file: &mut std::fs::File, size: u64, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    // One byte more than the size, to see that the file has not grown; at most 64 MiB
    // up front (a huge or sparse file grows the buffer as it is read instead).
    let want = size.saturating_add(1).min(64 << 20);
    if buf.len() < want {
        // Geometric growth: growing to each larger file's exact size would leave a
        // trail of freed, already-touched buffers behind in the heap (peak RSS).
        buf.resize(want.max(buf.len().saturating_mul(2)).max(64 << 10), 0);
    }
    let mut filled = 0;
    loop {
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok(filled),
            Ok(n) => {
                filled += n;
                if filled == buf.len() {
                    // Larger than the buffer (it grew since the fstat, or is huge).
                    buf.resize(filled.saturating_mul(2), 0);
                } else if filled == size {
                    // Reached the size fstat gave, and a read of more returned less:
                    // the file ends here (a short read at EOF), as for a regular file.
                    return Ok(filled);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn name_of(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

impl Visitor<'_> {
    fn push(
        &mut self,
        rule: &str,
        severity: Severity,
        path: &str,
        line: Option<u32>,
        message: String,
    ) {
        self.collected.findings.push(Finding {
            rule: rule.to_string(),
            severity,
            path: path.to_string(),
            line,
            message,
        });
    }

    fn selected(&self, rel: &str) -> bool {
        self.shared.only.is_none_or(|o| o.contains(rel))
    }

    fn check_name(&mut self, rel: &str, is_dir: bool) {
        let name = name_of(rel);
        let compiled = self.shared.compiled;
        for n in &compiled.naming {
            if (n.target == Target::Dirs) != is_dir
                || !n.glob.is_match(rel)
                || n.except.is_match(rel)
            {
                continue;
            }
            let ok = match &n.pattern {
                Some(re) => re.is_match(name),
                None => naming::follows(naming::stem(name, is_dir), n.case),
            };
            if !ok {
                let what = if is_dir { "directory" } else { "file" };
                let expected = match &n.pattern {
                    Some(re) => format!("does not match {}", re.as_str()),
                    None => format!(
                        "is not {} (like '{}')",
                        naming::describe(n.case),
                        naming::example(n.case)
                    ),
                };
                self.push(
                    &n.rule,
                    n.severity,
                    rel,
                    None,
                    format!(
                        "The {what} name '{name}' {expected}. Why: {}. Fix: rename it.",
                        n.why
                    ),
                );
            }
        }
    }

    fn visit_dir(&mut self, rel: &str) {
        self.collected.entries.push((rel.to_string(), true));
        if self.selected(rel) {
            self.check_name(rel, true);
            let compiled = self.shared.compiled;
            for f in compiled.forbidden.iter().filter(|f| f.include_dirs) {
                if f.globs.is_match(rel) && !f.except.is_match(rel) {
                    let message = format!(
                        "The directory '{rel}' must not be in the repository. Why: {}. Fix: remove it, then add it to .gitignore.",
                        f.why
                    );
                    self.push(&f.rule, f.severity, rel, None, message);
                }
            }
        }
    }

    fn visit_file(&mut self, rel: &str, path: &Path) {
        self.collected.entries.push((rel.to_string(), false));
        let compiled = self.shared.compiled;
        let selected = self.selected(rel);
        let name = name_of(rel);
        let is_sidecar = name.ends_with(".license");
        let is_license_text = rel.starts_with("LICENSES/");
        let is_global_text = rel == ".reuse/dep5"
            || rel == ".gitmodules"
            || name == "REUSE.toml"
            || is_root_readme(rel);
        // One path lookup per file: open it, then fstat the handle.
        let opened = std::fs::File::open(path).and_then(|f| f.metadata().map(|m| (f, m.len())));
        let (mut file, size) = match opened {
            Ok(pair) => pair,
            Err(e) => {
                self.collected
                    .read_errors
                    .push((rel.to_string(), e.to_string()));
                return;
            }
        };
        if is_license_text {
            self.collected.license_paths.push(rel.to_string());
        }
        let covered = compiled.reuse.is_some() && selected && reuse::is_covered(rel, size, &[]);
        if selected {
            self.collected.files_checked += 1;
            self.check_name(rel, false);
            for f in &compiled.forbidden {
                if f.globs.is_match(rel) && !f.except.is_match(rel) {
                    let message = format!(
                        "The file '{rel}' must not be in the repository. Why: {}. Fix: remove it (and rotate any secret it held), then add it to .gitignore.",
                        f.why
                    );
                    self.push(&f.rule, f.severity, rel, None, message);
                }
            }
            if let Some(m) = &compiled.max_size
                && size > m.limit
                && m.globs.as_ref().is_none_or(|g| g.is_match(rel))
                && !m.except.is_match(rel)
            {
                let message = format!(
                    "The file is {size} bytes, over the limit of {}. Why: {}. Fix: remove it from the tree or store it outside git.",
                    m.limit, m.why
                );
                self.push(&m.rule, m.severity, rel, None, message);
            }
        }
        let patterns_apply = selected
            && (compiled.forbidden_patterns.iter().any(|p| p.applies(rel))
                || compiled.required_patterns.iter().any(|p| p.applies(rel)));
        if patterns_apply {
            // An empty file counts as matched (repolinter's fail-on-non-existent looks
            // at the globs only), although it is not read.
            for p in compiled
                .forbidden_patterns
                .iter()
                .chain(&compiled.required_patterns)
                .filter(|p| p.fail_if_no_file && p.applies(rel))
            {
                if !self.collected.applied.contains(&p.rule) {
                    self.collected.applied.insert(p.rule.clone());
                }
            }
        }
        let starts_with_apply = selected && compiled.starts_with.iter().any(|r| r.applies(rel));
        let needs_read = covered
            || (compiled.reuse.is_some() && is_sidecar)
            || is_global_text
            || patterns_apply
            || starts_with_apply;
        if size == 0 && is_sidecar && compiled.reuse.is_some() {
            // An empty sidecar still replaces the file's own header (reuse reads it).
            self.collected
                .sidecars
                .push((rel.to_string(), FileTags::default()));
        }
        if !needs_read || size == 0 && !is_global_text {
            return;
        }
        let len = match read_file(&mut file, size, &mut self.buf) {
            Ok(len) => len,
            Err(e) => {
                if covered {
                    self.collected
                        .read_errors
                        .push((rel.to_string(), e.to_string()));
                } else {
                    let message = format!(
                        "The file could not be read: {e}. Why: every rule needs to read it. Fix: make it readable."
                    );
                    self.push("read-error", Severity::Error, rel, None, message);
                }
                return;
            }
        };
        let buf = std::mem::take(&mut self.buf);
        let data = &buf[..len];
        if covered {
            self.collected
                .covered
                .push((rel.to_string(), reuse::extract::extract(data)));
        }
        if is_sidecar && compiled.reuse.is_some() {
            self.collected
                .sidecars
                .push((rel.to_string(), reuse::extract::extract(data)));
        }
        if is_global_text {
            self.collected.texts.push((rel.to_string(), data.to_vec()));
        }
        if patterns_apply {
            self.check_patterns(rel, data);
        }
        if starts_with_apply {
            self.check_starts_with(rel, data);
        }
        // The buffer keeps its zeroed length: the next file reads into it, no memset.
        self.buf = buf;
    }

    /// repolinter's `file-starts-with`: the first `lines` lines, each with its newline
    /// (a last line without one is not read); nothing read means the file is not judged.
    fn check_starts_with(&mut self, rel: &str, data: &[u8]) {
        let compiled = self.shared.compiled;
        for r in compiled.starts_with.iter().filter(|r| r.applies(rel)) {
            // (repolinter returns after counting a line, so 0 lines reads one.)
            let head = match memchr::memchr_iter(b'\n', data).nth(r.lines.max(1) - 1) {
                Some(i) => &data[..=i],
                None => &data[..memchr::memrchr(b'\n', data).map_or(0, |i| i + 1)],
            };
            if head.is_empty()
                || r.skip_binary
                    && crate::reuse::extract::detect_encoding(data)
                        == crate::reuse::extract::Encoding::Binary
            {
                continue;
            }
            if !self.collected.applied.contains(&r.rule) {
                self.collected.applied.insert(r.rule.clone());
            }
            let misses: Vec<&str> = r
                .patterns
                .iter()
                .filter(|(_, re)| !re.is_match(head))
                .map(|(p, _)| p.as_str())
                .collect();
            if !misses.is_empty() {
                let what = r.describe.clone().unwrap_or_else(|| misses.join(", "));
                let message = format!(
                    "The first {} lines do not contain the pattern(s): {what}. Why: {}. Fix: add it to the top of the file.",
                    r.lines, r.why
                );
                self.push(&r.rule, r.severity, rel, None, message);
            }
        }
    }

    fn check_patterns(&mut self, rel: &str, data: &[u8]) {
        let compiled = self.shared.compiled;
        for p in &compiled.forbidden_patterns {
            if !p.applies(rel) {
                continue;
            }
            if let Some(m) = p.regex.find(data) {
                let line =
                    u32::try_from(memchr::memchr_iter(b'\n', &data[..m.start()]).count() + 1).ok();
                let what = match &p.describe {
                    Some(d) => d.clone(),
                    None => format!(
                        "text that matches the forbidden pattern of rule '{}'",
                        p.rule
                    ),
                };
                let message = format!(
                    "The file contains {what}. Why: {}. Fix: remove it from the file and from history, and revoke it if it is a secret.",
                    p.why
                );
                self.push(&p.rule, p.severity, rel, line, message);
            }
        }
        for p in &compiled.required_patterns {
            if p.applies(rel) && !p.regex.is_match(data) {
                let message = format!(
                    "The file does not contain {}. Why: {}. Fix: add it.",
                    p.described(),
                    p.why
                );
                self.push(&p.rule, p.severity, rel, None, message);
            }
        }
    }
}

/// Markdown (`#` and setext) and reStructuredText (underlined) headings of a README.
pub fn readme_headings(text: &str) -> Vec<(u32, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('#') {
            out.push((
                i as u32 + 1,
                h.trim_start_matches('#')
                    .trim()
                    .trim_end_matches('#')
                    .trim()
                    .to_string(),
            ));
        } else if let Some(next) = lines.get(i + 1) {
            let n = next.trim();
            let underline = n.len() >= 3
                && n.chars().all(|c| c == n.chars().next().unwrap_or(' '))
                && n.starts_with(['=', '-', '~', '^', '*', '+', '#']);
            if !t.is_empty() && underline {
                out.push((i as u32 + 1, t.to_string()));
            }
        }
    }
    out
}

/// Checks the repository at `root` against `policy`.
pub fn check(root: &Path, policy: &Policy, options: &CheckOptions) -> Result<Report, CheckError> {
    check_detailed(root, policy, options).map(|(report, _)| report)
}

/// Like [`check`], and also returns the REUSE judgement by reuse lint category (when
/// the policy checks REUSE), for comparing with `reuse lint --json`.
pub fn check_detailed(
    root: &Path,
    policy: &Policy,
    options: &CheckOptions,
) -> Result<(Report, Option<reuse::ReuseReport>), CheckError> {
    if !root.is_dir() {
        return Err(CheckError::NotADirectory(root.to_path_buf()));
    }
    let compiled = compile(policy)?;
    let out = Mutex::new(Vec::new());
    let shared = Shared {
        root,
        compiled: &compiled,
        only: options.only.as_ref(),
        progress: options.progress.as_deref(),
        out: &out,
    };
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        options.threads
    };
    // The git index is read while the walk runs.
    let root_owned = root.to_path_buf();
    let index_reader = std::thread::spawn(move || crate::gitindex::tracked_under(&root_owned));
    WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .parents(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .follow_links(false)
        .threads(threads)
        .filter_entry(|e| e.file_name() != ".git")
        .build_parallel()
        .visit(&mut Builder { shared: &shared });
    let tracked = index_reader.join().unwrap_or(None);
    visit_tracked_but_ignored(&shared, &out, tracked);
    let parts = out
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut all = Collected::default();
    for mut p in parts {
        all.findings.append(&mut p.findings);
        all.entries.append(&mut p.entries);
        all.covered.append(&mut p.covered);
        all.sidecars.append(&mut p.sidecars);
        all.license_paths.append(&mut p.license_paths);
        all.read_errors.append(&mut p.read_errors);
        all.texts.append(&mut p.texts);
        all.applied.append(&mut p.applied);
        all.files_checked += p.files_checked;
    }
    let mut report = Report {
        findings: all.findings,
        ..Report::default()
    };
    report.summary.files_checked = all.files_checked;
    let texts: HashMap<String, Vec<u8>> = all.texts.into_iter().collect();
    let project_wide = options.only.is_none();
    if project_wide {
        check_required(policy, &all.entries, &mut report);
        check_required_paths(&compiled, &all.entries, &mut report);
        check_nothing_matched(&compiled, &all.applied, &mut report);
        check_readme(policy, &texts, &mut report);
    }
    let mut reuse_report = None;
    if let Some(severity) = compiled.reuse {
        let reuse = judge_reuse(
            policy,
            severity,
            &texts,
            all.covered,
            all.sidecars,
            all.license_paths,
            all.read_errors,
            project_wide,
            &mut report,
        );
        report.summary.reuse_compliant = Some(reuse.0);
        reuse_report = Some(reuse.1);
    }
    report.finish();
    Ok((report, reuse_report))
}

/// Git ignores `.gitignore` patterns for tracked files, and so does reuse; the walk
/// does not know what is tracked, so tracked files it skipped are visited here, and so
/// are the directories that hold them (for naming and structure rules).
fn visit_tracked_but_ignored(
    shared: &Shared<'_>,
    out: &Mutex<Vec<Collected>>,
    tracked: Option<Vec<String>>,
) {
    let Some(tracked) = tracked else {
        return;
    };
    // What to visit, in order: new directories (is_dir) and files. Decided under the
    // lock (the walk's entries are borrowed), visited after it is released.
    let mut work: Vec<(String, bool)> = Vec::new();
    {
        let parts = out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut seen: Vec<&str> = Vec::new();
        let mut seen_dirs: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for (path, dir) in parts.iter().flat_map(|p| p.entries.iter()) {
            if !*dir {
                seen.push(path.as_str());
            }
        }
        seen.sort_unstable();
        let mut dirs_listed = false;
        let mut new_dirs = std::collections::HashSet::new();
        for rel in tracked {
            if seen.binary_search(&rel.as_str()).is_ok() || rel.split('/').any(|c| c == ".git") {
                continue;
            }
            if !dirs_listed {
                // Only needed when some tracked file was not walked (rare).
                dirs_listed = true;
                for (path, dir) in parts.iter().flat_map(|p| p.entries.iter()) {
                    if *dir {
                        seen_dirs.insert(path.as_str());
                    }
                }
            }
            let path = shared.root.join(&rel);
            // Not symlinks, not submodules (directories), not files deleted from the tree.
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
                for (i, _) in rel.match_indices('/') {
                    let dir = &rel[..i];
                    if !seen_dirs.contains(dir) && new_dirs.insert(dir.to_string()) {
                        work.push((dir.to_string(), true));
                    }
                }
                work.push((rel, false));
            }
        }
    }
    let mut visitor = Visitor {
        shared,
        collected: Collected::default(),
        buf: Vec::new(),
    };
    for (rel, is_dir) in work {
        if is_dir {
            visitor.visit_dir(&rel);
        } else {
            if let Some(p) = shared.progress {
                p.fetch_add(1, Ordering::Relaxed);
            }
            visitor.visit_file(&rel, &shared.root.join(&rel));
        }
    }
}

fn check_required_paths(compiled: &Compiled, entries: &[(String, bool)], report: &mut Report) {
    for r in &compiled.required_paths {
        let found = entries.iter().any(|(path, is_dir)| {
            let type_ok = match r.path_type {
                PathType::File => !*is_dir,
                PathType::Dir => *is_dir,
                PathType::Any => true,
            };
            type_ok && r.globs.is_match(path) && !r.except.is_match(path)
        });
        if !found {
            let what = match r.path_type {
                PathType::File => "file",
                PathType::Dir => "directory",
                PathType::Any => "file or directory",
            };
            let first = r
                .message
                .as_deref()
                .map(|m| format!("{}. ", m.trim_end_matches('.')))
                .unwrap_or_default();
            report.findings.push(Finding {
                rule: r.rule.clone(),
                severity: r.severity,
                path: ".".into(),
                line: None,
                message: format!(
                    "{first}No {what} matches {}. Why: {}. Fix: add one.",
                    r.globs_text.join(", "),
                    r.why
                ),
            });
        }
    }
}

/// Content rules that must apply to some file (`fail_if_no_file`, starts-with rules
/// without `pass_if_no_file`) but found none.
fn check_nothing_matched(compiled: &Compiled, applied: &BTreeSet<String>, report: &mut Report) {
    let patterns = compiled
        .forbidden_patterns
        .iter()
        .chain(&compiled.required_patterns)
        .filter(|p| p.fail_if_no_file && !applied.contains(&p.rule));
    for p in patterns {
        let globs = if p.globs_text.is_empty() {
            "any file".to_string()
        } else {
            p.globs_text.join(", ")
        };
        report.findings.push(Finding {
            rule: p.rule.clone(),
            severity: p.severity,
            path: ".".into(),
            line: None,
            message: format!(
                "No file matches {globs}, so none could be checked for {}. Why: {}. Fix: add the file.",
                p.described(),
                p.why
            ),
        });
    }
    for r in compiled
        .starts_with
        .iter()
        .filter(|r| !r.pass_if_no_file && !applied.contains(&r.rule))
    {
        report.findings.push(Finding {
            rule: r.rule.clone(),
            severity: r.severity,
            path: ".".into(),
            line: None,
            message: format!(
                "No file matching {} has lines to check. Why: {}. Fix: add the files, or allow their absence.",
                r.globs_text.join(", "),
                r.why
            ),
        });
    }
}

fn check_required(policy: &Policy, entries: &[(String, bool)], report: &mut Report) {
    let present: BTreeSet<(String, bool)> = entries
        .iter()
        .filter(|(p, _)| p.matches('/').count() <= 1)
        .map(|(p, d)| (p.to_lowercase(), *d))
        .collect();
    for r in &policy.structure.required {
        let found = r.any_of.iter().any(|name| {
            let (name, is_dir) = match name.strip_suffix('/') {
                Some(n) => (n, true),
                None => (name.as_str(), false),
            };
            r.locations.iter().any(|loc| {
                let path = if loc.is_empty() {
                    name.to_lowercase()
                } else {
                    format!("{}/{}", loc.trim_end_matches('/'), name).to_lowercase()
                };
                if path.contains(['*', '?', '[']) {
                    // A glob (e.g. `README*`): `*` stays within a directory.
                    globset::GlobBuilder::new(&path)
                        .literal_separator(true)
                        .build()
                        .map(|g| g.compile_matcher())
                        .is_ok_and(|m| present.iter().any(|(p, d)| *d == is_dir && m.is_match(p)))
                } else {
                    present.contains(&(path, is_dir))
                }
            })
        });
        if !found {
            let places: Vec<&str> = r
                .locations
                .iter()
                .map(|l| if l.is_empty() { "the root" } else { l.as_str() })
                .collect();
            report.findings.push(Finding {
                rule: r.id.clone(),
                severity: r.severity,
                path: ".".into(),
                line: None,
                message: format!(
                    "None of {} exists in {}. Why: {}. Fix: add one of them.",
                    r.any_of.join(", "),
                    places.join(", "),
                    why(&r.why)
                ),
            });
        }
    }
}

fn check_readme(policy: &Policy, texts: &HashMap<String, Vec<u8>>, report: &mut Report) {
    let Some(rule) = &policy.content.readme else {
        return;
    };
    let mut readmes: Vec<&String> = texts.keys().filter(|k| is_root_readme(k)).collect();
    readmes.sort();
    let Some(path) = readmes.first() else { return };
    let text = String::from_utf8_lossy(&texts[*path]);
    let headings: Vec<String> = readme_headings(&text)
        .into_iter()
        .map(|(_, h)| h.to_lowercase())
        .collect();
    for wanted in &rule.headings {
        let alternatives: Vec<String> =
            wanted.split('|').map(|a| a.trim().to_lowercase()).collect();
        if !headings
            .iter()
            .any(|h| alternatives.iter().any(|a| h.starts_with(a.as_str())))
        {
            report.findings.push(Finding {
                rule: rule.id.clone(),
                severity: rule.severity,
                path: (*path).clone(),
                line: None,
                message: format!(
                    "The README has no '{}' heading. Why: {}. Fix: add a section headed '{}'.",
                    wanted.replace('|', "' or '"),
                    why(&rule.why),
                    alternatives.first().map(String::as_str).unwrap_or("")
                ),
            });
        }
    }
}

const REUSE_FIX: &str = "https://reuse.software/spec-3.3/";

#[allow(clippy::too_many_arguments)]
fn judge_reuse(
    policy: &Policy,
    severity: Severity,
    texts: &HashMap<String, Vec<u8>>,
    covered: Vec<(String, FileTags)>,
    sidecars: Vec<(String, FileTags)>,
    license_paths: Vec<String>,
    read_errors: Vec<(String, String)>,
    project_wide: bool,
    report: &mut Report,
) -> (bool, reuse::ReuseReport) {
    let mut push = |rule: &str, path: &str, line: Option<u32>, message: String| {
        report.findings.push(Finding {
            rule: rule.into(),
            severity,
            path: path.into(),
            line,
            message,
        });
    };
    let submodules = texts
        .get(".gitmodules")
        .map(|t| reuse::submodule_paths(&String::from_utf8_lossy(t)))
        .unwrap_or_default();
    // REUSE.toml files inside ignored directories do not count.
    let mut tomls = Vec::new();
    let mut global_error = false;
    let mut toml_paths: Vec<&String> = texts
        .keys()
        .filter(|k| name_of(k) == "REUSE.toml")
        .collect();
    toml_paths.sort_by_key(|p| (p.matches('/').count(), (*p).clone()));
    for path in toml_paths {
        let dir_ok = {
            let parts: Vec<&str> = path.split('/').collect();
            let mut parent = "";
            let mut ok = true;
            for (i, d) in parts[..parts.len() - 1].iter().enumerate() {
                if reuse::is_ignored_dir_name(d, parent)
                    || submodules.iter().any(|s| *s == parts[..=i].join("/"))
                {
                    ok = false;
                }
                parent = d;
            }
            ok
        };
        if !dir_ok {
            continue;
        }
        match std::str::from_utf8(&texts[path])
            .map_err(|e| e.to_string())
            .and_then(|t| reuse::ReuseToml::parse(path, t).map_err(|e| e.reason))
        {
            Ok(t) => tomls.push(t),
            Err(reason) => {
                global_error = true;
                push(
                    "reuse/global-licensing",
                    path,
                    None,
                    format!(
                        "REUSE.toml cannot be used: {reason}. Why: reuse lint stops on it, so no file's licensing can be judged. Fix: correct the file ({REUSE_FIX})."
                    ),
                );
            }
        }
    }
    let dep5 = texts.get(".reuse/dep5");
    let global = match (dep5, tomls.is_empty()) {
        (Some(_), false) => {
            global_error = true;
            push("reuse/global-licensing", ".reuse/dep5", None, "Both .reuse/dep5 and REUSE.toml exist. Why: REUSE allows only one of them. Fix: convert dep5 with `reuse convert-dep5` and delete it.".into());
            Global::Tomls(tomls)
        }
        (Some(d), true) => match reuse::Dep5::parse(&String::from_utf8_lossy(d)) {
            Ok(d) => Global::Dep5(d),
            Err(e) => {
                global_error = true;
                push(
                    "reuse/global-licensing",
                    ".reuse/dep5",
                    None,
                    format!(
                        "{e}. Why: reuse lint stops on it. Fix: correct the file or convert it to REUSE.toml."
                    ),
                );
                Global::None
            }
        },
        (None, false) => Global::Tomls(tomls),
        (None, true) => Global::None,
    };
    // The walk judged coverage without the submodules (it had not read .gitmodules).
    let covered: Vec<(String, FileTags)> = if submodules.is_empty() {
        covered
    } else {
        covered
            .into_iter()
            .filter(|(p, _)| reuse::is_covered(p, 1, &submodules))
            .collect()
    };
    let input = ProjectInput {
        files: covered,
        sidecars: sidecars.into_iter().collect(),
        license_paths,
        read_errors,
        global,
    };
    let r = reuse::judge(&input);
    if project_wide {
        for l in &r.licenses {
            if !l.known {
                push(
                    "reuse/bad-licenses",
                    &l.path,
                    None,
                    format!(
                        "'{}' is not an SPDX license identifier nor a valid LicenseRef-. Why: REUSE names each license text after its identifier so tools can find it. Fix: rename the file to <SPDX-id>.txt or LicenseRef-<name>.txt.",
                        l.id
                    ),
                );
            }
            if l.deprecated {
                push(
                    "reuse/deprecated-licenses",
                    &l.path,
                    None,
                    format!(
                        "'{}' is a deprecated SPDX identifier. Why: deprecated ids are ambiguous (e.g. GPL-2.0 vs GPL-2.0-only). Fix: rename the text and the tags to the current identifier.",
                        l.id
                    ),
                );
            }
            if l.without_extension {
                push(
                    "reuse/licenses-without-extension",
                    &l.path,
                    None,
                    format!(
                        "The license text '{}' has no file extension. Why: REUSE requires LICENSES/<id>.<ext>. Fix: rename it to {}.txt.",
                        l.path, l.path
                    ),
                );
            }
            if r.unused_licenses.contains(&l.id) {
                push(
                    "reuse/unused-licenses",
                    &l.path,
                    None,
                    format!(
                        "No file is licensed under '{}'. Why: REUSE lists only licenses that are used. Fix: delete the text or tag the files it covers.",
                        l.id
                    ),
                );
            }
        }
        for (id, paths) in &r.duplicate_licenses {
            push(
                "reuse/bad-licenses",
                &paths[0],
                None,
                format!(
                    "'{id}' is the identifier of several license texts ({}). Why: reuse lint aborts on it. Fix: keep one of them.",
                    paths.join(", ")
                ),
            );
        }
    }
    for (id, files) in &r.missing_licenses {
        for f in files {
            push(
                "reuse/missing-licenses",
                &f.path,
                f.line,
                format!(
                    "The file uses license '{id}' but LICENSES/ has no text for it. Why: REUSE requires the text of every license used. Fix: run `reuse download {id}` or add LICENSES/{id}.txt."
                ),
            );
        }
    }
    for e in &r.read_errors {
        push(
            "reuse/read-errors",
            &e.path,
            None,
            format!(
                "The file could not be read ({}). Why: its licensing cannot be judged. Fix: make it readable or remove it.",
                e.detail
            ),
        );
    }
    for p in &r.missing_copyright {
        push("reuse/missing-copyright-info", p, None, "The file has no copyright notice. Why: REUSE requires every file to say who holds its copyright. Fix: add an 'SPDX-FileCopyrightText: <year> <name>' comment, a <file>.license sidecar for binary files, or a REUSE.toml annotation.".into());
    }
    for p in &r.missing_licensing {
        push("reuse/missing-licensing-info", p, None, "The file has no license information. Why: REUSE requires every file to state its license. Fix: add an 'SPDX-License-Identifier: <SPDX expression>' comment, a <file>.license sidecar, or a REUSE.toml annotation.".into());
    }
    for e in &r.invalid_expressions {
        push(
            "reuse/invalid-spdx-expressions",
            &e.path,
            e.line,
            format!(
                "'{}' is not a valid SPDX license expression. Why: tools cannot tell which license applies. Fix: use identifiers joined by AND, OR, WITH and parentheses.",
                e.detail
            ),
        );
    }
    // Policy on top of REUSE: allowed and denied licenses.
    let lic = &policy.licensing;
    for id in &r.used_licenses {
        let bare = id.strip_suffix('+').unwrap_or(id);
        let denied = lic.denied.iter().any(|d| d == id || d == bare);
        let not_allowed =
            !lic.allowed.is_empty() && !lic.allowed.iter().any(|a| a == id || a == bare);
        if denied || not_allowed {
            let rule = if denied {
                "licensing/denied-license"
            } else {
                "licensing/license-not-allowed"
            };
            report.findings.push(Finding {
                rule: rule.into(),
                severity: lic.severity,
                path: ".".into(),
                line: None,
                message: format!("The license '{id}' is used but the policy {} it. Why: the project may only be distributed under licenses it accepts. Fix: replace or relicense the files under '{id}'.", if denied { "denies" } else { "does not allow" }),
            });
        }
    }
    let compliant = if project_wide {
        r.is_compliant()
    } else {
        r.files_compliant()
    };
    (!global_error && compliant, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_file_reads_everything_whatever_the_size_fstat_gave() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        // The size as fstat gave it, smaller (the file grew since), larger (it shrank).
        for hint in [100_000, 10, 0, 250_000] {
            let mut buf = vec![7u8; 3];
            let mut file = std::fs::File::open(&path).expect("open");
            let n = read_file(&mut file, hint, &mut buf).expect("read");
            assert_eq!(&buf[..n], &data[..], "size hint {hint}");
        }
        // A reused buffer longer than the file: only the first bytes are the file.
        let mut buf = vec![1u8; 300_000];
        let mut file = std::fs::File::open(&path).expect("open");
        let n = read_file(&mut file, 100_000, &mut buf).expect("read");
        assert_eq!(&buf[..n], &data[..]);
    }
}
