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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StartConfig;

    #[test]
    fn the_message_follows_the_task_and_the_author_must_fit_a_signature() {
        let start = Task::Start(StartConfig {
            version: "abc123".into(),
            templates: crate::plan::names::RepoPath::root(),
            set: vec![],
        });
        // (inputs, task, the message or the inputs with problems)
        type Row<'a> = (Args, &'a Task, Result<&'a str, &'a [&'a str]>);
        let table: &[Row] = &[
            (Args::default(), &Task::Finish, Ok("update baseline")),
            (
                Args::default(),
                &start,
                Ok("iter8 experiment: version abc123"),
            ),
            (
                Args {
                    author_name: Some("Eve <eve@x>".into()),
                    author_email: Some("not-an-email".into()),
                    ..Args::default()
                },
                &Task::Finish,
                Err(&["GITOPS_AUTHOR_NAME", "GITOPS_AUTHOR_EMAIL"]),
            ),
        ];
        for (a, task, want) in table {
            let mut c = Check { problems: vec![] };
            let commit = validate(&mut c, a, task);
            let got: Vec<_> = c.problems.iter().map(|p| p.input.as_str()).collect();
            match want {
                Ok(message) => assert_eq!((commit.message.as_str(), got.len()), (*message, 0)),
                Err(inputs) => assert_eq!(got, *inputs),
            }
        }
    }
}
