//! The receiver (`iter8-gitops serve`): Flagger and Argo Rollouts tell it a rollout ended; it
//! reads the Canary or Rollout itself and, when the cluster says the rollout failed, puts the
//! Env repo back to what the cluster serves, in one revert PR per workload and revision.
//! The real binary as a server, the cluster fake holding objects its CRDs accept.

use std::{
    io::{BufRead, Read, Write},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::util::*;

const PODINFO: &str = "ghcr.io/stefanprodan/podinfo";
/// The Argo Rollouts project's own aborted Rollout (tests/fixtures/controllers).
const ROLLOUT: &str = "rollout-background-analysis";

fn controllers(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/controllers")
        .join(file);
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The Env repo: a Kustomize overlay for podinfo (its tag set by CI to the version Flagger
/// then failed), a second Canary's plain Deployment YAML, and the Rollout as plain YAML.
fn env_repo(dir: &Path) {
    let write = |p: &str, text: &str| {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "podinfo/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\nimages:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.0.1   # bumped by CI\n",
    );
    write(
        "podinfo/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  selector:\n    matchLabels: {app: podinfo}\n  template:\n    metadata:\n      labels: {app: podinfo}\n    spec:\n      containers:\n        - name: podinfod\n          image: ghcr.io/stefanprodan/podinfo\n",
    );
    write(
        "backend/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: backend\nspec:\n  selector:\n    matchLabels: {app: backend}\n  template:\n    metadata:\n      labels: {app: backend}\n    spec:\n      containers:\n        # the API\n        - name: backend\n          image: \"ghcr.io/acme/backend:2.1.0\"  # bumped by CI\n",
    );
    write(
        "rollouts/rollout.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: rollout-background-analysis\nspec:\n  template:\n    spec:\n      containers:\n      - name: rollouts-demo\n        image: argoproj/rollouts-demo:yellow\n",
    );
}

/// The operator's promotion file: one target per workload.
const TARGETS: &str = r#"targets:
  - name: podinfo
    workload: Canary test/podinfo
    dir: podinfo
    edits:
      - kustomize-image: {name: ghcr.io/stefanprodan/podinfo, newTag: "${stable.tag}"}
  - name: backend
    workload: Canary test/backend
    dir: backend
    edits:
      - yaml-set: {file: deployment.yaml, path: "spec.template.spec.containers[name=backend].image", value: "${stable.image.backend}"}
  - name: rollouts-demo
    workload: Rollout default/rollout-background-analysis
    dir: rollouts
    edits:
      - yaml-set: {file: rollout.yaml, path: "spec.template.spec.containers[name=rollouts-demo].image", value: "${stable.image}"}
"#;

fn world() -> World {
    let content = tempfile::tempdir().unwrap();
    env_repo(content.path());
    let mut w = World::with_content(content.path(), SLUG);
    let file = w.tmp.path().join("receiver.yaml");
    std::fs::write(&file, TARGETS).unwrap();
    w.without_single_rules();
    w.set("GITOPS_CONFIG", Some(file.to_str().unwrap()))
        .set("GITOPS_LISTEN", Some("127.0.0.1:0"));
    w
}

/// A Canary of Flagger's own example, for `target` (its Deployment), in `phase`.
fn canary(name: &str, phase: &str, revision: &str) -> Value {
    let mut c = controllers("flagger-istio-canary.yaml");
    c["metadata"]["name"] = json!(name);
    c["metadata"]["uid"] = json!(format!("uid-{name}"));
    c["spec"]["targetRef"]["name"] = json!(name);
    c["spec"].as_object_mut().unwrap().remove("autoscalerRef");
    c["status"] = json!({
        "phase": phase, "failedChecks": if phase == "Failed" { 10 } else { 0 },
        "canaryWeight": 0, "iterations": 0, "lastAppliedSpec": revision,
        "conditions": [{"type": "Promoted", "status": if phase == "Failed" { "False" } else { "Unknown" },
            "reason": phase, "message": if phase == "Failed" { "Canary analysis failed, Deployment scaled to zero." } else { "New revision detected." },
            "lastUpdateTime": "2026-12-07T03:00:00Z", "lastTransitionTime": "2026-12-07T03:00:00Z"}]
    });
    c
}

fn deployment(name: &str, container: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": container, "image": image}]}}}})
}

/// Flagger's objects for a Canary: the Canary, its target (the failed version) and the
/// primary it keeps serving.
fn flagger(w: &World, name: &str, container: &str, (stable, failed): (&str, &str), phase: &str) {
    w.kube
        .add_workload(canary(name, phase, &format!("{name}-rev-1")));
    w.kube
        .add_workload(deployment(&format!("{name}-primary"), container, stable));
    w.kube.add_workload(deployment(name, container, failed));
}

/// Flagger's podinfo: the primary serves 6.0.0, the canary tried 6.0.1.
fn podinfo(w: &World, phase: &str) {
    let (stable, failed) = (format!("{PODINFO}:6.0.0"), format!("{PODINFO}:6.0.1"));
    flagger(w, "podinfo", "podinfod", (&stable, &failed), phase);
}

/// The receiver, running.
struct Receiver {
    child: Child,
    address: String,
    log: Arc<Mutex<String>>,
}

impl Receiver {
    fn start(w: &World) -> Receiver {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iter8-gitops"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(w.env.iter().cloned())
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the receiver starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut r = Receiver {
            child,
            address: String::new(),
            log,
        };
        r.wait_for_log("receiver listening", 1);
        let log = r.log();
        let at = log.find("address=").expect("the address is logged") + "address=".len();
        r.address = log[at..].split_whitespace().next().unwrap().to_string();
        r
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `text` is in the log `times` times.
    fn wait_for_log(&mut self, text: &str, times: usize) {
        let end = Instant::now() + Duration::from_secs(60);
        while self.log().matches(text).count() < times {
            let exited = self.child.try_wait().ok().flatten().is_some();
            if exited {
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(
                Instant::now() < end && !(exited && self.log().matches(text).count() < times),
                "no {text:?} x{times} in:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one request; its status and body.
    fn send(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(&self.address).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        (status, answer)
    }

    /// Flagger's post-rollout webhook for the Canary, as Flagger's CallWebhook sends it.
    fn flagger(&self, name: &str, namespace: &str, phase: &str) -> u16 {
        let body = json!({"name": name, "namespace": namespace, "phase": phase,
            "checksum": "85d557f47b", "metadata": {"type": "post-rollout"}});
        self.send("POST", "/flagger", &body.to_string()).0
    }

    /// SIGTERM; the exit code.
    fn stop(self) -> (i32, String) {
        signal(self.child.id(), "-TERM");
        self.stop_when_done()
    }

    /// Waits for the receiver to exit (it was told to stop, or killed); its exit code and
    /// log, which holds no secret in any form.
    fn stop_when_done(mut self) -> (i32, String) {
        let end = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                let log = self.log();
                for secret in [TOKEN, KUBE_TOKEN] {
                    for form in forms(secret) {
                        assert!(!log.contains(&form), "a secret leaked into the log:\n{log}");
                    }
                }
                return (status.code().unwrap_or(-1), log);
            }
            assert!(
                Instant::now() < end,
                "the receiver did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `sig` (`-TERM`, `-KILL`) to the process `pid`.
fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits until the GitHub fake holds `n` pull requests.
fn wait_for_pulls(w: &World, r: &Receiver, n: usize) -> Vec<testkit::Pull> {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let pulls = w.github.pulls();
        if pulls.len() >= n {
            return pulls;
        }
        assert!(
            Instant::now() < end,
            "{} PRs, not {n}:\n{}",
            pulls.len(),
            r.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn file_on(w: &World, branch: &str, path: &str) -> String {
    let co = w.checkout(branch);
    std::fs::read_to_string(co.path().join(DIR).join(path)).unwrap()
}

/// The receiver's holds, as its ConfigMap keeps them.
fn holds(w: &World) -> serde_json::Map<String, Value> {
    // Written just after the PR is opened: wait for it.
    let end = Instant::now() + Duration::from_secs(30);
    let cm = loop {
        let cm = w.kube.get(
            "",
            "v1",
            "default",
            "configmaps",
            "iter8-gitops-receiver-holds",
        );
        if cm.is_some() || Instant::now() > end {
            break cm.expect("the holds' ConfigMap");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    cm["data"].as_object().cloned().unwrap_or_default()
}

fn revert_branch(ns: &str, name: &str, revision: &str) -> String {
    format!("iter8-gitops/revert/{ns}-{name}-{revision}")
}

#[test]
fn a_failed_canary_gets_one_revert_pr_with_the_primarys_image_however_often_flagger_calls() {
    let w = world();
    podinfo(&w, "Progressing");
    flagger(
        &w,
        "backend",
        "backend",
        ("ghcr.io/acme/backend:2.0.3", "ghcr.io/acme/backend:2.1.0"),
        "Succeeded",
    );
    let mut r = Receiver::start(&w);
    assert_eq!(r.send("GET", "/readyz", "").0, 200);
    // The start looked at every workload: none failed, nothing written.
    r.wait_for_log("nothing to revert workload=Canary test/podinfo", 1);
    assert!(w.github.pulls().is_empty());

    // Flagger fails the canary and calls its post-rollout hook, with its retries: ten times.
    w.kube
        .add_workload(canary("podinfo", "Failed", "podinfo-rev-1"));
    for _ in 0..10 {
        assert_eq!(r.flagger("podinfo", "test", "Failed"), 202);
    }
    let pulls = wait_for_pulls(&w, &r, 1);
    r.wait_for_log("reverted revision", 1);
    // The webhooks that came while it worked ask for one more look, which finds it done.
    r.wait_for_log("was reverted already", 1);
    assert_eq!(w.github.pulls().len(), 1, "ten deliveries, one PR");
    let pr = &pulls[0];
    assert_eq!(
        pr.head,
        format!("acme:{}", revert_branch("test", "podinfo", "podinfo-rev-1"))
    );
    assert_eq!(
        pr.title,
        format!("Revert Canary test/podinfo to {PODINFO}:6.0.0")
    );
    assert!(
        pr.body
            .contains("Canary analysis failed, Deployment scaled to zero."),
        "{}",
        pr.body
    );
    assert!(pr.body.contains("after 10 failed checks"), "{}", pr.body);
    assert!(
        pr.body.contains(&format!("from `{PODINFO}:6.0.1`")),
        "{}",
        pr.body
    );

    // Only the tag's text changed; the comment and layout stay.
    let kustomization = file_on(
        &w,
        &revert_branch("test", "podinfo", "podinfo-rev-1"),
        "podinfo/kustomization.yaml",
    );
    assert!(
        kustomization.ends_with("    newTag: 6.0.0   # bumped by CI\n"),
        "{kustomization}"
    );
    assert_eq!(
        file_on(&w, BRANCH, "podinfo/kustomization.yaml")
            .matches("6.0.1")
            .count(),
        1,
        "the synced branch waits for the PR"
    );

    // The commit status a branch rule can require passes: the revert is what the cluster serves.
    let statuses = w.github.checks().posted();
    assert!(
        statuses
            .iter()
            .any(|s| s.context == "iter8-gitops/revert" && s.state == "success"),
        "{statuses:?}"
    );

    // The Canary's Event says what was done.
    let events = w.kube.events();
    let reverted: Vec<&Value> = events
        .iter()
        .filter(|e| e["reason"] == "Reverted")
        .collect();
    assert_eq!(reverted.len(), 1, "{events:#?}");
    assert_eq!(reverted[0]["regarding"]["kind"], "Canary");
    assert_eq!(reverted[0]["regarding"]["uid"], "uid-podinfo");

    let (code, _) = r.stop();
    assert_eq!(code, 0);
}

#[test]
fn two_canaries_failed_at_once_get_two_prs_and_a_plain_deployment_yaml_keeps_its_comments() {
    let w = world();
    flagger(
        &w,
        "backend",
        "backend",
        ("ghcr.io/acme/backend:2.0.3", "ghcr.io/acme/backend:2.1.0"),
        "Failed",
    );
    podinfo(&w, "Failed");
    let r = Receiver::start(&w);
    // Failed before the receiver started: its start finds both, and reverts them side by side.
    let pulls = wait_for_pulls(&w, &r, 2);
    let yaml = file_on(
        &w,
        &revert_branch("test", "backend", "backend-rev-1"),
        "backend/deployment.yaml",
    );
    assert!(yaml.contains("        # the API\n        - name: backend\n          image: \"ghcr.io/acme/backend:2.0.3\"  # bumped by CI\n"), "{yaml}");
    let mut titles: Vec<&str> = pulls.iter().map(|p| p.title.as_str()).collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Revert Canary test/backend to ghcr.io/acme/backend:2.0.3",
            &format!("Revert Canary test/podinfo to {PODINFO}:6.0.0")
        ]
    );
    // Each on its own branch, from the synced branch: neither carries the other's change.
    let podinfo_branch = revert_branch("test", "podinfo", "podinfo-rev-1");
    assert!(file_on(&w, &podinfo_branch, "backend/deployment.yaml").contains("2.1.0"));
    assert_eq!(r.stop().0, 0);
}

#[test]
fn a_payload_that_lies_or_points_elsewhere_writes_nothing_and_is_not_echoed() {
    let w = world();
    podinfo(&w, "Succeeded");
    let mut r = Receiver::start(&w);
    r.wait_for_log("nothing to revert", 1);
    // Says Failed; the cluster says Succeeded.
    assert_eq!(r.flagger("podinfo", "test", "Failed"), 202);
    r.wait_for_log("the cluster says the rollout succeeded", 2);
    // Not listed, or listed in another namespace.
    assert_eq!(r.flagger("evil-canary-xyz", "test", "Failed"), 403);
    assert_eq!(r.flagger("podinfo", "other-ns-xyz", "Failed"), 403);
    // Not a webhook at all.
    assert_eq!(
        r.send("POST", "/flagger", "{\"name\": \"podinfo-not-json-xyz")
            .0,
        400
    );
    assert_eq!(r.send("POST", "/flux", "{}").0, 404);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    assert_eq!(r.send("POST", "/argo-rollouts", &big).0, 413);
    assert_eq!(r.send("GET", "/healthz", "").0, 200);
    let (code, log) = r.stop();
    assert_eq!(code, 0);
    assert!(w.github.pulls().is_empty());
    assert_eq!(w.pushes(), 0);
    for sent in ["evil-canary-xyz", "other-ns-xyz", "not-json-xyz"] {
        assert!(!log.contains(sent), "the payload was echoed:\n{log}");
    }
    assert_eq!(log.matches("does not list").count(), 2, "{log}");
}

#[test]
fn an_aborted_rollout_and_a_failed_canary_at_once_get_a_revert_each_with_the_stable_images() {
    let w = world();
    podinfo(&w, "Failed");
    // Argo Rollouts' own aborted Rollout and its stable ReplicaSet (rs2: 7d84d44bb8, blue).
    w.kube
        .add_workload(controllers("argo-rollouts-aborted-rollout.yaml"));
    w.kube
        .add_workload(controllers("argo-rollouts-aborted-rs2.yaml"));
    w.kube
        .add_workload(controllers("argo-rollouts-aborted-rs1.yaml"));
    let mut r = Receiver::start(&w);
    let pulls = wait_for_pulls(&w, &r, 2);
    r.wait_for_log("reverted revision", 2);
    let rollout_pr = pulls
        .iter()
        .find(|p| p.title.contains("Rollout"))
        .expect("the Rollout's PR");
    assert_eq!(
        rollout_pr.title,
        "Revert Rollout default/rollout-background-analysis to argoproj/rollouts-demo:blue"
    );
    assert!(
        rollout_pr.body.contains("metric \"web\" assessed Failed"),
        "{}",
        rollout_pr.body
    );
    assert!(
        rollout_pr
            .body
            .contains("rollout-background-analysis-db976bc44-2"),
        "{}",
        rollout_pr.body
    );
    let yaml = file_on(
        &w,
        &revert_branch("default", ROLLOUT, "db976bc44"),
        "rollouts/rollout.yaml",
    );
    assert!(
        yaml.contains("        image: argoproj/rollouts-demo:blue\n"),
        "{yaml}"
    );
    // And a webhook for it, as the notification template sends it, finds it done.
    let body = json!({"name": ROLLOUT, "namespace": "default"}).to_string();
    assert_eq!(r.send("POST", "/argo-rollouts", &body).0, 202);
    r.wait_for_log("was reverted already", 1);
    assert_eq!(w.github.pulls().len(), 2);
    assert_eq!(r.stop().0, 0);
}

#[test]
fn a_revert_pr_a_person_closed_is_not_reopened_and_a_new_failed_revision_gets_its_own() {
    let w = world();
    podinfo(&w, "Failed");
    let r = Receiver::start(&w);
    let pulls = wait_for_pulls(&w, &r, 1);
    // The receiver keeps what it reverted in its own ConfigMap.
    assert_eq!(holds(&w)["canary.test.podinfo"], "podinfo-rev-1");
    // A person closes it, and deletes its branch: they will fix forward.
    w.github.pulls_handle().close(pulls[0].number);
    let branch = revert_branch("test", "podinfo", "podinfo-rev-1");
    testkit::git(
        &w.bare(),
        &["update-ref", "-d", &format!("refs/heads/{branch}")],
    );
    assert_eq!(r.stop().0, 0);

    // A restart, and Flagger calling again, change nothing: held.
    let pushes = w.pushes();
    let mut r = Receiver::start(&w);
    r.wait_for_log("was reverted already", 1);
    assert_eq!(r.flagger("podinfo", "test", "Failed"), 202);
    r.wait_for_log("was reverted already", 2);
    assert_eq!(w.github.pulls().len(), 1);
    assert!(!w.github.pulls()[0].open);
    assert_eq!(w.pushes(), pushes);
    assert_eq!(w.rev(&format!("refs/heads/{branch}")), None);

    // Their fix succeeds, and the next version fails: that is a new revert.
    w.kube
        .add_workload(canary("podinfo", "Succeeded", "podinfo-rev-2"));
    assert_eq!(r.flagger("podinfo", "test", "Succeeded"), 202);
    r.wait_for_log("a later failure is reverted again", 1);
    assert!(holds(&w).get("canary.test.podinfo").is_none());
    w.kube
        .add_workload(canary("podinfo", "Failed", "podinfo-rev-3"));
    assert_eq!(r.flagger("podinfo", "test", "Failed"), 202);
    let pulls = wait_for_pulls(&w, &r, 2);
    assert_eq!(
        pulls[1].head,
        format!("acme:{}", revert_branch("test", "podinfo", "podinfo-rev-3"))
    );
    assert!(pulls[1].open);
    assert_eq!(r.stop().0, 0);
}

#[test]
fn a_receiver_killed_between_its_push_and_its_pr_opens_the_pr_when_it_starts_again() {
    let w = world();
    podinfo(&w, "Failed");
    // The host never answers the PR request, and the receiver is killed then (the OOM killer,
    // a node gone): no grace at all, before its retry.
    w.github.server.fault(testkit::Fault::reset(
        "POST /api/v3/repos/acme/env/pulls",
        1,
    ));
    let r = Receiver::start(&w);
    let pid = r.child.id();
    std::thread::scope(|s| {
        s.spawn(|| {
            let end = Instant::now() + Duration::from_secs(30);
            while Instant::now() < end {
                let cut = w
                    .github
                    .server
                    .log()
                    .iter()
                    .any(|q| q.method == "POST" && q.path.ends_with("/pulls") && q.status == 0);
                if cut {
                    signal(pid, "-KILL");
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
    });
    let (code, log) = r.stop_when_done();
    assert_ne!(code, 0, "{log}");
    let branch = revert_branch("test", "podinfo", "podinfo-rev-1");
    assert!(
        w.rev(&format!("refs/heads/{branch}")).is_some(),
        "pushed: {log}"
    );
    assert!(w.github.pulls().is_empty());
    assert!(
        w.kube
            .get(
                "",
                "v1",
                "default",
                "configmaps",
                "iter8-gitops-receiver-holds"
            )
            .is_none()
    );

    // The next start finds the revert unfinished, and finishes it: the pushed branch, one PR.
    let pushes = w.pushes();
    let mut r = Receiver::start(&w);
    r.wait_for_log("reverted revision", 1);
    let pulls = wait_for_pulls(&w, &r, 1);
    assert_eq!(pulls[0].head, format!("acme:{branch}"));
    assert_eq!(w.pushes(), pushes, "nothing pushed again");
    assert_eq!(r.stop().0, 0);
}

#[test]
fn sigterm_during_a_revert_lets_it_finish_and_a_restart_converges() {
    let w = world();
    podinfo(&w, "Progressing");
    let mut r = Receiver::start(&w);
    r.wait_for_log("nothing to revert workload=Canary test/podinfo", 1);
    w.kube
        .add_workload(canary("podinfo", "Failed", "podinfo-rev-1"));
    // Kubernetes stops the pod while the revert is opening its PR.
    let pid = r.child.id();
    w.github
        .server
        .before("POST /api/v3/repos/acme/env/pulls", move || {
            signal(pid, "-TERM")
        });
    assert_eq!(r.flagger("podinfo", "test", "Failed"), 202);
    let (code, log) = r.stop_when_done();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("stopping: no more webhooks"), "{log}");
    assert_eq!(
        w.github.pulls().len(),
        1,
        "the revert under way finished: {log}"
    );

    // The next pod looks again and finds it done: the same PR, nothing pushed.
    let pushes = w.pushes();
    let mut r = Receiver::start(&w);
    r.wait_for_log("was reverted already", 1);
    assert_eq!(w.github.pulls().len(), 1);
    assert_eq!(w.pushes(), pushes);
    assert_eq!(r.stop().0, 0);
}

#[test]
fn the_receiver_refuses_to_start_on_a_file_that_names_no_workload_or_from_the_repo() {
    let mut w = world();
    let file = w.tmp.path().join("bad.yaml");
    std::fs::write(
        &file,
        "targets:\n  - edits:\n      - kustomize-image: {name: x, newTag: \"${stable.tag}\"}\n",
    )
    .unwrap();
    w.set("GITOPS_CONFIG", Some(file.to_str().unwrap()));
    let o = w.run(&["serve"]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("targets[0].workload is missing"),
        "{}",
        o.stderr
    );
    w.set("GITOPS_CONFIG", None)
        .set("GITOPS_CONFIG_IN_REPO", Some("receiver.yaml"));
    let o = w.run(&["serve"]);
    assert_code(&o, 2);
    assert!(
        o.stderr
            .contains("GITOPS_CONFIG_IN_REPO cannot drive the receiver"),
        "{}",
        o.stderr
    );
    // Its holds are kept in its own namespace, which it must be told.
    let mut w = world();
    w.set("GITOPS_NAMESPACE", None);
    let o = w.run(&["serve"]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("GITOPS_NAMESPACE is required by `serve`"),
        "{}",
        o.stderr
    );
    // And a finish does not take a receiver's file.
    let mut w = world();
    w.set("GITOPS_LISTEN", None);
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(
        o.stderr.contains("is read by the receiver only"),
        "{}",
        o.stderr
    );
}

#[test]
fn the_shipped_flagger_webhook_and_argo_rollouts_template_reach_the_receiver() {
    let spec = |f: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("task-spec")
                .join(f),
        )
        .unwrap();
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect()
    };
    let w = world();
    // Flagger's Canary with the webhook: its CRD accepts it, and the hook is the receiver's.
    let canary = spec("receiver-flagger.yaml").remove(0);
    w.kube.add_workload(canary.clone());
    let hook = &canary["spec"]["analysis"]["webhooks"][0];
    assert_eq!(hook["type"], "post-rollout");
    let url = hook["url"].as_str().unwrap();
    assert!(url.ends_with("/flagger"), "{url}");

    // Argo Rollouts: the template's body, as the notification controller renders it for the
    // project's own aborted Rollout, is taken.
    let docs = spec("receiver-argo-rollouts.yaml");
    w.kube.add_workload(docs[1].clone());
    // Its trigger is the project's own event trigger, by the name the project ships it under.
    let builtin = controllers("argo-rollouts-on-rollout-aborted.yaml");
    for key in builtin["data"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("trigger."))
    {
        assert!(docs[0]["data"].get(key).is_some(), "{key}");
    }
    let template: Value = serde_yaml_ng::from_str(
        docs[0]["data"]["template.iter8-gitops-revert"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let webhook = &template["webhook"]["iter8-gitops"];
    let rollout = controllers("argo-rollouts-aborted-rollout.yaml");
    let body = webhook["body"]
        .as_str()
        .unwrap()
        .replace(
            "{{.rollout.metadata.name}}",
            rollout["metadata"]["name"].as_str().unwrap(),
        )
        .replace(
            "{{.rollout.metadata.namespace}}",
            rollout["metadata"]["namespace"].as_str().unwrap(),
        );
    assert!(!body.contains("{{"), "{body}");
    let r = Receiver::start(&w);
    assert_eq!(webhook["method"], "POST");
    assert_eq!(
        r.send("POST", webhook["path"].as_str().unwrap(), &body).0,
        202
    );
    assert_eq!(r.stop().0, 0);
}

#[test]
fn a_client_that_trickles_its_webhook_is_cut_and_does_not_hold_up_the_others() {
    let w = world();
    podinfo(&w, "Succeeded");
    let r = Receiver::start(&w);
    // One byte a second, forever: a slow-loris.
    let mut slow = std::net::TcpStream::connect(&r.address).unwrap();
    let started = Instant::now();
    let trickle = std::thread::spawn(move || {
        let mut answer = String::new();
        for b in b"POST /flagger HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"name\": " {
            if slow.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let _ = slow.read_to_string(&mut answer);
        answer
    });
    // Meanwhile the receiver answers as ever.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(r.send("GET", "/readyz", "").0, 200);
    assert_eq!(r.flagger("podinfo", "test", "Succeeded"), 202);
    let answer = trickle.join().unwrap();
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(16), "{took:?}");
    assert_eq!(r.stop().0, 0);
}

#[test]
fn a_target_in_push_mode_reverts_the_synced_branch_itself() {
    let mut w = world();
    let file = w.tmp.path().join("push.yaml");
    std::fs::write(
        &file,
        TARGETS.replacen(
            "    dir: podinfo\n",
            "    dir: podinfo\n    mode: push\n",
            1,
        ),
    )
    .unwrap();
    w.set("GITOPS_CONFIG", Some(file.to_str().unwrap()));
    podinfo(&w, "Failed");
    let mut r = Receiver::start(&w);
    r.wait_for_log("reverted revision", 1);
    let kustomization = file_on(&w, BRANCH, "podinfo/kustomization.yaml");
    assert!(
        kustomization.ends_with("    newTag: 6.0.0   # bumped by CI\n"),
        "{kustomization}"
    );
    assert!(w.github.pulls().is_empty(), "no PR in push mode");
    assert_eq!(r.stop().0, 0);
}
