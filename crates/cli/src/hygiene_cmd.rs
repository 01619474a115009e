//! `govmesh hygiene`: the command-line face of crates/hygiene. Picks the policy (file,
//! node or Codex default), runs the check with a progress bar on a terminal, prints the
//! report and maps it to the exit code (0 clean, 1 error findings, 2 usage/I/O).

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use govmesh_hygiene::{CheckOptions, Policy, output};

/// Output formats of `hygiene check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

/// Tools whose configuration `hygiene import` converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFrom {
    LsLint,
    Repolinter,
}

#[derive(Debug, Subcommand)]
pub enum HygieneCommand {
    /// Check a repository against the clause 5.2.5 rules.
    Check {
        /// The repository to check.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// A policy file (JSON, or TOML when it ends in .toml).
        #[arg(long, conflicts_with = "node")]
        policy: Option<PathBuf>,
        /// Take clause 5.2.5 of the adopted Codex from this node (its base URL).
        #[arg(long)]
        node: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Check only these files (pre-commit); project-wide rules are skipped.
        #[arg(long, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Worker threads (0: one per CPU).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Sign the result as an in-toto Statement (DSSE envelope; subject: the git
        /// commit and tree; predicate: contract, revision, clause 5.2.5 hash, summary)
        /// and submit it to the --node as an `attest` entry (printing its log index);
        /// needs --key, a registered node's key.
        #[arg(long, requires_all = ["key", "node"])]
        attest: bool,
        /// Also write the signed DSSE envelope to this file.
        #[arg(long, requires = "attest")]
        attest_out: Option<PathBuf>,
        /// Key file to sign the attestation with (a registered node's key, e.g. its
        /// `node.key`, or one from `govmesh key new` registered with the mesh).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Add missing SPDX headers (in the file's comment style) or `.license` sidecars,
    /// and create missing required files (README, CONTRIBUTING, SECURITY, and with
    /// --license the texts in LICENSES/) from built-in templates; never overwrites.
    Fix {
        /// The repository to fix.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Copyright text to add where it is missing, e.g. "2026 Jane Doe".
        #[arg(long)]
        copyright: String,
        /// SPDX license expression to add where it is missing, e.g. "MIT"; also
        /// the license whose text is created in LICENSES/ when no license file exists.
        #[arg(long)]
        license: Option<String>,
        /// Print the changes as a unified diff instead of writing them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Convert an `.ls-lint.yml` or a repolinter ruleset (JSON or YAML) into a policy
    /// (JSON on stdout; what has no equivalent is listed on stderr).
    Import {
        /// The configuration file to convert.
        file: PathBuf,
        /// What the file is; by default ls-lint when its name says so, else repolinter.
        #[arg(long, value_enum)]
        from: Option<ImportFrom>,
    },
}

/// Runs a hygiene command; returns the process exit code.
pub fn run(cmd: HygieneCommand) -> anyhow::Result<i32> {
    match cmd {
        HygieneCommand::Check {
            path,
            policy,
            node,
            format,
            files,
            threads,
            attest,
            attest_out,
            key,
        } => check(
            &path,
            policy.as_deref(),
            node.as_deref(),
            format,
            &files,
            threads,
            key.as_deref().filter(|_| attest).map(|key| Attest {
                key,
                out: attest_out.as_deref(),
            }),
        ),
        HygieneCommand::Fix {
            path,
            copyright,
            license,
            dry_run,
        } => fix(&path, &copyright, license.as_deref(), dry_run),
        HygieneCommand::Import { file, from } => import(&file, from),
    }
}

fn import(file: &Path, from: Option<ImportFrom>) -> anyhow::Result<i32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let from = from.unwrap_or_else(|| {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.contains("ls-lint") {
            ImportFrom::LsLint
        } else {
            ImportFrom::Repolinter
        }
    });
    let imported = match from {
        ImportFrom::LsLint => govmesh_hygiene::import::from_ls_lint(&text),
        ImportFrom::Repolinter => govmesh_hygiene::import::from_repolinter(&text),
    }
    .with_context(|| {
        format!(
            "cannot convert {} as {from:?} (choose with --from)",
            file.display()
        )
    })?;
    println!("{}", serde_json::to_string_pretty(&imported.rules)?);
    // Each line names the rule and says why it is not (or not wholly) converted.
    for u in &imported.unsupported {
        eprintln!("import: {}", u.replace('\n', " "));
    }
    Ok(0)
}

fn fix(path: &Path, copyright: &str, license: Option<&str>, dry_run: bool) -> anyhow::Result<i32> {
    if let Some(license) = license
        && govmesh_hygiene::reuse::expr::parse(license).is_none()
    {
        bail!("--license {license:?} is not a valid SPDX license expression");
    }
    if license.is_none() {
        eprintln!(
            "no --license: files get only a copyright line and no license text is created; \
             pass --license EXPR (e.g. MIT) to state the license"
        );
    }
    // Required files first, so their headers are written with them.
    let mut plans = govmesh_hygiene::fix::plan_required_files(
        path,
        &govmesh_hygiene::Policy::codex_default(),
        Some(copyright),
        license,
    )?;
    plans.extend(govmesh_hygiene::fix::plan_repository(
        path, copyright, license,
    )?);
    if dry_run {
        for p in &plans {
            print!("{}", govmesh_hygiene::fix::diff(p));
        }
        return Ok(0);
    }
    let written = govmesh_hygiene::fix::apply(path, &plans)
        .with_context(|| format!("writing fixes under {}", path.display()))?;
    for p in &plans {
        if let govmesh_hygiene::fix::Plan::Skip { path, reason } = p {
            eprintln!("skipped {path}: {reason}");
        }
    }
    eprintln!("{written} files written");
    Ok(0)
}

/// Where the attested rules came from: the contract revision and clause hash.
#[derive(Debug, Clone, PartialEq)]
struct ClauseSource {
    contract_id: String,
    revision: serde_json::Value,
    contract_hash: serde_json::Value,
    clause_hash: serde_json::Value,
}

fn load_policy(
    policy: Option<&Path>,
    node: Option<&str>,
) -> anyhow::Result<(Policy, Option<ClauseSource>)> {
    if let Some(file) = policy {
        return Ok((Policy::load(file)?, None));
    }
    if let Some(url) = node {
        let (policy, source) = clause_from_node(url)?;
        return Ok((policy, Some(source)));
    }
    Ok((Policy::codex_default(), None))
}

/// GET {node}/v1/contracts/codex and take the `rules` of clause 5.2.5.
#[cfg(test)]
fn policy_from_node(base: &str) -> anyhow::Result<Policy> {
    clause_from_node(base).map(|(p, _)| p)
}

/// GET {node}/v1/contracts/codex: clause 5.2.5's rules as a policy, and where they
/// come from (revision, contract hash, clause hash).
fn clause_from_node(base: &str) -> anyhow::Result<(Policy, ClauseSource)> {
    let url = format!("{}/v1/contracts/codex", base.trim_end_matches('/'));
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?
        .get(&url)
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    let contract: serde_json::Value = response
        .json()
        .with_context(|| format!("{url} did not return JSON"))?;
    // The record must hash as served (clause 11.0 contract_chain), so that the
    // attestation names the revision whose rules were applied.
    let claimed = contract
        .get("contract_hash")
        .and_then(|h| h.as_str())
        .with_context(|| format!("the contract from {url} has no contract_hash"))?
        .to_owned();
    let mut record = contract.clone();
    if let Some(m) = record.as_object_mut() {
        m.remove("contract_hash");
    }
    let hashed = govmesh_core::canonical::hash_canonical(&record)
        .map_err(|e| anyhow::anyhow!("the contract from {url} cannot be canonicalized: {e}"))?;
    if hashed.to_hex() != claimed {
        bail!(
            "the contract from {url} hashes to {hashed} without contract_hash, not to the \
             contract_hash {claimed} it carries: refusing rules that are not the record's"
        );
    }
    let clauses = contract
        .get("clauses")
        .and_then(|c| c.as_array())
        .with_context(|| format!("the contract from {url} has no clauses array"))?;
    let clause = clauses
        .iter()
        .find(|c| c.get("clause_id").and_then(|i| i.as_str()) == Some("5.2.5"))
        .with_context(|| format!("the contract from {url} has no clause 5.2.5"))?;
    let parsed: govmesh_core::model::Clause = serde_json::from_value(clause.clone())
        .with_context(|| format!("clause 5.2.5 from {url} is not a clause"))?;
    let clause_hash = parsed
        .hash()
        .map_err(|e| anyhow::anyhow!("clause 5.2.5 from {url}: {e}"))?;
    let policy = Policy::from_json_value(parsed.rules, &format!("clause 5.2.5 from {url}"))?;
    let source = ClauseSource {
        contract_id: contract
            .get("contract_id")
            .and_then(|c| c.as_str())
            .unwrap_or("codex")
            .to_string(),
        revision: contract.get("revision").cloned().unwrap_or_default(),
        contract_hash: serde_json::Value::String(claimed),
        clause_hash: serde_json::Value::String(clause_hash.to_hex()),
    };
    Ok((policy, source))
}

fn git_digest(path: &Path, rev: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", rev])
        .current_dir(path)
        .output()
        .context("cannot run git (the attestation's subject is the git commit)")?;
    if !out.status.success() {
        bail!(
            "{} is not a git repository with a commit: the attestation needs one",
            path.display()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `--attest`: the key to sign with and where else to write the envelope.
#[derive(Debug, Clone, Copy)]
struct Attest<'a> {
    key: &'a Path,
    out: Option<&'a Path>,
}

/// The hygiene predicate for `report` against the clause `source` names.
fn hygiene_predicate(
    report: &govmesh_hygiene::Report,
    source: &ClauseSource,
) -> anyhow::Result<govmesh_core::attestation::HygienePredicate> {
    use govmesh_core::Digest;
    let digest = |v: &serde_json::Value, what: &str| -> anyhow::Result<Digest> {
        let s = v
            .as_str()
            .with_context(|| format!("the node did not say the {what} (got {v})"))?;
        Digest::from_hex(s).map_err(|e| anyhow::anyhow!("the node's {what} {s:?}: {e}"))
    };
    let s = &report.summary;
    Ok(govmesh_core::attestation::HygienePredicate {
        contract_id: source.contract_id.clone(),
        revision: source.revision.as_u64().with_context(|| {
            format!(
                "the node did not say the contract revision (got {})",
                source.revision
            )
        })?,
        contract_hash: Some(digest(&source.contract_hash, "contract hash")?),
        clause_id: govmesh_core::attestation::HYGIENE_CLAUSE.to_owned(),
        clause_hash: digest(&source.clause_hash, "hash of clause 5.2.5")?,
        summary: govmesh_core::attestation::HygieneSummary {
            files_checked: s.files_checked,
            errors: s.errors,
            warnings: s.warnings,
            infos: s.infos,
            reuse_compliant: s.reuse_compliant,
        },
        passed: !report.has_errors(),
    })
}

/// Signs an in-toto Statement about the checked commit (subject: git commit and
/// tree) as a DSSE envelope.
fn sign_attestation(
    path: &Path,
    report: &govmesh_hygiene::Report,
    source: &ClauseSource,
    key: &govmesh_core::keys::KeyPair,
) -> anyhow::Result<govmesh_core::dsse::Envelope> {
    use std::collections::BTreeMap;
    let commit = git_digest(path, "HEAD")?;
    let tree = git_digest(path, "HEAD^{tree}")?;
    let subject = govmesh_core::intoto::ResourceDescriptor {
        name: Some("git+HEAD".into()),
        digest: BTreeMap::from([
            ("gitCommit".to_string(), commit),
            ("gitTree".to_string(), tree),
        ]),
    };
    let predicate = hygiene_predicate(report, source)?;
    Ok(govmesh_core::attestation::sign_hygiene(
        key,
        vec![subject],
        &predicate,
    ))
}

/// Signs the attestation, writes it if asked, submits it to `node` as an `attest`
/// entry and returns the log index the node gave it.
fn submit_attestation(
    path: &Path,
    report: &govmesh_hygiene::Report,
    source: &ClauseSource,
    attest: Attest<'_>,
    node: &str,
) -> anyhow::Result<u64> {
    let key = crate::keyfile::read(attest.key)?;
    let envelope = sign_attestation(path, report, source, &key)?;
    if let Some(out) = attest.out {
        std::fs::write(out, serde_json::to_string_pretty(&envelope)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    let answer = crate::client::NodeClient::new(node)?
        .submit(
            &key,
            govmesh_core::entry::Operation::Attest(govmesh_core::entry::AttestOp { envelope }),
        )
        .with_context(|| format!("submitting the attestation to {node}"))?;
    answer
        .get("index")
        .and_then(serde_json::Value::as_u64)
        .with_context(|| format!("{node} accepted the attestation but gave no index: {answer}"))
}

fn relative_files(root: &Path, files: &[PathBuf]) -> anyhow::Result<BTreeSet<String>> {
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot open {}", root.display()))?;
    let mut out = BTreeSet::new();
    for f in files {
        let abs = f
            .canonicalize()
            .with_context(|| format!("cannot open {}", f.display()))?;
        let rel = abs
            .strip_prefix(&root)
            .with_context(|| format!("{} is not inside {}", f.display(), root.display()))?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        out.insert(parts.join("/"));
    }
    Ok(out)
}

fn check(
    path: &Path,
    policy: Option<&Path>,
    node: Option<&str>,
    format: Format,
    files: &[PathBuf],
    threads: usize,
    attest: Option<Attest<'_>>,
) -> anyhow::Result<i32> {
    let (policy, source) = load_policy(policy, node)?;
    let only = if files.is_empty() {
        None
    } else {
        Some(relative_files(path, files)?)
    };
    let counter = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} files checked ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let (bar2, counter2, done2) = (bar.clone(), counter.clone(), done.clone());
        let ticker = std::thread::spawn(move || {
            while !done2.load(Ordering::Relaxed) {
                bar2.set_position(counter2.load(Ordering::Relaxed));
                bar2.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        (bar, ticker)
    });
    let options = CheckOptions {
        only,
        threads,
        progress: Some(counter),
    };
    let result = govmesh_hygiene::check(path, &policy, &options);
    done.store(true, Ordering::Relaxed);
    if let Some((bar, ticker)) = bar {
        let _ = ticker.join();
        bar.finish_and_clear();
    }
    let report = result?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    match format {
        Format::Text => out.write_all(output::text(&report).as_bytes())?,
        Format::Json => {
            output::write_json(&report, &mut out)?;
            writeln!(out)?;
        }
        Format::Sarif => writeln!(out, "{}", output::sarif(&report, env!("CARGO_PKG_VERSION")))?,
        Format::Github => out.write_all(output::github(&report).as_bytes())?,
    }
    out.flush()?;
    if let (Some(attest), Some(source), Some(node)) = (attest, &source, node) {
        let index = submit_attestation(path, &report, source, attest, node)?;
        // On stderr: stdout holds the report in the chosen format.
        eprintln!("attestation submitted to {node}: log index {index}");
        if let Some(out) = attest.out {
            eprintln!("attestation envelope written to {}", out.display());
        }
    }
    Ok(if report.has_errors() { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// Serves `body` as JSON to one request on a loopback port picked at run time.
    fn serve_once(body: String) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://{addr}")
    }

    /// `contract` with the `contract_hash` it hashes to.
    fn hashed(mut contract: serde_json::Value) -> serde_json::Value {
        let h = govmesh_core::canonical::hash_canonical(&contract).expect("hash");
        contract["contract_hash"] = serde_json::json!(h);
        contract
    }

    #[test]
    fn node_policy_is_clause_5_2_5_rules() {
        let rules = serde_json::json!({"version": 1, "rules": [
            {"id": "naming/src", "kind": "naming", "glob": "src/**", "case": "kebab", "severity": "error"}
        ]});
        let contract = hashed(serde_json::json!({"contract_id": "codex", "clauses": [
            {"clause_id": "5.4", "title": "t", "text": "x", "rules": {}},
            {"clause_id": "5.2.5", "title": "t", "text": "x", "rules": rules}
        ]}));
        let url = serve_once(contract.to_string());
        let policy = policy_from_node(&url).expect("policy from node");
        assert_eq!(policy.naming.len(), 1);
        assert_eq!(policy.naming[0].id.as_deref(), Some("naming/src"));

        // A field served inside the record that its hash does not cover is refused.
        let mut padded = contract.clone();
        padded["clause_hashes"] = serde_json::json!({"5.2.5": "cd".repeat(32)});
        let err = policy_from_node(&serve_once(padded.to_string())).expect_err("not the record");
        assert!(
            err.to_string().contains("not to the contract_hash"),
            "{err}"
        );
    }

    #[test]
    fn node_without_clause_5_2_5_is_a_clear_error() {
        let contract = hashed(serde_json::json!({"clauses": [{"clause_id": "5.4"}]}));
        let url = serve_once(contract.to_string());
        let err = policy_from_node(&url).expect_err("no clause");
        assert!(err.to_string().contains("no clause 5.2.5"), "{err}");
    }

    #[test]
    fn attestation_is_a_signed_statement_about_the_commit_and_clause() {
        let repo = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(args)
                .current_dir(repo.path())
                .output()
                .expect("git")
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        std::fs::write(repo.path().join("README.md"), "# x\n").expect("write");
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "x",
        ]);
        let rules = serde_json::json!({"version": 1, "rules": [
            {"id": "structure/readme", "kind": "required_file", "any_of": ["README.md"], "severity": "error"}
        ]});
        let clause = serde_json::json!({
            "clause_id": "5.2.5", "title": "Hygiene", "text": "Rules.", "rules": rules
        });
        let mut contract = serde_json::json!({
            "contract_id": "codex", "label": "Codex", "revision": 3,
            "adopted_at": "2026-01-01T00:00:00.000Z", "clauses": [clause.clone()],
        });
        let contract_hash = govmesh_core::canonical::hash_canonical(&contract).expect("hash");
        contract["contract_hash"] = serde_json::json!(contract_hash);
        let clause_hash = govmesh_core::canonical::hash_canonical(&clause).expect("hash");
        let url = serve_once(contract.to_string());
        let key_path = repo.path().join("key.json");
        let key = crate::keyfile::create(&key_path).expect("key");
        let (policy, source) = load_policy(None, Some(&url)).expect("policy");
        let report =
            govmesh_hygiene::check(repo.path(), &policy, &CheckOptions::default()).expect("check");
        let code = i32::from(report.has_errors());
        let out = repo.path().join("attestation.json");
        let envelope =
            sign_attestation(repo.path(), &report, &source.expect("source"), &key).expect("sign");
        std::fs::write(&out, serde_json::to_string(&envelope).expect("json")).expect("write");
        assert_eq!(code, 0);
        let envelope: govmesh_core::dsse::Envelope =
            serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("envelope");
        let payload = envelope.verify(&key.public()).expect("signature verifies");
        let statement: govmesh_core::intoto::Statement =
            serde_json::from_slice(&payload).expect("statement");
        assert_eq!(
            statement.predicate_type,
            govmesh_core::attestation::HYGIENE_PREDICATE_TYPE
        );
        assert_eq!(statement.predicate["revision"], 3);
        assert_eq!(statement.predicate["clause_hash"], clause_hash.to_hex());
        assert_eq!(statement.predicate["contract_hash"], contract_hash.to_hex());
        assert_eq!(statement.predicate["passed"], true);
        let head = git_digest(repo.path(), "HEAD").expect("head");
        assert_eq!(statement.subject[0].digest["gitCommit"], head);
    }
}
