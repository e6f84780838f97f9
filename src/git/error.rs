//! What went wrong with git, how the run treats it (stale, transient, auth), and the
//! message chains gix's errors are read through.

use std::path::PathBuf;

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
    #[error(
        "{url} sent an object of {size} bytes (a commit, a tree on the rules' paths or a file they read), over the {limit}-byte limit; it was refused from its header, unread. Make the Env repo's manifests smaller (a file is at most {file_limit} bytes)",
        file_limit = crate::limits::MAX_FILE_BYTES
    )]
    ObjectTooLarge { url: String, size: u64, limit: u64 },
}

/// gix asked for credentials for another origin than the bound one (after a redirect).
#[derive(Debug, thiserror::Error)]
#[error("credentials withheld from {asked}")]
pub(crate) struct Withheld {
    pub(super) asked: String,
    pub(super) bound: String,
}

impl Error {
    /// The error for a failed connection: a withheld credential, a rejected one, or `other`.
    pub(super) fn classify(
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
        if let Some(o) = super::gate::oversized(e) {
            return Error::ObjectTooLarge {
                url: url.to_string(),
                size: o.size,
                limit: o.limit,
            };
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

pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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

pub(super) fn boxed(
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
