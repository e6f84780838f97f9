//! The fault matrix: every fault at every step of a promotion (PR update with an open PR there). Each cell must either converge
//! (exit 0, the promoted tree, exactly one PR, the VirtualService applied) or fail with a clear
//! error after which, the fault healed, a second run converges. A stalled server must never
//! hang a run: GITOPS_REQUEST_TIMEOUT cuts each call and the retry goes on. A server that
//! dies ("refused") drops its connections and refuses new ones for a while. A cell that does
//! neither is broken. `cargo test --test it fault_matrix -- --nocapture` prints the table.

use testkit::{Fault, Server};

use crate::util::*;

/// A step of the promotion: which server, and which requests (`METHOD path` contains), and
/// what the world needs for the step to happen at all.
struct Step {
    name: &'static str,
    server: fn(&World) -> &Server,
    matches: &'static str,
    setup: fn(&mut World),
}

fn nothing(_: &mut World) {}

/// The PR merged by the tool (`now`) or by the host's auto-merge, waited for.
fn merging(w: &mut World, policy: &str) {
    w.set("GITOPS_MERGE", Some(policy));
    let m = w.github.serve_merges(&w.bare());
    if policy == "auto" {
        m.set(|r| r.pending_reads = 2);
        w.set("GITOPS_MERGE_WAIT", Some("20s"));
    }
}

const STEPS: &[Step] = &[
    Step {
        name: "experiment read",
        server: |w| &w.kube.server,
        matches: "GET /apis/iter8.tools/v2alpha2/namespaces/default/experiments",
        setup: nothing,
    },
    Step {
        name: "secret read",
        server: |w| &w.kube.server,
        matches: "GET /api/v1/namespaces/default/secrets/iter8-token",
        setup: nothing,
    },
    Step {
        name: "git handshake",
        server: |w| &w.git.server,
        matches: "GET /acme/env.git/info/refs",
        setup: nothing,
    },
    Step {
        name: "fetch",
        server: |w| &w.git.server,
        matches: "POST /acme/env.git/git-upload-pack",
        setup: nothing,
    },
    Step {
        name: "discovery",
        server: |w| &w.kube.server,
        matches: "GET /apis/networking.istio.io/v1alpha3",
        setup: nothing,
    },
    Step {
        name: "push",
        server: |w| &w.git.server,
        matches: "POST /acme/env.git/git-receive-pack",
        setup: nothing,
    },
    Step {
        name: "PR lookup",
        server: |w| &w.github.server,
        matches: "GET /api/v3/repos/acme/env/pulls",
        setup: nothing,
    },
    Step {
        name: "PR create",
        server: |w| &w.github.server,
        matches: "POST /api/v3/repos/acme/env/pulls",
        setup: nothing,
    },
    Step {
        name: "PR update",
        server: |w| &w.github.server,
        matches: "PATCH /api/v3/repos/acme/env/pulls",
        // An open PR with stale text: the run updates it instead of creating one.
        setup: |w| {
            w.github.add("acme:iter8_exp", "gitops", "a stale title");
        },
    },
    Step {
        name: "merge",
        server: |w| &w.github.server,
        matches: "PUT /api/v3/repos/acme/env/pulls/1/merge",
        setup: |w| merging(w, "now"),
    },
    Step {
        name: "auto-merge",
        server: |w| &w.github.server,
        matches: "POST /api/graphql",
        setup: |w| merging(w, "auto"),
    },
    Step {
        name: "merge wait",
        server: |w| &w.github.server,
        matches: "GET /api/v3/repos/acme/env/pulls/1",
        setup: |w| merging(w, "auto"),
    },
    Step {
        name: "apply",
        server: |w| &w.kube.server,
        matches: "PATCH /apis/networking.istio.io",
        setup: nothing,
    },
];

const FAULTS: &[&str] = &[
    "500",
    "502",
    "503",
    "429",
    "429+Retry-After",
    "refused",
    "reset",
    "truncate",
    "stall",
];

fn fault(kind: &str, matches: &str, times: usize) -> Fault {
    match kind {
        "reset" => Fault::reset(matches, times),
        // The server dies at this request and its port refuses connections for 1.5 s.
        "refused" => Fault::down(matches, std::time::Duration::from_millis(1500), times),
        "truncate" => Fault::truncate(matches, times),
        // Past GITOPS_REQUEST_TIMEOUT (3s) and a git transfer's four times it.
        "stall" => Fault::stall(matches, std::time::Duration::from_secs(13), times),
        "429+Retry-After" => Fault::status(matches, 429, times).header("retry-after", "1"),
        code => Fault::status(matches, code.parse().unwrap(), times),
    }
}

fn world() -> World {
    let mut w = World::tutorial();
    w.finishing_the_experiment();
    w.set("GITOPS_TIMEOUT", Some("60"))
        .set("GITOPS_REQUEST_TIMEOUT", Some("3"));
    w
}

fn converged(w: &World) -> Result<(), String> {
    let co = w.checkout("iter8_exp");
    let same = std::panic::catch_unwind(|| assert_same_tree(&co.path().join(DIR), &after()));
    if same.is_err() {
        return Err("wrong tree".into());
    }
    let pulls = w.github.pulls();
    if pulls.len() != 1 {
        return Err(format!("{} PRs", pulls.len()));
    }
    if w.applied_vs().is_none() {
        return Err("not applied".into());
    }
    if w.env.iter().any(|(k, _)| k == "GITOPS_MERGE") {
        let base = w.checkout(BRANCH);
        let merged =
            std::panic::catch_unwind(|| assert_same_tree(&base.path().join(DIR), &after()));
        if merged.is_err() || pulls[0].open {
            return Err("not merged".into());
        }
    }
    Ok(())
}

/// How a cell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Converged,
    FailedCleanly,
    Broken,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Converged => "converged",
            Outcome::FailedCleanly => "failed cleanly",
            Outcome::Broken => "BROKEN",
        }
    }
}

/// Runs one cell in a world of its own; `Err` says why it is broken.
fn cell(step: &Step, kind: &str, times: usize) -> Result<Outcome, String> {
    let mut w = world();
    (step.setup)(&mut w);
    (step.server)(&w).fault(fault(kind, step.matches, times));
    let o = run_binary(&w.env, &[], &[TOKEN, KUBE_TOKEN]);
    if o.code == 0 {
        return converged(&w)
            .map(|()| Outcome::Converged)
            .map_err(|e| format!("exit 0 but {e}"));
    }
    if !o.stderr.contains("error: ") {
        return Err(format!("exit {} without an error message", o.code));
    }
    (step.server)(&w).clear_faults();
    // The rerun, with the fault healed and the default request timeout.
    let env: Vec<_> = w
        .env
        .iter()
        .filter(|(k, _)| k != "GITOPS_REQUEST_TIMEOUT")
        .cloned()
        .collect();
    let again = run_binary(&env, &[], &[TOKEN, KUBE_TOKEN]);
    match (again.code, converged(&w)) {
        (0, Ok(())) => Ok(Outcome::FailedCleanly),
        (code, r) => Err(format!(
            "rerun exit {code}, {r:?}; first: {}",
            o.stderr.trim()
        )),
    }
}

#[test]
fn fault_matrix() {
    // Once: a blip the retries absorb. Always: the step is down; the run must fail cleanly and
    // a rerun, the fault healed, converge.
    let mut columns: Vec<(&str, usize)> = FAULTS.iter().map(|f| (*f, 1)).collect();
    columns.push(("503", 1000));
    let cells: Vec<(usize, usize)> = (0..STEPS.len())
        .flat_map(|s| (0..columns.len()).map(move |c| (s, c)))
        .collect();
    // Each cell has its own servers and mostly waits (backoff, timeouts): run several at once.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; cells.len()]);
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&(s, c)) = cells.get(i) else { break };
                    let r = cell(&STEPS[s], columns[c].0, columns[c].1);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    let results: Vec<Result<Outcome, String>> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();

    let mut table = format!("{:<16}", "step");
    for (f, times) in &columns {
        let head = if *times == 1 {
            f.to_string()
        } else {
            format!("{f} always")
        };
        table.push_str(&format!(" | {head:<15}"));
    }
    table.push('\n');
    let mut broken = vec![];
    for (s, step) in STEPS.iter().enumerate() {
        table.push_str(&format!("{:<16}", step.name));
        for (c, (kind, times)) in columns.iter().enumerate() {
            let r = &results[s * columns.len() + c];
            let label = r.as_ref().map_or(Outcome::Broken, |o| *o).label();
            if let Err(e) = r {
                broken.push(format!("{} / {kind} x{times}: {e}", step.name));
            }
            table.push_str(&format!(" | {label:<15}"));
        }
        table.push('\n');
    }
    let count = |o: Outcome| {
        results
            .iter()
            .filter(|r| r.as_ref().ok() == Some(&o))
            .count()
    };
    println!("\n{table}");
    println!(
        "cells run: {}, converged: {}, failed cleanly: {}, broken: {}",
        results.len(),
        count(Outcome::Converged),
        count(Outcome::FailedCleanly),
        broken.len()
    );
    assert!(broken.is_empty(), "broken cells:\n{}", broken.join("\n"));
}
