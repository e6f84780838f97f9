//! Logs go to stderr (the report alone goes to stdout): text by default, JSON for log
//! collectors. The filter is RUST_LOG, default `info`, with the HTTP stack capped at `warn`.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber; call once.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive("hyper=warn".parse().expect("valid directive"))
        .add_directive("h2=warn".parse().expect("valid directive"))
        .add_directive("rustls=warn".parse().expect("valid directive"))
        .add_directive("reqwest=warn".parse().expect("valid directive"))
        .add_directive("gix=warn".parse().expect("valid directive"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
