//! Topic names, topic filters and matching (spec §4.7), and shared subscriptions
//! (`$share/{group}/{filter}`, spec §4.8.2).
//!
//! Pure functions on `&str`: validation returns the codec's [`DecodeError`], matching
//! allocates nothing. Routing builds its tries on top of [`levels`]; this module does
//! not know about routes or ACLs.

use super::DecodeError;

/// Splits a topic or filter into levels (`"a//b"` has three, the middle one empty).
#[inline]
pub fn levels(s: &str) -> std::str::Split<'_, char> {
    s.split('/')
}

/// Checks a topic name as a client may publish it: non-empty, no wildcards.
/// (MQTT 5.0 allows an empty name with a Topic Alias; the PUBLISH decoder handles that.)
#[inline]
pub fn validate_name(name: &str) -> Result<(), DecodeError> {
    validate_name_bytes(name.as_bytes())
}

/// [`validate_name`] on the bytes of an already validated string.
#[inline]
pub fn validate_name_bytes(name: &[u8]) -> Result<(), DecodeError> {
    if name.is_empty() {
        return Err(DecodeError::EmptyTopicName);
    }
    if name.iter().any(|&b| b == b'+' || b == b'#') {
        return Err(DecodeError::WildcardInTopicName);
    }
    Ok(())
}

/// Checks a topic filter: non-empty; `#` alone in the last level; `+` alone in its
/// level; a shared subscription has a non-empty group without wildcards or `/` and a
/// valid filter after it.
pub fn validate_filter(filter: &str) -> Result<(), DecodeError> {
    if filter.is_empty() {
        return Err(DecodeError::EmptyTopicFilter);
    }
    let plain = match SharedSubscription::split(filter) {
        Some(Ok(shared)) => shared.filter,
        Some(Err(e)) => return Err(e),
        None => filter,
    };
    let mut it = levels(plain).peekable();
    while let Some(level) = it.next() {
        let bad_hash = level.contains('#') && (level != "#" || it.peek().is_some());
        let bad_plus = level.contains('+') && level != "+";
        if bad_hash || bad_plus {
            return Err(DecodeError::InvalidTopicFilter);
        }
    }
    Ok(())
}

/// True if `filter` has a wildcard level.
#[inline]
pub fn has_wildcards(filter: &str) -> bool {
    filter.bytes().any(|b| b == b'+' || b == b'#')
}

/// True if topic name `topic` matches (non-shared) `filter`. Both are assumed valid.
/// Topics starting with `$` are not matched by a filter starting with a wildcard.
#[inline]
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let (f, t) = (filter.as_bytes(), topic.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        // At the start of a level in both.
        match f.get(i) {
            Some(b'#') => return true,
            Some(b'+') => {
                // Skip one topic level.
                while j < t.len() && t[j] != b'/' {
                    j += 1;
                }
                i += 1;
            }
            _ => {
                while i < f.len() && f[i] != b'/' {
                    if j >= t.len() || t[j] != f[i] {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
                if j < t.len() && t[j] != b'/' {
                    return false;
                }
            }
        }
        // Both at a separator or at the end.
        match (i < f.len(), j < t.len()) {
            (false, false) => return true,
            (true, true) => {
                i += 1;
                j += 1;
            }
            // "a/#" matches "a": the filter's remaining level is a lone '#'.
            (true, false) => return &f[i..] == b"/#",
            (false, true) => return false,
        }
    }
}

/// A shared subscription filter, `$share/{group}/{filter}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedSubscription<'a> {
    /// The share name.
    pub group: &'a str,
    /// The filter the group subscribes to.
    pub filter: &'a str,
}

impl<'a> SharedSubscription<'a> {
    /// `None` for a non-shared filter; otherwise the parsed parts or why they are bad.
    pub fn split(filter: &'a str) -> Option<Result<Self, DecodeError>> {
        let rest = filter.strip_prefix("$share/")?;
        let parsed = match rest.split_once('/') {
            Some((group, f)) if !group.is_empty() && !has_wildcards(group) && !f.is_empty() => {
                Ok(SharedSubscription { group, filter: f })
            }
            _ => Err(DecodeError::InvalidTopicFilter),
        };
        Some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_name("a/b"), Ok(()));
        assert_eq!(validate_name("/"), Ok(()));
        assert_eq!(validate_name(""), Err(DecodeError::EmptyTopicName));
        assert_eq!(validate_name("a/+"), Err(DecodeError::WildcardInTopicName));
        assert_eq!(validate_name("a#"), Err(DecodeError::WildcardInTopicName));
    }

    #[test]
    fn filters_spec_examples() {
        for ok in [
            "#",
            "+",
            "sport/#",
            "sport/tennis/#",
            "+/tennis/#",
            "sport/+/player1",
            "/+",
            "+/+",
            "$share/g/a/#",
        ] {
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
        }
        for bad in [
            "sport/tennis#",
            "sport/tennis/#/ranking",
            "sport+",
            "a/#/b",
            "$share/g",
            "$share//a",
            "$share/g+/a",
            "$share/g/a/#/b",
        ] {
            assert_eq!(validate_filter(bad), Err(DecodeError::InvalidTopicFilter), "{bad}");
        }
        assert_eq!(validate_filter(""), Err(DecodeError::EmptyTopicFilter));
    }

    #[test]
    fn matching_spec_examples() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(!matches("#", "$SYS/broker"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/broker"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
    }

    /// The spec's definition, level by level, as a reference for the byte matcher.
    fn reference(filter: &str, topic: &str) -> bool {
        if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
            return false;
        }
        let (mut f, mut t) = (levels(filter), levels(topic));
        loop {
            match (f.next(), t.next()) {
                (Some("#"), _) => return true,
                (Some("+"), Some(_)) => {}
                (Some(a), Some(b)) if a == b => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        #[test]
        fn byte_matcher_agrees_with_the_level_definition(
            f in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "", "+", "ab", "$s"]), 1..5),
            hash in proptest::prelude::any::<bool>(),
            t in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "", "ab", "$s"]), 1..5),
        ) {
            let mut filter = f.join("/");
            if hash { filter.push_str("/#"); }
            let topic = t.join("/");
            if validate_filter(&filter).is_ok() && validate_name(&topic).is_ok() {
                proptest::prop_assert_eq!(matches(&filter, &topic), reference(&filter, &topic), "{} vs {}", filter, topic);
            }
        }
    }

    #[test]
    fn shared() {
        assert_eq!(
            SharedSubscription::split("$share/grp/a/+"),
            Some(Ok(SharedSubscription { group: "grp", filter: "a/+" }))
        );
        assert_eq!(SharedSubscription::split("a/b"), None);
    }
}
