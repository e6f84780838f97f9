//! What went wrong with a host's API, and how the run treats it (retry, wait, exit code).

use std::time::Duration;

/// What went wrong with the provider API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{method} {url} was refused (HTTP {status}): {message}; check the token and its permission on the repository"
    )]
    Auth {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    #[error("{method} {url} failed (HTTP {status}): {message}{}", wait_note(.retry_after))]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{method} {url} failed")]
    Transport {
        method: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {url} answered with an unexpected body")]
    Body {
        method: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "creating the request {head} -> {base} raced with another, but no open request was found afterwards; rerun"
    )]
    Vanished { head: String, base: String },
    #[error("{what}: {message}")]
    Answer { what: String, message: String },
    #[error(
        "{method} {url} answered HTTP {status}, a redirect to {location:?}, which is not followed: the token goes only to the API's own origin. Set GITOPS_API_URL (or the target's pr.apiUrl) to where the API is now"
    )]
    Redirected {
        method: &'static str,
        url: String,
        status: u16,
        location: String,
    },
    #[error(
        "{method} {url} is not on {bound}, the origin the API token is for: the request was not sent"
    )]
    Misdirected {
        method: &'static str,
        url: String,
        bound: String,
    },
}

/// Says how long a rate-limited server asked to wait: the run gives up rather than wait past
/// its deadline, and the user needs to know when a rerun can work.
fn wait_note(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(
            " (rate limited: the server asks to wait {}s; rerun after that, with a GITOPS_TIMEOUT that leaves room for it)",
            d.as_secs()
        ),
        None => String::new(),
    }
}

impl Error {
    /// True for faults worth another try.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Status {
                status,
                retry_after,
                ..
            } => *status >= 500 || *status == 429 || retry_after.is_some(),
            Error::Transport { source, .. } => {
                source.is_timeout()
                    || source.is_connect()
                    || source.is_request()
                    || source.is_body()
            }
            Error::Body { source, .. } => source.is_body() || source.is_decode(),
            _ => false,
        }
    }

    /// How long the server asked us to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True when the token was refused, or withheld from another origin (exit code 3, not 6).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Error::Auth { .. } | Error::Redirected { .. } | Error::Misdirected { .. }
        )
    }
}
