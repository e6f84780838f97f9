//! A fake kube-apiserver for the calls the tool makes, following
//! `shared/contracts/kubernetes/`: Bearer auth, Secret GET, Experiment GET, legacy discovery
//! (the real `/api`, `/api/v1`, `/apis` documents, plus `networking.istio.io` built from the
//! VirtualService CRD), and server-side apply PATCH, which it rejects without
//! `Content-Type: application/apply-patch+yaml` or without `fieldManager`, as the real one does.
//! It also serves Argo CD Applications (GET, and JSON merge PATCH, with a status a test scripts
//! over time) and `events.k8s.io/v1` Event creation, validated as the API server validates it.

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

/// Scripts an Application's `status` from the stored object, at each GET.
type StatusScript = Box<dyn FnMut(&Value) -> Value + Send>;
type Scripts = Arc<Mutex<BTreeMap<String, StatusScript>>>;

const ARGO_GROUP: &str = "argoproj.io";

/// The fake API server.
pub struct KubeFake {
    pub server: Server,
    store: Store,
    scripts: Scripts,
    ca_pem: String,
    token: String,
    dir: tempfile::TempDir,
}

const ISTIO_GROUP: &str = "networking.istio.io";

impl KubeFake {
    /// Starts the fake; clients must send `Authorization: Bearer <token>`.
    pub fn start(tls: &Tls, token: &str) -> KubeFake {
        let store: Store = Arc::default();
        let scripts: Scripts = Arc::default();
        let (s, sc, t) = (store.clone(), scripts.clone(), token.to_string());
        let server = Server::start(tls, move |req| handle(req, &t, &s, &sc));
        KubeFake {
            server,
            store,
            scripts,
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

    /// Adds an Argo CD Application whose `status` is `script(app)` at each GET (the app as
    /// stored, with the annotations the tool patched).
    pub fn add_application(
        &self,
        ns: &str,
        name: &str,
        script: impl FnMut(&Value) -> Value + Send + 'static,
    ) {
        let k = key(ARGO_GROUP, "v1alpha1", ns, "applications", name);
        let obj = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}")},
            "spec": {"project": "default"}, "status": {}});
        self.store.lock().unwrap().insert(k.clone(), obj);
        self.scripts.lock().unwrap().insert(k, Box::new(script));
    }

    /// Adds a Flagger Canary, an Argo Rollouts Rollout, a Deployment or a ReplicaSet, as the
    /// API server would take it: refused (panics, with the problems) when its CRD's schema or
    /// the published type does not accept it, its unknown fields pruned.
    pub fn add_workload(&self, mut obj: Value) {
        let problems = crate::crd::problems(&mut obj);
        assert!(
            problems.is_empty(),
            "the API server would refuse it: {problems:?}"
        );
        let (group, version) = match obj["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .split_once('/')
        {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (
                String::new(),
                obj["apiVersion"].as_str().unwrap_or_default().to_string(),
            ),
        };
        let plural = match obj["kind"].as_str().unwrap_or_default() {
            "Canary" => "canaries",
            "Rollout" => "rollouts",
            "Deployment" => "deployments",
            "ReplicaSet" => "replicasets",
            other => panic!("the fake does not serve {other}"),
        };
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .expect("a namespace")
            .to_string();
        let name = obj["metadata"]["name"]
            .as_str()
            .expect("a name")
            .to_string();
        self.store
            .lock()
            .unwrap()
            .insert(key(&group, &version, &ns, plural, &name), obj);
    }

    /// Every Event created, oldest first.
    pub fn events(&self) -> Vec<Value> {
        let mut events: Vec<Value> = self
            .store
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("events.k8s.io/"))
            .map(|(_, v)| v.clone())
            .collect();
        events.sort_by_key(|e| {
            e["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
        });
        events
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
        (ARGO_GROUP, "v1alpha1") => vec![res(
            "applications",
            "Application",
            json!(["app", "apps"]),
            json!(["argo"]),
        )],
        ("events.k8s.io", "v1") => vec![res("events", "Event", json!(["ev"]), json!([]))],
        // What a hostile apply file would reach for: cluster-wide and namespaced RBAC.
        ("rbac.authorization.k8s.io", "v1") => {
            let cluster = |name: &str, kind: &str| {
                let mut r = res(name, kind, json!([]), json!([]));
                r["namespaced"] = json!(false);
                r
            };
            vec![
                cluster("clusterrolebindings", "ClusterRoleBinding"),
                cluster("clusterroles", "ClusterRole"),
                res("rolebindings", "RoleBinding", json!([]), json!([])),
                res("roles", "Role", json!([]), json!([])),
            ]
        }
        _ => return None,
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn handle(req: &Req, token: &str, store: &Store, scripts: &Scripts) -> Resp {
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
            let k = key(g, v, ns, plural, name);
            if let Some(script) = scripts.lock().unwrap().get_mut(&k) {
                let mut s = store.lock().unwrap();
                if let Some(obj) = s.get(&k).cloned() {
                    let status = script(&obj);
                    s.get_mut(&k).expect("just read")["status"] = status;
                }
            }
            get(store, g, v, ns, plural, name)
        }
        ("PATCH", ["apis", g, v, "namespaces", ns, plural, name])
            if req.header("content-type") == Some("application/merge-patch+json") =>
        {
            merge_patch(req, store, &key(g, v, ns, plural, name), name)
        }
        ("PATCH", ["apis", g, v, "namespaces", ns, plural, name]) => {
            apply(req, store, g, v, ns, plural, name)
        }
        ("POST", ["apis", "events.k8s.io", "v1", "namespaces", ns, "events"]) => {
            create_event(req, store, ns)
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

/// JSON merge patch (RFC 7386) on a stored object.
fn merge_patch(req: &Req, store: &Store, k: &str, name: &str) -> Resp {
    let Ok(patch) = serde_json::from_slice::<Value>(&req.body) else {
        return status(400, "BadRequest", "error decoding patch: invalid JSON");
    };
    let mut s = store.lock().unwrap();
    let Some(obj) = s.get_mut(k) else {
        return status(404, "NotFound", &format!("\"{name}\" not found"));
    };
    fn merge(target: &mut Value, patch: &Value) {
        match patch {
            Value::Object(p) => {
                if !target.is_object() {
                    *target = json!({});
                }
                let t = target.as_object_mut().expect("made an object");
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            other => *target = other.clone(),
        }
    }
    merge(obj, &patch);
    Resp::json(200, obj)
}

/// `POST events.k8s.io/v1 events`, with the API server's create validation: eventTime,
/// reportingController, reportingInstance, action and reason are required; type is Normal or
/// Warning; the note is at most 1 kB; a `generateName` gets a suffix.
fn create_event(req: &Req, store: &Store, ns: &str) -> Resp {
    let Ok(mut ev) = serde_json::from_slice::<Value>(&req.body) else {
        return status(400, "BadRequest", "error decoding JSON");
    };
    let mut causes = vec![];
    for field in [
        "eventTime",
        "reportingController",
        "reportingInstance",
        "action",
        "reason",
    ] {
        if ev
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(format!("{field}: Required value"));
        }
    }
    if !matches!(
        ev.get("type").and_then(Value::as_str),
        Some("Normal" | "Warning")
    ) {
        causes.push("type: Unsupported value: must be Normal or Warning".to_string());
    }
    if ev
        .get("note")
        .and_then(Value::as_str)
        .is_some_and(|n| n.len() > 1024)
    {
        causes.push("note: Too long: may not be more than 1024 bytes".to_string());
    }
    if ev
        .pointer("/regarding/name")
        .and_then(Value::as_str)
        .is_none()
    {
        causes.push("regarding.name: Required value".to_string());
    }
    if !causes.is_empty() {
        return status(
            422,
            "Invalid",
            &format!("Event.events.k8s.io is invalid: {}", causes.join(", ")),
        );
    }
    let mut s = store.lock().unwrap();
    let n = s.len() as u64 + 1;
    let name = match ev.pointer("/metadata/name").and_then(Value::as_str) {
        Some(name) => name.to_string(),
        None => match ev.pointer("/metadata/generateName").and_then(Value::as_str) {
            Some(prefix) => format!("{prefix}{n:05x}"),
            None => {
                return status(
                    422,
                    "Invalid",
                    "metadata.name: Required value: name or generateName is required",
                );
            }
        },
    };
    ev["metadata"]["name"] = json!(name);
    ev["metadata"]["namespace"] = json!(ns);
    ev["metadata"]["resourceVersion"] = json!(n.to_string());
    s.insert(key("events.k8s.io", "v1", ns, "events", &name), ev.clone());
    Resp::json(201, &ev)
}
