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
    #[error("{method} {url} answered with a body that is not what the API documents")]
    Decode {
        method: &'static str,
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{method} {url} answered HTTP {status} with {content_type}, not JSON: a web page or a proxy answered, not the API. Check GITOPS_API_URL (the API's root, e.g. https://HOST/api/v3 for GitHub Enterprise)"
    )]
    NotJson {
        method: &'static str,
        url: String,
        status: u16,
        content_type: String,
    },
    #[error(
        "{method} {url} answered with more than {limit} bytes, more than any answer this run reads; check GITOPS_API_URL"
    )]
    TooLarge {
        method: &'static str,
        url: String,
        limit: u64,
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
    #[error(
        "the pull request {url} cannot be merged now: {message}; it needs its required checks and reviews and no conflicts (set GITOPS_MERGE_WAIT to wait for them, or GITOPS_MERGE=auto to let the host merge when they pass)"
    )]
    NotMergeable { url: String, message: String },
    #[error("the host refused to merge {url} as asked: {message}; {hint}")]
    NotAllowed {
        url: String,
        message: String,
        hint: &'static str,
    },
    #[error(
        "the pull request {url} was not merged: its head is now {now}{}, not {expected}, the commit this run pushed and checked; nothing was merged. Look at that commit, then merge by hand or rerun to propose the change again",
        by.as_deref().map(|b| format!(" (by {b})")).unwrap_or_default()
    )]
    HeadMoved {
        url: String,
        expected: String,
        now: String,
        /// Who made the commit now at the head, when the run could read it.
        by: Option<String>,
    },
    #[error("the pull request {url} was closed without being merged; nothing after it was done")]
    Closed { url: String },
    #[error(
        "the pull request {url} was not merged within GITOPS_MERGE_WAIT ({}s); last seen: {last}. Nothing after the merge was done; rerun (or raise GITOPS_MERGE_WAIT) once it can merge",
        .waited.as_secs()
    )]
    NotMerged {
        url: String,
        waited: Duration,
        last: String,
    },
}

/// What the user can do about a host's refusal to merge.
pub const METHOD_HINT: &str =
    "set GITOPS_MERGE_METHOD to a method the repository allows, or allow this one in its settings";
/// What the user can do when the repository has auto-merge off.
pub const AUTO_HINT: &str = "turn auto-merge on in the repository's settings (GitHub: Settings > General > Allow auto-merge), or set GITOPS_MERGE=now";
/// What the user can do when the token may not merge.
pub const PERMISSION_HINT: &str =
    "give the token's user the right to merge into the base branch, or merge by hand";

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
    /// A host that has no pull request labels (Bitbucket): asking for them is a warning.
    pub fn no_labels(host: &str) -> Error {
        Error::Answer {
            what: "add labels".into(),
            message: format!("{host} has no pull request labels"),
        }
    }

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
            // A cut answer reads as JSON that ends too soon; a whole one that is wrong will
            // be wrong again, and is not retried.
            Error::Decode { source, .. } => source.is_eof(),
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

    /// The exit code of a merge that did not happen (docs/exit-codes.md); `None` for the rest.
    pub fn merge_code(&self) -> Option<u8> {
        match self {
            Error::NotAllowed { .. } => Some(12),
            Error::HeadMoved { .. } => Some(13),
            Error::Closed { .. } => Some(14),
            Error::NotMergeable { .. } => Some(15),
            Error::NotMerged { .. } => Some(16),
            _ => None,
        }
    }

    /// The reason of the Event about a merge that did not happen.
    pub fn merge_reason(&self) -> Option<&'static str> {
        Some(match self.merge_code()? {
            12 => "MergeRefused",
            13 => "HeadMoved",
            14 => "ClosedUnmerged",
            15 => "NotMergeable",
            _ => "NotMerged",
        })
    }

    /// True when the token was refused, or withheld from another origin (exit code 3, not 6).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Error::Auth { .. } | Error::Redirected { .. } | Error::Misdirected { .. }
        )
    }
}
