//! The verdict as a commit status on the PR's head (issue 24): on every host, success for a
//! promoted candidate and failure for a rollback, set once however often the run is repeated,
//! held by a branch rule that requires it, and a warning (or, when asked, a failure) where
//! the token may not set it.

use std::path::PathBuf;

use testkit::{
    AzureFake, BitbucketCloudFake, BitbucketServerFake, Fault, GitLabFake, GiteaFake, Merging,
    Posted, Pull,
};

use crate::util::*;

/// The tutorial finishing the real Experiment of `tests/fixtures/experiments/`: passed, or
/// (with `failed`) its candidate failing `mean-latency` (a rollback).
fn finishing(failed: bool) -> World {
    use crate::evidence::{failed_canary, real_experiment};
    let exp = if failed {
        real_experiment("etc3-experiment10.yaml", failed_canary)
    } else {
        real_experiment("etc3-experiment10.yaml", |_| {})
    };
    crate::evidence::finishing(exp)
}

/// The pull requests a host's fake holds.
pub(crate) type Pulls = Box<dyn Fn() -> Vec<Pull>>;

/// The world on `host`, with the fake's checks (statuses and merge rules), its pull requests
/// and the bare repo it serves. The fakes live as long as the test (leaked: a few per test).
fn on_host(host: &str, failed: bool) -> (World, Merging, PathBuf) {
    let (w, checks, bare, _) = on_host_with_pulls(host, failed);
    (w, checks, bare)
}

fn on_host_with_pulls(host: &str, failed: bool) -> (World, Merging, PathBuf, Pulls) {
    on_host_finishing(host, finishing(failed))
}

pub(crate) fn on_host_finishing(host: &str, mut w: World) -> (World, Merging, PathBuf, Pulls) {
    let (checks, bare, pulls): (Merging, PathBuf, Pulls) = match host {
        "github" => {
            let gh = w.github.pulls_handle();
            (w.github.checks(), w.bare(), Box::new(move || gh.all()))
        }
        "gitlab" => {
            let gl: &'static GitLabFake =
                Box::leak(Box::new(GitLabFake::start(&w.tls, &["acme/env"], TOKEN)));
            w.set("GITOPS_API_URL", Some(&gl.api_url()));
            (gl.checks(), w.bare(), Box::new(move || gl.pulls()))
        }
        "gitea" => {
            let gt: &'static GiteaFake =
                Box::leak(Box::new(GiteaFake::start(&w.tls, "acme/env", TOKEN)));
            w.set("GITOPS_API_URL", Some(&gt.api_url()));
            (gt.checks(), w.bare(), Box::new(move || gt.pulls()))
        }
        "azure-devops" => {
            let repo = "acme/platform/_git/env";
            let bare = w.git.create_repo_at(repo, BRANCH, &before(), DIR);
            testkit::git(&bare, &["config", "uploadpack.allowFilter", "false"]);
            w.git.speak_protocol_v0_only();
            let az: &'static AzureFake = Box::leak(Box::new(AzureFake::start(
                &w.tls,
                "acme/platform",
                "env",
                TOKEN,
            )));
            w.set("GITOPS_REPO", Some(&w.git.url_of(repo)))
                .set("GITOPS_PROVIDER", Some("azure-devops"))
                .set("GITOPS_API_URL", Some(&az.api_url()));
            (az.checks(), bare, Box::new(move || az.pulls()))
        }
        "bitbucket-server" => {
            let bare = w.git.create_repo("scm/ACME/env", BRANCH, &before(), DIR);
            let dc: &'static BitbucketServerFake = Box::leak(Box::new(BitbucketServerFake::start(
                &w.tls, "ACME", "env", TOKEN,
            )));
            w.set("GITOPS_REPO", Some(&w.git.url("scm/ACME/env")))
                .set("GITOPS_PROVIDER", Some("bitbucket-server"))
                .set("GITOPS_API_URL", Some(&dc.api_url()));
            (dc.checks(), bare, Box::new(move || dc.pulls()))
        }
        _ => {
            let bb: &'static BitbucketCloudFake =
                Box::leak(Box::new(BitbucketCloudFake::start(&w.tls, SLUG, TOKEN)));
            w.set("GITOPS_PROVIDER", Some("bitbucket"))
                .set("GITOPS_API_URL", Some(&bb.api_url()));
            (bb.checks(), w.bare(), Box::new(move || bb.pulls()))
        }
    };
    (w, checks, bare, pulls)
}

const HOSTS: [&str; 6] = [
    "github",
    "gitlab",
    "gitea",
    "azure-devops",
    "bitbucket-server",
    "bitbucket",
];

fn tip(bare: &std::path::Path, branch: &str) -> String {
    testkit::git(bare, &["rev-parse", branch])
        .trim()
        .to_string()
}

#[test]
fn every_host_gets_the_verdict_on_the_prs_head_once_however_often_the_run_repeats() {
    for host in HOSTS {
        for failed in [false, true] {
            let what = format!("{host} failed={failed}");
            let (w, checks, bare, pulls) = on_host_with_pulls(host, failed);
            let o = w.run(&[]);
            assert_code(&o, 0);
            // The PR on this host says why, first; a rollback says so in its title.
            let pulls = pulls();
            assert_eq!(pulls.len(), 1, "{what}");
            assert!(
                pulls[0]
                    .body
                    .starts_with("### Why\n\n**Verdict:** candidate `sample-application-v2`"),
                "{what}: {}",
                pulls[0].body
            );
            assert_eq!(
                pulls[0].title.contains("rollback"),
                failed,
                "{what}: {}",
                pulls[0].title
            );
            let head = tip(&bare, "iter8_exp");
            let posted = checks.posted();
            assert_eq!(posted.len(), 1, "{what}: {posted:?}");
            let s: &Posted = &posted[0];
            assert_eq!(s.sha, head, "{what}: on the pushed head");
            assert_eq!(s.context, "iter8/gitops-exp-4890", "{what}");
            assert_eq!(
                s.state,
                if failed { "failure" } else { "success" },
                "{what}"
            );
            assert!(s.description.chars().count() <= 140, "{what}");
            if failed {
                assert!(
                    s.description.contains("baseline"),
                    "{what}: {}",
                    s.description
                );
            } else {
                assert!(
                    s.description
                        .starts_with("candidate `sample-application-v2` met 2/2"),
                    "{what}"
                );
            }
            if host.starts_with("bitbucket") {
                assert!(
                    s.target_url.as_deref().is_some_and(|u| !u.is_empty()),
                    "{what}: Bitbucket needs a link"
                );
            }
            let r = o.report();
            assert_eq!(r["status"]["action"], "set", "{what}");
            assert_eq!(r["status"]["context"], "iter8/gitops-exp-4890", "{what}");
            // A rerun on the same head: read, not set again.
            let o = w.run(&[]);
            assert_code(&o, 0);
            assert_eq!(checks.posted().len(), 1, "{what}: no duplicate");
            assert_eq!(o.report()["status"]["action"], "unchanged", "{what}");
        }
    }
}

#[test]
fn the_five_outcomes_on_every_host_say_why_in_the_pr_and_in_the_status() {
    for host in HOSTS {
        for (outcome, exp) in crate::evidence::outcomes() {
            let what = format!("{host} {outcome}");
            let (w, checks, _, pulls) = on_host_finishing(host, crate::evidence::finishing(exp));
            let o = w.run(&[]);
            assert_code(&o, 0);
            let r = o.report();
            crate::evidence::in_schema(&r);
            let line = r["evidence"]["line"].as_str().unwrap().to_string();
            let pulls = pulls();
            assert_eq!(pulls.len(), 1, "{what}");
            assert!(
                pulls[0]
                    .body
                    .starts_with(&format!("### Why\n\n**Verdict:** {line}\n")),
                "{what}: {}",
                pulls[0].body
            );
            let rollback = outcome == "rollback";
            assert_eq!(pulls[0].title.contains("rollback"), rollback, "{what}");
            let posted = checks.posted();
            assert_eq!(posted.len(), 1, "{what}");
            assert_eq!(
                posted[0].state,
                if rollback { "failure" } else { "success" },
                "{what}"
            );
            assert!(
                line.starts_with(&posted[0].description.trim_end_matches('…').to_string()),
                "{what}"
            );
        }
    }
}

#[test]
fn github_and_gitea_statuses_follow_their_published_contracts() {
    let (w, _, _) = on_host("github", false);
    assert_code(&w.run(&[]), 0);
    let log = w.github.server.log();
    assert!(log.iter().any(|r| r.path.contains("/statuses/")));
    crate::providers::follows_the_contract("github/openapi.trimmed.json", "/api/v3", &log);
}

#[test]
fn a_required_context_holds_a_failed_experiments_pr_and_auto_merge_merges_a_passed_one() {
    for (host, failed) in [
        ("github", true),
        ("github", false),
        ("gitea", true),
        ("gitea", false),
    ] {
        let what = format!("{host} failed={failed}");
        let (mut w, checks, bare) = on_host(host, failed);
        checks.set(|r| {
            r.bare = Some(bare.clone());
            r.required = vec!["iter8/gitops-exp-4890".into()];
        });
        w.set("GITOPS_MERGE", Some("auto"))
            .set("GITOPS_MERGE_WAIT", Some(if failed { "0" } else { "20s" }));
        let base = tip(&bare, BRANCH);
        let o = w.run(&[]);
        assert_code(&o, 0);
        let r = o.report();
        if failed {
            assert_eq!(
                tip(&bare, BRANCH),
                base,
                "{what}: the failed experiment is not merged"
            );
            assert_ne!(r["merge"]["state"], "merged", "{what}: {r}");
        } else {
            assert_eq!(r["merge"]["state"], "merged", "{what}: {r}");
            assert_ne!(tip(&bare, BRANCH), base, "{what}");
        }
    }
}

#[test]
fn a_required_context_that_is_missing_refuses_the_merge() {
    // No status set (GITOPS_STATUS=false) on a repo that requires it: the host says the PR
    // cannot be merged, and the tool does not force it.
    let (mut w, checks, bare) = on_host("github", false);
    checks.set(|r| {
        r.bare = Some(bare.clone());
        r.required = vec!["iter8/gitops-exp-4890".into()];
    });
    w.set("GITOPS_STATUS", Some("false"))
        .set("GITOPS_MERGE", Some("now"));
    let base = tip(&bare, BRANCH);
    let o = w.run(&[]);
    assert_code(&o, 15);
    assert_eq!(tip(&bare, BRANCH), base, "not merged");
}

#[test]
fn a_token_without_the_status_scope_is_a_warning_unless_the_status_is_required() {
    let (mut w, checks, _) = on_host("github", false);
    w.github.server.fault(Fault::status(
        "POST /api/v3/repos/acme/env/statuses/",
        403,
        100,
    ));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(checks.posted().is_empty());
    let warnings = o.report()["warnings"].to_string();
    assert!(
        warnings.contains("repo:status"),
        "names the scope: {warnings}"
    );
    assert_eq!(o.report()["status"]["action"], "failed");
    assert_eq!(w.github.pulls().len(), 1, "the promotion stands");

    w.set("GITOPS_STATUS_REQUIRED", Some("true"))
        .set("GITOPS_PR_BRANCH", Some("iter8/required"));
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(o.stderr.contains("statuses"), "{}", o.stderr);
}

#[test]
fn the_status_can_be_renamed_linked_turned_off_and_a_dry_run_only_says_it() {
    let (mut w, checks, _) = on_host("github", true);
    w.set("GITOPS_DRY_RUN", Some("true"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(checks.posted().is_empty(), "a dry run sets nothing");
    assert_eq!(o.report()["status"]["action"], "would_set");
    assert_eq!(o.report()["status"]["state"], "failure");

    w.set("GITOPS_DRY_RUN", None)
        .set("GITOPS_STATUS_CONTEXT", Some("checks/iter8"))
        .set("GITOPS_STATUS_URL", Some("https://grafana.example/d/iter8"));
    assert_code(&w.run(&[]), 0);
    let posted = checks.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].context, "checks/iter8");
    assert_eq!(
        posted[0].target_url.as_deref(),
        Some("https://grafana.example/d/iter8")
    );

    let (mut w, checks, _) = on_host("github", false);
    w.set("GITOPS_STATUS", Some("false"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(checks.posted().is_empty());
    assert!(o.report().get("status").is_none());
}

#[test]
fn a_rerun_that_finds_the_change_merged_sets_nothing() {
    let (mut w, checks, bare) = on_host("github", false);
    checks.set(|r| r.bare = Some(bare.clone()));
    w.set("GITOPS_MERGE", Some("now"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["merge"]["state"], "merged");
    assert_eq!(checks.posted().len(), 1);
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(checks.posted().len(), 1, "nothing set after the merge");
    assert!(o.report().get("status").is_none(), "{}", o.report());
}
