//! Inputs: what the user typed (`Args`, from the environment and from flags) and what we run
//! with (`Config`, validated and typed). Only `main` reads the process environment and argv;
//! everything here works on maps and strings so that it can be tested without touching either.
//!
//! The environment is the contract with Iter8 and the Job (`GITOPS_*`, `EXPERIMENT_*`); flags of
//! the same names (`--winner` for `GITOPS_WINNER`) override it, because Iter8's `common/exec`
//! task interpolates `{{ .filepath }}` into `args`. There is deliberately no `--token` flag:
//! a secret in argv is visible in `/proc` and in the Pod spec.

pub mod promotion;

use std::{fmt, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::plan::names::{BranchName, RepoPath, RepoSlug};

/// What the user typed, before validation. Every field is a string, because both sources
/// (environment and flags) are strings and validation reports all problems at once.
#[derive(Debug, Default, Clone, Serialize, Deserialize, clap::Args, PartialEq)]
#[serde(default)]
pub struct Args {
    /// finish: promote the winner (Iter8's finish action; the default); start: render the experiment's files from the templates (CI) [GITOPS_TASK]
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
    /// Env repo clone URL (https), or a local path / file:// URL of a bare repo [GITOPS_REPO]
    #[arg(long)]
    pub repo: Option<String>,
    /// Base branch the Env repo is synced from [GITOPS_BRANCH]
    #[arg(long)]
    pub branch: Option<String>,
    /// Directory inside the repo that holds the environment; paths below are relative to it [GITOPS_DIR]
    #[arg(long)]
    pub dir: Option<String>,
    /// The winning version's manifest; default: from the Experiment [GITOPS_WINNER]
    #[arg(long)]
    pub winner: Option<String>,
    /// Name of the Experiment version variable holding the winner's file (default: filepath) [GITOPS_WINNER_VARIABLE]
    #[arg(long)]
    pub winner_variable: Option<String>,
    /// The baseline manifest the winner becomes [GITOPS_BASELINE]
    #[arg(long)]
    pub baseline: Option<String>,
    /// Comma-separated FROM=TO literal replacements applied to the winner's text [GITOPS_REPLACE]
    #[arg(long)]
    pub replace: Option<String>,
    /// Comma-separated files to delete [GITOPS_REMOVE]
    #[arg(long)]
    pub remove: Option<String>,
    /// Comma-separated files to server-side apply after the push [GITOPS_APPLY]
    #[arg(long)]
    pub apply: Option<String>,
    /// Comma-separated kinds that may be applied: Kind.group, *.group, or Kind for the core group; a cluster-scoped kind only when named by itself (default: *.networking.istio.io) [GITOPS_APPLY_KINDS]
    #[arg(long)]
    pub apply_kinds: Option<String>,
    /// Comma-separated namespaces, besides the run's, that applied objects may name in metadata.namespace (default: none) [GITOPS_APPLY_NAMESPACES]
    #[arg(long)]
    pub apply_namespaces: Option<String>,
    /// Namespace of the token Secret and of applied objects [GITOPS_NAMESPACE]
    #[arg(long)]
    pub namespace: Option<String>,
    /// Secret holding the Git host token (default: iter8-token) [GITOPS_TOKEN_SECRET]
    #[arg(long)]
    pub token_secret: Option<String>,
    /// Key of the token in the Secret (default: token) [GITOPS_TOKEN_KEY]
    #[arg(long)]
    pub token_key: Option<String>,
    /// Secret holding an unencrypted OpenSSH Ed25519 key (key ssh-privatekey, as in kubernetes.io/ssh-auth Secrets) that SSH-signs every commit (default: unsigned) [GITOPS_SIGNING_KEY_SECRET]
    #[arg(long)]
    pub signing_key_secret: Option<String>,
    /// The signing key as a file instead: a mounted Secret, or a local run [GITOPS_SIGNING_KEY_FILE]
    #[arg(long)]
    pub signing_key_file: Option<String>,
    /// The token itself, for local debugging: environment only, never a flag [GITOPS_TOKEN]
    #[arg(skip)]
    pub token: Option<Token>,
    /// HTTP basic-auth user name for git (default: x-access-token) [GITOPS_USERNAME]
    #[arg(long)]
    pub username: Option<String>,
    /// owner/repo where the PR is opened (default: the Env repo) [GITOPS_PR_REPO]
    #[arg(long)]
    pub pr_repo: Option<String>,
    /// Head branch of the PR (default: iter8_exp) [GITOPS_PR_BRANCH]
    #[arg(long)]
    pub pr_branch: Option<String>,
    /// PR title (default: Iter8 GitOps) [GITOPS_PR_TITLE]
    #[arg(long)]
    pub pr_title: Option<String>,
    /// PR body (default: a generated summary) [GITOPS_PR_BODY]
    #[arg(long)]
    pub pr_body: Option<String>,
    /// Commit message (default: update baseline) [GITOPS_COMMIT_MESSAGE]
    #[arg(long)]
    pub commit_message: Option<String>,
    /// Author and committer name (default: Iter8) [GITOPS_AUTHOR_NAME]
    #[arg(long)]
    pub author_name: Option<String>,
    /// Author and committer email (default: iter8@iter8.tools) [GITOPS_AUTHOR_EMAIL]
    #[arg(long)]
    pub author_email: Option<String>,
    /// Git host kind: github (also GitHub Enterprise), gitlab, gitea (also Forgejo) (default: from the host) [GITOPS_PROVIDER]
    #[arg(long)]
    pub provider: Option<String>,
    /// Git host API base (default: from the provider and the repo's host) [GITOPS_API_URL]
    #[arg(long)]
    pub api_url: Option<String>,
    /// Comma-separated labels for the PR; one that cannot be added is a warning [GITOPS_PR_LABELS]
    #[arg(long)]
    pub pr_labels: Option<String>,
    /// Comma-separated reviewers for the PR (GitHub teams as org/team); a failure is a warning [GITOPS_PR_REVIEWERS]
    #[arg(long)]
    pub pr_reviewers: Option<String>,
    /// true: open the PR as a draft (default: false) [GITOPS_PR_DRAFT]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub pr_draft: Option<String>,
    /// GitHub App id (or client id), to authenticate as the App instead of a token [GITOPS_GITHUB_APP_ID]
    #[arg(long)]
    pub github_app_id: Option<String>,
    /// GitHub App installation id on the Env repo's owner [GITOPS_GITHUB_APP_INSTALLATION_ID]
    #[arg(long)]
    pub github_app_installation_id: Option<String>,
    /// Key in the token Secret holding the App's PEM private key (default: private-key) [GITOPS_GITHUB_APP_KEY]
    #[arg(long)]
    pub github_app_key: Option<String>,
    /// PEM bundle of extra CAs trusted for git and the API [GITOPS_CA_FILE]
    #[arg(long)]
    pub ca_file: Option<String>,
    /// Server-side apply field manager (default: iter8-gitops) [GITOPS_FIELD_MANAGER]
    #[arg(long)]
    pub field_manager: Option<String>,
    /// true: read everything, print the diff and the objects, write nothing [GITOPS_DRY_RUN]
    // Booleans work bare (`--dry-run`) as well as with a value (`--dry-run=true`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: Option<String>,
    /// true: print the planned diff on stderr (a dry run always does) [GITOPS_SHOW_DIFF]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub show_diff: Option<String>,
    /// pr: push a PR branch and open a pull request; push: commit straight onto GITOPS_BRANCH (default: pr) [GITOPS_MODE]
    #[arg(long)]
    pub mode: Option<String>,
    /// Overall deadline, in seconds or with a unit (90s, 5m) (default: 300s) [GITOPS_TIMEOUT]
    #[arg(long)]
    pub timeout: Option<String>,
    /// Connect and read timeout of each request; a git transfer gets four times it (default: 30s) [GITOPS_REQUEST_TIMEOUT]
    #[arg(long)]
    pub request_timeout: Option<String>,
    /// Log format: text or json (default: text) [GITOPS_LOG_FORMAT]
    #[arg(long)]
    pub log_format: Option<String>,
    /// Where the report is also written, cut to 4096 bytes (default: /dev/termination-log) [GITOPS_TERMINATION_LOG]
    #[arg(long)]
    pub termination_log: Option<String>,
    /// start: the candidate's version (e.g. the app repo's short commit); names and version labels derive from it [GITOPS_VERSION]
    // `--version` prints the tool's own version.
    #[arg(long = "candidate-version", id = "candidate_version")]
    pub version: Option<String>,
    /// start: the templates folder, relative to GITOPS_DIR (default: templates) [GITOPS_TEMPLATES]
    #[arg(long)]
    pub templates: Option<String>,
    /// start: comma-separated KEY=VALUE substitutions for ${{ KEY }} (or the bare word KEY) in the templates [GITOPS_SET]
    #[arg(long)]
    pub set: Option<String>,
    /// A promotion file (YAML or JSON): one or more targets, each with its edits, PR and files to apply [GITOPS_CONFIG]
    #[arg(long)]
    pub config: Option<String>,
    /// The promotion file's path in the Env repo (GITOPS_REPO at GITOPS_BRANCH), versioned with the environment [GITOPS_CONFIG_IN_REPO]
    #[arg(long)]
    pub config_in_repo: Option<String>,
    /// Comma-separated FIELD=VALUE that a promotion file read from the Env repo may set although they differ from the operator's own (repo, branch, mode, tokenSecret, pr.apiUrl, pr.provider, pr.repo, pr.branch; a VALUE ending in * allows that prefix), e.g. mode=push,pr.branch=iter8/* (default: none) [GITOPS_IN_REPO_ALLOW]
    #[arg(long)]
    pub in_repo_allow: Option<String>,
    /// namespace/name of the Argo CD Application to refresh after a push to GITOPS_BRANCH [GITOPS_ARGOCD_APP]
    #[arg(long)]
    pub argocd_app: Option<String>,
    /// How long to wait for that Application to be Synced and Healthy at the pushed commit (e.g. 5m) [GITOPS_ARGOCD_WAIT]
    #[arg(long)]
    pub argocd_wait: Option<String>,
    /// Name of the Experiment, set by Iter8 on its handler Job [EXPERIMENT_NAME]
    #[arg(long)]
    #[serde(skip)]
    pub experiment_name: Option<String>,
    /// Namespace of the Experiment, set by Iter8 on its handler Job [EXPERIMENT_NAMESPACE]
    #[arg(long)]
    #[serde(skip)]
    pub experiment_namespace: Option<String>,
    /// `GITOPS_*` names in the environment that are no input: reported by validation with
    /// every other problem (a typo must not hide the variable it misspells).
    #[arg(skip)]
    #[serde(skip)]
    pub unknown_variables: Vec<String>,
}

/// `EXPERIMENT_NAME` / `EXPERIMENT_NAMESPACE` carry no `GITOPS_` prefix (Iter8 sets them).
#[derive(Debug, Default, Deserialize)]
struct ExperimentEnv {
    experiment_name: Option<String>,
    experiment_namespace: Option<String>,
}

impl Args {
    /// Reads `GITOPS_*` and `EXPERIMENT_*` from an environment given as pairs.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)> + Clone,
    ) -> Result<Args, Error> {
        // Unknown GITOPS_* names are most likely typos; catch them before envy ignores them.
        let known = Args::variable_names();
        let mut unknown: Vec<String> = vars
            .clone()
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("GITOPS_") && !known.contains(k) && k != "GITOPS_TOKEN")
            .collect();
        unknown.sort();
        let mut args: Args = envy::prefixed("GITOPS_")
            .from_iter(vars.clone())
            .map_err(|e| Error {
                problems: vec![Problem::new("environment", &e.to_string())],
            })?;
        let exp: ExperimentEnv = envy::from_iter(vars).unwrap_or_default();
        args.experiment_name = exp.experiment_name;
        args.experiment_namespace = exp.experiment_namespace;
        args.unknown_variables = unknown;
        Ok(args)
    }

    /// Every field set in `flags` replaces the one here: flags win over the environment.
    pub fn overlay(self, flags: Args) -> Args {
        let mut base = serde_json::to_value(&self).expect("Args serializes to a JSON object");
        let over = serde_json::to_value(&flags).expect("Args serializes to a JSON object");
        if let (Some(base), Some(over)) = (base.as_object_mut(), over.as_object()) {
            for (k, v) in over {
                if !v.is_null() {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        let mut merged: Args =
            serde_json::from_value(base).expect("a merge of two Args is an Args");
        merged.unknown_variables = self.unknown_variables;
        merged.experiment_name = flags.experiment_name.or(self.experiment_name);
        merged.experiment_namespace = flags.experiment_namespace.or(self.experiment_namespace);
        merged
    }

    /// The environment variable names, in declaration order (the contract table and the
    /// JSON schema are checked against this list).
    pub fn variable_names() -> Vec<String> {
        let value =
            serde_json::to_value(Args::default()).expect("Args serializes to a JSON object");
        value
            .as_object()
            .expect("Args is a struct")
            .keys()
            .map(|k| format!("GITOPS_{}", k.to_uppercase()))
            .collect()
    }
}

/// The JSON Schema of every input (`task-spec/schema.json`), generated from the flag
/// definitions above so that the two cannot disagree: each property is an environment
/// variable, with its flag (`x-flag`), meaning and default.
pub fn schema() -> serde_json::Value {
    use clap::Args as _;
    let cmd = Args::augment_args(clap::Command::new("iter8-gitops"));
    let mut props = serde_json::Map::new();
    for arg in cmd.get_arguments() {
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let (text, var) = match (help.rfind(" ["), help.ends_with(']')) {
            (Some(i), true) => (
                help[..i].to_string(),
                help[i + 2..help.len() - 1].to_string(),
            ),
            _ => (
                help.clone(),
                format!("GITOPS_{}", arg.get_id().as_str().to_uppercase()),
            ),
        };
        let default = text.find("(default: ").map(|i| {
            let rest = &text[i + "(default: ".len()..];
            rest[..rest.rfind(')').unwrap_or(rest.len())].to_string()
        });
        let mut p = serde_json::json!({"type": "string", "description": text});
        if let Some(long) = arg.get_long() {
            p["x-flag"] = serde_json::json!(format!("--{long}"));
        }
        if arg.is_positional() {
            p["x-argument"] = serde_json::json!("the first command-line argument");
            p["enum"] = serde_json::json!(["finish", "start"]);
        }
        if let Some(d) = default {
            p["default"] = serde_json::json!(d);
        }
        props.insert(var, p);
    }
    props.insert(
        "GITOPS_TOKEN".into(),
        serde_json::json!({"type": "string", "description": "The token itself, for local debugging; skips the Secret. Environment only: no flag, so it never reaches argv"}),
    );
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/iter8-tools/iter8-gitops/task-spec/schema.json",
        "title": "iter8-gitops inputs",
        "description": "Environment variables of iter8-gitops; each but GITOPS_TOKEN is also a flag (x-flag), and flags win. For finish (the default task), GITOPS_BASELINE is required, and GITOPS_WINNER unless EXPERIMENT_NAME and EXPERIMENT_NAMESPACE are set; start needs GITOPS_VERSION.",
        "type": "object",
        "properties": props,
        "required": ["GITOPS_REPO", "GITOPS_BRANCH"],
        "if": {"properties": {"GITOPS_TASK": {"const": "start"}}, "required": ["GITOPS_TASK"]},
        "then": {"required": ["GITOPS_VERSION"]},
        "else": {"anyOf": [
            {"required": ["GITOPS_BASELINE"]},
            {"required": ["GITOPS_CONFIG"]},
            {"required": ["GITOPS_CONFIG_IN_REPO"]}
        ]},
        "$defs": {"promotionFile": crate::config::promotion::schema()},
        "additionalProperties": false
    })
}

/// One bad input: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable (or flag) name, e.g. `GITOPS_BRANCH`.
    pub input: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Problem {
    fn new(input: &str, message: &str) -> Self {
        Problem {
            input: input.to_string(),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.input, self.message)
    }
}

/// Every problem found in the inputs, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration ({} problem{}):\n{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" },
    .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct Error {
    /// The problems, in the order of the contract table.
    pub problems: Vec<Problem>,
}

/// Where the Env repo lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoLocation {
    /// A remote reached over HTTPS (or plain HTTP without credentials, for tests).
    Https(url::Url),
    /// A bare repository on this machine (local runs and the bundled example).
    Local(PathBuf),
}

impl RepoLocation {
    /// The URL handed to gix: never contains credentials.
    pub fn as_gix_url(&self) -> String {
        match self {
            RepoLocation::Https(u) => u.to_string(),
            RepoLocation::Local(p) => p.display().to_string(),
        }
    }

    /// `owner/repo` from an https URL path like `/owner/repo.git`.
    pub fn slug(&self) -> Option<RepoSlug> {
        match self {
            RepoLocation::Https(u) => {
                let path = u.path().trim_matches('/');
                let path = path.strip_suffix(".git").unwrap_or(path);
                RepoSlug::parse(path).ok()
            }
            RepoLocation::Local(_) => None,
        }
    }
}

impl fmt::Display for RepoLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_gix_url())
    }
}

/// The Experiment that Iter8 ran the task for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentRef {
    /// `metadata.name`
    pub name: String,
    /// `metadata.namespace`
    pub namespace: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Where the change goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A PR branch (GITOPS_PR_BRANCH) and one pull request into GITOPS_BRANCH.
    #[default]
    PullRequest,
    /// Straight onto GITOPS_BRANCH, for teams without PR review; no pull request.
    Push,
}

/// A token, redacted in every `Debug` and `Display`. It (de)serializes as its plain value
/// only so that `Args::overlay` can merge sources; nothing writes `Args` anywhere.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Token(s)
    }
    /// The secret itself; call sites are the only places that see it (HTTP headers, gix identity).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// What the run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Promote the winner (Iter8's finish action).
    Finish,
    /// Render the experiment's files from the templates (what CI runs).
    Start(StartConfig),
}

/// The inputs only `start` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartConfig {
    pub version: String,
    pub templates: RepoPath,
    pub set: Vec<(String, String)>,
}

/// Where the promotion file is, and the inputs its targets start from.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    pub source: PromotionSource,
    pub base: Box<Args>,
    /// GITOPS_IN_REPO_ALLOW: what an in-repo file may set beyond the operator's values.
    pub allow: crate::config::promotion::Allow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromotionSource {
    /// A file on this machine (a ConfigMap mounted into the Job, say).
    File(PathBuf),
    /// A file in the Env repo, read from GITOPS_BRANCH.
    InRepo(RepoPath),
}

/// An Argo CD Application to refresh (and maybe wait for) after a push to the synced branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgoApp {
    pub namespace: String,
    pub name: String,
    pub wait: Option<Duration>,
}

/// Validated inputs.
#[derive(Debug, Clone)]
pub struct Config {
    pub task: Task,
    /// A promotion file to run instead of the single promotion the variables describe.
    pub promotion: Option<Promotion>,
    /// A target of a promotion file: its edits replace the winner/baseline rules.
    pub edits: Option<Vec<crate::plan::edits::EditSpec>>,
    /// The target's label in a promotion file, for the report.
    pub target: Option<String>,
    pub argocd: Option<ArgoApp>,
    pub repo: RepoLocation,
    pub branch: BranchName,
    pub dir: RepoPath,
    pub winner: Option<RepoPath>,
    pub winner_variable: String,
    pub baseline: RepoPath,
    pub replace: Vec<(String, String)>,
    pub remove: Vec<RepoPath>,
    pub apply: Vec<RepoPath>,
    pub namespace: Option<String>,
    pub token_secret: String,
    pub token_key: String,
    pub token: Option<Token>,
    /// Where the commit signing key is, when commits are signed.
    pub signing: Option<SigningKey>,
    pub username: String,
    pub pr_repo: Option<RepoSlug>,
    pub pr_branch: BranchName,
    pub pr_title: String,
    pub pr_body: Option<String>,
    pub commit_message: String,
    pub author_name: String,
    pub author_email: String,
    /// `None`: no pull request (a local repo without an API URL, or push mode on a host
    /// that is not known).
    pub api_url: Option<url::Url>,
    /// The kind of host behind `api_url` (set exactly when it is).
    pub provider: Option<crate::host::Kind>,
    pub pr_labels: Vec<String>,
    pub pr_reviewers: Vec<String>,
    pub pr_draft: bool,
    pub github_app: Option<GitHubAppRef>,
    pub ca_file: Option<PathBuf>,
    pub field_manager: String,
    /// What may be applied (GITOPS_APPLY_KINDS, GITOPS_APPLY_NAMESPACES).
    pub apply_policy: crate::plan::admission::Policy,
    pub dry_run: bool,
    /// Print the planned diff on stderr (GITOPS_SHOW_DIFF; a dry run always does).
    pub show_diff: bool,
    pub mode: Mode,
    pub timeout: Duration,
    pub request_timeout: Duration,
    pub log_format: LogFormat,
    pub termination_log: PathBuf,
    pub experiment: Option<ExperimentRef>,
}

/// Defaults, named once.
pub mod defaults {
    pub const TOKEN_SECRET: &str = "iter8-token";
    pub const TOKEN_KEY: &str = "token";
    pub const GITHUB_APP_KEY: &str = "private-key";
    pub const TEMPLATES: &str = "templates";
    pub const USERNAME: &str = "x-access-token";
    pub const PR_BRANCH: &str = "iter8_exp";
    pub const PR_TITLE: &str = "Iter8 GitOps";
    pub const COMMIT_MESSAGE: &str = "update baseline";
    pub const AUTHOR_NAME: &str = "Iter8";
    pub const AUTHOR_EMAIL: &str = "iter8@iter8.tools";
    pub const API_URL: &str = "https://api.github.com";
    pub const FIELD_MANAGER: &str = "iter8-gitops";
    pub const WINNER_VARIABLE: &str = "filepath";
    pub const TIMEOUT_SECS: u64 = 300;
    pub const TERMINATION_LOG: &str = "/dev/termination-log";
}

/// Collects problems while the fields are validated one by one.
struct Check {
    problems: Vec<Problem>,
}

impl Check {
    fn bad(&mut self, input: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            input: input.to_string(),
            message: message.into(),
        });
    }

    /// A value that is set must not be empty or contain NUL; returns the trimmed value.
    fn value(&mut self, input: &str, v: &Option<String>) -> Option<String> {
        let v = v.as_ref()?;
        if v.contains('\0') {
            self.bad(input, "contains a NUL byte; remove it");
            return None;
        }
        let t = v.trim();
        if t.is_empty() {
            self.bad(
                input,
                "is set but empty; give a value or unset it to use the default",
            );
            return None;
        }
        Some(t.to_string())
    }

    fn required(&mut self, input: &str, v: &Option<String>, what: &str) -> Option<String> {
        if v.is_none() {
            self.bad(input, format!("is required: {what}"));
            return None;
        }
        self.value(input, v)
    }

    fn path(&mut self, input: &str, v: &str) -> Option<RepoPath> {
        match RepoPath::parse(v) {
            Ok(p) => Some(p),
            Err(e) => {
                self.bad(input, format!("{v:?}: {e}"));
                None
            }
        }
    }

    fn branch(&mut self, input: &str, v: &str) -> Option<BranchName> {
        match BranchName::parse(v) {
            Ok(b) => Some(b),
            Err(e) => {
                self.bad(input, format!("{v:?}: {e}"));
                None
            }
        }
    }

    /// Comma-separated list; an empty or unset list is no entries.
    fn path_list(&mut self, input: &str, v: &Option<String>) -> Vec<RepoPath> {
        let Some(v) = v else { return vec![] };
        if v.contains('\0') {
            self.bad(input, "contains a NUL byte; remove it");
            return vec![];
        }
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.path(input, s))
            .collect()
    }
}

/// What to say of a `GITOPS_*` name that is no input: the closest known one, if close.
fn unknown_variable(name: &str) -> String {
    let closest = Args::variable_names()
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(name, &k), k))
        .min();
    match closest {
        Some((d, k)) if d <= 3 => {
            format!("is not a variable iter8-gitops knows; did you mean {k}? (see --help)")
        }
        _ => "is not a variable iter8-gitops knows; check its spelling (see --help)".into(),
    }
}

/// Kubernetes names (RFC 1123 label for namespaces, subdomain for Secrets).
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn parse_bool(input: &str, v: &str, c: &mut Check) -> bool {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => true,
        "false" | "0" | "no" => false,
        _ => {
            c.bad(input, format!("{v:?} is not a boolean; use true or false"));
            false
        }
    }
}

fn parse_duration(v: &str) -> Option<Duration> {
    let (num, mult) = match v.as_bytes().last()? {
        b's' => (&v[..v.len() - 1], 1),
        b'm' => (&v[..v.len() - 1], 60),
        b'h' => (&v[..v.len() - 1], 3600),
        _ => (v, 1),
    };
    let n: u64 = num.parse().ok()?;
    (n > 0).then(|| Duration::from_secs(n * mult))
}

fn parse_repo(v: &str, c: &mut Check) -> Option<RepoLocation> {
    const INPUT: &str = "GITOPS_REPO";
    if let Some(rest) = v.strip_prefix("file://") {
        if rest.is_empty() || !rest.starts_with('/') {
            c.bad(
                INPUT,
                format!("{v:?}: a file:// URL needs an absolute path, like file:///srv/env.git"),
            );
            return None;
        }
        return Some(RepoLocation::Local(PathBuf::from(rest)));
    }
    if v.starts_with('/') || v.starts_with("./") || v.starts_with("../") {
        return Some(RepoLocation::Local(PathBuf::from(v)));
    }
    match url::Url::parse(v) {
        Ok(u) if u.scheme() == "http" => {
            // The token would cross the network in clear, and anyone on the path could
            // rewrite what Argo CD deploys.
            c.bad(
                INPUT,
                format!(
                    "{:?} is plain http; use the https:// clone URL (a local path needs no token)",
                    crate::trust::redact::url(v)
                ),
            );
            None
        }
        Ok(u) if u.scheme() == "https" => {
            if u.host_str().is_none_or(str::is_empty) {
                c.bad(INPUT, format!("{v:?} has no host"));
                return None;
            }
            if !u.username().is_empty() || u.password().is_some() {
                // Credentials in a URL end up in logs and process listings: that is the leak
                // this tool exists to remove.
                c.bad(INPUT, "contains credentials; remove them from the URL and use GITOPS_TOKEN or the token Secret");
                return None;
            }
            if u.query().is_some() || u.fragment().is_some() {
                // NB: the query is not echoed: it is where a pasted token would be.
                c.bad(
                    INPUT,
                    format!(
                        "{:?} has a query or fragment; give the plain clone URL",
                        crate::trust::redact::url(v)
                    ),
                );
                return None;
            }
            Some(RepoLocation::Https(u))
        }
        Ok(u) => {
            c.bad(INPUT, format!("{v:?}: scheme {:?} is not supported; use an https:// clone URL or a local path", u.scheme()));
            None
        }
        Err(_) if v.contains('@') && v.contains(':') => {
            c.bad(INPUT, format!("{v:?} looks like an ssh address; use the https:// clone URL (the token authenticates over HTTPS)"));
            None
        }
        Err(e) => {
            c.bad(
                INPUT,
                format!(
                    "{v:?} is not a URL ({e}); use an https:// clone URL or an absolute local path"
                ),
            );
            None
        }
    }
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(a: Args) -> Result<Config, Error> {
        Config::validate(a, false)
    }
}

impl Config {
    /// Validates one target of a promotion file (its rules are its edits, not the variables).
    pub fn try_from_target(a: Args) -> Result<Config, Error> {
        Config::validate(a, true)
    }

    fn validate(a: Args, target: bool) -> Result<Config, Error> {
        let mut c = Check { problems: vec![] };
        for name in &a.unknown_variables {
            c.bad(name, unknown_variable(name));
        }
        let file = c.value("GITOPS_CONFIG", &a.config);
        let in_repo = c
            .value("GITOPS_CONFIG_IN_REPO", &a.config_in_repo)
            .and_then(|v| c.path("GITOPS_CONFIG_IN_REPO", &v));
        // A promotion file and the single promotion's rules together would be two answers.
        let promoting = target || file.is_some() || in_repo.is_some();
        if file.is_some() && in_repo.is_some() {
            c.bad(
                "GITOPS_CONFIG_IN_REPO",
                "is set together with GITOPS_CONFIG; give one promotion file",
            );
        }
        if promoting && !target {
            for (input, v) in [
                ("GITOPS_WINNER", &a.winner),
                ("GITOPS_BASELINE", &a.baseline),
                ("GITOPS_REPLACE", &a.replace),
                ("GITOPS_REMOVE", &a.remove),
                ("GITOPS_APPLY", &a.apply),
            ] {
                if v.is_some() {
                    c.bad(
                        input,
                        "is set together with a promotion file; put it in the file's targets (edits, apply) instead",
                    );
                }
            }
        }
        let starting = match c.value("GITOPS_TASK", &a.task).as_deref() {
            None | Some("finish") => false,
            Some("start") => true,
            Some(other) => {
                c.bad(
                    "GITOPS_TASK",
                    format!(
                        "{other:?} is not finish or start (iter8-gitops start, iter8-gitops finish)"
                    ),
                );
                false
            }
        };

        let repo = c
            .required(
                "GITOPS_REPO",
                &a.repo,
                "the Env repo clone URL (https://host/owner/repo.git) or a local bare repo path",
            )
            .and_then(|v| parse_repo(&v, &mut c));
        let branch = c
            .required(
                "GITOPS_BRANCH",
                &a.branch,
                "the base branch Argo CD syncs from",
            )
            .and_then(|v| c.branch("GITOPS_BRANCH", &v));
        let dir = match c.value("GITOPS_DIR", &a.dir) {
            Some(v) if v == "." || v == "./" => Some(RepoPath::root()),
            Some(v) => c.path("GITOPS_DIR", v.trim_end_matches('/')),
            None => Some(RepoPath::root()),
        };
        let winner = c
            .value("GITOPS_WINNER", &a.winner)
            .and_then(|v| c.path("GITOPS_WINNER", &v));
        let winner_variable = c
            .value("GITOPS_WINNER_VARIABLE", &a.winner_variable)
            .unwrap_or_else(|| defaults::WINNER_VARIABLE.into());
        // `start` and promotion files promote by other rules: no baseline (the root stands
        // in, never read).
        let baseline = if (starting || promoting) && a.baseline.is_none() {
            Some(RepoPath::root())
        } else {
            c.required(
                "GITOPS_BASELINE",
                &a.baseline,
                "the baseline manifest the winner becomes, e.g. productpage.yaml",
            )
            .and_then(|v| c.path("GITOPS_BASELINE", &v))
        };
        let task = start_config(&mut c, &a, starting);
        let argocd = argocd_app(&mut c, &a);

        let mut replace = vec![];
        if let Some(v) = &a.replace {
            if v.contains('\0') {
                c.bad("GITOPS_REPLACE", "contains a NUL byte; remove it");
            }
            for pair in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match pair.split_once('=') {
                    Some((from, to)) if !from.is_empty() => {
                        replace.push((from.to_string(), to.to_string()))
                    }
                    _ => c.bad(
                        "GITOPS_REPLACE",
                        format!(
                            "{pair:?} is not FROM=TO with a non-empty FROM; e.g. candidate=stable"
                        ),
                    ),
                }
            }
        }
        let remove = c.path_list("GITOPS_REMOVE", &a.remove);
        let apply = c.path_list("GITOPS_APPLY", &a.apply);

        let namespace = c.value("GITOPS_NAMESPACE", &a.namespace);
        if let Some(ns) = &namespace
            && !is_dns_label(ns)
        {
            c.bad("GITOPS_NAMESPACE", format!("{ns:?} is not a Kubernetes namespace name (lowercase letters, digits, '-', at most 63)"));
        }
        let token_secret = c
            .value("GITOPS_TOKEN_SECRET", &a.token_secret)
            .unwrap_or_else(|| defaults::TOKEN_SECRET.into());
        if !is_dns_subdomain(&token_secret) {
            c.bad(
                "GITOPS_TOKEN_SECRET",
                format!(
                    "{token_secret:?} is not a valid Secret name (lowercase RFC 1123 subdomain)"
                ),
            );
        }
        let signing = match (
            c.value("GITOPS_SIGNING_KEY_SECRET", &a.signing_key_secret),
            c.value("GITOPS_SIGNING_KEY_FILE", &a.signing_key_file),
        ) {
            (Some(_), Some(_)) => {
                c.bad(
                    "GITOPS_SIGNING_KEY_FILE",
                    "is set together with GITOPS_SIGNING_KEY_SECRET; give one of them",
                );
                None
            }
            (Some(name), None) if !is_dns_subdomain(&name) => {
                c.bad(
                    "GITOPS_SIGNING_KEY_SECRET",
                    format!("{name:?} is not a valid Secret name (lowercase RFC 1123 subdomain)"),
                );
                None
            }
            (Some(name), None) => Some(SigningKey::Secret(name)),
            (None, Some(path)) => Some(SigningKey::File(PathBuf::from(path))),
            (None, None) => None,
        };
        let token_key = c
            .value("GITOPS_TOKEN_KEY", &a.token_key)
            .unwrap_or_else(|| defaults::TOKEN_KEY.into());
        if token_key.len() > 253
            || !token_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            c.bad(
                "GITOPS_TOKEN_KEY",
                format!("{token_key:?} is not a valid Secret key (letters, digits, '-', '_', '.')"),
            );
        }
        // NB: never echo the token's value in a problem, only what is wrong with it.
        let token = match a.token.as_ref().map(Token::expose) {
            Some(t) if t.trim().is_empty() => {
                c.bad(
                    "GITOPS_TOKEN",
                    "is set but empty; unset it to read the token Secret instead",
                );
                None
            }
            Some(t)
                if t.trim()
                    .chars()
                    .any(|ch| ch.is_control() || ch.is_whitespace()) =>
            {
                c.bad(
                    "GITOPS_TOKEN",
                    "contains whitespace or control characters; check how the token was pasted",
                );
                None
            }
            Some(t) => Some(Token::new(t.trim().to_string())),
            None => None,
        };
        let username = c
            .value("GITOPS_USERNAME", &a.username)
            .unwrap_or_else(|| defaults::USERNAME.into());
        if username.contains(':') {
            c.bad(
                "GITOPS_USERNAME",
                "contains ':', which basic auth cannot carry in a user name",
            );
        }
        let pr_repo =
            c.value("GITOPS_PR_REPO", &a.pr_repo)
                .and_then(|v| match RepoSlug::parse(&v) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        c.bad("GITOPS_PR_REPO", format!("{v:?}: {e}"));
                        None
                    }
                });
        let pr_branch = c
            .value("GITOPS_PR_BRANCH", &a.pr_branch)
            .unwrap_or_else(|| defaults::PR_BRANCH.into());
        let pr_branch = c.branch("GITOPS_PR_BRANCH", &pr_branch);
        let pr_title = c
            .value("GITOPS_PR_TITLE", &a.pr_title)
            .unwrap_or_else(|| defaults::PR_TITLE.into());
        let pr_body = a.pr_body.clone().filter(|b| !b.trim().is_empty());
        let commit_message = c
            .value("GITOPS_COMMIT_MESSAGE", &a.commit_message)
            .unwrap_or_else(|| match &task {
                // The tutorial's CI commit, with the version it starts.
                Task::Start(s) => format!("iter8 experiment: version {}", s.version),
                Task::Finish => defaults::COMMIT_MESSAGE.into(),
            });
        let author_name = c
            .value("GITOPS_AUTHOR_NAME", &a.author_name)
            .unwrap_or_else(|| defaults::AUTHOR_NAME.into());
        if author_name.contains(['<', '>', '\n']) {
            c.bad(
                "GITOPS_AUTHOR_NAME",
                "contains '<', '>' or a newline, which a git signature cannot hold",
            );
        }
        let author_email = c
            .value("GITOPS_AUTHOR_EMAIL", &a.author_email)
            .unwrap_or_else(|| defaults::AUTHOR_EMAIL.into());
        if author_email.contains(['<', '>', '\n', ' ']) || !author_email.contains('@') {
            c.bad(
                "GITOPS_AUTHOR_EMAIL",
                format!("{author_email:?} is not an email address"),
            );
        }

        let ca_file = c.value("GITOPS_CA_FILE", &a.ca_file).map(PathBuf::from);
        let field_manager = c
            .value("GITOPS_FIELD_MANAGER", &a.field_manager)
            .unwrap_or_else(|| defaults::FIELD_MANAGER.into());
        if field_manager.len() > 128 || field_manager.chars().any(|ch| ch.is_control()) {
            c.bad(
                "GITOPS_FIELD_MANAGER",
                "must be at most 128 printable characters",
            );
        }
        let dry_run = c
            .value("GITOPS_DRY_RUN", &a.dry_run)
            .is_some_and(|v| parse_bool("GITOPS_DRY_RUN", &v, &mut c));
        let show_diff = c
            .value("GITOPS_SHOW_DIFF", &a.show_diff)
            .is_some_and(|v| parse_bool("GITOPS_SHOW_DIFF", &v, &mut c));
        let mode = match c.value("GITOPS_MODE", &a.mode).as_deref() {
            // CI usually owns the synced branch: `start` pushes onto it unless told otherwise.
            None if starting => Mode::Push,
            None | Some("pr") => Mode::PullRequest,
            Some("push") => Mode::Push,
            Some(other) => {
                c.bad("GITOPS_MODE", format!("{other:?} is not pr or push"));
                Mode::PullRequest
            }
        };
        let (api_url, provider) = resolve_api(&mut c, &a, repo.as_ref(), pr_repo.as_ref(), mode);
        let list = |v: Option<String>| -> Vec<String> {
            v.map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        };
        let pr_labels = list(c.value("GITOPS_PR_LABELS", &a.pr_labels));
        if pr_labels
            .iter()
            .any(|l| l.len() > 255 || l.chars().any(char::is_control))
        {
            c.bad(
                "GITOPS_PR_LABELS",
                "holds a label that is over 255 characters or has control characters",
            );
        }
        let pr_reviewers = list(c.value("GITOPS_PR_REVIEWERS", &a.pr_reviewers));
        if let Some(r) = pr_reviewers.iter().find(|r| {
            !r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
        }) {
            c.bad(
                "GITOPS_PR_REVIEWERS",
                format!("{r:?} is not a user name (or org/team on GitHub)"),
            );
        }
        let pr_draft = c
            .value("GITOPS_PR_DRAFT", &a.pr_draft)
            .is_some_and(|v| parse_bool("GITOPS_PR_DRAFT", &v, &mut c));
        let github_app = github_app(&mut c, &a, provider);
        let timeout = match c.value("GITOPS_TIMEOUT", &a.timeout) {
            Some(v) => parse_duration(&v).unwrap_or_else(|| {
                c.bad(
                    "GITOPS_TIMEOUT",
                    format!("{v:?} is not a duration; use seconds (300) or a unit (90s, 5m, 1h)"),
                );
                Duration::from_secs(defaults::TIMEOUT_SECS)
            }),
            None => Duration::from_secs(defaults::TIMEOUT_SECS),
        };
        let request_timeout = match c.value("GITOPS_REQUEST_TIMEOUT", &a.request_timeout) {
            Some(v) => parse_duration(&v).unwrap_or_else(|| {
                c.bad(
                    "GITOPS_REQUEST_TIMEOUT",
                    format!("{v:?} is not a duration; use seconds (30) or a unit (30s, 2m)"),
                );
                Duration::from_secs(30)
            }),
            None => Duration::from_secs(30),
        };
        let log_format = match c.value("GITOPS_LOG_FORMAT", &a.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                c.bad(
                    "GITOPS_LOG_FORMAT",
                    format!("{other:?} is not text or json"),
                );
                LogFormat::Text
            }
        };
        let termination_log = c
            .value("GITOPS_TERMINATION_LOG", &a.termination_log)
            .unwrap_or_else(|| defaults::TERMINATION_LOG.into())
            .into();

        let exp_name = c.value("EXPERIMENT_NAME", &a.experiment_name);
        let exp_ns = c.value("EXPERIMENT_NAMESPACE", &a.experiment_namespace);
        let experiment = match (exp_name, exp_ns) {
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
        };
        if !starting
            && !promoting
            && a.winner.is_none()
            && experiment.is_none()
            && a.experiment_name.is_none()
            && a.experiment_namespace.is_none()
        {
            c.bad(
                "GITOPS_WINNER",
                "is required when EXPERIMENT_NAME and EXPERIMENT_NAMESPACE are not set; pass Iter8's {{ .filepath }} or run inside the Iter8 handler",
            );
        }

        if starting && promoting {
            c.bad("GITOPS_CONFIG", "is for finish; `start` renders templates");
        }
        let allow = in_repo_allow(&mut c, &a, target);
        let apply_policy = apply_policy(&mut c, &a);
        // The PR branch is where the change waits for review: the synced branch itself
        // would be a push without review under another name.
        if let (Some(b), Some(pb), Mode::PullRequest) = (&branch, &pr_branch, mode)
            && b == pb
        {
            c.bad(
                "GITOPS_PR_BRANCH",
                format!("is GITOPS_BRANCH ({b}); a pull request needs its own head branch (or set GITOPS_MODE=push to commit onto {b})"),
            );
        }
        let promotion = match (target, file, in_repo) {
            (false, Some(f), _) => Some(Promotion {
                source: PromotionSource::File(PathBuf::from(f)),
                base: Box::new(a.clone()),
                allow,
            }),
            (false, None, Some(p)) => Some(Promotion {
                source: PromotionSource::InRepo(p),
                base: Box::new(a.clone()),
                allow,
            }),
            _ => None,
        };
        if !c.problems.is_empty() {
            return Err(Error {
                problems: c.problems,
            });
        }
        let some = "checked above: a missing value was reported as a problem";
        Ok(Config {
            task,
            promotion,
            edits: None,
            target: None,
            argocd,
            repo: repo.expect(some),
            branch: branch.expect(some),
            dir: dir.expect(some),
            winner,
            winner_variable,
            baseline: baseline.expect(some),
            replace,
            remove,
            apply,
            namespace,
            token_secret,
            token_key,
            token,
            signing,
            username,
            pr_repo,
            pr_branch: pr_branch.expect(some),
            pr_title,
            pr_body,
            commit_message,
            author_name,
            author_email,
            api_url,
            provider,
            pr_labels,
            pr_reviewers,
            pr_draft,
            github_app,
            ca_file,
            field_manager,
            apply_policy,
            dry_run,
            show_diff,
            mode,
            timeout,
            request_timeout,
            log_format,
            termination_log,
            experiment,
        })
    }
}

/// GITOPS_IN_REPO_ALLOW: only with an in-repo promotion file (a target inherits it).
fn in_repo_allow(c: &mut Check, a: &Args, target: bool) -> crate::config::promotion::Allow {
    match c.value("GITOPS_IN_REPO_ALLOW", &a.in_repo_allow) {
        Some(_) if a.config_in_repo.is_none() && !target => {
            c.bad(
                "GITOPS_IN_REPO_ALLOW",
                "is set without GITOPS_CONFIG_IN_REPO; it only widens what an in-repo promotion file may do",
            );
            crate::config::promotion::Allow::default()
        }
        Some(v) => crate::config::promotion::Allow::parse(&v).unwrap_or_else(|why| {
            c.bad("GITOPS_IN_REPO_ALLOW", why);
            crate::config::promotion::Allow::default()
        }),
        None => crate::config::promotion::Allow::default(),
    }
}

/// GITOPS_APPLY_KINDS and GITOPS_APPLY_NAMESPACES: what may be applied.
fn apply_policy(c: &mut Check, a: &Args) -> crate::plan::admission::Policy {
    let policy = crate::plan::admission::Policy::parse(
        c.value("GITOPS_APPLY_KINDS", &a.apply_kinds).as_deref(),
        c.value("GITOPS_APPLY_NAMESPACES", &a.apply_namespaces)
            .as_deref(),
    )
    .unwrap_or_else(|why| {
        c.bad("GITOPS_APPLY_KINDS", why);
        crate::plan::admission::Policy::default()
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

/// GITOPS_VERSION, GITOPS_TEMPLATES and GITOPS_SET: required or allowed only for `start`.
fn start_config(c: &mut Check, a: &Args, starting: bool) -> Task {
    if !starting {
        for (input, v) in [
            ("GITOPS_VERSION", &a.version),
            ("GITOPS_TEMPLATES", &a.templates),
            ("GITOPS_SET", &a.set),
        ] {
            if v.is_some() {
                c.bad(input, "is only read by `iter8-gitops start`");
            }
        }
        return Task::Finish;
    }
    let version = c
        .required(
            "GITOPS_VERSION",
            &a.version,
            "the candidate's version, e.g. the app repo's short commit (git rev-parse --short HEAD)",
        )
        .unwrap_or_default();
    // It ends up in object names (DNS-1123) and in a `version: v…` label value (63 chars).
    if !version.is_empty()
        && (version.len() > 40
            || !version
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            || !version.as_bytes()[0].is_ascii_alphanumeric()
            || !version.as_bytes()[version.len() - 1].is_ascii_alphanumeric())
    {
        c.bad(
            "GITOPS_VERSION",
            format!("{version:?} cannot go into object names and labels: use at most 40 lowercase letters, digits, '-' or '.', starting and ending alphanumeric"),
        );
    }
    let templates = match c.value("GITOPS_TEMPLATES", &a.templates) {
        Some(v) => c.path("GITOPS_TEMPLATES", v.trim_end_matches('/')),
        None => Some(RepoPath::parse(defaults::TEMPLATES).expect("constant path")),
    };
    let mut set = vec![];
    for pair in a
        .set
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match pair.split_once('=') {
            Some((k, v))
                if !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !k.as_bytes()[0].is_ascii_digit() =>
            {
                if set.iter().any(|(x, _): &(String, String)| x == k) {
                    c.bad("GITOPS_SET", format!("{k} is given twice"));
                }
                set.push((k.to_string(), v.to_string()))
            }
            _ => c.bad(
                "GITOPS_SET",
                format!(
                    "{pair:?} is not KEY=VALUE with KEY of letters, digits and '_'; e.g. COLOR=red"
                ),
            ),
        }
    }
    Task::Start(StartConfig {
        version,
        templates: templates.unwrap_or_else(RepoPath::root),
        set,
    })
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

/// A GitHub App to authenticate as; its private key is in the token Secret under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubAppRef {
    pub app_id: String,
    pub installation_id: u64,
    pub key: String,
}

/// Where the commit signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// A Secret in the run's namespace, key `ssh-privatekey`.
    Secret(String),
    File(PathBuf),
}

/// Works out the host API and its kind: GITOPS_PROVIDER, else what GITOPS_API_URL's path or
/// host says, else the repo's host (github.com, `*.ghe.com`, gitlab.com). A pull request on a
/// host that says nothing needs GITOPS_PROVIDER.
fn resolve_api(
    c: &mut Check,
    a: &Args,
    repo: Option<&RepoLocation>,
    pr_repo: Option<&RepoSlug>,
    mode: Mode,
) -> (Option<url::Url>, Option<crate::host::Kind>) {
    use crate::host::Kind;
    let explicit = match c.value("GITOPS_PROVIDER", &a.provider) {
        Some(v) => match Kind::parse(&v) {
            Some(k) => Some(k),
            None => {
                c.bad(
                    "GITOPS_PROVIDER",
                    format!("{v:?} is not github, gitlab or gitea (gitea also covers Forgejo)"),
                );
                return (None, None);
            }
        },
        None => None,
    };
    let api_url = match c.value("GITOPS_API_URL", &a.api_url) {
        Some(v) => match url::Url::parse(&v) {
            Ok(u)
                if u.scheme() == "https"
                    && u.has_host()
                    && u.username().is_empty()
                    && u.password().is_none()
                    && u.query().is_none() =>
            {
                Some(u)
            }
            // NB: printed without userinfo and query, where a pasted token would be.
            Ok(_) => {
                c.bad(
                    "GITOPS_API_URL",
                    format!(
                        "{:?} must be an https:// URL without credentials or query (the API token is only sent over HTTPS)",
                        crate::trust::redact::url(&v)
                    ),
                );
                return (None, None);
            }
            Err(e) => {
                c.bad(
                    "GITOPS_API_URL",
                    format!("{:?} is not a URL ({e})", crate::trust::redact::url(&v)),
                );
                return (None, None);
            }
        },
        None => None,
    };
    let repo_url = match repo {
        Some(RepoLocation::Https(u)) => Some(u),
        _ => None,
    };
    let kind = explicit
        .or_else(|| api_url.as_ref().and_then(|u| Kind::from_api_path(u.path())))
        .or_else(|| {
            api_url
                .as_ref()
                .and_then(|u| u.host_str().and_then(Kind::from_host))
        })
        .or_else(|| repo_url.and_then(|u| u.host_str().and_then(Kind::from_host)));
    let api_url = api_url.or_else(|| Some(kind?.default_api(repo_url?)));
    let Some(api) = api_url else {
        // No API: a local repo (no PR), or push mode (no PR needed). A PR on an https repo
        // of an unknown host cannot be opened without knowing what the host speaks.
        if let (Some(u), Mode::PullRequest) = (repo_url, mode) {
            c.bad(
                "GITOPS_PROVIDER",
                format!(
                    "is required: {} is not github.com, *.ghe.com or gitlab.com; set github (GitHub Enterprise Server too), gitlab, or gitea (Forgejo too)",
                    u.host_str().unwrap_or("the host")
                ),
            );
        }
        return (None, None);
    };
    let Some(kind) = kind else {
        c.bad(
            "GITOPS_PROVIDER",
            format!(
                "is required: nothing in GITOPS_API_URL {api} tells the kind of host; set github, gitlab or gitea"
            ),
        );
        return (None, None);
    };
    // The request needs to know which repo it is opened on.
    match repo {
        Some(r @ RepoLocation::Https(_)) if pr_repo.is_none() && r.slug().is_none() => c.bad(
            "GITOPS_PR_REPO",
            format!("is required: {r} does not end in /owner/repo(.git), so give owner/repo"),
        ),
        Some(RepoLocation::Local(_)) if pr_repo.is_none() => c.bad(
            "GITOPS_PR_REPO",
            "is required with GITOPS_API_URL when GITOPS_REPO is a local path",
        ),
        _ => {}
    }
    // Only GitLab has nested groups.
    if kind != Kind::GitLab {
        for (input, slug) in [
            ("GITOPS_PR_REPO", pr_repo.cloned()),
            ("GITOPS_REPO", repo.and_then(RepoLocation::slug)),
        ] {
            if let Some(s) = slug.filter(|s| s.owner().contains('/')) {
                c.bad(
                    input,
                    format!("{s} has nested groups, which only GitLab has; give owner/repo"),
                );
            }
        }
    }
    (Some(api), Some(kind))
}

/// GITOPS_GITHUB_APP_ID and _INSTALLATION_ID come together, on GitHub, instead of a token.
fn github_app(
    c: &mut Check,
    a: &Args,
    provider: Option<crate::host::Kind>,
) -> Option<GitHubAppRef> {
    let id = c.value("GITOPS_GITHUB_APP_ID", &a.github_app_id);
    let inst = c.value(
        "GITOPS_GITHUB_APP_INSTALLATION_ID",
        &a.github_app_installation_id,
    );
    let key = c.value("GITOPS_GITHUB_APP_KEY", &a.github_app_key);
    let (id, inst) = match (id, inst) {
        (Some(i), Some(n)) => (i, n),
        (None, None) => {
            if key.is_some() {
                c.bad(
                    "GITOPS_GITHUB_APP_KEY",
                    "is set without GITOPS_GITHUB_APP_ID and GITOPS_GITHUB_APP_INSTALLATION_ID",
                );
            }
            return None;
        }
        (Some(_), None) => {
            c.bad(
                "GITOPS_GITHUB_APP_INSTALLATION_ID",
                "is required with GITOPS_GITHUB_APP_ID (Settings > Installations shows it in the URL)",
            );
            return None;
        }
        (None, Some(_)) => {
            c.bad(
                "GITOPS_GITHUB_APP_ID",
                "is required with GITOPS_GITHUB_APP_INSTALLATION_ID (the App's settings page shows it)",
            );
            return None;
        }
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
        c.bad(
            "GITOPS_GITHUB_APP_ID",
            format!("{id:?} is not an App id or client id"),
        );
    }
    let installation_id = inst.parse::<u64>().ok().filter(|n| *n > 0);
    if installation_id.is_none() {
        c.bad(
            "GITOPS_GITHUB_APP_INSTALLATION_ID",
            format!("{inst:?} is not a number"),
        );
    }
    if a.token.is_some() {
        c.bad(
            "GITOPS_TOKEN",
            "is set together with a GitHub App; use one or the other",
        );
    }
    if provider != Some(crate::host::Kind::GitHub) {
        c.bad(
            "GITOPS_GITHUB_APP_ID",
            "needs the GitHub API, and this repo's provider is not GitHub; set GITOPS_PROVIDER=github or GITOPS_API_URL",
        );
    }
    Some(GitHubAppRef {
        app_id: id,
        installation_id: installation_id?,
        key: key.unwrap_or_else(|| defaults::GITHUB_APP_KEY.into()),
    })
}

impl Config {
    /// The branch this run pushes to: the PR branch, or GITOPS_BRANCH itself in push mode.
    pub fn target_branch(&self) -> &BranchName {
        match self.mode {
            Mode::PullRequest => &self.pr_branch,
            Mode::Push => &self.branch,
        }
    }

    /// The repo the PR is opened on (`GITOPS_PR_REPO`, else the Env repo's own `owner/repo`).
    pub fn pr_slug(&self) -> Option<RepoSlug> {
        self.pr_repo.clone().or_else(|| self.repo.slug())
    }

    /// The PR's `head`: `branch`, or `owner:branch` when the PR goes to another repo (a fork).
    pub fn pr_head(&self) -> String {
        match (self.repo.slug(), self.pr_slug()) {
            (Some(pushed), Some(target)) if pushed != target => {
                format!("{}:{}", pushed.owner(), self.pr_branch)
            }
            _ => self.pr_branch.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn minimal() -> Vec<(String, String)> {
        env(&[
            ("GITOPS_REPO", "https://github.com/acme/env.git"),
            ("GITOPS_BRANCH", "main"),
            ("GITOPS_WINNER", "productpage-candidate.yaml"),
            ("GITOPS_BASELINE", "productpage.yaml"),
        ])
    }

    fn config(vars: Vec<(String, String)>) -> Result<Config, Error> {
        Config::try_from(Args::from_env(vars)?)
    }

    fn problems(vars: Vec<(String, String)>) -> Vec<String> {
        config(vars)
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| p.input)
            .collect()
    }

    #[test]
    fn the_host_kind_and_api_come_from_the_provider_the_api_path_or_the_host() {
        use crate::host::Kind;
        let with = |pairs: &[(&str, &str)]| {
            let mut v = minimal();
            v.retain(|(k, _)| !pairs.iter().any(|(p, _)| p == k));
            v.extend(env(pairs));
            let c = config(v).unwrap();
            (c.provider, c.api_url.map(|u| u.to_string()))
        };
        let gh = Some(Kind::GitHub);
        assert_eq!(with(&[]), (gh, Some("https://api.github.com/".into())));
        assert_eq!(
            with(&[("GITOPS_REPO", "https://acme.ghe.com/acme/env.git")]),
            (gh, Some("https://api.acme.ghe.com/".into()))
        );
        assert_eq!(
            with(&[("GITOPS_REPO", "https://gitlab.com/platform/envs/prod.git")]),
            (Some(Kind::GitLab), Some("https://gitlab.com/api/v4".into()))
        );
        assert_eq!(
            with(&[
                ("GITOPS_REPO", "https://git.corp.example:8443/acme/env.git"),
                ("GITOPS_PROVIDER", "forgejo")
            ]),
            (
                Some(Kind::Gitea),
                Some("https://git.corp.example:8443/api/v1".into())
            )
        );
        assert_eq!(
            with(&[
                ("GITOPS_REPO", "https://ghes.corp.example/acme/env.git"),
                ("GITOPS_API_URL", "https://ghes.corp.example/api/v3")
            ]),
            (gh, Some("https://ghes.corp.example/api/v3".into()))
        );
        // Push mode on an unknown host needs no API at all.
        assert_eq!(
            with(&[
                ("GITOPS_REPO", "https://git.corp.example/acme/env.git"),
                ("GITOPS_MODE", "push")
            ]),
            (None, None)
        );
        let mut v = minimal();
        v.retain(|(k, _)| k != "GITOPS_REPO");
        v.extend(env(&[(
            "GITOPS_REPO",
            "https://git.corp.example/acme/env.git",
        )]));
        assert_eq!(problems(v), ["GITOPS_PROVIDER"]);
    }

    #[test]
    fn pr_extras_are_trimmed_lists_and_a_github_app_replaces_the_token() {
        let mut v = minimal();
        v.extend(env(&[
            ("GITOPS_PR_LABELS", " iter8 , promotion,,"),
            ("GITOPS_PR_REVIEWERS", "alice,acme/platform"),
            ("GITOPS_PR_DRAFT", "yes"),
            ("GITOPS_GITHUB_APP_ID", "Iv1.abc123"),
            ("GITOPS_GITHUB_APP_INSTALLATION_ID", "42"),
        ]));
        let c = config(v).unwrap();
        assert_eq!(c.pr_labels, ["iter8", "promotion"]);
        assert_eq!(c.pr_reviewers, ["alice", "acme/platform"]);
        assert!(c.pr_draft);
        assert_eq!(
            c.github_app,
            Some(GitHubAppRef {
                app_id: "Iv1.abc123".into(),
                installation_id: 42,
                key: "private-key".into()
            })
        );
    }

    #[test]
    fn minimal_environment_gets_the_documented_defaults() {
        let c = config(minimal()).unwrap();
        assert_eq!(c.token_secret, "iter8-token");
        assert_eq!(c.token_key, "token");
        assert_eq!(c.username, "x-access-token");
        assert_eq!(c.pr_branch.as_str(), "iter8_exp");
        assert_eq!(c.pr_title, "Iter8 GitOps");
        assert_eq!(c.commit_message, "update baseline");
        assert_eq!(c.author_name, "Iter8");
        assert_eq!(
            c.api_url.as_ref().unwrap().as_str(),
            "https://api.github.com/"
        );
        assert_eq!(c.pr_slug().unwrap().to_string(), "acme/env");
        assert_eq!(c.pr_head(), "iter8_exp");
        assert!(!c.dry_run);
        assert!(c.dir.is_root());
    }

    #[test]
    fn flags_win_over_the_environment() {
        let envs = Args::from_env(minimal()).unwrap();
        let flags = Args {
            winner: Some("other.yaml".into()),
            ..Args::default()
        };
        let merged = envs.overlay(flags);
        assert_eq!(merged.winner.as_deref(), Some("other.yaml"));
        assert_eq!(merged.branch.as_deref(), Some("main"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let got = problems(env(&[
            ("GITOPS_REPO", "ftp://x/y"),
            ("GITOPS_BRANCH", "a..b"),
            ("GITOPS_DIR", "../up"),
        ]));
        assert_eq!(
            got,
            [
                "GITOPS_REPO",
                "GITOPS_BRANCH",
                "GITOPS_DIR",
                "GITOPS_BASELINE",
                "GITOPS_WINNER"
            ]
        );
    }

    #[test]
    fn a_typo_in_a_variable_name_is_an_error() {
        let mut v = minimal();
        v.push(("GITOPS_BRANCHE".into(), "main".into()));
        assert_eq!(problems(v), ["GITOPS_BRANCHE"]);
    }

    #[test]
    fn a_typo_does_not_hide_the_variable_it_misspells_and_the_right_name_is_suggested() {
        let mut v = minimal();
        v.retain(|(k, _)| k != "GITOPS_BRANCH");
        v.push(("GITOPS_BRNACH".into(), "main".into()));
        let e = config(v).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(
                "GITOPS_BRNACH is not a variable iter8-gitops knows; did you mean GITOPS_BRANCH?"
            ),
            "{text}"
        );
        assert!(text.contains("GITOPS_BRANCH is required"), "{text}");
        let mut v = minimal();
        v.push(("GITOPS_ZZZZZZZZZZ".into(), "x".into()));
        assert!(
            config(v)
                .unwrap_err()
                .to_string()
                .contains("check its spelling")
        );
    }

    #[test]
    fn credentials_in_the_repo_url_are_refused_without_echoing_them() {
        let mut v = minimal();
        v[0].1 = "https://user:s3cr3t@github.com/acme/env.git".into();
        let err = config(v).unwrap_err().to_string();
        assert!(err.contains("GITOPS_REPO contains credentials"), "{err}");
        assert!(!err.contains("s3cr3t"));
    }

    #[test]
    fn fork_head_is_owner_colon_branch() {
        let mut v = minimal();
        v.push(("GITOPS_PR_REPO".into(), "upstream/env".into()));
        let c = config(v).unwrap();
        assert_eq!(c.pr_head(), "acme:iter8_exp");
    }

    #[test]
    fn replacements_and_lists_parse() {
        let mut v = minimal();
        v.push(("GITOPS_REPLACE".into(), "candidate=stable, a=".into()));
        v.push(("GITOPS_REMOVE".into(), "a.yaml, b.yaml,".into()));
        let c = config(v).unwrap();
        assert_eq!(
            c.replace,
            vec![
                ("candidate".into(), "stable".into()),
                ("a".into(), "".into())
            ]
        );
        assert_eq!(c.remove.len(), 2);
    }

    #[test]
    fn experiment_context_replaces_the_winner() {
        let v = env(&[
            ("GITOPS_REPO", "/srv/env.git"),
            ("GITOPS_BRANCH", "main"),
            ("GITOPS_BASELINE", "productpage.yaml"),
            ("EXPERIMENT_NAME", "gitops-exp"),
            ("EXPERIMENT_NAMESPACE", "default"),
        ]);
        let c = config(v).unwrap();
        assert_eq!(c.experiment.unwrap().name, "gitops-exp");
        assert!(
            c.api_url.is_none(),
            "a local repo without GITOPS_API_URL opens no PR"
        );
    }

    #[test]
    fn durations_and_booleans() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("soon"), None);
        let mut v = minimal();
        v.push(("GITOPS_DRY_RUN".into(), "maybe".into()));
        assert_eq!(problems(v), ["GITOPS_DRY_RUN"]);
    }

    #[test]
    fn push_mode_targets_the_synced_branch() {
        let mut v = minimal();
        v.push(("GITOPS_MODE".into(), "push".into()));
        let c = config(v).unwrap();
        assert_eq!(c.target_branch().as_str(), "main");
        let mut v = minimal();
        v.push(("GITOPS_MODE".into(), "force".into()));
        assert_eq!(problems(v), ["GITOPS_MODE"]);
    }

    #[test]
    fn token_is_redacted_in_debug() {
        assert_eq!(format!("{:?}", Token::new("abc".into())), "Token(***)");
        let mut v = minimal();
        v.push(("GITOPS_TOKEN".into(), "ghp_secret_value".into()));
        let c = config(v).unwrap();
        assert!(!format!("{c:?}").contains("ghp_secret_value"));
    }
}
