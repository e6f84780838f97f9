//! task-spec/: the contract with Iter8 and Kubernetes. Every file is parsed with the types the
//! cluster uses, so a typo fails CI instead of a rollout.

use std::path::{Path, PathBuf};

use k8s_openapi::api::{
    batch::v1::Job,
    core::v1::{ConfigMap, ServiceAccount},
    rbac::v1::{Role, RoleBinding},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

fn spec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("task-spec")
        .join(name)
}

fn docs(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// Parses `v` as `T` and checks that nothing was dropped on the way: k8s-openapi ignores
/// unknown fields, so a misspelt field would otherwise vanish silently.
fn typed<T: DeserializeOwned + Serialize>(v: &Value) -> T {
    let t: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
    let back = serde_json::to_value(&t).unwrap();
    assert_same(v, &back, "");
    t
}

fn assert_same(want: &Value, got: &Value, path: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or_else(|| {
                    panic!("field {path}.{k} is not part of the type (a typo?)")
                });
                assert_same(wv, gv, &format!("{path}.{k}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{path}");
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                assert_same(wv, gv, &format!("{path}[{i}]"));
            }
        }
        // Quantities and int-or-string values come back typed; compare their text.
        (w, g) => assert_eq!(
            w.to_string().trim_matches('"'),
            g.to_string().trim_matches('"'),
            "{path}"
        ),
    }
}

#[test]
fn schema_json_is_generated_from_the_config_code() {
    let generated =
        serde_json::to_string_pretty(&iter8_gitops::config::schema::schema()).unwrap() + "\n";
    let path = spec("schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "task-spec/schema.json is stale: run `UPDATE_SCHEMA=1 cargo test schema_json`"
    );
    let schema: Value = serde_json::from_str(&on_disk).unwrap();
    let props = schema["properties"].as_object().unwrap();
    for var in iter8_gitops::config::Args::variable_names() {
        assert!(
            props.contains_key(&var),
            "{var} is missing from schema.json"
        );
    }
    for var in ["EXPERIMENT_NAME", "EXPERIMENT_NAMESPACE", "GITOPS_TOKEN"] {
        assert!(props.contains_key(var), "{var}");
    }
    assert_eq!(props["GITOPS_WINNER"]["x-flag"], "--winner");
    assert_eq!(props["GITOPS_PR_BRANCH"]["default"], "iter8_exp");
    assert!(
        props["GITOPS_TOKEN"].get("x-flag").is_none(),
        "the token has no flag"
    );
}

#[test]
fn the_job_and_its_configmap_parse_and_follow_the_contract() {
    let d = docs(&spec("job.yaml"));
    let cm: ConfigMap = typed(&d[0]);
    // Every key of the ConfigMap is an input the tool knows (validated by the schema).
    let schema = serde_json::to_value(iter8_gitops::config::schema::schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let data = serde_json::to_value(cm.data.clone().unwrap()).unwrap();
    assert!(
        validator.is_valid(&data),
        "{:?}",
        validator
            .iter_errors(&data)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    // And the tool accepts it as configuration (with the Experiment the Job names).
    let job: Job = typed(&d[1]);
    let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let c = &pod.containers[0];
    let mut env: Vec<(String, String)> = cm.data.unwrap().into_iter().collect();
    env.extend(
        c.env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| (e.name.clone(), e.value.clone().unwrap())),
    );
    let args = iter8_gitops::config::Args::from_env(env).unwrap();
    iter8_gitops::config::Config::try_from(args).expect("the Job's configuration validates");

    let spec = job.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert!(spec.active_deadline_seconds.is_some() && spec.ttl_seconds_after_finished.is_some());
    let fail_fast = &spec.pod_failure_policy.as_ref().unwrap().rules[0];
    assert_eq!(fail_fast.action, "FailJob");
    assert_eq!(
        fail_fast.on_exit_codes.as_ref().unwrap().values,
        vec![1, 2, 3, 5, 12, 13, 14]
    );
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
    assert_eq!(
        pod.security_context.as_ref().unwrap().run_as_non_root,
        Some(true)
    );
    assert_eq!(
        c.termination_message_policy.as_deref(),
        Some("FallbackToLogsOnError")
    );
    assert!(
        c.resources
            .as_ref()
            .unwrap()
            .limits
            .as_ref()
            .unwrap()
            .contains_key("memory")
    );
    assert_eq!(c.volume_mounts.as_ref().unwrap()[0].mount_path, "/tmp");
}

#[test]
fn rbac_is_least_privilege_for_both_ways() {
    let d = docs(&spec("rbac.yaml"));
    let _sa: ServiceAccount = typed(&d[0]);
    let role: Role = typed(&d[1]);
    let rules = role.rules.unwrap();
    let secret = rules
        .iter()
        .find(|r| r.resources.as_deref() == Some(&["secrets".to_string()][..]))
        .unwrap();
    assert_eq!(
        secret.resource_names.as_deref(),
        Some(&["iter8-token".to_string()][..]),
        "one Secret only"
    );
    assert_eq!(secret.verbs, vec!["get"]);
    for r in &rules {
        assert!(
            !r.verbs
                .iter()
                .any(|v| v == "*" || v == "delete" || v == "list" || v == "watch"),
            "{r:?}"
        );
    }
    let bindings: Vec<RoleBinding> = d
        .iter()
        .filter(|v| v["kind"] == "RoleBinding")
        .map(typed)
        .collect();
    let subjects: Vec<String> = bindings
        .iter()
        .flat_map(|b| b.subjects.clone().unwrap())
        .map(|s| format!("{}/{}", s.namespace.unwrap(), s.name))
        .collect();
    assert!(subjects.contains(&"default/iter8-gitops".to_string()));
    assert!(subjects.contains(&"iter8-system/iter8-handlers".to_string()));
    let launcher: Role = typed(
        d.iter()
            .find(|v| v["kind"] == "Role" && v["metadata"]["name"] == "iter8-gitops-launcher")
            .unwrap(),
    );
    assert_eq!(launcher.rules.unwrap()[0].verbs, vec!["create"]);
    // Events: create only; the Argo CD Application: one, get and patch.
    assert!(rules.iter().any(|r| r.api_groups.as_deref()
        == Some(&["events.k8s.io".to_string()][..])
        && r.verbs == ["create"]));
    let argo: Role = typed(
        d.iter()
            .find(|v| v["kind"] == "Role" && v["metadata"]["name"] == "iter8-gitops-argocd")
            .unwrap(),
    );
    let app = argo
        .rules
        .unwrap()
        .into_iter()
        .find(|r| r.resources.as_deref() == Some(&["applications".to_string()][..]));
    let app = app.unwrap();
    assert_eq!(app.verbs, ["get", "patch"]);
    let (_, name, _, _) = example_app();
    assert_eq!(
        app.resource_names.as_deref(),
        Some(&[name][..]),
        "the Role names the example's Application"
    );
}

/// The example's Argo CD Application: (namespace, name, path, branch).
fn example_app() -> (String, String, String, String) {
    let app =
        &docs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bookinfo-env/argocd-app.yaml"))
            [0];
    let s = |v: &Value| v.as_str().unwrap().to_string();
    (
        s(&app["metadata"]["namespace"]),
        s(&app["metadata"]["name"]),
        s(&app["spec"]["source"]["path"]),
        s(&app["spec"]["source"]["targetRevision"]),
    )
}

/// The tutorial's files: what a user follows from a fresh clone.
fn tutorial_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        "README.md",
        "docs/inputs.md",
        "docs/hosts.md",
        "docs/pull-request.md",
        "docs/promotion-files.md",
        "docs/start.md",
        "docs/operations.md",
        "docs/security.md",
        "examples/WALKTHROUGH.md",
        "task-spec/rbac.yaml",
        "task-spec/job.yaml",
        "task-spec/experiment-finish.yaml",
        "examples/bookinfo-env/experiment.yaml",
        "examples/bookinfo-env/templates/experiment.yaml",
    ]
    .iter()
    .map(|f| {
        (
            f.to_string(),
            std::fs::read_to_string(root.join(f)).unwrap(),
        )
    })
    .collect()
}

/// Every value that follows one of `keys` in `text` (up to a quote, space, comma or end).
fn values_after<'a>(text: &'a str, keys: &[&str]) -> Vec<&'a str> {
    keys.iter()
        .flat_map(|k| {
            text.match_indices(k)
                .map(move |(i, _)| &text[i + k.len()..])
        })
        .map(|rest| {
            rest.split(['"', ' ', ',', '\n', '`', ']', ')', ':'])
                .next()
                .unwrap()
        })
        .collect()
}

#[test]
fn the_tutorials_docs_name_the_examples_application_branch_and_folder() {
    let (ns, name, path, branch) = example_app();
    let app = format!("{ns}/{name}");
    for (file, text) in tutorial_files() {
        for v in values_after(
            &text,
            &["GITOPS_ARGOCD_APP=", "GITOPS_ARGOCD_APP: ", "argocd-app="],
        )
        .into_iter()
        .filter(|v| *v != "namespace/name")
        {
            assert_eq!(v, app, "{file}: GITOPS_ARGOCD_APP");
        }
        // The tutorial's Env repo (the fork of iter8) is always the example's branch and folder.
        if text.contains("MY_ORG/iter8") {
            for v in values_after(&text, &["--dir=", "GITOPS_DIR=", "GITOPS_DIR: "]) {
                assert_eq!(v, path, "{file}: the folder");
            }
            for v in values_after(&text, &["--branch=", "GITOPS_BRANCH=", "GITOPS_BRANCH: "])
                .into_iter()
                .filter(|v| !v.is_empty() && !v.starts_with('$'))
            {
                if (file == "README.md" || file.starts_with("docs/")) && v == "main" {
                    continue; // the README's other hosts' examples
                }
                assert_eq!(v, branch, "{file}: the branch");
            }
        }
        assert!(!text.contains("application bookinfo"), "{file}");
    }
}

#[test]
fn one_image_name_everywhere_at_the_crates_version() {
    let version = env!("CARGO_PKG_VERSION");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for f in [
        "task-spec/job.yaml",
        "task-spec/receiver.yaml",
        "task-spec/experiment-finish.yaml",
        "task-spec/handler.Dockerfile",
        "examples/WALKTHROUGH.md",
        "README.md",
        "docs/inputs.md",
        "docs/hosts.md",
        "docs/operations.md",
        "Dockerfile",
    ] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        assert!(
            !text.contains("ghcr.io"),
            "{f}: the Job's files name the image you build and push (the published one is in \
             docs/release.md and the CI steps)"
        );
        for (i, _) in text.match_indices("/iter8-gitops:") {
            let start = text[..i].rfind([' ', '=', '\n', '(', '`']).unwrap() + 1;
            let end = i + text[i..].find([' ', '\n', '`', ')', '"']).unwrap();
            let image = &text[start..end];
            assert!(
                image == format!("MY_REGISTRY/iter8-gitops:{version}")
                    || image == format!("$REGISTRY/iter8-gitops:{version}"),
                "{f}: {image}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 6, "{seen}");
}

#[test]
fn the_jobs_of_both_ways_are_the_same_and_the_tool_times_out_before_them() {
    let job_yaml = docs(&spec("job.yaml"));
    let config: ConfigMap = typed(&job_yaml[0]);
    let job: Job = typed(&job_yaml[1]);
    let experiments = docs(&spec("experiment-finish.yaml"));
    let script = experiments[1]["spec"]["strategy"]["actions"]["finish"][0]["with"]["args"][1]
        .as_str()
        .unwrap();
    let start = script.find("<<EOF\n").unwrap() + "<<EOF\n".len();
    let embedded: Job =
        serde_yaml_ng::from_str(&script[start..script.rfind("EOF").unwrap()]).unwrap();
    let (mut a, mut b) = (job.spec.unwrap(), embedded.spec.unwrap());
    // What differs by design: labels, and the Experiment named in env.
    for s in [&mut a, &mut b] {
        s.template.metadata = None;
        s.template.spec.as_mut().unwrap().containers[0].env = None;
        s.template.spec.as_mut().unwrap().containers[0].resources = None;
    }
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&b).unwrap(),
        "task-spec/job.yaml and the Job of experiment-finish.yaml differ"
    );
    // The tool's own deadline comes before the Job's, so exit 9 reports what was done.
    let deadline = a.active_deadline_seconds.unwrap();
    let timeout: i64 = config.data.unwrap()["GITOPS_TIMEOUT"].parse().unwrap();
    assert!(timeout < deadline, "{timeout} < {deadline}");
    // Way (a) runs in Iter8's handler Job, whose activeDeadlineSeconds is 300 as well.
    let args =
        experiments[0]["spec"]["strategy"]["actions"]["finish"][0]["with"]["args"].to_string();
    let t: i64 = values_after(&args, &["--timeout="])[0].parse().unwrap();
    assert!(t < 300, "{t}");
}

#[test]
fn the_finish_actions_validate_against_the_experiment_crd() {
    let crd_path = testkit::shared_dir()
        .join("fixtures/iter8-crds/etc3-v0.1.27/config/crd/bases/iter8.tools_experiments.yaml");
    let crd: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(crd_path).unwrap()).unwrap();
    let schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let experiments = docs(&spec("experiment-finish.yaml"));
    assert_eq!(experiments.len(), 2);
    for e in &experiments {
        let errors: Vec<String> = validator
            .iter_errors(e)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", e["metadata"]["name"]);
        let finish = &e["spec"]["strategy"]["actions"]["finish"][0];
        assert_eq!(finish["task"], "common/exec");
    }

    // (a) Inside the handler: the args are our flags, and with Iter8's interpolation done they
    // parse and validate as a configuration.
    let a = &experiments[0]["spec"]["strategy"]["actions"]["finish"][0]["with"];
    assert_eq!(a["cmd"], "iter8-gitops");
    let args: Vec<String> = a["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap()
                .replace("{{ .filepath }}", "productpage-candidate.yaml")
                .replace("{{ .namespace }}", "default")
        })
        .collect();
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: iter8_gitops::config::Args,
    }
    let cli = Cli::try_parse_from(std::iter::once("iter8-gitops".to_string()).chain(args)).unwrap();
    iter8_gitops::config::Config::try_from(cli.args).expect("the finish action's flags validate");

    // (b) As its own Job: the manifest the bash creates is a valid Job once the shell has
    // expanded the handler's EXPERIMENT_* variables.
    let b = &experiments[1]["spec"]["strategy"]["actions"]["finish"][0]["with"]["args"][1];
    let script = b.as_str().unwrap();
    let start = script.find("<<EOF\n").unwrap() + "<<EOF\n".len();
    let end = script.rfind("EOF").unwrap();
    let manifest = script[start..end]
        .replace("${EXPERIMENT_NAME}", "gitops-exp-job")
        .replace("${EXPERIMENT_NAMESPACE}", "default");
    let job: Value = serde_yaml_ng::from_str(&manifest).unwrap();
    let job: Job = typed(&job);
    let c = &job.spec.unwrap().template.spec.unwrap().containers[0];
    assert_eq!(
        c.env.as_ref().unwrap()[0].value.as_deref(),
        Some("gitops-exp-job")
    );
}

#[test]
fn the_handler_dockerfile_adds_the_static_binary_to_the_handler_image() {
    let text = std::fs::read_to_string(spec("handler.Dockerfile")).unwrap();
    assert!(text.contains("COPY --from=gitops /iter8-gitops /usr/local/bin/iter8-gitops"));
    assert!(
        text.contains("ARG HANDLER_IMAGE=iter8/handler:0.1.17"),
        "the handler Iter8 v0.7.0 installs"
    );
}

#[test]
fn the_example_promotion_files_and_experiments_follow_their_schemas() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(spec("schema.json")).unwrap()).unwrap();
    let promotion = jsonschema::validator_for(&schema["$defs"]["promotionFile"]).unwrap();
    let crd_path = testkit::shared_dir()
        .join("fixtures/iter8-crds/etc3-v0.1.27/config/crd/bases/iter8.tools_experiments.yaml");
    let crd: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(crd_path).unwrap()).unwrap();
    let experiment =
        jsonschema::validator_for(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
            .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for (repo, exp) in [
        ("kustomize-env", "experiments/productpage-v2.yaml"),
        ("helm-env", "experiments/productpage.yaml"),
    ] {
        let text = std::fs::read_to_string(root.join(repo).join("iter8-promotion.yaml")).unwrap();
        let v: Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> = promotion.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{repo}: {errors:?}");
        iter8_gitops::config::promotion::parse("example", &text).expect("the tool reads it too");
        let e: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(root.join(repo).join(exp)).unwrap())
                .unwrap();
        let errors: Vec<String> = experiment.iter_errors(&e).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{repo}/{exp}: {errors:?}");
    }
    // The schema bites: an unknown edit kind, and an edit without its file.
    for bad in [
        json!({"targets": [{"edits": [{"chmod": {"file": "a"}}]}]}),
        json!({"targets": [{"edits": [{"yaml-set": {"path": "a", "value": "b"}}]}]}),
    ] {
        assert!(!promotion.is_valid(&bad), "{bad}");
    }
}

/// docs/inputs.md's table names every input of the schema (generated from the flags' help)
/// once or more, and nothing else; where the help gives a one-word default, the row says it.
#[test]
fn the_input_reference_names_every_input_and_its_default() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(spec("schema.json")).unwrap()).unwrap();
    let inputs = schema["properties"].as_object().unwrap();
    let doc = std::fs::read_to_string(root.join("docs/inputs.md")).unwrap();
    let mut rows: std::collections::BTreeMap<String, String> = Default::default();
    for row in doc
        .lines()
        .filter(|l| l.starts_with("| GITOPS_") || l.starts_with("| EXPERIMENT_"))
    {
        let first = row.split('|').nth(1).unwrap();
        for word in first.split(|c: char| !(c.is_ascii_uppercase() || c == '_')) {
            if word.starts_with("GITOPS_") || word.starts_with("EXPERIMENT_") {
                rows.insert(word.to_string(), row.to_string());
            }
        }
    }
    let documented: Vec<&String> = rows.keys().collect();
    let known: Vec<&String> = inputs.keys().collect();
    assert_eq!(
        documented, known,
        "docs/inputs.md's table and task-spec/schema.json"
    );
    for (name, input) in inputs {
        let Some(default) = input["default"].as_str() else {
            continue;
        };
        if !default.contains(' ') {
            assert!(
                rows[name].contains(default),
                "docs/inputs.md, {name}: default {default}"
            );
        }
    }
}

#[test]
fn the_receivers_manifests_parse_validate_and_grant_only_what_it_reads() {
    use k8s_openapi::api::{
        apps::v1::Deployment, core::v1::Service, networking::v1::NetworkPolicy,
    };
    let d = docs(&spec("receiver.yaml"));
    let of = |kind: &str| -> Vec<&Value> { d.iter().filter(|v| v["kind"] == kind).collect() };
    // The ConfigMap is the receiver's configuration: its inputs and its promotion file
    // validate, and every target names its workload.
    let cm: ConfigMap = typed(of("ConfigMap")[0]);
    let holds: ConfigMap = typed(of("ConfigMap")[1]);
    assert_eq!(
        holds.metadata.name.as_deref(),
        Some("iter8-gitops-receiver-holds")
    );
    let data = cm.data.unwrap();
    let file = tempfile::tempdir().unwrap();
    let path = file.path().join("receiver.yaml");
    std::fs::write(&path, &data["receiver.yaml"]).unwrap();
    let mut env: Vec<(String, String)> = data
        .iter()
        .filter(|(k, _)| k.starts_with("GITOPS_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.retain(|(k, _)| k != "GITOPS_CONFIG");
    env.push(("GITOPS_CONFIG".into(), path.display().to_string()));
    env.push(("GITOPS_TASK".into(), "serve".into()));
    let args = iter8_gitops::config::Args::from_env(env).unwrap();
    let cfg = iter8_gitops::config::Config::try_from(args).expect("the receiver's inputs validate");
    let iter8_gitops::config::Job::Serve(receiver) = &cfg.job else {
        panic!("not a receiver")
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let promotion = iter8_gitops::config::promotion::parse("receiver.yaml", &text).unwrap();
    let targets = receiver
        .promotion
        .targets(&promotion)
        .expect("its targets validate");
    assert_eq!(targets.len(), 2);

    // Non-root, read-only, probes on the receiver's routes, within the grace period.
    let dep: Deployment = typed(of("Deployment")[0]);
    let pod = dep.spec.unwrap().template.spec.unwrap();
    let c = &pod.containers[0];
    assert_eq!(c.args.as_deref(), Some(&["serve".to_string()][..]));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let probe = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .clone()
            .unwrap()
    };
    assert_eq!(probe(&c.readiness_probe), "/readyz");
    assert_eq!(probe(&c.liveness_probe), "/healthz");
    assert!(pod.termination_grace_period_seconds.unwrap() > 25);
    let _: Service = typed(of("Service")[0]);
    let np: NetworkPolicy = typed(of("NetworkPolicy")[0]);
    assert_eq!(
        np.spec.unwrap().ingress.unwrap()[0]
            .from
            .as_ref()
            .unwrap()
            .len(),
        2
    );

    // RBAC: get only; the Secret, the Canary and the Rollout by name; the workloads' kinds.
    let _: ServiceAccount = typed(of("ServiceAccount")[0]);
    let roles: Vec<Role> = of("Role").into_iter().map(typed).collect();
    for rule in roles.iter().flat_map(|r| r.rules.clone().unwrap()) {
        let resource = rule.resources.clone().unwrap()[0].clone();
        let verbs: &[&str] = match resource.as_str() {
            "events" => &["create"],
            "configmaps" => &["get", "patch"],
            _ => &["get"],
        };
        assert_eq!(rule.verbs, verbs, "{rule:?}");
        if ["secrets", "canaries", "rollouts", "configmaps"].contains(&resource.as_str()) {
            assert!(
                rule.resource_names.is_some(),
                "{resource} by name: {rule:?}"
            );
        }
        if resource == "configmaps" {
            let names = rule.resource_names.clone().unwrap();
            assert_eq!(
                names,
                ["iter8-gitops-receiver-holds"],
                "its own ConfigMap only"
            );
        }
    }
    for t in &targets {
        let iter8_gitops::config::Job::Edits(t) = &t.job else {
            panic!()
        };
        let w = t.workload.as_ref().unwrap();
        let role = roles
            .iter()
            .find(|r| r.metadata.namespace.as_deref() == Some(w.namespace.as_str()))
            .unwrap_or_else(|| panic!("no Role in {}", w.namespace));
        let names: Vec<String> = role
            .rules
            .clone()
            .unwrap()
            .into_iter()
            .flat_map(|r| r.resource_names.unwrap_or_default())
            .collect();
        assert!(names.contains(&w.name), "{w}: {names:?}");
    }
    let bindings: Vec<RoleBinding> = of("RoleBinding").into_iter().map(typed).collect();
    assert_eq!(bindings.len(), roles.len());
}
