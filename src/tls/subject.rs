//! The subject common name of an X.509 certificate, read with a minimal DER walk
//! (Certificate → TBSCertificate → subject → CN), for using a client certificate
//! as the session's identity.
//!
//! Only reads; it does not verify anything (rustls did that during the handshake).
//! Malformed input yields `None`, never a panic.

/// A DER element: (tag, content, rest).
fn element(i: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, i) = i.split_first()?;
    let (&first, mut i) = i.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || i.len() < n {
            return None;
        }
        let len = i[..n].iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
        i = &i[n..];
        len
    };
    if i.len() < len {
        return None;
    }
    Some((tag, &i[..len], &i[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const CN: &[u8] = &[0x55, 0x04, 0x03];

/// The subject's common name, if the certificate has one as a string.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (SEQUENCE, cert, _) = element(der)? else { return None };
    let (SEQUENCE, mut tbs, _) = element(cert)? else { return None };
    // Optional [0] version.
    if tbs.first() == Some(&0xA0) {
        tbs = element(tbs)?.2;
    }
    // serial, signature algorithm, issuer, validity, then subject.
    for _ in 0..4 {
        tbs = element(tbs)?.2;
    }
    let (SEQUENCE, mut rdns, _) = element(tbs)? else { return None };
    while !rdns.is_empty() {
        let (SET, set, rest) = element(rdns)? else { return None };
        rdns = rest;
        let (SEQUENCE, atv, _) = element(set)? else { return None };
        let (OID, oid, value) = element(atv)? else { return None };
        if oid == CN {
            let (tag, text, _) = element(value)?;
            // UTF8String, PrintableString, IA5String, T61String.
            if matches!(tag, 0x0C | 0x13 | 0x16 | 0x14) {
                return std::str::from_utf8(text).ok().map(String::from);
            }
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none() {
        assert_eq!(common_name(&[]), None);
        assert_eq!(common_name(&[0x30, 0x82, 0xFF]), None);
        assert_eq!(common_name(&[0x30, 0x03, 0x30, 0x01, 0x00]), None);
    }
}
