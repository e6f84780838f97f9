//! The rest of the experiment's life in the Env repo: `iter8-gitops start` (what the tutorial's
//! runCI.sh does, race-free and deterministic), Argo CD told to refresh and waited for, and
//! Kubernetes Events that let `kubectl describe` tell the story.

use std::path::PathBuf;

use serde_json::json;

use crate::util::*;

pub(crate) const VERSION: &str = "fc543e5";

/// The Env repo `content`, with the tutorial's `templates/` beside it.
fn with_templates(content: &std::path::Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("env");
    testkit::copy_dir(content, &dir);
    testkit::copy_dir(&fixture("templates"), &dir.join("templates"));
    (tmp, dir)
}

/// A world whose synced branch holds the promoted tree (no experiment running) and the
/// templates, set up to run `start` for VERSION.
pub(crate) fn clean_world() -> (World, tempfile::TempDir) {
    let (tmp, dir) = with_templates(&after());
    let mut w = World::with_content(&dir, SLUG);
    w.set("GITOPS_VERSION", Some(VERSION))
        .set("GITOPS_SET", Some("COLOR=red,MY_ORG=sriumcp"))
        .set("GITOPS_WINNER", None)
        .set("GITOPS_BASELINE", None)
        .set("GITOPS_REPLACE", None)
        .set("GITOPS_REMOVE", None)
        .set("GITOPS_APPLY", None);
    (w, tmp)
}

fn start(w: &World) -> Output {
    w.run(&["start"])
}

fn read(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn start_renders_the_tutorial_templates_as_runci_did_with_names_from_the_version() {
    let (w, _t) = clean_world();
    let before = w.rev("refs/heads/gitops").unwrap();
    let o = start(&w);
    assert_code(&o, 0);
    assert_eq!(o.report()["pushed"], true);
    // Pushed straight onto the synced branch (CI owns it), one commit on the old tip.
    let co = w.checkout(BRANCH);
    let msg = testkit::git(co.path(), &["log", "-1", "--format=%s|%P"]);
    assert_eq!(
        msg.trim(),
        format!("iter8 experiment: version {VERSION}|{before}")
    );
    assert!(w.rev("refs/heads/iter8_exp").is_none(), "no PR branch");

    // Golden: runCI.sh's real output (f2364c9d), up to its $RANDOM names.
    let rendered = fixture("variants/iter8-tools-f2364c9d-rendered");
    let got = co.path().join(DIR);
    for (file, theirs, ours) in [
        ("experiment.yaml", "gitops-exp-1859", "gitops-exp-fc543e5"),
        ("fortio.yaml", "fortio-12100", "fortio-fc543e5"),
        ("productpage-candidate.yaml", "", ""),
    ] {
        let want = read(&rendered, file);
        let want = if theirs.is_empty() {
            want
        } else {
            want.replace(theirs, ours)
        };
        assert_eq!(read(&got, file), want, "{file}");
    }
    // Everything else is as it was.
    for f in ["productpage.yaml", "istio-vs.yaml"] {
        assert_eq!(read(&got, f), read(&after(), f));
    }
}

#[test]
fn start_again_for_the_same_version_changes_nothing() {
    let (w, _t) = clean_world();
    assert_code(&start(&w), 0);
    let tip = w.rev("refs/heads/gitops");
    let pushes = w.pushes();
    let o = start(&w);
    assert_code(&o, 0);
    assert_eq!(o.report()["changed"], false);
    assert_eq!(w.rev("refs/heads/gitops"), tip);
    assert_eq!(w.pushes(), pushes, "nothing pushed");
}

#[test]
fn start_with_a_bad_template_set_fails_before_anything_is_written() {
    let (mut w, _t) = clean_world();
    w.set(
        "GITOPS_SET",
        Some("COLOR=red,MY_ORG=sriumcp,FLAVOR=vanilla"),
    );
    let o = start(&w);
    assert_code(&o, 5);
    assert!(
        o.stderr
            .contains("GITOPS_SET FLAVOR is not used by any template"),
        "{}",
        o.stderr
    );
    w.set("GITOPS_SET", None)
        .set("GITOPS_VERSION", Some("Not_A_Name"));
    let o = start(&w);
    assert_code(&o, 2);
    assert!(
        o.stderr
            .contains("GITOPS_VERSION \"Not_A_Name\" cannot go into object names"),
        "{}",
        o.stderr
    );
    assert_eq!(w.pushes(), 0);
}

/// CI's environment for `start` of version 9b1c2d3, beside a finish world `w`.
fn ci_env(w: &World) -> Vec<(String, String)> {
    let mut env = w.env.clone();
    env.retain(|(k, _)| !k.starts_with("EXPERIMENT_") && k != "GITOPS_MODE");
    for k in [
        "GITOPS_BASELINE",
        "GITOPS_REPLACE",
        "GITOPS_REMOVE",
        "GITOPS_APPLY",
    ] {
        env.retain(|(x, _)| x != k);
    }
    env.push(("GITOPS_VERSION".into(), "9b1c2d3".into()));
    env.push(("GITOPS_SET".into(), "COLOR=blue,MY_ORG=acme".into()));
    env
}

#[test]
fn start_for_a_new_version_while_the_old_finish_runs_loses_no_commit() {
    let (tmp, dir) = with_templates(&before());
    let _keep = tmp;
    let mut w = World::with_content(&dir, SLUG);
    w.finishing_the_experiment();
    // The finish commits straight onto the synced branch, as start does: they race on it.
    w.set("GITOPS_MODE", Some("push"));
    // CI's start lands between the finish's fetch and its push.
    let (env, landed) = (ci_env(&w), std::sync::Arc::new(std::sync::Mutex::new(None)));
    let l = landed.clone();
    w.git
        .server
        .before("POST /acme/env.git/git-receive-pack", move || {
            let o = run_binary(&env, &["start"], &[TOKEN, KUBE_TOKEN]);
            *l.lock().unwrap() = Some(o);
        });
    let finish = w.run(&[]);
    let start = landed.lock().unwrap().take().expect("start ran");
    assert_code(&start, 0);
    assert_code(&finish, 0);
    // The finish's swap was refused; on the new tip it sees the new experiment and stands down.
    let report = finish.report();
    assert_eq!(report["changed"], false, "{}", finish.stdout);
    assert!(finish.stderr.contains("superseded"), "{}", finish.stderr);
    // No lost commit: the branch is start's commit, on the original tip.
    let co = w.checkout(BRANCH);
    let log = testkit::git(co.path(), &["log", "--format=%s"]);
    assert!(
        log.starts_with("iter8 experiment: version 9b1c2d3\n"),
        "{log}"
    );
    assert!(read(&co.path().join(DIR), "experiment.yaml").contains("name: gitops-exp-9b1c2d3"));
    assert!(
        w.applied_vs().is_none(),
        "a superseded finish applies nothing"
    );

    // In PR mode both land: the PR branch holds the old promotion, the synced branch the start.
    let (tmp, dir) = with_templates(&before());
    let _keep = tmp;
    let mut w = World::with_content(&dir, SLUG);
    w.finishing_the_experiment();
    let env = ci_env(&w);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| w.run(&[]));
        let b = s.spawn(|| run_binary(&env, &["start"], &[TOKEN, KUBE_TOKEN]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_code(&a, 0);
    assert_code(&b, 0);
    let (_t, promoted) = with_templates(&after());
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &promoted);
    assert_eq!(w.github.pulls().len(), 1);
    let co = w.checkout(BRANCH);
    assert!(read(&co.path().join(DIR), "experiment.yaml").contains("gitops-exp-9b1c2d3"));
}

#[test]
fn start_refreshes_argo_cd_waits_until_synced_and_healthy_and_tells_the_application() {
    let (mut w, _t) = clean_world();
    argo_app(&w, "Healthy");
    w.set("GITOPS_ARGOCD_APP", Some("argocd/bookinfo"))
        .set("GITOPS_ARGOCD_WAIT", Some("30s"));
    let o = start(&w);
    assert_code(&o, 0);
    assert_eq!(o.report()["argocd_synced"], true);
    let patch = w
        .kube
        .server
        .log()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("the Application was patched");
    assert_eq!(
        patch.path,
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/bookinfo"
    );
    assert_eq!(
        patch.headers["content-type"],
        "application/merge-patch+json"
    );
    assert!(
        patch
            .body
            .contains("\"argocd.argoproj.io/refresh\":\"normal\"")
    );
    let events = w.kube.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (e["reason"].as_str(), e["type"].as_str()),
        (Some("Started"), Some("Normal"))
    );
    assert_eq!(e["regarding"]["kind"], "Application");
    assert_eq!(e["regarding"]["uid"], "uid-bookinfo");
    assert!(e["note"].as_str().unwrap().contains(VERSION));
}

#[test]
fn an_argo_cd_wait_that_runs_out_fails_with_what_it_last_saw() {
    let (mut w, _t) = clean_world();
    argo_app(&w, "Progressing");
    w.set("GITOPS_ARGOCD_APP", Some("argocd/bookinfo"))
        .set("GITOPS_ARGOCD_WAIT", Some("3s"));
    let o = start(&w);
    assert_code(&o, 10);
    assert!(
        o.stderr.contains("did not reach Synced and Healthy"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("health Progressing"), "{}", o.stderr);
    // The change itself landed; the failure is told on the Application.
    assert_eq!(o.stdout, "");
    let events = w.kube.events();
    assert_eq!(events.last().unwrap()["reason"], "Failed");
    assert_eq!(events.last().unwrap()["type"], "Warning");
}

#[test]
fn the_finish_tells_the_experiment_promoted_then_nothing_to_do_and_a_failure_is_a_warning() {
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    assert_code(&w.run(&[]), 0);
    assert_code(&w.run(&[]), 0);
    let events = w.kube.events();
    let reasons: Vec<_> = events
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Promoted", "NothingToDo"]);
    let e = &events[0];
    assert_eq!(e["regarding"]["kind"], "Experiment");
    assert_eq!(e["regarding"]["name"], "gitops-exp-4890");
    assert_eq!(e["regarding"]["uid"], "uid-gitops-exp-4890");
    assert_eq!(e["reportingController"], "iter8.tools/iter8-gitops");
    assert!(e["note"].as_str().unwrap().contains("pull/1"), "{e}");
    assert!(
        e["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("gitops-exp-4890.")
    );

    // A run that fails (the GitHub token is refused) says so on the Experiment.
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    w.github = testkit::GitHubFake::start(&w.tls, SLUG, "another-token");
    let api = w.github.api_url();
    w.set("GITOPS_API_URL", Some(&api));
    let o = w.run(&[]);
    assert_code(&o, 3);
    let events = w.kube.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0]["reason"].as_str(), events[0]["type"].as_str()),
        (Some("Failed"), Some("Warning"))
    );
    assert!(events[0]["note"].as_str().unwrap().contains("HTTP 401"));
    assert!(!events[0]["note"].as_str().unwrap().contains(TOKEN));
}

#[test]
fn an_event_the_cluster_refuses_is_only_a_warning() {
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    w.kube
        .server
        .fault(testkit::Fault::status("POST /apis/events.k8s.io", 403, 100));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(
        o.report()["warnings"]
            .to_string()
            .contains("Promoted Event"),
        "{}",
        o.stdout
    );
    assert_eq!(w.github.pulls().len(), 1);
}

#[test]
fn when_the_baseline_wins_the_experiment_is_told_cleaned_up() {
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    let mut e = w
        .kube
        .get(
            "iter8.tools",
            "v2alpha2",
            "default",
            "experiments",
            "gitops-exp-4890",
        )
        .unwrap();
    e["status"]["versionRecommendedForPromotion"] = json!("productpage-stable");
    w.kube.add_experiment("default", "gitops-exp-4890", e);
    assert_code(&w.run(&[]), 0);
    let events = w.kube.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["reason"], "CleanedUp");
    assert!(
        events[0]["note"]
            .as_str()
            .unwrap()
            .contains("baseline productpage.yaml stays")
    );
}
