//! The trust model, tried as an attacker would: credentials go only where the operator sent
//! them, the Env repo's contents are data and never authority, and the cluster takes only
//! what the operator allowed. Each hostile host is a recording HTTPS server on another origin;
//! in every case it never sees a credential in any encoding, the output never shows one, and
//! where a refusal is expected the refs and the cluster are unchanged.

use testkit::{Recorded, Resp, Server};

use crate::util::*;

/// A server on another origin that asks for Basic auth on every request and records them.
fn recorder(w: &World) -> Server {
    Server::start(&w.tls, |_| Resp {
        status: 401,
        headers: vec![("www-authenticate".into(), "Basic realm=\"steal\"".into())],
        body: b"who are you?".to_vec(),
    })
}

/// A server that answers every request with `status`, sending it on to `to` + the same path.
fn redirector(w: &World, status: u16, to: &str) -> Server {
    let to = to.to_string();
    Server::start(&w.tls, move |req| {
        let query = if req.query.is_empty() {
            String::new()
        } else {
            format!("?{}", req.query)
        };
        Resp {
            status,
            headers: vec![("location".into(), format!("{to}{}{query}", req.path))],
            body: vec![],
        }
    })
}

#[track_caller]
fn assert_no_credential(log: &[Recorded], secrets: &[&str]) {
    for r in log {
        for s in secrets {
            assert!(!carries(r, s), "a credential reached the recorder: {r:#?}");
        }
    }
}

#[test]
fn a_git_server_that_redirects_to_another_origin_then_asks_for_basic_auth_gets_nothing() {
    let mut w = World::tutorial();
    let thief = recorder(&w);
    let front = redirector(&w, 302, &thief.base_url());
    w.set(
        "GITOPS_REPO",
        Some(&format!("{}/{SLUG}.git", front.base_url())),
    );
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(
        o.stderr
            .contains(&format!("sent git to {}", thief.base_url()))
            && o.stderr.contains("the token goes only to")
            && o.stderr.contains("set GITOPS_REPO to its new URL"),
        "{}",
        o.stderr
    );
    assert!(
        !thief.log().is_empty(),
        "the redirect was followed, so the test proves the withholding"
    );
    assert_no_credential(&thief.log(), &[TOKEN]);
    assert_eq!(w.pushes(), 0);
    assert!(w.github.pulls().is_empty());
    assert_eq!(w.applies(), 0);
}

#[test]
fn a_provider_api_that_redirects_to_another_origin_gets_no_request_with_any_host_auth() {
    // GitLab's PRIVATE-TOKEN is a header reqwest would carry across a redirect; GitHub's is
    // Authorization. Neither is followed to another origin.
    for (kind, path) in [
        ("gitlab", "/api/v4"),
        ("github", "/api/v3"),
        ("gitea", "/api/v1"),
    ] {
        let mut w = World::tutorial();
        let thief = recorder(&w);
        let front = redirector(&w, 307, &thief.base_url());
        w.set(
            "GITOPS_API_URL",
            Some(&format!("{}{path}", front.base_url())),
        )
        .set("GITOPS_PROVIDER", Some(kind));
        let o = w.run(&[]);
        assert_code(&o, 3);
        assert!(
            o.stderr.contains("a redirect to") && o.stderr.contains("is not followed"),
            "{kind}: {}",
            o.stderr
        );
        assert!(thief.log().is_empty(), "{kind}: {:#?}", thief.log());
        assert!(w.github.pulls().is_empty());
        assert_eq!(w.applies(), 0, "{kind}: nothing applied after the failure");
    }
}

#[test]
fn a_github_app_token_endpoint_that_redirects_never_gets_the_jwt() {
    let mut w = World::tutorial();
    let (pem, _) = crate::providers::app_key();
    w.kube
        .add_secret("default", "iter8-token", &[("private-key", pem.as_str())]);
    let thief = recorder(&w);
    let front = redirector(&w, 307, &thief.base_url());
    w.set(
        "GITOPS_API_URL",
        Some(&format!("{}/api/v3", front.base_url())),
    )
    .set("GITOPS_GITHUB_APP_ID", Some("123"))
    .set("GITOPS_GITHUB_APP_INSTALLATION_ID", Some("42"));
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(thief.log().is_empty(), "{:#?}", thief.log());
    assert!(!o.stderr.contains("BEGIN RSA"), "{}", o.stderr);
    let key_line = pem.lines().nth(1).unwrap();
    assert!(!o.stderr.contains(key_line) && !o.stdout.contains(key_line));
    assert_eq!(w.pushes(), 0);
}

#[test]
fn an_api_that_echoes_the_token_in_its_5xx_bodies_never_gets_it_printed() {
    let mut w = World::tutorial();
    // Echoes whatever credential it was sent, raw and base64, in every error body.
    let echo = Server::start(&w.tls, |req| {
        use base64::Engine;
        let auth = req.header("authorization").unwrap_or_default().to_string();
        let raw = auth.rsplit(' ').next().unwrap_or_default().to_string();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        Resp::json(
            503,
            &serde_json::json!({"message": format!("overloaded; you sent {auth} ({b64})")}),
        )
    });
    w.set(
        "GITOPS_API_URL",
        Some(&format!("{}/api/v3", echo.base_url())),
    )
    .set("GITOPS_TIMEOUT", Some("30"));
    // As in a Pod, the termination log exists (the tool writes it only then).
    std::fs::write(w.tmp.path().join("termination-log"), "").unwrap();
    // `run` checks stdout, stderr and the termination log for every form of the token.
    let o = w.run(&[]);
    assert_code(&o, 6);
    assert!(
        o.stderr.matches("transient failure, retrying").count() >= 2,
        "the retries were logged: {}",
        o.stderr
    );
    assert!(o.stderr.contains("you sent Bearer ***"), "{}", o.stderr);
    let log = std::fs::read_to_string(w.tmp.path().join("termination-log")).unwrap();
    assert!(log.contains("you sent Bearer ***"), "{log}");
}

#[test]
fn urls_are_printed_without_userinfo_or_query() {
    let w = World::tutorial();
    for (var, value, says) in [
        (
            "GITOPS_API_URL",
            "https://bot:s3cr3tPassw0rd@api.example.com/api/v3",
            "\"https://api.example.com/api/v3\" must be an https:// URL without credentials",
        ),
        (
            "GITOPS_REPO",
            "https://git.example.com/acme/env.git?private_token=s3cr3tPassw0rd",
            "\"https://git.example.com/acme/env.git\" has a query or fragment",
        ),
        (
            "GITOPS_REPO",
            "http://git.example.com/acme/env.git",
            "is plain http; use the https:// clone URL",
        ),
        (
            "GITOPS_API_URL",
            "http://api.example.com/api/v3",
            "must be an https:// URL",
        ),
    ] {
        let mut env = w.env.clone();
        env.retain(|(k, _)| k != var);
        env.push((var.into(), value.into()));
        let o = run_binary(&env, &[], &[TOKEN, KUBE_TOKEN, "s3cr3tPassw0rd"]);
        assert_code(&o, 2);
        assert!(o.stderr.contains(says), "{var}={value}: {}", o.stderr);
    }
    assert_eq!(w.pushes(), 0);
    assert!(w.github.server.log().is_empty());
}

/// The Env repo's own promotion file, committed by whoever can merge there.
fn in_repo_file(w: &mut World, text: &str) {
    commit_as_someone_else(&w.bare(), BRANCH, BRANCH, "promotion rules", |work| {
        std::fs::write(work.join(DIR).join("iter8-promotion.yaml"), text).unwrap();
    });
    w.without_single_rules();
    w.set("GITOPS_CONFIG_IN_REPO", Some("iter8-promotion.yaml"));
}

#[test]
fn an_in_repo_promotion_file_may_not_send_credentials_elsewhere_or_bypass_review() {
    let mut w = World::tutorial();
    let thief = recorder(&w);
    let t = thief.base_url();
    let edit = "edits: [{replace: {file: productpage.yaml, from: productpage, to: productpage}}]";
    in_repo_file(
        &mut w,
        &format!(
            "targets:
- {{name: other-repo, repo: '{t}/acme/env.git', {edit}}}
- {{name: other-api, pr: {{apiUrl: '{t}/api/v3'}}, {edit}}}
- {{name: other-kind, pr: {{provider: gitlab}}, {edit}}}
- {{name: other-secret, tokenSecret: kube-system-admin, {edit}}}
- {{name: no-review, mode: push, {edit}}}
- {{name: synced-branch, branch: main, {edit}}}
- {{name: overwrite, pr: {{branch: release}}, {edit}}}
- {{name: fork, pr: {{repo: evil/env}}, {edit}}}
- {{name: self-merge, pr: {{merge: now}}, {edit}}}
"
        ),
    );
    let o = w.run(&[]);
    assert_code(&o, 2);
    for field in [
        "targets[0] (other-repo).repo",
        "targets[1] (other-api).pr.apiUrl",
        "targets[2] (other-kind).pr.provider",
        "targets[3] (other-secret).tokenSecret",
        "targets[4] (no-review).mode",
        "targets[5] (synced-branch).branch",
        "targets[6] (overwrite).pr.branch",
        "targets[7] (fork).pr.repo",
        "targets[8] (self-merge).pr.merge",
    ] {
        assert!(
            o.stderr.contains(&format!("{field} ")),
            "{field}: {}",
            o.stderr
        );
    }
    assert!(
        o.stderr
            .contains("the operator adds mode=push to GITOPS_IN_REPO_ALLOW"),
        "{}",
        o.stderr
    );
    assert!(thief.log().is_empty(), "{:#?}", thief.log());
    assert_eq!(w.pushes(), 0);
    assert!(w.github.server.log().is_empty());
    let secrets_read: Vec<String> = w
        .kube
        .server
        .log()
        .iter()
        .filter(|r| r.path.contains("/secrets/"))
        .map(|r| r.path.clone())
        .collect();
    assert!(
        secrets_read.iter().all(|p| p.ends_with("/iter8-token")),
        "only the operator's Secret is read: {secrets_read:?}"
    );
}

#[test]
fn the_operator_allows_exactly_what_an_in_repo_file_may_widen() {
    let mut w = World::tutorial();
    in_repo_file(
        &mut w,
        "targets:
- name: staging
  mode: push
  edits: [{delete: [fortio.yaml]}]
",
    );
    // Another value than the allowed one is still refused.
    w.set("GITOPS_IN_REPO_ALLOW", Some("mode=pr,pr.branch=iter8/*"));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("targets[0] (staging).mode"),
        "{}",
        o.stderr
    );
    assert_eq!(w.pushes(), 0);

    let before = w.rev(BRANCH).unwrap();
    w.set("GITOPS_IN_REPO_ALLOW", Some("mode=push"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_ne!(
        w.rev(BRANCH).unwrap(),
        before,
        "pushed onto the synced branch"
    );

    // The allow-list means nothing without an in-repo file.
    w.set("GITOPS_CONFIG_IN_REPO", None)
        .set("GITOPS_WINNER", Some("productpage-candidate.yaml"))
        .set("GITOPS_BASELINE", Some("productpage.yaml"));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr
            .contains("GITOPS_IN_REPO_ALLOW is set without GITOPS_CONFIG_IN_REPO"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_pr_branch_that_is_the_synced_branch_is_refused() {
    let mut w = World::tutorial();
    w.set("GITOPS_PR_BRANCH", Some(BRANCH));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("GITOPS_PR_BRANCH is GITOPS_BRANCH"),
        "{}",
        o.stderr
    );
    assert_eq!(w.pushes(), 0);
}

/// A branch whose apply file holds `objects` (after the tutorial's VirtualService).
fn apply_branch(w: &World, name: &str, objects: &str) {
    w.branch_from_base(name, |work| {
        let vs = work.join(DIR).join("istio-vs.yaml");
        let mut text = std::fs::read_to_string(&vs).unwrap();
        text.push_str("\n---\n");
        text.push_str(objects);
        std::fs::write(&vs, text).unwrap();
    });
}

#[test]
fn an_apply_file_cannot_reach_past_the_runs_namespace_or_the_allowed_kinds() {
    let w = World::tutorial();
    apply_branch(
        &w,
        "t-other-ns",
        "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata: {name: hijack, namespace: kube-system}\nspec: {hosts: [x]}\n",
    );
    apply_branch(
        &w,
        "t-cluster",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: pwn}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: default}]\n",
    );
    apply_branch(
        &w,
        "t-secret",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: planted}\nstringData: {x: y}\n",
    );
    let cases = [
        (
            "t-other-ns",
            "\"kube-system\" is not the run's namespace (default)",
            vec![],
        ),
        (
            "t-cluster",
            "ClusterRoleBinding.rbac.authorization.k8s.io is cluster-scoped",
            vec![("GITOPS_APPLY_KINDS", "*")],
        ),
        (
            "t-cluster",
            "kind ClusterRoleBinding.rbac.authorization.k8s.io is not on GITOPS_APPLY_KINDS",
            vec![],
        ),
        (
            "t-secret",
            "kind Secret is not on GITOPS_APPLY_KINDS (*.networking.istio.io)",
            vec![],
        ),
    ];
    for (branch, says, extra) in cases {
        let mut env = w.env_on(branch);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let o = run_binary(&env, &[], &[TOKEN, KUBE_TOKEN]);
        assert_code(&o, 5);
        assert!(o.stderr.contains(says), "{branch}: {}", o.stderr);
    }
    assert_eq!(w.pushes(), 0, "refused at plan time, before any push");
    assert!(w.github.pulls().is_empty());
    assert_eq!(w.applies(), 0);

    // What the operator allows is applied.
    let mut env = w.env_on("t-other-ns");
    env.push(("GITOPS_APPLY_NAMESPACES".into(), "kube-system".into()));
    let o = run_binary(&env, &[], &[TOKEN, KUBE_TOKEN]);
    assert_code(&o, 0);
    assert!(
        w.kube
            .get(
                "networking.istio.io",
                "v1alpha3",
                "kube-system",
                "virtualservices",
                "hijack"
            )
            .is_some()
    );
}

#[test]
fn a_kubeconfig_exec_plugin_gets_no_gitops_secret_and_is_stopped_when_it_hangs() {
    use std::os::unix::fs::PermissionsExt;
    let mut w = World::tutorial();
    let dir = w.tmp.path().to_path_buf();
    let seen = dir.join("plugin-env");
    let plugin = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let good = plugin(
        "plugin.sh",
        &format!(
            "env > {}\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{KUBE_TOKEN}\"}}}}'",
            seen.display()
        ),
    );
    let hangs = plugin("hangs.sh", "exec sleep 30");
    let base_kc = std::fs::read_to_string(w.kube.kubeconfig()).unwrap();
    let with_plugin = |p: &std::path::Path| {
        let kc = base_kc.replace(
            &format!("    token: {KUBE_TOKEN}"),
            &format!(
                "    exec: {{apiVersion: client.authentication.k8s.io/v1, command: {}}}",
                p.display()
            ),
        );
        let path = dir.join(format!(
            "kubeconfig-{}",
            p.file_name().unwrap().to_str().unwrap()
        ));
        std::fs::write(&path, kc).unwrap();
        path
    };
    // GITOPS_TOKEN for a local run: the plugin must not see it.
    w.set("GITOPS_TOKEN", Some(TOKEN))
        .set("KUBECONFIG", Some(with_plugin(&good).to_str().unwrap()));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(w.applied_vs().is_some(), "applied with the plugin's token");
    let env = std::fs::read_to_string(&seen).unwrap();
    assert!(env.contains("KUBERNETES_EXEC_INFO="), "{env}");
    assert!(!env.contains(TOKEN) && !env.contains("GITOPS_"), "{env}");

    w.set("KUBECONFIG", Some(with_plugin(&hangs).to_str().unwrap()))
        .set("GITOPS_REQUEST_TIMEOUT", Some("1"))
        .set("GITOPS_PR_BRANCH", Some("iter8/second"));
    let started = std::time::Instant::now();
    let o = w.run(&[]);
    assert_code(&o, 7); // discovery, the first step that needs the cluster
    assert!(
        o.stderr
            .contains("did not finish within 1s (GITOPS_REQUEST_TIMEOUT) and was stopped"),
        "{}",
        o.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_kubeconfig_that_does_not_parse_is_named_without_its_neighbouring_lines() {
    let mut w = World::tutorial();
    let kc = w.tmp.path().join("kubeconfig-broken");
    std::fs::write(
        &kc,
        format!("users:\n- name: u\n  user:\n    token: {KUBE_TOKEN}\n    foo: [unclosed\n"),
    )
    .unwrap();
    w.set("KUBECONFIG", Some(kc.to_str().unwrap()));
    // `run` checks that the token is in no output, in any form.
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains(kc.to_str().unwrap()) && o.stderr.contains("line 5 column 10"),
        "{}",
        o.stderr
    );
}

#[test]
fn the_temporary_repository_is_private_to_the_task() {
    use std::os::unix::fs::PermissionsExt;
    let mut w = World::tutorial();
    let tmp = w.tmp.path().join("t");
    std::fs::create_dir(&tmp).unwrap();
    w.set("TMPDIR", Some(tmp.to_str().unwrap()));
    let modes = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let (seen, dir) = (modes.clone(), tmp.clone());
    // While the fetch is under way, the temporary repo exists: look at it then.
    w.git.server.before("git-upload-pack", move || {
        for e in std::fs::read_dir(&dir).unwrap() {
            let m = e.unwrap().metadata().unwrap().permissions().mode();
            seen.lock().unwrap().push(m & 0o777);
        }
    });
    assert_code(&w.run(&[]), 0);
    assert_eq!(*modes.lock().unwrap(), [0o700]);
}

#[test]
fn edit_paths_follow_gits_rules_and_never_write_over_a_directory_or_through_a_symlink() {
    let mut w = World::tutorial();
    commit_as_someone_else(&w.bare(), BRANCH, BRANCH, "a link", |work| {
        std::os::unix::fs::symlink("templates", work.join(DIR).join("link")).unwrap();
    });
    w.without_single_rules();
    let copy = |to: &str| format!("edits: [{{copy: {{from: productpage.yaml, to: {to}}}}}]");
    let cases = [
        (copy(".GIT/hooks/post-checkout"), 5, "points into .git"),
        (copy("\"a/.g\\u200cit/config\""), 5, "points into .git"),
        (copy("git~1/config"), 5, "points into .git"),
        (copy("'.git. /x'"), 5, "points into .git"),
        (copy("'a\\.git\\x'"), 5, "contains '\\'"),
        (copy("templates"), 5, "templates is a directory, not a file"),
        (copy("link/x.yaml"), 5, "which is a symlink"),
        (
            "edits: [{delete: [/productpage.yaml]}]".into(),
            2,
            "path \"/productpage.yaml\" is absolute",
        ),
        (
            format!("dir: /samples, {}", copy("x.yaml")),
            2,
            "\"/samples\" is absolute",
        ),
    ];
    let file = w.tmp.path().join("promotion.yaml");
    w.set("GITOPS_CONFIG", Some(file.to_str().unwrap()));
    let mut failures = vec![];
    for (target, code, says) in &cases {
        std::fs::write(&file, format!("targets:\n- {{{target}}}\n")).unwrap();
        let o = w.run(&[]);
        if o.code != *code || !o.stderr.contains(says) {
            failures.push(format!(
                "{target}: exit {} (want {code}): {}",
                o.code, o.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(w.pushes(), 0);
    assert!(w.github.pulls().is_empty());
}

/// `count` VirtualServices of about `each` bytes (a comment pads them).
fn virtual_services(count: usize, each: usize) -> String {
    (0..count)
        .map(|i| {
            let doc = format!(
                "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: vs-{i:04}\nspec:\n  hosts: [h{i}]\n"
            );
            let pad = each.saturating_sub(doc.len() + 8);
            format!("{doc}# {}\n---\n", "x".repeat(pad))
        })
        .collect()
}

#[test]
fn the_largest_accepted_apply_input_is_applied_and_one_more_object_or_byte_is_refused() {
    use iter8_gitops::plan::{MAX_APPLY_BYTES, MAX_OBJECTS};
    let w = World::tutorial();
    let each = MAX_APPLY_BYTES / MAX_OBJECTS - 16;
    let largest = virtual_services(MAX_OBJECTS, each);
    assert!(largest.len() <= MAX_APPLY_BYTES && largest.len() > MAX_APPLY_BYTES * 9 / 10);
    let one_more_object = virtual_services(MAX_OBJECTS + 1, 200);
    let mut one_more_byte = virtual_services(1, 200);
    one_more_byte.push_str(&format!(
        "# {}\n",
        "x".repeat(MAX_APPLY_BYTES - one_more_byte.len() - 2)
    ));
    assert_eq!(one_more_byte.len(), MAX_APPLY_BYTES + 1);
    for (name, text) in [
        ("t-largest", &largest),
        ("t-objects", &one_more_object),
        ("t-bytes", &one_more_byte),
    ] {
        w.branch_from_base(name, |work| {
            std::fs::write(work.join(DIR).join("istio-vs.yaml"), text).unwrap();
        });
    }
    let run = |branch: &str| run_binary(&w.env_on(branch), &[], &[TOKEN, KUBE_TOKEN]);
    let o = run("t-objects");
    assert_code(&o, 5);
    assert!(
        o.stderr
            .contains(&format!("over the {MAX_OBJECTS}-object limit")),
        "{}",
        o.stderr
    );
    let o = run("t-bytes");
    assert_code(&o, 5);
    assert!(
        o.stderr
            .contains(&format!("over the {MAX_APPLY_BYTES}-byte limit")),
        "{}",
        o.stderr
    );
    assert_eq!((w.pushes(), w.applies()), (0, 0), "refused before any push");

    let o = run("t-largest");
    assert_code(&o, 0);
    assert_eq!(w.applies(), MAX_OBJECTS, "every object applied");
}
