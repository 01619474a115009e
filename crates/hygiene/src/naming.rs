//! Naming conventions for file and directory names (pure).

use serde::{Deserialize, Serialize};

/// A naming convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    /// `my-file`
    Kebab,
    /// `my_file`
    Snake,
    /// `MY_FILE`
    ScreamingSnake,
    /// `myFile`
    Camel,
    /// `MyFile`
    Pascal,
    /// no upper-case letters
    Lower,
    /// the rule's `pattern` must match the whole name
    Regex,
}

/// The part of a name a case applies to: a leading dot is dropped, and for files
/// everything from the first remaining dot on is the extension (so `a.spec.ts` is `a`
/// and `Makefile` is itself).
pub fn stem(name: &str, is_dir: bool) -> &str {
    let name = name.strip_prefix('.').unwrap_or(name);
    if is_dir {
        return name;
    }
    match name.find('.') {
        Some(i) => &name[..i],
        None => name,
    }
}

fn words(s: &str, sep: char, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.split(sep).all(|w| !w.is_empty() && w.chars().all(&ok))
}

/// Whether `stem` follows `case` (not for `Case::Regex`, which needs a pattern).
pub fn follows(stem: &str, case: Case) -> bool {
    let lower_digit = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let upper_digit = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
    let first = stem.chars().next();
    match case {
        Case::Kebab => words(stem, '-', lower_digit),
        Case::Snake => words(stem, '_', lower_digit),
        Case::ScreamingSnake => words(stem, '_', upper_digit),
        Case::Camel => {
            first.is_some_and(|c| c.is_ascii_lowercase())
                && stem.chars().all(|c| c.is_ascii_alphanumeric())
        }
        Case::Pascal => {
            first.is_some_and(|c| c.is_ascii_uppercase())
                && stem.chars().all(|c| c.is_ascii_alphanumeric())
        }
        Case::Lower => !stem.is_empty() && !stem.chars().any(char::is_uppercase),
        Case::Regex => true,
    }
}

/// The case's name, for messages.
pub fn describe(case: Case) -> &'static str {
    match case {
        Case::Kebab => "kebab-case",
        Case::Snake => "snake_case",
        Case::ScreamingSnake => "SCREAMING_SNAKE_CASE",
        Case::Camel => "camelCase",
        Case::Pascal => "PascalCase",
        Case::Lower => "lower case",
        Case::Regex => "matching the pattern",
    }
}

/// An example of the case, for messages.
pub fn example(case: Case) -> &'static str {
    match case {
        Case::Kebab => "my-file-name",
        Case::Snake => "my_file_name",
        Case::ScreamingSnake => "MY_FILE_NAME",
        Case::Camel => "myFileName",
        Case::Pascal => "MyFileName",
        Case::Lower => "myfile-name_2",
        Case::Regex => "a name matching the pattern",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        let table = [
            ("my-file", Case::Kebab, true),
            ("my_file", Case::Kebab, false),
            ("my--file", Case::Kebab, false),
            ("my_file2", Case::Snake, true),
            ("MY_FILE", Case::ScreamingSnake, true),
            ("MY_file", Case::ScreamingSnake, false),
            ("myFile", Case::Camel, true),
            ("MyFile", Case::Camel, false),
            ("MyFile", Case::Pascal, true),
            ("my-File", Case::Lower, false),
            ("my-file_x", Case::Lower, true),
        ];
        for (name, case, ok) in table {
            assert_eq!(follows(name, case), ok, "{name} {case:?}");
        }
    }

    #[test]
    fn stems_drop_compound_extensions() {
        assert_eq!(stem("button.spec.ts", false), "button");
        assert_eq!(stem("Makefile", false), "Makefile");
        assert_eq!(stem(".eslintrc.json", false), "eslintrc");
        assert_eq!(stem("v1.2", true), "v1.2");
    }
}
