//! Mount points: a session whose route has one (e.g. `acme/`) sees its own topic
//! space while the broker sees every topic under the prefix. Topics of PUBLISH,
//! filters of SUBSCRIBE and UNSUBSCRIBE (also inside `$share/{group}/…`) and the
//! will topic get the prefix towards the broker; deliveries lose it towards the
//! client. A delivery outside the prefix cannot belong to the session and is
//! dropped. Pure.
//!
//! Not rewritten: the 5.0 Response Topic property. Requester and responder of one
//! tenant both see unmounted topics, so the responder publishes to the topic as
//! written and the proxy mounts it like any other.

use crate::mqtt::{Subscribe, Unsubscribe};

/// A session's mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount(pub String);

impl Mount {
    /// A topic or filter as the broker sees it.
    pub fn outward(&self, t: &str) -> String {
        if let Some(rest) = t.strip_prefix("$share/") {
            if let Some((group, filter)) = rest.split_once('/') {
                return format!("$share/{group}/{}{filter}", self.0);
            }
        }
        format!("{}{t}", self.0)
    }

    /// A broker's topic as the client sees it (`None`: not under the mount point).
    pub fn inward<'a>(&self, t: &'a str) -> Option<&'a str> {
        t.strip_prefix(self.0.as_str())
    }

    /// Mounts every filter of a SUBSCRIBE.
    pub fn subscribe(&self, s: &mut Subscribe) -> Result<(), ()> {
        for f in &mut s.filters {
            f.filter = self.outward(&f.filter).try_into().map_err(|_| ())?;
        }
        Ok(())
    }

    /// Mounts every filter of an UNSUBSCRIBE.
    pub fn unsubscribe(&self, u: &mut Unsubscribe) -> Result<(), ()> {
        for f in &mut u.filters {
            *f = self.outward(f).try_into().map_err(|_| ())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_shared_filters() {
        let m = Mount("acme/".into());
        assert_eq!(m.outward("line1/t"), "acme/line1/t");
        assert_eq!(m.outward("#"), "acme/#");
        assert_eq!(m.outward("$share/g/line1/#"), "$share/g/acme/line1/#");
        assert_eq!(m.inward("acme/line1/t"), Some("line1/t"));
        assert_eq!(m.inward("globex/line1/t"), None);
    }
}
