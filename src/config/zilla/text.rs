//! Zilla's `${{env.NAME}}` references, rewritten into native config text: kept as
//! `${NAME}` (for `mqtt-proxy convert`) or replaced by the variable's value (when
//! loading), with every other `$` written `$$` so the native substitution leaves it.

use crate::doc::{DocError, Node};

/// What to do with `${{env.NAME}}`.
pub enum EnvMode<'e> {
    /// Write `${NAME}` (the native reference).
    Keep,
    /// Put in the value; an unset variable is an error at its Zilla line.
    Resolve(&'e dyn Fn(&str) -> Option<String>),
}

/// One piece of a Zilla string.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Env(&'a str),
}

fn pieces(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${{") {
        out.push(Piece::Text(&rest[..at]));
        let body = &rest[at + 3..];
        let end = body.find("}}").ok_or("unterminated `${{`")?;
        let expr = body[..end].trim();
        let name = expr
            .strip_prefix("env.")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .ok_or_else(|| {
                format!("`${{{{{expr}}}}}`: only `${{{{env.NAME}}}}` expressions are supported")
            })?;
        out.push(Piece::Env(name));
        rest = &body[end + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// `s` (from `node` at `pointer`) as native config text.
pub fn native(mode: &EnvMode<'_>, s: &str, node: &Node, pointer: &str) -> Result<String, DocError> {
    let mut out = String::new();
    for p in pieces(s).map_err(|m| DocError::at(node, pointer, m))? {
        match (p, mode) {
            (Piece::Text(t), _) => out.push_str(&t.replace('$', "$$")),
            (Piece::Env(n), EnvMode::Keep) => out.push_str(&format!("${{{n}}}")),
            (Piece::Env(n), EnvMode::Resolve(lookup)) => {
                let v = lookup(n).ok_or_else(|| {
                    DocError::at(node, pointer, format!("environment variable `{n}` is not set"))
                })?;
                out.push_str(&v.replace('$', "$$"));
            }
        }
    }
    Ok(out)
}

/// The text a port or other structural scalar is compared by: numbers as
/// numbers, references by their name (so `${{env.P}}` matches `${{env.P}}`).
pub fn key_of(s: &str) -> String {
    match s.trim().parse::<u64>() {
        Ok(n) => n.to_string(),
        Err(_) => s.trim().replace(' ', ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Value;

    fn node() -> Node {
        Node { line: 3, value: Value::Null }
    }

    #[test]
    fn references_are_kept_or_resolved_and_dollars_escaped() {
        let s = "a$b ${{env.HOST}}:${{ env.PORT }}";
        assert_eq!(native(&EnvMode::Keep, s, &node(), "/x"), Ok("a$$b ${HOST}:${PORT}".into()));
        let env = |k: &str| match k {
            "HOST" => Some("h$".to_string()),
            "PORT" => Some("1883".to_string()),
            _ => None,
        };
        assert_eq!(native(&EnvMode::Resolve(&env), s, &node(), "/x"), Ok("a$$b h$$:1883".into()));
        let e = native(&EnvMode::Resolve(&|_| None), "${{env.NOPE}}", &node(), "/x").expect_err("unset");
        assert_eq!(e.to_string(), "line 3: /x: environment variable `NOPE` is not set");
        let e = native(&EnvMode::Keep, "${{vault.x}}", &node(), "/x").expect_err("not env");
        assert!(e.message.contains("only `${{env.NAME}}`"), "{e}");
        assert!(native(&EnvMode::Keep, "${{env.X", &node(), "/x").is_err());
        assert_eq!(key_of(" 7183"), "7183");
        assert_eq!(key_of("${{ env.P }}"), "${{env.P}}");
    }
}
