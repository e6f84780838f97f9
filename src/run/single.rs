//! One promotion (or start): experiment → credentials → fetch → plan → commit → push (again
//! when the branch moved) → pull request → merge → Argo CD → apply → Event → report.

use std::time::Instant;

use super::{
    context::Context, deploy, job, local::local_repo_exists, merge, outcome, promote, pull_request,
    report::Report, status, subject, timings,
};
use crate::{Error, config::Config, host};

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
    let text = pull_request::Text::new(cfg, &subject.vars, subject.evidence.as_ref())?;
    let job = job::Job::new(cfg, &subject)?;
    let ns = subject.namespace.as_deref();
    let target = pull_request::target(ctx, cfg, creds.token.as_ref())?;
    // The open PR is looked up while the change is pushed (the push does not change it); a
    // run that pushes nothing asks the host nothing here.
    let (pushing, push_started) = tokio::sync::oneshot::channel();
    let lookup = async {
        match push_started.await {
            Ok(()) => pull_request::look_up(target.as_ref()).await,
            Err(_) => None,
        }
    };
    let (landed, found) = tokio::join!(
        promote::promote(ctx, cfg, &creds, &job, ns, Some(pushing), report),
        lookup
    );
    let landed = landed?;
    report.promotes = landed.commit.is_some();
    report.diff = landed.plan.diff.clone();
    let proposal = pull_request::open(cfg, target, found, &landed, text, report).await?;
    // What this run changed, as against what the promotion changes (`promotes`): a rerun
    // that finds its commit pushed and its PR up to date changed nothing.
    report.changed = report.pushed
        || matches!(
            report.pr_action,
            Some(host::Action::Created | host::Action::Updated)
        );
    let would_push = landed.commit.as_ref().map(|c| c.id.to_string());
    status::set(
        cfg,
        proposal.as_ref(),
        subject.evidence.as_ref(),
        would_push,
        report,
    )
    .await?;
    let merged = merge::merge(ctx, cfg, &creds, &job, proposal.as_ref(), &landed, report).await?;
    let experiment_uid = subject.uid.clone();
    merge::tell(ctx, cfg, experiment_uid.clone(), report).await;
    let revision = deploy::revision(cfg, &landed, report, merged);
    let app_uid = deploy::argocd(ctx, cfg, revision.as_deref(), report).await?;
    deploy::tell(ctx, cfg, experiment_uid, revision.as_deref(), report).await;
    let promote::Landed { plan, resolved, .. } = landed;
    deploy::apply(ctx, cfg, resolved, report).await?;
    let uid = if cfg.job.starts() {
        app_uid
    } else {
        subject.uid
    };
    report.summarize(&outcome::headline(cfg, subject.winner.as_ref(), &plan));
    outcome::tell(
        &ctx.cluster,
        cfg,
        report,
        subject.winner.as_ref(),
        &plan,
        uid,
    )
    .await;
    Ok(())
}
