//! What a promotion file read from the Env repo may set beyond the operator's own values
//! (GITOPS_IN_REPO_ALLOW): the repo's contents are data, and authority stays with the operator.

use super::{args::Args, check::Check};

/// The target fields that widen authority: another repo or host, another token Secret, the
/// synced branch or a branch to overwrite, pushing without review, merging without a person.
pub const WIDENING: [&str; 9] = [
    "repo",
    "branch",
    "mode",
    "tokenSecret",
    "pr.apiUrl",
    "pr.provider",
    "pr.repo",
    "pr.branch",
    "pr.merge",
];

/// GITOPS_IN_REPO_ALLOW: `FIELD=VALUE` pairs an in-repo promotion file may set beyond the
/// operator's own values; a VALUE ending in `*` allows every value with that prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allow(Vec<(String, String)>);

impl Allow {
    /// Parses the comma-separated list.
    pub fn parse(v: &str) -> Result<Allow, String> {
        let mut out = vec![];
        for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match entry.split_once('=') {
                Some((f, val)) if WIDENING.contains(&f.trim()) && !val.trim().is_empty() => {
                    out.push((f.trim().to_string(), val.trim().to_string()));
                }
                _ => {
                    return Err(format!(
                        "{entry:?} is not FIELD=VALUE with FIELD one of {}",
                        WIDENING.join(", ")
                    ));
                }
            }
        }
        Ok(Allow(out))
    }

    pub fn permits(&self, field: &str, value: &str) -> bool {
        self.0.iter().any(|(f, v)| {
            f == field
                && match v.strip_suffix('*') {
                    Some(prefix) => value.starts_with(prefix),
                    None => v == value,
                }
        })
    }
}

/// GITOPS_IN_REPO_ALLOW: only with an in-repo promotion file (a target inherits it).
pub(super) fn validate(c: &mut Check, a: &Args, target: bool) -> Allow {
    match c.value("GITOPS_IN_REPO_ALLOW", &a.in_repo_allow) {
        Some(_) if a.config_in_repo.is_none() && !target => {
            c.bad(
                "GITOPS_IN_REPO_ALLOW",
                "is set without GITOPS_CONFIG_IN_REPO; it only widens what an in-repo promotion file may do",
            );
            Allow::default()
        }
        Some(v) => Allow::parse(&v).unwrap_or_else(|why| {
            c.bad("GITOPS_IN_REPO_ALLOW", why);
            Allow::default()
        }),
        None => Allow::default(),
    }
}
