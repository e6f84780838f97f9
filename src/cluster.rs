//! The Kubernetes client, made once and only when a step needs it (a run with GITOPS_TOKEN,
//! GITOPS_WINNER and no GITOPS_APPLY never touches a cluster). KUBECONFIG, else the
//! in-cluster service account; timeouts on every request.

use std::time::Duration;

use tokio::sync::OnceCell;

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Kubernetes configuration found (KUBECONFIG, ~/.kube/config or the in-cluster service account); run inside the cluster or set KUBECONFIG"
)]
pub struct NoCluster(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// A lazily made client and the namespace its configuration names.
pub struct Cluster {
    cell: OnceCell<(kube::Client, String)>,
    timeout: Duration,
}

impl Cluster {
    /// Nothing is read until [`Cluster::client`] is called.
    pub fn new(timeout: Duration) -> Self {
        Cluster {
            cell: OnceCell::new(),
            timeout,
        }
    }

    /// The client and the configuration's default namespace.
    pub async fn client(&self) -> Result<&(kube::Client, String), NoCluster> {
        self.cell
            .get_or_try_init(|| async {
                let mut config = kube::Config::infer()
                    .await
                    .map_err(|e| NoCluster(Box::new(e)))?;
                config.connect_timeout = Some(self.timeout);
                config.read_timeout = Some(self.timeout);
                config.write_timeout = Some(self.timeout);
                let ns = config.default_namespace.clone();
                let client = kube::Client::try_from(config).map_err(|e| NoCluster(Box::new(e)))?;
                Ok((client, ns))
            })
            .await
    }
}

/// True for failures worth another try: 429, 5xx, and transport faults.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        // NB: code 0 is an error body without a code (a proxy's JSON, not the API server's
        // Status): its HTTP status is lost, so it counts as transient; the retries are bounded.
        kube::Error::Api(s) => s.code == 0 || s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::HttpError(_) => true,
        _ => false,
    }
}

/// The HTTP status of an API error, if that is what `e` is.
pub fn status(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}
