//! The commit: its message and author.

use super::{args::Args, check::Check, defaults, task::Task};

/// The commit part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub message: String,
    pub author_name: String,
    pub author_email: String,
}

/// GITOPS_COMMIT_MESSAGE, GITOPS_AUTHOR_NAME, GITOPS_AUTHOR_EMAIL.
pub(super) fn validate(c: &mut Check, a: &Args, task: &Task) -> Commit {
    let message = c
        .value("GITOPS_COMMIT_MESSAGE", &a.commit_message)
        .unwrap_or_else(|| match task {
            // The tutorial's CI commit, with the version it starts.
            Task::Start(s) => format!("iter8 experiment: version {}", s.version),
            Task::Finish => defaults::COMMIT_MESSAGE.into(),
        });
    let author_name = c
        .value("GITOPS_AUTHOR_NAME", &a.author_name)
        .unwrap_or_else(|| defaults::AUTHOR_NAME.into());
    if author_name.contains(['<', '>', '\n']) {
        c.bad(
            "GITOPS_AUTHOR_NAME",
            "contains '<', '>' or a newline, which a git signature cannot hold",
        );
    }
    let author_email = c
        .value("GITOPS_AUTHOR_EMAIL", &a.author_email)
        .unwrap_or_else(|| defaults::AUTHOR_EMAIL.into());
    if author_email.contains(['<', '>', '\n', ' ']) || !author_email.contains('@') {
        c.bad(
            "GITOPS_AUTHOR_EMAIL",
            format!("{author_email:?} is not an email address"),
        );
    }
    Commit {
        message,
        author_name,
        author_email,
    }
}
