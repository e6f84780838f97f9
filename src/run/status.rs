//! The verdict as a commit status on the PR's head (GITOPS_STATUS): success when the
//! candidate is promoted, failure when the run records a rollback, so a branch rule that
//! requires the context keeps a failed experiment's PR from being merged.

use tracing::{info, warn};

use super::{
    pull_request::Proposal,
    report::{Report, StatusReport},
};
use crate::{
    Error,
    config::Config,
    host::{
        Kind,
        status::{Action, CommitStatus, State},
    },
    plan::evidence::{Evidence, Verdict},
};

/// Sets the status on the head the run pushed (or found pushed) for `proposal`; a dry run
/// names the commit it would push (`would_push`).
#[tracing::instrument(target = "iter8_gitops::step", name = "status", skip_all)]
pub async fn set(
    cfg: &Config,
    proposal: Option<&Proposal>,
    evidence: Option<&Evidence>,
    would_push: Option<String>,
    report: &mut Report,
) -> Result<(), Error> {
    let head = report
        .commit
        .clone()
        .or(would_push.filter(|_| cfg.output.dry_run));
    let (Some(opts), Some(sha)) = (&cfg.pr.status, head) else {
        return Ok(());
    };
    let kind = cfg.pr.api.as_ref().map(|a| a.kind);
    let Some(p) = proposal else {
        // A dry run whose PR would be created: what the status would say.
        if cfg.output.dry_run && report.pr_action == Some(crate::host::Action::WouldCreate) {
            let status = wanted(cfg, evidence, &sha, "", kind);
            info!(context = %status.context, state = ?status.state, "dry run: would set the commit status");
            report.status = Some(StatusReport {
                status,
                action: "would_set",
            });
        }
        return Ok(());
    };
    let status = wanted(cfg, evidence, &sha, &p.pr.url, kind);
    match p
        .provider
        .set_status(&p.req, &status, cfg.output.dry_run, report.pushed)
        .await
    {
        Ok(action) => {
            let action = match action {
                Action::Set => "set",
                Action::Unchanged => "unchanged",
                Action::WouldSet => "would_set",
            };
            info!(context = %status.context, state = ?status.state, action, "commit status");
            report.status = Some(StatusReport { status, action });
            Ok(())
        }
        Err(e) if !opts.required => {
            let scope = kind.map_or("", Kind::status_scope);
            let w = format!(
                "the commit status {:?} could not be set on {}: {}; the token needs {scope} (set GITOPS_STATUS=false to skip it, GITOPS_STATUS_REQUIRED=true to fail the run instead)",
                status.context,
                &sha[..sha.len().min(7)],
                crate::text::truncate(&e.to_string(), 300)
            );
            warn!("{w}");
            report.warnings.push(w);
            report.status = Some(StatusReport {
                status,
                action: "failed",
            });
            Ok(())
        }
        Err(e) => Err(Error::Provider(e)),
    }
}

/// The status for this run: its context, state and verdict line.
fn wanted(
    cfg: &Config,
    evidence: Option<&Evidence>,
    sha: &str,
    pr_url: &str,
    kind: Option<Kind>,
) -> CommitStatus {
    let opts = cfg.pr.status.as_ref();
    let revert = cfg.job.cause().is_some();
    let context =
        opts.and_then(|o| o.context.clone())
            .unwrap_or_else(|| match &cfg.cluster.experiment {
                _ if revert => "iter8-gitops/revert".into(),
                Some(e) => format!("iter8/{}", e.name),
                None => "iter8/gitops".into(),
            });
    // A revert proposes what the cluster already serves: a rule that requires the status
    // must not hold it back, whatever failed before it.
    let state = match evidence.map(|e| e.verdict) {
        Some(Verdict::Rollback) if !revert => State::Failure,
        _ => State::Success,
    };
    let line = evidence.map_or("promoted", |e| e.line.as_str());
    // Where the host requires a link, the PR's; elsewhere none unless the operator gives one.
    let target_url = opts
        .and_then(|o| o.target_url.as_ref().map(|u| u.to_string()))
        .or_else(|| {
            kind.is_some_and(Kind::status_needs_link)
                .then(|| pr_url.to_string())
        });
    CommitStatus::new(sha, &context, state, line, target_url)
}
