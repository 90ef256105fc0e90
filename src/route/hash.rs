//! Rendezvous (highest-random-weight) hashing: a client goes to the server with the
//! highest score for (server, client id) among the servers that are up. Every proxy
//! instance with the same server list makes the same choice, and when a server
//! goes down only its own clients move (each to its next-highest server).
//!
//! The score is FNV-1a over the two names followed by a 64-bit finalizer (from
//! SplitMix64): fixed, documented, the same on every build and platform (std's
//! `DefaultHasher` is not promised to stay the same across Rust releases).

/// The score of `client` on `server`.
pub fn score(server: &str, client: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for &b in server.as_bytes().iter().chain(&[0xff]).chain(client.as_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The servers (by index) in the order `client` should try them: highest score first.
pub fn ranked<'a>(servers: impl IntoIterator<Item = &'a str>, client: &str) -> Vec<usize> {
    let mut v: Vec<(u64, usize)> =
        servers.into_iter().enumerate().map(|(i, s)| (score(s, client), i)).collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.into_iter().map(|(_, i)| i).collect()
}

/// The chosen server among those `up`, or `None` when none is.
pub fn pick<'a>(
    servers: impl IntoIterator<Item = &'a str>,
    client: &str,
    up: impl Fn(usize) -> bool,
) -> Option<usize> {
    servers
        .into_iter()
        .enumerate()
        .filter(|(i, _)| up(*i))
        .max_by_key(|(i, s)| (score(s, client), usize::MAX - i))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVERS: [&str; 3] = ["10.0.0.1:1883", "10.0.0.2:1883", "10.0.0.3:1883"];

    fn counts(up: impl Fn(usize) -> bool + Copy) -> [usize; 3] {
        let mut c = [0; 3];
        for i in 0..1000 {
            if let Some(s) = pick(SERVERS, &format!("device-{i}"), up) {
                c[s] += 1;
            }
        }
        c
    }

    #[test]
    fn a_thousand_clients_spread_evenly() {
        let c = counts(|_| true);
        for n in c {
            // Within ±15 % of 333.
            assert!((283..=383).contains(&n), "{c:?}");
        }
    }

    #[test]
    fn the_choice_is_stable_and_only_a_dead_servers_clients_move() {
        assert_eq!(score("a", "b"), 0x552d_4556_57d9_1379, "the score function must never change");
        for i in 0..1000 {
            let id = format!("device-{i}");
            let all = pick(SERVERS, &id, |_| true).expect("some server");
            assert_eq!(pick(SERVERS, &id, |_| true), Some(all), "deterministic");
            let without_1 = pick(SERVERS, &id, |s| s != 1).expect("some server");
            if all != 1 {
                assert_eq!(without_1, all, "{id} moved although its server is up");
            } else {
                assert_eq!(Some(without_1), ranked(SERVERS, &id).get(1).copied(), "next-highest server");
            }
        }
        assert_eq!(pick(SERVERS, "x", |_| false), None);
    }
}
