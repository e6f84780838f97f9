//! Hostile and broken input, as one table: each case names its expected exit code and what the
//! message must say, and in every case nothing is pushed, opened or applied.

use crate::util::*;

/// One bad input: variables to set (`None` unsets), the exit code, and text the error must hold.
struct Case {
    env: &'static [(&'static str, Option<&'static str>)],
    code: i32,
    says: &'static str,
}

const fn case(
    env: &'static [(&'static str, Option<&'static str>)],
    code: i32,
    says: &'static str,
) -> Case {
    Case { env, code, says }
}

/// Bad values of the inputs themselves: exit 2, before anything is contacted.
const CONFIG: &[Case] = &[
    case(&[("GITOPS_REPO", None)], 2, "GITOPS_REPO is required"),
    case(
        &[("GITOPS_REPO", Some(""))],
        2,
        "GITOPS_REPO is set but empty",
    ),
    case(
        &[("GITOPS_REPO", Some("ftp://example.com/env.git"))],
        2,
        "scheme \"ftp\" is not supported",
    ),
    case(
        &[("GITOPS_REPO", Some("not a url"))],
        2,
        "GITOPS_REPO \"not a url\" is not a URL",
    ),
    case(
        &[(
            "GITOPS_REPO",
            Some("https://user:hunter2@example.com/acme/env.git"),
        )],
        2,
        "GITOPS_REPO contains credentials",
    ),
    case(
        &[("GITOPS_REPO", Some("git@github.com:acme/env.git"))],
        2,
        "looks like an ssh address",
    ),
    case(
        &[(
            "GITOPS_REPO",
            Some("https://example.com/acme/env.git?ref=main"),
        )],
        2,
        "has a query or fragment",
    ),
    case(
        &[("GITOPS_REPO", Some("file://relative/path"))],
        2,
        "needs an absolute path",
    ),
    case(&[("GITOPS_BRANCH", None)], 2, "GITOPS_BRANCH is required"),
    case(&[("GITOPS_BRANCH", Some("a..b"))], 2, "contains '..'"),
    case(
        &[("GITOPS_BRANCH", Some("feature branch"))],
        2,
        "GITOPS_BRANCH \"feature branch\": is not a valid branch name: it contains ' '",
    ),
    case(
        &[("GITOPS_BRANCH", Some("main.lock"))],
        2,
        "ends with '.lock'",
    ),
    case(
        &[("GITOPS_BRANCH", Some("refs/heads/main"))],
        2,
        "give the short name",
    ),
    case(&[("GITOPS_PR_BRANCH", Some("-x"))], 2, "starts with '-'"),
    case(&[("GITOPS_PR_BRANCH", Some("x@{1}"))], 2, "contains '@{'"),
    case(&[("GITOPS_PR_BRANCH", Some("a:b"))], 2, "contains ':'"),
    case(
        &[("GITOPS_WINNER", Some("../../etc/passwd"))],
        2,
        "paths must stay inside GITOPS_DIR",
    ),
    case(
        &[("GITOPS_WINNER", Some("/etc/passwd"))],
        2,
        "GITOPS_WINNER \"/etc/passwd\": is absolute",
    ),
    case(
        &[("GITOPS_WINNER", Some("C:\\evil.yaml"))],
        2,
        "GITOPS_WINNER",
    ),
    case(&[("GITOPS_DIR", Some("../.."))], 2, "GITOPS_DIR"),
    case(&[("GITOPS_DIR", Some(".git"))], 2, "points into .git"),
    case(
        &[("GITOPS_BASELINE", None)],
        2,
        "GITOPS_BASELINE is required",
    ),
    case(
        &[("GITOPS_REPLACE", Some("=stable"))],
        2,
        "is not FROM=TO with a non-empty FROM",
    ),
    case(
        &[("GITOPS_REMOVE", Some("fortio.yaml,../outside.yaml"))],
        2,
        "GITOPS_REMOVE",
    ),
    case(
        &[("GITOPS_APPLY", Some("/istio-vs.yaml"))],
        2,
        "GITOPS_APPLY \"/istio-vs.yaml\": is absolute",
    ),
    case(
        &[("GITOPS_NAMESPACE", Some("Default"))],
        2,
        "is not a Kubernetes namespace name",
    ),
    case(
        &[("GITOPS_TOKEN_SECRET", Some("Bad_Name"))],
        2,
        "is not a valid Secret name",
    ),
    case(
        &[("GITOPS_TOKEN_KEY", Some("a/b"))],
        2,
        "is not a valid Secret key",
    ),
    case(
        &[("GITOPS_TOKEN", Some("two words"))],
        2,
        "GITOPS_TOKEN contains whitespace",
    ),
    case(&[("GITOPS_PR_REPO", Some("acme"))], 2, "is not owner/repo"),
    case(
        &[("GITOPS_API_URL", Some("api.example.com"))],
        2,
        "GITOPS_API_URL",
    ),
    case(
        &[("GITOPS_API_URL", None)],
        2,
        "GITOPS_PROVIDER is required: 127.0.0.1 is not github.com",
    ),
    case(
        &[("GITOPS_PROVIDER", Some("sourcehut"))],
        2,
        "GITOPS_PROVIDER \"sourcehut\" is not github, gitlab, gitea",
    ),
    case(
        &[("GITOPS_API_URL", Some("https://git.example.com/api"))],
        2,
        "nothing in GITOPS_API_URL https://git.example.com/api tells the kind of host",
    ),
    case(
        &[("GITOPS_PR_REPO", Some("platform/envs/prod"))],
        2,
        "has nested groups, which only GitLab has",
    ),
    case(&[("GITOPS_PR_DRAFT", Some("maybe"))], 2, "GITOPS_PR_DRAFT"),
    case(
        &[("GITOPS_PR_REVIEWERS", Some("alice,bob smith"))],
        2,
        "\"bob smith\" is not a user name",
    ),
    case(
        &[("GITOPS_GITHUB_APP_ID", Some("123"))],
        2,
        "GITOPS_GITHUB_APP_INSTALLATION_ID is required with GITOPS_GITHUB_APP_ID",
    ),
    case(
        &[
            ("GITOPS_GITHUB_APP_ID", Some("123")),
            ("GITOPS_GITHUB_APP_INSTALLATION_ID", Some("forty-two")),
        ],
        2,
        "\"forty-two\" is not a number",
    ),
    case(
        &[
            ("GITOPS_GITHUB_APP_ID", Some("123")),
            ("GITOPS_GITHUB_APP_INSTALLATION_ID", Some("42")),
            ("GITOPS_API_URL", Some("https://gitlab.example.com/api/v4")),
        ],
        2,
        "this repo's provider is not GitHub",
    ),
    case(
        &[
            ("GITOPS_GITHUB_APP_ID", Some("123")),
            ("GITOPS_GITHUB_APP_INSTALLATION_ID", Some("42")),
            ("GITOPS_TOKEN", Some("ghp_also")),
        ],
        2,
        "GITOPS_TOKEN is set together with a GitHub App",
    ),
    case(
        &[("GITOPS_AUTHOR_EMAIL", Some("nobody"))],
        2,
        "is not an email address",
    ),
    case(
        &[("GITOPS_AUTHOR_NAME", Some("Evil <x@y>"))],
        2,
        "which a git signature cannot hold",
    ),
    case(&[("GITOPS_DRY_RUN", Some("maybe"))], 2, "is not a boolean"),
    case(&[("GITOPS_TIMEOUT", Some("soon"))], 2, "is not a duration"),
    case(
        &[("GITOPS_REQUEST_TIMEOUT", Some("fast"))],
        2,
        "GITOPS_REQUEST_TIMEOUT \"fast\" is not a duration",
    ),
    case(
        &[("GITOPS_LOG_FORMAT", Some("xml"))],
        2,
        "is not text or json",
    ),
    case(&[("GITOPS_MODE", Some("force"))], 2, "is not pr or push"),
    case(
        &[("GITOPS_FIELD_MANAGER", Some(""))],
        2,
        "GITOPS_FIELD_MANAGER is set but empty",
    ),
    case(
        &[("GITOPS_BRANCHE", Some("main"))],
        2,
        "GITOPS_BRANCHE is not a variable iter8-gitops knows",
    ),
    case(
        &[
            ("GITOPS_WINNER", None),
            ("EXPERIMENT_NAME", Some("gitops-exp")),
        ],
        2,
        "EXPERIMENT_NAMESPACE is required with EXPERIMENT_NAME",
    ),
    case(
        &[("GITOPS_WINNER", None)],
        2,
        "GITOPS_WINNER is required when EXPERIMENT_NAME",
    ),
    case(
        &[("GITOPS_CA_FILE", Some("/nonexistent/ca.pem"))],
        2,
        "GITOPS_CA_FILE \"/nonexistent/ca.pem\" cannot be read",
    ),
];

#[test]
fn every_bad_input_has_its_own_message_and_exit_code_and_nothing_is_written() {
    let w = World::tutorial();
    let not_pem = w.tmp.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let mut failures = vec![];
    let extra = [Case {
        env: &[],
        code: 2,
        says: "GITOPS_CA_FILE holds no usable PEM certificate",
    }];
    for (i, c) in CONFIG.iter().chain(&extra).enumerate() {
        let mut env = w.env.clone();
        if i == CONFIG.len() {
            env.retain(|(k, _)| k != "GITOPS_CA_FILE");
            env.push(("GITOPS_CA_FILE".into(), not_pem.display().to_string()));
        }
        for (k, v) in c.env {
            env.retain(|(key, _)| key != k);
            if let Some(v) = v {
                env.push((k.to_string(), v.to_string()));
            }
        }
        let o = run_binary(&env, &[], &[TOKEN, KUBE_TOKEN, "hunter2"]);
        if o.code != c.code || !o.stderr.contains(c.says) {
            failures.push(format!(
                "{:?}: exit {} (want {}), stderr: {}",
                c.env,
                o.code,
                c.code,
                o.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CONFIG.len() + 1,
        failures.join("\n")
    );
    assert!(CONFIG.len() + 1 >= 30);
    assert_eq!(w.pushes(), 0);
    assert!(w.github.server.log().is_empty());
    assert_eq!(w.applies(), 0);
}

#[test]
fn a_cluster_connection_that_cannot_be_made_is_a_configuration_error_and_nothing_is_written() {
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    // A kubeconfig that routes through a proxy: refused, not silently bypassed.
    let kc = w.tmp.path().join("kubeconfig-proxy");
    std::fs::write(
        &kc,
        "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443', proxy-url: 'http://proxy:3128'}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
    )
    .unwrap();
    w.set("KUBECONFIG", Some(kc.to_str().unwrap()));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("the kubeconfig cannot be used")
            && o.stderr.contains("proxy-url \"http://proxy:3128\""),
        "{}",
        o.stderr
    );
    // No kubeconfig and not in a Pod.
    w.set("KUBECONFIG", None);
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("no Kubernetes configuration found")
            && o.stderr.contains("KUBERNETES_SERVICE_HOST is not set"),
        "{}",
        o.stderr
    );
    // An exec credential plugin that fails (a cloud's token service down): that is the
    // step's failure, retried like it, not a configuration error.
    let plugin = w.tmp.path().join("plugin.sh");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho 'token service unavailable' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        &kc,
        format!(
            "clusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:6443'}}\nusers:\n- name: u\n  user:\n    exec: {{apiVersion: client.authentication.k8s.io/v1, command: {}}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n",
            plugin.display()
        ),
    )
    .unwrap();
    w.set("KUBECONFIG", Some(kc.to_str().unwrap()));
    let o = w.run(&[]);
    assert_code(&o, 8); // reading the Experiment, the first step that needs the cluster
    assert!(
        o.stderr.contains("failed: token service unavailable"),
        "{}",
        o.stderr
    );
    // A kubeconfig that is not one.
    std::fs::write(&kc, "clusters: {a: b}\n").unwrap();
    w.set("KUBECONFIG", Some(kc.to_str().unwrap()));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(o.stderr.contains(kc.to_str().unwrap()), "{}", o.stderr);
    assert_eq!(w.pushes(), 0);
    assert!(w.github.server.log().is_empty());
    assert_eq!(w.applies(), 0);
}

/// Commits `files` (path under DIR, bytes; `None` bytes make a symlink to /etc) to a new
/// branch `name` of the world's repo.
fn branch_with(w: &World, name: &str, files: &[(&str, Option<Vec<u8>>)]) {
    w.branch_from_base(name, |work| {
        for (path, content) in files {
            let p = work.join(DIR).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            match content {
                Some(bytes) => std::fs::write(&p, bytes).unwrap(),
                None => std::os::unix::fs::symlink("/etc", &p).unwrap(),
            }
        }
    });
}

#[test]
fn an_env_repo_that_does_not_fit_the_rules_exits_5_with_the_file_named_and_nothing_written() {
    let w = World::tutorial();
    let vs = b"apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: bookinfo\n".to_vec();
    branch_with(
        &w,
        "t-binary",
        &[("winner.yaml", Some(vec![0xff, 0xfe, 0x00, 0x01]))],
    );
    branch_with(
        &w,
        "t-huge",
        &[("winner.yaml", Some(vec![b'#'; 5 * 1024 * 1024]))],
    );
    branch_with(&w, "t-symlink", &[("etc", None)]);
    branch_with(
        &w,
        "t-yaml",
        &[("istio-vs.yaml", Some(b"spec: [unclosed\n".to_vec()))],
    );
    branch_with(
        &w,
        "t-nokind",
        &[(
            "istio-vs.yaml",
            Some(b"apiVersion: v1\nmetadata:\n  name: x\n".to_vec()),
        )],
    );
    branch_with(
        &w,
        "t-generate",
        &[(
            "istio-vs.yaml",
            Some(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n".to_vec()),
        )],
    );
    branch_with(
        &w,
        "t-list",
        &[(
            "istio-vs.yaml",
            Some(b"apiVersion: v1\nkind: List\nmetadata:\n  name: x\nitems: []\n".to_vec()),
        )],
    );
    branch_with(&w, "t-bomb", &[("istio-vs.yaml", Some(billion_laughs()))]);
    branch_with(&w, "t-ok", &[("istio-vs.yaml", Some(vs))]);
    // A submodule (gitlink) where the winner is expected. NB: an index-only change (there is
    // no work tree behind a gitlink), so not through `commit_as_someone_else`, whose `add -A`
    // would drop it again.
    {
        let work = tempfile::tempdir().unwrap();
        testkit::git(
            work.path(),
            &["clone", "-q", "-b", BRANCH, w.bare().to_str().unwrap(), "."],
        );
        let head = testkit::git(work.path(), &["rev-parse", "HEAD"]);
        let entry = format!("160000,{},{DIR}/sub", head.trim());
        testkit::git(
            work.path(),
            &["update-index", "--add", "--cacheinfo", &entry],
        );
        testkit::git(work.path(), &["commit", "-q", "-m", "submodule"]);
        testkit::git(
            work.path(),
            &["push", "-q", "origin", "HEAD:refs/heads/t-submodule"],
        );
    }
    // (branch, variables, exit code, what the error says)
    type TreeCase<'a> = (&'a str, &'a [(&'a str, &'a str)], i32, &'a str);
    let cases: &[TreeCase] = &[
        (
            "t-binary",
            &[("GITOPS_WINNER", "winner.yaml")],
            5,
            "is not UTF-8 text",
        ),
        (
            "t-huge",
            &[("GITOPS_WINNER", "winner.yaml")],
            5,
            "over the 4194304-byte limit",
        ),
        (
            "t-symlink",
            &[("GITOPS_WINNER", "etc/passwd")],
            5,
            "which is a symlink",
        ),
        (
            "t-submodule",
            &[("GITOPS_WINNER", "sub/x.yaml")],
            5,
            "which is a submodule",
        ),
        (
            "t-ok",
            &[("GITOPS_WINNER", "templates")],
            5,
            "is a directory, not a file",
        ),
        (
            "t-ok",
            &[("GITOPS_WINNER", "nope.yaml")],
            5,
            "GITOPS_WINNER \"samples/gitops/nope.yaml\" does not exist",
        ),
        (
            "t-ok",
            &[("GITOPS_DIR", "samples/missing")],
            5,
            "GITOPS_DIR \"samples/missing\" does not exist",
        ),
        ("t-yaml", &[], 5, "is not valid YAML"),
        ("t-nokind", &[], 5, "no kind"),
        ("t-generate", &[], 5, "generateName cannot be applied"),
        ("t-list", &[], 5, "List kinds cannot be server-side applied"),
        ("t-bomb", &[], 5, "is not valid YAML"),
        (
            "t-ok",
            &[("GITOPS_APPLY", "metrics.yaml")],
            7,
            "does not serve kind",
        ),
        (
            "no-such-branch",
            &[],
            4,
            "branch \"no-such-branch\" does not exist",
        ),
    ];
    let pushes_before = w.pushes();
    let mut failures = vec![];
    for (branch, env, code, says) in cases {
        let mut e = w.env.clone();
        e.retain(|(k, _)| k != "GITOPS_BRANCH" && !env.iter().any(|(ek, _)| ek == k));
        e.push(("GITOPS_BRANCH".into(), branch.to_string()));
        e.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let o = run_binary(&e, &[], &[TOKEN, KUBE_TOKEN]);
        if o.code != *code || !o.stderr.contains(says) {
            failures.push(format!(
                "{branch} {env:?}: exit {} (want {code}), stderr: {}",
                o.code,
                o.stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(w.pushes(), pushes_before, "nothing pushed");
    assert!(w.github.pulls().is_empty(), "nothing opened");
    assert_eq!(w.applies(), 0, "nothing applied");
}

/// The classic YAML alias bomb: a few hundred bytes that expand to billions of nodes.
fn billion_laughs() -> Vec<u8> {
    let mut s = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, c) in "bcdefghi".chars().enumerate() {
        let prev = (b'a' + i as u8) as char;
        s.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    s.into_bytes()
}

/// The fuzzers' corpora of server reports and apply files, replayed on stable: whatever the
/// fuzzers found interesting stays a regression test without a nightly toolchain.
#[test]
fn the_fuzz_corpora_replay_without_a_panic() {
    let corpus = |t: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(t);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        files.sort();
        assert!(files.len() > 10, "{t}: the corpus is committed");
        files
    };
    let refname = "refs/heads/iter8/promote";
    for input in corpus("report_status") {
        let lines: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
        if iter8_gitops::git::parse_report(lines.iter().copied(), refname)
            == iter8_gitops::git::Report::Updated
        {
            assert_eq!(
                lines[0].strip_suffix(b"\r").unwrap_or(lines[0]),
                b"unpack ok"
            );
        }
    }
    let path = iter8_gitops::plan::names::RepoPath::parse("env/istio-vs.yaml").unwrap();
    for input in corpus("apply_yaml") {
        let Ok(text) = std::str::from_utf8(&input) else {
            continue;
        };
        if let Ok(objects) = iter8_gitops::plan::parse_objects(&path, text) {
            assert!(
                objects
                    .iter()
                    .all(|o| !o.kind.is_empty() && !o.name.is_empty())
            );
        }
    }
    // Issue 23: a Secret's body and a pack on its way in, whatever the server sent.
    for input in corpus("secret_body") {
        if let Ok(values) = iter8_gitops::kube::secret::values(&input) {
            for (_, v) in values {
                let text = String::from_utf8_lossy(&v).trim().to_string();
                if text.len() >= 8 && !text.contains('\u{fffd}') {
                    assert!(!iter8_gitops::trust::redact::text(&text).contains(&text));
                }
            }
        }
    }
    let mut accepted = 0;
    for input in corpus("pack_gate") {
        if let Ok(out) = iter8_gitops::git::gate::check_pack(&input, 1 << 16) {
            assert_eq!(out, input);
            accepted += 1;
        }
    }
    assert!(accepted > 0, "real packs pass the gate");
    // A host's error answer: one line, never the whole page.
    for input in corpus("api_answer") {
        let text = String::from_utf8_lossy(&input);
        let line = iter8_gitops::host::message_of(&text);
        if serde_json::from_str::<serde_json::Value>(&text).is_err() {
            assert!(line.chars().count() <= 200, "{line}");
        }
    }
}
