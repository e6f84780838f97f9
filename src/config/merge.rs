//! Whether the pull request is merged, how, and how long the run waits for the merge.

use std::time::Duration;

use super::{args::Args, check::Check, task::Mode};
use crate::host::{
    Kind,
    merge::{Method, Policy},
};

/// The merge part of the pull request's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Merge {
    pub policy: Policy,
    pub method: Method,
    /// Zero: do not wait.
    pub wait: Duration,
}

impl Merge {
    /// True when the run does anything about the merge (merges, or waits for a person to).
    pub fn is_asked(&self) -> bool {
        self.policy != Policy::None || !self.wait.is_zero()
    }
}

/// GITOPS_MERGE's values (the schema's `enum`; a test holds the validator to them).
pub(crate) const POLICIES: [&str; 3] = ["none", "auto", "now"];
/// GITOPS_MERGE_METHOD's values.
pub(crate) const METHODS: [&str; 3] = ["merge", "squash", "rebase"];

/// GITOPS_MERGE, GITOPS_MERGE_METHOD and GITOPS_MERGE_WAIT, for PRs on a host of `kind`
/// (`None`: no host API, so nothing to merge through).
pub(super) fn validate(c: &mut Check, a: &Args, mode: Mode, kind: Option<Kind>) -> Merge {
    let policy = match c.value("GITOPS_MERGE", &a.merge).as_deref() {
        None | Some("none") => Policy::None,
        Some("auto") => Policy::Auto,
        Some("now") => Policy::Now,
        Some(other) => {
            c.bad(
                "GITOPS_MERGE",
                format!("{other:?} is not none, auto or now"),
            );
            Policy::None
        }
    };
    let method = match c.value("GITOPS_MERGE_METHOD", &a.merge_method).as_deref() {
        None | Some("merge") => Method::Merge,
        Some("squash") => Method::Squash,
        Some("rebase") => Method::Rebase,
        Some(other) => {
            c.bad(
                "GITOPS_MERGE_METHOD",
                format!("{other:?} is not merge, squash or rebase"),
            );
            Method::Merge
        }
    };
    // 0 says "do not wait" (every other duration must be positive).
    let wait = match a.merge_wait.as_deref().map(str::trim) {
        Some("0" | "0s" | "0m") => Duration::ZERO,
        _ => c.duration(
            "GITOPS_MERGE_WAIT",
            &a.merge_wait,
            Duration::ZERO,
            "(600) or a unit (90s, 10m); 0 does not wait",
        ),
    };
    let merge = Merge {
        policy,
        method,
        wait,
    };
    fits(c, &merge, mode, kind);
    merge
}

/// A merge needs a pull request on a host that can do it that way.
fn fits(c: &mut Check, m: &Merge, mode: Mode, kind: Option<Kind>) {
    if !m.is_asked() {
        return;
    }
    let input = if m.policy != Policy::None {
        "GITOPS_MERGE"
    } else {
        "GITOPS_MERGE_WAIT"
    };
    if mode == Mode::Push {
        c.bad(
            input,
            "has nothing to merge in push mode (GITOPS_MODE=push commits onto GITOPS_BRANCH itself); unset it or use GITOPS_MODE=pr",
        );
    } else if kind.is_none() {
        c.bad(
            input,
            "needs a Git host API to merge through (a local repo has none); set GITOPS_API_URL or unset it",
        );
    } else if let Some((input, why)) = kind.and_then(|k| k.merge_refusal(m.policy, m.method)) {
        c.bad(input, why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_merge_is_checked_against_the_mode_and_the_host() {
        let args = |m: &str, method: &str, wait: &str| Args {
            merge: Some(m.into()),
            merge_method: Some(method.into()),
            merge_wait: Some(wait.into()),
            ..Args::default()
        };
        let gh = Some(Kind::GitHub);
        let table: &[(Args, Mode, Option<Kind>, &[&str])] = &[
            (Args::default(), Mode::Push, None, &[]),
            (args("auto", "squash", "10m"), Mode::PullRequest, gh, &[]),
            (args("now", "rebase", "0"), Mode::PullRequest, gh, &[]),
            // Waiting for a person to merge needs a host to ask.
            (
                args("none", "merge", "5m"),
                Mode::PullRequest,
                None,
                &["GITOPS_MERGE_WAIT"],
            ),
            (
                args("auto", "merge", "0"),
                Mode::Push,
                gh,
                &["GITOPS_MERGE"],
            ),
            (
                args("now", "rebase", "0"),
                Mode::PullRequest,
                Some(Kind::GitLab),
                &["GITOPS_MERGE_METHOD"],
            ),
            (
                args("always", "fast", "soon"),
                Mode::PullRequest,
                gh,
                &["GITOPS_MERGE", "GITOPS_MERGE_METHOD", "GITOPS_MERGE_WAIT"],
            ),
        ];
        for (a, mode, kind, want) in table {
            let mut c = Check { problems: vec![] };
            validate(&mut c, a, *mode, *kind);
            let got: Vec<_> = c.problems.iter().map(|p| p.input.as_str()).collect();
            assert_eq!(got, *want, "{a:?} {mode:?} {kind:?}");
        }
        let mut c = Check { problems: vec![] };
        let m = validate(
            &mut c,
            &args("auto", "squash", "90s"),
            Mode::PullRequest,
            gh,
        );
        assert_eq!(
            (m.policy, m.method, m.wait),
            (Policy::Auto, Method::Squash, Duration::from_secs(90))
        );
    }
}
