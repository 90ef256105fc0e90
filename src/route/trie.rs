//! A topic-filter trie: filters in, the indices of the filters that match a topic
//! name out, with cost proportional to the topic's depth and the wildcards on its
//! way, not to the number of filters.
//!
//! Also answers the subscription question: which stored filters can match some
//! topic that a *subscription filter* also matches (their intersection is not
//! empty), so a subscription can be sent to every broker that may publish into it.

use std::collections::HashMap;

#[derive(Debug, Default)]
struct Node {
    /// Literal next levels.
    children: HashMap<Box<str>, Node>,
    /// `+` next level.
    plus: Option<Box<Node>>,
    /// Filters ending with `/#` (or `#`) here: they match this level and below.
    hash: Vec<u32>,
    /// Filters ending exactly here.
    end: Vec<u32>,
}

/// Filters → ids.
#[derive(Debug, Default)]
pub struct Trie {
    root: Node,
    len: usize,
}

impl Trie {
    /// Adds `filter` (valid, not shared) with `id`.
    pub fn insert(&mut self, filter: &str, id: u32) {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = match level {
                "#" => {
                    node.hash.push(id);
                    self.len += 1;
                    return;
                }
                "+" => node.plus.get_or_insert_with(Box::default),
                l => node.children.entry(l.into()).or_default(),
            };
        }
        node.end.push(id);
        self.len += 1;
    }

    /// Number of filters stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f` with the id of every filter matching topic name `topic`.
    pub fn matches(&self, topic: &str, f: &mut impl FnMut(u32)) {
        // `$…` topics are not matched by a leading wildcard [MQTT-4.7.2-1].
        let dollar = topic.starts_with('$');
        walk(&self.root, topic, 0, dollar, f);
    }

    /// The smallest id matching `topic` that `ok` accepts.
    pub fn first(&self, topic: &str, ok: impl Fn(u32) -> bool) -> Option<u32> {
        let mut best: Option<u32> = None;
        self.matches(topic, &mut |id| {
            if best.is_none_or(|b| id < b) && ok(id) {
                best = Some(id);
            }
        });
        best
    }

    /// Calls `f` with every stored filter that shares at least one topic with
    /// subscription filter `sub`.
    pub fn overlapping(&self, sub: &str, f: &mut impl FnMut(u32)) {
        let levels: Vec<&str> = sub.split('/').collect();
        let dollar = sub.starts_with('$');
        overlap(&self.root, &levels, 0, dollar, f);
    }
}

fn walk(node: &Node, rest: &str, depth: usize, dollar: bool, f: &mut impl FnMut(u32)) {
    let wild_ok = !(dollar && depth == 0);
    if wild_ok {
        node.hash.iter().for_each(|&i| f(i));
    }
    let (level, tail) = match rest.split_once('/') {
        Some((l, t)) => (l, Some(t)),
        None => (rest, None),
    };
    let mut step = |child: &Node| match tail {
        Some(t) => walk(child, t, depth + 1, dollar, f),
        None => {
            child.end.iter().for_each(|&i| f(i));
            // "a/#" also matches "a".
            child.hash.iter().for_each(|&i| f(i));
        }
    };
    if let Some(c) = node.children.get(level) {
        step(c);
    }
    if let (Some(p), true) = (&node.plus, wild_ok) {
        step(p);
    }
}

fn all(node: &Node, f: &mut impl FnMut(u32)) {
    node.hash.iter().chain(&node.end).for_each(|&i| f(i));
    node.children.values().for_each(|c| all(c, f));
    if let Some(p) = &node.plus {
        all(p, f);
    }
}

fn overlap(node: &Node, levels: &[&str], depth: usize, dollar: bool, f: &mut impl FnMut(u32)) {
    let wild_ok = !(dollar && depth == 0);
    // A stored `#` here covers whatever the subscription has left.
    if wild_ok {
        node.hash.iter().for_each(|&i| f(i));
    }
    let Some((&level, tail)) = levels.split_first() else { return };
    if level == "#" {
        // The subscription covers everything from here (and this level itself).
        node.end.iter().for_each(|&i| f(i));
        node.children.iter().filter(|_| wild_ok || depth > 0).for_each(|(name, c)| {
            if !(depth == 0 && name.starts_with('$')) {
                all(c, f)
            }
        });
        if let Some(p) = &node.plus {
            all(p, f);
        }
        return;
    }
    let mut step = |child: &Node| {
        if tail.is_empty() {
            child.end.iter().chain(&child.hash).for_each(|&i| f(i));
        } else {
            overlap(child, tail, depth + 1, dollar, f);
        }
    };
    if level == "+" {
        for (name, c) in &node.children {
            if !(depth == 0 && name.starts_with('$')) {
                step(c);
            }
        }
    } else if let Some(c) = node.children.get(level) {
        step(c);
    }
    if let (Some(p), true) = (&node.plus, wild_ok) {
        step(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::topic;

    const FILTERS: [&str; 10] =
        ["a/b/c", "a/+/c", "a/#", "#", "+/b/#", "a/b", "$SYS/#", "+/+", "x/y/z/#", "+"];

    fn ids(t: &Trie, topic: &str) -> Vec<u32> {
        let mut v = Vec::new();
        t.matches(topic, &mut |i| v.push(i));
        v.sort_unstable();
        v
    }

    fn trie() -> Trie {
        let mut t = Trie::default();
        for (i, f) in FILTERS.iter().enumerate() {
            t.insert(f, i as u32);
        }
        t
    }

    #[test]
    fn agrees_with_the_reference_matcher() {
        let t = trie();
        assert_eq!(t.len(), FILTERS.len());
        for topic in [
            "a/b/c",
            "a",
            "a/b",
            "a/x/c",
            "b/b/q/r",
            "$SYS/load",
            "$SYS",
            "x/y/z",
            "x/y",
            "q",
            "a/b/c/d",
            "/",
            "a//c",
        ] {
            let want: Vec<u32> =
                (0..FILTERS.len() as u32).filter(|&i| topic::matches(FILTERS[i as usize], topic)).collect();
            assert_eq!(ids(&t, topic), want, "topic {topic}");
        }
        assert_eq!(t.first("a/b/c", |_| true), Some(0));
        assert_eq!(t.first("a/b/c", |i| i > 1), Some(2));
    }

    #[test]
    fn overlapping_filters() {
        let t = trie();
        let over = |sub: &str| {
            let mut v = Vec::new();
            t.overlapping(sub, &mut |i| v.push(i));
            v.sort_unstable();
            v.dedup();
            v
        };
        // A brute-force check on a set of sample topics: if a topic matches both, they overlap.
        let samples =
            ["a/b/c", "a", "a/b", "a/x/c", "b/b/q", "$SYS/x", "x/y/z", "x/y/z/w", "q", "a/b/c/d", "k/b"];
        for sub in ["a/b/c", "a/+/c", "#", "+/b", "x/#", "$SYS/+", "q", "+/+/+", "a/#"] {
            let got = over(sub);
            for topic in samples {
                if topic::matches(sub, topic) {
                    for (i, f) in FILTERS.iter().enumerate() {
                        if topic::matches(f, topic) {
                            assert!(got.contains(&(i as u32)), "{sub} and {f} share {topic}, got {got:?}");
                        }
                    }
                }
            }
        }
        assert_eq!(over("x/#"), vec![3, 4, 7, 8, 9]);
    }
}
