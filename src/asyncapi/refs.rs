//! `$ref` resolution: every Reference Object (`{$ref: "#/pointer"}` or
//! `{$ref: "file.yaml#/pointer"}`, relative to the referring file) is replaced by a
//! copy of its target, so readers see one tree. Targets keep their own lines.
//! Recursive references are an error (payload schemas that refer to themselves
//! cannot be inlined), as are references that leave the local file system.

use crate::doc::{parse, DocError, Node, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Documents read so far, by path.
pub struct Files<'r> {
    read: &'r dyn Fn(&Path) -> std::io::Result<String>,
    cache: HashMap<PathBuf, Node>,
}

impl<'r> Files<'r> {
    /// A cache that reads files with `read`.
    pub fn new(read: &'r dyn Fn(&Path) -> std::io::Result<String>) -> Self {
        Files { read, cache: HashMap::new() }
    }

    fn load(&mut self, path: &Path, at: &Node, pointer: &str) -> Result<&Node, DocError> {
        if !self.cache.contains_key(path) {
            let text = (self.read)(path)
                .map_err(|e| DocError::at(at, pointer, format!("cannot read {}: {e}", path.display())))?;
            let node =
                parse(&text).map_err(|m| DocError::at(at, pointer, format!("{}: {m}", path.display())))?;
            self.cache.insert(path.to_path_buf(), node);
        }
        self.cache
            .get(path)
            .ok_or_else(|| DocError::at(at, pointer, "internal: file vanished from the cache"))
    }
}

const MAX_DEPTH: usize = 64;

/// `node` (from `file`) with every reference inlined.
pub fn resolve(node: &Node, file: &Path, root: &Node, files: &mut Files<'_>) -> Result<Node, DocError> {
    let mut stack = Vec::new();
    walk(node, file, root, "", files, &mut stack)
}

fn walk(
    node: &Node,
    file: &Path,
    root: &Node,
    pointer: &str,
    files: &mut Files<'_>,
    stack: &mut Vec<String>,
) -> Result<Node, DocError> {
    match &node.value {
        Value::Map(m) => {
            if let Some((_, _, r)) = m.iter().find(|(k, _, _)| k == "$ref") {
                let target = r
                    .as_str()
                    .ok_or_else(|| DocError::at(r, &format!("{pointer}/$ref"), "a $ref is a string"))?;
                return follow(target, r, file, root, &format!("{pointer}/$ref"), files, stack);
            }
            let mut out = Vec::with_capacity(m.len());
            for (k, line, v) in m {
                let p = format!("{pointer}/{}", crate::doc::pointer_escape(k));
                out.push((k.clone(), *line, walk(v, file, root, &p, files, stack)?));
            }
            Ok(Node { line: node.line, value: Value::Map(out) })
        }
        Value::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                out.push(walk(v, file, root, &format!("{pointer}/{i}"), files, stack)?);
            }
            Ok(Node { line: node.line, value: Value::Seq(out) })
        }
        _ => Ok(node.clone()),
    }
}

fn follow(
    target: &str,
    at: &Node,
    file: &Path,
    root: &Node,
    pointer: &str,
    files: &mut Files<'_>,
    stack: &mut Vec<String>,
) -> Result<Node, DocError> {
    let (path_part, fragment) = target.split_once('#').unwrap_or((target, ""));
    if path_part.contains("://") {
        return Err(DocError::at(
            at,
            pointer,
            format!("`{target}`: only references into local files are supported"),
        ));
    }
    let target_file = if path_part.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(path_part)
    };
    let key = format!("{}#{fragment}", target_file.display());
    if stack.contains(&key) || stack.len() >= MAX_DEPTH {
        return Err(DocError::at(at, pointer, format!("`{target}`: recursive references are not supported")));
    }
    let loaded;
    let doc = if path_part.is_empty() {
        root
    } else {
        loaded = files.load(&target_file, at, pointer)?.clone();
        &loaded
    };
    let t = doc
        .at_pointer(fragment)
        .ok_or_else(|| DocError::at(at, pointer, format!("`{target}` points at nothing")))?
        .clone();
    stack.push(key);
    let result = walk(&t, &target_file, doc, pointer, files, stack);
    stack.pop();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(map: &'static [(&'static str, &'static str)]) -> impl Fn(&Path) -> std::io::Result<String> {
        move |p: &Path| {
            map.iter()
                .find(|(n, _)| Path::new(n) == p)
                .map(|(_, t)| t.to_string())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    }

    #[test]
    fn local_and_file_references_are_inlined() {
        let read = files(&[("/d/common.yaml", "schemas:\n  lux:\n    type: number\n    minimum: 0\n")]);
        let mut f = Files::new(&read);
        let doc = parse("a:\n  $ref: '#/b'\nb:\n  c:\n    $ref: 'common.yaml#/schemas/lux'\n").expect("yaml");
        let out = resolve(&doc, Path::new("/d/api.yaml"), &doc, &mut f).expect("resolves");
        let min = out.at_pointer("/a/c/minimum").expect("inlined");
        assert_eq!(min.value, Value::Int(0));
        assert_eq!(min.line, 4, "a target keeps the line in its own file");
    }

    #[test]
    fn recursive_missing_and_remote_references_are_errors() {
        let read = files(&[]);
        let mut f = Files::new(&read);
        let doc = parse("a:\n  b:\n    $ref: '#/a'\n").expect("yaml");
        let e = resolve(&doc, Path::new("/d/x.yaml"), &doc, &mut f).expect_err("cycle");
        assert!(e.message.contains("recursive"), "{e}");
        let doc = parse("a:\n  $ref: '#/nope'\n").expect("yaml");
        let e = resolve(&doc, Path::new("/d/x.yaml"), &doc, &mut f).expect_err("missing");
        assert_eq!(e.to_string(), "line 2: /a/$ref: `#/nope` points at nothing");
        let doc = parse("a:\n  $ref: 'https://example.com/s.json'\n").expect("yaml");
        assert!(resolve(&doc, Path::new("/d/x.yaml"), &doc, &mut f).is_err());
        let doc = parse("a:\n  $ref: 'gone.yaml#/x'\n").expect("yaml");
        let e = resolve(&doc, Path::new("/d/x.yaml"), &doc, &mut f).expect_err("no file");
        assert!(e.message.contains("cannot read /d/gone.yaml"), "{e}");
    }
}
