//! Argo CD, told about a change instead of finding it within 3 minutes: after a push to the
//! synced branch, annotate the Application `argocd.argoproj.io/refresh=normal` (a JSON merge
//! patch; Argo CD removes the annotation when it has refreshed), and, when asked, wait until it
//! reports the pushed commit as Synced and Healthy.

use std::time::{Duration, Instant};

use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::kube::{
    call::{Failure, call, classify},
    cluster::Cluster,
    events::Regarding,
};

/// An Argo CD Application to refresh (and maybe wait for) after a push to the synced branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgoApp {
    pub namespace: String,
    pub name: String,
    pub wait: Option<std::time::Duration>,
}

/// Why Argo CD could not be told, or did not get there in time.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the Argo CD Application {app}")]
    NoCluster {
        app: String,
        #[source]
        source: crate::kube::cluster::NoCluster,
    },
    #[error(
        "the Argo CD Application {app} could not be refreshed (HTTP {status}); check GITOPS_ARGOCD_APP and that the task may get and patch applications.argoproj.io there"
    )]
    Refused { app: String, status: u16 },
    #[error("the Argo CD Application {app} could not be read or patched")]
    Api {
        app: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "the Argo CD Application {app} did not reach Synced and Healthy at {revision} within GITOPS_ARGOCD_WAIT ({}s); last seen: {last}",
        .waited.as_secs()
    )]
    NotSynced {
        app: String,
        revision: String,
        waited: Duration,
        last: String,
    },
}

fn api(client: &kube::Client, app: &ArgoApp) -> kube::Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "applications");
    kube::Api::namespaced_with(client.clone(), &app.namespace, &ar)
}

fn name(app: &ArgoApp) -> String {
    format!("{}/{}", app.namespace, app.name)
}

fn api_error(app: &ArgoApp, f: Failure) -> Error {
    match f {
        Failure::NotFound(_) => Error::Refused {
            app: name(app),
            status: 404,
        },
        Failure::Forbidden(status) => Error::Refused {
            app: name(app),
            status,
        },
        Failure::Other(source) => Error::Api {
            app: name(app),
            source,
        },
    }
}

/// Asks Argo CD to refresh the Application now. Returns what Events about it should regard.
pub async fn refresh(cluster: &Cluster, app: &ArgoApp) -> Result<Regarding, Error> {
    let (client, _) = cluster.client().await.map_err(|source| Error::NoCluster {
        app: name(app),
        source,
    })?;
    let api = api(client, app);
    let patch = Patch::Merge(
        json!({"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}),
    );
    let params = PatchParams::default();
    let obj = call("refresh argo cd application", || {
        api.patch(&app.name, &params, &patch)
    })
    .await
    .map_err(|f| api_error(app, f))?;
    tracing::info!(app = %name(app), "asked Argo CD to refresh");
    Ok(Regarding {
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        name: app.name.clone(),
        namespace: app.namespace.clone(),
        uid: obj.metadata.uid,
    })
}

/// Sync status, revision and health as Argo CD reports them.
pub fn state(obj: &Value) -> (String, String, String) {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string()
    };
    (
        s("/status/sync/status"),
        s("/status/sync/revision"),
        s("/status/health/status"),
    )
}

/// Waits until the Application is Synced and Healthy at `revision`, polling.
pub async fn wait(
    cluster: &Cluster,
    app: &ArgoApp,
    revision: &str,
    within: Duration,
) -> Result<(), Error> {
    let (client, _) = cluster.client().await.map_err(|source| Error::NoCluster {
        app: name(app),
        source,
    })?;
    let api = api(client, app);
    let started = Instant::now();
    let mut last;
    let mut n = 0;
    loop {
        match api.get(&app.name).await {
            Ok(obj) => {
                let v = serde_json::to_value(&obj).unwrap_or_default();
                let (sync, rev, health) = state(&v);
                // A host may name the commit abbreviated; Argo CD gives it whole.
                let at =
                    rev.len() >= revision.len() && revision.len() >= 7 && rev.starts_with(revision);
                if sync == "Synced" && at && health == "Healthy" {
                    tracing::info!(app = %name(app), revision, "Argo CD synced the change and it is healthy");
                    return Ok(());
                }
                last = format!("sync {sync} at {rev}, health {health}");
            }
            // A blip while waiting is not the answer; the deadline is.
            Err(e) if crate::kube::cluster::is_transient(&e) => last = format!("error: {e}"),
            Err(e) => return Err(api_error(app, classify(e))),
        }
        let pause = Duration::from_millis(500 * (1 << n.min(3)));
        n += 1;
        if started.elapsed() + pause > within {
            return Err(Error::NotSynced {
                app: name(app),
                revision: revision.into(),
                waited: within,
                last,
            });
        }
        tokio::time::sleep(pause).await;
    }
}
