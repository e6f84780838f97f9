//! Azure DevOps Repos: the tutorial's Env repo served by git http-backend under the `/_git/`
//! path Azure DevOps uses, its pull requests by a fake built from the published 7.1 contract.

use base64::Engine;
use serde_json::{Value, json};
use testkit::AzureFake;

use crate::util::*;

/// The repo's path on the Git host, as Azure DevOps names it.
const REPO: &str = "acme/platform/_git/env";
/// A reviewer's identity id.
const REVIEWER: &str = "3b9c1a52-8d4e-4f6a-9b1c-2d3e4f5a6b7c";

/// The tutorial on Azure DevOps: the Env repo at `acme/platform/_git/env`, served as Azure
/// DevOps serves it (the original protocol with `multi_ack_detailed`, no v2, no partial-clone
/// filter), the fake's API.
fn azure_world() -> (World, AzureFake) {
    let mut w = World::tutorial();
    let bare = w.git.create_repo_at(REPO, BRANCH, &before(), DIR);
    testkit::git(&bare, &["config", "uploadpack.allowFilter", "false"]);
    w.git.speak_protocol_v0_only();
    let az = AzureFake::start(&w.tls, "acme/platform", "env", TOKEN);
    w.set("GITOPS_REPO", Some(&w.git.url_of(REPO)))
        .set("GITOPS_PROVIDER", Some("azure-devops"))
        .set("GITOPS_API_URL", Some(&az.api_url()));
    (w, az)
}

fn bare(w: &World) -> std::path::PathBuf {
    w.git.root().join(REPO)
}

fn checkout(w: &World, branch: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    testkit::git(
        dir.path(),
        &["clone", "-q", "-b", branch, bare(w).to_str().unwrap(), "."],
    );
    dir
}

#[test]
fn azure_devops_one_draft_pull_request_with_labels_and_reviewers_and_a_rerun_keeps_it() {
    let (mut w, az) = azure_world();
    w.set("GITOPS_PR_LABELS", Some("iter8,promotion"))
        .set("GITOPS_PR_REVIEWERS", Some(REVIEWER))
        .set("GITOPS_PR_DRAFT", Some("true"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_same_tree(&checkout(&w, "iter8_exp").path().join(DIR), &after());
    testkit::git(&bare(&w), &["fsck", "--strict"]);
    let r = o.report();
    // No filter on this server: the whole depth-1 tree came, over the original protocol.
    assert_eq!(r["partial_fetch"], false);
    assert!(
        w.git
            .server
            .log()
            .iter()
            .all(|q| !q.body.contains("command=fetch")),
        "no protocol v2 request"
    );
    assert_eq!(
        r["pr"]["url"],
        "https://dev.azure.com/acme/platform/_git/env/pullrequest/1"
    );
    assert_code(&w.run(&[]), 0);
    let pulls = az.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let p = &pulls[0];
    assert_eq!(
        (p.head.as_str(), p.base.as_str(), p.draft),
        ("iter8_exp", BRANCH, true)
    );
    assert_eq!(p.labels, ["iter8", "promotion"]);
    assert_eq!(p.reviewers, [REVIEWER]);
    // Every call: api-version 7.1, the PAT as Basic with an empty user name.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(":{TOKEN}"))
    );
    for q in az.server.log() {
        assert!(
            q.query.contains("api-version=7.1"),
            "{} {}",
            q.method,
            q.path
        );
        assert_eq!(q.headers["authorization"], basic);
    }
}

#[test]
fn azure_devops_the_duplicate_race_adopts_the_other_runs_pull_request() {
    let (w, az) = azure_world();
    let open = az.opener();
    az.server.before(
        "POST /acme/platform/_apis/git/repositories/env/pullrequests",
        move || {
            open("iter8_exp", BRANCH, "the other run");
        },
    );
    let o = w.run(&[]);
    assert_code(&o, 0);
    let pulls = az.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(o.report()["pr"]["number"], 1);
    assert_eq!(o.report()["pr_action"], "updated");
    assert_eq!(pulls[0].title, "Iter8 GitOps");
}

#[test]
fn azure_devops_a_refused_token_exits_3_after_the_push_and_is_never_printed() {
    let mut w = World::tutorial();
    w.git.create_repo_at(REPO, BRANCH, &before(), DIR);
    let az = AzureFake::start(&w.tls, "acme/platform", "env", "another-token-0123456789");
    w.set("GITOPS_REPO", Some(&w.git.url_of(REPO)))
        .set("GITOPS_PROVIDER", Some("azure-devops"))
        .set("GITOPS_API_URL", Some(&az.api_url()));
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(o.stderr.contains("TF400813"), "{}", o.stderr);
    assert!(o.stderr.contains("check the token"), "{}", o.stderr);
    assert!(az.pulls().is_empty());
}

#[test]
fn azure_devops_an_entra_token_goes_as_bearer() {
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiI0OTliODRhYyJ9.c2lnbmF0dXJlLWJ5dGVz";
    let mut w = World::tutorial();
    let git = testkit::GitServer::start(&w.tls, jwt);
    git.create_repo_at(REPO, BRANCH, &before(), DIR);
    let az = AzureFake::start(&w.tls, "acme/platform", "env", jwt);
    w.kube
        .add_secret("default", "iter8-token", &[("token", jwt)]);
    w.set("GITOPS_REPO", Some(&git.url_of(REPO)))
        .set("GITOPS_PROVIDER", Some("azure-devops"))
        .set("GITOPS_API_URL", Some(&az.api_url()));
    let o = run_binary(&w.env, &[], &[jwt, KUBE_TOKEN]);
    assert_code(&o, 0);
    let log = az.server.log();
    assert!(
        log.iter()
            .all(|q| q.headers["authorization"] == format!("Bearer {jwt}"))
    );
}

#[test]
fn azure_devops_completes_the_pull_request_at_the_pushed_head_or_sets_auto_complete() {
    for (policy, method, parents) in [("now", "squash", 1), ("auto", "merge", 2)] {
        let (mut w, az) = azure_world();
        az.serve_merges(&bare(&w)).set(|r| r.pending_reads = 2);
        w.set("GITOPS_MERGE", Some(policy))
            .set("GITOPS_MERGE_METHOD", Some(method))
            .set("GITOPS_MERGE_WAIT", Some("20s"));
        let o = w.run(&[]);
        assert_code(&o, 0);
        let r = o.report();
        assert_eq!(r["merge"]["state"], "merged", "{policy}");
        assert_same_tree(&checkout(&w, BRANCH).path().join(DIR), &after());
        let tip = testkit::git(&bare(&w), &["log", "-1", "--format=%H %P", BRANCH]);
        let ids: Vec<&str> = tip.split_whitespace().collect();
        assert_eq!(ids.len() - 1, parents, "{policy} {method}");
        assert_eq!(r["merge"]["commit"], ids[0]);
        let patches: Vec<Value> = az
            .server
            .log()
            .iter()
            .filter(|q| q.method == "PATCH" && !q.body.contains("\"title\""))
            .map(|q| serde_json::from_str(&q.body).unwrap())
            .collect();
        assert!(!patches.is_empty());
        for b in &patches {
            assert_eq!(
                b["lastMergeSourceCommit"],
                json!({"commitId": r["commit"]}),
                "{b}"
            );
        }
    }
}

#[test]
fn azure_devops_a_head_moved_by_someone_else_is_not_completed() {
    let (mut w, az) = azure_world();
    az.serve_merges(&bare(&w));
    w.set("GITOPS_MERGE", Some("now"));
    let b = bare(&w);
    az.server.before(
        "PATCH /acme/platform/_apis/git/repositories/env/pullrequests/1",
        move || {
            commit_as_someone_else(&b, "iter8_exp", "refs/heads/iter8_exp", "x", |root| {
                std::fs::write(root.join("x"), "x").unwrap();
            });
        },
    );
    let base = testkit::git(&bare(&w), &["rev-parse", BRANCH]);
    let o = w.run(&[]);
    assert_code(&o, 13);
    assert_eq!(testkit::git(&bare(&w), &["rev-parse", BRANCH]), base);
}

#[test]
fn azure_devops_every_request_follows_the_published_contract() {
    let (mut w, az) = azure_world();
    az.serve_merges(&bare(&w));
    w.set("GITOPS_PR_LABELS", Some("iter8"))
        .set("GITOPS_PR_REVIEWERS", Some(REVIEWER))
        .set("GITOPS_MERGE", Some("now"));
    assert_code(&w.run(&[]), 0);
    let log = az.server.log();
    assert!(log.iter().any(|q| q.method == "PATCH") && log.iter().any(|q| q.method == "PUT"));
    crate::providers::follows_the_contract("azure-devops/git-7.1.swagger.trimmed.json", "", &log);
}

#[test]
fn a_server_without_protocol_v2_is_fetched_from_over_the_original_protocol_with_its_filter() {
    let w = World::tutorial();
    w.git.speak_protocol_v0_only();
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(
        o.report()["partial_fetch"],
        true,
        "filter is offered in v0 too"
    );
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    assert_code(&w.run(&[]), 0);
    assert_eq!(w.pushes(), 1, "the rerun finds it there");
}
