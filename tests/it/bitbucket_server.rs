//! Bitbucket Data Center: the tutorial's Env repo at `/scm/ACME/env.git` (git http-backend),
//! its pull requests by a fake built from the published 9.2 contract.

use serde_json::Value;
use testkit::BitbucketServerFake;

use crate::util::*;

const REPO: &str = "scm/ACME/env";

fn dc_world() -> (World, BitbucketServerFake) {
    let mut w = World::tutorial();
    w.git.create_repo(REPO, BRANCH, &before(), DIR);
    let dc = BitbucketServerFake::start(&w.tls, "ACME", "env", TOKEN);
    w.set("GITOPS_REPO", Some(&w.git.url(REPO)))
        .set("GITOPS_PROVIDER", Some("bitbucket-server"))
        .set("GITOPS_API_URL", Some(&dc.api_url()));
    (w, dc)
}

fn bare(w: &World) -> std::path::PathBuf {
    w.git.repo_path(REPO)
}

fn tip(w: &World, branch: &str) -> String {
    testkit::git(&bare(w), &["rev-parse", branch])
        .trim()
        .to_string()
}

#[test]
fn bitbucket_server_one_draft_pull_request_with_reviewers_a_rerun_keeps_it_and_labels_are_a_warning()
 {
    let (mut w, dc) = dc_world();
    w.set("GITOPS_PR_LABELS", Some("iter8"))
        .set("GITOPS_PR_REVIEWERS", Some("alice"))
        .set("GITOPS_PR_DRAFT", Some("true"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let r = o.report();
    assert!(
        r["pr"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/projects/ACME/repos/env/pull-requests/1"),
        "{r}"
    );
    assert!(
        r["warnings"].to_string().contains("no pull request labels"),
        "{r}"
    );
    // The rerun retitles it: the update carries the version it read.
    w.set("GITOPS_PR_TITLE", Some("Promote productpage"));
    let again = w.run(&[]);
    assert_code(&again, 0);
    assert_eq!(again.report()["pr_action"], "updated");
    let pulls = dc.pulls();
    assert_eq!(pulls.len(), 1);
    let p = &pulls[0];
    assert_eq!(
        (p.head.as_str(), p.base.as_str(), p.draft),
        ("iter8_exp", BRANCH, true)
    );
    assert_eq!(p.title, "Promote productpage");
    assert_eq!(p.reviewers, ["alice"]);
    for q in dc.server.log() {
        assert_eq!(q.headers["authorization"], format!("Bearer {TOKEN}"));
    }
}

#[test]
fn bitbucket_server_the_duplicate_race_adopts_the_existing_pull_request() {
    let (w, dc) = dc_world();
    let open = dc.opener();
    dc.server.before(
        "POST /rest/api/latest/projects/ACME/repos/env/pull-requests",
        move || {
            open("iter8_exp", BRANCH, "the other run");
        },
    );
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(dc.pulls().len(), 1);
    assert_eq!(o.report()["pr_action"], "updated");
}

#[test]
fn bitbucket_server_a_refused_token_exits_3() {
    let mut w = World::tutorial();
    w.git.create_repo(REPO, BRANCH, &before(), DIR);
    let dc = BitbucketServerFake::start(&w.tls, "ACME", "env", "another-token-0123456789");
    w.set("GITOPS_REPO", Some(&w.git.url(REPO)))
        .set("GITOPS_PROVIDER", Some("bitbucket-server"))
        .set("GITOPS_API_URL", Some(&dc.api_url()));
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(o.stderr.contains("Authentication failed"), "{}", o.stderr);
}

#[test]
fn bitbucket_server_merges_at_the_version_of_the_pushed_head_or_sets_auto_merge() {
    for (policy, method, parents) in [("now", "squash", 1), ("auto", "merge", 2)] {
        let (mut w, dc) = dc_world();
        dc.serve_merges(&bare(&w)).set(|r| r.pending_reads = 2);
        w.set("GITOPS_MERGE", Some(policy))
            .set("GITOPS_MERGE_METHOD", Some(method))
            .set("GITOPS_MERGE_WAIT", Some("20s"));
        let o = w.run(&[]);
        assert_code(&o, 0);
        let r = o.report();
        assert_eq!(r["merge"]["state"], "merged", "{policy}: {r}");
        assert_eq!(r["merge"]["commit"], tip(&w, BRANCH));
        let line = testkit::git(&bare(&w), &["log", "-1", "--format=%P", BRANCH]);
        assert_eq!(
            line.split_whitespace().count(),
            parents,
            "{policy} {method}"
        );
        let merges: Vec<Value> = dc
            .server
            .log()
            .iter()
            .filter(|q| q.path.ends_with("/merge"))
            .map(|q| serde_json::from_str(&q.body).unwrap())
            .collect();
        assert!(!merges.is_empty());
        for b in &merges {
            assert!(b["version"].is_i64(), "{b}");
        }
    }
}

#[test]
fn bitbucket_server_a_head_moved_by_someone_else_is_never_merged_and_auto_merge_off_is_12() {
    let (mut w, dc) = dc_world();
    dc.serve_merges(&bare(&w));
    w.set("GITOPS_MERGE", Some("now"));
    let b = bare(&w);
    // After the tool read the version, before it merges: the version moves with the head.
    dc.server.before(
        "POST /rest/api/latest/projects/ACME/repos/env/pull-requests/1/merge",
        move || {
            commit_as_someone_else(&b, "iter8_exp", "refs/heads/iter8_exp", "x", |root| {
                std::fs::write(root.join("x"), "x").unwrap();
            });
        },
    );
    let base = tip(&w, BRANCH);
    let o = w.run(&[]);
    assert_code(&o, 13);
    assert!(o.stderr.contains("by CI <ci@example.com>"), "{}", o.stderr);
    assert_eq!(tip(&w, BRANCH), base);

    let (mut w, dc) = dc_world();
    dc.serve_merges(&bare(&w)).set(|r| {
        r.auto_merge = false;
        r.pending_reads = 5;
    });
    w.set("GITOPS_MERGE", Some("auto"));
    let o = w.run(&[]);
    assert_code(&o, 12);
    assert!(
        o.stderr.contains("auto-merge setting is not enabled"),
        "{}",
        o.stderr
    );
}

#[test]
fn bitbucket_server_every_request_follows_the_published_contract() {
    let (mut w, dc) = dc_world();
    dc.serve_merges(&bare(&w));
    w.set("GITOPS_PR_REVIEWERS", Some("alice"))
        .set("GITOPS_MERGE", Some("now"));
    assert_code(&w.run(&[]), 0);
    let log = dc.server.log();
    crate::providers::follows_the_contract(
        "bitbucket/datacenter-9.2.openapi3.trimmed.json",
        "/rest",
        &log,
    );
}

/// Issue 25: the server's root URL, what most people paste as GITOPS_API_URL, reaches the
/// REST API beneath it (it used to fail with a bare `HTTP 404: Not found`).
#[test]
fn bitbucket_data_center_given_its_root_url_finds_its_rest_api() {
    let (mut w, dc) = dc_world();
    let root = dc
        .api_url()
        .trim_end_matches("/rest/api/latest")
        .to_string();
    w.set("GITOPS_API_URL", Some(&root));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(dc.pulls().len(), 1);
}
