//! A fake kube-apiserver for the calls the tool makes, following
//! `shared/contracts/kubernetes/`: Bearer auth, Secret GET, Experiment GET, legacy discovery
//! (the real `/api`, `/api/v1`, `/apis` documents, plus `networking.istio.io` built from the
//! VirtualService CRD), and server-side apply PATCH, which it rejects without
//! `Content-Type: application/apply-patch+yaml` or without `fieldManager`, as the real one does.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use base64::Engine;
use serde_json::{Value, json};

use crate::server::{Req, Resp, Server, Tls};

/// Objects the fake holds, by `group/version/namespace/plural/name`.
type Store = Arc<Mutex<BTreeMap<String, Value>>>;

/// The fake API server.
pub struct KubeFake {
    pub server: Server,
    store: Store,
    ca_pem: String,
    token: String,
    dir: tempfile::TempDir,
}

const ISTIO_GROUP: &str = "networking.istio.io";

impl KubeFake {
    /// Starts the fake; clients must send `Authorization: Bearer <token>`.
    pub fn start(tls: &Tls, token: &str) -> KubeFake {
        let store: Store = Arc::default();
        let (s, t) = (store.clone(), token.to_string());
        let server = Server::start(tls, move |req| handle(req, &t, &s));
        KubeFake {
            server,
            store,
            ca_pem: tls.ca_pem.clone(),
            token: token.into(),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Writes a kubeconfig for this server (namespace `default`) and returns its path.
    pub fn kubeconfig(&self) -> PathBuf {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\n\
users:\n- name: fake\n  user:\n    token: {}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
current-context: fake\n",
            self.server.base_url(),
            self.token
        );
        let path = self.dir.path().join("kubeconfig");
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// Adds a Secret with string `data`.
    pub fn add_secret(&self, ns: &str, name: &str, data: &[(&str, &str)]) {
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
                )
            })
            .collect();
        let obj = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": "Opaque", "data": data});
        self.store
            .lock()
            .unwrap()
            .insert(key("", "v1", ns, "secrets", name), obj);
    }

    /// Adds an Iter8 Experiment.
    pub fn add_experiment(&self, ns: &str, name: &str, obj: Value) {
        self.store
            .lock()
            .unwrap()
            .insert(key("iter8.tools", "v2alpha2", ns, "experiments", name), obj);
    }

    /// The object stored under `group/version`, namespace, plural and name.
    pub fn get(
        &self,
        group: &str,
        version: &str,
        ns: &str,
        plural: &str,
        name: &str,
    ) -> Option<Value> {
        self.store
            .lock()
            .unwrap()
            .get(&key(group, version, ns, plural, name))
            .cloned()
    }
}

fn key(group: &str, version: &str, ns: &str, plural: &str, name: &str) -> String {
    format!("{group}/{version}/{ns}/{plural}/{name}")
}

fn status(code: u16, reason: &str, message: &str) -> Resp {
    Resp::json(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}),
    )
}

fn contract(name: &str) -> Value {
    let path = crate::shared_dir()
        .join("contracts/kubernetes/discovery")
        .join(name);
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("contract JSON")
}

/// `/apis`: the real group list plus the groups CRDs add.
fn apis() -> Value {
    let mut v = contract("apis.json");
    let groups = v["groups"].as_array_mut().expect("groups");
    let gv = |g: &str, vers: &[&str]| {
        json!({"name": g, "preferredVersion": {"groupVersion": format!("{g}/{}", vers[0]), "version": vers[0]},
            "versions": vers.iter().map(|x| json!({"groupVersion": format!("{g}/{x}"), "version": x})).collect::<Vec<_>>()})
    };
    groups.push(gv(ISTIO_GROUP, &["v1", "v1beta1", "v1alpha3"]));
    groups.push(gv("iter8.tools", &["v2alpha2"]));
    v
}

/// The APIResourceList of a group version the fake serves, or None (404).
fn resource_list(group: &str, version: &str) -> Option<Value> {
    let gv = format!("{group}/{version}");
    let verbs = json!([
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch"
    ]);
    let res = |name: &str, kind: &str, short: Value, cats: Value| json!({"name": name, "singularName": "", "namespaced": true, "kind": kind, "verbs": verbs, "shortNames": short, "categories": cats});
    let resources = match (group, version) {
        // From shared/contracts/istio/virtualservice.crd.yaml: served v1, v1beta1, v1alpha3.
        (ISTIO_GROUP, "v1" | "v1beta1" | "v1alpha3") => {
            vec![res(
                "virtualservices",
                "VirtualService",
                json!(["vs"]),
                json!(["istio-io", "networking-istio-io"]),
            )]
        }
        ("iter8.tools", "v2alpha2") => vec![res("experiments", "Experiment", json!([]), json!([]))],
        ("apps", "v1") => vec![res(
            "deployments",
            "Deployment",
            json!(["deploy"]),
            json!(["all"]),
        )],
        _ => return None,
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn handle(req: &Req, token: &str, store: &Store) -> Resp {
    if req.header("authorization") != Some(&format!("Bearer {token}")) {
        return status(401, "Unauthorized", "Unauthorized");
    }
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["api"]) => Resp::json(200, &contract("api.json")),
        ("GET", ["api", "v1"]) => Resp::json(200, &contract("api__v1.json")),
        ("GET", ["apis"]) => Resp::json(200, &apis()),
        ("GET", ["apis", g, v]) => match resource_list(g, v) {
            Some(l) => Resp::json(200, &l),
            None => status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        },
        ("GET", ["api", "v1", "namespaces", ns, plural, name]) => {
            get(store, "", "v1", ns, plural, name)
        }
        ("GET", ["apis", g, v, "namespaces", ns, plural, name]) => {
            get(store, g, v, ns, plural, name)
        }
        ("PATCH", ["apis", g, v, "namespaces", ns, plural, name]) => {
            apply(req, store, g, v, ns, plural, name)
        }
        ("PATCH", ["api", "v1", "namespaces", ns, plural, name]) => {
            apply(req, store, "", "v1", ns, plural, name)
        }
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

fn get(store: &Store, g: &str, v: &str, ns: &str, plural: &str, name: &str) -> Resp {
    match store.lock().unwrap().get(&key(g, v, ns, plural, name)) {
        Some(obj) => Resp::json(200, obj),
        None => {
            let what = if g.is_empty() {
                plural.to_string()
            } else {
                format!("{plural}.{g}")
            };
            status(404, "NotFound", &format!("{what} \"{name}\" not found"))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn apply(req: &Req, store: &Store, g: &str, v: &str, ns: &str, plural: &str, name: &str) -> Resp {
    let ct = req.header("content-type").unwrap_or("");
    if ct != "application/apply-patch+yaml" {
        return status(
            415,
            "UnsupportedMediaType",
            &format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {ct:?})"
            ),
        );
    }
    let q = req.query_pairs();
    let Some(fm) = q.get("fieldManager").filter(|f| !f.is_empty()) else {
        return status(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        );
    };
    if resource_list(g, v).is_none() && !(g.is_empty() && v == "v1") {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    // YAML is a superset of JSON; the tool may send either.
    let Ok(mut obj) = serde_yaml_ng::from_slice::<Value>(&req.body) else {
        return status(400, "BadRequest", "error decoding YAML");
    };
    if obj.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
        return status(
            400,
            "BadRequest",
            "the name of the object does not match the name on the URL",
        );
    }
    if let Some(bns) = obj.pointer("/metadata/namespace").and_then(Value::as_str)
        && bns != ns
    {
        return status(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        );
    }
    if obj.pointer("/metadata/managedFields").is_some() {
        return status(400, "BadRequest", "metadata.managedFields must be nil");
    }
    obj["metadata"]["namespace"] = json!(ns);
    obj["metadata"]["managedFields"] = json!([{"manager": fm, "operation": "Apply", "apiVersion": format!("{g}/{v}").trim_start_matches('/')}]);
    let force = q.get("force").map(String::as_str) == Some("true");
    let mut s = store.lock().unwrap();
    let k = key(g, v, ns, plural, name);
    let created = !s.contains_key(&k);
    if let Some(old) = s.get(&k)
        && !force
        && old
            .pointer("/metadata/managedFields/0/manager")
            .and_then(Value::as_str)
            != Some(fm)
    {
        return Resp::json(
            409,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Apply failed with 1 conflict: conflict with \"other\": .spec", "reason": "Conflict",
            "details": {"causes": [{"reason": "FieldManagerConflict", "message": "conflict with \"other\"", "field": ".spec"}]}, "code": 409}),
        );
    }
    s.insert(k, obj.clone());
    Resp::json(if created { 201 } else { 200 }, &obj)
}
