//! SUBSCRIBE / UNSUBSCRIBE fan-out: one client packet goes to every link whose
//! routes can match its filters, and the links' answers are merged into one SUBACK
//! / UNSUBACK with the worst answer per filter. A link lost before it answered
//! fails its filters (0x80). Pure.

use crate::mqtt::ReasonCode;
use std::collections::HashMap;

/// A fan-out waiting for its answers.
#[derive(Debug)]
struct Pending {
    /// UNSUBSCRIBE (else SUBSCRIBE).
    unsubscribe: bool,
    /// Per filter of the client's packet: the merged answer so far.
    results: Vec<Option<ReasonCode>>,
    /// Links still to answer, each with the positions of its filters.
    waiting: Vec<(usize, Vec<usize>)>,
}

/// Severity order for merging: failures beat grants, lower grants beat higher.
fn worse(a: ReasonCode, b: ReasonCode) -> ReasonCode {
    let (x, y) = (a as u8, b as u8);
    match (x >= 0x80, y >= 0x80) {
        (true, false) => a,
        (false, true) => b,
        (true, true) => a,
        (false, false) if x <= y => a,
        (false, false) => b,
    }
}

/// A merged answer, ready for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The client's packet id.
    pub pkid: u16,
    /// UNSUBACK (else SUBACK).
    pub unsubscribe: bool,
    /// One code per filter of the client's packet.
    pub reasons: Vec<ReasonCode>,
}

/// Fan-outs in flight, by the client's packet id.
#[derive(Debug, Default)]
pub struct FanOuts(HashMap<u16, Pending>);

impl FanOuts {
    /// Starts a fan-out of `filters` filters: `parts` are (link, filter positions);
    /// `failed` are positions answered already, with their code (their link is
    /// down, or over its quota). `Some` when nothing waits (every part failed).
    pub fn start(
        &mut self,
        pkid: u16,
        unsubscribe: bool,
        filters: usize,
        parts: Vec<(usize, Vec<usize>)>,
        failed: &[(usize, ReasonCode)],
    ) -> Option<Merged> {
        let mut results: Vec<Option<ReasonCode>> = vec![None; filters];
        for &(i, code) in failed {
            if let Some(x) = results.get_mut(i) {
                *x = Some(x.map_or(code, |prev| worse(prev, code)));
            }
        }
        let p = Pending { unsubscribe, results, waiting: parts };
        if p.waiting.is_empty() {
            return Some(finish(pkid, p));
        }
        self.0.insert(pkid, p);
        None
    }

    /// True while the client's `pkid` waits for answers.
    pub fn contains(&self, pkid: u16) -> bool {
        self.0.contains_key(&pkid)
    }

    /// The answer of `link` (its codes, in the order of its part); `Some` once
    /// every link answered. Missing codes count as failures (3.1.1 UNSUBACK has none:
    /// the caller passes successes).
    pub fn answer(&mut self, link: usize, pkid: u16, reasons: &[ReasonCode]) -> Option<Merged> {
        let p = self.0.get_mut(&pkid)?;
        let at = p.waiting.iter().position(|(l, _)| *l == link)?;
        let (_, positions) = p.waiting.swap_remove(at);
        for (k, &i) in positions.iter().enumerate() {
            let r = reasons.get(k).copied().unwrap_or(ReasonCode::UnspecifiedError);
            p.results[i] = Some(p.results[i].map_or(r, |prev| worse(prev, r)));
        }
        if !p.waiting.is_empty() {
            return None;
        }
        self.0.remove(&pkid).map(|p| finish(pkid, p))
    }

    /// `link` went away: its parts fail; the fan-outs that are complete now.
    pub fn abandon(&mut self, link: usize) -> Vec<Merged> {
        let mut ids: Vec<u16> = self
            .0
            .iter()
            .filter(|(_, p)| p.waiting.iter().any(|(l, _)| *l == link))
            .map(|(k, _)| *k)
            .collect();
        ids.sort_unstable();
        ids.into_iter().filter_map(|id| self.answer(link, id, &[])).collect()
    }
}

fn finish(pkid: u16, p: Pending) -> Merged {
    let reasons = p.results.into_iter().map(|r| r.unwrap_or(ReasonCode::UnspecifiedError)).collect();
    Merged { pkid, unsubscribe: p.unsubscribe, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReasonCode::*;

    #[test]
    fn subacks_merge_to_the_worst_answer() {
        let mut f = FanOuts::default();
        // Filters 0 and 1 on link 0; filter 1 also on link 1; filter 2 only on link 1.
        assert_eq!(f.start(7, false, 3, vec![(0, vec![0, 1]), (1, vec![1, 2])], &[]), None);
        assert_eq!(f.answer(0, 7, &[GrantedQoS2, GrantedQoS2]), None);
        let m = f.answer(1, 7, &[GrantedQoS1, NotAuthorized]).expect("complete");
        assert_eq!(m.reasons, vec![GrantedQoS2, GrantedQoS1, NotAuthorized]);
        assert!(!f.contains(7));
    }

    #[test]
    fn a_lost_link_fails_its_filters_and_down_links_answer_up_front() {
        let mut f = FanOuts::default();
        f.start(8, true, 2, vec![(0, vec![0]), (1, vec![1])], &[]);
        assert_eq!(f.answer(0, 8, &[Success]), None);
        let m = f.abandon(1);
        assert_eq!(m, vec![Merged { pkid: 8, unsubscribe: true, reasons: vec![Success, UnspecifiedError] }]);
        let m = f.start(9, false, 1, vec![], &[(0, UnspecifiedError)]).expect("nothing to wait for");
        assert_eq!(m.reasons, vec![UnspecifiedError]);
    }
}
