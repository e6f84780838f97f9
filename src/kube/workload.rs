//! A workload a progressive-delivery controller runs, read from the API server by the
//! receiver itself (a webhook only points at it): the Flagger Canary or Argo Rollouts Rollout,
//! and the object the cluster serves while its rollout is not promoted (the Canary's primary
//! Deployment, the Rollout's stable ReplicaSet). [`crate::plan::revert`] decides from them.

use serde_json::Value;

use crate::{
    kube::{
        call::{self, Failure, Missing},
        cluster::Cluster,
    },
    plan::revert::{Controller, Objects},
};

/// A workload the operator listed (a promotion file target's `workload`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadRef {
    pub controller: Controller,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for WorkloadRef {
    /// `Canary test/podinfo`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.controller.kind(),
            self.namespace,
            self.name
        )
    }
}

/// Why the workload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {what}")]
    NoCluster {
        what: String,
        #[source]
        source: crate::kube::cluster::NoCluster,
    },
    #[error("{what} is not in the cluster; check the promotion file's workload")]
    NotFound { what: String },
    #[error(
        "not allowed to read {what} (HTTP {status}); grant the receiver's ServiceAccount `get` on it (task-spec/receiver.yaml)"
    )]
    Forbidden { what: String, status: u16 },
    #[error("reading {what} failed")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

/// The controller's object, the object it serves and the one with the failed version (each
/// `None` when its status names none or it is not there).
pub async fn read(cluster: &Cluster, w: &WorkloadRef) -> Result<Objects, Error> {
    let (group, version, plural) = match w.controller {
        Controller::Flagger => ("flagger.app", "v1beta1", "canaries"),
        Controller::ArgoRollouts => ("argoproj.io", "v1alpha1", "rollouts"),
    };
    let kind = w.controller.kind();
    let object = get(
        cluster,
        (group, version, kind, plural),
        &w.namespace,
        &w.name,
    )
    .await?
    .ok_or_else(|| Error::NotFound {
        what: w.to_string(),
    })?;
    let serving = match w.controller.serving(&object) {
        None => None,
        Some(name) => {
            let what = match w.controller {
                Controller::Flagger => DEPLOYMENT,
                Controller::ArgoRollouts => ("apps", "v1", "ReplicaSet", "replicasets"),
            };
            get(cluster, what, &w.namespace, &name).await?
        }
    };
    let failing = match w.controller.failing(&object) {
        Some(name) if serving.is_some() => get(cluster, DEPLOYMENT, &w.namespace, &name).await?,
        _ => None,
    };
    Ok(Objects {
        object,
        serving,
        failing,
    })
}

const DEPLOYMENT: (&str, &str, &str, &str) = ("apps", "v1", "Deployment", "deployments");

/// One object as JSON; `None` when it is not there.
async fn get(
    cluster: &Cluster,
    what: (&str, &str, &str, &str),
    namespace: &str,
    name: &str,
) -> Result<Option<Value>, Error> {
    let label = format!("{} {namespace}/{name}", what.2);
    match call::get(cluster, what, namespace, name).await {
        Ok(v) => Ok(Some(v)),
        Err(Missing::Failed(Failure::NotFound(_))) => Ok(None),
        Err(Missing::NoCluster(source)) => Err(Error::NoCluster {
            what: label,
            source,
        }),
        Err(Missing::Failed(Failure::Forbidden(status))) => Err(Error::Forbidden {
            what: label,
            status,
        }),
        Err(Missing::Failed(Failure::Other(source))) => Err(Error::Api {
            what: label,
            source,
        }),
    }
}
