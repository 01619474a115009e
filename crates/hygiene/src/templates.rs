//! Built-in templates for the required files `hygiene fix` creates (README,
//! CONTRIBUTING, SECURITY) and the few license texts it can write into `LICENSES/`
//! without downloading anything. Angle-bracket placeholders are for the maintainer to
//! fill in.

/// A README for `project` with the given headings (beyond the built-in ones) and a
/// License section that names `license` when one is configured.
pub fn readme(project: &str, extra_headings: &[String], license: Option<&str>) -> String {
    let mut s = format!(
        "# {project}\n\n\
         <One paragraph: what {project} is, what problem it solves and for whom.>\n\n\
         ## Installation\n\n\
         <How to install or build it, with the commands to run.>\n\n\
         ## Usage\n\n\
         <How to use it, with a short example.>\n\n"
    );
    for h in extra_headings {
        s.push_str(&format!("## {h}\n\n<{h}.>\n\n"));
    }
    s.push_str("## License\n\n");
    match license {
        Some(l) => s.push_str(&format!(
            "{project} is licensed under `{l}`; the license texts are in `LICENSES/`. \
             Each file states its copyright and license in an SPDX header or a \
             `.license` file, as the REUSE specification 3.3 describes.\n"
        )),
        None => {
            s.push_str("<State the license here, and put its text in `LICENSES/<SPDX id>.txt`.>\n")
        }
    }
    s
}

/// A CONTRIBUTING guide for `project`.
pub fn contributing(project: &str, license: Option<&str>) -> String {
    let terms = match license {
        Some(l) => format!("under the project's license, `{l}`"),
        None => "under the project's license".to_string(),
    };
    format!(
        "# Contributing to {project}\n\n\
         ## Proposing a change\n\n\
         Open an issue that describes the problem before starting a large change; small \
         fixes can go straight to a pull request.\n\n\
         ## Before you submit\n\n\
         - Keep each change focused, and say in its description why it is needed.\n\
         - Add or update tests for what you change; the test suite must pass.\n\
         - Every new file carries its copyright and license in an SPDX header (REUSE \
         3.3); `govmesh hygiene fix` adds missing ones.\n\n\
         ## Review\n\n\
         A maintainer reviews each pull request before it is merged. \
         <Who the maintainers are and how long a review usually takes.>\n\n\
         ## License\n\n\
         Contributions are accepted {terms}.\n"
    )
}

/// A security policy for `project`.
pub fn security(project: &str) -> String {
    format!(
        "# Security policy\n\n\
         ## Reporting a vulnerability\n\n\
         Please do not report security problems in public issues. Report them \
         privately: <use the repository's private vulnerability reporting, or write to \
         SECURITY CONTACT ADDRESS>.\n\n\
         Include what is affected, how to reproduce the problem and what an attacker \
         could do with it. We acknowledge reports within <N> working days and tell you \
         when a fix is released.\n\n\
         ## Supported versions\n\n\
         <Which versions of {project} receive security fixes.>\n"
    )
}

const MIT: &str = "MIT License

Copyright (c) <year> <copyright holders>

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated documentation files (the \"Software\"), to deal in the Software without restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
";

const ISC_DISCLAIMER: &str = "THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
";

/// The text of license `id` when it is built in (MIT, ISC, 0BSD), with `copyright`
/// filled into its copyright line when given.
pub fn license_text(id: &str, copyright: Option<&str>) -> Option<String> {
    let holder = |placeholder: &str| match copyright {
        Some(c) => format!("Copyright (c) {c}"),
        None => placeholder.to_string(),
    };
    Some(match id {
        "MIT" => MIT.replace(
            "Copyright (c) <year> <copyright holders>",
            &holder("Copyright (c) <year> <copyright holders>"),
        ),
        "ISC" => format!(
            "ISC License\n\n{}\n\nPermission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted, provided that the above copyright notice and this permission notice appear in all copies.\n\n{ISC_DISCLAIMER}",
            holder("Copyright (c) <year> <owner>")
        ),
        "0BSD" => format!(
            "{}\n\nPermission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted.\n\n{ISC_DISCLAIMER}",
            holder("Copyright (C) <year> by <copyright holders>")
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_texts_fill_the_holder_and_know_their_limits() {
        let mit = license_text("MIT", Some("2026 Jane Doe")).expect("MIT is built in");
        assert!(mit.starts_with("MIT License\n\nCopyright (c) 2026 Jane Doe\n"));
        assert!(!mit.contains('<'));
        assert!(
            license_text("ISC", None)
                .expect("ISC")
                .contains("<year> <owner>")
        );
        assert!(license_text("Apache-2.0", None).is_none());
    }

    #[test]
    fn readme_has_the_license_section_and_extra_headings() {
        let r = readme("demo", &["Support".into()], Some("MIT"));
        assert!(r.starts_with("# demo\n"));
        assert!(r.contains("\n## Support\n"));
        assert!(r.contains("\n## License\n\ndemo is licensed under `MIT`"));
        assert!(readme("demo", &[], None).contains("LICENSES/<SPDX id>.txt"));
    }
}
