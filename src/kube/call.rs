//! One Kubernetes API call as every part of `kube/` makes it: retried while the failure is
//! transient, then classified the way each caller reports it (not found, refused, other).

use std::future::Future;

use crate::{kube::cluster, retry};

/// How a call that did not succeed failed.
#[derive(Debug)]
pub enum Failure {
    /// 404: the object (or its kind) is not there; the error for callers that report it.
    NotFound(kube::Error),
    /// 401 or 403: the run's account may not do this; the status is kept for the message.
    Forbidden(u16),
    /// Anything else, once retries are spent.
    Other(kube::Error),
}

/// Runs `op` with the shared retry policy and classifies what it ended with.
pub async fn call<T, F, Fut>(what: &'static str, op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    retry::retry(what, op, cluster::is_transient, |_| None)
        .await
        .map_err(classify)
}

/// What a failed call's error says, for callers that poll rather than retry.
pub fn classify(e: kube::Error) -> Failure {
    match cluster::status(&e) {
        Some(404) => Failure::NotFound(e),
        Some(s @ (401 | 403)) => Failure::Forbidden(s),
        _ => Failure::Other(e),
    }
}

/// Why [`get`] got no object.
#[derive(Debug)]
pub enum Missing {
    NoCluster(cluster::NoCluster),
    Failed(Failure),
}

/// The API of one kind, `(group, version, kind, plural)`, in `namespace`.
pub async fn namespaced(
    cluster: &cluster::Cluster,
    (group, version, kind, plural): (&str, &str, &str, &str),
    namespace: &str,
) -> Result<kube::Api<kube::api::DynamicObject>, Missing> {
    let (client, _) = cluster.client().await.map_err(Missing::NoCluster)?;
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, plural);
    Ok(kube::Api::namespaced_with(client.clone(), namespace, &ar))
}

/// One namespaced object of any kind, as JSON: the GET the readers of `kube/` share (one
/// retry loop for all of them in the binary).
pub async fn get(
    cluster: &cluster::Cluster,
    what: (&str, &str, &str, &str),
    namespace: &str,
    name: &str,
) -> Result<serde_json::Value, Missing> {
    let api = namespaced(cluster, what, namespace).await?;
    let obj = call("read object", || api.get(name))
        .await
        .map_err(Missing::Failed)?;
    Ok(serde_json::to_value(&obj).expect("a DynamicObject serializes to JSON"))
}

/// Server-side apply of `body` as `manager`, forced: the one PATCH the writers of `kube/`
/// share (one retry loop for all of them in the binary).
pub async fn apply(
    api: &kube::Api<kube::api::DynamicObject>,
    name: &str,
    body: &serde_json::Value,
    manager: &str,
) -> Result<(), Failure> {
    let params = kube::api::PatchParams::apply(manager).force();
    let patch = kube::api::Patch::Apply(body);
    call("apply", || api.patch(name, &params, &patch))
        .await
        .map(|_| ())
}
