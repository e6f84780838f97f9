//! Credentials: where the Git host token comes from (GITOPS_TOKEN, the token Secret, or a
//! GitHub App), the user name git sends it with, the commit signing key and extra CAs.

use std::path::PathBuf;

use super::{
    args::Args,
    check::{Check, is_dns_subdomain},
    defaults,
};
use crate::{host::Kind, trust::credential::Token};

/// The credentials part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub token_secret: String,
    pub token_key: String,
    /// GITOPS_TOKEN: the token itself (local debugging); skips the Secret.
    pub token: Option<Token>,
    pub username: String,
    pub github_app: Option<GitHubAppRef>,
    /// Where the commit signing key is, when commits are signed.
    pub signing: Option<SigningKey>,
    pub ca_file: Option<PathBuf>,
}

/// A GitHub App to authenticate as; its private key is in the token Secret under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubAppRef {
    pub app_id: String,
    pub installation_id: u64,
    pub key: String,
}

/// Where the commit signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// A Secret in the run's namespace, key `ssh-privatekey`.
    Secret(String),
    File(PathBuf),
}

/// GITOPS_TOKEN*, GITOPS_USERNAME, GITOPS_SIGNING_KEY_*, GITOPS_GITHUB_APP_*, GITOPS_CA_FILE.
/// `provider`: the host kind, which a GitHub App needs to be GitHub.
pub(super) fn validate(c: &mut Check, a: &Args, provider: Option<Kind>) -> Auth {
    let token_secret = c
        .value("GITOPS_TOKEN_SECRET", &a.token_secret)
        .unwrap_or_else(|| defaults::TOKEN_SECRET.into());
    if !is_dns_subdomain(&token_secret) {
        c.bad(
            "GITOPS_TOKEN_SECRET",
            format!("{token_secret:?} is not a valid Secret name (lowercase RFC 1123 subdomain)"),
        );
    }
    let signing = signing_key(c, a);
    let token_key = c
        .value("GITOPS_TOKEN_KEY", &a.token_key)
        .unwrap_or_else(|| defaults::TOKEN_KEY.into());
    if token_key.len() > 253
        || !token_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        c.bad(
            "GITOPS_TOKEN_KEY",
            format!("{token_key:?} is not a valid Secret key (letters, digits, '-', '_', '.')"),
        );
    }
    let token = token(c, a);
    let username = c
        .value("GITOPS_USERNAME", &a.username)
        .unwrap_or_else(|| Kind::git_username(provider).into());
    if username.contains(':') {
        c.bad(
            "GITOPS_USERNAME",
            "contains ':', which basic auth cannot carry in a user name",
        );
    }
    Auth {
        token_secret,
        token_key,
        token,
        username,
        github_app: github_app(c, a, provider),
        signing,
        ca_file: c.value("GITOPS_CA_FILE", &a.ca_file).map(PathBuf::from),
    }
}

/// GITOPS_TOKEN, trimmed. NB: never echo its value in a problem, only what is wrong with it.
fn token(c: &mut Check, a: &Args) -> Option<Token> {
    match a.token.as_ref().map(Token::expose) {
        Some(t) if t.trim().is_empty() => {
            c.bad(
                "GITOPS_TOKEN",
                "is set but empty; unset it to read the token Secret instead",
            );
            None
        }
        Some(t)
            if t.trim()
                .chars()
                .any(|ch| ch.is_control() || ch.is_whitespace()) =>
        {
            c.bad(
                "GITOPS_TOKEN",
                "contains whitespace or control characters; check how the token was pasted",
            );
            None
        }
        Some(t) => Some(Token::new(t.trim().to_string())),
        None => None,
    }
}

/// GITOPS_SIGNING_KEY_SECRET or GITOPS_SIGNING_KEY_FILE, one of them.
fn signing_key(c: &mut Check, a: &Args) -> Option<SigningKey> {
    match (
        c.value("GITOPS_SIGNING_KEY_SECRET", &a.signing_key_secret),
        c.value("GITOPS_SIGNING_KEY_FILE", &a.signing_key_file),
    ) {
        (Some(_), Some(_)) => {
            c.bad(
                "GITOPS_SIGNING_KEY_FILE",
                "is set together with GITOPS_SIGNING_KEY_SECRET; give one of them",
            );
            None
        }
        (Some(name), None) if !is_dns_subdomain(&name) => {
            c.bad(
                "GITOPS_SIGNING_KEY_SECRET",
                format!("{name:?} is not a valid Secret name (lowercase RFC 1123 subdomain)"),
            );
            None
        }
        (Some(name), None) => Some(SigningKey::Secret(name)),
        (None, Some(path)) => Some(SigningKey::File(PathBuf::from(path))),
        (None, None) => None,
    }
}

/// GITOPS_GITHUB_APP_ID and _INSTALLATION_ID come together, on GitHub, instead of a token.
fn github_app(c: &mut Check, a: &Args, provider: Option<Kind>) -> Option<GitHubAppRef> {
    let id = c.value("GITOPS_GITHUB_APP_ID", &a.github_app_id);
    let inst = c.value(
        "GITOPS_GITHUB_APP_INSTALLATION_ID",
        &a.github_app_installation_id,
    );
    let key = c.value("GITOPS_GITHUB_APP_KEY", &a.github_app_key);
    let (id, inst) = match (id, inst) {
        (Some(i), Some(n)) => (i, n),
        (None, None) => {
            if key.is_some() {
                c.bad(
                    "GITOPS_GITHUB_APP_KEY",
                    "is set without GITOPS_GITHUB_APP_ID and GITOPS_GITHUB_APP_INSTALLATION_ID",
                );
            }
            return None;
        }
        (Some(_), None) => {
            c.bad(
                "GITOPS_GITHUB_APP_INSTALLATION_ID",
                "is required with GITOPS_GITHUB_APP_ID (Settings > Installations shows it in the URL)",
            );
            return None;
        }
        (None, Some(_)) => {
            c.bad(
                "GITOPS_GITHUB_APP_ID",
                "is required with GITOPS_GITHUB_APP_INSTALLATION_ID (the App's settings page shows it)",
            );
            return None;
        }
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
        c.bad(
            "GITOPS_GITHUB_APP_ID",
            format!("{id:?} is not an App id or client id"),
        );
    }
    let installation_id = inst.parse::<u64>().ok().filter(|n| *n > 0);
    if installation_id.is_none() {
        c.bad(
            "GITOPS_GITHUB_APP_INSTALLATION_ID",
            format!("{inst:?} is not a number"),
        );
    }
    if a.token.is_some() {
        c.bad(
            "GITOPS_TOKEN",
            "is set together with a GitHub App; use one or the other",
        );
    }
    if !provider.is_some_and(Kind::takes_github_app) {
        c.bad(
            "GITOPS_GITHUB_APP_ID",
            "needs the GitHub API, and this repo's provider is not GitHub; set GITOPS_PROVIDER=github or GITOPS_API_URL",
        );
    }
    Some(GitHubAppRef {
        app_id: id,
        installation_id: installation_id?,
        key: key.unwrap_or_else(|| defaults::GITHUB_APP_KEY.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_token_is_trimmed_or_refused_without_being_echoed() {
        let table: &[(&str, Option<&str>)] = &[
            ("ghp_abc", Some("ghp_abc")),
            ("  ghp_abc\n", Some("ghp_abc")),
            ("   ", None),
            ("ghp_a bc", None),
            ("ghp_a\u{7}bc", None),
        ];
        for (pasted, want) in table {
            let a = Args {
                token: Some(Token::new(pasted.to_string())),
                ..Args::default()
            };
            let mut c = Check { problems: vec![] };
            let auth = validate(&mut c, &a, None);
            assert_eq!(auth.token.as_ref().map(Token::expose), *want, "{pasted:?}");
            for p in &c.problems {
                assert_eq!(p.input, "GITOPS_TOKEN");
                assert!(!p.message.contains("ghp_a"), "{}", p.message);
            }
        }
    }

    #[test]
    fn secret_names_keys_and_user_names_are_checked() {
        let table: &[(Args, &[&str])] = &[
            (Args::default(), &[]),
            (
                Args {
                    token_secret: Some("Iter8_Token".into()),
                    ..Args::default()
                },
                &["GITOPS_TOKEN_SECRET"],
            ),
            (
                Args {
                    token_key: Some("a/b".into()),
                    username: Some("a:b".into()),
                    ..Args::default()
                },
                &["GITOPS_TOKEN_KEY", "GITOPS_USERNAME"],
            ),
            (
                Args {
                    signing_key_secret: Some("k".into()),
                    signing_key_file: Some("/k".into()),
                    ..Args::default()
                },
                &["GITOPS_SIGNING_KEY_FILE"],
            ),
            (
                Args {
                    github_app_id: Some("1".into()),
                    github_app_installation_id: Some("2".into()),
                    ..Args::default()
                },
                // Not on GitHub (no provider given here).
                &["GITOPS_GITHUB_APP_ID"],
            ),
        ];
        for (a, want) in table {
            let mut c = Check { problems: vec![] };
            validate(&mut c, a, None);
            let got: Vec<_> = c.problems.iter().map(|p| p.input.as_str()).collect();
            assert_eq!(got, *want, "{a:?}");
        }
    }
}
