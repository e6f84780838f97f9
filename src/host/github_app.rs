//! GitHub App credentials: sign a short-lived RS256 JWT with the App's private key, exchange it
//! for an installation token (`POST /app/installations/{id}/access_tokens`), and use that token
//! for git (user `x-access-token`) and the API. The JWT is built by jsonwebtoken; the RSA
//! signature is ring's, plugged in as jsonwebtoken's crypto provider.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier},
    errors::{ErrorKind, new_error},
};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{
    api::{Api, Auth},
    github,
};
use crate::{trust::credential::Credential, trust::credential::Token};

/// An App installation to act as.
#[derive(Debug, Clone)]
pub struct App {
    /// The App's id (or client id): the JWT's `iss`.
    pub app_id: String,
    pub installation_id: u64,
    /// The App's private key, PEM (PKCS#1 as GitHub hands it out, or PKCS#8).
    pub private_key: Token,
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: u64,
    exp: u64,
    iss: &'a str,
}

#[derive(Deserialize)]
struct InstallationToken {
    token: String,
}

/// Why no installation token was had.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    NotHttps(#[from] crate::trust::credential::NotHttps),
    #[error(
        "GitHub did not give an installation token for GITOPS_GITHUB_APP_ID {app_id} and GITOPS_GITHUB_APP_INSTALLATION_ID {installation_id}; check both ids and that the private key is the App's"
    )]
    Exchange {
        app_id: String,
        installation_id: u64,
        /// Boxed: the host's errors are large, and every `Result` of the run carries this.
        #[source]
        source: Box<super::Error>,
    },
}

impl Error {
    /// The process exit code (docs/exit-codes.md): a bad key or a refused exchange is a
    /// credential problem (3); a host that fails otherwise is the host's (6).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotHttps(_) => 2,
            Error::Key(_) => 3,
            Error::Exchange { source, .. } if source.is_auth() => 3,
            Error::Exchange { .. } => 6,
        }
    }
}

/// Why the App's key cannot sign.
#[derive(Debug, thiserror::Error)]
#[error(
    "the GitHub App private key cannot sign a JWT ({0}); give the App's RSA private key as PEM (the .pem file GitHub generated)"
)]
pub struct KeyError(String);

/// The JWT GitHub wants: `iat` a minute in the past (clock drift), `exp` nine minutes ahead
/// (ten is the most GitHub accepts), `iss` the App.
pub fn jwt(app: &App, now: SystemTime) -> Result<String, KeyError> {
    install_provider();
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let key = EncodingKey::from_rsa_der(&rsa_der(app.private_key.expose())?);
    let claims = Claims {
        iat: now.saturating_sub(60),
        exp: now + 9 * 60,
        iss: &app.app_id,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
        .map_err(|e| KeyError(e.to_string()))
}

/// The DER of the App's key, PKCS#1 (`BEGIN RSA PRIVATE KEY`, what GitHub generates) or
/// PKCS#8 (`BEGIN PRIVATE KEY`): read by rustls's PEM reader, which the client key of a
/// kubeconfig already uses (jsonwebtoken's own would bring an ASN.1 and a date library).
fn rsa_der(pem: &str) -> Result<Vec<u8>, KeyError> {
    use rustls::pki_types::{PrivateKeyDer, pem::PemObject};
    match PrivateKeyDer::from_pem_slice(pem.as_bytes()) {
        Ok(PrivateKeyDer::Pkcs1(k)) => Ok(k.secret_pkcs1_der().to_vec()),
        Ok(PrivateKeyDer::Pkcs8(k)) => Ok(k.secret_pkcs8_der().to_vec()),
        Ok(_) => Err(KeyError("it is not an RSA key".into())),
        Err(e) => Err(KeyError(format!("it is not a PEM private key: {e}"))),
    }
}

/// Exchanges the App's JWT for an installation token. Safe to retry: a second exchange
/// only makes a second short-lived token.
pub async fn installation_token(
    http: reqwest::Client,
    api: &url::Url,
    app: &App,
) -> Result<Token, Error> {
    let jwt = jwt(app, SystemTime::now())?;
    crate::trust::redact::register(&jwt);
    // The JWT goes to the API origin the operator configured, and nowhere else.
    let jwt = Credential::bind(Token::new(jwt), api)?;
    let api = Api::new(http, api, Auth::Bearer(jwt), github::HEADERS);
    let path = format!("/app/installations/{}/access_tokens", app.installation_id);
    let t: InstallationToken = api
        .call("installation token", Method::POST, &path, &[], None)
        .await
        .map_err(|source| Error::Exchange {
            app_id: app.app_id.clone(),
            installation_id: app.installation_id,
            source: Box::new(source),
        })?;
    Ok(Token::new(t.token))
}

/// RS256 with ring.
struct RingRs256(ring::signature::RsaKeyPair);

impl signature::Signer<Vec<u8>> for RingRs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut sig = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                msg,
                &mut sig,
            )
            .map_err(|_| signature::Error::new())?;
        Ok(sig)
    }
}

impl JwtSigner for RingRs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: |alg, key| {
        if *alg != Algorithm::RS256 {
            return Err(new_error(ErrorKind::InvalidAlgorithm));
        }
        // PKCS#1 or PKCS#8 DER, as `rsa_der` read it.
        let der = key.inner();
        let pair = ring::signature::RsaKeyPair::from_der(der)
            .or_else(|_| ring::signature::RsaKeyPair::from_pkcs8(der))
            .map_err(|e| new_error(ErrorKind::InvalidRsaKey(e.to_string())))?;
        Ok(Box::new(RingRs256(pair)))
    },
    // This tool only signs.
    verifier_factory: |_, _| -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
        Err(new_error(ErrorKind::InvalidAlgorithm))
    },
    jwk_utils: JwkUtils::new_unimplemented(),
};

fn install_provider() {
    // Fails only when already installed, which is what we want.
    let _ = PROVIDER.install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssl(args: &[&str]) -> String {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl is installed (.ci/run installs it)");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn app(pem: &str) -> App {
        App {
            app_id: "123".into(),
            installation_id: 42,
            private_key: Token::new(pem.into()),
        }
    }

    #[test]
    fn the_apps_key_signs_as_pkcs1_or_pkcs8_and_anything_else_is_named() {
        let pkcs1 = openssl(&["genrsa", "-traditional", "2048"]);
        let pkcs8 = openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ]);
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        for pem in [&pkcs1, &pkcs8] {
            let jwt = jwt(&app(pem), SystemTime::now()).expect("signs");
            assert_eq!(jwt.split('.').count(), 3);
        }
        let ec = openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ]);
        let e = jwt(&app(&ec), SystemTime::now()).unwrap_err().to_string();
        assert!(e.contains("cannot sign a JWT"), "{e}");
        let e = jwt(&app("hunter2"), SystemTime::now())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a PEM private key"), "{e}");
    }
}
