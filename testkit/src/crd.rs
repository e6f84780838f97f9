//! What the API server checks of a custom resource: its CRD's structural schema
//! (`openAPIV3Schema`: types, required fields, enums), from the CRDs committed under
//! `tests/fixtures/controllers/` as the projects publish them. Unknown fields are pruned, as
//! the API server prunes them (unless the schema preserves them), not refused. A Deployment or ReplicaSet is checked against the published Go
//! types as k8s-openapi carries them.

use std::path::PathBuf;

use serde_json::Value;

/// The committed CRD file for `kind`, if the fake knows it.
fn crd_file(kind: &str) -> Option<PathBuf> {
    let name = match kind {
        "Canary" => "flagger-canary-crd.yaml",
        "Rollout" => "argo-rollouts-rollout-crd.yaml",
        _ => return None,
    };
    Some(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/controllers")
            .join(name),
    )
}

/// The problems the API server would refuse `obj` for (empty: it is accepted), its unknown
/// fields pruned.
pub fn problems(obj: &mut Value) -> Vec<String> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    match kind {
        "Deployment" => typed::<k8s_openapi::api::apps::v1::Deployment>(obj),
        "ReplicaSet" => typed::<k8s_openapi::api::apps::v1::ReplicaSet>(obj),
        _ => match crd_file(kind) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let crd: Value = serde_yaml_ng::from_str(&text).expect("a CRD");
                let version = api_version.rsplit('/').next().unwrap_or_default();
                let Some(schema) = crd["spec"]["versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|v| v["name"] == version && v["served"] == true)
                    .map(|v| v["schema"]["openAPIV3Schema"].clone())
                else {
                    return vec![format!("{api_version} is not a served version of {kind}")];
                };
                let mut out = vec![];
                check(&schema, obj, "", &mut out);
                out
            }
            None => vec![format!("the fake does not know the kind {kind:?}")],
        },
    }
}

fn typed<T: serde::de::DeserializeOwned>(obj: &Value) -> Vec<String> {
    match serde_json::from_value::<T>(obj.clone()) {
        Ok(_) => vec![],
        Err(e) => vec![e.to_string()],
    }
}

/// Checks `v` against a structural schema node, as the API server validates a custom
/// resource; problems are pushed with their field path.
fn check(schema: &Value, v: &mut Value, at: &str, out: &mut Vec<String>) {
    if schema["x-kubernetes-int-or-string"] == true {
        if !(v.is_i64() || v.is_u64() || v.is_string()) {
            out.push(format!("{at}: must be an integer or a string"));
        }
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(v)
    {
        out.push(format!("{at}: {v} is not one of {allowed:?}"));
    }
    let type_ok = match schema["type"].as_str() {
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        _ => true,
    };
    if !type_ok && !v.is_null() {
        out.push(format!("{at}: {v} is not of type {}", schema["type"]));
        return;
    }
    if let (Some(items), Some(list)) = (schema.get("items"), v.as_array_mut()) {
        for (i, item) in list.iter_mut().enumerate() {
            check(items, item, &format!("{at}[{i}]"), out);
        }
    }
    let Some(fields) = v.as_object_mut() else {
        return;
    };
    for r in schema["required"].as_array().into_iter().flatten() {
        if let Some(r) = r.as_str().filter(|r| !fields.contains_key(*r)) {
            out.push(format!("{at}.{r}: Required value"));
        }
    }
    let props = schema["properties"].as_object();
    let extra = schema.get("additionalProperties");
    let open = schema["x-kubernetes-preserve-unknown-fields"] == true
        || (props.is_none() && extra.is_none());
    let mut unknown = vec![];
    for (k, field) in fields.iter_mut() {
        let path = format!("{at}.{k}");
        // Metadata is the API server's own: not in the CRD's schema.
        if at.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match (props.and_then(|p| p.get(k)), extra) {
            (Some(s), _) => check(s, field, &path, out),
            (None, Some(s)) if s.is_object() => check(s, field, &path, out),
            (None, _) if open => {}
            (None, _) => unknown.push(k.clone()),
        }
    }
    for k in unknown {
        fields.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_published_examples_pass_and_a_wrong_type_does_not() {
        let canary: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../tests/fixtures/controllers/flagger-istio-canary.yaml"),
            )
            .unwrap(),
        )
        .unwrap();
        let mut ok = canary.clone();
        assert_eq!(problems(&mut ok), Vec::<String>::new());
        let mut bad = canary.clone();
        bad["spec"]["analysis"]["threshold"] = json!("ten");
        bad["spec"]["nonsense"] = json!(1);
        let p = problems(&mut bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            bad["spec"].get("nonsense").is_none(),
            "unknown fields are pruned"
        );
        let mut no_target = canary;
        no_target["spec"]
            .as_object_mut()
            .unwrap()
            .remove("targetRef");
        assert!(problems(&mut no_target)[0].contains("targetRef: Required"));
    }
}
