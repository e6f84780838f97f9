//! Trust: a secret bound to its origin, every byte written out redacted, one TLS config with
//! same-origin redirects. Depends on nothing else in the crate.

pub(crate) mod credential;
pub mod http;
pub mod redact;
