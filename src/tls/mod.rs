//! TLS configurations (rustls on ring) built from the config: server side per
//! listener (PEM or PKCS#12, several certificates chosen by SNI, ALPN, optional or
//! required client certificates) and client side per upstream (CA bundle, optional
//! client certificate).
//!
//! Built once at config load into `Arc`s shared read-only by all cores; each core
//! runs its own handshakes with them. No I/O besides reading the files named in the
//! config; key material never appears in `Debug` output or logs.

pub mod subject;

use rustls::crypto::ring::default_provider;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the combination.
    #[error("{0}")]
    Rustls(String),
}

/// A certificate chain and its key, from PEM files or a PKCS#12 keystore.
#[derive(Clone)]
pub enum Identity {
    /// PEM certificate chain and PEM private key.
    Pem {
        /// Certificate chain (leaf first).
        cert: PathBuf,
        /// Private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// A PKCS#12 keystore and its password.
    Pkcs12 {
        /// The keystore.
        path: PathBuf,
        /// Its password.
        password: String,
        /// Alias of the key entry to use (none: the first one).
        alias: Option<String>,
    },
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Pem { cert, key } => {
                f.debug_struct("Pem").field("cert", cert).field("key", key).finish()
            }
            Identity::Pkcs12 { path, .. } => {
                f.debug_struct("Pkcs12").field("path", path).finish_non_exhaustive()
            }
        }
    }
}

fn file_err(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File { path: path.display().to_string(), reason: reason.to_string() }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(default_provider())
}

/// Reads every certificate of a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    crate::config::sources::note(path);
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
    }
    Ok(certs)
}

impl Identity {
    /// The chain and key.
    pub fn load(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
        match self {
            Identity::Pem { cert, key } => {
                let chain = read_certs(cert)?;
                crate::config::sources::note(key);
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e))?;
                Ok((chain, key))
            }
            Identity::Pkcs12 { path, password, alias } => {
                crate::config::sources::note(path);
                let data = std::fs::read(path).map_err(|e| file_err(path, e))?;
                let store = p12_keystore::KeyStore::from_pkcs12(&data, password, Default::default())
                    .map_err(|e| file_err(path, format!("{e} (wrong password?)")))?;
                let keys = || {
                    store.entries().filter_map(|(name, e)| match e {
                        p12_keystore::KeyStoreEntry::PrivateKeyChain(c) => Some((name, c)),
                        _ => None,
                    })
                };
                let chain = match alias {
                    None => keys().next().map(|(_, c)| c.clone()),
                    Some(a) => keys().find(|(name, _)| name.as_str() == a).map(|(_, c)| c.clone()),
                };
                let chain = chain.ok_or_else(|| match alias {
                    None => file_err(path, "no private key with certificates in the keystore"),
                    Some(a) => {
                        let names: Vec<String> = keys().map(|(n, _)| format!("`{n}`")).collect();
                        file_err(
                            path,
                            format!("no key named `{a}` in the keystore (it has {})", names.join(", ")),
                        )
                    }
                })?;
                let certs = chain.certs().iter().map(|c| CertificateDer::from(c.as_der().to_vec())).collect();
                let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
                Ok((certs, key))
            }
        }
    }

    fn certified(&self, p: &CryptoProvider) -> Result<Arc<CertifiedKey>, TlsError> {
        let (chain, key) = self.load()?;
        CertifiedKey::from_der(chain, key, p).map(Arc::new).map_err(|e| TlsError::Rustls(e.to_string()))
    }
}

/// Whether clients must present a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A certificate signed by the CA is required.
    Required,
    /// Checked if presented.
    Optional,
}

/// A listener's TLS settings.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Certificate for clients without SNI or with an unknown name.
    pub default: Option<Identity>,
    /// Certificates by SNI host name.
    pub sni: Vec<(String, Identity)>,
    /// ALPN protocols offered (e.g. `mqtt`).
    pub alpn: Vec<String>,
    /// Client certificates: mode and CA bundle.
    pub client_auth: Option<(ClientAuth, PathBuf)>,
}

#[derive(Debug)]
struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|n| self.by_name.get(&n.to_ascii_lowercase()).cloned())
            .or_else(|| self.default.clone())
    }
}

fn roots(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in read_certs(ca)? {
        roots.add(c).map_err(|e| file_err(ca, e))?;
    }
    Ok(roots)
}

/// Builds a listener's rustls server configuration (TLS 1.2 and 1.3).
pub fn server_config(spec: &ServerSpec) -> Result<Arc<ServerConfig>, TlsError> {
    let p = provider();
    let mut by_name = HashMap::new();
    for (name, id) in &spec.sni {
        by_name.insert(name.to_ascii_lowercase(), id.certified(&p)?);
    }
    let default = spec.default.as_ref().map(|d| d.certified(&p)).transpose()?;
    if default.is_none() && by_name.is_empty() {
        return Err(TlsError::Rustls("a TLS listener needs a certificate".into()));
    }
    let builder = ServerConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match &spec.client_auth {
        None => builder.with_no_client_auth(),
        Some((mode, ca)) => {
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), p.clone());
            let v = if *mode == ClientAuth::Optional { v.allow_unauthenticated() } else { v };
            builder.with_client_cert_verifier(v.build().map_err(|e| TlsError::Rustls(e.to_string()))?)
        }
    };
    let mut cfg = builder.with_cert_resolver(Arc::new(SniResolver { by_name, default }));
    cfg.alpn_protocols = spec.alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// An upstream's TLS settings.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// CA bundle the broker's certificate must chain to.
    pub ca: PathBuf,
    /// Name to verify (default: the server's host).
    pub server_name: Option<String>,
    /// Client certificate for the broker, if it asks.
    pub identity: Option<Identity>,
}

/// Builds an upstream's rustls client configuration.
pub fn client_config(spec: &ClientSpec) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots(&spec.ca)?);
    let cfg = match &spec.identity {
        None => builder.with_no_client_auth(),
        Some(id) => {
            let (chain, key) = id.load()?;
            builder.with_client_auth_cert(chain, key).map_err(|e| TlsError::Rustls(e.to_string()))?
        }
    };
    Ok(Arc::new(cfg))
}
