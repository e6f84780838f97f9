//! Merging the pull request, the same on every host: read where it stands, refuse a head
//! that is not the commit the run pushed, then merge it now or turn on the host's own
//! auto-merge, and maybe wait until it is merged or closed. Each host implements [`Merges`];
//! every merge names the head it expects, so the host itself refuses a head that moved.

use std::time::{Duration, Instant};

use super::{
    error::Error,
    flow::{PullRequest, Request},
};

/// Whether the run merges the pull request (GITOPS_MERGE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// A person merges it (the run may still wait for that).
    #[default]
    None,
    /// The host's auto-merge: the host merges when its required checks and reviews pass.
    Auto,
    /// The run merges it as soon as the host says it can be merged.
    Now,
}

/// How the change lands on the base branch (GITOPS_MERGE_METHOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    #[default]
    Merge,
    Squash,
    Rebase,
}

impl Method {
    /// The lower-case name GitHub's REST API, Gitea and the report use.
    pub fn name(self) -> &'static str {
        match self {
            Method::Merge => "merge",
            Method::Squash => "squash",
            Method::Rebase => "rebase",
        }
    }
}

/// Where a request stands on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    Merged,
    Closed,
}

/// What the host says of a request now.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: State,
    /// The head commit the request would merge.
    pub head: String,
    /// The commit that put it on the base branch, once merged.
    pub merge_commit: Option<String>,
    /// True when the host's auto-merge is already on for it.
    pub auto_merge: bool,
}

/// What the run asks for.
#[derive(Debug, Clone)]
pub struct Ask {
    pub policy: Policy,
    pub method: Method,
    /// The head commit the run pushed (or found pushed): the only one it merges.
    pub head: String,
    /// How long to wait for the merge (already bounded by the run's deadline); zero: no wait.
    /// The merge commit's message is the host's own default.
    pub wait: Duration,
}

/// What turning on auto-merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auto {
    /// Auto-merge is on: the host merges when the checks pass.
    On,
    /// The request could be merged already, and was (the commit, when the host says it).
    Merged(Option<String>),
}

/// Where the merge step left the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Landing {
    /// On the base branch.
    Merged,
    /// Auto-merge is on and the run did not wait (or not long enough to see it merge).
    AutoMerge,
}

/// The merge step's result.
#[derive(Debug, Clone)]
pub struct Merged {
    pub landing: Landing,
    pub commit: Option<String>,
    /// True when auto-merge was already on before this run.
    pub kept: bool,
}

/// One host's merge API, as the shared flow needs it.
pub(crate) trait Merges: Sync {
    /// Where the request stands.
    fn status<'a>(&'a self, req: &'a Request, pr: &'a PullRequest) -> Answer<'a, Status>;
    /// Merges now if the head is still `ask.head`; the merge commit when the host says it.
    /// A host's refusals become [`Error::NotMergeable`], [`Error::NotAllowed`] and
    /// [`Error::HeadMoved`] (its `now` left empty: the flow reads it).
    fn merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> Answer<'a, Option<String>>;
    /// Turns on the host's auto-merge for `ask.head`.
    fn auto_merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> Answer<'a, Auto>;
}

/// A host's answer, boxed: one merge flow for every host (see `flow::Answer`).
pub(crate) type Answer<'a, T> = super::flow::Answer<'a, T>;

/// How long to pause before the `n`th look at a request: 0.5 s doubling to 4 s.
pub fn poll_delay(n: u32) -> Duration {
    Duration::from_millis(500 * (1 << n.min(3)))
}

/// Reads the request, merges it or turns on auto-merge as asked, and waits while asked.
pub(crate) async fn merge(
    h: &dyn Merges,
    req: &Request,
    pr: &PullRequest,
    ask: &Ask,
) -> Result<Merged, Error> {
    let until = Instant::now() + ask.wait;
    let mut status = h.status(req, pr).await?;
    let kept = status.auto_merge;
    let mut auto_on = status.auto_merge;
    let (mut polls, mut rereads) = (0, 0);
    loop {
        if let Some(done) = settled(&status, pr, ask, kept)? {
            return Ok(done);
        }
        let last = match act(h, req, pr, ask, &mut auto_on).await {
            Ok(Some(commit)) => return merged(h, req, pr, commit, kept).await,
            Ok(None) => format!("open at {}", short(&status.head)),
            Err(Error::NotMergeable { message, .. }) if !ask.wait.is_zero() => {
                format!("not mergeable: {message}")
            }
            // The host saw another head than ours, or its answer was lost: read where the
            // request is (the state decides the rest).
            Err(e) if rereads < crate::retry::ATTEMPTS && rereading(&e) => {
                rereads += 1;
                if e.is_transient() {
                    tokio::time::sleep(crate::retry::backoff_delay(rereads)).await;
                }
                status = h.status(req, pr).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if ask.wait.is_zero() {
            return Ok(Merged {
                landing: Landing::AutoMerge,
                commit: None,
                kept,
            });
        }
        let pause = poll_delay(polls);
        polls += 1;
        if Instant::now() + pause > until {
            return Err(Error::NotMerged {
                url: pr.url.clone(),
                waited: ask.wait,
                last,
            });
        }
        tokio::time::sleep(pause).await;
        status = h.status(req, pr).await?;
    }
}

/// A merge's answer that is judged by reading the request again: a moved head, or a fault
/// that may have lost the answer (a merge is never sent twice blindly).
fn rereading(e: &Error) -> bool {
    matches!(e, Error::HeadMoved { .. }) || e.is_transient()
}

/// The request's state decides the step: merged (done), closed, or a head that is not ours.
/// `Ok(None)`: still open at our head.
fn settled(
    status: &Status,
    pr: &PullRequest,
    ask: &Ask,
    kept: bool,
) -> Result<Option<Merged>, Error> {
    match status.state {
        State::Merged => Ok(Some(Merged {
            landing: Landing::Merged,
            commit: status.merge_commit.clone(),
            kept,
        })),
        State::Closed => Err(Error::Closed {
            url: pr.url.clone(),
        }),
        State::Open if !same_commit(&status.head, &ask.head) => Err(Error::HeadMoved {
            url: pr.url.clone(),
            expected: ask.head.clone(),
            now: status.head.clone(),
            by: None,
        }),
        State::Open => Ok(None),
    }
}

/// One move: merge now, or turn auto-merge on (once). `Some`: merged, with the commit when
/// the host said it.
async fn act(
    h: &dyn Merges,
    req: &Request,
    pr: &PullRequest,
    ask: &Ask,
    auto_on: &mut bool,
) -> Result<Option<Option<String>>, Error> {
    match ask.policy {
        Policy::Now => Ok(Some(h.merge(req, pr, ask).await?)),
        Policy::Auto if !*auto_on => match h.auto_merge(req, pr, ask).await? {
            Auto::Merged(c) => Ok(Some(c)),
            Auto::On => {
                *auto_on = true;
                tracing::info!(pr = %pr.url, method = ask.method.name(), "auto-merge is on: the host merges when its checks pass");
                Ok(None)
            }
        },
        Policy::Auto | Policy::None => Ok(None),
    }
}

/// Merged: the commit as the host said it, else as the request now records it.
async fn merged(
    h: &dyn Merges,
    req: &Request,
    pr: &PullRequest,
    commit: Option<String>,
    kept: bool,
) -> Result<Merged, Error> {
    let commit = match commit {
        Some(c) => Some(c),
        None => h.status(req, pr).await?.merge_commit,
    };
    Ok(Merged {
        landing: Landing::Merged,
        commit,
        kept,
    })
}

/// True when two commit ids name the same commit; a host may give an abbreviated one
/// (Bitbucket Cloud's 12 digits), which must still be an unambiguous prefix (7 or more).
pub fn same_commit(a: &str, b: &str) -> bool {
    let n = a.len().min(b.len());
    n >= 7 && a[..n].eq_ignore_ascii_case(&b[..n])
}

fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}

/// How the flow reads a host's refusal to merge.
#[derive(Debug, Clone, Copy)]
pub enum Reading {
    /// Not like this (a method or auto-merge the repository does not allow, no right to
    /// merge): the hint says what to change.
    NotAllowed(&'static str),
    /// Not now (checks, reviews, conflicts).
    NotMergeable,
    /// Not this head.
    Moved,
}

/// A host's refusal in the flow's terms, by the first row of `rules` that matches its
/// status and whose text its message contains ("" matches any); other errors pass through.
pub fn read_refusal(
    e: Error,
    pr: &PullRequest,
    ask: &Ask,
    rules: &[(u16, &str, Reading)],
) -> Error {
    // A 403 may be a refusal too (Bitbucket's "auto-merge is not enabled").
    let (Error::Status {
        status, message, ..
    }
    | Error::Auth {
        status, message, ..
    }) = &e
    else {
        return e;
    };
    let row = rules
        .iter()
        .find(|(s, text, _)| s == status && message.contains(text));
    match row.map(|r| r.2) {
        Some(Reading::NotAllowed(hint)) => not_allowed(pr, message.clone(), hint),
        Some(Reading::NotMergeable) => not_mergeable(pr, message.clone()),
        Some(Reading::Moved) => moved(pr, ask),
        None => e,
    }
}

/// A host's "not mergeable now" (checks, reviews, conflicts), in the flow's terms.
pub fn not_mergeable(pr: &PullRequest, message: String) -> Error {
    Error::NotMergeable {
        url: pr.url.clone(),
        message,
    }
}

/// A host's "not like this" (a method or auto-merge the repository does not allow, or no
/// right to merge), in the flow's terms.
pub fn not_allowed(pr: &PullRequest, message: String, hint: &'static str) -> Error {
    Error::NotAllowed {
        url: pr.url.clone(),
        message,
        hint,
    }
}

/// A host's "the head is not the one you named": the flow reads where it is now.
pub fn moved(pr: &PullRequest, ask: &Ask) -> Error {
    Error::HeadMoved {
        url: pr.url.clone(),
        expected: ask.head.clone(),
        now: String::new(),
        by: None,
    }
}
