//! Pure: whether a progressive-delivery controller's rollout failed, and what the cluster
//! serves instead, from the objects the receiver read itself: a Flagger Canary
//! (`flagger.app/v1beta1`) with its primary Deployment, or an Argo Rollouts Rollout
//! (`argoproj.io/v1alpha1`) with its stable ReplicaSet. A webhook only says which object to
//! look at; what these say decides.

use std::collections::BTreeMap;

use serde_json::Value;

use super::evidence::{Evidence, Verdict};

/// The most characters taken from one text of the controller's status (data, shown to
/// reviewers).
const MAX_MESSAGE: usize = 300;

/// Which controller runs the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Controller {
    /// A Flagger Canary; the cluster serves its `<target>-primary` Deployment.
    Flagger,
    /// An Argo Rollouts Rollout; the cluster serves its stable ReplicaSet.
    ArgoRollouts,
}

impl Controller {
    /// `workload.kind`'s values (the schema's `enum`).
    pub const KINDS: [&'static str; 2] = ["Canary", "Rollout"];

    /// The kind, as a promotion file's `workload.kind` names it.
    pub fn kind(self) -> &'static str {
        match self {
            Controller::Flagger => Self::KINDS[0],
            Controller::ArgoRollouts => Self::KINDS[1],
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Controller::Flagger => "flagger.app/v1beta1",
            Controller::ArgoRollouts => "argoproj.io/v1alpha1",
        }
    }

    /// From `workload.kind`.
    pub fn from_kind(kind: &str) -> Option<Controller> {
        [Controller::Flagger, Controller::ArgoRollouts]
            .into_iter()
            .find(|c| c.kind() == kind)
    }

    /// The name of the object that holds the failed version, when it is not the controller's
    /// own: Flagger's target Deployment.
    pub fn failing(self, object: &Value) -> Option<String> {
        match self {
            Controller::Flagger => str_at(object, "/spec/targetRef/name").map(str::to_string),
            Controller::ArgoRollouts => None,
        }
    }

    /// The name of the object the cluster serves while the rollout is not promoted (a
    /// Deployment for Flagger, a ReplicaSet for Argo Rollouts); `None` when none is named.
    pub fn serving(self, object: &Value) -> Option<String> {
        match self {
            Controller::Flagger => {
                let target = str_at(object, "/spec/targetRef/name")?;
                Some(format!("{target}-primary"))
            }
            Controller::ArgoRollouts => {
                let name = str_at(object, "/metadata/name")?;
                let stable = str_at(object, "/status/stableRS").filter(|s| !s.is_empty())?;
                Some(format!("{name}-{stable}"))
            }
        }
    }
}

/// What the controller's object says.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The rollout of `revision` failed: put back what the cluster serves.
    Revert(Box<Revert>),
    /// The last rollout succeeded: a later failure of any revision is news again.
    Succeeded,
    /// Neither (still progressing, waiting, or never started): nothing to do.
    Neither { phase: String },
}

/// A failed rollout and the images the cluster kept serving.
#[derive(Debug, Clone, PartialEq)]
pub struct Revert {
    /// The failed revision, as the controller names it (a Canary's `lastAppliedSpec`, a
    /// Rollout's `currentPodHash`): one revert per workload and revision.
    pub revision: String,
    /// Container name → image the cluster serves (the primary's, or the stable ReplicaSet's).
    pub stable: BTreeMap<String, String>,
    /// Container name → image that failed (the Canary's or Rollout's own template).
    pub failed: BTreeMap<String, String>,
    /// What the controller said, for the PR: its message and failed checks.
    pub evidence: Evidence,
}

/// Why the objects cannot be read as a failed rollout with a stable version to go back to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{kind} {id} failed, but the cluster serves no stable version to revert to: {why}")]
    NoStable {
        kind: &'static str,
        id: String,
        why: String,
    },
}

/// The objects a decision reads: the controller's, the one the cluster serves (the primary
/// Deployment or the stable ReplicaSet; `None` when there is none), and the one that holds
/// the failed version (Flagger's target Deployment; a Rollout holds its own).
#[derive(Debug, Default)]
pub struct Objects {
    pub object: Value,
    pub serving: Option<Value>,
    pub failing: Option<Value>,
}

/// Decides from what the cluster holds.
pub fn decide(controller: Controller, objects: &Objects) -> Result<Decision, Error> {
    let Objects {
        object,
        serving,
        failing,
    } = objects;
    let id = format!(
        "{}/{}",
        str_at(object, "/metadata/namespace").unwrap_or(""),
        str_at(object, "/metadata/name").unwrap_or("")
    );
    let (failed, revision, phase) = match controller {
        Controller::Flagger => flagger(object),
        Controller::ArgoRollouts => rollout(object),
    };
    let Some(revision) = failed.then_some(revision).flatten() else {
        return Ok(match phase.as_str() {
            "Succeeded" | "Healthy" => Decision::Succeeded,
            _ => Decision::Neither { phase },
        });
    };
    let no_stable = |why: &str| Error::NoStable {
        kind: controller.kind(),
        id: id.clone(),
        why: why.into(),
    };
    let serving = serving.as_ref().ok_or_else(|| match controller {
        Controller::Flagger => no_stable("its primary Deployment is not there"),
        Controller::ArgoRollouts => no_stable("its status names no stable ReplicaSet"),
    })?;
    if controller == Controller::ArgoRollouts && !owned_by(serving, object) {
        return Err(no_stable(
            "the stable ReplicaSet is not owned by this Rollout",
        ));
    }
    let stable = images(serving, "/spec/template/spec/containers");
    if stable.is_empty() {
        return Err(no_stable("the stable workload has no containers"));
    }
    let failed = images(
        failing.as_ref().unwrap_or(object),
        "/spec/template/spec/containers",
    );
    let evidence = evidence(controller, &id, object, &stable, &failed);
    Ok(Decision::Revert(Box::new(Revert {
        revision,
        stable,
        failed,
        evidence,
    })))
}

/// A Canary failed when Flagger says `Failed`; its revision is the spec it tried.
fn flagger(canary: &Value) -> (bool, Option<String>, String) {
    let phase = str_at(canary, "/status/phase").unwrap_or("").to_string();
    let revision = str_at(canary, "/status/lastAppliedSpec").map(str::to_string);
    (phase == "Failed", revision, phase)
}

/// A Rollout failed when it was aborted (`status.abort`, phase `Degraded`); its revision is
/// the pod template hash it tried, which is not the stable one.
fn rollout(rollout: &Value) -> (bool, Option<String>, String) {
    let phase = str_at(rollout, "/status/phase").unwrap_or("").to_string();
    let aborted = rollout.pointer("/status/abort").and_then(Value::as_bool) == Some(true);
    let current = str_at(rollout, "/status/currentPodHash");
    let stable = str_at(rollout, "/status/stableRS");
    let healthy_phase = if phase.is_empty() && !aborted && current.is_some() && current == stable {
        // Rollouts before v1.2 set no phase: a stable current revision is a success.
        "Healthy".to_string()
    } else {
        phase
    };
    let revision = current.filter(|c| Some(*c) != stable).map(str::to_string);
    (aborted, revision, healthy_phase)
}

/// True when `rs` names `rollout` (by uid) as its controlling owner.
fn owned_by(rs: &Value, rollout: &Value) -> bool {
    let uid = str_at(rollout, "/metadata/uid");
    rs.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|o| str_at(o, "/kind") == Some("Rollout") && uid.is_some() && str_at(o, "/uid") == uid)
}

/// Container name → image, from a pod template's containers.
fn images(object: &Value, pointer: &str) -> BTreeMap<String, String> {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((str_at(c, "/name")?.into(), str_at(c, "/image")?.into())))
        .collect()
}

/// The PR's "why": the controller's own words.
fn evidence(
    controller: Controller,
    id: &str,
    object: &Value,
    stable: &BTreeMap<String, String>,
    failed: &BTreeMap<String, String>,
) -> Evidence {
    let message = match controller {
        Controller::Flagger => condition_message(object, "Promoted"),
        Controller::ArgoRollouts => str_at(object, "/status/message")
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .or_else(|| condition_message(object, "Progressing")),
    };
    let checks = match controller {
        Controller::Flagger => object
            .pointer("/status/failedChecks")
            .and_then(Value::as_u64)
            .map(|n| format!(" after {n} failed checks")),
        Controller::ArgoRollouts => {
            analysis_run(object).map(|r| format!(" (analysis run `{}`)", code(&r)))
        }
    }
    .unwrap_or_default();
    let message = message
        .map(|m| format!(": {}", code_span(&m)))
        .unwrap_or_default();
    let pairs = |m: &BTreeMap<String, String>| {
        m.values()
            .map(|i| format!("`{}`", code(i)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from = if failed.is_empty() {
        String::new()
    } else {
        format!(" from {}", pairs(failed))
    };
    let line = format!(
        "{} `{}` failed{checks}{message}; the cluster kept serving {}, so the Env repo goes back{from} to it",
        controller.kind(),
        code(id),
        pairs(stable),
    );
    Evidence {
        verdict: Verdict::Rollback,
        line,
        ..Evidence::given()
    }
}

/// The message of the status condition of `kind`.
fn condition_message(object: &Value, kind: &str) -> Option<String> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| str_at(c, "/type") == Some(kind))
        .and_then(|c| str_at(c, "/message"))
        .filter(|m| !m.is_empty())
        .map(str::to_string)
}

/// The analysis run that failed a Rollout's step or background analysis.
fn analysis_run(rollout: &Value) -> Option<String> {
    [
        "currentStepAnalysisRunStatus",
        "currentBackgroundAnalysisRunStatus",
    ]
    .iter()
    .filter_map(|k| rollout.pointer(&format!("/status/canary/{k}")))
    .find(|s| str_at(s, "/status") == Some("Failed") || str_at(s, "/status") == Some("Error"))
    .and_then(|s| str_at(s, "/name"))
    .map(str::to_string)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Text from the cluster, made safe inside a Markdown code span: no backtick, no line break,
/// cut to a readable length.
fn code(s: &str) -> String {
    s.chars()
        .take(MAX_MESSAGE)
        .map(|c| if c == '`' || c.is_control() { '\'' } else { c })
        .collect()
}

/// A message from the cluster as a code span (reviewers see it verbatim, nothing renders).
fn code_span(s: &str) -> String {
    format!("`{}`", code(s))
}

/// The variables a revert's edits and PR text may use: `${stable.image}` (the only, or
/// first, container's), `${stable.image.NAME}`, `${stable.tag}`, `${stable.tag.NAME}`,
/// `${failed.image}`, `${failed.image.NAME}`, `${workload.kind}`, `${workload.name}`,
/// `${workload.namespace}`, `${revision}`.
pub fn vars(
    controller: Controller,
    namespace: &str,
    name: &str,
    r: &Revert,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (prefix, images) in [("stable", &r.stable), ("failed", &r.failed)] {
        for (i, (container, image)) in images.iter().enumerate() {
            let tag = tag(image).to_string();
            if i == 0 {
                out.insert(format!("{prefix}.image"), image.clone());
                out.insert(format!("{prefix}.tag"), tag.clone());
            }
            out.insert(format!("{prefix}.image.{container}"), image.clone());
            out.insert(format!("{prefix}.tag.{container}"), tag);
        }
    }
    out.insert("workload.kind".into(), controller.kind().into());
    out.insert("workload.namespace".into(), namespace.into());
    out.insert("workload.name".into(), name.into());
    out.insert("revision".into(), r.revision.clone());
    out
}

/// An image reference's tag (`repo/app:1.2` → `1.2`), or its digest (`repo/app@sha256:…`),
/// or `latest`, as the container runtime reads a bare name.
pub fn tag(image: &str) -> &str {
    if let Some((_, digest)) = image.split_once('@') {
        return digest;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag,
        None => "latest",
    }
}

/// The revert's branch: one per workload and failed revision, inside git's rules whatever
/// the cluster's names hold (`iter8-gitops/revert/<namespace>-<name>-<revision>`).
pub fn branch(namespace: &str, name: &str, revision: &str) -> String {
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(max)
            .collect::<String>()
            .trim_matches('-')
            .to_string()
    };
    format!(
        "iter8-gitops/revert/{}-{}-{}",
        clean(namespace, 63),
        clean(name, 63),
        clean(revision, 40)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canary(phase: &str) -> Value {
        json!({
            "apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test", "uid": "u1"},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                     "template": null},
            "status": {"phase": phase, "failedChecks": 10, "lastAppliedSpec": "5d8f9c7b6",
                "conditions": [{"type": "Promoted", "status": "False", "reason": "Failed",
                    "message": "Canary analysis failed, Deployment scaled to zero."}]}
        })
    }

    fn deployment(image: &str) -> Value {
        json!({"metadata": {"name": "podinfo-primary", "namespace": "test"},
               "spec": {"template": {"spec": {"containers": [{"name": "podinfod", "image": image}]}}}})
    }

    #[test]
    fn a_failed_canary_reverts_to_what_the_primary_serves() {
        let d = decide(
            Controller::Flagger,
            &Objects {
                object: canary("Failed"),
                serving: Some(deployment("ghcr.io/stefanprodan/podinfo:6.0.0")),
                failing: Some(deployment("ghcr.io/stefanprodan/podinfo:6.0.1")),
            },
        )
        .unwrap();
        let Decision::Revert(r) = d else {
            panic!("{d:?}")
        };
        assert_eq!(r.revision, "5d8f9c7b6");
        assert_eq!(r.stable["podinfod"], "ghcr.io/stefanprodan/podinfo:6.0.0");
        assert_eq!(r.evidence.verdict, Verdict::Rollback);
        assert!(
            r.evidence.line.contains("after 10 failed checks"),
            "{}",
            r.evidence.line
        );
        assert!(
            r.evidence.line.contains("Canary analysis failed"),
            "{}",
            r.evidence.line
        );
        assert!(
            r.evidence
                .line
                .contains("from `ghcr.io/stefanprodan/podinfo:6.0.1`"),
            "{}",
            r.evidence.line
        );
        let v = vars(Controller::Flagger, "test", "podinfo", &r);
        assert_eq!(v["stable.tag"], "6.0.0");
        assert_eq!(
            v["stable.image.podinfod"],
            "ghcr.io/stefanprodan/podinfo:6.0.0"
        );
    }

    #[test]
    fn a_canary_that_did_not_fail_is_not_reverted() {
        let only = |c| Objects {
            object: c,
            ..Objects::default()
        };
        let ok = decide(Controller::Flagger, &only(canary("Succeeded"))).unwrap();
        assert_eq!(ok, Decision::Succeeded);
        let going = decide(Controller::Flagger, &only(canary("Progressing"))).unwrap();
        assert_eq!(
            going,
            Decision::Neither {
                phase: "Progressing".into()
            }
        );
    }

    #[test]
    fn a_failed_canary_without_its_primary_is_an_error_not_a_guess() {
        let failed = Objects {
            object: canary("Failed"),
            ..Objects::default()
        };
        let e = decide(Controller::Flagger, &failed).unwrap_err();
        assert!(e.to_string().contains("primary Deployment"), "{e}");
    }

    #[test]
    fn a_stable_replicaset_of_another_rollout_is_refused() {
        let rollout = json!({"metadata": {"name": "r", "namespace": "n", "uid": "mine"},
            "status": {"abort": true, "phase": "Degraded", "currentPodHash": "b", "stableRS": "a"}});
        let rs = json!({"metadata": {"ownerReferences": [{"kind": "Rollout", "uid": "other"}]},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}});
        let objects = Objects {
            object: rollout,
            serving: Some(rs),
            failing: None,
        };
        let e = decide(Controller::ArgoRollouts, &objects).unwrap_err();
        assert!(e.to_string().contains("not owned"), "{e}");
    }

    #[test]
    fn text_from_the_cluster_cannot_break_out_of_its_code_span() {
        let mut c = canary("Failed");
        c["status"]["conditions"][0]["message"] = json!("`**x**`\n# heading");
        let objects = Objects {
            object: c,
            serving: Some(deployment("a:1")),
            failing: None,
        };
        let Decision::Revert(r) = decide(Controller::Flagger, &objects).unwrap() else {
            panic!()
        };
        assert!(!r.evidence.line.contains('\n'));
        assert!(
            r.evidence.line.contains("`'**x**''# heading`"),
            "{}",
            r.evidence.line
        );
    }

    #[test]
    fn tags_and_branches() {
        assert_eq!(tag("ghcr.io/a/b:1.2"), "1.2");
        assert_eq!(tag("localhost:5000/b"), "latest");
        assert_eq!(tag("b@sha256:00"), "sha256:00");
        assert_eq!(
            branch("test", "pod.info", "5d8f..9c~^:"),
            "iter8-gitops/revert/test-pod-info-5d8f--9c"
        );
        assert!(crate::plan::names::BranchName::parse(&branch("-", "..", "@{")).is_ok());
    }
}
