//! The ready-made steps for the CI systems teams run, each a thin wrapper over the same binary
//! and inputs: the GitHub Action (action.yml), run here the way the Actions runner runs a
//! Docker action (every declared input as `INPUT_*`, the action's `runs.env`, a
//! `GITHUB_OUTPUT` file), the Tekton Task and the Argo Workflows WorkflowTemplate, each checked
//! against the types its project publishes, and the GitHub workflows against the published
//! workflow schema.

use std::{collections::BTreeMap, path::Path};

use serde_json::Value;

use crate::util::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A YAML file of the repository, as JSON.
fn yaml(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The inputs contract (task-spec/schema.json): variable → its schema.
fn inputs_contract() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(root().join("task-spec/schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    schema["properties"].as_object().unwrap().clone()
}

/// The outputs the binary writes (src/run/outputs.rs), as docs/inputs.md lists them.
const OUTPUTS: [&str; 6] = [
    "commit",
    "pr-url",
    "pr-number",
    "changed",
    "merge-commit",
    "summary",
];

#[test]
fn every_action_input_is_a_tool_input_with_its_description_and_every_output_is_written() {
    let action = yml_action();
    let contract = inputs_contract();
    for (name, input) in action["inputs"].as_object().unwrap() {
        let var = format!("GITOPS_{}", name.to_uppercase());
        let known = contract
            .get(&var)
            .unwrap_or_else(|| panic!("action input {name}: {var} is no input of the tool"));
        if name != "token" {
            // The help text is the one source; the action repeats it word for word.
            assert_eq!(
                input["description"], known["description"],
                "action input {name}"
            );
        }
        assert!(
            input.get("default").is_none(),
            "{name}: the tool's default applies"
        );
        assert_eq!(
            action["runs"]["env"][&var],
            format!("${{{{ inputs.{name} }}}}"),
            "input {name} reaches the tool as {var}"
        );
    }
    assert_eq!(action["runs"]["env"]["GITOPS_EMPTY_IS_UNSET"], "true");
    // The example workflow (the tutorial's gitops-finish.yaml) gives only inputs that exist
    // and reads only outputs that exist.
    let example = yaml("examples/github/gitops-finish.yaml");
    let steps = example["jobs"]["promote"]["steps"].as_array().unwrap();
    let step = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("iter8-tools/iter8-gitops@"))
        })
        .unwrap();
    for given in step["with"].as_object().unwrap().keys() {
        assert!(
            action["inputs"].get(given).is_some(),
            "the example gives {given}, no input"
        );
    }
    let text = serde_json::to_string(&example).unwrap();
    for used in text.split("steps.promote.outputs.").skip(1) {
        let name = used.split([' ', '}']).next().unwrap();
        assert!(
            action["outputs"].get(name).is_some(),
            "the example reads {name}, no output"
        );
    }
    let mut outputs: Vec<&str> = action["outputs"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut written = OUTPUTS.to_vec();
    outputs.sort();
    written.sort();
    assert_eq!(outputs, written, "action.yml's outputs");
    assert_eq!(action["runs"]["using"], "docker");
    let dockerfile =
        std::fs::read_to_string(root().join(action["runs"]["image"].as_str().unwrap())).unwrap();
    assert!(
        dockerfile.contains(&format!(
            "FROM ghcr.io/iter8-tools/iter8-gitops:{}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "the action's image is this release's: {dockerfile}"
    );
}

fn yml_action() -> Value {
    yaml("action.yml")
}

/// `${{ inputs.NAME }}`, as the runner evaluates it: the step's value, or empty.
fn evaluate(expr: &str, with: &[(&str, &str)]) -> String {
    match expr
        .strip_prefix("${{ inputs.")
        .and_then(|r| r.strip_suffix(" }}"))
    {
        Some(name) => with
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default(),
        None => {
            assert!(
                !expr.contains("${{"),
                "an expression this model does not know: {expr}"
            );
            expr.to_string()
        }
    }
}

/// Runs the binary as the Actions runner runs the Docker action: `with` are the step's
/// inputs; every input the action declares arrives as `INPUT_<NAME>` (empty when not given),
/// `runs.env` evaluated against them, with the runner's own variables. Returns the run and
/// what it wrote to `$GITHUB_OUTPUT`.
fn run_as_action(w: &World, with: &[(&str, &str)]) -> (Output, BTreeMap<String, String>) {
    let action = yml_action();
    let output_file = w.tmp.path().join("github_output");
    std::fs::write(&output_file, "").unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_OUTPUT".into(), output_file.display().to_string()),
        ("HOME".into(), w.tmp.path().display().to_string()),
    ];
    for name in action["inputs"].as_object().unwrap().keys() {
        let given = with.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        env.push((
            format!("INPUT_{}", name.to_uppercase()),
            given.unwrap_or("").into(),
        ));
    }
    for (k, v) in action["runs"]["env"].as_object().unwrap() {
        env.push((k.clone(), evaluate(v.as_str().unwrap(), with)));
    }
    let o = run_binary(&env, &[], &[TOKEN]);
    let written = std::fs::read_to_string(&output_file).unwrap();
    assert_no_token(&written, "$GITHUB_OUTPUT");
    let outputs = written
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("name=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    (o, outputs)
}

/// The step a workflow writes for the tutorial's promotion, against this world's servers.
fn finish_inputs(w: &World) -> Vec<(&'static str, String)> {
    let env = |k: &str| w.env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    vec![
        ("repo", env("GITOPS_REPO")),
        ("branch", BRANCH.into()),
        ("dir", DIR.into()),
        ("winner", "productpage-candidate.yaml".into()),
        ("baseline", "productpage.yaml".into()),
        ("replace", "candidate=stable".into()),
        (
            "remove",
            "productpage-candidate.yaml,fortio.yaml,experiment.yaml".into(),
        ),
        ("api_url", env("GITOPS_API_URL")),
        ("ca_file", env("GITOPS_CA_FILE")),
        ("token", TOKEN.into()),
        ("timeout", "60".into()),
    ]
}

#[test]
fn the_action_promotes_without_a_cluster_and_gives_the_commit_and_pr_as_step_outputs() {
    let w = World::tutorial();
    let inputs = finish_inputs(&w);
    let with: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (o, outputs) = run_as_action(&w, &with);
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(outputs["commit"], w.rev("refs/heads/iter8_exp").unwrap());
    assert_eq!(outputs["pr-number"], "1");
    assert_eq!(outputs["pr-url"], o.report()["pr"]["url"].as_str().unwrap());
    assert_eq!(outputs["changed"], "true");
    assert_eq!(outputs["merge-commit"], "");
    assert_eq!(outputs["summary"], o.report()["summary"].as_str().unwrap());
    assert_eq!(outputs.len(), OUTPUTS.len());

    // A rerun of the workflow: nothing changes, the same PR is the output.
    let (o, outputs) = run_as_action(&w, &with);
    assert_code(&o, 0);
    assert_eq!(outputs["changed"], "false");
    assert_eq!(outputs["pr-number"], "1");
    assert_eq!(w.github.pulls().len(), 1);
}

#[test]
fn the_action_starts_an_experiment_too() {
    let (w, _t) = crate::lifecycle::clean_world();
    let env = |k: &str| w.env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let before = w.rev("refs/heads/gitops").unwrap();
    let (repo, ca) = (env("GITOPS_REPO"), env("GITOPS_CA_FILE"));
    let (o, outputs) = run_as_action(
        &w,
        &[
            ("task", "start"),
            ("repo", &repo),
            ("branch", BRANCH),
            ("dir", DIR),
            ("version", crate::lifecycle::VERSION),
            ("set", "COLOR=red,MY_ORG=sriumcp"),
            ("ca_file", &ca),
            ("token", TOKEN),
        ],
    );
    assert_code(&o, 0);
    let after_start = w.rev("refs/heads/gitops").unwrap();
    assert_ne!(after_start, before);
    assert_eq!(outputs["commit"], after_start);
    assert_eq!(
        outputs["pr-url"], "",
        "start pushes to the synced branch, no PR"
    );
}

#[test]
fn an_action_output_that_cannot_be_written_fails_before_anything_is_pushed() {
    let w = World::tutorial();
    let inputs = finish_inputs(&w);
    let mut env: Vec<(String, String)> = inputs
        .iter()
        .map(|(k, v)| (format!("GITOPS_{}", k.to_uppercase()), v.clone()))
        .collect();
    // The action's outputs, but no GITHUB_OUTPUT (a runner always sets it; a hand-made run
    // may not).
    env.push(("GITOPS_OUTPUTS".into(), "github".into()));
    let o = run_binary(&env, &[], &[TOKEN]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("GITOPS_OUTPUTS") && o.stderr.contains("GITHUB_OUTPUT"),
        "{}",
        o.stderr
    );
    assert_eq!(w.pushes(), 0);
    assert!(w.github.pulls().is_empty());
}

#[test]
fn an_outputs_directory_gets_one_file_per_output_as_tekton_and_argo_read_them() {
    let mut w = World::tutorial();
    let results = tempfile::tempdir().unwrap();
    w.set("GITOPS_OUTPUTS", Some(results.path().to_str().unwrap()));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let read = |n: &str| std::fs::read_to_string(results.path().join(n)).unwrap();
    assert_eq!(
        read("commit"),
        w.rev("refs/heads/iter8_exp").unwrap(),
        "no trailing newline"
    );
    assert_eq!(read("pr-number"), "1");
    assert_eq!(read("changed"), "true");
    for name in OUTPUTS {
        assert!(results.path().join(name).is_file(), "{name}");
    }

    // A directory that is not there is an input error, before any push.
    let w = {
        let mut w = World::tutorial();
        w.set("GITOPS_OUTPUTS", Some("/tekton/results-not-mounted"));
        w
    };
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(o.stderr.contains("GITOPS_OUTPUTS"), "{}", o.stderr);
    assert_eq!(w.pushes(), 0);
}

/// A published schema from tests/fixtures/schemas (SOURCES.md says where each comes from).
fn published(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/schemas").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Unknown fields rejected, as the Tekton webhook and the API server's strict field validation
/// do: the OpenAPI types list their fields but leave `additionalProperties` open.
fn strict(defs: &mut serde_json::Map<String, Value>) {
    for def in defs.values_mut() {
        if def.get("properties").is_some() && def.get("additionalProperties").is_none() {
            def["additionalProperties"] = Value::Bool(false);
        }
    }
}

/// The errors of `doc` against definition `root_def` of `defs`.
fn errors_against(
    defs: serde_json::Map<String, Value>,
    root_def: &str,
    doc: &Value,
) -> Vec<String> {
    let schema = serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": format!("#/definitions/{root_def}"),
        "definitions": defs,
    });
    let v = jsonschema::validator_for(&schema).unwrap();
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The `#/definitions/…` names a schema value refers to.
fn refs_of(v: &Value) -> Vec<String> {
    let text = serde_json::to_string(v).unwrap();
    text.split("\"#/definitions/")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect()
}

/// Tekton's `v1.Task` and every type it reaches (its swagger.json), with the Kubernetes core
/// types it names but does not define taken from the same Kubernetes API as Argo's schema
/// carries them.
fn tekton_types() -> serde_json::Map<String, Value> {
    let tekton = published("tekton-pipeline-v1.swagger.json")["definitions"].clone();
    let kube = published("argo-workflows.schema.json")["definitions"].clone();
    let mut defs = serde_json::Map::new();
    let mut todo = vec!["v1.Task".to_string()];
    while let Some(name) = todo.pop() {
        if defs.contains_key(&name) {
            continue;
        }
        let def = if name == "v1.ParamValue" {
            // Its swagger entry is the Go struct; its JSON is what its UnmarshalJSON takes: a
            // string, an array of strings or an object of strings.
            serde_json::json!({"anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"type": "string"}},
            ]})
        } else if let Some(d) = tekton.get(&name) {
            d.clone()
        } else if name == "v1.Duration" {
            // metav1.Duration, as Kubernetes serialises it.
            serde_json::json!({"type": "string"})
        } else if let Some(d) = kube.get(&name) {
            d.clone()
        } else {
            let full = match name.as_str() {
                "v1.ObjectMeta" => "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".to_string(),
                other => format!("io.k8s.api.core.{other}"),
            };
            assert!(kube.get(&full).is_some(), "Tekton's {name} is not {full}");
            serde_json::json!({"$ref": format!("#/definitions/{full}")})
        };
        todo.extend(refs_of(&def));
        defs.insert(name, def);
    }
    strict(&mut defs);
    defs
}

/// The `GITOPS_*` names a step sets, each checked to be an input of the tool.
fn assert_known_inputs(env: &Value, what: &str) {
    let contract = inputs_contract();
    for e in env.as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        assert!(
            contract.contains_key(name),
            "{what}: {name} is no input of the tool"
        );
    }
}

/// Every `open…close` reference in `text` names one of `declared`.
fn assert_references_declared(
    text: &str,
    open: &str,
    close: &str,
    declared: &[String],
    what: &str,
) {
    for piece in text.split(open).skip(1) {
        let name = piece.split(close).next().unwrap();
        assert!(
            declared.iter().any(|d| d == name),
            "{what}: {open}{name}{close} is not declared"
        );
    }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// A step's `env` as the kubelet gives it to the process: each `$(params.x)` (Tekton) or
/// `{{inputs.parameters.x}}` (Argo) replaced by `values`, the token Secret read, and
/// GITOPS_OUTPUTS pointed at `outputs` (the results folder the CI system mounts).
fn step_env(
    env: &Value,
    reference: impl Fn(&str) -> String,
    values: &[(String, String)],
    outputs: &Path,
) -> Vec<(String, String)> {
    env.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_string();
            let value = if e.get("valueFrom").is_some() {
                TOKEN.to_string()
            } else if name == "GITOPS_OUTPUTS" {
                outputs.display().to_string()
            } else {
                let mut v = e["value"].as_str().unwrap().to_string();
                for (k, given) in values {
                    v = v.replace(&reference(k), given);
                }
                v
            };
            (name, value)
        })
        .collect()
}

/// This world's servers as a CI system reaches them: the test CA and API (not parameters of
/// the Task: a real host has a public certificate and a derivable API).
fn world_extras(w: &World) -> Vec<(String, String)> {
    w.env
        .iter()
        .filter(|(k, _)| ["GITOPS_CA_FILE", "GITOPS_API_URL", "HOME"].contains(&k.as_str()))
        .cloned()
        .collect()
}

/// The tutorial's finish as step parameters, and every other parameter at its default
/// (`default_of` reads it from the step's declaration).
fn finish_params(
    w: &World,
    declared: &Value,
    default_of: impl Fn(&Value) -> Option<&str>,
) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = finish_inputs(w)
        .into_iter()
        .filter(|(k, _)| {
            [
                "repo", "branch", "dir", "winner", "baseline", "replace", "remove",
            ]
            .contains(k)
        })
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for d in declared.as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        if !p.iter().any(|(k, _)| k == name) {
            let default = default_of(d).unwrap_or_else(|| panic!("{name} has no default"));
            p.push((name.to_string(), default.to_string()));
        }
    }
    p
}

/// The tutorial's promotion run by a CI step: its parameters (`declared`, each at its default
/// unless the tutorial gives it), its container's `env` with `reference` substituted, and a
/// folder for its outputs. The world, the run (which succeeded) and the outputs folder.
fn promote_as_a_step(
    declared: &Value,
    default_of: impl Fn(&Value) -> Option<&str>,
    env: &Value,
    reference: impl Fn(&str) -> String,
) -> (World, Output, tempfile::TempDir) {
    let w = World::tutorial();
    let values = finish_params(&w, declared, default_of);
    let outputs = tempfile::tempdir().unwrap();
    let mut env = step_env(env, reference, &values, outputs.path());
    env.extend(world_extras(&w));
    let o = run_binary(&env, &[], &[TOKEN]);
    assert_code(&o, 0);
    for f in std::fs::read_dir(outputs.path()).unwrap() {
        let f = f.unwrap().path();
        assert_no_token(
            &std::fs::read_to_string(&f).unwrap(),
            &f.display().to_string(),
        );
    }
    (w, o, outputs)
}

/// The outputs a CI system keeps and shows carry the token in no form.
fn assert_no_token(text: &str, what: &str) {
    for form in forms(TOKEN) {
        assert!(!text.contains(&form), "{what} holds the token as {form:?}");
    }
}

#[test]
fn the_tekton_task_is_a_valid_v1_task_and_its_step_promotes_and_writes_the_results() {
    let task = yaml("task-spec/tekton-task.yaml");
    let errors = errors_against(tekton_types(), "v1.Task", &task);
    assert!(errors.is_empty(), "task-spec/tekton-task.yaml: {errors:#?}");
    let spec = &task["spec"];
    let step = &spec["steps"][0];
    assert_eq!(
        step["image"],
        format!(
            "ghcr.io/iter8-tools/iter8-gitops:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(names(&spec["results"]), OUTPUTS.to_vec());
    assert_known_inputs(&step["env"], "the Tekton Task");
    let text = serde_json::to_string(step).unwrap();
    assert_references_declared(
        &text,
        "$(params.",
        ")",
        &names(&spec["params"]),
        "the Tekton Task",
    );
    let env_of = |n: &str| {
        step["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(env_of("GITOPS_OUTPUTS"), "/tekton/results");
    assert_eq!(env_of("GITOPS_EMPTY_IS_UNSET"), "true");

    // The step as Tekton runs it: given params, the others at their defaults.
    let (w, _, results) = promote_as_a_step(
        &spec["params"],
        |p| p["default"].as_str(),
        &step["env"],
        |k| format!("$(params.{k})"),
    );
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    let read = |n: &str| std::fs::read_to_string(results.path().join(n)).unwrap();
    assert_eq!(read("commit"), w.rev("refs/heads/iter8_exp").unwrap());
    assert_eq!(read("pr-number"), "1");
}

#[test]
fn the_argo_workflow_template_is_valid_and_its_container_promotes_and_writes_the_outputs() {
    let template = yaml("task-spec/argo-workflowtemplate.yaml");
    let mut defs = published("argo-workflows.schema.json")["definitions"]
        .as_object()
        .unwrap()
        .clone();
    strict(&mut defs);
    let errors = errors_against(
        defs,
        "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
        &template,
    );
    assert!(
        errors.is_empty(),
        "task-spec/argo-workflowtemplate.yaml: {errors:#?}"
    );
    let t = &template["spec"]["templates"][0];
    assert_eq!(template["spec"]["entrypoint"], t["name"]);
    let container = &t["container"];
    assert_eq!(
        container["image"],
        format!(
            "ghcr.io/iter8-tools/iter8-gitops:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_known_inputs(&container["env"], "the WorkflowTemplate");
    let declared = names(&t["inputs"]["parameters"]);
    assert_eq!(
        declared,
        names(&template["spec"]["arguments"]["parameters"])
    );
    let text = serde_json::to_string(container).unwrap();
    assert_references_declared(
        &text,
        "{{inputs.parameters.",
        "}}",
        &declared,
        "the WorkflowTemplate",
    );
    // Each output parameter is the file the tool writes in its outputs folder.
    let outputs_dir = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "GITOPS_OUTPUTS")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        container["volumeMounts"][0]["mountPath"],
        outputs_dir.as_str()
    );
    for (p, name) in t["outputs"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .zip(OUTPUTS)
    {
        assert_eq!(p["name"], name);
        assert_eq!(p["valueFrom"]["path"], format!("{outputs_dir}/{name}"));
    }

    let (w, o, folder) = promote_as_a_step(
        &template["spec"]["arguments"]["parameters"],
        |p| p["value"].as_str(),
        &container["env"],
        |k| format!("{{{{inputs.parameters.{k}}}}}"),
    );
    let read = |n: &str| std::fs::read_to_string(folder.path().join(n)).unwrap();
    assert_eq!(read("commit"), w.rev("refs/heads/iter8_exp").unwrap());
    assert_eq!(read("pr-url"), o.report()["pr"]["url"].as_str().unwrap());
}

/// The workflow files and the action metadata, against the schemas SchemaStore publishes for
/// them (what editors and `check-jsonschema` use). actionlint, which also type-checks
/// expressions, cannot be installed here: see docs/release.md.
#[test]
fn the_workflows_and_the_action_follow_the_published_schemas() {
    let cases = [
        ("github-action.json", "action.yml".to_string()),
        (
            "github-workflow.json",
            ".github/workflows/ci.yml".to_string(),
        ),
        (
            "github-workflow.json",
            ".github/workflows/release.yml".to_string(),
        ),
        (
            "github-workflow.json",
            "examples/github/gitops-finish.yaml".to_string(),
        ),
    ];
    for (schema, file) in cases {
        let schema = published(schema);
        let v = jsonschema::validator_for(&schema).unwrap();
        let doc = yaml(&file);
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:#?}");
    }
}
