//! Agreement with `reuse lint --json`: the set of licenses or files per category must
//! be identical, on the fixtures and on generated repositories full of edge cases.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use govmesh_hygiene::{CheckOptions, Policy, check_detailed};

use crate::util::{commit_all, materialise, reuse_lint};

fn ours(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let (_, reuse) = check_detailed(dir, &Policy::codex_default(), &CheckOptions::default())
        .expect("check runs");
    let reuse = reuse.expect("the Codex policy checks REUSE");
    let mut out: BTreeMap<String, BTreeSet<String>> = reuse
        .categories()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    out.insert(
        "files-total".into(),
        [reuse.files_total.to_string()].into_iter().collect(),
    );
    out
}

fn assert_agree(dir: &Path, what: &str) {
    let theirs = reuse_lint(dir);
    let ours = ours(dir);
    let mut report = String::new();
    for (category, expected) in &theirs {
        let got = ours.get(category).cloned().unwrap_or_default();
        let missing: Vec<_> = expected.difference(&got).collect();
        let extra: Vec<_> = got.difference(expected).collect();
        if missing.is_empty() && extra.is_empty() {
            continue;
        }
        report.push_str(&format!(
            "\ncategory {category} differs from reuse lint ({} in reuse, {} in ours)\n  only reuse ({}): {:?}\n  only ours ({}): {:?}",
            expected.len(),
            got.len(),
            missing.len(),
            &missing[..missing.len().min(20)],
            extra.len(),
            &extra[..extra.len().min(20)],
        ));
        // Show the first files involved, so a difference can be judged from the output.
        for p in missing.iter().chain(extra.iter()).take(3) {
            for candidate in [dir.join(p), dir.join(format!("{p}.license"))] {
                if let Ok(data) = std::fs::read(&candidate) {
                    let head = &data[..data.len().min(600)];
                    report.push_str(&format!(
                        "\n--- {}:\n{}",
                        candidate.display(),
                        head.escape_ascii()
                    ));
                }
            }
        }
    }
    assert!(report.is_empty(), "{what}:{report}");
}

#[test]
fn fixtures_agree_with_reuse_lint() {
    for name in [
        "reuse-compliant",
        "reuse-broken",
        "reuse-toml-precedence",
        "reuse-dep5",
        "structure-content",
        "naming",
    ] {
        let dir = materialise(name);
        assert_agree(dir.path(), name);
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const LINES: &[&[u8]] = &[
    b"# SPDX-License-Identifier: MIT",
    b"/* SPDX-License-Identifier: Apache-2.0 */",
    b"<!-- SPDX-License-Identifier: GPL-2.0-or-later WITH Classpath-exception-2.0 -->",
    b"// SPDX-License-Identifier: MIT OR",
    b"SPDX-License-Identifier: LicenseRef-Mine",
    b"SPDX-License-Identifier: GPL-3.0+",
    b"; SPDX-License-Identifier: BSD-3-Clause } }",
    b"-- SPDX-License-Identifier: MIT --}}",
    b"{# SPDX-License-Identifier: mit and apache-2.0 #}",
    b"SPDX-License-Identifier: (MIT",
    b"SPDX-License-Identifier:",
    b"# SPDX-FileCopyrightText: 2024 Jane Doe",
    b"Copyright (C) 2020 Foo",
    b"Copyright: nobody",
    b"\xc2\xa9 2019 Bar",
    b"Copyright",
    b"Copyright(c) x SPDX-License-Identifier: MIT",
    b"REUSE-IgnoreStart",
    b"REUSE-IgnoreEnd",
    b"SPDX-FileContributor: Someone",
    b"SPDX-SnippetBegin",
    b"// SPDX-SnippetCopyrightText: 2021 Snip",
    b"SPDX-SnippetEnd",
    b"plain text",
    b"int main(void) { return 0; }",
    b"\xa9 2001 J\xf6rg",
    b"x = 'SPDX-License-Identifier: MIT'/>",
    b".. SPDX-License-Identifier: [MIT] ::",
];

const LICENSES: &[&str] = &[
    "MIT.txt",
    "Apache-2.0.txt",
    "GPL-3.0",
    "LicenseRef-Mine.txt",
    "Foo.txt",
    "Classpath-exception-2.0.txt",
    "GPL-2.0-or-later.md",
    "BSD-3-Clause.txt",
    "GPL-2.0.txt",
];

fn generate(dir: &Path, seed: u64) {
    let mut rng = Rng(seed);
    let write = |rel: &str, data: &[u8]| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, data).expect("write");
    };
    for l in LICENSES {
        if rng.below(3) > 0 {
            write(&format!("LICENSES/{l}"), b"license text\n");
        }
    }
    write("LICENSE", b"top-level license, ignored by reuse\n");
    write(".gitignore", b"*.log\n");
    for i in 0..60 {
        let dirs = [
            "",
            "src/",
            "src/deep/",
            "vendor/",
            "docs/",
            "subprojects/lib/",
        ];
        let exts = [".c", ".py", ".md", ".txt", ".log", ".bin", ""];
        let rel = format!(
            "{}f{i}{}",
            dirs[rng.below(dirs.len())],
            exts[rng.below(exts.len())]
        );
        let mut data = Vec::new();
        if rel.ends_with(".bin") && rng.below(2) == 0 {
            data.extend_from_slice(b"\x00\x01\x02\x03 binary ");
        }
        let newline: &[u8] = if rng.below(4) == 0 { b"\r\n" } else { b"\n" };
        for _ in 0..rng.below(6) {
            data.extend_from_slice(LINES[rng.below(LINES.len())]);
            data.extend_from_slice(newline);
        }
        write(&rel, &data);
        if rng.below(6) == 0 {
            let mut side = Vec::new();
            for _ in 0..rng.below(3) {
                side.extend_from_slice(LINES[rng.below(LINES.len())]);
                side.push(b'\n');
            }
            write(&format!("{rel}.license"), &side);
        }
    }
    if rng.below(2) == 0 {
        let precedence = ["closest", "aggregate", "override"];
        let toml = format!(
            "version = 1\n\n[[annotations]]\npath = [\"src/**\", \"*.md\"]\nprecedence = \"{}\"\nSPDX-FileCopyrightText = \"2026 Root\"\nSPDX-License-Identifier = \"MIT\"\n\n[[annotations]]\npath = \"vendor/*.c\"\nprecedence = \"{}\"\nSPDX-License-Identifier = \"Apache-2.0\"\n",
            precedence[rng.below(3)],
            precedence[rng.below(3)]
        );
        write("REUSE.toml", toml.as_bytes());
        if rng.below(2) == 0 {
            write(
                "src/deep/REUSE.toml",
                b"version = 1\n[[annotations]]\npath = \"*.c\"\nSPDX-FileCopyrightText = \"2026 Deep\"\n",
            );
        }
    }
}

#[test]
fn generated_repositories_agree_with_reuse_lint() {
    for seed in 1_u64..=12 {
        let dir = tempfile::tempdir().expect("tempdir");
        generate(dir.path(), seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        commit_all(dir.path());
        assert_agree(dir.path(), &format!("generated repository, seed {seed}"));
    }
}

/// Agreement on a real repository: `GOVMESH_AGREEMENT_REPO=/path cargo test -p
/// govmesh-hygiene -- --ignored real_repository` (the benchmark script runs it on
/// u-boot, passing the `reuse lint --json` it already made as GOVMESH_REUSE_JSON).
#[test]
#[ignore = "needs GOVMESH_AGREEMENT_REPO pointing at a checked-out repository"]
fn real_repository_agrees_with_reuse_lint() {
    let repo = std::env::var("GOVMESH_AGREEMENT_REPO")
        .expect("set GOVMESH_AGREEMENT_REPO to a repository path");
    assert_agree(Path::new(&repo), &repo);
}
