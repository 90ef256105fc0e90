//! The files a config was built from: the config file itself and every file it
//! names (JWKS, certificates and keys, schema files, AsyncAPI documents), so that
//! `--watch` can reload when any of them changes.
//!
//! Loading notes each file it reads ([`note`]) into a per-thread list that
//! [`recording`] collects; a config is always loaded on one thread (the main one
//! at start, the reloader's later), so the list cannot mix two loads. Nothing here
//! reads a file or decides anything; a note made outside [`recording`] is dropped.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

thread_local! {
    static READ: RefCell<Option<Vec<PathBuf>>> = const { RefCell::new(None) };
}

/// Records that loading read `path`.
pub fn note(path: &Path) {
    READ.with(|r| {
        if let Some(v) = r.borrow_mut().as_mut() {
            if !v.iter().any(|p| p == path) {
                v.push(path.to_path_buf());
            }
        }
    });
}

/// Runs `load` and returns what it returned with the files it read, in order.
pub fn recording<T>(load: impl FnOnce() -> T) -> (T, Vec<PathBuf>) {
    let outer = READ.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = load();
    let files = READ.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer)).unwrap_or_default();
    (out, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_collected_once_and_only_while_recording() {
        note(Path::new("/outside"));
        let ((), files) = recording(|| {
            note(Path::new("/a"));
            note(Path::new("/b"));
            note(Path::new("/a"));
        });
        assert_eq!(files, [PathBuf::from("/a"), PathBuf::from("/b")]);
        let ((), nested) = recording(|| {
            let ((), inner) = recording(|| note(Path::new("/inner")));
            assert_eq!(inner, [PathBuf::from("/inner")]);
            note(Path::new("/outer"));
        });
        assert_eq!(nested, [PathBuf::from("/outer")]);
    }
}
