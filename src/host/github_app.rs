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
    let key = EncodingKey::from_rsa_pem(app.private_key.expose().as_bytes())
        .map_err(|e| KeyError(e.to_string()))?;
    let claims = Claims {
        iat: now.saturating_sub(60),
        exp: now + 9 * 60,
        iss: &app.app_id,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
        .map_err(|e| KeyError(e.to_string()))
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
        // jsonwebtoken hands over PKCS#1 DER for both PKCS#1 and PKCS#8 PEM.
        let pair = ring::signature::RsaKeyPair::from_der(key.inner())
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
