//! Writing the native YAML a Zilla file translates to, line by line, remembering
//! which Zilla line each emitted line came from so a later error in the native
//! config can point back at the line the user wrote.

/// Native YAML text and, per emitted line, the Zilla place it came from.
#[derive(Debug, Default)]
pub struct Emitter {
    text: String,
    /// `origin[i]`: (Zilla line, JSON pointer) of emitted line `i + 1`.
    origin: Vec<Option<(u64, String)>>,
}

/// Where a piece of the translation came from in the Zilla file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Src {
    /// 1-based line.
    pub line: u64,
    /// JSON pointer.
    pub pointer: String,
}

impl Emitter {
    /// One line (no newline inside), attributed to `src`.
    pub fn line(&mut self, text: &str, src: Option<&Src>) {
        self.text.push_str(text);
        self.text.push('\n');
        self.origin.push(src.map(|s| (s.line, s.pointer.clone())));
    }

    /// A comment line (`# ...`), one per line of `text`.
    pub fn comment(&mut self, indent: usize, text: &str) {
        for l in text.lines() {
            self.line(&format!("{:indent$}# {l}", ""), None);
        }
    }

    /// The Zilla place of emitted line `line` (1-based), or of the nearest line
    /// above it that has one.
    pub fn origin(&self, line: u64) -> Option<(u64, String)> {
        let end = (line as usize).min(self.origin.len());
        self.origin[..end].iter().rev().find_map(|o| o.clone())
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A YAML scalar for `native` text (already in native `${VAR}` / `$$` syntax):
/// JSON string quoting, which YAML reads as a double-quoted scalar.
pub fn quote(native: &str) -> String {
    serde_json::Value::String(native.to_string()).to_string()
}

/// A flow list of quoted scalars.
pub fn list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", q.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_fall_back_to_the_line_above() {
        let mut e = Emitter::default();
        e.comment(0, "header");
        e.line("a: 1", Some(&Src { line: 7, pointer: "/x".into() }));
        e.line("b: 2", None);
        assert_eq!(e.origin(1), None);
        assert_eq!(e.origin(3), Some((7, "/x".into())));
        assert_eq!(e.text(), "# header\na: 1\nb: 2\n");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(list(&["x".into(), "y".into()]), "[\"x\", \"y\"]");
    }
}
