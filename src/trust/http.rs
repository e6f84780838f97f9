//! The HTTP trust store and identity shared by git (gix's reqwest transport) and the
//! provider API: Mozilla's web roots compiled in (a `scratch` image has no CA store) plus
//! the PEM bundle of GITOPS_CA_FILE for private Git hosts. The TLS configuration is built
//! once per run and shared by every client: the roots are ready-made trust anchors, so
//! nothing is parsed per connection.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, pem::PemObject};

/// The `User-Agent` on every request (GitHub rejects requests without one).
pub const USER_AGENT: &str = concat!("iter8-gitops/", env!("CARGO_PKG_VERSION"));

/// Why the extra CA bundle cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "GITOPS_CA_FILE holds no usable PEM certificate; give a PEM bundle (-----BEGIN CERTIFICATE-----)"
)]
pub struct BadCaBundle(#[source] Option<Box<dyn std::error::Error + Send + Sync>>);

/// The client TLS configuration: web roots plus `extra_pem`.
pub fn tls_config(extra_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, BadCaBundle> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| BadCaBundle(Some(Box::new(e))))?;
            roots
                .add(cert)
                .map_err(|e| BadCaBundle(Some(Box::new(e))))?;
            added += 1;
        }
        if added == 0 {
            return Err(BadCaBundle(None));
        }
    }
    // NB: ring, and reqwest built with `rustls-no-provider`: aws-lc-rs (reqwest's default) costs
    // ~30 ms of entropy and self tests on first use, a fifth of a whole promotion, and C to build.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BadCaBundle(Some(Box::new(e))))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The async client for the provider API.
pub fn client(
    tls: &rustls::ClientConfig,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, BadCaBundle> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .tls_backend_preconfigured(tls.clone())
        .connect_timeout(timeout)
        .tcp_nodelay(true)
        .read_timeout(timeout)
        .timeout(timeout * 2)
        .redirect(same_origin_redirects())
        .build()
        .map_err(|e| BadCaBundle(Some(Box::new(e))))
}

/// Redirects are followed only within the origin of the first request (a few hops): one to
/// another host, port or scheme (http among them) is returned as it is, so a header such as
/// GitLab's PRIVATE-TOKEN, which reqwest does not strip, never travels there.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same && attempt.previous().len() < 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        assert!(tls_config(Some(b"not a certificate")).is_err());
        assert!(tls_config(None).is_ok());
    }
}
