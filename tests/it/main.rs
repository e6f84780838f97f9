//! Integration tests: the real binary against a real git http-backend over HTTPS and the
//! GitHub and Kubernetes fakes. Each test is one user story.

mod azure_devops;
mod bitbucket_cloud;
mod bitbucket_server;
mod ci_steps;
mod evidence;
mod fakes;
mod faults;
mod first_day;
mod hostile;
mod image;
mod lifecycle;
mod limits;
mod link;
mod merging;
mod monorepo;
mod platforms;
mod promotions;
mod providers;
mod races;
mod receiver;
mod signing;
mod status;
mod task_spec;
mod trust;
mod util;

use testkit::Fault;
use util::*;

#[test]
fn candidate_wins_the_branch_holds_the_real_runs_files_one_pr_is_opened_and_the_vs_is_applied() {
    let w = World::tutorial();
    // In a Pod the kubelet provides the file; the tool writes it only when it exists.
    std::fs::write(w.tmp.path().join("termination-log"), "").unwrap();
    let base_before = w.rev("refs/heads/gitops").unwrap();
    let o = w.run(&[]);
    assert_code(&o, 0);

    // The golden real run: the branch holds exactly after-184e955.
    let co = w.checkout("iter8_exp");
    assert_same_tree(&co.path().join(DIR), &after());
    testkit::git(&w.bare(), &["fsck", "--strict"]);
    let parents = testkit::git(&w.bare(), &["log", "-1", "--format=%P", "iter8_exp"]);
    assert_eq!(parents.trim(), base_before, "one parent: the fetched tip");
    let who = testkit::git(
        &w.bare(),
        &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", "iter8_exp"],
    );
    assert_eq!(
        who.trim(),
        "Iter8 <iter8@iter8.tools>|Iter8 <iter8@iter8.tools>|update baseline"
    );
    assert_eq!(
        w.rev("refs/heads/gitops").unwrap(),
        base_before,
        "the base branch is untouched"
    );

    // One PR, head -> base, with a generated body that shows the change.
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(
        (
            pulls[0].head.as_str(),
            pulls[0].base.as_str(),
            pulls[0].title.as_str()
        ),
        ("acme:iter8_exp", "gitops", "Iter8 GitOps")
    );
    assert!(
        pulls[0].body.contains("D samples/gitops/fortio.yaml"),
        "{}",
        pulls[0].body
    );
    assert!(pulls[0].body.contains("```diff"));
    for r in w.github.server.log() {
        assert_eq!(
            r.headers.get("accept").map(String::as_str),
            Some("application/vnd.github+json")
        );
        assert_eq!(
            r.headers.get("x-github-api-version").map(String::as_str),
            Some("2022-11-28")
        );
        assert!(
            r.headers
                .get("user-agent")
                .unwrap()
                .starts_with("iter8-gitops/")
        );
    }

    // The VirtualService, server-side applied with our field manager.
    let vs = w
        .kube
        .get(
            "networking.istio.io",
            "v1alpha3",
            "default",
            "virtualservices",
            "bookinfo",
        )
        .expect("applied");
    assert_eq!(
        vs["metadata"]["managedFields"][0]["manager"],
        "iter8-gitops"
    );
    let patch = w
        .kube
        .server
        .log()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        patch.headers["content-type"],
        "application/apply-patch+yaml"
    );
    assert!(
        patch.query.contains("fieldManager=iter8-gitops") && patch.query.contains("force=true"),
        "{}",
        patch.query
    );

    let report = o.report();
    assert_eq!(
        report["partial_fetch"], true,
        "the server filters: only the rules' blobs were fetched\n{}",
        o.stderr
    );
    assert_eq!(report["changed"], true);
    assert_eq!(report["pushed"], true);
    assert_eq!(report["pr"]["number"], 1);
    assert_eq!(report["pr_action"], "created");
    assert_eq!(
        report["commit"].as_str(),
        w.rev("refs/heads/iter8_exp").as_deref()
    );
    assert_eq!(report["applied"][0]["kind"], "VirtualService");
    let termination = std::fs::read_to_string(w.tmp.path().join("termination-log")).unwrap();
    assert!(termination.len() <= 4096);
    let summary: serde_json::Value =
        serde_json::from_str(&termination).expect("valid JSON in the termination log");
    assert_eq!(summary["pr"]["number"], 1);
}

#[test]
fn the_report_times_every_step_the_run_took_whatever_rust_log_says() {
    // The timings come from the steps' spans; a quiet log must not lose them.
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    w.set("RUST_LOG", Some("error"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let timings = o.report()["timings_ms"].clone();
    for step in [
        "experiment",
        "token",
        "fetch",
        "plan",
        "discovery",
        "commit",
        "push",
        "pull_request",
        "apply",
        "total",
    ] {
        assert!(
            timings.get(step).is_some_and(|v| v.is_u64()),
            "{step} in {timings}"
        );
    }
    assert!(!o.stderr.contains("iter8_gitops::step"), "{}", o.stderr);
}

#[test]
fn a_second_run_pushes_nothing_and_keeps_the_one_pr() {
    let w = World::tutorial();
    assert_code(&w.run(&[]), 0);
    let tip = w.rev("refs/heads/iter8_exp").unwrap();
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(w.rev("refs/heads/iter8_exp").unwrap(), tip, "no new commit");
    assert_eq!(w.pushes(), 1, "one push over both runs");
    assert_eq!(w.github.pulls().len(), 1, "no second PR");
    let r = o.report();
    assert_eq!(r["pushed"], false);
    assert_eq!(r["pr_action"], "unchanged");
    assert_eq!(w.applies(), 2, "apply is repeated: it is idempotent");
}

#[test]
fn an_existing_pr_from_an_earlier_run_is_kept_not_duplicated() {
    let w = World::tutorial();
    w.github.add("acme:iter8_exp", "gitops", "an old title");
    let o = w.run(&[]);
    assert_code(&o, 0);
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "Iter8 GitOps", "its text is updated");
    assert_eq!(o.report()["pr_action"], "updated");
}

#[test]
fn baseline_wins_only_the_experiments_files_are_removed() {
    let mut w = World::tutorial();
    w.set("GITOPS_WINNER", Some("productpage.yaml"));
    assert_code(&w.run(&[]), 0);
    let co = w.checkout("iter8_exp");
    assert!(!co.path().join(DIR).join("experiment.yaml").exists());
    assert!(
        !co.path()
            .join(DIR)
            .join("productpage-candidate.yaml")
            .exists()
    );
    assert_eq!(
        std::fs::read(co.path().join(DIR).join("productpage.yaml")).unwrap(),
        std::fs::read(before().join("productpage.yaml")).unwrap()
    );
}

#[test]
fn nothing_to_change_makes_no_commit_and_no_pr_but_still_applies() {
    let w = World::with_content(&after(), SLUG);
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(o.stderr.contains("nothing to change"), "{}", o.stderr);
    assert_eq!(w.rev("refs/heads/iter8_exp"), None);
    assert_eq!(w.pushes(), 0);
    assert!(w.github.server.log().is_empty());
    assert_eq!(w.applies(), 1);
    assert_eq!(o.report()["changed"], false);
}

#[test]
fn experiment_context_finds_the_winner_without_any_template() {
    let mut w = World::tutorial();
    w.kube.add_experiment(
        "default",
        "gitops-exp-4890",
        tutorial_experiment(Some("productpage-candidate")),
    );
    w.set("GITOPS_WINNER", None).set("GITOPS_NAMESPACE", None);
    w.set("EXPERIMENT_NAME", Some("gitops-exp-4890"))
        .set("EXPERIMENT_NAMESPACE", Some("default"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    let msg = testkit::git(&w.bare(), &["log", "-1", "--format=%B", "iter8_exp"]);
    assert!(
        msg.contains("Iter8-Experiment: default/gitops-exp-4890"),
        "{msg}"
    );
    assert_eq!(o.report()["winner_version"], "productpage-candidate");
}

#[test]
fn an_experiment_without_a_recommendation_exits_8_and_writes_nothing() {
    let mut w = World::tutorial();
    w.kube
        .add_experiment("default", "gitops-exp-4890", tutorial_experiment(None));
    w.set("GITOPS_WINNER", None);
    w.set("EXPERIMENT_NAME", Some("gitops-exp-4890"))
        .set("EXPERIMENT_NAMESPACE", Some("default"));
    let o = w.run(&[]);
    assert_code(&o, 8);
    assert!(
        o.stderr.contains("versionRecommendedForPromotion"),
        "{}",
        o.stderr
    );
    assert_eq!(w.pushes(), 0);
    assert!(w.git.server.log().is_empty(), "not even a fetch");
}

#[test]
fn a_flag_overrides_the_environment_as_iter8_interpolates_args() {
    let mut w = World::tutorial();
    w.set("GITOPS_WINNER", Some("does-not-exist.yaml"));
    let o = w.run(&["--winner", "productpage-candidate.yaml"]);
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
}

#[test]
fn a_fork_pr_names_its_head_as_owner_colon_branch() {
    let mut w = World::with_content(&before(), "upstream/env");
    w.set("GITOPS_PR_REPO", Some("upstream/env"));
    assert_code(&w.run(&[]), 0);
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].head, "acme:iter8_exp");
    let create = w
        .github
        .server
        .log()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(create.path, "/api/v3/repos/upstream/env/pulls");
}

#[test]
fn dry_run_reads_everything_and_writes_nothing_anywhere() {
    let mut w = World::tutorial();
    w.set("GITOPS_DRY_RUN", Some("true"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(
        o.stderr.contains("-            value: \"red\""),
        "the diff is shown:\n{}",
        o.stderr
    );
    assert_eq!(w.rev("refs/heads/iter8_exp"), None);
    assert_eq!(w.pushes(), 0);
    assert!(w.github.pulls().is_empty());
    assert_eq!(w.applies(), 0);
    let r = o.report();
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["pr_action"], "would_create");
    assert_eq!(r["objects"][0]["kind"], "VirtualService");
}

#[test]
fn a_wrong_git_token_exits_3_names_the_repo_and_pushes_nothing() {
    let mut w = World::tutorial();
    w.set("GITOPS_TOKEN", Some("ghp_wrong_token_value"));
    let o = run_binary(&w.env, &[], &[TOKEN, "ghp_wrong_token_value"]);
    assert_code(&o, 3);
    assert!(
        o.stderr.contains("rejected the credentials"),
        "{}",
        o.stderr
    );
    assert_eq!(w.pushes(), 0);
    assert!(w.github.pulls().is_empty());
    assert_eq!(w.applies(), 0);
}

#[test]
fn a_token_the_api_refuses_exits_3_after_the_push() {
    let mut w = World::with_content(&before(), SLUG);
    // The API fake accepts another token than the git server: git works, the API says 401.
    w.github = testkit::GitHubFake::start(&w.tls, SLUG, "another-token");
    let api = w.github.api_url();
    w.set("GITOPS_API_URL", Some(&api));
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(o.stderr.contains("Bad credentials"), "{}", o.stderr);
    assert!(w.github.pulls().is_empty());
}

#[test]
fn a_missing_secret_key_exits_3_and_names_secret_namespace_and_key() {
    let w = World::tutorial();
    w.kube
        .add_secret("default", "iter8-token", &[("pat", TOKEN)]);
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(
        o.stderr.contains(
            r#"secret "iter8-token" in namespace "default" has no key "token" (found: pat)"#
        ),
        "{}",
        o.stderr
    );
    assert!(w.git.server.log().is_empty());
}

#[test]
fn every_missing_or_invalid_input_is_reported_at_once_with_exit_2_and_nothing_is_contacted() {
    let mut w = World::tutorial();
    w.set("GITOPS_REPO", None)
        .set("GITOPS_BRANCH", Some("bad..branch"))
        .set("GITOPS_WINNER", Some("../../etc/passwd"));
    w.set("GITOPS_BASELINE", Some("/abs.yaml"))
        .set("GITOPS_PR_BRANCH", Some("has space"))
        .set("GITOPS_DRY_RUN", Some("perhaps"));
    let o = w.run(&[]);
    assert_code(&o, 2);
    for name in [
        "GITOPS_REPO is required",
        "GITOPS_BRANCH",
        "GITOPS_WINNER",
        "GITOPS_BASELINE",
        "GITOPS_PR_BRANCH",
        "GITOPS_DRY_RUN",
    ] {
        assert!(
            o.stderr.contains(name),
            "{name} not named in:\n{}",
            o.stderr
        );
    }
    assert!(
        w.git.server.log().is_empty()
            && w.github.server.log().is_empty()
            && w.kube.server.log().is_empty()
    );
}

#[test]
fn a_winner_reached_through_a_symlink_in_the_tree_exits_5_and_pushes_nothing() {
    let w = World::tutorial();
    // Someone committed a symlink pointing out of the environment directory.
    commit_as_someone_else(
        &w.bare(),
        BRANCH,
        "refs/heads/gitops",
        "a symlink",
        |work| {
            std::os::unix::fs::symlink("/etc", work.join(DIR).join("etc")).unwrap();
        },
    );
    let mut w = w;
    w.set("GITOPS_WINNER", Some("etc/passwd"));
    let o = w.run(&[]);
    assert_code(&o, 5);
    assert!(o.stderr.contains("symlink"), "{}", o.stderr);
    assert_eq!(w.pushes(), 0);
    assert_eq!(w.applies(), 0);
}

#[test]
fn an_unknown_kind_to_apply_exits_7_before_anything_is_pushed() {
    let mut w = World::tutorial();
    w.set("GITOPS_APPLY", Some("metrics.yaml"));
    let o = w.run(&[]);
    assert_code(&o, 7);
    assert!(o.stderr.contains("does not serve kind"), "{}", o.stderr);
    assert_eq!(w.pushes(), 0);
    assert!(w.github.pulls().is_empty());
}

#[test]
fn server_errors_and_rate_limits_on_push_pr_and_apply_are_retried_through() {
    let w = World::tutorial();
    w.git
        .server
        .fault(Fault::status("POST /acme/env.git/git-receive-pack", 503, 1));
    w.github.server.fault(
        Fault::status("GET /api/v3/repos/acme/env/pulls", 429, 1).header("retry-after", "1"),
    );
    w.github
        .server
        .fault(Fault::status("POST /api/v3/repos/acme/env/pulls", 502, 1));
    w.kube
        .server
        .fault(Fault::status("PATCH /apis/networking.istio.io", 503, 1));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    assert_eq!(
        w.github.pulls().len(),
        1,
        "exactly one PR despite the failed create"
    );
    assert!(w.applied_vs().is_some());
    assert!(
        o.stderr.contains("retrying") || o.stderr.contains("fetching again"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_rate_limit_longer_than_the_deadline_fails_at_once_and_says_how_long_to_wait() {
    let mut w = World::tutorial();
    w.set("GITOPS_TIMEOUT", Some("30"));
    // GitHub's rule without Retry-After and with quota left: wait a minute. That does not fit
    // in 30 s, so the run must not sleep into its deadline.
    w.github
        .server
        .fault(Fault::status("GET /api/v3/repos/acme/env/pulls", 429, 100));
    let started = std::time::Instant::now();
    let o = w.run(&[]);
    assert_code(&o, 6);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(o.stderr.contains("HTTP 429"), "{}", o.stderr);
    assert!(
        o.stderr.contains("the server asks to wait 60s"),
        "{}",
        o.stderr
    );
    assert!(w.github.pulls().is_empty());
}

#[test]
fn the_pr_branch_moved_between_fetch_and_push_is_not_overwritten_blindly() {
    let w = World::tutorial();
    // Someone pushes to the PR branch while the run is between its fetch and its push.
    let bare = w.bare();
    w.git
        .server
        .before("POST /acme/env.git/git-receive-pack", move || {
            commit_as_someone_else(&bare, BRANCH, "refs/heads/iter8_exp", "foreign", |work| {
                std::fs::write(work.join("foreign.txt"), "someone else\n").unwrap();
            });
        });
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(
        o.stderr.contains("fetching again"),
        "the refused swap is reported:\n{}",
        o.stderr
    );
    // The run re-fetched, saw the foreign tip, and swapped against it: the result is the plan.
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    assert_eq!(w.pushes(), 2);
    assert_eq!(w.github.pulls().len(), 1);
}

#[test]
fn a_local_bare_repo_needs_no_token_no_cluster_and_no_network() {
    let tmp = tempfile::tempdir().unwrap();
    let env = local_env(tmp.path());
    let bare = tmp.path().join("env.git");
    let o = run_binary(&env, &[], &[]);
    assert_code(&o, 0);
    let co = tempfile::tempdir().unwrap();
    testkit::git(
        co.path(),
        &[
            "clone",
            "-q",
            "-b",
            "iter8_exp",
            bare.to_str().unwrap(),
            ".",
        ],
    );
    assert_same_tree(&co.path().join(DIR), &after());
    testkit::git(&bare, &["fsck", "--strict"]);
}

#[test]
fn a_server_that_cannot_filter_or_refuses_blobs_by_id_gets_a_whole_tree_fetch() {
    // A server without uploadpack.allowFilter: no filter is offered.
    let w = World::tutorial();
    testkit::git(&w.bare(), &["config", "uploadpack.allowFilter", "false"]);
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["partial_fetch"], false);
    assert_eq!(o.report()["fetch"], "whole");
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());

    // A server that filters but will not send the blobs by id (the sixth upload-pack POST:
    // ls-refs, the commits, the root tree, `samples`, `samples/gitops`, then the blobs): the
    // run falls back to the whole tree.
    let w = World::tutorial();
    let mut refuse = Fault::status("POST /acme/env.git/git-upload-pack", 500, 1);
    refuse.nth = 6;
    w.git.server.fault(refuse);
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["partial_fetch"], false);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    testkit::git(&w.bare(), &["fsck", "--strict"]);
}

#[test]
fn a_pr_opened_by_someone_else_between_lookup_and_create_is_adopted_not_duplicated() {
    let w = World::tutorial();
    // GitHub answers the create with its 422 "A pull request already exists": the race.
    let gh = std::sync::Arc::new(std::sync::Mutex::new(None::<u64>));
    let (slot, fake) = (gh.clone(), w.github.pulls_handle());
    w.github
        .server
        .before("POST /api/v3/repos/acme/env/pulls", move || {
            *slot.lock().unwrap() =
                Some(fake.add("acme:iter8_exp", "gitops", "opened concurrently"));
        });
    let o = w.run(&[]);
    assert_code(&o, 0);
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let create = w
        .github
        .server
        .log()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(create.status, 422);
    assert_eq!(o.report()["pr"]["number"], gh.lock().unwrap().unwrap());
    assert_eq!(
        pulls[0].title, "Iter8 GitOps",
        "the adopted PR gets our text"
    );
}

#[test]
fn the_token_never_reaches_argv_or_disk_and_the_temporary_repo_is_removed() {
    let mut w = World::tutorial();
    let tmpdir = tempfile::tempdir().unwrap();
    w.set("TMPDIR", Some(tmpdir.path().to_str().unwrap()));
    w.set("GITOPS_TOKEN", Some(TOKEN));
    // Mid-run (just before the push), look at every file of the run's temporary repo and at
    // every process's argv.
    let seen = std::sync::Arc::new(std::sync::Mutex::new((0usize, Vec::<String>::new())));
    let (s, dir) = (seen.clone(), tmpdir.path().to_path_buf());
    w.git
        .server
        .before("POST /acme/env.git/git-receive-pack", move || {
            let mut s = s.lock().unwrap();
            let mut stack = vec![dir.clone()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    if e.file_type().unwrap().is_dir() {
                        stack.push(e.path());
                    } else {
                        s.0 += 1;
                        if String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default())
                            .contains(TOKEN)
                        {
                            s.1.push(e.path().display().to_string());
                        }
                    }
                }
            }
            for p in std::fs::read_dir("/proc").unwrap().flatten() {
                if let Ok(cmdline) = std::fs::read(p.path().join("cmdline"))
                    && String::from_utf8_lossy(&cmdline).contains(TOKEN)
                {
                    s.1.push(format!("argv of {}", p.path().display()));
                }
            }
        });
    assert_code(&w.run(&[]), 0);
    let (files, leaks) = seen.lock().unwrap().clone();
    assert!(files > 0, "the hook saw the run's temporary repo");
    assert!(leaks.is_empty(), "the token is in {leaks:?}");
    assert_eq!(
        std::fs::read_dir(tmpdir.path()).unwrap().count(),
        0,
        "the temporary repo is gone after the run"
    );
}
