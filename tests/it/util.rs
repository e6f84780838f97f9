//! The harness: a world of real servers (git http-backend over HTTPS, the GitHub and
//! Kubernetes fakes) holding the tutorial's Env repo, and a runner for the real binary with a
//! clean environment that checks, on every run, that the token never reaches the output.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;
use testkit::{GitHubFake, GitServer, KubeFake, Tls};

/// The Git host token (git Basic auth and the GitHub API).
pub const TOKEN: &str = "ghp_Iter8TestToken0123456789abcdefXYZ";
/// The service account token of the fake cluster.
pub const KUBE_TOKEN: &str = "kube-sa-token-0123456789";
/// The Env repo on the Git host.
pub const SLUG: &str = "acme/env";
pub const BRANCH: &str = "gitops";
pub const DIR: &str = "samples/gitops";

/// Fixtures from shared/.
pub fn fixture(rel: &str) -> PathBuf {
    testkit::shared_dir()
        .join("fixtures/iter8-gitops")
        .join(rel)
}

pub fn before() -> PathBuf {
    fixture("real-run-huang195/before-99cba97")
}

pub fn after() -> PathBuf {
    fixture("real-run-huang195/after-184e955")
}

/// Servers and a scratch directory for one test.
pub struct World {
    pub tls: Tls,
    pub git: GitServer,
    pub github: GitHubFake,
    pub kube: KubeFake,
    pub tmp: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The JSON report on stdout.
    pub fn report(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON report ({e}):\n{self:?}"))
    }
}

impl World {
    /// The Env repo as it was during the real experiment (before-99cba97), a token Secret,
    /// and the tutorial's inputs.
    pub fn tutorial() -> World {
        World::with_content(&before(), "acme/env")
    }

    /// A world whose Env repo holds `content` under `samples/gitops` on `gitops`, and whose
    /// GitHub fake serves the PRs of `pr_slug`.
    pub fn with_content(content: &Path, pr_slug: &str) -> World {
        let tls = Tls::new();
        let git = GitServer::start(&tls, TOKEN);
        git.create_repo(SLUG, BRANCH, content, DIR);
        let github = GitHubFake::start(&tls, pr_slug, TOKEN);
        let kube = KubeFake::start(&tls, KUBE_TOKEN);
        kube.add_secret("default", "iter8-token", &[("token", TOKEN)]);
        let tmp = tempfile::tempdir().expect("tempdir");
        let ca_file = tmp.path().join("ca.pem");
        std::fs::write(&ca_file, &tls.ca_pem).expect("write CA");
        let kubeconfig = kube.kubeconfig();
        let env = [
            ("GITOPS_REPO", git.url(SLUG)),
            ("GITOPS_BRANCH", BRANCH.into()),
            ("GITOPS_DIR", DIR.into()),
            ("GITOPS_WINNER", "productpage-candidate.yaml".into()),
            ("GITOPS_BASELINE", "productpage.yaml".into()),
            ("GITOPS_REPLACE", "candidate=stable".into()),
            (
                "GITOPS_REMOVE",
                "productpage-candidate.yaml,fortio.yaml,experiment.yaml".into(),
            ),
            ("GITOPS_APPLY", "istio-vs.yaml".into()),
            ("GITOPS_NAMESPACE", "default".into()),
            ("GITOPS_API_URL", github.api_url()),
            ("GITOPS_CA_FILE", ca_file.display().to_string()),
            (
                "GITOPS_TERMINATION_LOG",
                tmp.path().join("termination-log").display().to_string(),
            ),
            ("GITOPS_TIMEOUT", "60".into()),
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("HOME", tmp.path().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        World {
            tls,
            git,
            github,
            kube,
            tmp,
            env,
        }
    }

    /// The real run's Experiment (gitops-exp-4890) in the cluster, recommending the candidate,
    /// and the run finishing it from the Experiment instead of GITOPS_WINNER.
    pub fn finishing_the_experiment(&mut self) -> &mut Self {
        self.kube.add_experiment(
            "default",
            "gitops-exp-4890",
            tutorial_experiment(Some("productpage-candidate")),
        );
        self.set("GITOPS_WINNER", None)
            .set("EXPERIMENT_NAME", Some("gitops-exp-4890"))
            .set("EXPERIMENT_NAMESPACE", Some("default"))
    }

    /// Sets (or with `None` removes) a variable for the next runs.
    pub fn set(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.env.push((key.into(), v.into()));
        }
        self
    }

    /// Unsets the single promotion's rules (winner, baseline, replace, remove, apply): a
    /// promotion file says what to do instead.
    pub fn without_single_rules(&mut self) -> &mut Self {
        for k in [
            "GITOPS_WINNER",
            "GITOPS_BASELINE",
            "GITOPS_REPLACE",
            "GITOPS_REMOVE",
            "GITOPS_APPLY",
        ] {
            self.set(k, None);
        }
        self
    }

    /// This world's environment, with `branch` as GITOPS_BRANCH.
    pub fn env_on(&self, branch: &str) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "GITOPS_BRANCH");
        env.push(("GITOPS_BRANCH".into(), branch.into()));
        env
    }

    /// Someone else's commit on a new branch `name` made from GITOPS_BRANCH: `change` edits
    /// the work tree (its root is passed).
    pub fn branch_from_base(&self, name: &str, change: impl FnOnce(&Path)) {
        commit_as_someone_else(
            &self.bare(),
            BRANCH,
            &format!("refs/heads/{name}"),
            name,
            change,
        );
    }

    /// Runs the binary with exactly this world's environment (plus `args`).
    pub fn run(&self, args: &[&str]) -> Output {
        run_binary(&self.env, args, &[TOKEN, KUBE_TOKEN])
    }

    /// [`World::run`] with another program: another build of the binary, or the binary under
    /// an emulator (`qemu-aarch64 path`).
    pub fn run_program(&self, program: Command, args: &[&str]) -> Output {
        run_in(program, &self.env, args, &[TOKEN, KUBE_TOKEN])
    }

    /// The bare repo on the server.
    pub fn bare(&self) -> PathBuf {
        self.git.repo_path(SLUG)
    }

    /// `git rev-parse` of a ref on the server, or None.
    pub fn rev(&self, refname: &str) -> Option<String> {
        let out = Command::new("git")
            .args(["rev-parse", "--verify", "-q", refname])
            .current_dir(self.bare())
            .output()
            .expect("git");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Checks out `branch` from the server into a fresh directory.
    pub fn checkout(&self, branch: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        testkit::git(
            dir.path(),
            &[
                "clone",
                "-q",
                "-b",
                branch,
                self.bare().to_str().expect("utf-8"),
                ".",
            ],
        );
        dir
    }

    /// Requests the git server saw that wrote (receive-pack POSTs).
    pub fn pushes(&self) -> usize {
        self.git
            .server
            .log()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("git-receive-pack"))
            .count()
    }

    /// The tutorial's VirtualService as the cluster fake holds it, if it was applied.
    pub fn applied_vs(&self) -> Option<Value> {
        self.kube.get(
            "networking.istio.io",
            "v1alpha3",
            "default",
            "virtualservices",
            "bookinfo",
        )
    }

    /// Apply PATCHes the cluster fake saw.
    pub fn applies(&self) -> usize {
        self.kube
            .server
            .log()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count()
    }
}

/// Runs the binary with `env` only (no inherited variables), checking that no `secrets`
/// appear in what it prints.
pub fn run_binary(env: &[(String, String)], args: &[&str], secrets: &[&str]) -> Output {
    run_in(
        Command::new(env!("CARGO_BIN_EXE_iter8-gitops")),
        env,
        args,
        secrets,
    )
}

/// [`run_binary`] under GNU time, with the peak RSS of the run in bytes (the kernel's
/// `ru_maxrss`, as the Job's memory limit counts it).
pub fn run_measured(env: &[(String, String)], args: &[&str], secrets: &[&str]) -> (Output, u64) {
    let rss = tempfile::NamedTempFile::new().expect("temp file");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "%M", "-o"])
        .arg(rss.path())
        .arg(env!("CARGO_BIN_EXE_iter8-gitops"));
    let o = run_in(cmd, env, args, secrets);
    let kib: u64 = std::fs::read_to_string(rss.path())
        .expect("GNU time wrote the peak RSS")
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from GNU time:\n{o:?}"));
    (o, kib * 1024)
}

fn run_in(mut cmd: Command, env: &[(String, String)], args: &[&str], secrets: &[&str]) -> Output {
    cmd.env_clear().args(args);
    // git is needed for local-path repos (gix spawns git-upload-pack / git-receive-pack).
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    let o = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // The termination log is output too (the Pod's status shows it).
    let termination_log = env
        .iter()
        .find(|(k, _)| k == "GITOPS_TERMINATION_LOG")
        .and_then(|(_, p)| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    for s in secrets {
        for form in forms(s) {
            assert!(
                !o.stdout.contains(&form)
                    && !o.stderr.contains(&form)
                    && !termination_log.contains(&form),
                "a secret leaked into the output as {form:?}:\n{o:#?}\n--- termination log\n{termination_log}"
            );
        }
    }
    o
}

/// Every form a secret travels in: as is, base64 (a Secret's `data`), the Basic value git
/// sends for the usual user names, and percent-encoded.
pub fn forms(secret: &str) -> Vec<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = vec![secret.to_string(), b64.encode(secret)];
    // An empty user name: Azure DevOps' PAT header.
    for user in ["x-access-token", "oauth2", "git", ""] {
        out.push(b64.encode(format!("{user}:{secret}")));
    }
    out.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    out
}

/// True when a recorded request carries `secret` in any form, in a header or the body.
pub fn carries(r: &testkit::Recorded, secret: &str) -> bool {
    forms(secret).iter().any(|f| {
        r.body.contains(f.as_str())
            || r.query.contains(f.as_str())
            || r.headers.values().any(|v| v.contains(f.as_str()))
    })
}

/// A bare copy of the tutorial's Env repo in `tmp` (`tmp/env.git`, from a clone in
/// `tmp/work`), and the tutorial's inputs for it: no token, no cluster, no network.
pub fn local_env(tmp: &Path) -> Vec<(String, String)> {
    let work = tmp.join("work");
    std::fs::create_dir_all(work.join(DIR)).unwrap();
    testkit::git(&work, &["init", "-q", "-b", BRANCH]);
    testkit::copy_dir(&before(), &work.join(DIR));
    testkit::git(&work, &["add", "-A"]);
    testkit::git(&work, &["commit", "-q", "-m", "x"]);
    let bare = tmp.join("env.git");
    testkit::git(
        &work,
        &["clone", "-q", "--bare", ".", bare.to_str().unwrap()],
    );
    [
        ("GITOPS_REPO", bare.to_str().unwrap()),
        ("GITOPS_BRANCH", BRANCH),
        ("GITOPS_DIR", DIR),
        ("GITOPS_WINNER", "productpage-candidate.yaml"),
        ("GITOPS_BASELINE", "productpage.yaml"),
        ("GITOPS_REPLACE", "candidate=stable"),
        (
            "GITOPS_REMOVE",
            "productpage-candidate.yaml,fortio.yaml,experiment.yaml",
        ),
        ("HOME", tmp.to_str().unwrap()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Someone else's commit: clones `base` of the bare repo at `bare`, lets `change` edit the work
/// tree (its root is passed), commits everything as `message` and pushes it to `to` (a ref).
pub fn commit_as_someone_else(
    bare: &Path,
    base: &str,
    to: &str,
    message: &str,
    change: impl FnOnce(&Path),
) {
    let work = tempfile::tempdir().unwrap();
    testkit::git(
        work.path(),
        &["clone", "-q", "-b", base, bare.to_str().unwrap(), "."],
    );
    change(work.path());
    testkit::git(work.path(), &["add", "-A"]);
    testkit::git(work.path(), &["commit", "-q", "-m", message]);
    testkit::git(
        work.path(),
        &["push", "-q", "origin", &format!("HEAD:{to}")],
    );
}

/// Asserts the exit code, printing the whole run when it differs.
#[track_caller]
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.code, code,
        "unexpected exit code; run was:\n--- stdout\n{}\n--- stderr\n{}",
        o.stdout, o.stderr
    );
}

/// Asserts that `dir` holds exactly the files of `expected` (recursively, byte for byte).
pub fn assert_same_tree(dir: &Path, expected: &Path) {
    let list = |root: &Path| {
        let mut v = vec![];
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read_dir") {
                let e = e.expect("entry");
                if e.file_name() == ".git" {
                    continue;
                }
                if e.file_type().expect("type").is_dir() {
                    stack.push(e.path());
                } else {
                    v.push(e.path().strip_prefix(root).expect("prefix").to_path_buf());
                }
            }
        }
        v.sort();
        v
    };
    let (got, want) = (list(dir), list(expected));
    assert_eq!(got, want, "the file lists differ");
    for f in &got {
        assert_eq!(
            std::fs::read(dir.join(f)).expect("read"),
            std::fs::read(expected.join(f)).expect("read"),
            "{} differs",
            f.display()
        );
    }
}

/// The real run's Experiment as the cluster holds it (namespace `default`, a uid), with
/// `recommended` as its recommendation, if any.
pub fn tutorial_experiment(recommended: Option<&str>) -> Value {
    let mut e: Value =
        serde_yaml_ng::from_slice(&std::fs::read(before().join("experiment.yaml")).unwrap())
            .unwrap();
    e["metadata"]["namespace"] = serde_json::json!("default");
    e["metadata"]["uid"] = serde_json::json!("uid-gitops-exp-4890");
    e["status"] = serde_json::json!({});
    if let Some(r) = recommended {
        e["status"]["versionRecommendedForPromotion"] = serde_json::json!(r);
    }
    e
}

/// An Argo CD Application whose status follows the refresh annotation: once refreshed, Synced
/// at the synced branch's tip and `health` (Healthy, or stuck in Progressing).
pub fn argo_app(w: &World, health: &'static str) {
    let bare = w.bare();
    w.kube.add_application("argocd", "bookinfo", move |app| {
        let refreshed = app
            .pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
            .is_some();
        if !refreshed {
            return serde_json::json!({"sync": {"status": "OutOfSync", "revision": "old"}, "health": {"status": "Healthy"}});
        }
        let tip = testkit::git(&bare, &["rev-parse", "refs/heads/gitops"]);
        serde_json::json!({"sync": {"status": "Synced", "revision": tip.trim()}, "health": {"status": health}})
    });
}
