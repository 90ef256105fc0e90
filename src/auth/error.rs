//! Why a token was refused. The client never sees these (every refusal looks the
//! same on the wire); they go to the log and to a metric label.

/// A refused token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials where the guard looks for them.
    #[error("no credentials")]
    Missing,
    /// Longer than the guard accepts.
    #[error("token too long")]
    TooLong,
    /// Not three base64url parts, or a header/payload that is not JSON.
    #[error("malformed token")]
    Malformed,
    /// `alg: none` (never accepted).
    #[error("unsigned token (alg none)")]
    AlgNone,
    /// An algorithm this guard has no key for.
    #[error("no key for this algorithm")]
    UnsupportedAlg,
    /// A `kid` the key set does not have (or none where keys have ids).
    #[error("unknown key id")]
    UnknownKid,
    /// The token's `alg` differs from the key's (e.g. HS256 with an RSA key).
    #[error("algorithm does not match the key")]
    AlgMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is past (beyond the leeway), or missing.
    #[error("expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("not yet valid")]
    NotYetValid,
    /// `iss` differs.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain the expected audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The identity claim is missing or not a string.
    #[error("no identity claim")]
    NoIdentity,
    /// A scope the route requires is missing.
    #[error("missing scope")]
    MissingScope,
    /// The client identifier is not the one the ACL requires.
    #[error("client identifier not allowed")]
    ClientId,
    /// Too many failures from this address recently; not even verified.
    #[error("throttled")]
    Throttled,
    /// A re-authentication token names another identity than the session's (another
    /// subject, or another value of a claim its ACL or route was derived from).
    #[error("re-authentication with another identity")]
    ReauthIdentity,
}

impl AuthError {
    /// Every reason, for metrics.
    pub const ALL: [AuthError; 17] = [
        AuthError::Missing,
        AuthError::TooLong,
        AuthError::Malformed,
        AuthError::AlgNone,
        AuthError::UnsupportedAlg,
        AuthError::UnknownKid,
        AuthError::AlgMismatch,
        AuthError::BadSignature,
        AuthError::Expired,
        AuthError::NotYetValid,
        AuthError::WrongIssuer,
        AuthError::WrongAudience,
        AuthError::NoIdentity,
        AuthError::MissingScope,
        AuthError::ClientId,
        AuthError::Throttled,
        AuthError::ReauthIdentity,
    ];

    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::TooLong => "too_long",
            AuthError::Malformed => "malformed",
            AuthError::AlgNone => "alg_none",
            AuthError::UnsupportedAlg => "unsupported_alg",
            AuthError::UnknownKid => "unknown_kid",
            AuthError::AlgMismatch => "alg_mismatch",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::NoIdentity => "no_identity",
            AuthError::MissingScope => "missing_scope",
            AuthError::ClientId => "client_id",
            AuthError::Throttled => "throttled",
            AuthError::ReauthIdentity => "reauth_identity",
        }
    }
}
