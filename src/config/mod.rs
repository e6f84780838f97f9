//! Inputs: what the user typed (`Args`, from the environment and from flags) and what we run
//! with (`Config`, validated and typed, one struct per part). Only `main` reads the process
//! environment and argv; everything here works on maps and strings so that it can be tested
//! without touching either.
//!
//! The environment is the contract with Iter8 and the Job (`GITOPS_*`, `EXPERIMENT_*`); flags of
//! the same names (`--winner` for `GITOPS_WINNER`) override it, because Iter8's `common/exec`
//! task interpolates `{{ .filepath }}` into `args`. There is deliberately no `--token` flag:
//! a secret in argv is visible in `/proc` and in the Pod spec.
//!
//! Each part (repo, pr, api, auth, commit, cluster, output, task) has its own file with its
//! struct and its validator; `Config::validate` calls them in the order of the contract table
//! and reports every problem at once.

pub(crate) mod allow;
pub(crate) mod api;
pub(crate) mod args;
pub(crate) mod auth;
pub(crate) mod check;
pub(crate) mod cluster;
pub(crate) mod commit;
pub(crate) mod defaults;
pub(crate) mod job;
pub(crate) mod merge;
pub(crate) mod output;
pub(crate) mod pr;
pub mod promotion;
pub(crate) mod receiver;
pub(crate) mod repo;
pub mod schema;
pub(crate) mod task;

pub use self::{
    api::Api,
    args::Args,
    auth::{Auth, GitHubAppRef, SigningKey},
    check::{Error, Problem},
    cluster::Cluster,
    commit::Commit,
    job::{Cause, Job, Target, Winner},
    output::{Limits, LogFormat, Output},
    pr::Pr,
    repo::Repo,
    task::{Mode, Promotion, PromotionSource},
};
use crate::plan::{
    self,
    names::{BranchName, RepoSlug},
};
use args::unknown_variable;
use check::Check;

/// Validated inputs: one typed struct per part, nothing as typed-in but a promotion file's
/// base (see `Promotion::base`).
#[derive(Debug, Clone)]
pub struct Config {
    /// What the run plans, decided once here (`job.rs`).
    pub job: Job,
    pub mode: Mode,
    pub repo: Repo,
    pub pr: Pr,
    pub auth: Auth,
    pub commit: Commit,
    pub cluster: Cluster,
    pub output: Output,
    pub limits: Limits,
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(a: Args) -> Result<Config, Error> {
        Config::validate(a, None)
    }
}

/// The waits (for the merge, then for Argo CD) run inside GITOPS_TIMEOUT, with room left
/// for the rest of the run.
fn waits_fit(c: &mut Check, pr: Option<&Pr>, cluster: &Cluster, limits: &Limits) {
    let merge = pr.map_or(std::time::Duration::ZERO, |p| p.merge.wait);
    let argocd = cluster
        .argocd
        .as_ref()
        .and_then(|a| a.wait)
        .unwrap_or_default();
    if !merge.is_zero() && merge + argocd >= limits.timeout {
        c.bad(
            "GITOPS_MERGE_WAIT",
            format!(
                "({}s, plus GITOPS_ARGOCD_WAIT's {}s) must be shorter than GITOPS_TIMEOUT ({}s), which bounds the whole run; raise GITOPS_TIMEOUT (and the Job's activeDeadlineSeconds) or wait less",
                merge.as_secs(),
                argocd.as_secs(),
                limits.timeout.as_secs()
            ),
        );
    }
}

impl Config {
    /// Validates one target of a promotion file (its rules are its edits, not the variables).
    pub fn try_from_target(a: Args, target: Target) -> Result<Config, Error> {
        Config::validate(a, Some(target))
    }

    /// Every part, in the order of the contract table; all problems at once.
    fn validate(a: Args, target: Option<Target>) -> Result<Config, Error> {
        let mut c = Check { problems: vec![] };
        for name in &a.unknown_variables {
            c.bad(name, unknown_variable(name));
        }
        let promotion = task::promotion(&mut c, &a, target.is_some());
        let promoting = target.is_some() || promotion.is_some();
        let starting = task::starting(&mut c, &a);
        let receiver = receiver::validate(
            &mut c,
            &a,
            (task::serving(&a), target.is_some()),
            promotion.as_ref(),
        );
        let repo = repo::validate(&mut c, &a);
        let dir = repo.as_ref().map(|r| &r.dir);
        let which = (starting, promoting, promotion.is_some());
        let finish = task::rules(&mut c, &a, which, dir);
        let start = task::start(&mut c, &a, starting, dir);
        let mode = task::mode(&mut c, &a, starting);
        let cluster = cluster::validate(&mut c, &a);
        let pr = pr::validate(&mut c, &a, repo.as_ref(), mode);
        let auth = auth::validate(
            &mut c,
            &a,
            pr.as_ref().and_then(|p| p.api.as_ref()).map(|a| a.kind),
        );
        let commit = commit::validate(&mut c, &a, start.as_ref().map(|s| s.version.as_str()));
        let output = output::validate(&mut c, &a);
        let limits = output::limits(&mut c, &a);
        waits_fit(&mut c, pr.as_ref(), &cluster, &limits);
        c.finish()?;
        let some = "checked above: a missing value was reported as a problem";
        let job = match (target, promotion, start, finish) {
            (Some(t), ..) => Job::Edits(t),
            (None, Some(_), ..) if receiver.is_some() => Job::Serve(receiver.expect(some)),
            (None, Some(p), ..) => Job::Promotion(p),
            (None, None, Some(s), _) => Job::Start(s),
            (None, None, None, Some((rules, variable))) => {
                let winner = match (&rules.winner, &cluster.experiment) {
                    (Some(w), _) => Winner::Given(w.clone()),
                    (None, Some(e)) => Winner::FromExperiment {
                        experiment: e.clone(),
                        variable,
                    },
                    // Told as GITOPS_WINNER's problem.
                    (None, None) => unreachable!("{some}"),
                };
                Job::Finish(plan::Rules {
                    experiment: cluster.experiment.as_ref().map(|e| e.name.clone()),
                    ..rules.with_winner(winner)
                })
            }
            (None, None, None, None) => unreachable!("{some}"),
        };
        Ok(Config {
            job,
            mode,
            repo: repo.expect(some),
            pr: pr.expect(some),
            auth,
            commit,
            cluster,
            output,
            limits,
        })
    }

    /// The branch this run pushes to: the PR branch, or GITOPS_BRANCH itself in push mode.
    pub fn target_branch(&self) -> &BranchName {
        match self.mode {
            Mode::PullRequest => &self.pr.branch,
            Mode::Push => &self.repo.branch,
        }
    }

    /// The repo the PR is opened on (`GITOPS_PR_REPO`, else the Env repo's own `owner/repo`).
    pub fn pr_slug(&self) -> Option<RepoSlug> {
        self.pr.repo.clone().or_else(|| self.repo.location.slug())
    }

    /// The PR's `head`: `branch`, or `owner:branch` when the PR goes to another repo (a fork).
    pub fn pr_head(&self) -> String {
        match (self.repo.location.slug(), self.pr_slug()) {
            (Some(pushed), Some(target)) if pushed != target => {
                format!("{}:{}", pushed.owner(), self.pr.branch)
            }
            _ => self.pr.branch.to_string(),
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

    #[test]
    fn an_empty_variable_is_unset_only_when_asked() {
        let given = [("GITOPS_WINNER", ""), ("GITOPS_BRANCH", "gitops")];
        let plain = Args::from_env(env(&given)).unwrap();
        assert_eq!(
            plain.winner.as_deref(),
            Some(""),
            "left for validation to refuse"
        );
        for asked in ["true", "yes", "1"] {
            let mut vars = env(&given);
            vars.push(("GITOPS_EMPTY_IS_UNSET".into(), asked.into()));
            let a = Args::from_env(vars).unwrap();
            assert_eq!(
                (a.winner, a.branch.as_deref()),
                (None, Some("gitops")),
                "{asked}"
            );
        }
        let mut vars = env(&given);
        vars.push(("GITOPS_EMPTY_IS_UNSET".into(), "false".into()));
        assert_eq!(Args::from_env(vars).unwrap().winner.as_deref(), Some(""));
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
            c.pr.api
                .map(|a| (Some(a.kind), Some(a.url.to_string())))
                .unwrap_or((None, None))
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
        // Azure DevOps: the organization (and project) are in each call's path.
        let az = Some(Kind::AzureDevOps);
        for repo in [
            "https://dev.azure.com/acme/platform/_git/env",
            "https://dev.azure.com/acme/_git/env",
        ] {
            assert_eq!(
                with(&[("GITOPS_REPO", repo)]),
                (az, Some("https://dev.azure.com/".into())),
                "{repo}"
            );
        }
        assert_eq!(
            with(&[(
                "GITOPS_REPO",
                "https://acme.visualstudio.com/platform/_git/env"
            )]),
            (az, Some("https://acme.visualstudio.com/".into()))
        );
        assert_eq!(
            with(&[
                (
                    "GITOPS_REPO",
                    "https://tfs.corp.example/DefaultCollection/platform/_git/env"
                ),
                ("GITOPS_PROVIDER", "azure-devops")
            ]),
            (az, Some("https://tfs.corp.example/".into()))
        );
        // Bitbucket Data Center: the REST API beside the clone URL's `/scm/`.
        assert_eq!(
            with(&[
                (
                    "GITOPS_REPO",
                    "https://git.corp.example/bitbucket/scm/ACME/env.git"
                ),
                ("GITOPS_PROVIDER", "bitbucket-server")
            ]),
            (
                Some(Kind::BitbucketServer),
                Some("https://git.corp.example/bitbucket/rest/api/latest".into())
            )
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
        assert_eq!(c.pr.labels, ["iter8", "promotion"]);
        assert_eq!(c.pr.reviewers, ["alice", "acme/platform"]);
        assert!(c.pr.draft);
        assert_eq!(
            c.auth.github_app,
            Some(GitHubAppRef {
                app_id: "Iv1.abc123".into(),
                installation_id: 42,
                key: "private-key".into()
            })
        );
    }

    /// Each value the schema offers for a choice input (`schema::choices`) validates, and a
    /// value outside them is that input's problem: the lists and the validators agree.
    #[test]
    fn every_choice_the_schema_offers_validates_and_no_other() {
        for (var, values) in schema::choices() {
            for value in values.into_iter().chain(["not-a-choice"]) {
                let mut v = minimal();
                v.push((var.into(), value.into()));
                // A merge needs a wait the deadline holds; a start, its version.
                v.push(("GITOPS_VERSION".into(), "abc123".into()));
                v.retain(|(k, _)| !(value == "start" && k == "GITOPS_WINNER"));
                let named = match config(v) {
                    Ok(_) => false,
                    Err(e) => e.problems.iter().any(|p| p.input == var),
                };
                assert_eq!(named, value == "not-a-choice", "{var}={value}");
            }
        }
    }

    #[test]
    fn minimal_environment_gets_the_documented_defaults() {
        let c = config(minimal()).unwrap();
        assert_eq!(c.auth.token_secret, "iter8-token");
        assert_eq!(c.auth.token_key, "token");
        assert_eq!(c.auth.username, "x-access-token");
        assert_eq!(c.pr.branch.as_str(), "iter8_exp");
        assert_eq!(c.pr.title, "Iter8 GitOps");
        assert_eq!(c.commit.message, "update baseline");
        assert_eq!(c.commit.author_name, "Iter8");
        assert_eq!(
            c.pr.api.as_ref().unwrap().url.as_str(),
            "https://api.github.com/"
        );
        assert_eq!(c.pr_slug().unwrap().to_string(), "acme/env");
        assert_eq!(c.pr_head(), "iter8_exp");
        assert!(!c.output.dry_run);
        assert!(c.repo.dir.is_root());
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
    fn empty_is_unset_that_is_no_boolean_is_an_error_naming_it() {
        let mut v = minimal();
        v.push(("GITOPS_EMPTY_IS_UNSET".into(), "maybe".into()));
        assert_eq!(problems(v), ["GITOPS_EMPTY_IS_UNSET"]);
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
            c.job.finish_rules().unwrap().replace,
            vec![
                ("candidate".into(), "stable".into()),
                ("a".into(), "".into())
            ]
        );
        assert_eq!(c.job.finish_rules().unwrap().remove.len(), 2);
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
        assert_eq!(c.cluster.experiment.unwrap().name, "gitops-exp");
        assert!(
            c.pr.api.is_none(),
            "a local repo without GITOPS_API_URL opens no PR"
        );
    }

    #[test]
    fn durations_and_booleans() {
        assert_eq!(
            check::parse_duration("90s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            check::parse_duration("5m"),
            Some(std::time::Duration::from_secs(300))
        );
        assert_eq!(check::parse_duration("0"), None);
        assert_eq!(check::parse_duration("soon"), None);
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
        assert_eq!(
            format!("{:?}", crate::trust::credential::Token::new("abc".into())),
            "Token(***)"
        );
        let mut v = minimal();
        v.push(("GITOPS_TOKEN".into(), "ghp_secret_value".into()));
        let c = config(v).unwrap();
        assert!(!format!("{c:?}").contains("ghp_secret_value"));
    }
}
