//! The receiver under load (`iter8-gitops serve`, docs/receiver.md): 1,000 webhooks over about
//! 10 s from 8 clients, mixed as a busy cluster and a hostile caller would send them (Flagger
//! hooks for listed Canaries, two of which fail 3 s in; hooks for Canaries it does not list;
//! bodies that are not JSON, too large, or for no route), while a prober asks `/readyz` every
//! 20 ms.
//! Prints how the webhooks were answered, whether the receiver stayed ready, the PRs written
//! (exactly one per failed Canary is the target) and its peak RSS (VmHWM, read before SIGTERM).

use std::{
    fmt::Write as _,
    io::{BufRead, Read, Write},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use testkit::{GitHubFake, GitServer, KubeFake, Tls};

const WEBHOOKS: usize = 1_000;
const CLIENTS: usize = 8;
const CANARIES: usize = 10;
const FAILED: usize = 2;
/// Each client's pace: 125 webhooks each, one every 80 ms, about 10 s in all.
const PACE: Duration = Duration::from_millis(80);
/// When the failed Canaries fail.
const FAIL_AT: Duration = Duration::from_secs(3);

fn canary(name: &str, phase: &str) -> Value {
    json!({"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
        "metadata": {"name": name, "namespace": "test", "uid": format!("uid-{name}")},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898}, "analysis": {"interval": "1m", "threshold": 5}},
        "status": {"phase": phase, "failedChecks": 5, "canaryWeight": 0, "iterations": 0,
            "lastAppliedSpec": format!("{name}-rev")}})
}

fn deployment(name: &str, tag: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": format!("acme/{name}:{tag}")}]}}}})
}

/// One request; the status (0 when the connection failed).
fn send(address: &str, method: &str, path: &str, body: &str) -> u16 {
    let Ok(mut s) = std::net::TcpStream::connect(address) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: r\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// The `i`th webhook of the mix: (path, body).
fn webhook(i: usize) -> (&'static str, String) {
    let canary = |n: usize| {
        json!({"name": format!("app-{n}"), "namespace": "test", "phase": "Failed", "checksum": "x"})
            .to_string()
    };
    match i % 10 {
        0..=5 => ("/flagger", canary(i % CANARIES)),
        6 => (
            "/flagger",
            json!({"name": format!("unlisted-{i}"), "namespace": "test"}).to_string(),
        ),
        7 => ("/flagger", "{\"name\": ".to_string()),
        8 => (
            "/argo-rollouts",
            format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024)),
        ),
        _ => ("/nowhere", "{}".to_string()),
    }
}

pub fn run(binary: &str) -> String {
    let tls = Tls::new();
    let git = GitServer::start(&tls, super::TOKEN);
    let github = GitHubFake::start(&tls, "acme/env", super::TOKEN);
    let kube = KubeFake::start(&tls, "kube-token");
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    let mut targets = String::from("targets:\n");
    for n in 0..CANARIES {
        let name = format!("app-{n}");
        let dir = content.join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!(
                "resources: [deployment.yaml]\nimages:\n  - name: acme/{name}\n    newTag: \"2\"\n"
            ),
        )
        .unwrap();
        kube.add_workload(canary(&name, "Succeeded"));
        kube.add_workload(deployment(&format!("{name}-primary"), "1"));
        kube.add_workload(deployment(&name, "2"));
        writeln!(
            targets,
            "  - workload: Canary test/{name}\n    dir: {name}\n    edits:\n      - kustomize-image: {{name: acme/{name}, newTag: \"${{stable.tag}}\"}}"
        )
        .unwrap();
    }
    git.create_repo("acme/env", "main", &content, "");
    let file = tmp.path().join("receiver.yaml");
    std::fs::write(&file, targets).unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    kube.add_secret("default", "iter8-token", &[("token", super::TOKEN)]);

    let mut child = Command::new(binary)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", tmp.path())
        .env("GITOPS_REPO", git.url("acme/env"))
        .env("GITOPS_BRANCH", "main")
        .env("GITOPS_API_URL", github.api_url())
        .env("GITOPS_CA_FILE", &ca)
        .env("GITOPS_NAMESPACE", "default")
        .env("GITOPS_CONFIG", &file)
        .env("GITOPS_LISTEN", "127.0.0.1:0")
        .env("KUBECONFIG", kube.kubeconfig())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the receiver starts");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("the receiver logs").unwrap();
        if let Some(i) = line.find("address=") {
            break line[i + 8..].split_whitespace().next().unwrap().to_string();
        }
    };
    let reverted = Arc::new(AtomicUsize::new(0));
    let r = reverted.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("reverted revision") {
                r.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    // The prober: /readyz every 20 ms while the webhooks arrive.
    let done = Arc::new(AtomicBool::new(false));
    let (probes, unready) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let prober = {
        let (a, d, p, u) = (
            address.clone(),
            done.clone(),
            probes.clone(),
            unready.clone(),
        );
        std::thread::spawn(move || {
            while !d.load(Ordering::SeqCst) {
                p.fetch_add(1, Ordering::SeqCst);
                if send(&a, "GET", "/readyz", "") != 200 {
                    u.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let start = Instant::now();
    let answers: Vec<Vec<u16>> = std::thread::scope(|s| {
        // Flagger fails two canaries while the webhooks arrive.
        let kube = &kube;
        s.spawn(move || {
            std::thread::sleep(FAIL_AT);
            for n in 0..FAILED {
                kube.add_workload(canary(&format!("app-{n}"), "Failed"));
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let address = &address;
                s.spawn(move || {
                    (c..WEBHOOKS)
                        .step_by(CLIENTS)
                        .map(|i| {
                            let (path, body) = webhook(i);
                            let status = send(address, "POST", path, &body);
                            std::thread::sleep(PACE);
                            status
                        })
                        .collect()
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let sent_in = start.elapsed();
    // The reverts finish; then the receiver is stopped.
    let end = Instant::now() + Duration::from_secs(60);
    while (github.pulls().len() < FAILED || reverted.load(Ordering::SeqCst) < FAILED)
        && Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::SeqCst);
    prober.join().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exit = child.wait().unwrap();

    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for a in answers.iter().flatten() {
        *by_status.entry(*a).or_default() += 1;
    }
    let pulls = github.pulls().len();
    let mut out = String::new();
    writeln!(
        out,
        "\nReceiver under load: {WEBHOOKS} webhooks from {CLIENTS} clients in {:.2} s ({CANARIES} listed Canaries, {FAILED} failing {}s in; 60% valid, 10% unlisted, 10% bad JSON, 10% over 64 KiB, 10% no route)",
        sent_in.as_secs_f64(),
        FAIL_AT.as_secs()
    )
    .unwrap();
    let answered: Vec<String> = by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    writeln!(out, "  answers                {}", answered.join(", ")).unwrap();
    writeln!(
        out,
        "  /readyz                {} probes, {} not ready",
        probes.load(Ordering::SeqCst),
        unready.load(Ordering::SeqCst)
    )
    .unwrap();
    writeln!(
        out,
        "  revert PRs             {pulls} (target: exactly {FAILED})"
    )
    .unwrap();
    writeln!(
        out,
        "  peak RSS               {:.1} MB (target: <= 20 MB)",
        peak_kib as f64 / 1024.0
    )
    .unwrap();
    writeln!(
        out,
        "  stopped on SIGTERM     exit {}; webhooks sent within 30 s: {}",
        exit.code().unwrap_or(-1),
        if sent_in <= Duration::from_secs(30) {
            "yes"
        } else {
            "no"
        }
    )
    .unwrap();
    out
}
