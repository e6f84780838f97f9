//! Closing the loop: the pull request merged (by the host's auto-merge or by the tool, only
//! at the head the tool pushed), Argo CD refreshed and waited for at the merge commit, and
//! the Experiment told. The host fakes really merge into the served bare repo with git.

use serde_json::{Value, json};
use testkit::{GitLabFake, GiteaFake, Merging};

use crate::util::*;

/// The tutorial's finish, with the PR merged as `policy` says (`GITOPS_MERGE`).
fn merging_world(policy: &str) -> (World, Merging) {
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    w.set("GITOPS_MERGE", Some(policy));
    let m = w.github.serve_merges(&w.bare());
    (w, m)
}

/// An Application that, once refreshed, is Synced and Healthy at the synced branch's tip.
fn argo_app(w: &mut World) {
    crate::util::argo_app(w, "Healthy");
    w.set("GITOPS_ARGOCD_APP", Some("argocd/bookinfo"))
        .set("GITOPS_ARGOCD_WAIT", Some("20s"));
}

fn reasons(w: &World) -> Vec<String> {
    w.kube
        .events()
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or("").to_string())
        .collect()
}

fn parents(w: &World, rev: &str) -> Vec<String> {
    testkit::git(&w.bare(), &["log", "-1", "--format=%P", rev])
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The synced branch holds the promoted files.
fn base_is_promoted(w: &World) {
    assert_same_tree(&w.checkout(BRANCH).path().join(DIR), &after());
    testkit::git(&w.bare(), &["fsck", "--strict"]);
}

#[test]
fn auto_merge_lands_the_squashed_change_then_argo_cd_is_synced_at_it_and_the_experiment_is_told() {
    let (mut w, m) = merging_world("auto");
    // The checks pass after two looks at the PR: auto-merge is on meanwhile.
    m.set(|r| r.pending_reads = 2);
    argo_app(&mut w);
    w.set("GITOPS_MERGE_METHOD", Some("squash"))
        .set("GITOPS_MERGE_WAIT", Some("20s"));
    let base = w.rev("refs/heads/gitops").unwrap();
    let o = w.run(&[]);
    assert_code(&o, 0);
    let r = o.report();
    let tip = w.rev("refs/heads/gitops").unwrap();
    assert_eq!(
        r["merge"],
        json!({"policy": "auto", "method": "squash", "state": "merged", "commit": tip})
    );
    assert_eq!(r["argocd_synced"], true);
    // A squash: one commit on the old base, holding the promoted tree.
    assert_eq!(parents(&w, "gitops"), [base]);
    base_is_promoted(&w);
    // Auto-merge was asked for the very commit the run pushed.
    let log = w.github.server.log();
    let gql = log
        .iter()
        .find(|q| q.path == "/api/graphql")
        .expect("the auto-merge mutation");
    let body: Value = serde_json::from_str(&gql.body).unwrap();
    assert_eq!(body["variables"]["head"], r["commit"]);
    assert_eq!(body["variables"]["method"], "SQUASH");
    assert_eq!(body["variables"]["pr"], "PR_kwDOfake1");
    assert!(
        !log.iter().any(|q| q.method == "PUT"),
        "the host merged it, not the tool"
    );
    assert_eq!(reasons(&w), ["Merged", "Deployed", "Promoted"]);
    let merged = &w.kube.events()[0];
    assert!(merged["note"].as_str().unwrap().contains(&tip), "{merged}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("merged {} (squash); Argo CD synced", &tip[..7])),
        "{}",
        r["summary"]
    );
}

#[test]
fn merge_now_makes_a_merge_commit_of_the_pushed_head_and_a_rerun_finds_it_merged() {
    let (mut w, _m) = merging_world("now");
    let base = w.rev("refs/heads/gitops").unwrap();
    let o = w.run(&[]);
    assert_code(&o, 0);
    let r = o.report();
    let head = r["commit"].as_str().unwrap().to_string();
    assert_eq!(r["merge"]["state"], "merged");
    assert_eq!(parents(&w, "gitops"), [base, head.clone()]);
    base_is_promoted(&w);
    let put = w
        .github
        .server
        .log()
        .into_iter()
        .find(|q| q.method == "PUT")
        .expect("the merge");
    assert_eq!(put.path, "/api/v3/repos/acme/env/pulls/1/merge");
    let body: Value = serde_json::from_str(&put.body).unwrap();
    assert_eq!(body, json!({"sha": head, "merge_method": "merge"}));
    assert!(!w.github.pulls()[0].open);

    // The rerun: the base branch holds the change; nothing pushed or opened, Argo CD still
    // refreshed and waited for at the base's tip.
    argo_app(&mut w);
    let pushes = w.pushes();
    let again = w.run(&[]);
    assert_code(&again, 0);
    let r = again.report();
    let tip = w.rev("refs/heads/gitops").unwrap();
    assert_eq!(r["merge"]["state"], "already_merged");
    assert_eq!(r["merge"]["commit"], tip);
    assert_eq!(
        (r["changed"].as_bool(), r["argocd_synced"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(w.pushes(), pushes);
    assert_eq!(w.github.pulls().len(), 1);
    assert!(
        r["summary"].as_str().unwrap().contains("already merged at"),
        "{}",
        r["summary"]
    );
}

#[test]
fn a_head_moved_by_someone_else_is_never_merged() {
    let (w, _m) = merging_world("now");
    let bare = w.bare();
    // Just before the merge, someone pushes to the PR branch.
    w.github
        .server
        .before("PUT /api/v3/repos/acme/env/pulls/1/merge", move || {
            commit_as_someone_else(
                &bare,
                "iter8_exp",
                "refs/heads/iter8_exp",
                "sneaky",
                |root| {
                    std::fs::write(root.join(DIR).join("extra.yaml"), "kind: Secret\n").unwrap();
                },
            );
        });
    let base = w.rev("refs/heads/gitops").unwrap();
    let o = w.run(&[]);
    assert_code(&o, 13);
    assert!(o.stderr.contains("its head is now"), "{}", o.stderr);
    assert!(o.stderr.contains("by CI <ci@example.com>"), "{}", o.stderr);
    assert_eq!(w.rev("refs/heads/gitops").unwrap(), base, "nothing merged");
    assert!(w.github.pulls()[0].open);
    assert_eq!(w.applies(), 0, "nothing applied after the refusal");
    assert_eq!(reasons(&w), ["HeadMoved"]);
    assert_eq!(w.kube.events()[0]["type"], "Warning");
}

#[test]
fn a_head_moved_to_the_same_change_by_another_run_is_merged_at_the_new_head() {
    let (w, _m) = merging_world("now");
    let bare = w.bare();
    // Another run of the same promotion: the same tree on the same base, another commit.
    w.github
        .server
        .before("PUT /api/v3/repos/acme/env/pulls/1/merge", move || {
            let tree = testkit::git(&bare, &["rev-parse", "iter8_exp^{tree}"]);
            let parent = testkit::git(&bare, &["rev-parse", "iter8_exp^"]);
            let other = testkit::git(
                &bare,
                &[
                    "commit-tree",
                    tree.trim(),
                    "-p",
                    parent.trim(),
                    "-m",
                    "the other run",
                ],
            );
            testkit::git(&bare, &["update-ref", "refs/heads/iter8_exp", other.trim()]);
        });
    let o = w.run(&[]);
    assert_code(&o, 0);
    let now = w.rev("refs/heads/iter8_exp").unwrap();
    assert_ne!(o.report()["commit"], now.as_str());
    assert_eq!(parents(&w, "gitops")[1], now);
    base_is_promoted(&w);
}

#[test]
fn a_pr_closed_while_waiting_exits_14_and_tells_the_experiment() {
    let (mut w, _m) = merging_world("none");
    w.set("GITOPS_MERGE_WAIT", Some("20s"));
    let pulls = w.github.pulls_handle();
    w.github
        .server
        .before("GET /api/v3/repos/acme/env/pulls/1", move || pulls.close(1));
    let o = w.run(&[]);
    assert_code(&o, 14);
    assert!(
        o.stderr.contains("was closed without being merged"),
        "{}",
        o.stderr
    );
    assert_eq!(reasons(&w), ["ClosedUnmerged"]);
}

#[test]
fn a_wait_that_runs_out_exits_16_and_changes_nothing_else() {
    let (mut w, m) = merging_world("auto");
    m.set(|r| r.pending_reads = 1000);
    w.set("GITOPS_MERGE_WAIT", Some("3s"));
    let base = w.rev("refs/heads/gitops").unwrap();
    let o = w.run(&[]);
    assert_code(&o, 16);
    assert!(
        o.stderr
            .contains("was not merged within GITOPS_MERGE_WAIT (3s)"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("last seen: open at"), "{}", o.stderr);
    assert_eq!(w.rev("refs/heads/gitops").unwrap(), base);
    assert_eq!(w.applies(), 0);
    assert_eq!(reasons(&w), ["NotMerged"]);
}

#[test]
fn auto_merge_pending_is_reported_and_a_rerun_does_not_ask_for_it_twice() {
    let (w, m) = merging_world("auto");
    m.set(|r| r.pending_reads = 1000);
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["merge"]["state"], "auto_merge");
    assert!(
        o.report()["summary"]
            .as_str()
            .unwrap()
            .contains("auto-merge on (merge)")
    );
    let again = w.run(&[]);
    assert_code(&again, 0);
    assert_eq!(again.report()["merge"]["state"], "auto_merge_kept");
    let asked = w
        .github
        .server
        .log()
        .iter()
        .filter(|q| q.path == "/api/graphql")
        .count();
    assert_eq!(asked, 1);
    // The VirtualService is applied as before: the merge is the host's now.
    assert!(w.applied_vs().is_some());
}

#[test]
fn a_squash_only_repo_refuses_a_merge_commit_with_exit_12_and_takes_a_squash() {
    let (mut w, m) = merging_world("now");
    m.set(|r| r.methods = vec!["squash".into()]);
    let o = w.run(&[]);
    assert_code(&o, 12);
    assert!(
        o.stderr.contains("Merge commits are not allowed"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("GITOPS_MERGE_METHOD"), "{}", o.stderr);
    assert_eq!(reasons(&w), ["MergeRefused"]);
    w.set("GITOPS_MERGE_METHOD", Some("squash"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["merge"]["method"], "squash");
    base_is_promoted(&w);
}

#[test]
fn a_repo_without_auto_merge_is_refused_with_what_to_do() {
    let (w, m) = merging_world("auto");
    m.set(|r| {
        r.auto_merge = false;
        r.pending_reads = 5;
    });
    let o = w.run(&[]);
    assert_code(&o, 12);
    assert!(
        o.stderr.contains("Auto merge is not allowed"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("Allow auto-merge"), "{}", o.stderr);
}

#[test]
fn merge_inputs_are_checked_before_anything_is_contacted() {
    let (mut w, _m) = merging_world("sometime");
    w.set("GITOPS_MERGE_WAIT", Some("2m"))
        .set("GITOPS_TIMEOUT", Some("60"));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(o.stderr.contains("GITOPS_MERGE"), "{}", o.stderr);
    assert!(
        o.stderr.contains("must be shorter than GITOPS_TIMEOUT"),
        "{}",
        o.stderr
    );
    assert!(w.github.server.log().is_empty() && w.git.server.log().is_empty());
}

#[test]
fn gitlab_and_gitea_merge_now_and_by_auto_merge_into_the_served_repo() {
    for host in ["gitlab", "gitea"] {
        for (policy, method) in [("now", "squash"), ("auto", "merge")] {
            let mut w = World::tutorial();
            let (api, m, fake_log): (String, Merging, Box<dyn Fn() -> Vec<testkit::Recorded>>) =
                match host {
                    "gitlab" => {
                        let gl = GitLabFake::start(&w.tls, &["acme/env"], TOKEN);
                        let m = gl.serve_merges(&w.bare());
                        (gl.api_url(), m, Box::new(move || gl.server.log()))
                    }
                    _ => {
                        let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
                        let m = gt.serve_merges(&w.bare());
                        (gt.api_url(), m, Box::new(move || gt.server.log()))
                    }
                };
            m.set(|r| r.pending_reads = 2);
            w.set("GITOPS_API_URL", Some(&api))
                .set("GITOPS_MERGE", Some(policy))
                .set("GITOPS_MERGE_METHOD", Some(method))
                .set("GITOPS_MERGE_WAIT", Some("20s"));
            let base = w.rev("refs/heads/gitops").unwrap();
            let o = w.run(&[]);
            assert_code(&o, 0);
            let r = o.report();
            let what = format!("{host} {policy} {method}");
            assert_eq!(r["merge"]["state"], "merged", "{what}");
            assert_eq!(
                r["merge"]["commit"],
                w.rev("refs/heads/gitops").unwrap().as_str(),
                "{what}"
            );
            let n = parents(&w, "gitops").len();
            assert_eq!(n, if method == "squash" { 1 } else { 2 }, "{what}");
            assert_ne!(w.rev("refs/heads/gitops").unwrap(), base);
            base_is_promoted(&w);
            // Every merge named the head the run pushed.
            let sent: Vec<Value> = fake_log()
                .iter()
                .filter(|q| q.path.ends_with("/merge"))
                .map(|q| serde_json::from_str(&q.body).unwrap())
                .collect();
            assert!(!sent.is_empty(), "{what}");
            for b in &sent {
                let sha = b.get("sha").or_else(|| b.get("head_commit_id"));
                assert_eq!(sha, Some(&r["commit"]), "{what}: {b}");
            }
        }
    }
}

#[test]
fn gitlab_and_gitea_refuse_a_stale_head_and_gitea_a_style_the_repo_does_not_allow() {
    let mut w = World::tutorial();
    let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
    let m = gt.serve_merges(&w.bare());
    m.set(|r| r.methods = vec!["rebase".into()]);
    w.set("GITOPS_API_URL", Some(&gt.api_url()))
        .set("GITOPS_MERGE", Some("now"));
    let o = w.run(&[]);
    assert_code(&o, 12);
    assert!(
        o.stderr
            .contains("merge is not allowed an allowed merge style"),
        "{}",
        o.stderr
    );
    w.set("GITOPS_MERGE_METHOD", Some("rebase"));
    let bare = w.bare();
    gt.server
        .before("POST /api/v1/repos/acme/env/pulls/1/merge", move || {
            commit_as_someone_else(&bare, "iter8_exp", "refs/heads/iter8_exp", "x", |root| {
                std::fs::write(root.join("x"), "x").unwrap();
            });
        });
    let o = w.run(&[]);
    assert_code(&o, 13);

    let mut w = World::tutorial();
    let gl = GitLabFake::start(&w.tls, &["acme/env"], TOKEN);
    gl.serve_merges(&w.bare());
    w.set("GITOPS_API_URL", Some(&gl.api_url()))
        .set("GITOPS_MERGE", Some("now"));
    let bare = w.bare();
    gl.server.before(
        "PUT /api/v4/projects/acme%2Fenv/merge_requests/1/merge",
        move || {
            commit_as_someone_else(&bare, "iter8_exp", "refs/heads/iter8_exp", "x", |root| {
                std::fs::write(root.join("x"), "x").unwrap();
            });
        },
    );
    let o = w.run(&[]);
    assert_code(&o, 13);
    assert!(o.stderr.contains("by CI <ci@example.com>"), "{}", o.stderr);
}

#[test]
fn every_merge_request_follows_the_github_and_gitea_contracts() {
    let (w, m) = merging_world("none");
    m.set(|r| r.pending_reads = 1);
    let o = run_binary(
        &[
            w.env.clone(),
            vec![("GITOPS_MERGE_WAIT".into(), "2s".into())],
        ]
        .concat(),
        &[],
        &[TOKEN, KUBE_TOKEN],
    );
    // Nobody merges it: the wait runs out; then a run that merges it itself.
    assert_code(&o, 16);
    let mut w = w;
    w.set("GITOPS_MERGE", Some("now"));
    assert_code(&w.run(&[]), 0);
    let (merges, rest): (Vec<_>, Vec<_>) = w
        .github
        .server
        .log()
        .into_iter()
        .filter(|q| q.path.starts_with("/api/v3"))
        .partition(|q| q.path.ends_with("/merge"));
    assert!(!merges.is_empty() && rest.iter().any(|q| q.path.ends_with("/pulls/1")));
    crate::providers::follows_the_contract("github/openapi.trimmed.json", "/api/v3", &rest);
    crate::providers::follows_the_contract("github/openapi.merge.trimmed.json", "/api/v3", &merges);

    let mut w = World::tutorial();
    let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
    gt.serve_merges(&w.bare()).set(|r| r.pending_reads = 2);
    w.set("GITOPS_API_URL", Some(&gt.api_url()))
        .set("GITOPS_MERGE", Some("auto"))
        .set("GITOPS_MERGE_WAIT", Some("20s"));
    assert_code(&w.run(&[]), 0);
    let (merges, rest): (Vec<_>, Vec<_>) = gt
        .server
        .log()
        .into_iter()
        .partition(|q| q.path.ends_with("/merge"));
    assert!(!merges.is_empty());
    crate::providers::follows_the_contract("gitea/gitea.swagger-v1.trimmed.json", "/api/v1", &rest);
    crate::providers::follows_the_contract(
        "gitea/merge.swagger-v1.trimmed.json",
        "/api/v1",
        &merges,
    );
}

/// A promotion file's target that renames the product page (a change to merge).
const RENAME: &str = "targets:\n- name: prod\n  edits: [{replace: {file: productpage.yaml, from: 'name: productpage', to: 'name: productpage-v2'}}]\n";

#[test]
fn a_promotion_files_target_merges_as_its_pr_says_and_an_in_repo_file_only_when_allowed() {
    // The operator's own file may turn merging on.
    let (mut w, _m) = merging_world("none");
    w.without_single_rules();
    let path = w.tmp.path().join("promotion.yaml");
    std::fs::write(
        &path,
        format!("{RENAME}  pr: {{merge: now, mergeMethod: squash}}\n"),
    )
    .unwrap();
    w.set("GITOPS_CONFIG", Some(path.to_str().unwrap()));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let r = o.report();
    assert_eq!(r["commits"][0]["report"]["merge"]["state"], "merged", "{r}");
    let page = testkit::git(
        &w.bare(),
        &["show", &format!("gitops:{DIR}/productpage.yaml")],
    );
    assert!(page.contains("name: productpage-v2"));

    // One read from the Env repo may not, unless the operator allows exactly that.
    for (allow, code) in [(None, 2), (Some("pr.merge=auto"), 0)] {
        let (mut w, _m) = merging_world("none");
        commit_as_someone_else(&w.bare(), BRANCH, BRANCH, "promotion rules", |work| {
            let text = format!("{RENAME}  pr: {{merge: auto}}\n");
            std::fs::write(work.join(DIR).join("iter8-promotion.yaml"), text).unwrap();
        });
        w.without_single_rules();
        w.set("GITOPS_CONFIG_IN_REPO", Some("iter8-promotion.yaml"))
            .set("GITOPS_IN_REPO_ALLOW", allow);
        let o = w.run(&[]);
        assert_code(&o, code);
        if code == 2 {
            assert!(o.stderr.contains("(prod).pr.merge"), "{}", o.stderr);
            assert!(
                o.stderr.contains("pr.merge=auto to GITOPS_IN_REPO_ALLOW"),
                "{}",
                o.stderr
            );
            assert_eq!(w.pushes(), 0);
        } else {
            assert_eq!(
                o.report()["commits"][0]["report"]["merge"]["state"],
                "merged"
            );
        }
    }
}

#[test]
fn a_dry_run_says_what_it_would_merge_and_asks_nothing_of_the_host() {
    let (mut w, _m) = merging_world("now");
    w.set("GITOPS_DRY_RUN", Some("true"))
        .set("GITOPS_MERGE_METHOD", Some("rebase"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let r = o.report();
    assert_eq!(
        r["merge"],
        json!({"policy": "now", "method": "rebase", "state": "dry_run"})
    );
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains("would merge (rebase)")
    );
    assert!(
        w.github
            .server
            .log()
            .iter()
            .all(|q| q.method == "GET" && !q.path.ends_with("/pulls/1"))
    );
    assert!(w.kube.events().is_empty());
}

#[test]
fn gitlab_and_gitea_reruns_while_auto_merge_is_pending_do_not_schedule_it_twice() {
    let mut w = World::tutorial();
    let gl = GitLabFake::start(&w.tls, &["acme/env"], TOKEN);
    gl.serve_merges(&w.bare()).set(|r| r.pending_reads = 1000);
    w.set("GITOPS_API_URL", Some(&gl.api_url()))
        .set("GITOPS_MERGE", Some("auto"));
    assert_code(&w.run(&[]), 0);
    let again = w.run(&[]);
    assert_code(&again, 0);
    // GitLab shows it (`merge_when_pipeline_succeeds`): not asked again.
    assert_eq!(again.report()["merge"]["state"], "auto_merge_kept");
    let puts =
        |log: Vec<testkit::Recorded>| log.iter().filter(|q| q.path.ends_with("/merge")).count();
    assert_eq!(puts(gl.server.log()), 1);

    let mut w = World::tutorial();
    let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
    gt.serve_merges(&w.bare()).set(|r| r.pending_reads = 1000);
    w.set("GITOPS_API_URL", Some(&gt.api_url()))
        .set("GITOPS_MERGE", Some("auto"));
    assert_code(&w.run(&[]), 0);
    let again = w.run(&[]);
    assert_code(&again, 0);
    // Gitea does not show it: the second request is answered "already scheduled" (409),
    // which the run reads as on.
    assert_eq!(again.report()["merge"]["state"], "auto_merge");
    assert_eq!(gt.pulls()[0].merge.auto.as_deref(), Some("merge"));
    assert_eq!(puts(gt.server.log()), 2);
}

#[test]
fn a_pr_whose_checks_are_pending_is_not_merged_now_and_exits_15_on_every_host() {
    let (w, m) = merging_world("now");
    m.set(|r| r.pending_reads = 1000);
    let o = w.run(&[]);
    assert_code(&o, 15);
    assert!(
        o.stderr
            .contains("cannot be merged now: Pull Request is not mergeable"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("GITOPS_MERGE_WAIT"), "{}", o.stderr);
    assert_eq!(reasons(&w), ["NotMergeable"]);

    let mut w = World::tutorial();
    let gl = GitLabFake::start(&w.tls, &["acme/env"], TOKEN);
    gl.serve_merges(&w.bare()).set(|r| r.pending_reads = 1000);
    w.set("GITOPS_API_URL", Some(&gl.api_url()))
        .set("GITOPS_MERGE", Some("now"));
    assert_code(&w.run(&[]), 15);

    let mut w = World::tutorial();
    let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
    gt.serve_merges(&w.bare()).set(|r| r.pending_reads = 1000);
    w.set("GITOPS_API_URL", Some(&gt.api_url()))
        .set("GITOPS_MERGE", Some("now"));
    let o = w.run(&[]);
    assert_code(&o, 15);
    assert!(
        o.stderr
            .contains("Not all required status checks successful"),
        "{}",
        o.stderr
    );
}
