//! The Git host's API: its kind (GITOPS_PROVIDER) and URL (GITOPS_API_URL), each worked out
//! from the other or from the repo's host when not given.

use super::{args::Args, check::Check, task::Mode};
use crate::{
    host::Kind,
    plan::names::{RepoLocation, RepoSlug},
    trust::redact,
};

/// The host API pull requests are opened through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub url: url::Url,
    pub kind: Kind,
}

/// Works out the host API and its kind: GITOPS_PROVIDER, else what GITOPS_API_URL's path or
/// host says, else the repo's host (github.com, `*.ghe.com`, gitlab.com). A pull request on a
/// host that says nothing needs GITOPS_PROVIDER. `None`: no API (a local repo, or push mode
/// on an unknown host), or a problem was reported.
pub(super) fn resolve(
    c: &mut Check,
    a: &Args,
    repo: Option<&RepoLocation>,
    pr_repo: Option<&RepoSlug>,
    mode: Mode,
) -> Option<Api> {
    let explicit = provider(c, a).ok()?;
    let api_url = api_url(c, a).ok()?;
    let repo_url = match repo {
        Some(RepoLocation::Https(u)) => Some(u),
        _ => None,
    };
    let kind = explicit
        .or_else(|| api_url.as_ref().and_then(|u| Kind::from_api_path(u.path())))
        .or_else(|| {
            api_url
                .as_ref()
                .and_then(|u| u.host_str().and_then(Kind::from_host))
        })
        .or_else(|| repo_url.and_then(|u| u.host_str().and_then(Kind::from_host)));
    let Some(url) = api_url.or_else(|| Some(kind?.default_api(repo_url?))) else {
        // No API: a local repo (no PR), or push mode (no PR needed). A PR on an https repo
        // of an unknown host cannot be opened without knowing what the host speaks.
        if let (Some(u), Mode::PullRequest) = (repo_url, mode) {
            c.bad(
                "GITOPS_PROVIDER",
                format!(
                    "is required: {} is not {}; set {}",
                    u.host_str().unwrap_or("the host"),
                    Kind::KNOWN_HOSTS,
                    Kind::CHOICES
                ),
            );
        }
        return None;
    };
    let Some(kind) = kind else {
        c.bad(
            "GITOPS_PROVIDER",
            format!(
                "is required: nothing in GITOPS_API_URL {url} tells the kind of host; set {}",
                Kind::names_or()
            ),
        );
        return None;
    };
    check_repo_names(c, kind, repo, pr_repo);
    Some(Api {
        url: kind.api_base(url),
        kind,
    })
}

/// GITOPS_PROVIDER; `Err` when it is set to something unknown (reported).
fn provider(c: &mut Check, a: &Args) -> Result<Option<Kind>, ()> {
    let Some(v) = c.value("GITOPS_PROVIDER", &a.provider) else {
        return Ok(None);
    };
    match Kind::parse(&v) {
        Some(k) => Ok(Some(k)),
        None => {
            c.bad("GITOPS_PROVIDER", format!("{v:?} is not {}", Kind::NAMED));
            Err(())
        }
    }
}

/// GITOPS_API_URL; `Err` when it is set and not a plain https URL (reported).
fn api_url(c: &mut Check, a: &Args) -> Result<Option<url::Url>, ()> {
    let Some(v) = c.value("GITOPS_API_URL", &a.api_url) else {
        return Ok(None);
    };
    // NB: printed without userinfo and query, where a pasted token would be.
    match url::Url::parse(&v) {
        Ok(u)
            if u.scheme() == "https"
                && u.has_host()
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none() =>
        {
            Ok(Some(u))
        }
        Ok(_) => {
            c.bad(
                "GITOPS_API_URL",
                format!(
                    "{:?} must be an https:// URL without credentials or query (the API token is only sent over HTTPS)",
                    redact::url(&v)
                ),
            );
            Err(())
        }
        Err(e) => {
            c.bad(
                "GITOPS_API_URL",
                format!("{:?} is not a URL ({e})", redact::url(&v)),
            );
            Err(())
        }
    }
}

/// The request needs to know which repo it is opened on, named as its host names repos.
fn check_repo_names(
    c: &mut Check,
    kind: Kind,
    repo: Option<&RepoLocation>,
    pr_repo: Option<&RepoSlug>,
) {
    match repo {
        Some(r @ RepoLocation::Https(_)) if pr_repo.is_none() && r.slug().is_none() => c.bad(
            "GITOPS_PR_REPO",
            format!("is required: {r} does not end in /owner/repo(.git), so give owner/repo"),
        ),
        Some(RepoLocation::Local(_)) if pr_repo.is_none() => c.bad(
            "GITOPS_PR_REPO",
            "is required with GITOPS_API_URL when GITOPS_REPO is a local path",
        ),
        _ => {}
    }
    for (input, slug) in [
        ("GITOPS_PR_REPO", pr_repo.cloned()),
        ("GITOPS_REPO", repo.and_then(RepoLocation::slug)),
    ] {
        if let Some(problem) = slug.and_then(|s| kind.slug_problem(&s)) {
            c.bad(input, problem);
        }
    }
}
