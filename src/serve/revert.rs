//! One workload's turn: read its Canary or Rollout and what the cluster serves, decide
//! (`plan::revert`), and when its rollout failed, run its target as a revert: the target's
//! edits with `${stable.…}` from the cluster, on a branch of its own per failed revision,
//! with the controller's words as the PR's "why". A revision already reverted by this
//! process is not run again; a success clears that.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::Value;
use tracing::{info, warn};

use crate::{
    Error,
    config::{Cause, Config, Job, defaults},
    kube::{cluster::Cluster, events::Regarding, holds, workload, workload::WorkloadRef},
    plan::{
        names::BranchName,
        revert::{self, Decision, Revert},
    },
    trust::redact,
};

/// What the receiver knows: its targets by workload, and the revisions it has reverted.
pub struct Reverts {
    pub targets: BTreeMap<WorkloadRef, Config>,
    cluster: Arc<Cluster>,
    /// Where the holds are kept (`kube::holds`).
    namespace: String,
    /// Workload key → the failed revision reverted; held while it is written, so writes
    /// land in order.
    holds: tokio::sync::Mutex<BTreeMap<String, String>>,
}

impl Reverts {
    /// The receiver's reverts, with the holds the cluster keeps for it.
    pub async fn new(
        targets: BTreeMap<WorkloadRef, Config>,
        cluster: Arc<Cluster>,
        namespace: String,
    ) -> Result<Reverts, Error> {
        let holds = holds::read(&cluster, &namespace).await?;
        Ok(Reverts {
            targets,
            cluster,
            namespace,
            holds: tokio::sync::Mutex::new(holds),
        })
    }

    /// Records (`Some`) or clears (`None`) `w`'s hold, in the cluster too; true when that
    /// changed it. One that cannot be written still holds in this process.
    async fn hold(&self, w: &WorkloadRef, revision: Option<String>) -> bool {
        let mut holds = self.holds.lock().await;
        let changed = match revision {
            Some(r) => holds.insert(key(w), r.clone()).as_ref() != Some(&r),
            None => holds.remove(&key(w)).is_some(),
        };
        if changed && let Err(e) = holds::write(&self.cluster, &self.namespace, &holds).await {
            failed(w, "cannot keep the hold", &e.into());
        }
        changed
    }

    /// Looks at `w` and reverts it if its rollout failed. Failures are logged (and told as
    /// an Event by the run): a later webhook, or the next start, tries again.
    pub async fn work(&self, w: &WorkloadRef) {
        match self.decide(w).await {
            Ok(Some((revert, object))) => self.revert(w, revert, &object).await,
            Ok(None) => {}
            Err(e) => failed(w, "cannot look at the workload", &e),
        }
    }

    /// The failed rollout to revert, if there is one not yet done.
    async fn decide(&self, w: &WorkloadRef) -> Result<Option<(Revert, Value)>, Error> {
        let objects = workload::read(&self.cluster, w).await?;
        let revert = match revert::decide(w.controller, &objects)? {
            Decision::Revert(r) => r,
            Decision::Succeeded => {
                let later = if self.hold(w, None).await {
                    "; a later failure is reverted again"
                } else {
                    ""
                };
                said(
                    w,
                    format_args!(
                        "the cluster says the rollout succeeded: nothing to revert{later}"
                    ),
                );
                return Ok(None);
            }
            Decision::Neither { phase } => {
                said(
                    w,
                    format_args!(
                        "the cluster says the rollout has not failed ({phase}): nothing to revert"
                    ),
                );
                return Ok(None);
            }
        };
        if self.holds.lock().await.get(&key(w)) == Some(&revert.revision) {
            said(
                w,
                format_args!(
                    "the failed revision {} was reverted already",
                    revert.revision
                ),
            );
            return Ok(None);
        }
        Ok(Some((*revert, objects.object)))
    }

    async fn revert(&self, w: &WorkloadRef, r: Revert, object: &Value) {
        let Some(target) = self.targets.get(w) else {
            return;
        };
        let revision = r.revision.clone();
        let cfg = match config_for(target, w, r, object) {
            Ok(c) => c,
            Err(e) => return failed(w, "cannot revert", &e),
        };
        match crate::run::run(cfg).await {
            Ok(report) => {
                let changed = if report.changed { "" } else { " (nothing new)" };
                said(
                    w,
                    format_args!("reverted revision {revision}{changed}: {}", report.summary),
                );
                self.hold(w, Some(revision)).await;
            }
            Err(e) => failed(
                w,
                "the revert failed; the next webhook or start tries again",
                &e,
            ),
        }
    }
}

/// `w`'s key in the holds' ConfigMap: `canary.test.podinfo` (a kind and a namespace hold no
/// dot, so the key reads back unambiguously).
fn key(w: &WorkloadRef) -> String {
    format!(
        "{}.{}.{}",
        w.controller.kind().to_ascii_lowercase(),
        w.namespace,
        w.name
    )
}

/// One line of news about `w` (one log call site for all of them: each costs binary size).
fn said(w: &WorkloadRef, what: std::fmt::Arguments) {
    info!(workload = %w, "{what}");
}

/// A failure about `w`, its chain redacted.
fn failed(w: &WorkloadRef, what: &str, e: &Error) {
    warn!(workload = %w, error = %redact::text(&e.chain()), "{what}");
}

/// The target's configuration for this failed revision: its cause (the variables, the
/// evidence, the object for Events), its own branch, and a title and commit message that say
/// a revert unless the operator gave them.
fn config_for(
    target: &Config,
    w: &WorkloadRef,
    r: Revert,
    object: &Value,
) -> Result<Config, Error> {
    let mut cfg = target.clone();
    let branch = revert::branch(&w.namespace, &w.name, &r.revision);
    cfg.pr.branch = BranchName::parse(&branch)
        .map_err(|why| Error::Internal(format!("the revert branch {branch:?} {why}")))?;
    if !cfg.pr.title_given {
        cfg.pr.title =
            "Revert ${workload.kind} ${workload.namespace}/${workload.name} to ${stable.image}"
                .into();
    }
    let vars = revert::vars(w.controller, &w.namespace, &w.name, &r);
    if cfg.commit.message == defaults::COMMIT_MESSAGE {
        cfg.commit.message = format!(
            "Revert {w} to {}\n\nThe rollout of revision {} failed; the cluster kept serving this.",
            vars["stable.image"], r.revision
        );
    }
    let regarding = Regarding {
        api_version: w.controller.api_version().into(),
        kind: w.controller.kind().into(),
        name: w.name.clone(),
        namespace: w.namespace.clone(),
        uid: object
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    if let Job::Edits(t) = &mut cfg.job {
        t.cause = Some(Box::new(Cause {
            vars,
            evidence: r.evidence,
            regarding,
        }));
    }
    Ok(cfg)
}
