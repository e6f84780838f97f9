//! Pure: why the promotion is what it is, read from the Iter8 v0.7 Experiment
//! (`iter8.tools/v2alpha2`) that ran it: its objectives and rewards, each version's values
//! and assessments, the winner, and one verdict line. Rendered into the PR body (Markdown,
//! every value from the Experiment escaped), the report's `evidence` and the summary line.
//!
//! Missing pieces are normal (no analysis yet, no rewards, a metric with no value for a
//! version): what is there is shown, and nothing here can fail a promotion.

use serde::Serialize;
use serde_json::Value;

/// The longest name or message taken from the Experiment (it is data, shown to reviewers).
const MAX_TEXT: usize = 120;
/// The most metrics and versions shown: an Experiment has a handful.
const MAX_ROWS: usize = 32;

/// What the run promotes and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// `promoted` (a candidate), `rollback` (the baseline stays), `conformance` (the one
    /// version was validated) or `given` (GITOPS_WINNER, no Experiment).
    pub verdict: Verdict,
    /// One line for a person, e.g. "candidate `B` met 2/2 objectives over 10 iterations; promoted";
    /// names from the Experiment are in code spans, made safe for Markdown.
    pub line: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub testing_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// The baseline first, then the candidates.
    pub versions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub winner_found: Option<bool>,
    pub objectives: Vec<Objective>,
    pub rewards: Vec<Reward>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Promoted,
    Rollback,
    Conformance,
    Given,
}

/// One objective: a limit on a metric, and how each version did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    pub metric: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_limit: Option<f64>,
    /// By version, in `versions` order.
    pub results: Vec<Result>,
}

/// A reward: a metric to maximize or minimize, and the best version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reward {
    pub metric: String,
    /// `High` or `Low`.
    pub preferred: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best: Option<String>,
    pub results: Vec<Result>,
}

/// One version's value of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Result {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<f64>,
    /// The Experiment's assessment of this objective for this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
}

impl Evidence {
    /// A winner given by the operator (GITOPS_WINNER): nothing to show but that.
    pub fn given() -> Evidence {
        Evidence {
            verdict: Verdict::Given,
            line: "winner given by the operator; no experiment evidence".into(),
            experiment: None,
            testing_pattern: None,
            iterations: None,
            started: None,
            ended: None,
            versions: vec![],
            baseline: None,
            recommended: None,
            winner_found: None,
            objectives: vec![],
            rewards: vec![],
        }
    }

    /// What the Experiment `exp` (`namespace/name`) says.
    pub fn from_experiment(id: &str, exp: &Value) -> Evidence {
        let r = Reader::new(exp);
        let s = |p: &str| r.text(p);
        let mut e = Evidence {
            verdict: Verdict::Promoted,
            line: String::new(),
            experiment: Some(text(id)),
            testing_pattern: s("/spec/strategy/testingPattern"),
            iterations: exp
                .pointer("/status/completedIterations")
                .and_then(Value::as_u64),
            started: s("/status/startTime").or_else(|| s("/status/initTime")),
            ended: r.completed_at(),
            baseline: s("/spec/versionInfo/baseline/name"),
            recommended: s("/status/versionRecommendedForPromotion"),
            winner_found: exp
                .pointer("/status/analysis/winnerAssessment/data/winnerFound")
                .and_then(Value::as_bool),
            objectives: r.objectives(),
            rewards: r.rewards(),
            versions: r.versions,
        };
        (e.verdict, e.line) = e.judge();
        e
    }

    /// The verdict and its line, from what the run promotes: the recommended version.
    fn judge(&self) -> (Verdict, String) {
        let total = self.objectives.len();
        let over = match self.iterations {
            Some(n) => format!(" over {n} iterations"),
            None => String::new(),
        };
        let met = |v: &str| {
            self.objectives
                .iter()
                .filter(|o| o.result(v).and_then(|r| r.passed) == Some(true))
                .count()
        };
        let Some(rec) = &self.recommended else {
            return (
                Verdict::Promoted,
                "the Experiment recommends no version yet".into(),
            );
        };
        let is_baseline = self.baseline.as_ref() == Some(rec);
        if self.versions.len() <= 1 && is_baseline {
            let verdict = if met(rec) == total {
                "validated"
            } else {
                "not validated"
            };
            return (
                Verdict::Conformance,
                format!(
                    "version `{}` met {}/{total} objectives{over}; {verdict}",
                    code(rec),
                    met(rec)
                ),
            );
        }
        if is_baseline {
            let candidates = &self.versions[1..];
            let failed: Vec<String> = candidates
                .iter()
                .filter_map(|c| {
                    self.first_failure(c)
                        .map(|f| format!("`{}` failed {f}", code(c)))
                })
                .collect();
            let why = if failed.is_empty() {
                "no candidate was found better".to_string()
            } else {
                format!("candidate {}", failed.join("; candidate "))
            };
            return (
                Verdict::Rollback,
                format!("{why}; baseline `{}` kept", code(rec)),
            );
        }
        let mut line = format!(
            "candidate `{}` met {}/{total} objectives{over}",
            code(rec),
            met(rec)
        );
        for r in &self.rewards {
            if r.best.as_deref() == Some(rec.as_str()) {
                line.push_str(&format!(", best on `{}`", code(&r.metric)));
            }
        }
        if self.winner_found == Some(false) {
            line.push_str("; Iter8 found no winner but recommends it");
        }
        line.push_str("; promoted");
        (Verdict::Promoted, line)
    }

    /// The first objective `version` failed, as "`metric` (312 > 250 limit)".
    fn first_failure(&self, version: &str) -> Option<String> {
        self.objectives.iter().find_map(|o| {
            let r = o.result(version)?;
            if r.passed != Some(false) {
                return None;
            }
            let value = r.value.map_or("no value".into(), number);
            Some(match (o.upper_limit, o.lower_limit) {
                (Some(u), _) => format!("`{}` ({value} > {} limit)", code(&o.metric), number(u)),
                (_, Some(l)) => format!("`{}` ({value} < {} limit)", code(&o.metric), number(l)),
                _ => format!("`{}`", code(&o.metric)),
            })
        })
    }

    /// How many objectives the first failing candidate failed, and of how many, for a
    /// rollback's title: "candidate failed 1/2 objectives".
    pub fn failed_count(&self) -> Option<(usize, usize)> {
        let candidate = self.versions.get(1)?;
        let failed = self
            .objectives
            .iter()
            .filter(|o| o.result(candidate).and_then(|r| r.passed) == Some(false))
            .count();
        Some((failed, self.objectives.len()))
    }

    /// The Markdown a reviewer reads first: the verdict line (always), then, with `tables`,
    /// the objectives, the rewards and the facts of the run. Every value from the Experiment
    /// is escaped.
    pub fn markdown(&self, tables: bool) -> String {
        // The line's names are code spans already made safe (`code`); the rest is ours.
        let mut out = format!("**Verdict:** {}\n", self.line);
        if !tables {
            return out;
        }
        if !self.objectives.is_empty() || !self.rewards.is_empty() {
            out.push('\n');
            out.push_str(&self.table());
        }
        let mut facts = vec![];
        if let Some(e) = &self.experiment {
            facts.push(format!("Experiment `{}`", code(e)));
        }
        if let Some(p) = &self.testing_pattern {
            facts.push(format!("testing pattern {}", cell(p)));
        }
        if let Some(n) = self.iterations {
            facts.push(format!("{n} iterations"));
        }
        if let (Some(a), Some(b)) = (&self.started, &self.ended) {
            facts.push(format!("{} → {}", cell(a), cell(b)));
        }
        if !facts.is_empty() {
            out.push_str(&format!("\n{}\n", facts.join(" · ")));
        }
        out
    }

    fn table(&self) -> String {
        let mut out = String::from("| metric | objective |");
        for (i, v) in self.versions.iter().enumerate() {
            let role = if i == 0 { " (baseline)" } else { "" };
            out.push_str(&format!(" `{}`{role} |", code(v)));
        }
        out.push_str("\n|---|---|");
        out.push_str(&"---|".repeat(self.versions.len()));
        out.push('\n');
        for o in &self.objectives {
            let limit = match (o.upper_limit, o.lower_limit) {
                (Some(u), Some(l)) => format!("{} ≤ x ≤ {}", number(l), number(u)),
                (Some(u), None) => format!("≤ {}", number(u)),
                (None, Some(l)) => format!("≥ {}", number(l)),
                (None, None) => "-".into(),
            };
            out.push_str(&format!("| `{}` | {limit} |", code(&o.metric)));
            for r in &o.results {
                let mark = match r.passed {
                    Some(true) => " ✅",
                    Some(false) => " ❌",
                    None => "",
                };
                out.push_str(&format!(" {}{mark} |", value_cell(r)));
            }
            out.push('\n');
        }
        for w in &self.rewards {
            let direction = if w.preferred == "Low" {
                "reward, lower is better"
            } else {
                "reward, higher is better"
            };
            out.push_str(&format!("| `{}` | {direction} |", code(&w.metric)));
            for r in &w.results {
                let best = if w.best.as_ref() == Some(&r.version) {
                    " ⭐ best"
                } else {
                    ""
                };
                out.push_str(&format!(" {}{best} |", value_cell(r)));
            }
            out.push('\n');
        }
        out
    }
}

impl Objective {
    fn result(&self, version: &str) -> Option<&Result> {
        self.results.iter().find(|r| r.version == version)
    }
}

/// The Experiment, read piece by piece; every name cut and cleaned ([`text`]).
struct Reader<'e> {
    exp: &'e Value,
    /// The baseline first, then the candidates.
    versions: Vec<String>,
    /// The metric whose value is each version's sample size (`spec.criteria.requestCount`).
    sample_metric: Option<String>,
}

impl<'e> Reader<'e> {
    fn new(exp: &'e Value) -> Reader<'e> {
        let name = |v: &Value| v.get("name").and_then(Value::as_str).map(text);
        let baseline = exp.pointer("/spec/versionInfo/baseline").and_then(name);
        let candidates = array(exp, "/spec/versionInfo/candidates").take(MAX_ROWS);
        Reader {
            exp,
            versions: baseline
                .into_iter()
                .chain(candidates.filter_map(name))
                .collect(),
            sample_metric: exp
                .pointer("/spec/criteria/requestCount")
                .and_then(Value::as_str)
                .map(text),
        }
    }

    fn text(&self, pointer: &str) -> Option<String> {
        self.exp.pointer(pointer).and_then(Value::as_str).map(text)
    }

    /// `version`'s aggregated value of `metric`, and its sample size.
    fn value(&self, metric: &str, version: &str) -> (Option<f64>, Option<f64>) {
        let at = |m: &str| {
            self.exp
                .pointer("/status/analysis/aggregatedMetrics/data")
                .and_then(|d| d.get(m)?.pointer("/data")?.get(version))
        };
        let value = at(metric).and_then(|v| quantity(v.get("value")?));
        let sample = at(metric)
            .and_then(|v| quantity(v.get("sampleSize")?))
            .or_else(|| at(self.sample_metric.as_deref()?).and_then(|v| quantity(v.get("value")?)));
        (value, sample)
    }

    /// Each version's result for `metric`; `passed` from the `i`th assessment, if any.
    fn results(&self, metric: &str, assessment: Option<usize>) -> Vec<Result> {
        let passed = |version: &str| {
            self.exp
                .pointer("/status/analysis/versionAssessments/data")
                .and_then(|d| d.get(version)?.get(assessment?)?.as_bool())
        };
        self.versions
            .iter()
            .map(|v| {
                let (value, sample_size) = self.value(metric, v);
                Result {
                    version: v.clone(),
                    value,
                    sample_size,
                    passed: passed(v),
                }
            })
            .collect()
    }

    fn objectives(&self) -> Vec<Objective> {
        array(self.exp, "/spec/criteria/objectives")
            .take(MAX_ROWS)
            .enumerate()
            .filter_map(|(i, o)| {
                let metric = text(o.get("metric")?.as_str()?);
                Some(Objective {
                    upper_limit: o.get("upperLimit").and_then(quantity),
                    lower_limit: o.get("lowerLimit").and_then(quantity),
                    results: self.results(&metric, Some(i)),
                    metric,
                })
            })
            .collect()
    }

    fn rewards(&self) -> Vec<Reward> {
        array(self.exp, "/spec/criteria/rewards")
            .take(MAX_ROWS)
            .filter_map(|r| {
                let metric = text(r.get("metric")?.as_str()?);
                let preferred = r
                    .get("preferredDirection")
                    .and_then(Value::as_str)
                    .map_or("High".to_string(), text);
                let results = self.results(&metric, None);
                Some(Reward {
                    best: best(&results, preferred == "Low"),
                    metric,
                    preferred,
                    results,
                })
            })
            .collect()
    }

    /// When the `Completed` condition turned true.
    fn completed_at(&self) -> Option<String> {
        array(self.exp, "/status/conditions")
            .find(|c| {
                c.get("type").and_then(Value::as_str) == Some("Completed")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
            .and_then(|c| c.get("lastTransitionTime")?.as_str().map(text))
    }
}

fn array<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The best version of a reward: the highest value (or lowest, for `Low`).
fn best(results: &[Result], low: bool) -> Option<String> {
    results
        .iter()
        .filter_map(|r| Some((r.value?, &r.version)))
        .max_by(|a, b| {
            let o = a.0.total_cmp(&b.0);
            if low { o.reverse() } else { o }
        })
        .map(|(_, v)| v.clone())
}

fn value_cell(r: &Result) -> String {
    match (r.value, r.sample_size) {
        (Some(v), Some(n)) => format!("{} (n={})", number(v), number(n)),
        (Some(v), None) => number(v),
        (None, _) => "no value".into(),
    }
}

/// A Kubernetes quantity (`"312m"`, `"90846332047n"`, `"1k"`, `"0.01"`, `2000`) as a number.
pub fn quantity(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let split = s
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    num.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(|n| n * scale)
}

/// A value as a person reads it: at most four significant decimals, no trailing zeros.
pub fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{n:.0}");
    }
    let digits = if n.abs() >= 100.0 {
        2
    } else if n.abs() >= 1.0 {
        3
    } else {
        4
    };
    // Tiny values (a rate of 1e-6) keep their first significant digits, without the
    // exponent notation a reviewer would have to decode.
    let digits = if n.abs() < 1e-4 { 12 } else { digits };
    let s = format!("{n:.digits$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A name from the Experiment, cut to [`MAX_TEXT`] and with control characters replaced.
fn text(s: &str) -> String {
    s.chars()
        .take(MAX_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text inside a code span: backticks and pipes cannot close it or the table cell, and angle
/// brackets become look-alikes, so no renderer (GitHub's, Azure DevOps', Bitbucket's) can
/// take any of it for HTML.
fn code(s: &str) -> String {
    s.replace('`', "'")
        .replace('|', "¦")
        .replace('<', "‹")
        .replace('>', "›")
}

/// Text in a table cell, as plain text: nothing in it is markup.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '!' | '~' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canary(assessed: [bool; 2], rec: &str, latency: &str) -> Value {
        json!({
            "spec": {
                "criteria": {"objectives": [
                    {"metric": "mean-latency", "upperLimit": "250"},
                    {"metric": "error-rate", "upperLimit": "10m"}
                ], "requestCount": "request-count"},
                "strategy": {"testingPattern": "Canary"},
                "versionInfo": {"baseline": {"name": "stable"}, "candidates": [{"name": "candidate"}]}
            },
            "status": {
                "completedIterations": 12,
                "versionRecommendedForPromotion": rec,
                "analysis": {
                    "aggregatedMetrics": {"data": {
                        "mean-latency": {"data": {"stable": {"value": "200"}, "candidate": {"value": latency}}},
                        "error-rate": {"data": {"stable": {"value": "0"}, "candidate": {"value": "0"}}},
                        "request-count": {"data": {"stable": {"value": "1k"}}}
                    }},
                    "versionAssessments": {"data": {"stable": [true, true], "candidate": assessed}}
                }
            }
        })
    }

    #[test]
    fn a_promoted_candidate_says_how_many_objectives_it_met() {
        let e = Evidence::from_experiment("ns/exp", &canary([true, true], "candidate", "180"));
        assert_eq!(e.verdict, Verdict::Promoted);
        assert_eq!(
            e.line,
            "candidate `candidate` met 2/2 objectives over 12 iterations; promoted"
        );
        let md = e.markdown(true);
        assert!(
            md.contains("| `mean-latency` | ≤ 250 | 200 (n=1000) ✅ | 180 ✅ |"),
            "{md}"
        );
        assert!(md.contains("| `error-rate` | ≤ 0.01 |"), "{md}");
    }

    #[test]
    fn a_rollback_names_the_objective_the_candidate_failed_and_its_value() {
        let e = Evidence::from_experiment("ns/exp", &canary([false, true], "stable", "312m"));
        assert_eq!(e.verdict, Verdict::Rollback);
        assert_eq!(
            e.line,
            "candidate `candidate` failed `mean-latency` (0.312 > 250 limit); baseline `stable` kept"
        );
        assert_eq!(e.failed_count(), Some((1, 2)));
        assert!(e.markdown(true).contains("❌"));
    }

    #[test]
    fn missing_pieces_render_what_is_there() {
        let mut exp = canary([true, true], "candidate", "180");
        exp["status"]["analysis"] = json!(null);
        let e = Evidence::from_experiment("ns/exp", &exp);
        let md = e.markdown(true);
        assert!(md.contains("no value"), "{md}");
        assert_eq!(
            e.line,
            "candidate `candidate` met 0/2 objectives over 12 iterations; promoted"
        );
        let e = Evidence::from_experiment("ns/exp", &json!({}));
        assert_eq!(e.line, "the Experiment recommends no version yet");
        assert!(e.markdown(true).starts_with("**Verdict:**"));
    }

    #[test]
    fn hostile_names_cannot_break_the_table_or_inject_markup() {
        let mut exp = canary([true, true], "<img src=x>", "180");
        exp["spec"]["versionInfo"]["candidates"][0]["name"] = json!("<img src=x>");
        exp["spec"]["criteria"]["objectives"][0]["metric"] = json!("a|b`c\n| x |");
        let md = Evidence::from_experiment("ns/exp", &exp).markdown(true);
        assert!(!md.contains("<img"), "{md}");
        let header = md.lines().find(|l| l.starts_with("| metric")).unwrap();
        let row = md.lines().find(|l| l.contains("a¦b")).unwrap();
        let cells = |l: &str| l.matches(" |").count();
        assert_eq!(cells(header), cells(row), "{md}");
        assert_eq!(
            md.matches('`').count() % 2,
            0,
            "code spans stay balanced:\n{md}"
        );
    }

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        for (q, n) in [
            (json!("90846332047n"), 90.846332047),
            (json!("312m"), 0.312),
            (json!("1k"), 1000.0),
            (json!("0.01"), 0.01),
            (json!(2000), 2000.0),
            (json!("1Ki"), 1024.0),
        ] {
            assert!((quantity(&q).unwrap() - n).abs() < 1e-9, "{q}");
        }
        assert_eq!(quantity(&json!("12 apples")), None);
        assert_eq!(number(90.846332047), "90.846");
        assert_eq!(number(0.01), "0.01");
        assert_eq!(number(1506.618095820), "1506.62");
    }
}
