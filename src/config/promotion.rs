//! The promotion file (GITOPS_CONFIG, or GITOPS_CONFIG_IN_REPO read from the Env repo): one
//! or more targets, each a repo, branch and folder, the edits to make there, the pull request
//! and the files to apply. The GITOPS_* variables of a single promotion are one target of this
//! model; in a file, GITOPS_REPO / GITOPS_BRANCH / GITOPS_MODE and the PR variables are the
//! defaults every target may override, and a target's `dir` is inside GITOPS_DIR.

use serde::{Deserialize, Serialize};

use super::allow::Allow;
use crate::{
    config::{self, Config, Problem, Target, args::Args},
    kube::workload::WorkloadRef,
    plan::edits::EditSpec,
    plan::names::RepoPath,
    plan::revert::Controller,
};

/// The file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub targets: Vec<TargetSpec>,
}

/// One target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetSpec {
    /// For the report and messages (default: `targets[N]`).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub dir: Option<String>,
    /// `pr` or `push`.
    #[serde(default)]
    pub mode: Option<String>,
    pub edits: Vec<EditSpec>,
    /// Files to server-side apply after the change lands, relative to `dir`.
    #[serde(default)]
    pub apply: Vec<String>,
    #[serde(default)]
    pub pr: PrSpec,
    /// The Secret holding this target's Git host token (default: GITOPS_TOKEN_SECRET).
    #[serde(default)]
    pub token_secret: Option<String>,
    /// The receiver's (`serve`): the workload whose failed rollout this target puts back, as
    /// `KIND NAMESPACE/NAME` (`Canary test/podinfo`, `Rollout demo/rollouts-demo`).
    #[serde(default)]
    pub workload: Option<String>,
}

/// A target's pull request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrSpec {
    /// The host kind, for a target on another host than GITOPS_PROVIDER's.
    #[serde(default)]
    pub provider: Option<String>,
    /// The host's API, for a target on another host than GITOPS_API_URL's.
    #[serde(default)]
    pub api_url: Option<String>,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub reviewers: Vec<String>,
    #[serde(default)]
    pub draft: Option<bool>,
    /// `none`, `auto` or `now` (GITOPS_MERGE).
    #[serde(default)]
    pub merge: Option<String>,
    #[serde(default)]
    pub merge_method: Option<String>,
    /// A duration (GITOPS_MERGE_WAIT), as a string: `10m`, `0`.
    #[serde(default)]
    pub merge_wait: Option<String>,
}

/// Reads a promotion file (YAML, or JSON, which is YAML).
pub fn parse(what: &str, text: &str) -> Result<File, config::Error> {
    let bad = |message: String| config::Error {
        problems: vec![Problem {
            input: what.into(),
            message,
        }],
    };
    // Measured first: an in-repo file is data, and an alias bomb must not be built.
    crate::plan::expansion::measure(text, crate::plan::expansion::Budget::default())
        .map_err(|e| bad(format!("is not a promotion file: it {e}")))?;
    let file: File =
        serde_saphyr::from_str(text).map_err(|e| bad(format!("is not a promotion file: {e}")))?;
    if file.targets.is_empty() {
        return Err(bad("has no targets".into()));
    }
    Ok(file)
}

impl TargetSpec {
    /// `targets[i]` or `targets[i] (name)`.
    pub fn label(&self, i: usize) -> String {
        match &self.name {
            Some(n) => format!("targets[{i}] ({n})"),
            None => format!("targets[{i}]"),
        }
    }
}

/// Who wrote the promotion file, which decides what its targets may set.
#[derive(Debug, Clone, Copy)]
pub enum Author<'a> {
    /// GITOPS_CONFIG: the operator's own file, as trusted as the variables.
    Operator,
    /// GITOPS_CONFIG_IN_REPO: whoever can merge into the Env repo. Data, not authority: it
    /// may choose edits, folders inside GITOPS_DIR, apply files and PR text, but not where
    /// credentials go or a way around review, beyond what GITOPS_IN_REPO_ALLOW grants.
    Repo(&'a Allow),
}

/// The widening fields `t` sets to something else than the operator did, with their values.
fn widened(t: &TargetSpec, base: &Args) -> Vec<(&'static str, String, String)> {
    let operator = |v: &Option<String>, default: &str| {
        v.as_deref().map(str::trim).unwrap_or(default).to_string()
    };
    let operator_mode = match base.mode.as_deref().map(str::trim) {
        Some("push") => "push",
        _ => "pr",
    };
    let fields = [
        ("repo", &t.repo, operator(&base.repo, "")),
        ("branch", &t.branch, operator(&base.branch, "")),
        ("mode", &t.mode, operator_mode.to_string()),
        (
            "tokenSecret",
            &t.token_secret,
            operator(&base.token_secret, config::defaults::TOKEN_SECRET),
        ),
        ("pr.apiUrl", &t.pr.api_url, operator(&base.api_url, "")),
        ("pr.provider", &t.pr.provider, operator(&base.provider, "")),
        ("pr.repo", &t.pr.repo, operator(&base.pr_repo, "")),
        (
            "pr.branch",
            &t.pr.branch,
            operator(&base.pr_branch, config::defaults::PR_BRANCH),
        ),
        ("pr.merge", &t.pr.merge, operator(&base.merge, "none")),
    ];
    fields
        .into_iter()
        .filter_map(|(f, v, op)| {
            let v = v.as_deref()?.trim();
            // Asking for review where the operator pushes, or leaving the merge to a person,
            // narrows authority: always fine.
            let narrower = (f == "mode" && v == "pr") || (f == "pr.merge" && v == "none");
            (v != op && !narrower).then(|| (f, v.to_string(), op))
        })
        .collect()
}

/// What an in-repo file may not do: each widening field not granted by `allow`.
fn refused(label: &str, t: &TargetSpec, base: &Args, allow: &Allow) -> Vec<Problem> {
    widened(t, base)
        .into_iter()
        .filter(|(f, v, _)| !allow.permits(f, v))
        .map(|(f, v, op)| Problem {
            input: format!("{label}.{f}"),
            message: format!(
                "{v:?} is refused: a promotion file read from the Env repo may not change {f} (the operator's is {op:?}); to allow exactly this, the operator adds {f}={v} to GITOPS_IN_REPO_ALLOW",
                op = if op.is_empty() { "unset" } else { op.as_str() },
            ),
        })
        .collect()
}

/// Edit paths written as absolute (`/x.yaml`): inside a target they would silently become
/// relative to its dir.
fn absolute_paths(label: &str, t: &TargetSpec) -> Vec<Problem> {
    let mut out = vec![];
    if let Some(d) = t.dir.as_deref().filter(|d| d.starts_with(['/', '\\'])) {
        out.push(Problem {
            input: format!("{label}.dir"),
            message: format!("{d:?} is absolute; give a folder relative to GITOPS_DIR"),
        });
    }
    for (n, e) in t.edits.iter().enumerate() {
        for f in e.files().iter().filter(|f| f.starts_with(['/', '\\'])) {
            out.push(Problem {
                input: format!("{label}.edits[{n}]"),
                message: format!(
                    "path {f:?} is absolute; give a path relative to the target's dir"
                ),
            });
        }
    }
    out
}

/// One configuration per target: `base` (the environment and flags) with the target's fields
/// over it, validated like a single promotion. Every problem names its target; a file from
/// the repo (`Author::Repo`) is refused every field that would widen authority.
pub fn configs(base: &Args, file: &File, author: Author) -> Result<Vec<Config>, config::Error> {
    let mut problems = vec![];
    let mut out = vec![];
    for (i, t) in file.targets.iter().enumerate() {
        let label = t.label(i);
        if let Author::Repo(allow) = author {
            problems.extend(refused(&label, t, base, allow));
        }
        problems.extend(absolute_paths(&label, t));
        // Its own problems are told only when its inputs are valid, as they were.
        let mut own = vec![];
        let target = Target {
            label: label.clone(),
            edits: t.edits.clone(),
            apply: apply_paths(&label, t, &mut own),
            workload: workload(&label, t, super::task::serving(base), &mut own),
            cause: None,
        };
        match Config::try_from_target(overlay(base, t), target) {
            Ok(c) => {
                problems.extend(own);
                if t.edits.is_empty() {
                    problems.push(Problem {
                        input: format!("{label}.edits"),
                        message: "is empty; a target needs at least one edit".into(),
                    });
                }
                out.push(c);
            }
            Err(e) => problems.extend(e.problems.into_iter().map(|p| Problem {
                input: field(&label, &p.input),
                message: p.message,
            })),
        }
    }
    problems.extend(listed_twice(&out));
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(config::Error { problems })
    }
}

/// The target's workload: required by the receiver, refused elsewhere.
fn workload(
    label: &str,
    t: &TargetSpec,
    serving: bool,
    problems: &mut Vec<Problem>,
) -> Option<WorkloadRef> {
    let input = format!("{label}.workload");
    let mut bad = |message: String| {
        problems.push(Problem {
            input: input.clone(),
            message,
        })
    };
    let w = match (&t.workload, serving) {
        (None, false) => return None,
        (Some(_), false) => {
            bad(
                "is read by the receiver only (iter8-gitops serve); remove it, or run `serve`"
                    .into(),
            );
            return None;
        }
        (None, true) => {
            bad("is missing: each of the receiver's targets names the Canary or Rollout it puts back, e.g. `Canary test/podinfo`".into());
            return None;
        }
        (Some(w), true) => w.trim(),
    };
    let (kind, namespace, name) = match w.split_once(' ') {
        Some((kind, rest)) => match rest.trim().split_once('/') {
            Some((ns, name)) => (kind, ns, name),
            None => (kind, "", rest.trim()),
        },
        None => ("", "", w),
    };
    let Some(controller) = Controller::from_kind(kind) else {
        bad(format!(
            "{w:?} is not `KIND NAMESPACE/NAME` with KIND Canary (Flagger) or Rollout (Argo Rollouts), e.g. `Canary test/podinfo`"
        ));
        return None;
    };
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    for (field, v) in [("namespace", namespace), ("name", name)] {
        if !name_ok(v) {
            bad(format!(
                "{field} {v:?} is not a Kubernetes name (lowercase letters, digits, '-' and '.')"
            ));
            return None;
        }
    }
    Some(WorkloadRef {
        controller,
        namespace: namespace.into(),
        name: name.into(),
    })
}

/// Two targets for one workload: which one a failure runs would be a guess.
fn listed_twice(targets: &[Config]) -> Vec<Problem> {
    let mut seen = std::collections::BTreeMap::new();
    let mut problems = vec![];
    for c in targets {
        let config::Job::Edits(t) = &c.job else {
            continue;
        };
        let Some(w) = &t.workload else { continue };
        if let Some(first) = seen.insert(w.clone(), t.label.clone()) {
            problems.push(Problem {
                input: format!("{}.workload", t.label),
                message: format!("names {w}, as {first} does; give each workload one target"),
            });
        }
    }
    problems
}

/// The operator's inputs with the target's fields over them.
fn overlay(base: &Args, t: &TargetSpec) -> Args {
    let mut a = base.clone();
    // The target is a promotion of its own: no file of its own, no single-file rules.
    a.config = None;
    a.config_in_repo = None;
    let set = |slot: &mut Option<String>, v: &Option<String>| {
        if v.is_some() {
            slot.clone_from(v);
        }
    };
    set(&mut a.repo, &t.repo);
    set(&mut a.branch, &t.branch);
    // A target's dir is inside GITOPS_DIR, like every other path.
    a.dir = match (&base.dir, &t.dir) {
        (Some(b), Some(d)) if !matches!(b.trim_end_matches('/'), "" | ".") => {
            Some(format!("{}/{d}", b.trim_end_matches('/')))
        }
        (b, d) => d.clone().or_else(|| b.clone()),
    };
    set(&mut a.mode, &t.mode);
    set(&mut a.token_secret, &t.token_secret);
    // A target on another host: its own API. The inherited kind goes with the inherited
    // URL, so `pr.apiUrl` alone is read for its kind (path, host, repo host) afresh.
    if t.pr.api_url.is_some() && t.pr.api_url != base.api_url {
        a.provider = None;
    }
    set(&mut a.api_url, &t.pr.api_url);
    set(&mut a.provider, &t.pr.provider);
    set(&mut a.pr_repo, &t.pr.repo);
    set(&mut a.pr_branch, &t.pr.branch);
    set(&mut a.pr_title, &t.pr.title);
    set(&mut a.pr_body, &t.pr.body);
    if !t.pr.labels.is_empty() {
        a.pr_labels = Some(t.pr.labels.join(","));
    }
    if !t.pr.reviewers.is_empty() {
        a.pr_reviewers = Some(t.pr.reviewers.join(","));
    }
    if let Some(d) = t.pr.draft {
        a.pr_draft = Some(d.to_string());
    }
    set(&mut a.merge, &t.pr.merge);
    set(&mut a.merge_method, &t.pr.merge_method);
    set(&mut a.merge_wait, &t.pr.merge_wait);
    a
}

/// The target's `apply` files, relative to its dir.
fn apply_paths(label: &str, t: &TargetSpec, problems: &mut Vec<Problem>) -> Vec<RepoPath> {
    let mut apply = vec![];
    for f in &t.apply {
        match RepoPath::parse(f) {
            Ok(p) => apply.push(p),
            Err(why) => problems.push(Problem {
                input: format!("{label}.apply"),
                message: format!("{f:?} {why}"),
            }),
        }
    }
    apply
}

/// A variable's problem, said of the target field that set it.
fn field(label: &str, input: &str) -> String {
    let f = match input {
        "GITOPS_REPO" => "repo",
        "GITOPS_BRANCH" => "branch",
        "GITOPS_DIR" => "dir",
        "GITOPS_MODE" => "mode",
        "GITOPS_TOKEN_SECRET" => "tokenSecret",
        "GITOPS_PROVIDER" => "pr.provider",
        "GITOPS_API_URL" => "pr.apiUrl",
        "GITOPS_PR_REPO" => "pr.repo",
        "GITOPS_PR_BRANCH" => "pr.branch",
        "GITOPS_PR_TITLE" => "pr.title",
        "GITOPS_PR_LABELS" => "pr.labels",
        "GITOPS_PR_REVIEWERS" => "pr.reviewers",
        "GITOPS_MERGE" => "pr.merge",
        "GITOPS_MERGE_METHOD" => "pr.mergeMethod",
        "GITOPS_MERGE_WAIT" => "pr.mergeWait",
        other => return format!("{label}: {other}"),
    };
    format!("{label}.{f}")
}

impl config::Promotion {
    /// The file's targets, validated against the operator's inputs with the authority of
    /// whoever wrote the file: the operator (GITOPS_CONFIG), or the Env repo
    /// (GITOPS_CONFIG_IN_REPO, bounded by GITOPS_IN_REPO_ALLOW).
    pub fn targets(&self, file: &File) -> Result<Vec<Config>, config::Error> {
        let author = match &self.source {
            config::PromotionSource::File(_) => Author::Operator,
            config::PromotionSource::InRepo(_) => Author::Repo(&self.allow),
        };
        configs(&self.base, file, author)
    }
}

/// Targets that share repo, branch, mode and pushed branch become one commit and one PR.
pub fn groups(targets: Vec<Config>) -> Vec<Vec<Config>> {
    let mut groups: Vec<Vec<Config>> = vec![];
    for t in targets {
        let key = |c: &Config| {
            (
                c.repo.location.to_string(),
                c.repo.branch.to_string(),
                c.mode,
                c.target_branch().to_string(),
            )
        };
        match groups.iter_mut().find(|g| key(&g[0]) == key(&t)) {
            Some(g) => g.push(t),
            None => groups.push(vec![t]),
        }
    }
    groups
}

/// The JSON Schema of a promotion file (in task-spec/schema.json as `$defs.promotionFile`).
pub fn schema() -> serde_json::Value {
    use serde_json::json;
    let s = |d: &str| json!({"type": "string", "description": d});
    let file = |d: &str| json!({"type": "string", "description": format!("{d}, relative to the target's dir")});
    let one = |name: &str, props: serde_json::Value, required: &[&str]| {
        json!({
            "type": "object", "additionalProperties": false, "required": [name],
            "properties": {name: {"type": "object", "additionalProperties": false,
                "properties": props, "required": required}}
        })
    };
    let edit = json!({"oneOf": [
        one("copy", json!({"from": file("the file copied"), "to": file("the file written")}), &["from", "to"]),
        one("replace", json!({"file": file("the file"), "from": s("literal text to find"), "to": s("its replacement")}), &["file", "from", "to"]),
        {"type": "object", "additionalProperties": false, "required": ["delete"],
         "properties": {"delete": {"type": "array", "items": file("a file to delete"), "description": "files to delete; a missing one is fine"}}},
        one("yaml-set", json!({
            "file": file("a YAML file"),
            "path": s("dotted path with list selectors: spec.template.spec.containers[name=app].image"),
            "value": s("the new scalar; may use ${winner.name}, ${winner.variables.NAME}, ${experiment.name}, ${experiment.namespace}"),
            "document": {"type": "integer", "minimum": 0, "description": "which document (0-based); default: the one that has the path"},
            "all": {"type": "boolean", "description": "every document that has the path"},
            "create": {"type": "boolean", "description": "add the missing keys"}
        }), &["file", "path", "value"]),
        one("kustomize-image", json!({
            "file": file("the kustomization (default: kustomization.yaml)"),
            "name": s("the image name the manifests use"),
            "newName": s("new image name"), "newTag": s("new tag"), "digest": s("new digest")
        }), &["name"]),
        one("helm-values", json!({
            "file": file("the values file (default: values.yaml)"),
            "key": s("Helm's dotted key (image.tag; \\\\. for a dot inside a key)"),
            "value": s("the new value"),
            "create": {"type": "boolean", "description": "add the key when missing"}
        }), &["key", "value"])
    ]});
    let strings = |d: &str| json!({"type": "array", "items": {"type": "string"}, "description": d});
    json!({
        "type": "object", "additionalProperties": false, "required": ["targets"],
        "description": "GITOPS_CONFIG / GITOPS_CONFIG_IN_REPO: targets on the same repo, branch, mode and PR branch share one commit and one PR",
        "properties": {"targets": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": false, "required": ["edits"],
            "properties": {
                "name": s("for the report"),
                "repo": s("clone URL (default: GITOPS_REPO)"),
                "branch": s("synced branch (default: GITOPS_BRANCH)"),
                "dir": s("folder inside GITOPS_DIR"),
                "mode": {"enum": ["pr", "push"]},
                "tokenSecret": s("Secret with this target's token (default: GITOPS_TOKEN_SECRET)"),
                "workload": {"type": "string", "pattern": format!("^({}) [a-z0-9.-]+/[a-z0-9.-]+$", Controller::KINDS.join("|")),
                    "description": "serve only: KIND NAMESPACE/NAME (Canary test/podinfo, Rollout demo/app), the workload whose failed rollout this target puts back; its edits may use ${stable.image}, ${stable.tag}, ${stable.image.CONTAINER}, ${stable.tag.CONTAINER}, ${failed.image}, ${workload.name}, ${workload.namespace}, ${revision}"},
                "edits": {"type": "array", "minItems": 1, "items": edit},
                "apply": strings("files to server-side apply after the change lands"),
                "pr": {"type": "object", "additionalProperties": false, "properties": {
                    "provider": {"enum": ["github", "gitlab", "gitea", "forgejo", "azure-devops", "bitbucket", "bitbucket-server"],
                        "description": "host kind, for a target on another host (default: GITOPS_PROVIDER, else from apiUrl or the repo's host)"},
                    "apiUrl": s("host API base, for a target on another host (default: GITOPS_API_URL)"),
                    "repo": s("owner/repo the PR is opened on"),
                    "branch": s("head branch"),
                    "title": s("may use ${winner…} and ${experiment…}"),
                    "body": s("may use ${winner…} and ${experiment…}"),
                    "labels": strings("labels"),
                    "reviewers": strings("reviewers"),
                    "draft": {"type": "boolean"},
                    "merge": {"enum": super::merge::POLICIES,
                        "description": "none: a person merges; auto: the host's auto-merge; now: merged once mergeable (default: GITOPS_MERGE). An in-repo file needs pr.merge in GITOPS_IN_REPO_ALLOW to turn merging on"},
                    "mergeMethod": {"enum": super::merge::METHODS, "description": "default: GITOPS_MERGE_METHOD"},
                    "mergeWait": s("how long to wait for the merge, e.g. 10m; 0: no wait (default: GITOPS_MERGE_WAIT)")
                }}
            }
        }}}
    })
}
