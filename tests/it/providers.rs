//! The promotion on every Git host kind: GitLab merge requests, Gitea/Forgejo pull requests,
//! GitHub (Enterprise Server layout, github.com layout, App credentials), with labels,
//! reviewers and drafts. Each host's fake follows its contract and rejects what it rejects.

use testkit::{Fault, GitLabFake, GiteaFake, Pull};

use crate::util::*;

/// The story every host must tell: the candidate wins, one request is opened with the
/// promotion; a rerun changes nothing and opens nothing; the tree is the real run's.
fn promotes_once(w: &World, pulls: impl Fn() -> Vec<Pull>) -> Pull {
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    let opened = pulls();
    assert_eq!(opened.len(), 1, "{opened:?}");
    let p = opened[0].clone();
    assert!(
        p.open && p.base == BRANCH && p.title == "Iter8 GitOps",
        "{p:?}"
    );
    assert!(
        p.body.contains("productpage"),
        "the body shows the change: {p:?}"
    );
    assert_eq!(o.report()["pr_action"], "created");

    let again = w.run(&[]);
    assert_code(&again, 0);
    assert_eq!(pulls().len(), 1, "no second request");
    assert!(w.applied_vs().is_some());
    p
}

#[test]
fn gitlab_a_merge_request_is_opened_once_with_labels_reviewers_and_draft() {
    let mut w = World::tutorial();
    let gl = GitLabFake::start(&w.tls, &["acme/env"], TOKEN);
    w.set("GITOPS_API_URL", Some(&gl.api_url()))
        .set("GITOPS_PR_LABELS", Some("iter8, promotion"))
        .set("GITOPS_PR_REVIEWERS", Some("alice"))
        .set("GITOPS_PR_DRAFT", Some("true"));
    let mr = promotes_once(&w, || {
        gl.pulls()
            .into_iter()
            .map(|mut p| {
                p.title = p.title.trim_start_matches("Draft: ").into();
                p
            })
            .collect()
    });
    assert_eq!(mr.head, "acme:iter8_exp");
    let raw = &gl.pulls()[0];
    assert!(raw.draft && raw.title.starts_with("Draft: "), "{raw:?}");
    assert_eq!(raw.labels, ["iter8", "promotion"]);
    assert_eq!(raw.reviewers, ["alice"]);
    // GitLab's token header, and the project as one URL-encoded path segment.
    let log = gl.server.log();
    assert!(log.iter().all(|r| r.headers.contains_key("private-token")));
    assert!(
        log.iter()
            .any(|r| r.method == "POST" && r.path == "/api/v4/projects/acme%2Fenv/merge_requests")
    );
}

#[test]
fn gitlab_a_fork_in_a_nested_group_opens_the_request_on_the_upstream_project() {
    let mut w = World::tutorial();
    let gl = GitLabFake::start(&w.tls, &["acme/env", "platform/envs/env"], TOKEN);
    w.set("GITOPS_API_URL", Some(&gl.api_url()))
        .set("GITOPS_PR_REPO", Some("platform/envs/env"));
    assert_code(&w.run(&[]), 0);
    let mrs = gl.pulls();
    assert_eq!(mrs.len(), 1);
    assert_eq!(mrs[0].head, "acme:iter8_exp");
    // Created on the fork, pointing at the upstream project.
    let create = gl
        .server
        .log()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(create.path, "/api/v4/projects/acme%2Fenv/merge_requests");
    assert!(
        create.body.contains("\"target_project_id\":2"),
        "{}",
        create.body
    );
    assert_code(&w.run(&[]), 0);
    assert_eq!(
        gl.pulls().len(),
        1,
        "the rerun finds the fork's MR upstream"
    );
}

#[test]
fn gitlab_the_409_race_finds_the_other_runs_merge_request() {
    let mut w = World::tutorial();
    let gl = GitLabFake::start(&w.tls, &["acme/env"], TOKEN);
    w.set("GITOPS_API_URL", Some(&gl.api_url()));
    // Another run opens the MR between our lookup and our create.
    let open_other = gl.opener();
    gl.server.before(
        "POST /api/v4/projects/acme%2Fenv/merge_requests",
        move || open_other("acme/env", "iter8_exp", "gitops", "by another run"),
    );
    let o = w.run(&[]);
    assert_code(&o, 0);
    let mrs = gl.pulls();
    assert_eq!(mrs.len(), 1, "{mrs:?}");
    assert_eq!(mrs[0].title, "Iter8 GitOps", "the found MR was updated");
    assert_eq!(o.report()["pr_action"], "updated");
}

#[test]
fn gitea_a_pull_request_is_opened_once_and_a_fork_names_its_owner() {
    let mut w = World::tutorial();
    let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
    w.set("GITOPS_API_URL", Some(&gt.api_url()))
        .set("GITOPS_PR_BRANCH", Some("iter8/gitops-exp"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let pulls = gt.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].head, "acme:iter8/gitops-exp");
    // A branch with '/' is looked up as the rest of the path; Gitea's auth scheme is `token`.
    let log = gt.server.log();
    assert!(
        log.iter().any(|r| r.method == "GET"
            && r.path == "/api/v1/repos/acme/env/pulls/gitops/iter8/gitops-exp")
    );
    assert!(
        log.iter()
            .all(|r| r.headers["authorization"].starts_with("token "))
    );
    assert_code(&w.run(&[]), 0);
    assert_eq!(gt.pulls().len(), 1, "no second PR");

    // A fork: the branch is pushed to acme/env, the PR opened on upstream/env.
    let mut w = World::tutorial();
    let up = GiteaFake::start(&w.tls, "upstream/env", TOKEN);
    w.set("GITOPS_API_URL", Some(&up.api_url()))
        .set("GITOPS_PR_REPO", Some("upstream/env"));
    assert_code(&w.run(&[]), 0);
    assert_code(&w.run(&[]), 0);
    let pulls = up.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(pulls[0].head, "acme:iter8_exp");
}

#[test]
fn gitea_the_tutorial_story_with_labels_and_a_draft() {
    let mut w = World::tutorial();
    let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
    w.set("GITOPS_API_URL", Some(&gt.api_url()))
        .set("GITOPS_PR_LABELS", Some("iter8"))
        .set("GITOPS_PR_DRAFT", Some("true"));
    let p = promotes_once(&w, || {
        gt.pulls()
            .into_iter()
            .map(|mut p| {
                p.title = p.title.trim_start_matches("WIP: ").into();
                p
            })
            .collect()
    });
    assert_eq!(p.labels, ["iter8"]);
    assert!(gt.pulls()[0].draft);
}

#[test]
fn gitea_a_reviewer_that_does_not_exist_is_a_warning_not_a_failure() {
    let mut w = World::tutorial();
    let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
    w.set("GITOPS_API_URL", Some(&gt.api_url()))
        .set("GITOPS_PR_REVIEWERS", Some("nobody-here"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let warnings = o.report()["warnings"].to_string();
    assert!(
        warnings.contains("nobody-here") && warnings.contains("user does not exist"),
        "{warnings}"
    );
    assert_eq!(gt.pulls().len(), 1);
}

#[test]
fn github_labels_reviewers_and_draft_and_a_refused_label_is_only_a_warning() {
    let mut w = World::tutorial();
    w.set("GITOPS_PR_LABELS", Some("iter8,promotion"))
        .set("GITOPS_PR_REVIEWERS", Some("alice,acme/platform"))
        .set("GITOPS_PR_DRAFT", Some("true"));
    let p = promotes_once(&w, || w.github.pulls());
    assert!(p.draft);
    assert_eq!(p.labels, ["iter8", "promotion"]);
    assert_eq!(
        p.reviewers,
        ["alice", "platform"],
        "a team goes as team_reviewers"
    );

    // Another PR branch whose label is refused: the PR is still opened, the run succeeds.
    w.set("GITOPS_PR_BRANCH", Some("iter8/second"));
    w.github.server.fault(Fault::status(
        "POST /api/v3/repos/acme/env/issues/",
        403,
        100,
    ));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(
        o.report()["warnings"].to_string().contains("not added"),
        "{}",
        o.stdout
    );
    assert!(o.stderr.contains("could not add the labels"));
    assert_eq!(w.github.pulls().len(), 2);
}

#[test]
fn github_com_layout_with_an_explicit_provider() {
    let mut w = World::tutorial();
    let gh = testkit::GitHubFake::start_at(&w.tls, "acme/env", TOKEN, "");
    w.set("GITOPS_API_URL", Some(&gh.api_url()))
        .set("GITOPS_PROVIDER", Some("github"));
    assert_code(&w.run(&[]), 0);
    assert_eq!(gh.pulls().len(), 1);
    assert!(
        gh.server
            .log()
            .iter()
            .any(|r| r.path == "/repos/acme/env/pulls")
    );
}

/// A fresh RSA key as GitHub hands it out (PKCS#1 PEM), and its public key (PKCS#1 DER).
pub(crate) fn app_key() -> (String, Vec<u8>) {
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    assert!(out.status.success(), "{out:?}");
    let pem = String::from_utf8(out.stdout).unwrap();
    use rustls::pki_types::{PrivatePkcs1KeyDer, pem::PemObject};
    let der = PrivatePkcs1KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let pair = ring::signature::RsaKeyPair::from_der(der.secret_pkcs1_der()).unwrap();
    use ring::signature::KeyPair;
    (pem, pair.public_key().as_ref().to_vec())
}

#[test]
fn a_github_app_signs_a_jwt_and_uses_its_installation_token_for_git_and_the_api() {
    let mut w = World::tutorial();
    let (pem, public) = app_key();
    // The Secret holds only the App's key: the token that git and the API accept can only
    // come from the exchange.
    w.kube
        .add_secret("default", "iter8-token", &[("private-key", pem.as_str())]);
    w.github.add_app(testkit::App {
        app_id: "123456".into(),
        installation_id: 42,
        public_key: public,
        issues_token: TOKEN.into(),
    });
    w.set("GITOPS_GITHUB_APP_ID", Some("123456"))
        .set("GITOPS_GITHUB_APP_INSTALLATION_ID", Some("42"));
    let o = run_binary(
        &w.env,
        &[],
        &[TOKEN, KUBE_TOKEN, pem.lines().nth(1).unwrap()],
    );
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    assert_eq!(w.github.pulls().len(), 1);
    let exchange: Vec<_> = w
        .github
        .server
        .log()
        .into_iter()
        .filter(|r| r.path == "/api/v3/app/installations/42/access_tokens")
        .collect();
    assert_eq!(exchange.len(), 1);
    assert_eq!(exchange[0].status, 201);

    // A key that is not the App's: GitHub refuses the JWT; exit 3, the ids named.
    let mut w2 = World::tutorial();
    let (other_pem, _) = app_key();
    w2.kube.add_secret(
        "default",
        "iter8-token",
        &[("private-key", other_pem.as_str())],
    );
    w2.github.add_app(testkit::App {
        app_id: "123456".into(),
        installation_id: 42,
        public_key: app_key().1,
        issues_token: TOKEN.into(),
    });
    w2.set("GITOPS_GITHUB_APP_ID", Some("123456"))
        .set("GITOPS_GITHUB_APP_INSTALLATION_ID", Some("42"));
    let o = w2.run(&[]);
    assert_code(&o, 3);
    assert!(
        o.stderr.contains("GITOPS_GITHUB_APP_ID 123456"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("signature does not verify"),
        "{}",
        o.stderr
    );
    assert_eq!(w2.pushes(), 0, "nothing pushed");

    // Not a key at all: exit 3 before any request.
    let mut w3 = World::tutorial();
    w3.kube
        .add_secret("default", "iter8-token", &[("private-key", "hunter2")]);
    w3.set("GITOPS_GITHUB_APP_ID", Some("123456"))
        .set("GITOPS_GITHUB_APP_INSTALLATION_ID", Some("42"));
    let o = w3.run(&[]);
    assert_code(&o, 3);
    assert!(o.stderr.contains("not a PEM private key"), "{}", o.stderr);
    assert!(w3.github.server.log().is_empty());
}

/// Every request in `log` is an operation of the published contract at `spec` (OpenAPI 3 or
/// Swagger 2), and every body field it sends is one the operation declares, with the required
/// ones present: a misspelled or invented field would be silently ignored by the real server.
pub(crate) fn follows_the_contract(spec: &str, prefix: &str, log: &[testkit::Recorded]) {
    // The host's commit-status operations, which shared/contracts lacks
    // (tests/fixtures/contracts/SOURCES.md).
    let statuses = match spec.split('/').next() {
        Some("github") => Some("github"),
        Some("gitea") => Some("gitea"),
        Some("azure-devops") => Some("azure-devops"),
        Some("bitbucket") if spec.contains("cloud") => Some("bitbucket-cloud"),
        Some("bitbucket") => Some("bitbucket-datacenter"),
        _ => None,
    };
    let mut spec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(testkit::shared_dir().join("contracts").join(spec)).unwrap(),
    )
    .unwrap();
    if let Some(host) = statuses {
        let extra: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("tests/fixtures/contracts/{host}.statuses.json")),
            )
            .unwrap(),
        )
        .unwrap();
        let paths = spec["paths"].as_object_mut().unwrap();
        for (k, v) in extra["paths"].as_object().unwrap() {
            paths.insert(k.clone(), v.clone());
        }
    }
    let resolve = |s: &serde_json::Value| -> serde_json::Value {
        match s.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => {
                let path: Vec<&str> = r.trim_start_matches("#/").split('/').collect();
                path.iter().fold(spec.clone(), |v, k| v[*k].clone())
            }
            None => s.clone(),
        }
    };
    for r in log {
        let path = r.path.strip_prefix(prefix).unwrap_or(&r.path);
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let found = spec["paths"].as_object().unwrap().iter().find(|(t, ops)| {
            let tsegs: Vec<&str> = t.trim_matches('/').split('/').collect();
            // Gitea's `{head}` is the rest of the path (branch names hold '/').
            let rest = tsegs.last() == Some(&"{head}");
            let len_ok = tsegs.len() == segs.len() || (rest && segs.len() > tsegs.len());
            len_ok
                && tsegs
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| t.starts_with('{') || t == s)
                && ops.get(r.method.to_lowercase()).is_some()
        });
        let Some((_, ops)) = found else {
            panic!(
                "{} {} is not an operation of the contract",
                r.method, r.path
            );
        };
        let op = &ops[r.method.to_lowercase()];
        if r.body.is_empty() {
            continue;
        }
        let schema = match op.get("requestBody") {
            Some(b) => resolve(&b["content"]["application/json"]["schema"]),
            None => op["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["in"] == "body"))
                .map(|p| resolve(&p["schema"]))
                .unwrap_or_default(),
        };
        let Some(props) = schema["properties"].as_object() else {
            continue;
        };
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        for k in body.as_object().unwrap().keys() {
            assert!(
                props.contains_key(k),
                "{} {}: field {k:?} is not in the contract",
                r.method,
                r.path
            );
        }
        for k in schema["required"].as_array().into_iter().flatten() {
            assert!(
                body.get(k.as_str().unwrap()).is_some(),
                "{} {}: required {k} missing",
                r.method,
                r.path
            );
        }
    }
}

#[test]
fn every_request_follows_the_github_and_gitea_contracts() {
    let mut w = World::tutorial();
    w.set("GITOPS_PR_LABELS", Some("iter8"))
        .set("GITOPS_PR_REVIEWERS", Some("alice,acme/platform"))
        .set("GITOPS_PR_DRAFT", Some("true"));
    assert_code(&w.run(&[]), 0);
    // The rerun updates the text of the PR someone retitled.
    w.set("GITOPS_PR_TITLE", Some("Promote productpage"));
    assert_code(&w.run(&[]), 0);
    let log = w.github.server.log();
    assert!(log.iter().any(|r| r.method == "PATCH"));
    follows_the_contract("github/openapi.trimmed.json", "/api/v3", &log);
    // The check itself bites: GitLab's `description` sent to GitHub is caught.
    let bogus = testkit::Recorded {
        method: "POST".into(),
        path: "/api/v3/repos/acme/env/pulls".into(),
        body: r#"{"head":"a","base":"b","description":"x"}"#.into(),
        ..log[0].clone()
    };
    let caught = std::panic::catch_unwind(|| {
        follows_the_contract("github/openapi.trimmed.json", "/api/v3", &[bogus])
    });
    assert!(caught.is_err());

    let mut w = World::tutorial();
    let gt = GiteaFake::start(&w.tls, "acme/env", TOKEN);
    w.set("GITOPS_API_URL", Some(&gt.api_url()))
        .set("GITOPS_PR_LABELS", Some("iter8"))
        .set("GITOPS_PR_REVIEWERS", Some("alice"))
        .set("GITOPS_PR_BRANCH", Some("iter8/exp"));
    assert_code(&w.run(&[]), 0);
    w.set("GITOPS_PR_TITLE", Some("Promote productpage"));
    assert_code(&w.run(&[]), 0);
    let log = gt.server.log();
    assert!(log.iter().any(|r| r.method == "PATCH"));
    for spec in [
        "gitea/gitea.swagger-v1.trimmed.json",
        "gitea/forgejo.swagger-v1.trimmed.json",
    ] {
        follows_the_contract(spec, "/api/v1", &log);
    }
}
