//! What the run writes and how long it may take: dry run, diff on stderr, log format, the
//! termination log, and the deadlines.

use std::{path::PathBuf, time::Duration};

use super::{args::Args, check::Check, defaults};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// The output part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub dry_run: bool,
    /// Print the planned diff on stderr (GITOPS_SHOW_DIFF; a dry run always does).
    pub show_diff: bool,
    pub log_format: LogFormat,
    pub termination_log: PathBuf,
    /// Where the outputs go for the CI system that ran it (GITOPS_OUTPUTS).
    pub outputs: Option<Outputs>,
}

/// Where a run's outputs (commit, PR URL, …) are written for the CI system that ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outputs {
    /// One file per output in this directory: Tekton's `/tekton/results`, or the folder an
    /// Argo Workflows template reads its output parameters from.
    Dir(PathBuf),
    /// `name=value` lines appended to this file: a GitHub Actions step's `$GITHUB_OUTPUT`.
    GitHub(PathBuf),
}

/// How long the run, and each request in it, may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub timeout: Duration,
    pub request_timeout: Duration,
}

impl Limits {
    /// One request never outlives the whole run.
    pub fn io_timeout(&self) -> Duration {
        self.timeout.min(self.request_timeout)
    }
}

/// GITOPS_LOG_FORMAT's values (the schema's `enum`; a test holds the validator to them).
pub(crate) const LOG_FORMATS: [&str; 2] = ["text", "json"];

/// GITOPS_DRY_RUN, GITOPS_SHOW_DIFF, GITOPS_LOG_FORMAT, GITOPS_TERMINATION_LOG, GITOPS_OUTPUTS.
pub(super) fn validate(c: &mut Check, a: &Args) -> Output {
    // GITOPS_EMPTY_IS_UNSET acts as the environment is read (Args::from_env); a value that is
    // no boolean is reported here with the others.
    c.flag("GITOPS_EMPTY_IS_UNSET", &a.empty_is_unset);
    let log_format = match c.value("GITOPS_LOG_FORMAT", &a.log_format).as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            c.bad(
                "GITOPS_LOG_FORMAT",
                format!("{other:?} is not text or json"),
            );
            LogFormat::Text
        }
    };
    Output {
        dry_run: c.flag("GITOPS_DRY_RUN", &a.dry_run),
        show_diff: c.flag("GITOPS_SHOW_DIFF", &a.show_diff),
        log_format,
        termination_log: c
            .value("GITOPS_TERMINATION_LOG", &a.termination_log)
            .unwrap_or_else(|| defaults::TERMINATION_LOG.into())
            .into(),
        outputs: outputs(c, a),
    }
}

/// GITOPS_OUTPUTS: checked before anything is pushed, so that a run whose outputs cannot be
/// written does not change the Env repo first.
fn outputs(c: &mut Check, a: &Args) -> Option<Outputs> {
    let value = c.value("GITOPS_OUTPUTS", &a.outputs)?;
    if value == "github" {
        let Some(file) = a.github_output.as_deref().filter(|f| !f.is_empty()) else {
            c.bad(
                "GITOPS_OUTPUTS",
                "github writes to the file GITHUB_OUTPUT names, and GITHUB_OUTPUT is not set \
                 (a GitHub Actions runner sets it; elsewhere give a directory)",
            );
            return None;
        };
        return Some(Outputs::GitHub(file.into()));
    }
    let dir = PathBuf::from(&value);
    if !dir.is_absolute() || !dir.is_dir() {
        c.bad(
            "GITOPS_OUTPUTS",
            format!(
                "{value:?} is not an existing directory given by an absolute path (or github, in \
                 a GitHub Actions step)"
            ),
        );
        return None;
    }
    Some(Outputs::Dir(dir))
}

/// GITOPS_TIMEOUT and GITOPS_REQUEST_TIMEOUT.
pub(super) fn limits(c: &mut Check, a: &Args) -> Limits {
    Limits {
        timeout: c.duration(
            "GITOPS_TIMEOUT",
            &a.timeout,
            Duration::from_secs(defaults::TIMEOUT_SECS),
            "(300) or a unit (90s, 5m, 1h)",
        ),
        request_timeout: c.duration(
            "GITOPS_REQUEST_TIMEOUT",
            &a.request_timeout,
            Duration::from_secs(30),
            "(30) or a unit (30s, 2m)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_booleans_and_formats_have_their_defaults_and_their_errors() {
        /// (dry run, log format, timeout s, request timeout s), or `None` for a problem.
        type Want = Option<(bool, LogFormat, u64, u64)>;
        let table: &[(Args, Want)] = &[
            (Args::default(), Some((false, LogFormat::Text, 300, 30))),
            (
                Args {
                    dry_run: Some("yes".into()),
                    log_format: Some("json".into()),
                    timeout: Some("5m".into()),
                    request_timeout: Some("10s".into()),
                    ..Args::default()
                },
                Some((true, LogFormat::Json, 300, 10)),
            ),
            (
                Args {
                    dry_run: Some("maybe".into()),
                    ..Args::default()
                },
                None,
            ),
            (
                Args {
                    timeout: Some("soon".into()),
                    ..Args::default()
                },
                None,
            ),
            (
                Args {
                    log_format: Some("xml".into()),
                    ..Args::default()
                },
                None,
            ),
        ];
        for (a, want) in table {
            let mut c = Check { problems: vec![] };
            let (o, l) = (validate(&mut c, a), limits(&mut c, a));
            let got = c.problems.is_empty().then_some((
                o.dry_run,
                o.log_format,
                l.timeout.as_secs(),
                l.request_timeout.as_secs(),
            ));
            assert_eq!(got, *want, "{a:?}: {:?}", c.problems);
        }
    }
}
