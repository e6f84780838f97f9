//! The HTTP trust store and identity shared by git (gix's reqwest transport) and the
//! provider API: Mozilla's web roots compiled in (a `scratch` image has no CA store) plus
//! the PEM bundle of GITOPS_CA_FILE for private Git hosts.

/// The `User-Agent` on every request (GitHub rejects requests without one).
pub const USER_AGENT: &str = concat!("iter8-gitops/", env!("CARGO_PKG_VERSION"));

/// Why the extra CA bundle cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "GITOPS_CA_FILE holds no usable PEM certificate; give a PEM bundle (-----BEGIN CERTIFICATE-----)"
)]
pub struct BadCaBundle(#[source] Option<reqwest::Error>);

/// The roots to trust: the web roots plus `extra_pem`.
pub fn roots(extra_pem: Option<&[u8]>) -> Result<Vec<reqwest::Certificate>, BadCaBundle> {
    let mut certs: Vec<reqwest::Certificate> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
        .collect();
    if let Some(pem) = extra_pem {
        let extra = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| BadCaBundle(Some(e)))?;
        if extra.is_empty() {
            return Err(BadCaBundle(None));
        }
        certs.extend(extra);
    }
    Ok(certs)
}

/// A blocking client builder (gix's transport) that trusts exactly [`roots`].
pub fn with_roots(
    builder: reqwest::blocking::ClientBuilder,
    extra_pem: Option<&[u8]>,
) -> Result<reqwest::blocking::ClientBuilder, BadCaBundle> {
    Ok(builder.tls_certs_only(roots(extra_pem)?))
}

/// The async client for the provider API.
pub fn client(
    extra_pem: Option<&[u8]>,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, BadCaBundle> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .tls_certs_only(roots(extra_pem)?)
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .timeout(timeout * 2)
        .build()
        .map_err(|e| BadCaBundle(Some(e)))
}
