//! The only user of gix: fetch the Env repo's branches at depth 1 into a temporary bare repo,
//! read its tree, write the planned change as an in-memory commit, and push it with a
//! compare-and-swap over receive-pack. Blocking code: call it from `spawn_blocking`.
//!
//! Credentials are handed to gix in memory (an `Account` for the transport); they are never
//! put in a URL, argv, a log line or a file, and they go only to the origin they are bound to:
//! after a redirect to another origin gix asks again, and is told nothing.

mod edit;
mod fetch;
mod push;
pub mod sign;

pub use edit::{Commit, Identity, already_pushed, commit};
pub use fetch::{Fetched, fetch};
pub use push::{PushOutcome, Report, parse_report, push};

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

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

/// A boxed cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong with git; each variant says what to check.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not create a temporary repository in {dir}")]
    TempRepo {
        dir: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("fetching branch {branch:?} from {url} failed")]
    Fetch {
        url: String,
        branch: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "{url} rejected the credentials (HTTP {status}); check the token and that it may read and write this repo"
    )]
    Auth { url: String, status: u16 },
    #[error("branch {branch:?} does not exist in {url}; check GITOPS_BRANCH")]
    BranchNotFound { url: String, branch: String },
    #[error("reading the fetched tree failed")]
    Read {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("writing the commit failed")]
    Write {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("pushing to {url} failed")]
    Push {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{url} refused the update of {refname}: {reason}")]
    Rejected {
        url: String,
        refname: String,
        reason: String,
    },
    #[error("{url} could not unpack the pushed objects: {reason}")]
    Unpack { url: String, reason: String },
    #[error(
        "{url} sent git to {asked}, which its token is not for (the token goes only to {bound}); nothing was sent there. If the repo moved, set GITOPS_REPO to its new URL"
    )]
    Misdirected {
        url: String,
        asked: String,
        bound: String,
    },
}

/// gix asked for credentials for another origin than the bound one (after a redirect).
#[derive(Debug, thiserror::Error)]
#[error("credentials withheld from {asked}")]
pub(crate) struct Withheld {
    asked: String,
    bound: String,
}

impl Error {
    /// The error for a failed connection: a withheld credential, a rejected one, or `other`.
    fn classify(
        url: &str,
        e: &(dyn std::error::Error + 'static),
        other: impl FnOnce() -> Error,
    ) -> Error {
        let mut cur = Some(e);
        while let Some(c) = cur {
            if let Some(w) = c.downcast_ref::<Withheld>() {
                return Error::Misdirected {
                    url: url.to_string(),
                    asked: w.asked.clone(),
                    bound: w.bound.clone(),
                };
            }
            cur = c.source();
        }
        match auth_status(e) {
            Some(status) => Error::Auth {
                url: url.to_string(),
                status,
            },
            None => other(),
        }
    }
}

impl Error {
    /// True when someone else moved the ref between our fetch and our push (the
    /// compare-and-swap refused): fetch again and re-plan.
    pub fn is_stale(&self) -> bool {
        matches!(self, Error::Rejected { reason, .. }
            if reason.contains("failed to update ref") || reason.contains("stale info") || reason.contains("fetch first")
                || reason.contains("non-fast-forward") || reason.contains("failed to lock")
                || reason.contains("atomic transaction failed"))
    }

    /// True for faults worth another try: connections, timeouts, server errors.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Fetch { source, .. } | Error::Push { source, .. } => {
                is_transient_text(&chain(source.as_ref()))
            }
            Error::Unpack { .. } => true,
            _ => false,
        }
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// gix reports transport faults as text (its errors carry no HTTP status as data), so the
/// classification reads the message chain.
fn is_transient_text(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    if http_statuses(&s).any(|c| c >= 500 || c == 429) {
        return true;
    }
    [
        "connection",
        "timed out",
        "timeout",
        "reset",
        "broken pipe",
        "unexpected eof",
        "early eof",
        "temporar",
        "incomplete",
        "closed",
        "error sending request",
        "error decoding",
        "body",
    ]
    .iter()
    .any(|needle| s.contains(needle))
}

/// The HTTP statuses named in a (lower-case) message: gix's "received http status 503",
/// reqwest's "http status server error (503 service unavailable)". Bare numbers are not
/// statuses: a URL's port (127.0.0.1:40331) must not read as a 403.
fn http_statuses(s: &str) -> impl Iterator<Item = u16> + '_ {
    ["status ", "status client error (", "status server error ("]
        .into_iter()
        .flat_map(move |prefix| {
            s.match_indices(prefix)
                .map(move |(i, _)| &s[i + prefix.len()..])
        })
        .filter_map(|rest| {
            let digits = rest.get(..3)?;
            let more = rest.as_bytes().get(3).is_some_and(u8::is_ascii_digit);
            (digits.bytes().all(|b| b.is_ascii_digit()) && !more)
                .then(|| digits.parse().ok())
                .flatten()
        })
}

/// The HTTP status in an authentication failure, if that is what `e` is.
fn auth_status(e: &(dyn std::error::Error + 'static)) -> Option<u16> {
    let s = chain(e).to_ascii_lowercase();
    if let Some(code) = http_statuses(&s).find(|c| *c == 401 || *c == 403) {
        Some(code)
    } else if s.contains("authentication required") || s.contains("unauthorized") {
        Some(401)
    } else {
        None
    }
}

/// Connects to `remote` for `service` and performs the handshake: our HTTP options (TLS,
/// timeouts), Basic auth sent up front, credentials only from memory.
fn connect(
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
    use gix::protocol::transport::client::blocking_io::connect;
    let mut transport = connect::connect(
        remote.location.as_gix_url().as_str(),
        connect::Options {
            version,
            ..Default::default()
        },
    )
    .map_err(boxed)?;
    let url = remote.location.as_gix_url();
    if matches!(remote.location, crate::plan::names::RepoLocation::Https(_)) {
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

fn boxed(
    e: impl std::error::Error + Send + Sync + 'static,
) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(e)
}

#[cfg(test)]
mod tests {
    use super::{auth_status, is_transient_text};

    fn err(text: &str) -> std::io::Error {
        std::io::Error::other(text.to_string())
    }

    #[test]
    fn statuses_are_read_from_the_words_around_them_not_from_ports() {
        let at = "https://127.0.0.1:40331/acme/env.git";
        assert_eq!(
            auth_status(&err(&format!("{at}: Received HTTP status 503"))),
            None
        );
        assert!(is_transient_text(&format!(
            "{at}: Received HTTP status 503"
        )));
        assert_eq!(
            auth_status(&err(&format!("{at}: Received HTTP status 403"))),
            Some(403)
        );
        assert_eq!(
            auth_status(&err(&format!("{at}: Received HTTP status 401"))),
            Some(401)
        );
        assert!(!is_transient_text(&format!(
            "{at}: Received HTTP status 404"
        )));
        // A port that looks like a server error is not one.
        assert!(!is_transient_text(
            "https://127.0.0.1:45003/x: Received HTTP status 404"
        ));
        assert!(is_transient_text(
            "HTTP status server error (502 Bad Gateway) for url (https://h/x)"
        ));
        assert_eq!(
            auth_status(&err(
                "HTTP status client error (403 Forbidden) for url (https://h:4010/x)"
            )),
            Some(403)
        );
    }
}
