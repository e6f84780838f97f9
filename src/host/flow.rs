//! The pull request flow, the same on every host: find the open request for head -> base,
//! create it if there is none, else update it; then make sure it carries the labels and
//! reviewers asked for. Each host implements [`Host`].

use super::error::Error;
use crate::plan::names::RepoSlug;

/// An open pull (or merge) request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
    /// GitHub's GraphQL id of the request (auto-merge is a GraphQL mutation); empty elsewhere.
    #[serde(skip)]
    pub node_id: String,
}

impl From<Pr> for PullRequest {
    fn from(p: Pr) -> PullRequest {
        PullRequest {
            number: p.number,
            url: p.url,
            node_id: p.node_id,
        }
    }
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

impl Action {
    /// For the summary line: `PR #12 (updated)`.
    pub fn words(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
            Action::WouldCreate => "would be created",
            Action::WouldKeep => "would be kept",
        }
    }
}

/// The request to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// The repo the branch was pushed to (a fork, or the target itself).
    pub source: RepoSlug,
    /// The repo the request is opened on.
    pub target: RepoSlug,
    /// The pushed branch.
    pub branch: String,
    /// The branch it merges into.
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    /// Open it as a draft (GitHub's draft flag; GitLab's `Draft:` and Gitea's `WIP:` title).
    pub draft: bool,
}

/// `refs/heads/{branch}`: the full ref, as Azure DevOps and Bitbucket Data Center name branches.
pub fn full_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

impl Request {
    /// True when the branch lives in another repo than the one the request is opened on.
    pub fn is_fork(&self) -> bool {
        self.source != self.target
    }
}

/// What the flow learned about one request on the host.
#[derive(Debug, Clone, Default)]
pub struct Pr {
    pub number: u64,
    pub url: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    /// GitLab only: the reviewers' user ids (its API sets reviewers by id).
    pub reviewer_ids: Vec<u64>,
    /// GitHub only: the GraphQL id.
    pub node_id: String,
}

/// The outcome of [`Provider::open_pull_request`].
#[derive(Debug, Clone)]
pub struct Opened {
    pub pr: Option<PullRequest>,
    pub action: Action,
    /// Labels or reviewers that could not be added: reported, never a failed run.
    pub warnings: Vec<String>,
}

/// A host's answer, boxed: the flow below is one function for every host, where a generic
/// flow was one copy per host (tens of KB of the 6 MB static binary).
pub(crate) type Answer<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Error>> + Send + 'a>>;

/// One host's API, as the shared flow needs it.
pub(crate) trait Host: Sync {
    /// The open request for `req`'s branch into its base, if any.
    fn find<'a>(&'a self, req: &'a Request) -> Answer<'a, Option<Pr>>;
    /// One create, never retried here: a lost answer must be looked up, not sent again.
    fn create<'a>(&'a self, req: &'a Request) -> Answer<'a, Pr>;
    /// Sets the title and body of an existing request.
    fn update<'a>(&'a self, pr: &'a Pr, title: &'a str, req: &'a Request) -> Answer<'a, ()>;
    /// True for the host's "a request for this branch already exists" answer.
    fn is_duplicate(&self, e: &Error) -> bool;
    /// False where `is_duplicate` is a guess (the host documents no such answer): when the
    /// request is not found after it, the host's own error is the one to report.
    fn duplicate_is_certain(&self) -> bool {
        true
    }
    /// Adds labels (those missing only).
    fn add_labels<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        labels: &'a [String],
    ) -> Answer<'a, ()>;
    /// Asks for reviews (those not asked yet only).
    fn add_reviewers<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        reviewers: &'a [String],
    ) -> Answer<'a, ()>;
    /// The prefix this host's titles use for drafts, if it marks drafts in the title.
    fn draft_prefix(&self) -> Option<&'static str> {
        None
    }
}

/// The title an existing request should have: the wanted one, keeping a draft prefix the
/// request has (a person may have removed it on purpose; it is never added back).
fn wanted_title(h: &dyn Host, pr: &Pr, req: &Request) -> String {
    match h.draft_prefix() {
        Some(p) if pr.title.starts_with(p) => format!("{p}{}", req.title),
        _ => req.title.clone(),
    }
}

/// Find, create or update, then labels and reviewers: the same on every host.
/// `found`: the open request for the branch, when it was looked up already (beside the git
/// work, which does not change it); else it is looked up now.
pub(crate) async fn open(
    h: &dyn Host,
    req: &Request,
    dry_run: bool,
    found: Option<Result<Option<Pr>, Error>>,
) -> Result<Opened, Error> {
    let existing = match found {
        Some(f) => f?,
        None => h.find(req).await?,
    };
    if dry_run {
        return Ok(match existing {
            Some(p) => Opened {
                pr: Some(p.into()),
                action: Action::WouldKeep,
                warnings: vec![],
            },
            None => Opened {
                pr: None,
                action: Action::WouldCreate,
                warnings: vec![],
            },
        });
    }
    let (pr, action) = match existing {
        Some(p) => {
            let action = update_if_needed(h, &p, req).await?;
            (p, action)
        }
        None => create(h, req).await?,
    };
    let mut warnings = vec![];
    let missing = |want: &[String], have: &[String]| -> Vec<String> {
        want.iter()
            .filter(|w| !have.iter().any(|h| h.eq_ignore_ascii_case(w)))
            .cloned()
            .collect()
    };
    let labels = missing(&req.labels, &pr.labels);
    if !labels.is_empty()
        && let Err(e) = h.add_labels(req, &pr, &labels).await
    {
        tracing::warn!(error = %e, labels = ?labels, "could not add the labels");
        warnings.push(format!("labels {labels:?} not added: {e}"));
    }
    let reviewers = missing(&req.reviewers, &pr.reviewers);
    if !reviewers.is_empty()
        && let Err(e) = h.add_reviewers(req, &pr, &reviewers).await
    {
        tracing::warn!(error = %e, reviewers = ?reviewers, "could not request the reviews");
        warnings.push(format!("reviewers {reviewers:?} not requested: {e}"));
    }
    Ok(Opened {
        pr: Some(pr.into()),
        action,
        warnings,
    })
}

async fn update_if_needed(h: &dyn Host, p: &Pr, req: &Request) -> Result<Action, Error> {
    let title = wanted_title(h, p, req);
    if p.title == title && p.body == req.body {
        return Ok(Action::Unchanged);
    }
    h.update(p, &title, req).await?;
    Ok(Action::Updated)
}

/// Creates the request. A create is never blindly repeated: when its answer is lost (or the
/// host says one already exists, because another run won the race), the request is looked
/// up; only when it is really absent is the create sent again, after a pause.
async fn create(h: &dyn Host, req: &Request) -> Result<(Pr, Action), Error> {
    let mut attempt = 0;
    loop {
        let e = match h.create(req).await {
            Ok(p) => return Ok((p, Action::Created)),
            Err(e) if h.is_duplicate(&e) || e.is_transient() => e,
            Err(e) => return Err(e),
        };
        tracing::info!(error = %e, "create did not answer cleanly; looking the request up again");
        if let Some(p) = h.find(req).await? {
            let action = update_if_needed(h, &p, req).await?;
            return Ok((p, action));
        }
        attempt += 1;
        if !e.is_transient() && !h.duplicate_is_certain() {
            return Err(e);
        }
        if !e.is_transient() {
            return Err(Error::Vanished {
                head: req.branch.clone(),
                base: req.base.clone(),
            });
        }
        if attempt >= crate::retry::ATTEMPTS {
            return Err(e);
        }
        tokio::time::sleep(
            e.retry_after()
                .unwrap_or_else(|| crate::retry::backoff_delay(attempt)),
        )
        .await;
    }
}
