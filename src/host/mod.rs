//! Pull requests on the Git host. One implementation per host kind (GitHub and GitHub
//! Enterprise Server, GitLab, Gitea and Forgejo); the promotion flow is the same for all:
//! find the open request for head -> base, create it if there is none, else update it; then
//! make sure it carries the labels and reviewers asked for.

mod api;
pub mod gitea;
pub mod github;
pub mod github_app;
pub mod gitlab;

use std::time::Duration;

use api::{Api, Auth};

use crate::{plan::names::RepoSlug, trust::credential::Credential};

/// The kind of Git host, which decides the API spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    GitHub,
    GitLab,
    Gitea,
}

impl Kind {
    /// Parses GITOPS_PROVIDER.
    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "github" => Some(Kind::GitHub),
            "gitlab" => Some(Kind::GitLab),
            "gitea" | "forgejo" => Some(Kind::Gitea),
            _ => None,
        }
    }

    /// The kind a well-known host name implies: github.com and GitHub Enterprise Cloud's
    /// `*.ghe.com` (and their `api.` hosts), gitlab.com.
    pub fn from_host(host: &str) -> Option<Kind> {
        let host = host.to_ascii_lowercase();
        let host = host.strip_prefix("api.").unwrap_or(&host);
        if host == "github.com" || host.ends_with(".ghe.com") {
            Some(Kind::GitHub)
        } else if host == "gitlab.com" {
            Some(Kind::GitLab)
        } else {
            None
        }
    }

    /// The kind an API base URL's path implies: GitHub Enterprise Server's `/api/v3`,
    /// GitLab's `/api/v4`, Gitea's and Forgejo's `/api/v1`.
    pub fn from_api_path(path: &str) -> Option<Kind> {
        let path = path.trim_end_matches('/');
        if path.ends_with("/api/v3") {
            Some(Kind::GitHub)
        } else if path.ends_with("/api/v4") {
            Some(Kind::GitLab)
        } else if path.ends_with("/api/v1") {
            Some(Kind::Gitea)
        } else {
            None
        }
    }

    /// The API base for a repo on `origin` (`https://host[:port]`).
    pub fn default_api(self, origin: &url::Url) -> url::Url {
        let host = origin.host_str().unwrap_or_default().to_ascii_lowercase();
        let at = |path: &str| {
            let mut u = origin.clone();
            u.set_path(path);
            u.set_query(None);
            u.set_fragment(None);
            u
        };
        match self {
            Kind::GitHub if host == "github.com" => {
                url::Url::parse("https://api.github.com").expect("constant URL")
            }
            Kind::GitHub if host.ends_with(".ghe.com") => {
                let mut u = at("/");
                let _ = u.set_host(Some(&format!("api.{host}")));
                u
            }
            Kind::GitHub => at("/api/v3"),
            Kind::GitLab => at("/api/v4"),
            Kind::Gitea => at("/api/v1"),
        }
    }

    /// What the host calls the request, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::GitLab => "merge request",
            _ => "pull request",
        }
    }
}

/// An open pull (or merge) request.
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
}

/// The outcome of [`Provider::open_pull_request`].
#[derive(Debug, Clone)]
pub struct Opened {
    pub pr: Option<PullRequest>,
    pub action: Action,
    /// Labels or reviewers that could not be added: reported, never a failed run.
    pub warnings: Vec<String>,
}

/// One host's API, as the shared flow needs it.
pub(crate) trait Host {
    /// The open request for `req`'s branch into its base, if any.
    async fn find(&self, req: &Request) -> Result<Option<Pr>, Error>;
    /// One create, never retried here: a lost answer must be looked up, not sent again.
    async fn create(&self, req: &Request) -> Result<Pr, Error>;
    /// Sets the title and body of an existing request.
    async fn update(&self, pr: &Pr, title: &str, req: &Request) -> Result<(), Error>;
    /// True for the host's "a request for this branch already exists" answer.
    fn is_duplicate(&self, e: &Error) -> bool;
    /// Adds labels (those missing only).
    async fn add_labels(&self, req: &Request, pr: &Pr, labels: &[String]) -> Result<(), Error>;
    /// Asks for reviews (those not asked yet only).
    async fn add_reviewers(
        &self,
        req: &Request,
        pr: &Pr,
        reviewers: &[String],
    ) -> Result<(), Error>;
    /// The prefix this host's titles use for drafts, if it marks drafts in the title.
    fn draft_prefix(&self) -> Option<&'static str> {
        None
    }
}

/// The title an existing request should have: the wanted one, keeping a draft prefix the
/// request has (a person may have removed it on purpose; it is never added back).
fn wanted_title<H: Host>(h: &H, pr: &Pr, req: &Request) -> String {
    match h.draft_prefix() {
        Some(p) if pr.title.starts_with(p) => format!("{p}{}", req.title),
        _ => req.title.clone(),
    }
}

/// Find, create or update, then labels and reviewers: the same on every host.
async fn open<H: Host>(h: &H, req: &Request, dry_run: bool) -> Result<Opened, Error> {
    let existing = h.find(req).await?;
    if dry_run {
        return Ok(match existing {
            Some(p) => Opened {
                pr: Some(PullRequest {
                    number: p.number,
                    url: p.url,
                }),
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
        pr: Some(PullRequest {
            number: pr.number,
            url: pr.url,
        }),
        action,
        warnings,
    })
}

async fn update_if_needed<H: Host>(h: &H, p: &Pr, req: &Request) -> Result<Action, Error> {
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
async fn create<H: Host>(h: &H, req: &Request) -> Result<(Pr, Action), Error> {
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

/// A Git host's request API.
pub enum Provider {
    GitHub(github::GitHub),
    GitLab(gitlab::GitLab),
    Gitea(gitea::Gitea),
}

impl Provider {
    /// A client for `kind` at `base`, sending `token` the way that host wants it.
    pub fn new(kind: Kind, http: reqwest::Client, base: &url::Url, token: Credential) -> Provider {
        match kind {
            Kind::GitHub => Provider::GitHub(github::GitHub::new(http, base, token)),
            Kind::GitLab => Provider::GitLab(gitlab::GitLab::new(http, base, token)),
            Kind::Gitea => Provider::Gitea(gitea::Gitea::new(http, base, token)),
        }
    }

    /// Finds the open request for `req`; creates it if there is none, else updates its text;
    /// adds missing labels and reviewers. With `dry_run`, only looks.
    pub async fn open_pull_request(&self, req: &Request, dry_run: bool) -> Result<Opened, Error> {
        match self {
            Provider::GitHub(h) => open(h, req, dry_run).await,
            Provider::GitLab(h) => open(h, req, dry_run).await,
            Provider::Gitea(h) => open(h, req, dry_run).await,
        }
    }
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
