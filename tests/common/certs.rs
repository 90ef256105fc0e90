//! TEST-ONLY certificates, made fresh per test with rcgen: a CA, a server
//! certificate for `localhost` / 127.0.0.1, an expired one, a client certificate,
//! and a PKCS#12 keystore (openssl). Nothing here is secret.
#![allow(dead_code)]

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files of one test PKI.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub expired_cert: PathBuf,
    pub expired_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    cn: &str,
    sans: &[&str],
    client: bool,
    expired: bool,
) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut p =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.extended_key_usages =
        vec![if client { ExtendedKeyUsagePurpose::ClientAuth } else { ExtendedKeyUsagePurpose::ServerAuth }];
    if expired {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
    }
    let cert = p.signed_by(&key, issuer).expect("sign");
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    /// A new PKI in a temporary folder.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.distinguished_name.push(DnType::CommonName, "TEST-ONLY mqtt-proxy CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = Issuer::new(ca, ca_key);
        let d = dir.path();
        let ca_path = write(d, "ca.pem", &ca_cert.pem());
        let (c, k) = leaf(&issuer, "localhost", &["localhost", "127.0.0.1"], false, false);
        let (server_cert, server_key) = (write(d, "server.pem", &c), write(d, "server.key", &k));
        let (c, k) = leaf(&issuer, "localhost", &["localhost", "127.0.0.1"], false, true);
        let (expired_cert, expired_key) = (write(d, "expired.pem", &c), write(d, "expired.key", &k));
        let (c, k) = leaf(&issuer, "device-42", &["device-42"], true, false);
        let (client_cert, client_key) = (write(d, "client.pem", &c), write(d, "client.key", &k));
        Pki { ca: ca_path, server_cert, server_key, expired_cert, expired_key, client_cert, client_key, dir }
    }

    /// Mosquitto listener lines serving TLS with the server certificate.
    pub fn mosquitto_tls(&self) -> String {
        format!(
            "certfile {}\nkeyfile {}\ncafile {}\n",
            self.server_cert.display(),
            self.server_key.display(),
            self.ca.display()
        )
    }

    /// The server certificate as a PKCS#12 keystore with `password` (openssl).
    pub fn server_p12(&self, password: &str) -> PathBuf {
        let out = self.dir.path().join("server.p12");
        let ok = Command::new("openssl")
            .args(["pkcs12", "-export", "-in"])
            .arg(&self.server_cert)
            .arg("-inkey")
            .arg(&self.server_key)
            .arg("-out")
            .arg(&out)
            .arg("-passout")
            .arg(format!("pass:{password}"))
            .status()
            .expect("openssl");
        assert!(ok.success(), "openssl pkcs12");
        out
    }
}
