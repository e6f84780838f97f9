//! The fault matrix: every fault at every step of a promotion. Each cell must either converge
//! (exit 0, the promoted tree, exactly one PR, the VirtualService applied) or fail with a clear
//! error after which, the fault healed, a second run converges. A cell that does neither is
//! broken. `cargo test --test it fault_matrix -- --nocapture` prints the table.

use serde_json::json;
use testkit::{Fault, Server};

use crate::util::*;

/// A step of the promotion: which server, and which requests (`METHOD path` contains).
struct Step {
    name: &'static str,
    server: fn(&World) -> &Server,
    matches: &'static str,
}

const STEPS: &[Step] = &[
    Step {
        name: "experiment read",
        server: |w| &w.kube.server,
        matches: "GET /apis/iter8.tools/v2alpha2/namespaces/default/experiments",
    },
    Step {
        name: "secret read",
        server: |w| &w.kube.server,
        matches: "GET /api/v1/namespaces/default/secrets/iter8-token",
    },
    Step {
        name: "git handshake",
        server: |w| &w.git.server,
        matches: "GET /acme/env.git/info/refs",
    },
    Step {
        name: "fetch",
        server: |w| &w.git.server,
        matches: "POST /acme/env.git/git-upload-pack",
    },
    Step {
        name: "discovery",
        server: |w| &w.kube.server,
        matches: "GET /apis/networking.istio.io/v1alpha3",
    },
    Step {
        name: "push",
        server: |w| &w.git.server,
        matches: "POST /acme/env.git/git-receive-pack",
    },
    Step {
        name: "PR lookup",
        server: |w| &w.github.server,
        matches: "GET /repos/acme/env/pulls",
    },
    Step {
        name: "PR create",
        server: |w| &w.github.server,
        matches: "POST /repos/acme/env/pulls",
    },
    Step {
        name: "apply",
        server: |w| &w.kube.server,
        matches: "PATCH /apis/networking.istio.io",
    },
];

const FAULTS: &[&str] = &["500", "502", "503", "429+Retry-After", "reset", "truncate"];

fn fault(kind: &str, matches: &str, times: usize) -> Fault {
    match kind {
        "reset" => Fault::reset(matches, times),
        "truncate" => Fault::truncate(matches, times),
        "429+Retry-After" => Fault::status(matches, 429, times).header("retry-after", "1"),
        code => Fault::status(matches, code.parse().unwrap(), times),
    }
}

fn world() -> World {
    let mut w = World::tutorial();
    let mut e: serde_json::Value =
        serde_yaml_ng::from_slice(&std::fs::read(before().join("experiment.yaml")).unwrap())
            .unwrap();
    e["metadata"]["namespace"] = json!("default");
    e["status"] = json!({"versionRecommendedForPromotion": "productpage-candidate"});
    w.kube.add_experiment("default", "gitops-exp-4890", e);
    w.set("GITOPS_WINNER", None)
        .set("EXPERIMENT_NAME", Some("gitops-exp-4890"))
        .set("EXPERIMENT_NAMESPACE", Some("default"));
    w.set("GITOPS_TIMEOUT", Some("40"));
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
    Ok(())
}

#[derive(Default)]
struct Tally {
    run: usize,
    converged: usize,
    failed_cleanly: usize,
    broken: Vec<String>,
}

fn cell(step: &Step, kind: &str, times: usize, t: &mut Tally) -> &'static str {
    t.run += 1;
    let w = world();
    (step.server)(&w).fault(fault(kind, step.matches, times));
    let o = run_binary(&w.env, &[], &[TOKEN, KUBE_TOKEN]);
    if o.code == 0 {
        return match converged(&w) {
            Ok(()) => {
                t.converged += 1;
                "converged"
            }
            Err(e) => {
                t.broken
                    .push(format!("{} / {kind} x{times}: exit 0 but {e}", step.name));
                "BROKEN"
            }
        };
    }
    if !o.stderr.contains("error: ") {
        t.broken.push(format!(
            "{} / {kind} x{times}: exit {} without an error message",
            step.name, o.code
        ));
        return "BROKEN";
    }
    (step.server)(&w).clear_faults();
    let again = run_binary(&w.env, &[], &[TOKEN, KUBE_TOKEN]);
    match (again.code, converged(&w)) {
        (0, Ok(())) => {
            t.failed_cleanly += 1;
            "failed cleanly"
        }
        (code, r) => {
            t.broken.push(format!(
                "{} / {kind} x{times}: rerun exit {code}, {r:?}; first: {}",
                step.name,
                o.stderr.trim()
            ));
            "BROKEN"
        }
    }
}

#[test]
fn fault_matrix() {
    let mut t = Tally::default();
    let mut table = format!("{:<16}", "step");
    for f in FAULTS {
        table.push_str(&format!(" | {f:<15}"));
    }
    table.push_str(&format!(" | {:<15}\n", "503 x all"));
    for step in STEPS {
        table.push_str(&format!("{:<16}", step.name));
        // Once: a blip the retries absorb.
        for kind in FAULTS {
            let r = cell(step, kind, 1, &mut t);
            table.push_str(&format!(" | {r:<15}"));
        }
        // Every time: the step is down; the run must fail cleanly and the rerun converge.
        let r = cell(step, "503", 1000, &mut t);
        table.push_str(&format!(" | {r:<15}\n"));
    }
    println!("\n{table}");
    println!(
        "cells run: {}, converged: {}, failed cleanly: {}, broken: {}",
        t.run,
        t.converged,
        t.failed_cleanly,
        t.broken.len()
    );
    assert!(
        t.broken.is_empty(),
        "broken cells:\n{}",
        t.broken.join("\n")
    );
}
