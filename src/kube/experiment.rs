//! Experiment context: when GITOPS_WINNER is not given, read the Iter8 Experiment
//! (`iter8.tools/v2alpha2`) and take the version it recommends for promotion. Reading is I/O;
//! [`winner`] is the pure part.

use serde_json::Value;

use crate::kube::{
    call::{Failure, Missing, get},
    cluster::Cluster,
};

/// The Experiment that Iter8 ran the task for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentRef {
    /// `metadata.name`
    pub name: String,
    /// `metadata.namespace`
    pub namespace: String,
}

impl std::fmt::Display for ExperimentRef {
    /// `namespace/name`, as kubectl names it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The recommended version and what its variables say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Winner {
    /// The version's name (`spec.versionInfo.*.name`).
    pub version: String,
    /// The winner's manifest (the variable named by GITOPS_WINNER_VARIABLE).
    pub file: String,
    /// The version's `namespace` variable, if any.
    pub namespace: Option<String>,
    /// The Experiment's uid, for Events about it.
    pub uid: Option<String>,
    /// Every variable of the winning version (for `${winner.variables.NAME}`).
    pub variables: std::collections::BTreeMap<String, String>,
}

/// Why the Experiment gives no winner.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read Experiment {name:?} in namespace {namespace:?}")]
    NoCluster {
        name: String,
        namespace: String,
        #[source]
        source: crate::kube::cluster::NoCluster,
    },
    #[error(
        "Experiment {name:?} not found in namespace {namespace:?}; check EXPERIMENT_NAME and EXPERIMENT_NAMESPACE"
    )]
    NotFound { name: String, namespace: String },
    #[error(
        "not allowed to read Experiment {name:?} in namespace {namespace:?} (HTTP {status}); grant `get` on experiments.iter8.tools"
    )]
    Forbidden {
        name: String,
        namespace: String,
        status: u16,
    },
    #[error("reading Experiment {name:?} in namespace {namespace:?} failed")]
    Api {
        name: String,
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "Experiment {name:?} has no status.versionRecommendedForPromotion yet; run this as a finish action, after the experiment completes"
    )]
    NotReady { name: String },
    #[error("Experiment {name:?} recommends version {version:?}, which is not in spec.versionInfo")]
    UnknownVersion { name: String, version: String },
    #[error(
        "Experiment {name:?}: version {version:?} has no variable {variable:?}; add it to the version's variables or set GITOPS_WINNER"
    )]
    NoVariable {
        name: String,
        version: String,
        variable: String,
    },
}

/// Finds the recommended version of `exp` (an Experiment as JSON) and its `variable` (the
/// winner's file; `""` when the caller needs no file, as a promotion file's edits do not).
pub fn winner(name: &str, exp: &Value, variable: &str) -> Result<Winner, Error> {
    let version = exp
        .pointer("/status/versionRecommendedForPromotion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::NotReady { name: name.into() })?;
    let info = exp.pointer("/spec/versionInfo");
    let baseline = info.and_then(|i| i.get("baseline")).into_iter();
    let candidates = info
        .and_then(|i| i.get("candidates"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let detail = baseline
        .chain(candidates)
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
        .ok_or_else(|| Error::UnknownVersion {
            name: name.into(),
            version: version.into(),
        })?;
    let var = |key: &str| {
        detail
            .get("variables")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|v| {
                (v.get("name").and_then(Value::as_str) == Some(key))
                    .then(|| v.get("value").and_then(Value::as_str))
                    .flatten()
            })
    };
    let file = if variable.is_empty() {
        ""
    } else {
        var(variable)
            .filter(|f| !f.is_empty())
            .ok_or_else(|| Error::NoVariable {
                name: name.into(),
                version: version.into(),
                variable: variable.into(),
            })?
    };
    let variables = detail
        .get("variables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some((
                v.get("name")?.as_str()?.to_string(),
                v.get("value")?.as_str()?.to_string(),
            ))
        })
        .collect();
    Ok(Winner {
        uid: None,
        variables,
        version: version.into(),
        file: file.into(),
        namespace: var("namespace").map(str::to_string),
    })
}

/// Reads the Experiment and finds its winner; the Experiment itself comes back too, for the
/// evidence the PR shows.
pub async fn read(
    cluster: &Cluster,
    exp: &ExperimentRef,
    variable: &str,
) -> Result<(Winner, Value), Error> {
    let (name, namespace) = (exp.name.clone(), exp.namespace.clone());
    let what = ("iter8.tools", "v2alpha2", "Experiment", "experiments");
    let value = get(cluster, what, &namespace, &name)
        .await
        .map_err(|m| match m {
            Missing::NoCluster(source) => Error::NoCluster {
                name: name.clone(),
                namespace: namespace.clone(),
                source,
            },
            Missing::Failed(Failure::NotFound(_)) => Error::NotFound {
                name: name.clone(),
                namespace: namespace.clone(),
            },
            Missing::Failed(Failure::Forbidden(status)) => Error::Forbidden {
                name: name.clone(),
                namespace: namespace.clone(),
                status,
            },
            Missing::Failed(Failure::Other(source)) => Error::Api {
                name: name.clone(),
                namespace: namespace.clone(),
                source,
            },
        })?;
    let mut w = winner(&name, &value, variable)?;
    w.uid = value
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok((w, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exp(recommended: Option<&str>) -> Value {
        let mut e = json!({
            "spec": {"versionInfo": {
                "baseline": {"name": "productpage-stable", "variables": [
                    {"name": "namespace", "value": "default"}, {"name": "filepath", "value": "productpage.yaml"}]},
                "candidates": [{"name": "productpage-candidate", "variables": [
                    {"name": "namespace", "value": "bookinfo"}, {"name": "filepath", "value": "productpage-candidate.yaml"}]}]
            }},
            "status": {}
        });
        if let Some(r) = recommended {
            e["status"]["versionRecommendedForPromotion"] = json!(r);
        }
        e
    }

    #[test]
    fn the_recommended_candidate_gives_its_file_and_namespace() {
        let w = winner(
            "gitops-exp",
            &exp(Some("productpage-candidate")),
            "filepath",
        )
        .unwrap();
        assert_eq!(
            w,
            Winner {
                version: "productpage-candidate".into(),
                file: "productpage-candidate.yaml".into(),
                namespace: Some("bookinfo".into()),
                uid: None,
                variables: [
                    ("namespace".to_string(), "bookinfo".to_string()),
                    (
                        "filepath".to_string(),
                        "productpage-candidate.yaml".to_string()
                    )
                ]
                .into(),
            }
        );
    }

    #[test]
    fn a_rollback_recommends_the_baseline() {
        assert_eq!(
            winner("e", &exp(Some("productpage-stable")), "filepath")
                .unwrap()
                .file,
            "productpage.yaml"
        );
    }

    #[test]
    fn no_recommendation_is_not_ready() {
        let err = winner("gitops-exp", &exp(None), "filepath").unwrap_err();
        assert!(matches!(err, Error::NotReady { .. }));
        assert!(err.to_string().contains("finish action"));
    }

    #[test]
    fn unknown_versions_and_variables_are_named() {
        assert!(matches!(
            winner("e", &exp(Some("ghost")), "filepath").unwrap_err(),
            Error::UnknownVersion { .. }
        ));
        assert!(
            matches!(winner("e", &exp(Some("productpage-stable")), "path").unwrap_err(), Error::NoVariable { variable, .. } if variable == "path")
        );
    }
}
