//! After the change lands: Argo CD told to refresh (and maybe waited for), then the final
//! manifests server-side applied.

use tracing::{info, warn};

use super::{context::Context, promote::Landed, report::Report};
use crate::{
    Error,
    config::{Config, Mode},
    kube::{apply, argocd},
};

/// Argo CD: the change is on the synced branch only in push mode (a PR lands when someone
/// merges it); tell Argo CD now rather than in 3 minutes, and maybe wait for it. Returns the
/// Application's uid, for the Events about it.
#[tracing::instrument(target = "iter8_gitops::step", name = "argocd", skip_all)]
pub async fn argocd(
    ctx: &Context,
    cfg: &Config,
    landed: &Landed,
    report: &mut Report,
) -> Result<Option<String>, Error> {
    let (Some(app), true, Some(c), Mode::Push) =
        (&cfg.cluster.argocd, report.pushed, &landed.commit, cfg.mode)
    else {
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
        argocd::wait(&ctx.cluster, app, &c.id.to_string(), within).await?;
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
