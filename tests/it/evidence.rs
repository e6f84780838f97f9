//! The pull request shows why (issue 24): the verdict first, then the Experiment's evidence,
//! from real Iter8 v0.7 Experiments (`tests/fixtures/experiments/`, see SOURCES.md), through
//! the binary; the report's `evidence` and summary; a rollback said in the title; every
//! host's description limit met by shrinking the diff, then the tables, never the verdict.

use serde_json::{Value, json};
use testkit::Pull;

use crate::util::*;

/// A real Experiment from `tests/fixtures/experiments/`, as the run's (`default/gitops-exp-4890`),
/// each version given the tutorial's `filepath` variable: the baseline `productpage.yaml`,
/// the candidates `productpage-candidate.yaml`. `change` applies a scenario's glue.
pub(crate) fn real_experiment(file: &str, change: impl FnOnce(&mut Value)) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/experiments")
        .join(file);
    let mut e: Value = serde_yaml_ng::from_slice(&std::fs::read(path).unwrap()).unwrap();
    e["metadata"] = json!({"name": "gitops-exp-4890", "namespace": "default", "uid": "uid-1"});
    let var = |file: &str| json!([{"name": "filepath", "value": file}]);
    e["spec"]["versionInfo"]["baseline"]["variables"] = var("productpage.yaml");
    if let Some(cs) = e["spec"]["versionInfo"]["candidates"].as_array_mut() {
        for c in cs {
            c["variables"] = var("productpage-candidate.yaml");
        }
    }
    change(&mut e);
    e
}

/// The tutorial finishing `exp` on GitHub.
pub(crate) fn finishing(exp: Value) -> World {
    let mut w = World::tutorial();
    w.kube.add_experiment("default", "gitops-exp-4890", exp);
    w.set("GITOPS_WINNER", None)
        .set("EXPERIMENT_NAME", Some("gitops-exp-4890"))
        .set("EXPERIMENT_NAMESPACE", Some("default"));
    w
}

/// What a failed canary's run looks like to Iter8's analytics (SOURCES.md, *Glue*).
pub(crate) fn failed_canary(e: &mut Value) {
    let a = &mut e["status"]["analysis"];
    a["aggregatedMetrics"]["data"]["mean-latency"]["data"]["sample-application-v2"]["value"] =
        json!("2500");
    a["versionAssessments"]["data"]["sample-application-v2"] = json!([false, true]);
    a["winnerAssessment"]["data"] = json!({"winnerFound": false});
    e["status"]["versionRecommendedForPromotion"] = json!("sample-application-v1");
}

/// A third version `C` in the A/B experiment (SOURCES.md, *Glue*).
pub(crate) fn third_version(e: &mut Value) {
    let c = json!({"name": "C", "variables": [{"name": "filepath", "value": "productpage-candidate.yaml"}]});
    e["spec"]["versionInfo"]["candidates"]
        .as_array_mut()
        .unwrap()
        .push(c);
    let data = &mut e["status"]["analysis"]["aggregatedMetrics"]["data"];
    for (metric, value) in [
        ("books-purchased", "31000000000n"),
        ("iter8-istio/error-rate", "0"),
        ("iter8-istio/mean-latency", "52000000000n"),
    ] {
        data[metric]["data"]["C"] = json!({"value": value});
    }
    e["status"]["analysis"]["versionAssessments"]["data"]["C"] = json!([true, true]);
    e["status"]["versionRecommendedForPromotion"] = json!("C");
}

/// The five outcomes of the issue, each on a real Experiment: (name, the Experiment).
pub(crate) fn outcomes() -> Vec<(&'static str, Value)> {
    vec![
        ("passed", real_experiment("etc3-experiment10.yaml", |_| {})),
        (
            "rollback",
            real_experiment("etc3-experiment10.yaml", failed_canary),
        ),
        ("ab", real_experiment("etc3-experiment12.yaml", |_| {})),
        (
            "abn",
            real_experiment("etc3-experiment12.yaml", third_version),
        ),
        (
            "conformance",
            real_experiment("etc3-experiment11.yaml", |_| {}),
        ),
    ]
}

/// The report's `evidence` follows `task-spec/evidence.schema.json`.
pub(crate) fn in_schema(report: &Value) {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("task-spec/evidence.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(&report["evidence"])
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{}", report["evidence"]);
}

fn the_pr(w: &World) -> Pull {
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    pulls[0].clone()
}

#[test]
fn a_passed_slo_validation_shows_its_verdict_and_each_versions_values_before_the_diff() {
    let w = finishing(real_experiment("etc3-experiment10.yaml", |_| {}));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let pr = the_pr(&w);
    assert_eq!(pr.title, "Iter8 GitOps");
    let verdict =
        "candidate `sample-application-v2` met 2/2 objectives over 8 iterations; promoted";
    assert!(
        pr.body
            .starts_with(&format!("### Why\n\n**Verdict:** {verdict}\n")),
        "{}",
        pr.body
    );
    for row in [
        "| metric | objective | `sample-application-v1` (baseline) | `sample-application-v2` |",
        "| `mean-latency` | ≤ 2000 | 5.881 (n=1022.56) ✅ | 4.702 (n=514.44) ✅ |",
        "| `error-rate` | ≤ 0.01 | 0 (n=1022.56) ✅ | 0 (n=514.44) ✅ |",
        "Experiment `default/gitops-exp-4890` · testing pattern Canary · 8 iterations · 2021-02-12T19:57:47Z → 2021-02-12T20:01:08Z",
    ] {
        assert!(pr.body.contains(row), "{row}\n{}", pr.body);
    }
    assert!(pr.body.find("### Why") < pr.body.find("```diff"));
    let r = o.report();
    in_schema(&r);
    assert_eq!(r["evidence"]["verdict"], "promoted");
    assert_eq!(r["evidence"]["recommended"], "sample-application-v2");
    assert_eq!(r["evidence"]["objectives"][0]["metric"], "mean-latency");
    assert_eq!(r["evidence"]["objectives"][0]["upper_limit"], 2000.0);
    let v = r["evidence"]["objectives"][0]["results"][1]["value"]
        .as_f64()
        .unwrap();
    assert!((v - 4.701943845).abs() < 1e-9, "{v}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .ends_with(&format!("verdict: {verdict}")),
        "{}",
        r["summary"]
    );
}

#[test]
fn a_failed_canary_is_a_rollback_in_the_title_and_names_the_objective_it_failed() {
    let mut w = finishing(real_experiment("etc3-experiment10.yaml", failed_canary));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let pr = the_pr(&w);
    assert_eq!(
        pr.title,
        "Iter8 GitOps: rollback, candidate failed 1/2 objectives"
    );
    assert!(
        pr.body.contains(
            "**Verdict:** candidate `sample-application-v2` failed `mean-latency` (2500 > 2000 limit); baseline `sample-application-v1` kept"
        ),
        "{}",
        pr.body
    );
    assert!(pr.body.contains("| 2500 (n=514.44) ❌ |"), "{}", pr.body);
    assert_eq!(o.report()["evidence"]["verdict"], "rollback");
    in_schema(&o.report());
    assert_eq!(o.report()["evidence"]["winner_found"], false);

    // The operator's title wins; the body still says why.
    w.github.clear();
    w.set("GITOPS_PR_TITLE", Some("Promote productpage"))
        .set("GITOPS_PR_BRANCH", Some("iter8/other"));
    assert_code(&w.run(&[]), 0);
    let pr = the_pr(&w);
    assert_eq!(pr.title, "Promote productpage");
    assert!(pr.body.contains("baseline `sample-application-v1` kept"));
}

#[test]
fn an_ab_test_marks_the_best_version_on_its_reward() {
    let w = finishing(real_experiment("etc3-experiment12.yaml", |_| {}));
    assert_code(&w.run(&[]), 0);
    let pr = the_pr(&w);
    assert!(
        pr.body.contains(
            "**Verdict:** candidate `B` met 2/2 objectives over 10 iterations, best on `books-purchased`; promoted"
        ),
        "{}",
        pr.body
    );
    assert!(
        pr.body
            .contains("| `books-purchased` | reward, higher is better | 5.03 | 24.454 ⭐ best |"),
        "{}",
        pr.body
    );
    assert!(pr.body.contains("testing pattern A/B"), "{}", pr.body);
}

#[test]
fn an_abn_test_shows_every_version() {
    let w = finishing(real_experiment("etc3-experiment12.yaml", third_version));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let pr = the_pr(&w);
    assert!(
        pr.body
            .contains("| metric | objective | `A` (baseline) | `B` | `C` |\n|---|---|---|---|---|"),
        "{}",
        pr.body
    );
    assert!(pr.body.contains("| 31 ⭐ best |"), "{}", pr.body);
    assert!(
        pr.body.contains("candidate `C` met 2/2 objectives"),
        "{}",
        pr.body
    );
    assert_eq!(o.report()["evidence"]["versions"], json!(["A", "B", "C"]));
    in_schema(&o.report());
}

#[test]
fn a_conformance_test_validates_its_one_version_and_an_analysis_without_a_winner_says_so() {
    let w = finishing(real_experiment("etc3-experiment11.yaml", |_| {}));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let pr = the_pr(&w);
    assert!(
        pr.body.contains(
            "**Verdict:** version `current` met 3/3 objectives over 10 iterations; validated"
        ),
        "{}",
        pr.body
    );
    assert_eq!(o.report()["evidence"]["verdict"], "conformance");
    in_schema(&o.report());

    let w = finishing(real_experiment("etc3-experiment9.yaml", |_| {}));
    assert_code(&w.run(&[]), 0);
    assert!(
        the_pr(&w)
            .body
            .contains("Iter8 found no winner but recommends it; promoted"),
        "{}",
        the_pr(&w).body
    );
}

#[test]
fn a_winner_given_by_the_operator_says_there_is_no_experiment_evidence() {
    let w = World::tutorial();
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert!(
        the_pr(&w).body.starts_with(
            "### Why\n\n**Verdict:** winner given by the operator; no experiment evidence\n"
        ),
        "{}",
        the_pr(&w).body
    );
    assert_eq!(o.report()["evidence"]["verdict"], "given");
    in_schema(&o.report());
}

#[test]
fn names_from_the_experiment_are_data_not_markup() {
    let w = finishing(real_experiment("etc3-experiment10.yaml", |e| {
        e["spec"]["criteria"]["objectives"][0]["metric"] = json!("lat|ency <script>x</script>");
        e["status"]["analysis"]["aggregatedMetrics"]["data"]["lat|ency <script>x</script>"] =
            json!({"data": {"sample-application-v2": {"value": "1"}}});
        e["spec"]["strategy"]["testingPattern"] = json!("<img src=x onerror=alert(1)>");
    }));
    assert_code(&w.run(&[]), 0);
    let body = the_pr(&w).body;
    assert!(
        !body.contains("<script") && !body.contains("<img"),
        "{body}"
    );
    let header = body.lines().find(|l| l.starts_with("| metric")).unwrap();
    let row = body.lines().find(|l| l.contains("lat¦ency")).unwrap();
    assert_eq!(
        header.matches(" |").count(),
        row.matches(" |").count(),
        "{body}"
    );
}

/// A winner whose every line differs from the baseline, just under the size the diff shows
/// line by line (256 KiB): a diff of about 250 KB.
fn big_winner(bare: &std::path::Path) {
    commit_as_someone_else(bare, BRANCH, "refs/heads/gitops", "big", |work| {
        let lines: String = (0..3_800)
            .map(|i| format!("# candidate line {i} that the baseline does not have, at all\n"))
            .collect();
        std::fs::write(work.join(DIR).join("productpage-candidate.yaml"), lines).unwrap();
    });
}

/// Every host's fake refuses a description over its limit (as the host does): on each, a
/// huge diff still gets one PR, within the limit, the verdict first.
#[test]
fn every_hosts_description_limit_is_met_by_shrinking_the_diff_never_the_verdict() {
    let verdict = "**Verdict:** candidate `sample-application-v2` met 2/2 objectives";
    for (host, limit) in [
        ("github", 65_536),
        ("gitlab", 1_048_576),
        ("gitea", 65_536),
        ("azure-devops", 4_000),
        ("bitbucket-server", 32_767),
        ("bitbucket", 262_144),
    ] {
        let passed = finishing(real_experiment("etc3-experiment10.yaml", |_| {}));
        let (w, _, bare, pulls) = crate::status::on_host_finishing(host, passed);
        big_winner(&bare);
        let o = w.run(&[]);
        assert_code(&o, 0);
        let pulls = pulls();
        assert_eq!(pulls.len(), 1, "{host}: {pulls:?}");
        let body = &pulls[0].body;
        assert!(
            body.chars().count() <= limit,
            "{host}: {} characters",
            body.chars().count()
        );
        assert!(body.starts_with("### Why\n\n"), "{host}: {body}");
        assert!(body.contains(verdict), "{host}: {body}");
        let diff = o.report()["diff"].as_str().unwrap().len();
        assert!(diff > 200_000, "{host}: the diff is {diff} bytes");
    }
}
