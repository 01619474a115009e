//! SPDX license expressions as `reuse lint` accepts them.
//!
//! reuse parses with the `license-expression` Python package and no symbol list, so any
//! word of letters, digits and `_ . - + :` is a license; `AND`, `OR`, `WITH` are
//! case-insensitive keywords; `WITH` takes a plain license on its left and a plain word
//! on its right. The `spdx` crate checks identifiers against the SPDX list, which reuse
//! does not, so we parse ourselves. `licenses` lists licenses and exceptions in order of
//! first appearance, without duplicates, as reuse's `license_keys` does.

/// A parsed expression: its license and exception words, in order, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    pub licenses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    And,
    Or,
    With,
    Word(&'a str),
}

fn is_symbol_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+' | ':')
}

fn tokenize(text: &str) -> Option<Vec<Token<'_>>> {
    let mut tokens = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else { break };
        match c {
            '(' => {
                tokens.push(Token::Open);
                rest = &rest[1..];
            }
            ')' => {
                tokens.push(Token::Close);
                rest = &rest[1..];
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '(' || c == ')')
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                rest = &rest[end..];
                if word.eq_ignore_ascii_case("and") {
                    tokens.push(Token::And);
                } else if word.eq_ignore_ascii_case("or") {
                    tokens.push(Token::Or);
                } else if word.eq_ignore_ascii_case("with") {
                    tokens.push(Token::With);
                } else if word.chars().all(is_symbol_char) {
                    tokens.push(Token::Word(word));
                } else {
                    return None;
                }
            }
        }
    }
    Some(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    licenses: Vec<String>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn add(&mut self, word: &str) {
        if !self.licenses.iter().any(|l| l == word) {
            self.licenses.push(word.to_string());
        }
    }

    // expr := term ((AND | OR) term)*
    fn expr(&mut self) -> Option<()> {
        self.term()?;
        while matches!(self.peek(), Some(Token::And | Token::Or)) {
            self.pos += 1;
            self.term()?;
        }
        Some(())
    }

    // term := '(' expr ')' | word [WITH word]
    fn term(&mut self) -> Option<()> {
        match self.peek()?.clone() {
            Token::Open => {
                self.pos += 1;
                self.expr()?;
                if self.peek() != Some(&Token::Close) {
                    return None;
                }
                self.pos += 1;
                Some(())
            }
            Token::Word(word) => {
                self.pos += 1;
                self.add(word);
                if self.peek() == Some(&Token::With) {
                    self.pos += 1;
                    match self.peek()?.clone() {
                        Token::Word(exception) => {
                            self.pos += 1;
                            self.add(exception);
                        }
                        _ => return None,
                    }
                }
                Some(())
            }
            _ => None,
        }
    }
}

/// Parses `text`; `None` when reuse would call it an invalid SPDX expression.
pub fn parse(text: &str) -> Option<Expression> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return None;
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        licenses: Vec::new(),
    };
    parser.expr()?;
    if parser.pos != parser.tokens.len() {
        return None;
    }
    Some(Expression {
        licenses: parser.licenses,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    /// Cases and verdicts taken from reuse 6.2.0's `SpdxExpression.is_valid`.
    #[test]
    fn agrees_with_reuse_on_observed_cases() {
        let valid = [
            ("MIT", &["MIT"][..]),
            ("mit and foo", &["mit", "foo"]),
            ("foo+", &["foo+"]),
            ("(MIT)", &["MIT"]),
            ("MIT AND (Apache-2.0 OR BSD)", &["MIT", "Apache-2.0", "BSD"]),
            ("GPL-2.0 with x", &["GPL-2.0", "x"]),
            ("a WITH b AND c", &["a", "b", "c"]),
            ("LicenseRef-x:y", &["LicenseRef-x:y"]),
            ("a+ WITH b", &["a+", "b"]),
            ("a\tAND b", &["a", "b"]),
            ("ä", &["ä"]),
            ("((a))", &["a"]),
            ("a.WITH.b", &["a.WITH.b"]),
            ("MIT OR MIT", &["MIT"]),
        ];
        for (text, licenses) in valid {
            let parsed = parse(text).unwrap_or_else(|| panic!("{text:?} should be valid"));
            assert_eq!(parsed.licenses, licenses, "{text:?}");
        }
        let invalid = [
            "foo/bar",
            "MIT OR",
            "GPL WITH x WITH y",
            "(a WITH b) WITH c",
            "a WITH (b)",
            "",
            "   ",
            "a,b",
            "a AND AND b",
            "() MIT",
            "(a) (b)",
            "a b",
            "a\"b",
            "a WITH",
            "WITH a",
            "AND",
            "or",
            "(a AND b",
            "a)",
            "foo\\bar",
            "a@b",
            "a withb",
            "x(y)",
            "()",
            "a AND ()",
            "LicenseRef-a:b/c",
            "MIT Apache-2.0",
        ];
        for text in invalid {
            assert_eq!(parse(text), None, "{text:?} should be invalid");
        }
    }
}
