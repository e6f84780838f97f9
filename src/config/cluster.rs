//! The cluster side: the run's namespace, the Experiment Iter8 ran the task for, the Argo CD
//! Application to refresh, and what may be server-side applied and under which manager.

use super::{
    args::Args,
    check::{Check, is_dns_label, is_dns_subdomain, parse_duration},
    defaults,
};
use crate::{
    kube::{argocd::ArgoApp, experiment::ExperimentRef},
    plan::admission::Policy,
};

/// The cluster part of the configuration.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Namespace of the token Secret and of applied objects (default: the Experiment's).
    pub namespace: Option<String>,
    pub experiment: Option<ExperimentRef>,
    pub argocd: Option<ArgoApp>,
    pub field_manager: String,
    /// What may be applied (GITOPS_APPLY_KINDS, GITOPS_APPLY_NAMESPACES).
    pub apply_policy: Policy,
}

/// GITOPS_NAMESPACE, EXPERIMENT_*, GITOPS_ARGOCD_*, GITOPS_FIELD_MANAGER, GITOPS_APPLY_KINDS
/// and GITOPS_APPLY_NAMESPACES.
pub(super) fn validate(c: &mut Check, a: &Args) -> Cluster {
    let namespace = c.value("GITOPS_NAMESPACE", &a.namespace);
    if let Some(ns) = &namespace
        && !is_dns_label(ns)
    {
        c.bad("GITOPS_NAMESPACE", format!("{ns:?} is not a Kubernetes namespace name (lowercase letters, digits, '-', at most 63)"));
    }
    let field_manager = c
        .value("GITOPS_FIELD_MANAGER", &a.field_manager)
        .unwrap_or_else(|| defaults::FIELD_MANAGER.into());
    if field_manager.len() > 128 || field_manager.chars().any(|ch| ch.is_control()) {
        c.bad(
            "GITOPS_FIELD_MANAGER",
            "must be at most 128 printable characters",
        );
    }
    Cluster {
        namespace,
        argocd: argocd_app(c, a),
        field_manager,
        experiment: experiment(c, a),
        apply_policy: apply_policy(c, a),
    }
}

/// EXPERIMENT_NAME and EXPERIMENT_NAMESPACE, which Iter8 sets together.
fn experiment(c: &mut Check, a: &Args) -> Option<ExperimentRef> {
    let name = c.value("EXPERIMENT_NAME", &a.experiment_name);
    let namespace = c.value("EXPERIMENT_NAMESPACE", &a.experiment_namespace);
    match (name, namespace) {
        (Some(name), Some(namespace)) => {
            if !is_dns_subdomain(&name) {
                c.bad(
                    "EXPERIMENT_NAME",
                    format!("{name:?} is not a Kubernetes object name"),
                );
            }
            if !is_dns_label(&namespace) {
                c.bad(
                    "EXPERIMENT_NAMESPACE",
                    format!("{namespace:?} is not a Kubernetes namespace name"),
                );
            }
            Some(ExperimentRef { name, namespace })
        }
        (Some(_), None) => {
            c.bad(
                "EXPERIMENT_NAMESPACE",
                "is required with EXPERIMENT_NAME (Iter8 sets both)",
            );
            None
        }
        (None, Some(_)) => {
            c.bad(
                "EXPERIMENT_NAME",
                "is required with EXPERIMENT_NAMESPACE (Iter8 sets both)",
            );
            None
        }
        (None, None) => None,
    }
}

/// GITOPS_APPLY_KINDS and GITOPS_APPLY_NAMESPACES: what may be applied.
fn apply_policy(c: &mut Check, a: &Args) -> Policy {
    let policy = Policy::parse(
        c.value("GITOPS_APPLY_KINDS", &a.apply_kinds).as_deref(),
        c.value("GITOPS_APPLY_NAMESPACES", &a.apply_namespaces)
            .as_deref(),
    )
    .unwrap_or_else(|why| {
        c.bad("GITOPS_APPLY_KINDS", why);
        Policy::default()
    });
    if let Some(ns) = &a.apply_namespaces
        && ns
            .split(',')
            .any(|n| !n.trim().is_empty() && !is_dns_label(n.trim()))
    {
        c.bad(
            "GITOPS_APPLY_NAMESPACES",
            "holds a name that is not a Kubernetes namespace name",
        );
    }
    policy
}

/// GITOPS_ARGOCD_APP (`namespace/name`) and GITOPS_ARGOCD_WAIT.
fn argocd_app(c: &mut Check, a: &Args) -> Option<ArgoApp> {
    let app = c.value("GITOPS_ARGOCD_APP", &a.argocd_app);
    let wait = match c.value("GITOPS_ARGOCD_WAIT", &a.argocd_wait) {
        Some(v) => match parse_duration(&v) {
            Some(d) => Some(d),
            None => {
                c.bad(
                    "GITOPS_ARGOCD_WAIT",
                    format!("{v:?} is not a duration; use seconds (120) or a unit (90s, 5m)"),
                );
                None
            }
        },
        None => None,
    };
    let Some(app) = app else {
        if wait.is_some() {
            c.bad(
                "GITOPS_ARGOCD_WAIT",
                "needs GITOPS_ARGOCD_APP (namespace/name of the Application to wait for)",
            );
        }
        return None;
    };
    match app.split_once('/') {
        Some((ns, name)) if is_dns_label(ns) && is_dns_subdomain(name) => Some(ArgoApp {
            namespace: ns.into(),
            name: name.into(),
            wait,
        }),
        _ => {
            c.bad(
                "GITOPS_ARGOCD_APP",
                format!("{app:?} is not namespace/name, e.g. argocd/bookinfo"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_experiment_needs_both_names_and_argo_cd_is_namespace_slash_name() {
        let table: &[(Args, &[&str])] = &[
            (Args::default(), &[]),
            (
                Args {
                    experiment_name: Some("exp".into()),
                    experiment_namespace: Some("default".into()),
                    argocd_app: Some("argocd/bookinfo".into()),
                    argocd_wait: Some("2m".into()),
                    ..Args::default()
                },
                &[],
            ),
            (
                Args {
                    experiment_name: Some("exp".into()),
                    ..Args::default()
                },
                &["EXPERIMENT_NAMESPACE"],
            ),
            (
                Args {
                    argocd_app: Some("bookinfo".into()),
                    ..Args::default()
                },
                &["GITOPS_ARGOCD_APP"],
            ),
            (
                Args {
                    argocd_wait: Some("2m".into()),
                    ..Args::default()
                },
                &["GITOPS_ARGOCD_WAIT"],
            ),
            (
                Args {
                    namespace: Some("Prod".into()),
                    apply_namespaces: Some("ok,Not_OK".into()),
                    ..Args::default()
                },
                &["GITOPS_NAMESPACE", "GITOPS_APPLY_NAMESPACES"],
            ),
        ];
        for (a, want) in table {
            let mut c = Check { problems: vec![] };
            validate(&mut c, a);
            let got: Vec<_> = c.problems.iter().map(|p| p.input.as_str()).collect();
            assert_eq!(got, *want, "{a:?}");
        }
    }
}
