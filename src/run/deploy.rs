//! After the change lands on the synced branch: Argo CD told to refresh (and maybe waited
//! for), then the final manifests server-side applied.

use tracing::{info, warn};

use super::{context::Context, promote::Landed, report::Report};
use crate::{
    Error,
    config::{Config, Mode},
    kube::{apply, argocd},
};

/// The commit on the synced branch Argo CD should show: the one pushed (push mode), the
/// merge commit (a merged PR), or the branch's tip when it already held the change (a rerun
/// after the merge or the push). `None` while the change waits in a PR, and in a dry run.
pub fn revision(
    cfg: &Config,
    landed: &Landed,
    report: &Report,
    merged: Option<String>,
) -> Option<String> {
    if cfg.output.dry_run || landed.plan.is_superseded() {
        return None;
    }
    match (cfg.mode, &landed.commit, merged) {
        (_, _, Some(m)) => Some(m),
        (Mode::Push, Some(c), None) if report.pushed => Some(c.id.to_string()),
        (_, None, None) => report.base_commit.clone(),
        _ => None,
    }
}

/// Argo CD told of `revision` on the synced branch now rather than in 3 minutes, and maybe
/// waited for. Returns the Application's uid, for the Events about it.
#[tracing::instrument(target = "iter8_gitops::step", name = "argocd", skip_all)]
pub async fn argocd(
    ctx: &Context,
    cfg: &Config,
    revision: Option<&str>,
    report: &mut Report,
) -> Result<Option<String>, Error> {
    let (Some(app), Some(revision)) = (&cfg.cluster.argocd, revision) else {
        return Ok(None);
    };
    let mut uid = None;
    match argocd::refresh(&ctx.cluster, app).await {
        Ok(on) => uid = on.uid,
        // Without a wait, a refused refresh only delays the sync by Argo CD's poll.
        Err(e) if app.wait.is_none() => {
            warn!(error = %e, "could not ask Argo CD to refresh");
            report.warnings.push(e.to_string());
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(within) = app.wait {
        argocd::wait(&ctx.cluster, app, revision, within).await?;
        report.argocd_synced = Some(true);
    }
    Ok(uid)
}

/// Server-side applies the resolved objects; a dry run lists them in the report instead.
#[tracing::instrument(target = "iter8_gitops::step", name = "apply", skip_all)]
pub async fn apply(
    ctx: &Context,
    cfg: &Config,
    resolved: Vec<apply::Resolved>,
    report: &mut Report,
) -> Result<(), Error> {
    if cfg.output.dry_run {
        for r in &resolved {
            info!(kind = %r.object.kind, name = %r.object.name, namespace = r.namespace.as_deref().unwrap_or(""), "dry run: would apply");
        }
        report.objects = resolved.into_iter().map(|r| r.object.body).collect();
    } else if !resolved.is_empty() {
        report.applied = apply::apply(&ctx.cluster, &resolved, &cfg.cluster.field_manager).await?;
    }
    Ok(())
}

/// The Event for a merged change Argo CD now shows Synced and Healthy.
pub async fn tell(
    ctx: &Context,
    cfg: &Config,
    uid: Option<String>,
    revision: Option<&str>,
    report: &mut Report,
) {
    let (Some(_), Some(true), Some(rev), Some(app)) = (
        &report.merge,
        report.argocd_synced,
        revision,
        &cfg.cluster.argocd,
    ) else {
        return;
    };
    let note = format!(
        "the Argo CD Application {}/{} is Synced and Healthy at {rev}",
        app.namespace, app.name
    );
    super::outcome::progress(&ctx.cluster, cfg, uid, "Deployed", note, report).await;
}
