//! Server-side apply of the planned objects: discovery resolves each kind before anything is
//! written (an unknown kind fails the run before the push), then each object is applied with
//! one field manager and `force`, which makes a rerun converge.

use std::collections::HashMap;

use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind},
    discovery::Scope,
};

use crate::{
    kube::{
        call::{self, Failure},
        cluster::Cluster,
    },
    plan::{Object, admission::Policy},
};

/// An object resolved against the cluster's discovery, ready to apply.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub object: Object,
    pub resource: ApiResource,
    /// The namespace it goes to; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
}

/// What was applied, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Why an object cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot apply {file}")]
    NoCluster {
        file: String,
        #[source]
        source: crate::kube::cluster::NoCluster,
    },
    #[error(
        "{file}: the cluster does not serve kind {kind:?} in {api_version:?}; install its CRD or fix apiVersion/kind"
    )]
    UnknownKind {
        file: String,
        api_version: String,
        kind: String,
    },
    #[error("{file}: discovery of {api_version:?} failed")]
    Discovery {
        file: String,
        api_version: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "{file}: {kind} {name:?} is namespaced but no namespace is known; set GITOPS_NAMESPACE or metadata.namespace"
    )]
    NoNamespace {
        file: String,
        kind: String,
        name: String,
    },
    #[error(
        "not allowed to apply {kind} {name:?} in namespace {namespace:?} (HTTP {status}); grant the task's service account `patch` and `create` on it"
    )]
    Forbidden {
        kind: String,
        name: String,
        namespace: String,
        status: u16,
    },
    #[error("{file}: {kind} {name:?} is not applied: {reason}")]
    Refused {
        file: String,
        kind: String,
        name: String,
        reason: String,
    },
    #[error("server-side apply of {kind} {name:?} in namespace {namespace:?} failed")]
    Patch {
        kind: String,
        name: String,
        namespace: String,
        #[source]
        source: kube::Error,
    },
}

/// Resolves every object's kind (one discovery request per group/version) and namespace,
/// and refuses what `policy` does not allow (kind, namespace, cluster scope).
pub async fn resolve(
    cluster: &Cluster,
    objects: Vec<Object>,
    default_ns: Option<&str>,
    policy: &Policy,
) -> Result<Vec<Resolved>, Error> {
    if objects.is_empty() {
        return Ok(vec![]);
    }
    let file0 = objects[0].file.to_string();
    let (client, kube_ns) = cluster.client().await.map_err(|source| Error::NoCluster {
        file: file0,
        source,
    })?;
    let mut cache: HashMap<(String, String), (ApiResource, Scope)> = HashMap::new();
    let mut out = vec![];
    for o in objects {
        let key = (o.api_version.clone(), o.kind.clone());
        if !cache.contains_key(&key) {
            cache.insert(key.clone(), discover(client, &o).await?);
        }
        let (resource, scope) = cache[&key].clone();
        let namespace = place(&o, scope, default_ns, kube_ns, policy)?;
        out.push(Resolved {
            object: o,
            resource,
            namespace,
        });
    }
    Ok(out)
}

/// The resource and scope of `o`'s kind, from discovery (one request per group/version).
async fn discover(client: &kube::Client, o: &Object) -> Result<(ApiResource, Scope), Error> {
    let (group, version) = match o.api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", o.api_version.as_str()),
    };
    let gvk = GroupVersionKind::gvk(group, version, &o.kind);
    let found = crate::retry::retry(
        "discovery",
        || kube::discovery::pinned_kind(client, &gvk),
        |e| crate::kube::cluster::is_transient(e) && crate::kube::cluster::status(e) != Some(404),
        |_| None,
    )
    .await;
    let unknown = || Error::UnknownKind {
        file: o.file.to_string(),
        api_version: o.api_version.clone(),
        kind: o.kind.clone(),
    };
    match found {
        Ok((ar, caps)) => Ok((ar, caps.scope)),
        Err(e) if crate::kube::cluster::status(&e) == Some(404) => Err(unknown()),
        // kube reports "kind not in this group/version" as a discovery error of its own.
        Err(kube::Error::Discovery(_)) => Err(unknown()),
        Err(e) => Err(Error::Discovery {
            file: o.file.to_string(),
            api_version: o.api_version.clone(),
            source: e,
        }),
    }
}

/// Where `o` goes (`None`: cluster-scoped), once the policy admits its kind and place.
// The module's one error type, as `resolve` returns it; boxed at the crate's boundary.
#[allow(clippy::result_large_err)]
fn place(
    o: &Object,
    scope: Scope,
    default_ns: Option<&str>,
    kube_ns: &str,
    policy: &Policy,
) -> Result<Option<String>, Error> {
    let target = default_ns.or((!kube_ns.is_empty()).then_some(kube_ns));
    policy
        .admit_kind(&o.api_version, &o.kind)
        .and_then(|()| {
            policy.admit_place(
                &o.api_version,
                &o.kind,
                o.namespace.as_deref(),
                target,
                scope == Scope::Cluster,
            )
        })
        .map_err(|r| Error::Refused {
            file: o.file.to_string(),
            kind: o.kind.clone(),
            name: o.name.clone(),
            reason: r.0,
        })?;
    match scope {
        Scope::Cluster => Ok(None),
        Scope::Namespaced => o
            .namespace
            .clone()
            .or_else(|| target.map(str::to_string))
            .map(Some)
            .ok_or_else(|| Error::NoNamespace {
                file: o.file.to_string(),
                kind: o.kind.clone(),
                name: o.name.clone(),
            }),
    }
}

impl Error {
    /// True when the operator's policy refused the object (the Env repo's fault: exit 5).
    pub fn is_refused(&self) -> bool {
        matches!(self, Error::Refused { .. })
    }
}

/// Applies every resolved object with `field_manager` and `force`.
pub async fn apply(
    cluster: &Cluster,
    objects: &[Resolved],
    field_manager: &str,
) -> Result<Vec<Applied>, Error> {
    let mut applied = vec![];
    for r in objects {
        let o = &r.object;
        let (client, _) = cluster.client().await.map_err(|source| Error::NoCluster {
            file: o.file.to_string(),
            source,
        })?;
        let api: Api<DynamicObject> = match &r.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &r.resource),
            None => Api::all_with(client.clone(), &r.resource),
        };
        // One object's tree at a time (see `plan::Object::body`).
        let mut body: serde_json::Value =
            serde_json::from_str(o.body.get()).expect("the body is JSON the planner wrote");
        if let Some(ns) = &r.namespace {
            body["metadata"]["namespace"] = serde_json::Value::String(ns.clone());
        }
        let ns_label = r.namespace.clone().unwrap_or_default();
        call::apply(&api, &o.name, &body, field_manager)
            .await
            .map_err(|f| match f {
                Failure::Forbidden(status) => Error::Forbidden {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    namespace: ns_label.clone(),
                    status,
                },
                Failure::NotFound(source) | Failure::Other(source) => Error::Patch {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    namespace: ns_label.clone(),
                    source,
                },
            })?;
        tracing::info!(kind = %o.kind, name = %o.name, namespace = %ns_label, "applied");
        applied.push(Applied {
            api_version: o.api_version.clone(),
            kind: o.kind.clone(),
            name: o.name.clone(),
            namespace: r.namespace.clone(),
        });
    }
    Ok(applied)
}
