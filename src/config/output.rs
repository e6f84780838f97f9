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

/// GITOPS_DRY_RUN, GITOPS_SHOW_DIFF, GITOPS_LOG_FORMAT, GITOPS_TERMINATION_LOG.
pub(super) fn validate(c: &mut Check, a: &Args) -> Output {
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
    }
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
