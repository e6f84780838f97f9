//! The cluster: the Kubernetes API calls of a run (reads, server-side apply, Argo CD refresh,
//! Events) over one client built from the in-cluster account or a kubeconfig.

pub mod apply;
pub mod argocd;
pub mod call;
pub mod cluster;
pub mod events;
pub mod experiment;
pub mod kubeconfig;
pub mod secret;
