//! The commit: its message and author.

use super::{args::Args, check::Check, defaults};

/// The commit part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub message: String,
    pub author_name: String,
    pub author_email: String,
}

/// GITOPS_COMMIT_MESSAGE, GITOPS_AUTHOR_NAME, GITOPS_AUTHOR_EMAIL. `starts`: the version a
/// start renders (its commit says it).
pub(super) fn validate(c: &mut Check, a: &Args, starts: Option<&str>) -> Commit {
    let message = c
        .value("GITOPS_COMMIT_MESSAGE", &a.commit_message)
        .unwrap_or_else(|| match starts {
            // The tutorial's CI commit, with the version it starts.
            Some(version) => format!("iter8 experiment: version {version}"),
            None => defaults::COMMIT_MESSAGE.into(),
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

    #[test]
    fn the_message_follows_the_task_and_the_author_must_fit_a_signature() {
        // (inputs, the version a start renders, the message or the inputs with problems)
        type Row<'a> = (Args, Option<&'a str>, Result<&'a str, &'a [&'a str]>);
        let table: &[Row] = &[
            (Args::default(), None, Ok("update baseline")),
            (
                Args::default(),
                Some("abc123"),
                Ok("iter8 experiment: version abc123"),
            ),
            (
                Args {
                    author_name: Some("Eve <eve@x>".into()),
                    author_email: Some("not-an-email".into()),
                    ..Args::default()
                },
                None,
                Err(&["GITOPS_AUTHOR_NAME", "GITOPS_AUTHOR_EMAIL"]),
            ),
        ];
        for (a, starts, want) in table {
            let mut c = Check { problems: vec![] };
            let commit = validate(&mut c, a, *starts);
            let got: Vec<_> = c.problems.iter().map(|p| p.input.as_str()).collect();
            match want {
                Ok(message) => assert_eq!((commit.message.as_str(), got.len()), (*message, 0)),
                Err(inputs) => assert_eq!(got, *inputs),
            }
        }
    }
}
