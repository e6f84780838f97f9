//! The run: the flow in the order of the contract, one step per function, each step's span
//! giving its timing. `run` builds the shared [`Context`] once, keeps the deadline, and tells
//! the cluster about a failure once; `single` is one promotion (or start), `targets` a
//! promotion file's commits.
//!
//! single: experiment → credentials → fetch → plan → commit → push (again when the branch
//! moved) → pull request → Argo CD → apply → Event → report.

pub mod context;
pub mod deploy;
pub mod job;
pub mod outcome;
pub mod promote;
pub mod pull_request;
pub mod report;
pub mod subject;
pub mod targets;
pub mod timings;

use std::{sync::Arc, time::Instant};

pub use context::Context;
use report::Report;

use crate::{
    Error, config,
    config::{Config, PromotionSource},
    host,
    kube::cluster::Cluster,
    plan::names::RepoLocation,
    retry,
};

/// Runs one task within the configured deadline; a failure is also told as an Event (a
/// promotion file tells one per failed commit instead).
pub async fn run(cfg: Config) -> Result<Report, Error> {
    let deadline = cfg.limits.timeout;
    let end = Instant::now() + deadline;
    let cluster = Arc::new(Cluster::new(cfg.limits.io_timeout()));
    let work = async {
        let ctx = Arc::new(Context::new(&cfg, cluster.clone())?);
        match &cfg.promotion {
            Some(p) => targets::run(ctx, &cfg, p, end).await,
            None => single(&ctx, &cfg).await,
        }
    };
    let result = match tokio::time::timeout(deadline, retry::within(end, work)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Deadline(deadline)),
    };
    if let (Err(e), None) = (&result, &cfg.promotion) {
        outcome::tell_failure(&cluster, &cfg, None, e).await;
    }
    result
}

/// One promotion (or start): every step in order, the report filled as they go.
pub async fn single(ctx: &Context, cfg: &Config) -> Result<Report, Error> {
    let started = Instant::now();
    let mut report = Report::new(cfg);
    let (result, timings) = timings::collect(steps(ctx, cfg, &mut report)).await;
    report.timings_ms = timings;
    result?;
    report.timing("total", started);
    Ok(report)
}

async fn steps(ctx: &Context, cfg: &Config, report: &mut Report) -> Result<(), Error> {
    let subject = subject::read(ctx, cfg, report).await?;
    local_repo_exists(cfg)?;
    let creds = ctx.credentials(cfg, subject.namespace.clone()).await?;
    let text = pull_request::Text::new(cfg, &subject.vars)?;
    let job = job::Job::new(cfg, &subject);
    let ns = subject.namespace.as_deref();
    let landed = promote::promote(ctx, cfg, &creds, &job, ns, report).await?;
    report.promotes = landed.commit.is_some();
    report.diff = landed.plan.diff.clone();
    pull_request::open(ctx, cfg, creds.token.as_ref(), &landed, text, report).await?;
    // What this run changed, as against what the promotion changes (`promotes`): a rerun
    // that finds its commit pushed and its PR up to date changed nothing.
    report.changed = report.pushed
        || matches!(
            report.pr_action,
            Some(host::Action::Created | host::Action::Updated)
        );
    let app_uid = deploy::argocd(ctx, cfg, &landed, report).await?;
    let promote::Landed { plan, resolved, .. } = landed;
    deploy::apply(ctx, cfg, resolved, report).await?;
    let uid = match cfg.task {
        config::Task::Finish => subject.uid,
        config::Task::Start(_) => app_uid,
    };
    report.summarize(&outcome::headline(cfg, &subject.winner, &plan));
    outcome::tell(&ctx.cluster, cfg, report, &subject.winner, &plan, uid).await;
    Ok(())
}

/// A local GITOPS_REPO must be a Git repository. Said here, as a configuration problem:
/// otherwise gix's transport fails with a handshake error that reads like a network fault.
fn local_repo_exists(cfg: &Config) -> Result<(), Error> {
    let RepoLocation::Local(path) = &cfg.repo.location else {
        return Ok(());
    };
    let is_repo = |p: &std::path::Path| p.join("HEAD").is_file() && p.join("objects").is_dir();
    let problem = if !path.exists() {
        "does not exist; give the path of the Env repo (a bare repo, or a clone's .git)"
    } else if !is_repo(path) && !is_repo(&path.join(".git")) {
        "is not a Git repository (no HEAD and objects/ in it, nor in its .git); give the path of a bare repo or a clone"
    } else {
        return Ok(());
    };
    Err(config_error(
        "GITOPS_REPO",
        format!("{} {problem}", path.display()),
    ))
}

/// A configuration problem found during the run (exit 2).
fn config_error(input: &str, message: String) -> Error {
    Error::Config(config::Error {
        problems: vec![config::Problem {
            input: input.into(),
            message,
        }],
    })
}

/// Where the promotion file is read from, for its messages.
fn source_input(source: &PromotionSource) -> &'static str {
    match source {
        PromotionSource::File(_) => "GITOPS_CONFIG",
        PromotionSource::InRepo(_) => "GITOPS_CONFIG_IN_REPO",
    }
}
