//! What the run tells people: the summary line, and the Event on the Experiment (finish) or
//! the Application (start), for a success or a failure.

use super::report::Report;
use crate::{
    Error,
    config::{Config, Job},
    kube::{cluster::Cluster, events},
    plan::{Plan, names::RepoPath},
    trust::redact,
};

/// What the run was about, for the summary line.
pub fn headline(cfg: &Config, winner: Option<&RepoPath>, plan: &Plan) -> String {
    match (&cfg.job, &plan.unchanged_reason) {
        (_, Some(why)) if plan.is_superseded() => why.clone(),
        (Job::Start(s), _) => {
            format!("rendered the experiment for version {}", s.version)
        }
        (Job::Edits(t), _) if t.cause.is_some() => "revert".to_string(),
        (Job::Edits(_) | Job::Promotion(_) | Job::Serve(_), _) => "promotion".to_string(),
        (Job::Finish(r), _) if winner == Some(&r.baseline) => {
            format!("the baseline {} stays", r.baseline)
        }
        (Job::Finish(r), _) => format!(
            "promoted {} → {}",
            winner.map(RepoPath::as_str).unwrap_or_default(),
            r.baseline
        ),
    }
}

/// Tells the Experiment (or the Application) what a successful run did; a refused Event is
/// a warning in the report. A dry run writes nothing anywhere, an Event included.
pub async fn tell(
    cluster: &Cluster,
    cfg: &Config,
    report: &mut Report,
    winner: Option<&RepoPath>,
    plan: &Plan,
    uid: Option<String>,
) {
    if cfg.output.dry_run {
        return;
    }
    let Some(on) = regarding(cfg, uid) else {
        return;
    };
    if let Some(w) = events::post(cluster, &on, &success(cfg, report, winner, plan)).await {
        report.warnings.push(w);
    }
}

/// Tells the Experiment (or the Application) news from a step (`Merged`, `Deployed`) as it
/// happens; a refused Event is a warning in the report.
pub async fn progress(
    cluster: &Cluster,
    cfg: &Config,
    uid: Option<String>,
    reason: &'static str,
    note: String,
    report: &mut Report,
) {
    if cfg.output.dry_run {
        return;
    }
    let Some(on) = regarding(cfg, uid) else {
        return;
    };
    let outcome = events::Outcome {
        warning: false,
        action: action(cfg),
        reason,
        note: redact::text(&note),
    };
    if let Some(w) = events::post(cluster, &on, &outcome).await {
        report.warnings.push(w);
    }
}

/// Tells the Experiment (or the Application) that the run failed; `about` names the
/// promotion file's targets it was for. Bounded: the run has failed already, and may have
/// failed on the cluster itself.
pub async fn tell_failure(cluster: &Cluster, cfg: &Config, about: Option<&str>, e: &Error) {
    if cfg.output.dry_run {
        return;
    }
    let Some(on) = regarding(cfg, None) else {
        return;
    };
    let note = match about {
        Some(what) => format!("{what}: {}", e.chain()),
        None => e.chain(),
    };
    let outcome = events::Outcome {
        warning: true,
        action: action(cfg),
        reason: e.event_reason(),
        note: redact::text(&note),
    };
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        events::post(cluster, &on, &outcome),
    )
    .await;
}

/// The Event for a run that succeeded.
fn success(
    cfg: &Config,
    report: &Report,
    winner: Option<&RepoPath>,
    plan: &Plan,
) -> events::Outcome {
    let normal = |reason, note: String| events::Outcome {
        warning: false,
        action: action(cfg),
        reason,
        note,
    };
    let landed = match (&report.pr, &report.commit) {
        (Some(pr), _) => format!("pull request {}", pr.url),
        (None, Some(c)) => format!("commit {c} on {}", report.branch),
        (None, None) => String::new(),
    };
    let version = report
        .winner_version
        .as_deref()
        .or(winner.map(RepoPath::as_str))
        .unwrap_or_default();
    // A rerun that finds its change already proposed (or pushed) did nothing new.
    match (&cfg.job, report.changed) {
        (_, false) => normal(
            "NothingToDo",
            match (&plan.unchanged_reason, &report.pr) {
                (Some(why), _) => why.clone(),
                (None, Some(pr)) => format!("the pull request {} already proposes this", pr.url),
                (None, None) => "the Env repo already records this".into(),
            },
        ),
        (Job::Start(s), true) => normal(
            "Started",
            format!(
                "rendered the experiment for version {}: {landed}",
                s.version
            ),
        ),
        // The baseline won: nothing is promoted, the experiment's files are cleaned up.
        (Job::Finish(r), true) if winner == Some(&r.baseline) => normal(
            "CleanedUp",
            format!(
                "the baseline {} stays; the experiment's files are removed: {landed}",
                r.baseline
            ),
        ),
        (Job::Finish(r), true) => normal(
            "Promoted",
            format!("{version} promoted to {}: {landed}", r.baseline),
        ),
        (Job::Edits(t), true) if t.cause.is_some() => normal(
            "Reverted",
            format!("the Env repo goes back to what the cluster serves: {landed}"),
        ),
        (Job::Edits(_) | Job::Promotion(_) | Job::Serve(_), true) => {
            normal("Promoted", format!("{version} promoted: {landed}"))
        }
    }
}

/// What an Event says was done.
fn action(cfg: &Config) -> &'static str {
    match &cfg.job {
        Job::Start(_) => "Start",
        Job::Edits(t) if t.cause.is_some() => "Revert",
        _ => "Promote",
    }
}

/// What this run's Events are about: the Experiment (finish), the Application (start).
fn regarding(cfg: &Config, uid: Option<String>) -> Option<events::Regarding> {
    if let Some(cause) = cfg.job.cause() {
        return Some(cause.regarding.clone());
    }
    match (
        cfg.job.starts(),
        &cfg.cluster.experiment,
        &cfg.cluster.argocd,
    ) {
        (false, Some(e), _) => Some(events::Regarding {
            api_version: "iter8.tools/v2alpha2".into(),
            kind: "Experiment".into(),
            name: e.name.clone(),
            namespace: e.namespace.clone(),
            uid,
        }),
        (true, _, Some(app)) => Some(events::Regarding {
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Application".into(),
            name: app.name.clone(),
            namespace: app.namespace.clone(),
            uid,
        }),
        _ => None,
    }
}
