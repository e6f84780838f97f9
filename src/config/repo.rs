//! The Env repo: where it is (GITOPS_REPO), the branch Argo CD syncs (GITOPS_BRANCH) and the
//! environment's folder in it (GITOPS_DIR).

use std::path::PathBuf;

use super::{args::Args, check::Check};
use crate::plan::names::{BranchName, RepoLocation, RepoPath};

/// The Env repo part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub location: RepoLocation,
    pub branch: BranchName,
    pub dir: RepoPath,
}

/// GITOPS_REPO, GITOPS_BRANCH, GITOPS_DIR.
pub(super) fn validate(c: &mut Check, a: &Args) -> Option<Repo> {
    let location = c
        .required(
            "GITOPS_REPO",
            &a.repo,
            "the Env repo clone URL (https://host/owner/repo.git) or a local bare repo path",
        )
        .and_then(|v| parse_repo(&v, c));
    let branch = c
        .required(
            "GITOPS_BRANCH",
            &a.branch,
            "the base branch Argo CD syncs from",
        )
        .and_then(|v| c.branch("GITOPS_BRANCH", &v));
    let dir = match c.value("GITOPS_DIR", &a.dir) {
        Some(v) if v == "." || v == "./" => Some(RepoPath::root()),
        Some(v) => c.path("GITOPS_DIR", v.trim_end_matches('/')),
        None => Some(RepoPath::root()),
    };
    Some(Repo {
        location: location?,
        branch: branch?,
        dir: dir?,
    })
}

pub(super) fn parse_repo(v: &str, c: &mut Check) -> Option<RepoLocation> {
    const INPUT: &str = "GITOPS_REPO";
    if let Some(rest) = v.strip_prefix("file://") {
        if rest.is_empty() || !rest.starts_with('/') {
            c.bad(
                INPUT,
                format!("{v:?}: a file:// URL needs an absolute path, like file:///srv/env.git"),
            );
            return None;
        }
        return Some(RepoLocation::Local(PathBuf::from(rest)));
    }
    if v.starts_with('/') || v.starts_with("./") || v.starts_with("../") {
        return Some(RepoLocation::Local(PathBuf::from(v)));
    }
    match url::Url::parse(v) {
        Ok(u) if u.scheme() == "http" => {
            // The token would cross the network in clear, and anyone on the path could
            // rewrite what Argo CD deploys.
            c.bad(
                INPUT,
                format!(
                    "{:?} is plain http; use the https:// clone URL (a local path needs no token)",
                    crate::trust::redact::url(v)
                ),
            );
            None
        }
        Ok(u) if u.scheme() == "https" => {
            if u.host_str().is_none_or(str::is_empty) {
                c.bad(INPUT, format!("{v:?} has no host"));
                return None;
            }
            if !u.username().is_empty() || u.password().is_some() {
                // Credentials in a URL end up in logs and process listings: that is the leak
                // this tool exists to remove.
                c.bad(INPUT, "contains credentials; remove them from the URL and use GITOPS_TOKEN or the token Secret");
                return None;
            }
            if u.query().is_some() || u.fragment().is_some() {
                // NB: the query is not echoed: it is where a pasted token would be.
                c.bad(
                    INPUT,
                    format!(
                        "{:?} has a query or fragment; give the plain clone URL",
                        crate::trust::redact::url(v)
                    ),
                );
                return None;
            }
            Some(RepoLocation::Https(u))
        }
        Ok(u) => {
            c.bad(INPUT, format!("{v:?}: scheme {:?} is not supported; use an https:// clone URL or a local path", u.scheme()));
            None
        }
        Err(_) if v.contains('@') && v.contains(':') => {
            c.bad(INPUT, format!("{v:?} looks like an ssh address; use the https:// clone URL (the token authenticates over HTTPS)"));
            None
        }
        Err(e) => {
            c.bad(
                INPUT,
                format!(
                    "{v:?} is not a URL ({e}); use an https:// clone URL or an absolute local path"
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `validate` says of GITOPS_REPO, GITOPS_BRANCH and GITOPS_DIR.
    fn check(repo: &str, branch: &str, dir: Option<&str>) -> (Option<Repo>, Vec<String>) {
        let a = Args {
            repo: Some(repo.into()),
            branch: Some(branch.into()),
            dir: dir.map(String::from),
            ..Args::default()
        };
        let mut c = Check { problems: vec![] };
        let r = validate(&mut c, &a);
        (r, c.problems.into_iter().map(|p| p.input).collect())
    }

    #[test]
    fn each_repo_input_is_checked_on_its_own() {
        let table: &[(&str, &str, Option<&str>, &[&str])] = &[
            ("https://github.com/acme/env.git", "main", None, &[]),
            ("/srv/env.git", "main", Some("./"), &[]),
            ("file:///srv/env.git", "main", Some("envs/prod/"), &[]),
            (
                "http://github.com/acme/env.git",
                "main",
                None,
                &["GITOPS_REPO"],
            ),
            (
                "https://me:tok@github.com/acme/env.git",
                "main",
                None,
                &["GITOPS_REPO"],
            ),
            (
                "git@github.com:acme/env.git",
                "main",
                None,
                &["GITOPS_REPO"],
            ),
            (
                "https://github.com/acme/env.git",
                "a..b",
                None,
                &["GITOPS_BRANCH"],
            ),
            (
                "https://github.com/acme/env.git",
                "main",
                Some("../up"),
                &["GITOPS_DIR"],
            ),
        ];
        for (repo, branch, dir, want) in table {
            let (r, got) = check(repo, branch, *dir);
            assert_eq!(got, *want, "{repo} {branch} {dir:?}");
            assert_eq!(r.is_some(), want.is_empty(), "{repo}");
        }
    }
}
