//! The top-level error and the exit codes, a contract listed in docs/exit-codes.md.

use std::time::Duration;

/// Everything a run can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error("GITOPS_CA_FILE {path:?} cannot be read")]
    CaFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    CaBundle(#[from] crate::trust::http::BadCaBundle),
    #[error(transparent)]
    NotHttps(#[from] crate::trust::credential::NotHttps),
    #[error(transparent)]
    Secret(#[from] crate::kube::secret::Error),
    #[error(transparent)]
    Experiment(#[from] crate::kube::experiment::Error),
    #[error(transparent)]
    Workload(#[from] crate::kube::workload::Error),
    #[error(transparent)]
    Revert(#[from] crate::plan::revert::Error),
    #[error(transparent)]
    Holds(#[from] crate::kube::holds::Error),
    #[error(transparent)]
    Git(#[from] crate::git::Error),
    #[error(transparent)]
    Plan(#[from] crate::plan::Error),
    #[error(transparent)]
    Start(#[from] crate::plan::start::Error),
    #[error(transparent)]
    Edit(#[from] crate::plan::edits::Error),
    #[error("{failed} of {total} promotion targets failed: {}", .messages.join("; "))]
    Targets {
        failed: usize,
        total: usize,
        code: u8,
        messages: Vec<String>,
        /// Every target's result (the report's JSON), printed even though the run failed.
        report_json: String,
    },
    #[error(transparent)]
    Provider(#[from] crate::host::Error),
    /// Boxed: kube's errors are large, and every `Result` of the crate carries this one.
    #[error(transparent)]
    Apply(Box<crate::kube::apply::Error>),
    #[error(transparent)]
    Argo(#[from] crate::kube::argocd::Error),
    #[error(transparent)]
    App(#[from] crate::host::github_app::Error),
    #[error(
        "GITOPS_TOKEN or the token Secret is needed for {what}, but no namespace is known for the Secret; set GITOPS_NAMESPACE"
    )]
    NoNamespace { what: &'static str },
    #[error(
        "the branch {branch:?} kept moving: {attempts} attempts to push were refused; try again later"
    )]
    Contended { branch: String, attempts: usize },
    #[error("the commit signing key {what} {reason}")]
    SigningKey { what: String, reason: String },
    #[error("the run did not finish within GITOPS_TIMEOUT ({}s); nothing after the last finished step was done", .0.as_secs())]
    Deadline(Duration),
    #[error("internal error: {0}; please report it")]
    Internal(String),
}

impl From<crate::kube::apply::Error> for Error {
    fn from(e: crate::kube::apply::Error) -> Self {
        Error::Apply(Box::new(e))
    }
}

impl Error {
    /// The process exit code: see the table in docs/exit-codes.md.
    pub fn exit_code(&self) -> u8 {
        use crate::git::Error as G;
        // Whichever step first needed the cluster: no usable connection is a configuration
        // problem (2, not retried), not that step's failure.
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            if let Some(n) = c.downcast_ref::<crate::kube::cluster::NoCluster>() {
                if !matches!(n, crate::kube::cluster::NoCluster::Plugin(_)) {
                    return 2;
                }
            }
            cause = c.source();
        }
        match self {
            Error::Internal(_) => 1,
            Error::Config(_) | Error::CaFile { .. } | Error::CaBundle(_) | Error::NotHttps(_) => 2,
            Error::Secret(_)
            | Error::NoNamespace { .. }
            | Error::Git(G::Auth { .. } | G::Misdirected { .. }) => 3,
            Error::Provider(e) if e.is_auth() => 3,
            Error::Provider(e) if e.merge_code().is_some() => e.merge_code().unwrap_or(6),
            Error::App(e) => e.exit_code(),
            Error::SigningKey { .. } => 3,
            // Before the generic git arm: an object over the limit is the Env repo's content.
            Error::Git(G::ObjectTooLarge { .. }) => 5,
            Error::Git(_) | Error::Contended { .. } => 4,
            Error::Plan(_) | Error::Start(_) | Error::Edit(_) => 5,
            Error::Apply(e) if e.is_refused() => 5,
            Error::Targets { code, .. } => *code,
            Error::Provider(_) => 6,
            Error::Apply(_) => 7,
            Error::Experiment(_) | Error::Workload(_) | Error::Revert(_) | Error::Holds(_) => 8,
            Error::Deadline(_) => 9,
            Error::Argo(_) => 10,
        }
    }

    /// The reason of the Event that tells of this failure.
    pub fn event_reason(&self) -> &'static str {
        match self {
            Error::Provider(e) => e.merge_reason().unwrap_or("Failed"),
            _ => "Failed",
        }
    }

    /// The message and its causes, joined with ": ", as `main` prints them.
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut cur = std::error::Error::source(self);
        // `transparent` variants forward `source` to the inner error's source, so the
        // inner message is not repeated.
        while let Some(c) = cur {
            let text = c.to_string();
            if !s.contains(&text) {
                s.push_str(": ");
                s.push_str(&text);
            }
            cur = c.source();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_per_kind() {
        let cfg = Error::Config(crate::config::Error { problems: vec![] });
        let plan = Error::Plan(crate::plan::Error::DirNotFound { dir: "x".into() });
        let auth = Error::Git(crate::git::Error::Auth {
            url: "u".into(),
            status: 401,
        });
        let git = Error::Git(crate::git::Error::BranchNotFound {
            url: "u".into(),
            branch: "b".into(),
        });
        let exp = Error::Experiment(crate::kube::experiment::Error::NotReady { name: "e".into() });
        let codes: Vec<u8> = [
            cfg,
            auth,
            git,
            plan,
            exp,
            Error::Deadline(Duration::from_secs(1)),
            Error::Internal("x".into()),
        ]
        .iter()
        .map(Error::exit_code)
        .collect();
        assert_eq!(codes, [2, 3, 4, 5, 8, 9, 1]);
    }

    #[test]
    fn each_merge_refusal_has_its_own_exit_code_and_event_reason() {
        use crate::host::Error as H;
        let url = || "https://github.test/acme/env/pull/1".to_string();
        let refusals = [
            H::NotAllowed {
                url: url(),
                message: "m".into(),
                hint: "h",
            },
            H::HeadMoved {
                url: url(),
                expected: "a".into(),
                now: "b".into(),
                by: None,
            },
            H::Closed { url: url() },
            H::NotMergeable {
                url: url(),
                message: "m".into(),
            },
            H::NotMerged {
                url: url(),
                waited: Duration::from_secs(1),
                last: "open".into(),
            },
        ];
        let got: Vec<(u8, &str)> = refusals
            .into_iter()
            .map(Error::Provider)
            .map(|e| (e.exit_code(), e.event_reason()))
            .collect();
        assert_eq!(
            got,
            [
                (12, "MergeRefused"),
                (13, "HeadMoved"),
                (14, "ClosedUnmerged"),
                (15, "NotMergeable"),
                (16, "NotMerged")
            ]
        );
    }
}
