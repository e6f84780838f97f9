//! The pull request: opened, or the open one kept up to date, on the host the operator
//! configured, with the API token bound to that host's origin.

use tracing::info;

use super::{context::Context, promote::Landed, report::Report};
use crate::{
    Error,
    config::{self, Config, Mode},
    host,
    plan::{edits, evidence::Evidence},
    trust::credential::{Credential, Token},
};

/// The PR's title and body, a promotion file's `${…}` references expanded.
pub struct Text {
    pub title: String,
    pub body: Option<String>,
}

impl Text {
    /// GITOPS_PR_TITLE and GITOPS_PR_BODY; a promotion file's may refer to the experiment.
    /// Without GITOPS_PR_TITLE, the title says a rollback.
    pub fn new(
        cfg: &Config,
        vars: &edits::Vars,
        evidence: Option<&Evidence>,
    ) -> Result<Text, Error> {
        if !matches!(cfg.job, config::Job::Edits(_)) {
            return Ok(Text {
                title: super::pr_body::title(cfg, evidence),
                body: cfg.pr.body.clone(),
            });
        }
        let expand = |what: &str, text: &str| {
            vars.expand(text).map_err(|reason| edits::Error {
                index: 0,
                label: what.into(),
                reason,
            })
        };
        Ok(Text {
            title: expand("pr.title", &cfg.pr.title)?,
            body: cfg
                .pr
                .body
                .as_deref()
                .map(|b| expand("pr.body", b))
                .transpose()?,
        })
    }
}

/// An open pull request, and the host and request it was opened with (for the merge).
pub struct Proposal {
    pub provider: host::Provider,
    pub req: host::Request,
    pub pr: host::PullRequest,
}

/// The host and the request for the PR branch, known before the git work: the lookup of an
/// open PR needs only the branch names, so it runs beside the push (its round trip to the
/// host, and its connection's set-up, off the run's path).
pub struct Target {
    provider: host::Provider,
    req: host::Request,
    kind: host::Kind,
}

/// Where the PR goes; `None` where none is opened (push mode, or no Git host API).
pub fn target(ctx: &Context, cfg: &Config, token: Option<&Token>) -> Result<Option<Target>, Error> {
    if cfg.mode == Mode::Push {
        return Ok(None);
    }
    let (Some(api), Some(target), Some(token)) = (&cfg.pr.api, cfg.pr_slug(), token) else {
        return Ok(None);
    };
    // The API token goes to the API's origin only (the operator's GITOPS_API_URL, or the one
    // derived from the repo's host); the host decides how it is sent.
    let bound = Credential::bind(token.clone(), &api.url)?;
    let provider = host::Provider::new(api.kind, ctx.http.clone(), &api.url, bound);
    let req = host::Request {
        // A local repo has no slug of its own: its branch is on the target.
        source: cfg.repo.location.slug().unwrap_or_else(|| target.clone()),
        target,
        branch: cfg.pr.branch.to_string(),
        base: cfg.repo.branch.to_string(),
        title: String::new(),
        body: String::new(),
        labels: cfg.pr.labels.clone(),
        reviewers: cfg.pr.reviewers.clone(),
        draft: cfg.pr.draft,
    };
    Ok(Some(Target {
        provider,
        req,
        kind: api.kind,
    }))
}

/// What the early lookup found (`None`: no lookup was made, there being no PR to open).
pub type Found = Option<Result<Option<host::flow::Pr>, host::Error>>;

/// Looks up the open PR for the branch, where one is to be opened.
pub async fn look_up(target: Option<&Target>) -> Found {
    let t = target?;
    Some(t.provider.find_pull_request(&t.req).await)
}

/// Opens or updates the PR for a change that was committed; push mode needs none. `found`:
/// what [`look_up`] found while the change was made.
#[tracing::instrument(target = "iter8_gitops::step", name = "pull_request", skip_all)]
pub async fn open(
    cfg: &Config,
    target: Option<Target>,
    found: Found,
    landed: &Landed,
    text: Text,
    report: &mut Report,
) -> Result<Option<Proposal>, Error> {
    if landed.commit.is_none() {
        return Ok(None);
    }
    let Some(Target {
        provider,
        mut req,
        kind,
    }) = target
    else {
        if cfg.mode == Mode::Push {
            info!(branch = %cfg.repo.branch, "push mode: the change is on the synced branch, no pull request");
        } else {
            info!(
                "no Git host API for this repo (a local path without GITOPS_API_URL): skipping the pull request"
            );
        }
        return Ok(None);
    };
    req.title = text.title;
    req.body = text.body.unwrap_or_else(|| {
        super::pr_body::pr_body(cfg, report, &landed.plan, kind.max_body_chars())
    });
    let opened = provider
        .open_pull_request(&req, cfg.output.dry_run, found)
        .await?;
    if let Some(pr) = &opened.pr {
        info!(pr.number = pr.number, pr.url = %pr.url, action = ?opened.action, "{}", kind.noun());
    }
    report.pr = opened.pr.clone();
    report.pr_action = Some(opened.action);
    report.warnings.extend(opened.warnings);
    Ok(opened.pr.map(|pr| Proposal { provider, req, pr }))
}
