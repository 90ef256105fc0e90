//! `${VAR}` and `${VAR:-default}` substitution in the config text, before YAML parsing.
//!
//! Substitution works on the raw text so it applies anywhere (keys, values, lists),
//! except in YAML comments, which are copied as they are. `$$` writes a literal `$`.
//! An unset variable without a default is an error that names the variable and its
//! line. Values are inserted verbatim; this module never
//! logs them (they may be secrets).

use super::ConfigError;

/// Byte offset where a YAML comment starts in `line` (a `#` at the start or after
/// white space, outside quotes), or the line's length.
fn comment_start(line: &str) -> usize {
    let (mut single, mut double, mut prev_space) = (false, false, true);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev_space => return i,
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line.len()
}

/// Replaces every `${VAR}` / `${VAR:-default}` outside comments using `lookup`.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let cut = comment_start(line);
        substitute_line(&line[..cut], n + 1, &lookup, &mut out)?;
        out.push_str(&line[cut..]);
    }
    Ok(out)
}

fn substitute_line(
    text: &str,
    line: usize,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), ConfigError> {
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_start.find('}') else {
            return Err(ConfigError::Env { line, message: "unterminated `${`".into() });
        };
        let expr = &body_start[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ConfigError::Env {
                line,
                message: format!("`${{{expr}}}` is not a variable reference"),
            });
        }
        match (lookup(name), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(ConfigError::Env {
                    line,
                    message: format!(
                    "environment variable `{name}` is not set and has no default (`${{{name}:-default}}`)"
                ),
                })
            }
        }
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "10.0.0.1".to_string())
    }

    #[test]
    fn substitutes_and_defaults() {
        assert_eq!(substitute("a: ${HOST}:${PORT:-1884}", env).expect("ok"), "a: 10.0.0.1:1884");
        assert_eq!(substitute("cost: $$5 and $x", env).expect("ok"), "cost: $5 and $x");
        assert_eq!(substitute("x: ${EMPTY:-}", env).expect("ok"), "x: ");
        assert_eq!(
            substitute("a: ${HOST} # not ${THIS}\n# nor ${THAT}\nb: \"x#${HOST}\"\n", env).expect("ok"),
            "a: 10.0.0.1 # not ${THIS}\n# nor ${THAT}\nb: \"x#10.0.0.1\"\n"
        );
    }

    #[test]
    fn missing_variable_names_line_and_variable() {
        let e = substitute("a: 1\nb: ${NOPE}\n", env).expect_err("unset");
        let msg = e.to_string();
        assert!(msg.contains("line 2") && msg.contains("NOPE"), "{msg}");
        assert!(substitute("a: ${bad name}", env).is_err());
        assert!(substitute("a: ${OPEN", env).is_err());
    }
}
