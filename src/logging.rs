//! Logs go to stderr (the report alone goes to stdout): text by default, JSON for log
//! collectors. The filter is RUST_LOG (`level` or `target=level`, comma-separated), default
//! `info`, with the HTTP and Git stacks capped at `warn` unless RUST_LOG names them.
//!
//! `Targets` rather than `EnvFilter`: EnvFilter's span and field matchers compile regular
//! expressions, and the regex engine alone was a twentieth of the static binary.

use std::str::FromStr;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::{fmt, prelude::*};

use crate::config::LogFormat;

/// The stacks whose info-level chatter is noise in a task's log.
const QUIET: [&str; 5] = ["hyper", "h2", "rustls", "reqwest", "gix"];

/// The filter for a RUST_LOG value: the defaults, then what RUST_LOG says (it wins for a target
/// it names). An unreadable RUST_LOG is ignored rather than failing the task.
pub fn filter(rust_log: Option<&str>) -> Targets {
    let defaults = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_targets(QUIET.map(|t| (t, LevelFilter::WARN)));
    let chosen = match rust_log.map(Targets::from_str) {
        Some(Ok(user)) => {
            let default = user.default_level().unwrap_or(LevelFilter::INFO);
            defaults.with_targets(user).with_default(default)
        }
        _ => defaults,
    };
    // kube's client logs an answer it cannot parse whole (WARN) or a failed one's body
    // (DEBUG): a Secret's body among them. Its failures reach us as errors, which we report
    // ourselves, so it is never heard, whatever RUST_LOG says.
    chosen.with_target("kube_client", LevelFilter::OFF)
}

/// Installs the global subscriber; call once.
pub fn init(format: LogFormat) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    // Every event passes the redactor on its way out: a secret in an error a library formats,
    // or in a body a server echoed, is hidden whatever the call site printed.
    let layer = fmt::layer()
        .with_writer(crate::trust::redact::Stderr)
        .with_target(false);
    // The steps' spans feed the report's timings, not the log lines.
    let filter = filter.with_target(crate::run::timings::TARGET, LevelFilter::OFF);
    let registry = tracing_subscriber::registry().with(crate::run::timings::Layer);
    match format {
        LogFormat::Text => registry
            .with(layer.with_ansi(false).with_filter(filter))
            .init(),
        LogFormat::Json => registry
            .with(layer.json().flatten_event(true).with_filter(filter))
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled(f: &Targets, target: &str, level: Level) -> bool {
        f.would_enable(target, &level)
    }

    #[test]
    fn info_by_default_with_the_stacks_quieted() {
        let f = filter(None);
        assert!(enabled(&f, "iter8_gitops::git", Level::INFO));
        assert!(!enabled(&f, "iter8_gitops", Level::DEBUG));
        assert!(!enabled(&f, "hyper::client", Level::INFO));
        assert!(enabled(&f, "hyper::client", Level::WARN));
        assert!(
            !enabled(&f, "gix_transport::client", Level::INFO),
            "prefixes match"
        );
    }

    #[test]
    fn rust_log_raises_the_default_and_wins_for_the_targets_it_names() {
        let f = filter(Some("debug,hyper=trace"));
        assert!(enabled(&f, "iter8_gitops", Level::DEBUG));
        assert!(enabled(&f, "hyper::proto", Level::TRACE));
        assert!(
            !enabled(&f, "rustls", Level::INFO),
            "unnamed stacks stay quiet"
        );
        let f = filter(Some("iter8_gitops=trace"));
        assert!(enabled(&f, "iter8_gitops::plan", Level::TRACE));
        assert!(
            !enabled(&f, "other", Level::DEBUG),
            "the default stays info"
        );
    }

    #[test]
    fn kubes_client_which_logs_answer_bodies_is_never_heard() {
        for rust_log in [None, Some("trace"), Some("kube_client=trace")] {
            let f = filter(rust_log);
            assert!(
                !enabled(&f, "kube_client::client", Level::ERROR),
                "{rust_log:?}"
            );
        }
    }

    #[test]
    fn an_unreadable_rust_log_is_ignored() {
        let f = filter(Some("=?!"));
        assert!(enabled(&f, "iter8_gitops", Level::INFO));
        assert!(!enabled(&f, "iter8_gitops", Level::DEBUG));
    }
}
