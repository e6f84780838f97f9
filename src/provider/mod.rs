//! Pull requests on the Git host. One implementation per host kind; the promotion flow only
//! needs "find the open request for head -> base, create it if there is none, else update it".

pub mod github;

use std::time::Duration;

/// An open pull request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
}

/// What `open_pull_request` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    /// Dry run: a PR would be created.
    WouldCreate,
    /// Dry run: the existing PR would be kept.
    WouldKeep,
}

/// The request to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// `owner:branch` of the pushed branch.
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
}

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
    #[error("{method} {url} failed (HTTP {status}): {message}")]
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
        "creating the pull request {head} -> {base} raced with another, but no open pull request was found afterwards"
    )]
    Vanished { head: String, base: String },
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

    /// True when the token was refused (exit code 3, not 6).
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth { .. })
    }
}
