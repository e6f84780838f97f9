//! The cluster: the Kubernetes API calls of a run (reads, server-side apply, Argo CD refresh,
//! Events) over one client built from the in-cluster account or a kubeconfig.

pub(crate) mod apply;
pub(crate) mod argocd;
pub(crate) mod call;
pub(crate) mod cluster;
pub(crate) mod events;
pub(crate) mod experiment;
pub(crate) mod holds;
pub(crate) mod kubeconfig;
pub mod secret;
pub(crate) mod workload;
