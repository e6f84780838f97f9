//! What the operator allows to be server-side applied. Pure: no I/O.
//!
//! The apply files are read from the Env repo, so whoever can merge there chooses what they
//! hold; the task's RBAC is the operator's. Without this, a repo file could apply a
//! ClusterRoleBinding, or a Secret in kube-system, with whatever the task's service account
//! may do. So an object is applied only when its kind is on GITOPS_APPLY_KINDS (default: the
//! Istio networking kinds the tutorial applies), it lands in the run's namespace (or one of
//! GITOPS_APPLY_NAMESPACES), and, for a cluster-scoped kind, when that kind is named on
//! GITOPS_APPLY_KINDS by itself, not through a `*`.

/// The default GITOPS_APPLY_KINDS: what the tutorial applies (a VirtualService), and its kin.
pub const DEFAULT_KINDS: &str = "*.networking.istio.io";

/// One entry of GITOPS_APPLY_KINDS: `Kind.group`, `*.group`, `Kind` (the core group) or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KindPattern {
    /// `None` for `*`.
    kind: Option<String>,
    /// `None` for any group (the lone `*`); `Some("")` for the core group.
    group: Option<String>,
}

/// The kinds and namespaces that may be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    kinds: Vec<KindPattern>,
    namespaces: Vec<String>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::parse(None, None).expect("the defaults parse")
    }
}

/// Why an object may not be applied; the message says which variable would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Policy {
    /// Reads GITOPS_APPLY_KINDS and GITOPS_APPLY_NAMESPACES (unset: the defaults).
    pub fn parse(kinds: Option<&str>, namespaces: Option<&str>) -> Result<Policy, String> {
        let mut out = vec![];
        for k in list(kinds.unwrap_or(DEFAULT_KINDS)) {
            let (kind, group) = match k.split_once('.') {
                Some((kind, group)) => (kind, Some(group.to_string())),
                None if k == "*" => ("*", None),
                None => (k, Some(String::new())),
            };
            let kind_ok = kind == "*" || kind.chars().all(|c| c.is_ascii_alphanumeric());
            if kind.is_empty() || !kind_ok || group.as_deref().is_some_and(|g| g.contains('*')) {
                return Err(format!(
                    "{k:?} is not Kind.group, *.group or Kind (e.g. VirtualService.networking.istio.io, *.networking.istio.io, ConfigMap)"
                ));
            }
            out.push(KindPattern {
                kind: (kind != "*").then(|| kind.to_string()),
                group,
            });
        }
        Ok(Policy {
            kinds: out,
            namespaces: list(namespaces.unwrap_or("")).map(String::from).collect(),
        })
    }

    /// May `kind` of `api_version` be applied at all?
    pub fn admit_kind(&self, api_version: &str, kind: &str) -> Result<(), Refusal> {
        if self.kinds.iter().any(|p| matches(p, api_version, kind)) {
            return Ok(());
        }
        Err(Refusal(format!(
            "kind {} is not on GITOPS_APPLY_KINDS ({}); the operator adds {} to it to allow it",
            name(api_version, kind),
            self.kinds_text(),
            name(api_version, kind),
        )))
    }

    /// May an object of this kind land where it says? `namespace` is its `metadata.namespace`
    /// (`None`: it takes the run's), `target` the run's namespace, `cluster_scoped` what
    /// discovery says of the kind.
    pub fn admit_place(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        target: Option<&str>,
        cluster_scoped: bool,
    ) -> Result<(), Refusal> {
        if cluster_scoped {
            let named = self
                .kinds
                .iter()
                .any(|p| p.kind.as_deref() == Some(kind) && matches(p, api_version, kind));
            return if named {
                Ok(())
            } else {
                Err(Refusal(format!(
                    "{} is cluster-scoped; it is applied only when GITOPS_APPLY_KINDS names it by itself ({}), not through a *",
                    name(api_version, kind),
                    name(api_version, kind)
                )))
            };
        }
        match namespace {
            None => Ok(()),
            Some(ns) if Some(ns) == target || self.namespaces.iter().any(|n| n == ns) => Ok(()),
            Some(ns) => Err(Refusal(format!(
                "its metadata.namespace {ns:?} is not the run's namespace ({}); the operator adds {ns} to GITOPS_APPLY_NAMESPACES to allow it",
                target.unwrap_or("unknown")
            ))),
        }
    }

    fn kinds_text(&self) -> String {
        self.kinds
            .iter()
            .map(|p| match (&p.kind, &p.group) {
                (None, None) => "*".to_string(),
                (k, Some(g)) if g.is_empty() => k.clone().unwrap_or("*".into()),
                (k, Some(g)) => format!("{}.{g}", k.as_deref().unwrap_or("*")),
                (Some(k), None) => k.clone(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

fn matches(p: &KindPattern, api_version: &str, kind: &str) -> bool {
    p.kind.as_deref().is_none_or(|k| k == kind)
        && p.group
            .as_deref()
            .is_none_or(|g| g == group_of(api_version))
}

/// `Kind.group`, or `Kind` for the core group, as GITOPS_APPLY_KINDS spells it.
fn name(api_version: &str, kind: &str) -> String {
    match group_of(api_version) {
        "" => kind.to_string(),
        g => format!("{kind}.{g}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VS: (&str, &str) = ("networking.istio.io/v1alpha3", "VirtualService");

    #[test]
    fn by_default_only_istio_networking_kinds_in_the_runs_namespace() {
        let p = Policy::default();
        assert!(p.admit_kind(VS.0, VS.1).is_ok());
        assert!(
            p.admit_kind("networking.istio.io/v1", "DestinationRule")
                .is_ok()
        );
        let e = p.admit_kind("v1", "Secret").unwrap_err();
        assert!(
            e.0.contains("kind Secret is not on GITOPS_APPLY_KINDS (*.networking.istio.io)"),
            "{e:?}"
        );
        let e = p
            .admit_kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
            .unwrap_err();
        assert!(
            e.0.contains("adds ClusterRoleBinding.rbac.authorization.k8s.io"),
            "{e:?}"
        );
        assert!(
            p.admit_place(VS.0, VS.1, None, Some("default"), false)
                .is_ok()
        );
        assert!(
            p.admit_place(VS.0, VS.1, Some("default"), Some("default"), false)
                .is_ok()
        );
        let e = p
            .admit_place(VS.0, VS.1, Some("kube-system"), Some("default"), false)
            .unwrap_err();
        assert!(
            e.0.contains("\"kube-system\" is not the run's namespace (default)"),
            "{e:?}"
        );
    }

    #[test]
    fn the_operator_widens_kinds_and_namespaces_and_names_cluster_scoped_kinds() {
        let p = Policy::parse(
            Some("*.networking.istio.io, ConfigMap, Namespace, *"),
            Some("istio-system"),
        )
        .unwrap();
        assert!(p.admit_kind("v1", "ConfigMap").is_ok());
        assert!(
            p.admit_kind("apps/v1", "Deployment").is_ok(),
            "the lone * is any kind"
        );
        assert!(
            p.admit_place(VS.0, VS.1, Some("istio-system"), Some("default"), false)
                .is_ok()
        );
        assert!(
            p.admit_place("v1", "Namespace", None, Some("default"), true)
                .is_ok()
        );
        let e = p
            .admit_place(
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
                None,
                Some("default"),
                true,
            )
            .unwrap_err();
        assert!(e.0.contains("is cluster-scoped"), "{e:?}");
        for bad in [
            "Virtual Service",
            ".networking.istio.io",
            "VirtualService.*",
        ] {
            assert!(Policy::parse(Some(bad), None).is_err(), "{bad}");
        }
    }
}
