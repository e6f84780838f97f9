//! Runs that race each other and a base branch that moves: never a lost commit, never a
//! duplicate PR (issue 4's concurrency and moved-base cases, on the machinery of the core).

use crate::util::*;

/// Runs the binary once per environment, all at once; every run must succeed.
fn run_all(envs: Vec<Vec<(String, String)>>) -> Vec<Output> {
    let outputs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = envs
            .into_iter()
            .map(|env| s.spawn(move || run_binary(&env, &[], &[TOKEN, KUBE_TOKEN])))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for o in &outputs {
        assert_code(o, 0);
    }
    outputs
}

#[test]
fn ten_runs_at_once_for_the_same_experiment_make_one_branch_commit_and_one_pr() {
    let w = World::tutorial();
    let base = w.rev("refs/heads/gitops").unwrap();
    let outputs = run_all((0..10).map(|_| w.env.clone()).collect());
    // One commit on the PR branch, on the base, with the promoted tree.
    let log = testkit::git(&w.bare(), &["rev-list", "gitops..iter8_exp"]);
    assert_eq!(log.lines().count(), 1, "{log}");
    assert_eq!(
        testkit::git(&w.bare(), &["log", "-1", "--format=%P", "iter8_exp"]).trim(),
        base
    );
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    assert_eq!(w.github.pulls().len(), 1, "{:?}", w.github.pulls());
    let tip = w.rev("refs/heads/iter8_exp").unwrap();
    for o in &outputs {
        assert_eq!(
            o.report()["commit"].as_str(),
            Some(tip.as_str()),
            "every run reports the one commit"
        );
    }
}

#[test]
fn twenty_runs_at_once_for_twenty_experiments_make_twenty_branches_and_prs() {
    let w = World::tutorial();
    let envs: Vec<_> = (0..20)
        .map(|i| {
            let mut env = w.env.clone();
            env.push(("GITOPS_PR_BRANCH".into(), format!("iter8/exp-{i}")));
            env
        })
        .collect();
    run_all(envs);
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 20);
    for i in 0..20 {
        let branch = format!("iter8/exp-{i}");
        assert!(
            pulls
                .iter()
                .filter(|p| p.head == format!("acme:{branch}"))
                .count()
                == 1,
            "{branch}"
        );
        assert_same_tree(&w.checkout(&branch).path().join(DIR), &after());
    }
    testkit::git(&w.bare(), &["fsck", "--strict"]);
}

#[test]
fn a_base_that_moved_after_the_pr_branch_was_made_gets_the_branch_rebuilt_and_keeps_the_one_pr() {
    let w = World::tutorial();
    assert_code(&w.run(&[]), 0);
    let first = w.rev("refs/heads/iter8_exp").unwrap();
    // CI commits to the base branch meanwhile.
    commit_as_someone_else(
        &w.bare(),
        BRANCH,
        "refs/heads/gitops",
        "ci: tune ratings",
        tune_ratings,
    );
    let new_base = w.rev("refs/heads/gitops").unwrap();

    let o = w.run(&[]);
    assert_code(&o, 0);
    let second = w.rev("refs/heads/iter8_exp").unwrap();
    assert_ne!(second, first, "the PR branch is rebuilt");
    assert_eq!(
        testkit::git(&w.bare(), &["log", "-1", "--format=%P", "iter8_exp"]).trim(),
        new_base,
        "on the new base"
    );
    let co = w.checkout("iter8_exp");
    assert_eq!(
        std::fs::read_to_string(co.path().join(DIR).join("ratings.yaml")).unwrap(),
        "# tuned by CI\n",
        "CI's commit survives"
    );
    assert_eq!(w.github.pulls().len(), 1, "still one PR");
    assert_eq!(
        o.report()["pr_action"],
        "unchanged",
        "the same change: the PR text stays"
    );
    assert_eq!(o.report()["pr"]["number"], 1);
}

#[test]
fn push_mode_commits_onto_the_synced_branch_and_opens_no_pr() {
    let mut w = World::tutorial();
    w.set("GITOPS_MODE", Some("push"));
    let base = w.rev("refs/heads/gitops").unwrap();
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(
        testkit::git(&w.bare(), &["log", "-1", "--format=%P", "gitops"]).trim(),
        base
    );
    assert_same_tree(&w.checkout(BRANCH).path().join(DIR), &after());
    assert_eq!(w.rev("refs/heads/iter8_exp"), None);
    assert!(w.github.server.log().is_empty(), "no pull request API call");
    assert!(w.applied_vs().is_some());
    // A rerun finds the promotion already on the branch.
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["changed"], false);
}

#[test]
fn push_mode_keeps_a_commit_ci_pushed_during_the_run_and_lands_on_top_of_it() {
    let mut w = World::tutorial();
    w.set("GITOPS_MODE", Some("push"));
    let bare = w.bare();
    // CI pushes to the synced branch between our fetch and our push.
    w.git
        .server
        .before("POST /acme/env.git/git-receive-pack", move || {
            commit_as_someone_else(
                &bare,
                BRANCH,
                "refs/heads/gitops",
                "ci: tune ratings",
                tune_ratings,
            );
        });
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(o.stderr.contains("fetching again"), "{}", o.stderr);
    // The foreign commit is the parent of ours: nothing lost, the plan applied on top.
    let parent = testkit::git(&w.bare(), &["log", "-1", "--format=%P", "gitops"]);
    let subject = testkit::git(&w.bare(), &["log", "-1", "--format=%s", parent.trim()]);
    assert_eq!(subject.trim(), "ci: tune ratings");
    let co = w.checkout(BRANCH);
    assert_eq!(
        std::fs::read_to_string(co.path().join(DIR).join("ratings.yaml")).unwrap(),
        "# tuned by CI\n"
    );
    assert!(!co.path().join(DIR).join("experiment.yaml").exists());
    assert_eq!(
        std::fs::read(co.path().join(DIR).join("productpage.yaml")).unwrap(),
        std::fs::read(after().join("productpage.yaml")).unwrap()
    );
}

/// CI's change in these stories: a comment in ratings.yaml.
fn tune_ratings(work: &std::path::Path) {
    std::fs::write(work.join(DIR).join("ratings.yaml"), "# tuned by CI\n").unwrap();
}
