//! What every step of a run shares, built once per process: the cluster client, TLS and the
//! HTTP client, and each credential, read once however many targets use it.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::Mutex;
use tracing::info;

use crate::{
    Error,
    config::{Auth, Config, SigningKey},
    git::{self, sign::Signer},
    host::github_app,
    kube::{cluster::Cluster, secret},
    plan::names::RepoLocation,
    trust::{
        credential::{Credential, Token},
        http, redact,
    },
};

/// One per process; shared by every target of a promotion file.
pub struct Context {
    pub cluster: Arc<Cluster>,
    pub tls: Arc<rustls::ClientConfig>,
    pub http: reqwest::Client,
    pub io_timeout: Duration,
    /// Tokens by where they came from (Secret, key, namespace, App): a Secret is read once.
    tokens: Mutex<HashMap<String, Token>>,
    /// Signing keys by where they came from.
    signers: Mutex<HashMap<String, Arc<Signer>>>,
}

/// The credentials one run uses.
pub struct Credentials {
    /// The Git host token (for git and for the API), when the run needs one.
    pub token: Option<Token>,
    pub signer: Option<Arc<Signer>>,
}

impl Context {
    /// TLS (web roots plus GITOPS_CA_FILE, read here once) and the HTTP client.
    pub fn new(cfg: &Config, cluster: Arc<Cluster>) -> Result<Context, Error> {
        let io_timeout = cfg.limits.io_timeout();
        let ca = match &cfg.auth.ca_file {
            Some(p) => Some(std::fs::read(p).map_err(|source| Error::CaFile {
                path: p.display().to_string(),
                source,
            })?),
            None => None,
        };
        let tls = http::tls_config(ca.as_deref())?;
        let http = http::client(&tls, io_timeout)?;
        Ok(Context {
            cluster,
            tls,
            http,
            io_timeout,
            tokens: Mutex::default(),
            signers: Mutex::default(),
        })
    }

    /// The Env repo as git reaches it: the token bound to the repo's origin, for git's Basic
    /// auth; a local repo gets none.
    pub fn remote(&self, cfg: &Config, token: Option<&Token>) -> Result<git::Remote, Error> {
        let credentials = match (&cfg.repo.location, token) {
            (RepoLocation::Https(url), Some(t)) => {
                redact::register_basic(&cfg.auth.username, t.expose());
                Some((cfg.auth.username.clone(), Credential::bind(t.clone(), url)?))
            }
            _ => None,
        };
        Ok(git::Remote {
            location: cfg.repo.location.clone(),
            credentials,
            tls: self.tls.clone(),
            io_timeout: self.io_timeout,
            // GITOPS_TIMEOUT: no git request starts, and no answer is read, past it.
            deadline: crate::retry::time_left().map(|left| std::time::Instant::now() + left),
            pool: git::Pool::default(),
        })
    }

    /// The token and signing key for a run whose objects live in `namespace`. A token is
    /// needed for an https repo and for the PR API.
    #[tracing::instrument(target = "iter8_gitops::step", name = "token", skip_all)]
    pub async fn credentials(
        &self,
        cfg: &Config,
        namespace: Option<String>,
    ) -> Result<Credentials, Error> {
        let needs_token =
            matches!(cfg.repo.location, RepoLocation::Https(_)) || cfg.pr.api.is_some();
        // A token read here is registered with the redactor where it is read, once.
        let token = match &cfg.auth.token {
            Some(t) => {
                redact::register(t.expose());
                Some(t.clone())
            }
            None if needs_token => Some(self.token(cfg, namespace.clone()).await?),
            None => None,
        };
        let signer = match &cfg.auth.signing {
            Some(key) => Some(self.signer(key, namespace).await?),
            None => None,
        };
        Ok(Credentials { token, signer })
    }

    /// The token git needs for the Env repo (an https repo only), before a run's own
    /// credentials: for reading an in-repo promotion file.
    pub async fn git_token(
        &self,
        cfg: &Config,
        namespace: Option<String>,
    ) -> Result<Option<Token>, Error> {
        match (&cfg.repo.location, &cfg.auth.token) {
            (RepoLocation::Local(_), _) => Ok(None),
            (_, Some(t)) => Ok(Some(t.clone())),
            _ => self.token(cfg, namespace).await.map(Some),
        }
    }

    /// The token Secret's token, or a GitHub App's installation token got by exchanging a
    /// JWT signed with the App's key, which is in the Secret.
    async fn token(&self, cfg: &Config, namespace: Option<String>) -> Result<Token, Error> {
        let auth = &cfg.auth;
        let ns = secret::namespace(&self.cluster, namespace, &auth.token_secret).await?;
        let app = auth.github_app.as_ref().zip(cfg.pr.api.as_ref());
        let key = match app {
            Some((a, api)) => format!(
                "app {} {} {} {ns}/{} {}",
                a.app_id, a.installation_id, api.url, auth.token_secret, a.key
            ),
            None => format!("secret {ns}/{} {}", auth.token_secret, auth.token_key),
        };
        // Held while reading: targets that share a Secret wait for the one read.
        let mut tokens = self.tokens.lock().await;
        if let Some(t) = tokens.get(&key) {
            return Ok(t.clone());
        }
        let token = match app {
            Some((a, api)) => self.app_token(auth, &ns, a, &api.url).await?,
            None => secret::read(&self.cluster, &ns, &auth.token_secret, &auth.token_key).await?,
        };
        redact::register(token.expose());
        tokens.insert(key, token.clone());
        Ok(token)
    }

    async fn app_token(
        &self,
        auth: &Auth,
        ns: &str,
        app: &crate::config::GitHubAppRef,
        api: &url::Url,
    ) -> Result<Token, Error> {
        let key = secret::read_pem(&self.cluster, ns, &auth.token_secret, &app.key).await?;
        redact::register(key.expose());
        let app = github_app::App {
            app_id: app.app_id.clone(),
            installation_id: app.installation_id,
            private_key: key,
        };
        let token = github_app::installation_token(self.http.clone(), api, &app).await?;
        info!(app = %app.app_id, installation = app.installation_id, "got a GitHub App installation token");
        Ok(token)
    }

    /// The commit signing key, read and checked before anything is fetched or written; once
    /// per key however many targets sign with it.
    async fn signer(
        &self,
        key: &SigningKey,
        namespace: Option<String>,
    ) -> Result<Arc<Signer>, Error> {
        let ns = match key {
            SigningKey::Secret(name) => {
                Some(secret::namespace(&self.cluster, namespace, name).await?)
            }
            SigningKey::File(_) => None,
        };
        let id = format!("{key:?} {ns:?}");
        // Held while reading: targets that share a key wait for the one read.
        let mut signers = self.signers.lock().await;
        if let Some(s) = signers.get(&id) {
            return Ok(s.clone());
        }
        let (what, text) = self.signing_key(key, ns.as_deref()).await?;
        redact::register(text.expose());
        let signer = Signer::from_text(text.expose()).map_err(|e| Error::SigningKey {
            what,
            reason: e.to_string(),
        })?;
        info!(key = %signer.public_key(), format = signer.format(), "commits will be signed");
        let signer = Arc::new(signer);
        signers.insert(id, signer.clone());
        Ok(signer)
    }

    /// The key's text, and what to call it in a message.
    async fn signing_key(
        &self,
        key: &SigningKey,
        ns: Option<&str>,
    ) -> Result<(String, Token), Error> {
        const KEY: &str = "ssh-privatekey";
        match (key, ns) {
            (SigningKey::Secret(name), Some(ns)) => {
                let text = secret::read_pem(&self.cluster, ns, name, KEY).await?;
                Ok((format!("in Secret {ns}/{name} (key {KEY})"), text))
            }
            (SigningKey::File(path), _) => {
                let what = format!("GITOPS_SIGNING_KEY_FILE {}", path.display());
                match std::fs::read_to_string(path) {
                    Ok(t) => Ok((what, Token::new(t))),
                    Err(e) => Err(Error::SigningKey {
                        what,
                        reason: format!("cannot be read ({e})"),
                    }),
                }
            }
            (SigningKey::Secret(_), None) => Err(Error::Internal(
                "a signing key Secret without a namespace".into(),
            )),
        }
    }
}
