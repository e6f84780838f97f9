//! A secret bound to the one origin (scheme, host, port) the operator configured it for.
//!
//! Every credential this tool sends (the Git token as Basic auth, the API token, a GitHub App's
//! JWT and installation token) travels inside a [`Credential`], and the only way to get the
//! secret back out is [`Credential::secret_for`] with the URL about to be contacted: a
//! redirect, a promotion file or a bug that points a request elsewhere gets `None`, and the
//! request goes out without it. Plain `http://` never carries one: [`Credential::bind`]
//! refuses it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A token, redacted in every `Debug` and `Display`. It (de)serializes as its plain value
/// only so that `Args::overlay` can merge sources; nothing writes `Args` anywhere.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Token(s)
    }
    /// The secret itself; call sites are the only places that see it (HTTP headers, gix identity).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A secret and the origin it may be sent to.
#[derive(Clone)]
pub struct Credential {
    secret: Token,
    origin: url::Origin,
}

/// Why a secret cannot be bound to a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{url} is not an https:// origin; a credential is only ever sent over HTTPS (use the https:// URL)"
)]
pub struct NotHttps {
    /// The URL, printed without userinfo or query.
    pub url: String,
}

impl Credential {
    /// Binds `secret` to the origin of `url`, which must be `https://`.
    pub fn bind(secret: Token, url: &url::Url) -> Result<Credential, NotHttps> {
        if url.scheme() != "https" || url.host_str().is_none() {
            return Err(NotHttps {
                url: crate::trust::redact::url(url.as_str()),
            });
        }
        Ok(Credential {
            secret,
            origin: url.origin(),
        })
    }

    /// The secret, when `url` is on the bound origin; `None` anywhere else.
    pub fn secret_for(&self, url: &url::Url) -> Option<&str> {
        (url.origin() == self.origin).then(|| self.secret.expose())
    }

    /// [`Credential::secret_for`] for a URL given as text (an unparsable one gets nothing).
    pub fn secret_for_str(&self, url: &str) -> Option<&str> {
        let url = url::Url::parse(url).ok()?;
        (url.origin() == self.origin).then(|| self.secret.expose())
    }

    /// `https://host[:port]`: where this credential may go, for messages.
    pub fn origin(&self) -> String {
        self.origin.ascii_serialization()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential(*** for {})", self.origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn a_credential_is_given_only_for_its_own_origin() {
        let c = Credential::bind(
            Token::new("s3cret".into()),
            &url("https://git.example/a/b.git"),
        )
        .unwrap();
        assert_eq!(
            c.secret_for(&url("https://git.example/other/repo")),
            Some("s3cret")
        );
        assert_eq!(
            c.secret_for(&url("https://git.example:443/x")),
            Some("s3cret")
        );
        for elsewhere in [
            "https://git.example:8443/a/b.git",
            "http://git.example/a/b.git",
            "https://evil.example/a/b.git",
            "https://git.example.evil.example/a/b.git",
            "https://api.git.example/a/b.git",
        ] {
            assert_eq!(c.secret_for(&url(elsewhere)), None, "{elsewhere}");
        }
        assert_eq!(c.secret_for_str("not a url"), None);
        assert_eq!(c.origin(), "https://git.example");
        assert_eq!(format!("{c:?}"), "Credential(*** for https://git.example)");
    }

    #[test]
    fn plain_http_carries_no_credential() {
        let e = Credential::bind(
            Token::new("s3cret".into()),
            &url("http://u:p@git.example/a?x=1"),
        )
        .unwrap_err();
        assert_eq!(e.url, "http://git.example/a");
        assert!(e.to_string().contains("only ever sent over HTTPS"));
    }
}
