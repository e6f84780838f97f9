//! Promotion files: any Env repo layout (Kustomize overlays, Helm values), several targets in
//! one run, edits that change only the edited scalar's text. The examples in `examples/` are
//! the repos, run end to end against the git server and the fakes.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::*;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A world whose Env repo (under DIR) is `content`, finishing the experiment in `exp_file`
/// (relative to `content`) whose candidate won, with the promotion file read from the repo.
fn world(content: &Path, exp_file: &str) -> World {
    let mut w = World::with_content(content, SLUG);
    let mut e: Value =
        serde_yaml_ng::from_slice(&std::fs::read(content.join(exp_file)).unwrap()).unwrap();
    let name = e["metadata"]["name"].as_str().unwrap().to_string();
    e["metadata"]["namespace"] = json!("default");
    e["status"] = json!({"versionRecommendedForPromotion": "v2"});
    // What the operator grants the in-repo file, as the example's finish action says it.
    let args: Vec<String> = serde_json::from_value(
        e["spec"]["strategy"]["actions"]["finish"][0]["with"]["args"].clone(),
    )
    .unwrap();
    let allow = args
        .iter()
        .position(|a| a == "--in-repo-allow")
        .map(|i| args[i + 1].clone());
    w.kube.add_experiment("default", &name, e);
    w.without_single_rules();
    w.set("GITOPS_CONFIG_IN_REPO", Some("iter8-promotion.yaml"))
        .set("GITOPS_IN_REPO_ALLOW", allow.as_deref())
        .set("EXPERIMENT_NAME", Some(&name))
        .set("EXPERIMENT_NAMESPACE", Some("default"));
    w
}

/// The lines that differ between two versions of a file with the same number of lines.
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    assert_eq!(
        before.lines().count(),
        after.lines().count(),
        "lines were added or removed:\n{after}"
    );
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn file_at(w: &World, branch: &str, path: &str) -> Option<String> {
    let co = w.checkout(branch);
    std::fs::read_to_string(co.path().join(DIR).join(path)).ok()
}

#[test]
fn kustomize_overlays_staging_is_pushed_prod_gets_one_pr_with_the_experiment_removed() {
    let src = example("kustomize-env");
    let w = world(&src, "experiments/productpage-v2.yaml");
    let o = w.run(&[]);
    assert_code(&o, 0);
    let report = o.report();
    assert_eq!(report["targets"].as_array().unwrap().len(), 3, "{report}");
    assert_eq!(
        report["commits"].as_array().unwrap().len(),
        2,
        "two commits: {report}"
    );
    assert_eq!(
        report["targets"][2]["commit"], 1,
        "the experiment shares prod's commit"
    );
    // The two commits ran side by side: each log line says whose it is.
    let lines: Vec<&str> = o.stderr.lines().filter(|l| l.contains(" INFO ")).collect();
    for names in [
        "target{name=targets[0] (staging)}",
        "target{name=targets[1] (prod), targets[2] (experiment)}",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(names)),
            "{names}:\n{}",
            o.stderr
        );
    }

    // Staging: straight onto the synced branch; byte for byte only the tag's text changed.
    let read = |p: &str| std::fs::read_to_string(src.join(p)).unwrap();
    let staging = file_at(&w, BRANCH, "overlays/staging/kustomization.yaml").unwrap();
    assert_eq!(
        changed_lines(&read("overlays/staging/kustomization.yaml"), &staging),
        [(
            "    newTag: \"v1\"   # promoted by Iter8".to_string(),
            "    newTag: \"v2\"   # promoted by Iter8".to_string()
        )]
    );
    assert_eq!(
        file_at(&w, BRANCH, "overlays/prod/kustomization.yaml").unwrap(),
        read("overlays/prod/kustomization.yaml"),
        "prod waits for its PR"
    );

    // Prod and the experiment: one commit on the PR branch, one PR.
    let prod = file_at(&w, "iter8/promote-prod", "overlays/prod/kustomization.yaml").unwrap();
    assert_eq!(
        changed_lines(&read("overlays/prod/kustomization.yaml"), &prod),
        [("    newTag: v1".to_string(), "    newTag: v2".to_string())]
    );
    assert!(file_at(&w, "iter8/promote-prod", "experiments/productpage-v2.yaml").is_none());
    let log = testkit::git(
        &w.bare(),
        &["log", "--format=%s", "gitops..iter8/promote-prod"],
    );
    assert_eq!(log.lines().count(), 1, "one commit: {log}");
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "Promote productpage v2 to production");
    assert_eq!(pulls[0].labels, ["iter8", "production"]);

    // Reruns converge: nothing more to push, still one PR.
    assert_code(&w.run(&[]), 0);
    let pushes = w.pushes();
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(w.pushes(), pushes, "{}", o.stdout);
    assert_eq!(w.github.pulls().len(), 1);
}

#[test]
fn helm_values_two_environments_and_the_experiment_in_one_commit_and_one_pr() {
    let src = example("helm-env");
    let w = world(&src, "experiments/productpage.yaml");
    let o = w.run(&[]);
    assert_code(&o, 0);
    let report = o.report();
    let targets = report["commits"].as_array().unwrap();
    assert_eq!(
        targets.len(),
        1,
        "one commit for the three targets: {report}"
    );
    assert_eq!(
        targets[0]["targets"],
        json!([
            "targets[0] (staging)",
            "targets[1] (prod)",
            "targets[2] (experiment)"
        ])
    );
    let read = |p: &str| std::fs::read_to_string(src.join(p)).unwrap();
    let staging = file_at(&w, "iter8/promote", "envs/staging/values.yaml").unwrap();
    // The quoted tag stays quoted; a tag like 1.10 stays a string.
    assert_eq!(
        changed_lines(&read("envs/staging/values.yaml"), &staging),
        [("  tag: \"v1\"".to_string(), "  tag: \"1.10\"".to_string())]
    );
    let prod = file_at(&w, "iter8/promote", "envs/prod/values.yaml").unwrap();
    let before = read("envs/prod/values.yaml");
    // One line changed (quoted now: plain 1.10 would be a number) and one added, where it
    // belongs, as the file's own indentation has it.
    assert_eq!(
        prod,
        before.replace("  tag: v1\n", "  tag: \"1.10\"\n").replace(
            "  sidecar.istio.io/inject: \"true\"\n",
            "  sidecar.istio.io/inject: \"true\"\n  iter8.tools/experiment: productpage-helm\n"
        )
    );
    assert!(file_at(&w, "iter8/promote", "experiments/productpage.yaml").is_none());
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "Promote productpage 1.10");
    // The Experiment hears about it once.
    let events = w.kube.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["reason"], "Promoted");
}

/// The kustomize example with a promotion file given as GITOPS_CONFIG (on this machine).
fn with_file(w: &mut World, text: &str) {
    let path = w.tmp.path().join("promotion.yaml");
    std::fs::write(&path, text).unwrap();
    // The operator's own file: the in-repo allow-list has nothing to widen.
    w.set("GITOPS_CONFIG_IN_REPO", None)
        .set("GITOPS_IN_REPO_ALLOW", None)
        .set("GITOPS_CONFIG", Some(path.to_str().unwrap()));
}

const GOOD: &str = "  - name: staging\n    dir: overlays/staging\n    mode: push\n    edits:\n      - kustomize-image: {name: docker.io/iter8/productpage, newTag: v2}\n";

#[test]
fn a_failing_target_does_not_stop_the_others_and_every_bad_edit_names_its_target() {
    let src = example("kustomize-env");
    let cases: &[(&str, i32, &str)] = &[
        (
            "      - yaml-set: {file: kustomization.yaml, path: \"images[name=grpc].newTag\", value: v2}\n",
            5,
            "selector \"images[name=grpc]\" matches no item",
        ),
        (
            "      - yaml-set: {file: kustomization.yaml, path: namespace.name, value: \"2\"}\n",
            5,
            "\"namespace\" goes through a scalar",
        ),
        (
            "      - delete: [../../base/service.yaml]\n",
            5,
            "paths must stay inside GITOPS_DIR",
        ),
        (
            "      - yaml-set: {file: README.md, path: a, value: b}\n",
            5,
            "is not a YAML file",
        ),
        (
            "      - kustomize-image: {name: docker.io/iter8/ratings, newTag: v1}\n      - yaml-set: {file: kustomization.yaml, path: \"images[newTag=v1].newTag\", value: v2}\n",
            5,
            "selector \"images[newTag=v1]\" matches 2 items",
        ),
        (
            "      - delete: [kustomization.yaml]\n      - kustomize-image: {name: x, newTag: v2}\n",
            5,
            "conflicts with edit #1 (delete)",
        ),
        (
            "      - helm-values: {file: kustomization.yaml, key: images.tag, value: \"${winner.variables.nope}\"}\n",
            5,
            "${winner.variables.nope} is not known",
        ),
    ];
    for (edits, code, says) in cases {
        let mut w = world(&src, "experiments/productpage-v2.yaml");
        let bad = format!(
            "targets:\n{GOOD}  - name: prod\n    dir: overlays/prod\n    edits:\n{edits}    pr: {{branch: iter8/prod}}\n"
        );
        with_file(&mut w, &bad);
        let o = w.run(&[]);
        assert_code(&o, *code);
        assert!(
            o.stderr.contains("targets[1] (prod)"),
            "{edits}: {}",
            o.stderr
        );
        assert!(o.stderr.contains(says), "{edits}: {}", o.stderr);
        // The good target landed; the bad one pushed nothing; the report has both.
        let report = o.report();
        assert_eq!(report["targets"][0]["ok"], true, "{report}");
        assert_eq!(report["targets"][1]["ok"], false);
        assert!(
            file_at(&w, BRANCH, "overlays/staging/kustomization.yaml")
                .unwrap()
                .contains("\"v2\"")
        );
        assert!(w.rev("refs/heads/iter8/prod").is_none(), "{edits}");
    }
}

#[test]
fn a_bad_promotion_file_stops_everything_before_anything_is_written() {
    let src = example("kustomize-env");
    let cases: &[(&str, &str)] = &[
        (
            "targets:\n  - dir: a\n    edits:\n      - chmod: {file: a}\n",
            "unknown variant `chmod`",
        ),
        ("targets: []\n", "has no targets"),
        (
            "targets:\n  - dir: ../outside\n    edits: [{delete: [a]}]\n",
            "targets[0].dir",
        ),
        (
            "targets:\n  - name: x\n    edits: []\n",
            "targets[0] (x).edits is empty",
        ),
        (
            "targets:\n  - edits: [{delete: [a]}]\n    mode: sideways\n",
            "targets[0].mode",
        ),
        (
            "targets:\n  - edits: [{delete: [a]}]\n    pr: {provider: svn}\n",
            "targets[0].pr.provider",
        ),
        (
            "targets:\n  - edits: [{delete: [a]}]\n    pr: {apiUrl: \"https://tok:en@git.example/api/v1\"}\n",
            "targets[0].pr.apiUrl",
        ),
        (
            "targets:\n  - edits: [{delete: [a]}]\n    repo: https://git.example/acme/env.git\n    pr: {apiUrl: \"https://git.example/\"}\n",
            "targets[0].pr.provider is required",
        ),
    ];
    for (file, says) in cases {
        let mut w = world(&src, "experiments/productpage-v2.yaml");
        with_file(&mut w, file);
        let o = w.run(&[]);
        assert_code(&o, 2);
        assert!(o.stderr.contains(says), "{file}: {}", o.stderr);
        assert_eq!(w.pushes(), 0);
    }
    // With the variables of a single promotion: an error, not two answers.
    let mut w = world(&src, "experiments/productpage-v2.yaml");
    with_file(&mut w, &format!("targets:\n{GOOD}"));
    w.set("GITOPS_BASELINE", Some("productpage.yaml"));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr
            .contains("GITOPS_BASELINE is set together with a promotion file")
    );
}

#[test]
fn a_target_whose_token_secret_is_missing_fails_alone() {
    let src = example("kustomize-env");
    let mut w = world(&src, "experiments/productpage-v2.yaml");
    with_file(
        &mut w,
        &format!(
            "targets:\n{GOOD}  - name: mirror\n    dir: overlays/prod\n    tokenSecret: mirror-token\n    edits:\n      - kustomize-image: {{name: docker.io/iter8/productpage, newTag: v2}}\n    pr: {{branch: iter8/mirror}}\n"
        ),
    );
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(o.stderr.contains("targets[1] (mirror)"), "{}", o.stderr);
    assert!(
        o.stderr.contains("secret \"mirror-token\" not found"),
        "{}",
        o.stderr
    );
    assert!(
        file_at(&w, BRANCH, "overlays/staging/kustomization.yaml")
            .unwrap()
            .contains("\"v2\"")
    );
}

#[test]
fn a_target_on_another_host_opens_its_request_on_that_hosts_api() {
    // The Env repo's prod overlay is reviewed on GitHub (GITOPS_API_URL); a mirror target's
    // request goes to a Gitea/Forgejo instance, named in the file alone.
    let src = example("kustomize-env");
    let mut w = world(&src, "experiments/productpage-v2.yaml");
    let gitea = testkit::GiteaFake::start(&w.tls, SLUG, TOKEN);
    with_file(
        &mut w,
        &format!(
            "targets:\n  - name: prod\n    dir: overlays/prod\n    edits:\n      - kustomize-image: {{name: docker.io/iter8/productpage, newTag: v2}}\n    pr: {{branch: iter8/prod}}\n  - name: mirror\n    dir: overlays/staging\n    edits:\n      - kustomize-image: {{name: docker.io/iter8/productpage, newTag: v2}}\n    pr: {{branch: iter8/mirror, provider: forgejo, apiUrl: \"{}\"}}\n",
            gitea.api_url()
        ),
    );
    for _ in 0..2 {
        let o = w.run(&[]);
        assert_code(&o, 0);
        let on_github = w.github.pulls();
        assert_eq!(on_github.len(), 1, "{on_github:?}");
        assert_eq!(on_github[0].head, "acme:iter8/prod");
        let on_gitea = gitea.pulls();
        assert_eq!(on_gitea.len(), 1, "{on_gitea:?}");
        assert_eq!(on_gitea[0].head, "acme:iter8/mirror");
    }
    // Gitea was asked only about the mirror, with its own auth scheme.
    let log = gitea.server.log();
    assert!(
        log.iter().all(|r| !r.path.contains("iter8/prod")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .all(|r| r.headers["authorization"].starts_with("token "))
    );
}

#[test]
fn a_targets_apply_files_are_read_from_the_edited_tree_and_applied() {
    let src = example("kustomize-env");
    let mut w = world(&src, "experiments/productpage-v2.yaml");
    with_file(
        &mut w,
        "targets:\n  - dir: base\n    mode: push\n    edits:\n      - yaml-set: {file: service.yaml, path: \"spec.ports[name=http].port\", value: \"9081\"}\n    apply: [service.yaml]\n",
    );
    // A Service is past the default kinds (Istio networking): the operator allows it.
    w.set("GITOPS_APPLY_KINDS", Some("Service"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let svc = w
        .kube
        .get("", "v1", "default", "services", "productpage")
        .expect("applied");
    assert_eq!(
        svc["spec"]["ports"][0]["port"], 9081,
        "the edited value, as a number: {svc}"
    );
    let text = file_at(&w, BRANCH, "base/service.yaml").unwrap();
    assert!(text.contains("      port: 9081\n"), "{text}");
}

/// `kubectl kustomize` of an overlay on `branch` (kubectl ships kustomize); `None` when kubectl
/// is missing outside CI (CI must have it).
fn kustomize_build(w: &World, branch: &str, overlay: &str) -> Option<String> {
    let co = w.checkout(branch);
    let out = match std::process::Command::new("kubectl")
        .args([
            "kustomize",
            co.path().join(DIR).join(overlay).to_str().unwrap(),
        ])
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            testkit::skip_unless_required("kubectl", &e.to_string());
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn a_new_tag_on_an_image_pinned_by_digest_replaces_the_digest_as_kustomize_renders_it() {
    let src = example("kustomize-env");
    let w = world(&src, "experiments/productpage-v2.yaml");
    // Prod pinned by digest, as teams do once a tag is not trusted to stay put.
    commit_as_someone_else(&w.bare(), BRANCH, BRANCH, "pin prod", |work| {
        let k = work.join(DIR).join("overlays/prod/kustomization.yaml");
        let text = std::fs::read_to_string(&k).unwrap().replace(
            "    newTag: v1\n",
            "    digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        );
        std::fs::write(k, text).unwrap();
    });
    if let Some(before) = kustomize_build(&w, BRANCH, "overlays/prod") {
        assert!(
            before.contains("image: docker.io/iter8/productpage@sha256:0123"),
            "{before}"
        );
    }
    let o = w.run(&[]);
    assert_code(&o, 0);
    let prod = file_at(&w, "iter8/promote-prod", "overlays/prod/kustomization.yaml").unwrap();
    assert!(
        prod.contains("newTag: v2") && !prod.contains("digest:"),
        "{prod}"
    );
    if let Some(after) = kustomize_build(&w, "iter8/promote-prod", "overlays/prod") {
        assert!(
            after.contains("image: docker.io/iter8/productpage:v2\n"),
            "{after}"
        );
    }
}

#[test]
fn the_token_secret_is_read_once_for_the_file_and_every_commit() {
    // The in-repo file is fetched with the token, then two commits (staging pushed, prod's
    // PR) push with it: one read of the Secret serves all three.
    let src = example("kustomize-env");
    let w = world(&src, "experiments/productpage-v2.yaml");
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["commits"].as_array().unwrap().len(), 2);
    let reads = w
        .kube
        .server
        .log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/secrets/iter8-token"))
        .count();
    assert_eq!(reads, 1, "the token Secret is read once per process");
}

#[test]
fn both_commits_of_a_promotion_file_are_signed_with_the_key_read_once() {
    let src = example("kustomize-env");
    let mut w = world(&src, "experiments/productpage-v2.yaml");
    let (private, public) = crate::signing::keygen(w.tmp.path(), &["-t", "ed25519"]);
    w.kube
        .add_secret("default", "iter8-signing", &[("ssh-privatekey", &private)]);
    w.set("GITOPS_SIGNING_KEY_SECRET", Some("iter8-signing"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let commits = o.report()["commits"].clone();
    assert_eq!(commits.as_array().unwrap().len(), 2, "{commits}");
    // Staging went straight onto the synced branch, prod onto its PR branch: both verify.
    for c in commits.as_array().unwrap() {
        let rev = c["report"]["commit"].as_str().expect("a commit per group");
        let v = crate::signing::verify(&w, rev, &public);
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    }
    let reads = w
        .kube
        .server
        .log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/secrets/iter8-signing"))
        .count();
    assert_eq!(reads, 1, "the signing key is read once per process");
}
