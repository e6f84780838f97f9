//! How the remote is reached: where, as whom, trusting what; the connection and handshake,
//! and the credentials callback that answers only for the bound origin.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use super::error::{BoxError, Withheld, boxed};
use crate::{plan::names::RepoLocation, trust::credential::Credential};

/// How to reach the remote: where, as whom, trusting what.
#[derive(Clone)]
pub struct Remote {
    /// The Env repo.
    pub location: RepoLocation,
    /// Basic-auth user and the token, bound to the repo's origin; `None` for local repos.
    pub credentials: Option<(String, Credential)>,
    /// The TLS configuration (web roots and GITOPS_CA_FILE), built once per run.
    pub tls: Arc<rustls::ClientConfig>,
    /// Connect and read timeout for each HTTP request.
    pub io_timeout: Duration,
    /// When the run must be over (GITOPS_TIMEOUT): nothing is sent or read after it.
    pub deadline: Option<std::time::Instant>,
    /// The HTTP client the conversations with this remote take turns on (`pool.rs`).
    pub pool: super::pool::Pool,
}

impl Remote {
    /// The account for `url`: only on the origin the credential is bound to.
    fn account_for(&self, url: &str) -> Option<gix::sec::identity::Account> {
        let (user, credential) = self.credentials.as_ref()?;
        Some(gix::sec::identity::Account {
            username: user.clone(),
            password: credential.secret_for_str(url)?.to_string(),
            oauth_refresh_token: None,
        })
    }

    /// Options for gix's reqwest transport: our CA bundle, timeouts and user agent.
    fn http_options(&self) -> gix::protocol::transport::client::blocking_io::http::Options {
        use gix::protocol::transport::client::blocking_io::http;
        let tls = self.tls.clone();
        let timeout = self.io_timeout;
        let backend = http::reqwest::Options {
            configure_client: Some(Box::new(move |builder| {
                // The timeout bounds each request; the run's deadline bounds them all, read
                // by read (`bounded.rs`).
                Ok(builder
                    .connect_timeout(timeout)
                    .timeout(timeout * 4)
                    .tcp_nodelay(true)
                    .tls_backend_preconfigured((*tls).clone()))
            })),
            configure_request: None,
        };
        http::Options {
            user_agent: Some(crate::trust::http::USER_AGENT.into()),
            connect_timeout: Some(timeout),
            backend: Some(Arc::new(std::sync::Mutex::new(backend))),
            ..Default::default()
        }
    }
}

/// Connects to `remote` for `service` and performs the handshake: our HTTP options (TLS,
/// timeouts), Basic auth sent up front, credentials only from memory.
pub(super) fn connect(
    remote: &Remote,
    version: gix::protocol::transport::Protocol,
    service: gix::protocol::transport::Service,
) -> Result<
    (
        Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
        gix::protocol::Handshake,
    ),
    BoxError,
> {
    use gix::protocol::transport::client::blocking_io::{Transport, file, http};
    let url = remote.location.as_gix_url();
    let https = matches!(remote.location, crate::plan::names::RepoLocation::Https(_));
    let mut transport: Box<dyn Transport + Send> = if https {
        Box::new(http::connect_http(
            super::bounded::Bounded::new(&remote.pool, remote.deadline),
            gix::url::parse(gix::bstr::BStr::new(url.as_str())).map_err(boxed)?,
            version,
            false,
        ))
    } else {
        // A local repo: git-upload-pack / git-receive-pack spawned on the path. Only the two
        // transports the tool speaks are linked (gix's `connect` would bring ssh and git://).
        Box::new(file::connect(url.as_str(), version, false).map_err(boxed)?)
    };
    if https {
        transport.configure(&remote.http_options()).map_err(boxed)?;
        if let Some(a) = remote.account_for(&url) {
            transport.set_identity(a).map_err(boxed)?;
        }
    }
    let withheld = Arc::new(Mutex::new(None));
    let handshake = gix::protocol::handshake(
        &mut transport,
        service,
        authenticate(remote.clone(), withheld.clone()),
        vec![],
        &mut gix::progress::Discard,
    );
    match (handshake, withheld.lock().expect("withheld lock").take()) {
        (Ok(h), _) => Ok((transport, h)),
        (Err(_), Some(w)) => Err(Box::new(w)),
        (Err(e), None) => Err(boxed(e)),
    }
}

/// The credentials callback for gix: our account when gix asks for the bound origin (the URL
/// it asks for is where a redirect led), nothing stored or erased, and never a prompt or a
/// credential helper (a Job has no terminal, and `$HOME` is not ours). A request for any
/// other origin is answered with nothing and remembered in `withheld`, for the message.
fn authenticate(
    remote: Remote,
    withheld: Arc<Mutex<Option<Withheld>>>,
) -> impl FnMut(
    gix::credentials::helper::Action,
) -> Result<Option<gix::credentials::protocol::Outcome>, gix::error::Error> {
    move |action| {
        let gix::credentials::helper::Action::Get(ctx) = action else {
            return Ok(None);
        };
        let asked = ctx.url.as_ref().map(|u| u.to_string()).unwrap_or_default();
        let Some((_, credential)) = &remote.credentials else {
            return Ok(None);
        };
        match remote.account_for(&asked) {
            Some(identity) => Ok(Some(gix::credentials::protocol::Outcome {
                identity,
                next: gix::credentials::helper::NextAction::from(ctx),
            })),
            None => {
                *withheld.lock().expect("withheld lock") = Some(Withheld {
                    asked: crate::trust::redact::url(&asked),
                    bound: credential.origin(),
                });
                Ok(None)
            }
        }
    }
}
