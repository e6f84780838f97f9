//! The receiver's memory of the reverts it has made: a ConfigMap of its own
//! (`iter8-gitops-receiver-holds` in its namespace), one key per workload
//! (`canary.test.podinfo`) whose value is the failed revision it reverted. Kept in the cluster,
//! not in the Env repo or the process: a revert PR a person closed (and its branch deleted) is
//! not proposed again after a restart, and a revert cut off before its PR is finished by the
//! next start.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::kube::{
    call::{self, Failure, Missing, get},
    cluster::Cluster,
};

/// The ConfigMap's name (task-spec/receiver.yaml creates it, and its Role names it).
pub const NAME: &str = "iter8-gitops-receiver-holds";
/// Who writes it (server-side apply's field manager).
const MANAGER: &str = "iter8-gitops-receiver";
const CONFIGMAP: (&str, &str, &str, &str) = ("", "v1", "ConfigMap", "configmaps");

/// Why the holds cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the receiver's ConfigMap {NAME:?} in namespace {namespace:?} cannot be {what} ({why}); create it and grant the receiver `get` and `patch` on it (task-spec/receiver.yaml)"
)]
pub struct Error {
    namespace: String,
    what: &'static str,
    why: String,
}

/// The holds, by key; none when the ConfigMap is not there yet.
pub async fn read(cluster: &Cluster, namespace: &str) -> Result<BTreeMap<String, String>, Error> {
    let cm = match get(cluster, CONFIGMAP, namespace, NAME).await {
        Ok(cm) => cm,
        Err(Missing::Failed(Failure::NotFound(_))) => return Ok(BTreeMap::new()),
        Err(m) => return Err(error(namespace, "read", m)),
    };
    Ok(cm
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect())
}

/// Writes the holds, all of them (server-side apply: a key left out is removed).
pub async fn write(
    cluster: &Cluster,
    namespace: &str,
    holds: &BTreeMap<String, String>,
) -> Result<(), Error> {
    let api = call::namespaced(cluster, CONFIGMAP, namespace)
        .await
        .map_err(|m| error(namespace, "written", m))?;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": namespace}, "data": holds});
    call::apply(&api, NAME, &body, MANAGER)
        .await
        .map_err(|f| error(namespace, "written", Missing::Failed(f)))
}

fn error(namespace: &str, what: &'static str, m: Missing) -> Error {
    let why = match m {
        Missing::NoCluster(e) => e.to_string(),
        Missing::Failed(Failure::Forbidden(status)) => format!("HTTP {status}"),
        Missing::Failed(Failure::NotFound(e) | Failure::Other(e)) => e.to_string(),
    };
    Error {
        namespace: namespace.into(),
        what,
        why,
    }
}
