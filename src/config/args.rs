//! What the user typed: `Args`, from the environment and from flags, before validation.

use serde::{Deserialize, Serialize};

use super::check::{Error, Problem, truthy};
use crate::trust::credential::Token;

/// What the user typed, before validation. Every field is a string, because both sources
/// (environment and flags) are strings and validation reports all problems at once.
#[derive(Debug, Default, Clone, Serialize, Deserialize, clap::Args, PartialEq)]
#[serde(default)]
pub struct Args {
    /// finish: promote the winner (Iter8's finish action; the default); start: render the experiment's files from the templates (CI); serve: the receiver, which puts Git back when a Flagger or Argo Rollouts rollout fails [GITOPS_TASK]
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
    /// Secret holding an unprotected signing key under key ssh-privatekey (as in kubernetes.io/ssh-auth Secrets): OpenSSH (Ed25519, ECDSA, RSA) or armored OpenPGP (Ed25519, RSA); every commit is signed (default: unsigned) [GITOPS_SIGNING_KEY_SECRET]
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
    /// Git host kind: github (also GitHub Enterprise), gitlab, gitea (also Forgejo), azure-devops, bitbucket (Cloud), bitbucket-server (Data Center) (default: from the API URL's path or the repo's host) [GITOPS_PROVIDER]
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
    /// false: set no commit status on the PR's head (default: true: success when the candidate is promoted, failure on a rollback) [GITOPS_STATUS]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub status: Option<String>,
    /// The commit status' context (name), the one a branch rule requires (default: iter8/EXPERIMENT_NAME, or iter8/gitops without an Experiment) [GITOPS_STATUS_CONTEXT]
    #[arg(long)]
    pub status_context: Option<String>,
    /// The commit status' link, e.g. a dashboard of the experiment (default: none; Bitbucket, which needs one, gets the PR's) [GITOPS_STATUS_URL]
    #[arg(long)]
    pub status_url: Option<String>,
    /// true: a status that cannot be set (the token lacks the scope) fails the run (exit 3 when the token may not, else 6; default: false: a warning) [GITOPS_STATUS_REQUIRED]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub status_required: Option<String>,
    /// none: a person merges the PR (the default); auto: turn on the host's auto-merge (it merges when the required checks and reviews pass); now: merge it as soon as the host says it can be merged [GITOPS_MERGE]
    #[arg(long)]
    pub merge: Option<String>,
    /// merge, squash or rebase (default: merge; GitLab: merge or squash, the project's merge method applies) [GITOPS_MERGE_METHOD]
    #[arg(long)]
    pub merge_method: Option<String>,
    /// How long to wait for the PR to be merged (or closed), e.g. 10m; 0: do not wait (the default) [GITOPS_MERGE_WAIT]
    #[arg(long)]
    pub merge_wait: Option<String>,
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
    /// Where to also write the outputs (commit, pr-url, pr-number, changed, merge-commit, summary) for the CI system that ran it: a directory gets one file per output (Tekton results, Argo Workflows output parameters); github appends them to the file GITHUB_OUTPUT names (a GitHub Actions step) (default: none) [GITOPS_OUTPUTS]
    #[arg(long)]
    pub outputs: Option<String>,
    /// true: an empty GITOPS_* variable counts as unset, for CI systems that pass every parameter, empty when not given (Tekton, Argo Workflows, a GitHub Action) (default: false: an empty one is an error) [GITOPS_EMPTY_IS_UNSET]
    #[arg(long)]
    pub empty_is_unset: Option<String>,
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
    /// serve: the address and port the receiver listens on, plain HTTP for the cluster network (default: 0.0.0.0:8080) [GITOPS_LISTEN]
    #[arg(long)]
    pub listen: Option<String>,
    /// Comma-separated FIELD=VALUE that a promotion file read from the Env repo may set although they differ from the operator's own (repo, branch, mode, tokenSecret, pr.apiUrl, pr.provider, pr.repo, pr.branch; a VALUE ending in * allows that prefix), e.g. mode=push,pr.branch=iter8/* (default: none) [GITOPS_IN_REPO_ALLOW]
    #[arg(long)]
    pub in_repo_allow: Option<String>,
    /// namespace/name of the Argo CD Application to refresh after a push to GITOPS_BRANCH [GITOPS_ARGOCD_APP]
    #[arg(long)]
    pub argocd_app: Option<String>,
    /// How long to wait for that Application to be Synced and Healthy at the pushed or merged commit (e.g. 5m) [GITOPS_ARGOCD_WAIT]
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
    /// The file a GitHub Actions runner gives a step for its outputs [GITHUB_OUTPUT]
    #[arg(skip)]
    #[serde(skip)]
    pub github_output: Option<String>,
    /// `GITOPS_*` names in the environment that are no input: reported by validation with
    /// every other problem (a typo must not hide the variable it misspells).
    #[arg(skip)]
    #[serde(skip)]
    pub unknown_variables: Vec<String>,
}

/// With GITOPS_EMPTY_IS_UNSET=true, an empty `GITOPS_*` variable is left out, as if unset:
/// CI systems pass every parameter a step declares, empty when the user gave none (a Tekton
/// param's default, an Argo Workflows input, a GitHub Action's `${{ inputs.x }}`).
fn without_empty_when_asked(vars: Vec<(String, String)>) -> Vec<(String, String)> {
    let asked = vars
        .iter()
        .any(|(k, v)| k == "GITOPS_EMPTY_IS_UNSET" && truthy(v) == Some(true));
    if !asked {
        return vars;
    }
    vars.into_iter()
        .filter(|(k, v)| !(k.starts_with("GITOPS_") && v.trim().is_empty()))
        .collect()
}

/// What the platform running it sets, with no `GITOPS_` prefix: `EXPERIMENT_NAME` /
/// `EXPERIMENT_NAMESPACE` (Iter8), `GITHUB_OUTPUT` (a GitHub Actions runner).
#[derive(Debug, Default, Deserialize)]
struct PlatformEnv {
    experiment_name: Option<String>,
    experiment_namespace: Option<String>,
    github_output: Option<String>,
}

impl Args {
    /// Reads `GITOPS_*` and `EXPERIMENT_*` from an environment given as pairs.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)> + Clone,
    ) -> Result<Args, Error> {
        let vars = without_empty_when_asked(vars.into_iter().collect());
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
        let platform: PlatformEnv = envy::from_iter(vars).unwrap_or_default();
        args.experiment_name = platform.experiment_name;
        args.experiment_namespace = platform.experiment_namespace;
        args.github_output = platform.github_output;
        args.unknown_variables = unknown;
        Ok(args)
    }

    /// Every field set in `flags` replaces the one here: flags win over the environment.
    pub fn overlay(self, flags: Args) -> Args {
        // Both as the variables they stand for, the flags over the environment, read back by
        // envy as `from_env` reads them: one deserializer of `Args` in the binary, not two.
        let vars = |a: &Args| -> Vec<(String, String)> {
            let v = serde_json::to_value(a).expect("Args serializes to a JSON object");
            v.as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| {
                    Some((
                        format!("GITOPS_{}", k.to_ascii_uppercase()),
                        v.as_str()?.to_string(),
                    ))
                })
                .collect()
        };
        let mut merged_vars = vars(&self);
        for (k, v) in vars(&flags) {
            merged_vars.retain(|(key, _)| *key != k);
            merged_vars.push((k, v));
        }
        let mut merged: Args = envy::prefixed("GITOPS_")
            .from_iter(merged_vars)
            .expect("a merge of two Args is an Args");
        merged.unknown_variables = self.unknown_variables;
        merged.experiment_name = flags.experiment_name.or(self.experiment_name);
        merged.experiment_namespace = flags.experiment_namespace.or(self.experiment_namespace);
        merged.github_output = self.github_output;
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
            .map(|k| format!("GITOPS_{}", k.to_ascii_uppercase()))
            .collect()
    }
}

/// What to say of a `GITOPS_*` name that is no input: the closest known one, if close.
pub(super) fn unknown_variable(name: &str) -> String {
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
