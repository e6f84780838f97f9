//! A platform engineer's first day: what the output says, and the mistakes a new user makes,
//! each answered with what to do.

use crate::util::*;

fn with(env: &[(String, String)], k: &str, v: Option<&str>) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = env.iter().filter(|(key, _)| key != k).cloned().collect();
    if let Some(v) = v {
        e.push((k.into(), v.into()));
    }
    e
}

#[test]
fn the_last_line_says_what_happened_and_the_diff_is_shown_only_when_asked() {
    let w = World::tutorial();
    let o = w.run(&[]);
    assert_code(&o, 0);
    let last = o.stderr.trim_end().lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "promoted productpage-candidate.yaml → productpage.yaml: 1 modified, 3 deleted; pushed iter8_exp {}; PR #1 (created); applied 1 object(s)",
            &w.rev("refs/heads/iter8_exp").unwrap()[..7]
        )
    );
    assert!(
        !o.stderr.contains("diff --git"),
        "no diff unless asked: {}",
        o.stderr
    );
    let r = o.report();
    assert_eq!(
        (r["changed"].clone(), r["promotes"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(r["summary"], last);

    // A rerun: the promotion still waits in the PR, but this run changed nothing.
    let o = w.run(&["--show-diff"]);
    assert_code(&o, 0);
    let r = o.report();
    assert_eq!(
        (r["changed"].clone(), r["promotes"].clone()),
        (false.into(), true.into())
    );
    assert!(
        o.stderr.contains("iter8_exp already holds it at"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("PR #1 (unchanged)"), "{}", o.stderr);
    // Asked for: the diff, with each deleted file as one line.
    assert!(o.stderr.contains("diff --git"), "{}", o.stderr);
    assert!(o.stderr.contains("+++ /dev/null\n@@ -1,"), "{}", o.stderr);
    assert!(!o.stderr.contains("-kind: Experiment"), "{}", o.stderr);
}

#[test]
fn a_dry_run_reports_no_commit_id_and_posts_no_event_even_when_it_fails() {
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    let o = w.run(&["--dry-run"]);
    assert_code(&o, 0);
    let r = o.report();
    assert!(r.get("commit").is_none(), "{}", o.stdout);
    assert!(o.stderr.contains("diff --git"), "a dry run shows the diff");
    assert!(
        o.stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("dry run: promoted")
    );
    // A failing dry run: still nothing written anywhere, not even an Event.
    w.set("GITOPS_BRANCH", Some("no-such-branch"));
    let o = w.run(&["--dry-run"]);
    assert_code(&o, 4);
    assert!(w.kube.events().is_empty(), "{:?}", w.kube.events());
}

#[test]
fn a_misspelt_variable_or_flag_gets_the_right_name_and_hides_nothing() {
    let mut w = World::tutorial();
    let branch = w
        .env
        .iter()
        .find(|(k, _)| k == "GITOPS_BRANCH")
        .unwrap()
        .1
        .clone();
    w.set("GITOPS_BRANCH", None)
        .set("GITOPS_BRNACH", Some(&branch));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains(
            "GITOPS_BRNACH is not a variable iter8-gitops knows; did you mean GITOPS_BRANCH?"
        ) && o.stderr.contains("GITOPS_BRANCH is required"),
        "{}",
        o.stderr
    );
    w.set("GITOPS_BRNACH", None)
        .set("GITOPS_BRANCH", Some(&branch));
    let o = w.run(&["--winer=productpage-candidate.yaml"]);
    assert_code(&o, 2);
    assert!(o.stderr.contains("'--winner'"), "{}", o.stderr);
    assert_eq!(w.pushes(), 0);
}

#[test]
fn a_repo_path_that_is_no_repo_is_a_configuration_error_that_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let env = local_env(tmp.path());
    let missing = tmp.path().join("nope.git");
    let o = run_binary(&with(&env, "GITOPS_REPO", missing.to_str()), &[], &[]);
    assert_code(&o, 2);
    assert!(
        o.stderr
            .contains(&format!("GITOPS_REPO {} does not exist", missing.display())),
        "{}",
        o.stderr
    );
    let o = run_binary(&with(&env, "GITOPS_REPO", tmp.path().to_str()), &[], &[]);
    assert_code(&o, 2);
    assert!(o.stderr.contains("is not a Git repository"), "{}", o.stderr);
}

#[test]
fn a_replacement_that_never_matches_is_a_warning_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let env = with(
        &local_env(tmp.path()),
        "GITOPS_REPLACE",
        Some("candidtae=stable"),
    );
    let o = run_binary(&env, &[], &[]);
    assert_code(&o, 0);
    let r = o.report();
    assert!(
        r["warnings"].to_string().contains("GITOPS_REPLACE candidtae=stable: \\\"candidtae\\\" does not occur in samples/gitops/productpage-candidate.yaml"),
        "{}",
        o.stdout
    );
    assert!(o.stderr.contains("does not occur in"), "{}", o.stderr);
}

#[test]
fn an_https_repo_without_token_or_cluster_names_both_ways_to_give_one() {
    let mut w = World::tutorial();
    w.set("KUBECONFIG", None);
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("set GITOPS_TOKEN instead") && o.stderr.contains("KUBECONFIG"),
        "{}",
        o.stderr
    );
}

#[test]
fn an_in_repo_promotion_file_on_a_local_repo_needs_no_cluster_and_names_only_what_is_known() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("env.git");
    let env = local_env(tmp.path());
    // The rules, in the repo.
    let work = tmp.path().join("work");
    std::fs::write(
        work.join(DIR).join("iter8-promotion.yaml"),
        "targets:\n- edits: [{delete: [fortio.yaml]}]\n",
    )
    .unwrap();
    testkit::git(&work, &["add", "-A"]);
    testkit::git(&work, &["commit", "-q", "-m", "rules"]);
    testkit::git(
        &work,
        &[
            "push",
            "-q",
            bare.to_str().unwrap(),
            &format!("HEAD:{BRANCH}"),
        ],
    );
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| {
            ![
                "GITOPS_WINNER",
                "GITOPS_BASELINE",
                "GITOPS_REPLACE",
                "GITOPS_REMOVE",
            ]
            .contains(&k.as_str())
        })
        .collect();
    env.push((
        "GITOPS_CONFIG_IN_REPO".into(),
        "iter8-promotion.yaml".into(),
    ));
    // No KUBECONFIG, no token: a local repo needs neither.
    let o = run_binary(&env, &[], &[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["promotes"], true, "{}", o.stdout);

    // Without an Experiment, `${winner.name}` is not "known (winner.name, …)".
    std::fs::write(
        work.join(DIR).join("iter8-promotion.yaml"),
        "targets:\n- edits: [{replace: {file: productpage.yaml, from: x, to: '${winner.name}'}}]\n",
    )
    .unwrap();
    testkit::git(&work, &["commit", "-q", "-am", "rules 2"]);
    testkit::git(
        &work,
        &[
            "push",
            "-q",
            "-f",
            bare.to_str().unwrap(),
            &format!("HEAD:{BRANCH}"),
        ],
    );
    let o = run_binary(&env, &[], &[]);
    assert_code(&o, 5);
    assert!(
        o.stderr
            .contains("${winner.name} is not known here: no Experiment is known to this run"),
        "{}",
        o.stderr
    );
}

#[test]
fn the_help_says_what_start_substitutes() {
    let o = run_binary(&[], &["--help"], &[]);
    assert_code(&o, 0);
    assert!(
        o.stdout
            .contains("substitutions for ${{ KEY }} (or the bare word KEY)"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("--dry-run [<DRY_RUN>]"),
        "a boolean works bare: {}",
        o.stdout
    );
}

#[test]
fn the_walkthroughs_env_branch_steps_run_as_written_and_start_renders_on_them() {
    let tmp = tempfile::tempdir().unwrap();
    let fork = tmp.path().join("fork.git");
    testkit::git(
        tmp.path(),
        &["init", "-q", "--bare", fork.to_str().unwrap()],
    );
    let seed = tmp.path().join("seed");
    testkit::git(
        tmp.path(),
        &[
            "clone",
            "-q",
            fork.to_str().unwrap(),
            seed.to_str().unwrap(),
        ],
    );
    testkit::git(&seed, &["commit", "-q", "--allow-empty", "-m", "the fork"]);
    testkit::git(&seed, &["push", "-q", "origin", "HEAD:master"]);
    // Step 1's block, with the fork on this machine and this repository where it says.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/WALKTHROUGH.md"),
    )
    .unwrap();
    let step1 = &text[text.find("## 1.").unwrap()..];
    let block = step1
        .split("```sh")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let script = block
        .replace(
            "https://github.com/$ORG/iter8.git",
            &format!("{} iter8", fork.display()),
        )
        .replace("/path/to/iter8-gitops", env!("CARGO_MANIFEST_DIR"));
    assert_ne!(
        script, block,
        "the clone and copy lines are where the test expects them"
    );
    let out = std::process::Command::new("bash")
        .args(["-euc", &script])
        .current_dir(tmp.path())
        .env("HOME", tmp.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "You")
        .env("GIT_AUTHOR_EMAIL", "you@example.com")
        .env("GIT_COMMITTER_NAME", "You")
        .env("GIT_COMMITTER_EMAIL", "you@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Step 5 on that branch: `start` renders the experiment into samples/gitops.
    let env: Vec<(String, String)> = [
        ("GITOPS_REPO", fork.to_str().unwrap()),
        ("GITOPS_BRANCH", "gitops"),
        ("GITOPS_DIR", "samples/gitops"),
        ("GITOPS_VERSION", "fc543e5"),
        ("GITOPS_SET", "COLOR=red"),
        ("HOME", tmp.path().to_str().unwrap()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let o = run_binary(&env, &["start"], &[]);
    assert_code(&o, 0);
    let experiment = testkit::git(&fork, &["show", "gitops:samples/gitops/experiment.yaml"]);
    assert!(
        experiment.contains("name: gitops-exp-fc543e5"),
        "{experiment}"
    );
    let app = testkit::git(&fork, &["show", "gitops:samples/gitops/argocd-app.yaml"]);
    assert!(
        app.contains("repoURL: https://github.com/your-github-org/iter8"),
        "{app}"
    );
}
