//! The commit status, the same on every host: the run's verdict on the PR's head commit,
//! under one context, where branch protection and auto-merge can require it. Read first, so
//! a rerun on the same head sets nothing twice; each host implements [`Statuses`].

use super::{error::Error, flow::Request};

/// The longest description every host takes (GitHub's limit: 140 characters).
pub const MAX_DESCRIPTION: usize = 140;

/// What the run says of the head it pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The candidate was promoted (or the winner was given): the PR may be merged.
    Success,
    /// The run records a rollback: a rule requiring the context keeps the PR unmerged.
    Failure,
}

/// One status to set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitStatus {
    pub sha: String,
    pub context: String,
    pub state: State,
    /// The verdict line, cut to [`MAX_DESCRIPTION`].
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
}

impl CommitStatus {
    pub fn new(
        sha: &str,
        context: &str,
        state: State,
        line: &str,
        target_url: Option<String>,
    ) -> CommitStatus {
        let description = if line.chars().count() <= MAX_DESCRIPTION {
            line.to_string()
        } else {
            let cut: String = line.chars().take(MAX_DESCRIPTION - 1).collect();
            format!("{cut}…")
        };
        CommitStatus {
            sha: sha.into(),
            context: context.into(),
            state,
            description,
            target_url,
        }
    }
}

/// What [`set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Set,
    /// The head already carries this status (a rerun).
    Unchanged,
    /// Dry run: it would be set.
    WouldSet,
}

/// A host's answer, boxed: the flow below is one function for every host, not one copy per
/// host (the generic flows of `flow.rs` and `merge.rs` cost the static binary tens of KB each).
pub(crate) type Answer<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Error>> + Send + 'a>>;

/// One host's status API, as the shared flow needs it.
pub(crate) trait Statuses: Sync {
    /// The latest state and description under `context` on `sha`, if any.
    fn current<'a>(
        &'a self,
        req: &'a Request,
        sha: &'a str,
        context: &'a str,
    ) -> Answer<'a, Option<(State, String)>>;
    /// Sets `status` (a new one, or the same key updated in place, as the host does it).
    fn put<'a>(&'a self, req: &'a Request, status: &'a CommitStatus) -> Answer<'a, ()>;
}

/// Sets `status` unless the head already carries it; with `dry_run`, only looks.
pub(crate) async fn set(
    h: &dyn Statuses,
    req: &Request,
    status: &CommitStatus,
    dry_run: bool,
    fresh: bool,
) -> Result<Action, Error> {
    // A commit this run has just pushed carries no status of ours yet: no need to look (one
    // round trip to the host fewer).
    if fresh && !dry_run {
        h.put(req, status).await?;
        return Ok(Action::Set);
    }
    let now = h.current(req, &status.sha, &status.context).await?;
    if now.as_ref() == Some(&(status.state, status.description.clone())) {
        return Ok(Action::Unchanged);
    }
    if dry_run {
        return Ok(Action::WouldSet);
    }
    h.put(req, status).await?;
    Ok(Action::Set)
}

/// `iter8` and the rest of a context: Azure DevOps' genre and name.
pub fn genre_and_name(context: &str) -> (&str, &str) {
    match context.split_once('/') {
        Some((genre, name)) if !genre.is_empty() && !name.is_empty() => (genre, name),
        _ => ("", context),
    }
}
