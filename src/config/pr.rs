//! The pull request: its head branch, the repo it is opened on, its text and extras, its
//! merge, and the host API it goes through.

use super::{
    api::{self, Api},
    args::Args,
    check::Check,
    defaults,
    merge::{self, Merge},
    repo::Repo,
    task::Mode,
};
use crate::plan::names::{BranchName, RepoSlug};

/// The pull request part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pr {
    /// The head branch the change waits on for review (GITOPS_PR_BRANCH).
    pub branch: BranchName,
    /// The repo the PR is opened on, when not the Env repo itself (a fork's upstream).
    pub repo: Option<RepoSlug>,
    pub title: String,
    /// True when the operator set GITOPS_PR_TITLE: the generated title (which says a
    /// rollback) gives way to it.
    pub title_given: bool,
    pub body: Option<String>,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    pub draft: bool,
    /// The commit status set on the PR's head (`None`: GITOPS_STATUS=false).
    pub status: Option<Status>,
    /// Whether and how the PR is merged, and the wait for it.
    pub merge: Merge,
    /// `None`: no pull request (a local repo without an API URL, or push mode on a host
    /// that is not known).
    pub api: Option<Api>,
}

/// The commit status the run sets on the PR's head: the verdict where a branch rule can
/// require it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// GITOPS_STATUS_CONTEXT; `None`: `iter8/<experiment>` (known once the run reads it).
    pub context: Option<String>,
    /// GITOPS_STATUS_URL.
    pub target_url: Option<url::Url>,
    /// GITOPS_STATUS_REQUIRED: a status that cannot be set fails the run.
    pub required: bool,
}

/// GITOPS_STATUS, GITOPS_STATUS_CONTEXT, GITOPS_STATUS_URL, GITOPS_STATUS_REQUIRED.
fn status(c: &mut Check, a: &Args) -> Option<Status> {
    let on = a.status.is_none() || c.flag("GITOPS_STATUS", &a.status);
    let context = c.value("GITOPS_STATUS_CONTEXT", &a.status_context);
    if let Some(ctx) = &context
        && (ctx.chars().count() > 255 || ctx.chars().any(char::is_control))
    {
        c.bad(
            "GITOPS_STATUS_CONTEXT",
            "is over 255 characters or has control characters; hosts refuse such a context",
        );
    }
    let target_url =
        c.value("GITOPS_STATUS_URL", &a.status_url)
            .and_then(|u| match url::Url::parse(&u) {
                Ok(url) if matches!(url.scheme(), "https" | "http") => Some(url),
                _ => {
                    c.bad(
                        "GITOPS_STATUS_URL",
                        format!(
                            "{u:?} is not an http(s) URL; give the link a reviewer should open"
                        ),
                    );
                    None
                }
            });
    let required = c.flag("GITOPS_STATUS_REQUIRED", &a.status_required);
    on.then_some(Status {
        context,
        target_url,
        required,
    })
}

/// GITOPS_PR_*, GITOPS_PROVIDER and GITOPS_API_URL.
pub(super) fn validate(c: &mut Check, a: &Args, repo: Option<&Repo>, mode: Mode) -> Option<Pr> {
    let pr_repo = c
        .value("GITOPS_PR_REPO", &a.pr_repo)
        .and_then(|v| match RepoSlug::parse(&v) {
            Ok(s) => Some(s),
            Err(e) => {
                c.bad("GITOPS_PR_REPO", format!("{v:?}: {e}"));
                None
            }
        });
    let branch = c
        .value("GITOPS_PR_BRANCH", &a.pr_branch)
        .unwrap_or_else(|| defaults::PR_BRANCH.into());
    let branch = c.branch("GITOPS_PR_BRANCH", &branch);
    // The PR branch is where the change waits for review: the synced branch itself
    // would be a push without review under another name.
    if let (Some(r), Some(pb), Mode::PullRequest) = (repo, &branch, mode)
        && r.branch == *pb
    {
        c.bad(
            "GITOPS_PR_BRANCH",
            format!("is GITOPS_BRANCH ({b}); a pull request needs its own head branch (or set GITOPS_MODE=push to commit onto {b})", b = r.branch),
        );
    }
    let api = api::resolve(c, a, repo.map(|r| &r.location), pr_repo.as_ref(), mode);
    let (labels, reviewers) = extras(c, a);
    let merge = merge::validate(c, a, mode, api.as_ref().map(|a| a.kind));
    Some(Pr {
        branch: branch?,
        repo: pr_repo,
        title_given: a.pr_title.as_deref().is_some_and(|t| !t.trim().is_empty()),
        title: c
            .value("GITOPS_PR_TITLE", &a.pr_title)
            .unwrap_or_else(|| defaults::PR_TITLE.into()),
        body: a.pr_body.clone().filter(|b| !b.trim().is_empty()),
        labels,
        reviewers,
        draft: c.flag("GITOPS_PR_DRAFT", &a.pr_draft),
        status: status(c, a),
        merge,
        api,
    })
}

/// GITOPS_PR_LABELS and GITOPS_PR_REVIEWERS.
fn extras(c: &mut Check, a: &Args) -> (Vec<String>, Vec<String>) {
    let labels = c.list("GITOPS_PR_LABELS", &a.pr_labels);
    if labels
        .iter()
        .any(|l| l.len() > 255 || l.chars().any(char::is_control))
    {
        c.bad(
            "GITOPS_PR_LABELS",
            "holds a label that is over 255 characters or has control characters",
        );
    }
    let reviewers = c.list("GITOPS_PR_REVIEWERS", &a.pr_reviewers);
    if let Some(r) = reviewers.iter().find(|r| {
        !r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./{}:".contains(&b))
    }) {
        c.bad(
            "GITOPS_PR_REVIEWERS",
            format!("{r:?} is not a user name (or org/team on GitHub, an identity id on Azure DevOps, a {{uuid}} or account id on Bitbucket Cloud)"),
        );
    }
    (labels, reviewers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::names::{RepoLocation, RepoPath};

    #[test]
    fn the_pr_branch_labels_and_reviewers_are_checked_against_the_repo_and_mode() {
        let repo = Repo {
            location: RepoLocation::Https("https://github.com/acme/env.git".parse().unwrap()),
            branch: BranchName::parse("main").unwrap(),
            dir: RepoPath::root(),
        };
        let table: &[(Args, Mode, &[&str])] = &[
            (Args::default(), Mode::PullRequest, &[]),
            (
                Args {
                    pr_branch: Some("main".into()),
                    ..Args::default()
                },
                Mode::PullRequest,
                &["GITOPS_PR_BRANCH"],
            ),
            // Pushing onto the synced branch needs no head branch of its own.
            (
                Args {
                    pr_branch: Some("main".into()),
                    ..Args::default()
                },
                Mode::Push,
                &[],
            ),
            (
                Args {
                    pr_labels: Some(format!("ok,{}", "x".repeat(256))),
                    pr_reviewers: Some("alice,bob smith".into()),
                    pr_repo: Some("not a slug".into()),
                    ..Args::default()
                },
                Mode::PullRequest,
                &["GITOPS_PR_REPO", "GITOPS_PR_LABELS", "GITOPS_PR_REVIEWERS"],
            ),
        ];
        for (a, mode, want) in table {
            let mut c = Check { problems: vec![] };
            let pr = validate(&mut c, a, Some(&repo), *mode);
            let got: Vec<_> = c.problems.iter().map(|p| p.input.as_str()).collect();
            assert_eq!(got, *want, "{a:?} {mode:?}");
            if want.is_empty() {
                assert_eq!(pr.unwrap().api.unwrap().kind, crate::host::Kind::GitHub);
            }
        }
    }
}
