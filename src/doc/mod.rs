//! Documents we read but do not own the schema of (a Zilla `zilla.yaml`, AsyncAPI
//! documents): YAML or JSON parsed into a [`Node`] tree that keeps every value's
//! line, walked by [`Obj`] cursors that remember which keys were read, so anything
//! left unread can be named with its JSON pointer and line instead of being ignored.
//!
//! Pure: text in, tree out. It does not resolve `$ref`s (the AsyncAPI loader does)
//! and gives no meaning to any key.

mod cursor;
mod node;

pub use cursor::{DocError, Obj};
pub use node::{parse, pointer_escape, Node, Value};
