//! Kubernetes Events (`events.k8s.io/v1`) on the Experiment (finish) or the Argo CD Application
//! (start), so `kubectl describe` tells what the run did. Best effort: an Event that cannot be
//! posted is a warning in the report, never a failed run.

use k8s_openapi::{
    api::{core::v1::ObjectReference, events::v1::Event},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};

use crate::kube::{
    call::{Failure, call},
    cluster::Cluster,
};

/// Who the Events are reported by (`reportingController`).
pub const CONTROLLER: &str = "iter8.tools/iter8-gitops";

/// The object an Event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regarding {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub uid: Option<String>,
}

/// One Event to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `Normal` or `Warning`.
    pub warning: bool,
    /// What the tool did (`Promote`, `Start`).
    pub action: &'static str,
    /// Why, in CamelCase (`Promoted`, `NothingToDo`, `Failed`…).
    pub reason: &'static str,
    /// For people; cut to the API's 1 kB.
    pub note: String,
}

/// The Event object for `outcome` on `on`, at `now`.
pub fn event(on: &Regarding, outcome: &Outcome, now: Timestamp) -> Event {
    let instance = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "iter8-gitops".into());
    Event {
        metadata: ObjectMeta {
            // `name.` + a server-made suffix, as kubectl's own events are named.
            generate_name: Some(format!("{}.", on.name)),
            namespace: Some(on.namespace.clone()),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(now)),
        reporting_controller: Some(CONTROLLER.into()),
        reporting_instance: Some(instance.chars().take(128).collect()),
        action: Some(outcome.action.into()),
        reason: Some(outcome.reason.into()),
        note: Some(crate::text::truncate(&outcome.note, 1024).to_string()),
        type_: Some(if outcome.warning { "Warning" } else { "Normal" }.into()),
        regarding: Some(ObjectReference {
            api_version: Some(on.api_version.clone()),
            kind: Some(on.kind.clone()),
            name: Some(on.name.clone()),
            namespace: Some(on.namespace.clone()),
            uid: on.uid.clone(),
            ..ObjectReference::default()
        }),
        ..Event::default()
    }
}

/// Posts the Event; returns a warning to report when it could not be posted.
pub async fn post(cluster: &Cluster, on: &Regarding, outcome: &Outcome) -> Option<String> {
    let result = async {
        let (client, _) = cluster.client().await.map_err(|e| e.to_string())?;
        let api: kube::Api<Event> = kube::Api::namespaced(client.clone(), &on.namespace);
        let ev = event(on, outcome, Timestamp::now());
        let params = kube::api::PostParams::default();
        call("post event", || api.create(&params, &ev))
            .await
            .map_err(|f| match f {
                Failure::Forbidden(s) => format!(
                    "the cluster refused it ({s}); let the Job's ServiceAccount create events.k8s.io Events in {}",
                    on.namespace
                ),
                Failure::NotFound(e) | Failure::Other(e) => e.to_string(),
            })
    }
    .await;
    match result {
        Ok(_) => {
            tracing::info!(kind = %on.kind, name = %on.name, reason = outcome.reason, "event posted");
            None
        }
        Err(e) => {
            let w = format!(
                "the {} Event on {} {}/{} was not posted: {e}",
                outcome.reason, on.kind, on.namespace, on.name
            );
            tracing::warn!("{w}");
            Some(w)
        }
    }
}
