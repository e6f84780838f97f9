//! The binary: read the environment and flags, validate, run, report, map the error to an
//! exit code (see docs/exit-codes.md). Nothing else lives here.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use iter8_gitops::{
    config, logging,
    run::{outputs, report},
    trust::redact,
};

/// Promote an Iter8 experiment's winner in a GitOps Env repo: commit, push, pull request,
/// server-side apply. Every flag has an environment variable of the same name (--winner is
/// GITOPS_WINNER); flags win. The token comes from GITOPS_TOKEN or a Secret, never a flag.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    args: config::Args,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env_args = match config::Args::from_env(environment()) {
        Ok(a) => a,
        Err(e) => return fail(&iter8_gitops::Error::Config(e), None),
    };
    let args = env_args.overlay(cli.args);
    let cfg = match config::Config::try_from(args.clone()) {
        Ok(c) => c,
        Err(e) => return fail(&iter8_gitops::Error::Config(e), None),
    };
    logging::init(cfg.output.log_format);
    // kube's hyper-rustls asks rustls for the process-wide provider: name ring, the only one
    // built in (reqwest is built with `rustls-no-provider` and gets our config).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let termination_log = cfg.output.termination_log.clone();
    let outputs = cfg.output.outputs.clone();
    let log_format = cfg.output.log_format;
    // The receiver runs until it is stopped; each of its runs keeps its own deadline.
    let serving = matches!(cfg.job, config::Job::Serve(_));
    if !serving {
        watchdog(cfg.limits.timeout, termination_log.clone());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return fail(
                &iter8_gitops::Error::Internal(format!("cannot start the async runtime: {e}")),
                Some(&termination_log),
            );
        }
    };
    if serving {
        let result = runtime.block_on(iter8_gitops::serve::serve(cfg));
        runtime.shutdown_background();
        iter8_gitops::git::remove_temporary_repos();
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e, Some(&termination_log)),
        };
    }
    let result = runtime.block_on(iter8_gitops::run(cfg));
    // A git transfer on a blocking thread may still be running past the deadline (a server
    // that trickles bytes): it is not waited for; the process ends now.
    runtime.shutdown_background();
    iter8_gitops::git::remove_temporary_repos();
    match result {
        Ok(report) => {
            let json = report.to_json();
            println!("{json}");
            report::write_termination_log(&termination_log, &report.summary_json(4096));
            if let Some(to) = &outputs {
                if let Err(e) = outputs::write(to, &report) {
                    // The Env repo holds the change; the CI step that reads the outputs will
                    // miss them, so the step fails, saying where they were to go.
                    return fail(
                        &iter8_gitops::Error::Internal(format!(
                            "the run succeeded, but its outputs could not be written to {to:?}: {e}"
                        )),
                        Some(&termination_log),
                    );
                }
            }
            tracing::debug!(timings_ms = ?report.timings_ms, "step timings");
            // The last line on stderr is for the person who ran it.
            match log_format {
                config::LogFormat::Text => redact::eprint(&format!("{}\n", report.summary)),
                config::LogFormat::Json => tracing::info!(summary = %report.summary, "done"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, Some(&termination_log)),
    }
}

fn fail(e: &iter8_gitops::Error, termination_log: Option<&std::path::Path>) -> ExitCode {
    // A promotion file's targets that did succeed are reported all the same.
    if let iter8_gitops::Error::Targets { report_json, .. } = e {
        println!("{report_json}");
    }
    let message = redact::text(&e.chain());
    redact::eprint(&format!("error: {message}\n"));
    let code = e.exit_code();
    if let Some(path) = termination_log {
        report::write_termination_log(path, &report::failure_json(&message, code));
    }
    ExitCode::from(code)
}

/// Ends the process with exit 9 shortly after GITOPS_TIMEOUT, whatever any thread is doing:
/// the run's own deadline (a `tokio` timeout) needs a free worker to fire, and a step that
/// computes without yielding would hold it. Nothing is sent after this.
fn watchdog(timeout: std::time::Duration, termination_log: std::path::PathBuf) {
    let grace = std::time::Duration::from_secs(1);
    std::thread::spawn(move || {
        std::thread::sleep(timeout + grace);
        let e = iter8_gitops::Error::Deadline(timeout);
        iter8_gitops::git::remove_temporary_repos();
        let _ = fail(&e, Some(&termination_log));
        std::process::exit(i32::from(e.exit_code()));
    });
}

/// The environment as strings; `std::env::vars` would panic on a non-UTF-8 value, which
/// instead shows up as U+FFFD and fails validation where it matters.
fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .collect()
}
