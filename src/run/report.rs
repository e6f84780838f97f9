//! The result of a run: one JSON object on stdout, and the same (cut to 4096 bytes, the
//! kubelet's limit) in the Job's termination log, so `kubectl get pod -o yaml` shows it.

use std::{collections::BTreeMap, time::Instant};

use serde::Serialize;

use crate::{config::Config, host, kube::apply::Applied, text::truncate};

/// What the report says of the commit status (GITOPS_STATUS).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    #[serde(flatten)]
    pub status: host::status::CommitStatus,
    /// `set`, `unchanged`, `would_set`, or `failed` (a warning says why).
    pub action: &'static str,
}

/// What happened.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// True when this run changed something: it pushed, or created or updated the pull
    /// request. A rerun that finds everything in place is `false`.
    pub changed: bool,
    /// True when the promotion changes the Env repo: its commit is on the PR branch or the
    /// synced branch (pushed now or by an earlier run). `false`: the repo already records it.
    pub promotes: bool,
    /// True when this run pushed.
    pub pushed: bool,
    pub dry_run: bool,
    pub repo: String,
    pub base: String,
    pub branch: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub winner_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub winner: Option<String>,
    /// Why: the Experiment's objectives, rewards, each version's values, and the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::plan::evidence::Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// True when the server filtered what it sent, so only the trees and blobs on the rules'
    /// paths travelled.
    pub partial_fetch: bool,
    /// How the tree was fetched: `tree:0` (only the trees on the rules' paths), `blob:none`
    /// (every tree, the blobs by id) or `whole` (every blob, sifted for the paths on arrival).
    pub fetch: &'static str,
    /// `M path`, `A path`, `D path` lines.
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr: Option<host::PullRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr_action: Option<host::Action>,
    /// The commit status set on the PR's head (GITOPS_STATUS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusReport>,
    /// What became of the merge, when one was asked for (GITOPS_MERGE, GITOPS_MERGE_WAIT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeReport>,
    /// True when Argo CD reported the pushed commit Synced and Healthy (GITOPS_ARGOCD_WAIT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argocd_synced: Option<bool>,
    /// Things that did not work but do not fail the run (a label that could not be added).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub applied: Vec<Applied>,
    /// Dry run: the objects that would be applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<Box<serde_json::value::RawValue>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
    /// Milliseconds per step.
    pub timings_ms: BTreeMap<String, u64>,
    /// One line for a person: what was promoted, what changed in Git and on the host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// A promotion file: the targets this (combined) change covers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<String>,
    /// A promotion file: one result per target...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetStatus>,
    /// ...and per commit (targets on one repo, branch and PR branch share one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<CommitResult>,
}

/// The merge: as asked, and where it stands.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergeReport {
    pub policy: host::merge::Policy,
    pub method: host::merge::Method,
    pub state: MergeState,
    /// The commit that put the change on the base branch (merged), or the base branch's tip
    /// that already holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Where the merge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeState {
    /// Merged, by this run or (while it waited) by the host or a person.
    Merged,
    /// The host's auto-merge is on; the host merges when the checks pass.
    AutoMerge,
    /// Auto-merge was already on (a rerun): not asked for twice.
    AutoMergeKept,
    /// The base branch already holds the change (a rerun after the merge).
    AlreadyMerged,
    /// A dry run: nothing asked of the host.
    DryRun,
}

impl MergeReport {
    /// For the summary line: `merged 1a2b3c4 (squash)`.
    fn words(&self) -> String {
        let short = self.commit.as_deref().map(|c| c.get(..7).unwrap_or(c));
        let method = self.method.name();
        match (self.state, short) {
            (MergeState::Merged, Some(c)) => format!("merged {c} ({method})"),
            (MergeState::Merged, None) => format!("merged ({method})"),
            (MergeState::AutoMerge, _) => format!("auto-merge on ({method})"),
            (MergeState::AutoMergeKept, _) => "auto-merge already on".into(),
            (MergeState::AlreadyMerged, Some(c)) => format!("already merged at {c}"),
            (MergeState::AlreadyMerged, None) => "already merged".into(),
            (MergeState::DryRun, _) => match self.policy {
                host::merge::Policy::None => "would wait for the merge".into(),
                host::merge::Policy::Auto => format!("would turn auto-merge on ({method})"),
                host::merge::Policy::Now => format!("would merge ({method})"),
            },
        }
    }
}

/// How one target of a promotion file went.
#[derive(Debug, serde::Serialize)]
pub struct TargetStatus {
    pub target: String,
    pub ok: bool,
    pub exit_code: u8,
    /// Its entry in `commits`.
    pub commit: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of the targets that share one commit and pull request.
#[derive(Debug, serde::Serialize)]
pub struct CommitResult {
    pub targets: Vec<String>,
    pub ok: bool,
    pub exit_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

impl Report {
    /// An empty report for `cfg`.
    pub fn new(cfg: &Config) -> Report {
        Report {
            dry_run: cfg.output.dry_run,
            repo: cfg.repo.location.to_string(),
            base: cfg.repo.branch.to_string(),
            branch: cfg.target_branch().to_string(),
            experiment: cfg
                .cluster
                .experiment
                .as_ref()
                .map(|e| format!("{}/{}", e.namespace, e.name)),
            ..Report::default()
        }
    }

    /// The line a person reads last: `what: files; git; pull request; apply`, e.g.
    /// `promoted a.yaml → b.yaml: 1 modified, 3 deleted; pushed iter8_exp d2753af; PR #12 (updated)`.
    pub fn summarize(&mut self, what: &str) {
        let mut counts = BTreeMap::new();
        for f in &self.files {
            let kind = match f.split(' ').next() {
                Some("A") => "added",
                Some("D") => "deleted",
                _ => "modified",
            };
            *counts.entry(kind).or_insert(0) += 1;
        }
        let files = ["modified", "added", "deleted"]
            .iter()
            .filter_map(|k| counts.get(k).map(|n| format!("{n} {k}")))
            .collect::<Vec<_>>()
            .join(", ");
        let short = |c: &String| c.chars().take(7).collect::<String>();
        let git = match (&self.commit, self.pushed, self.promotes, self.dry_run) {
            (_, _, false, _) => "nothing to change in the Env repo".to_string(),
            (_, false, true, true) => format!("would push {}", self.branch),
            (Some(c), true, _, _) => format!("pushed {} {}", self.branch, short(c)),
            (Some(c), false, _, _) => format!("{} already holds it at {}", self.branch, short(c)),
            (None, _, _, _) => format!("on {}", self.branch),
        };
        let mut parts = vec![git];
        if let (Some(pr), Some(action)) = (&self.pr, self.pr_action) {
            parts.push(format!("PR #{} ({})", pr.number, action.words()));
        } else if self.pr_action == Some(host::Action::WouldCreate) {
            parts.push("a PR would be created".into());
        }
        if let Some(m) = &self.merge {
            parts.push(m.words());
            if self.argocd_synced == Some(true) {
                parts.push("Argo CD synced and healthy".into());
            }
        }
        if !self.applied.is_empty() {
            parts.push(format!("applied {} object(s)", self.applied.len()));
        } else if !self.objects.is_empty() {
            parts.push(format!("would apply {} object(s)", self.objects.len()));
        }
        // Why, when an Experiment said so (a winner the operator gave needs no words).
        if let Some(e) = &self.evidence
            && e.verdict != crate::plan::evidence::Verdict::Given
        {
            parts.push(format!("verdict: {}", e.line));
        }
        let head = if self.dry_run {
            format!("dry run: {what}")
        } else {
            what.to_string()
        };
        self.summary = match files.is_empty() {
            true => format!("{head}; {}", parts.join("; ")),
            false => format!("{head}: {files}; {}", parts.join("; ")),
        };
    }

    /// Adds the time since `since` to `step` (steps that repeat add up).
    pub fn timing(&mut self, step: &str, since: Instant) {
        *self.timings_ms.entry(step.to_string()).or_default() += since.elapsed().as_millis() as u64;
    }

    /// The report for the termination log: at most `max` bytes of valid JSON. The diff and
    /// the dry-run objects go first (they are on stdout and in the PR), then the file list.
    pub fn summary_json(&self, max: usize) -> String {
        let mut v = serde_json::to_value(self).expect("the report serializes");
        let Some(m) = v.as_object_mut() else {
            return "{}".into();
        };
        // The diff, the objects and each commit's full report are on stdout.
        for k in ["diff", "objects", "commits"] {
            m.remove(k);
        }
        let fits = |m: &serde_json::Map<String, serde_json::Value>| {
            let s = crate::trust::redact::text(&serde_json::Value::Object(m.clone()).to_string());
            (s.len() <= max).then_some(s)
        };
        if let Some(s) = fits(m) {
            return s;
        }
        m.insert(
            "files".into(),
            serde_json::json!(format!("{} files (see stdout)", self.files.len())),
        );
        m.remove("applied");
        if let Some(s) = fits(m) {
            return s;
        }
        let failed = self.targets.iter().filter(|t| !t.ok).count();
        m.insert(
            "targets".into(),
            serde_json::json!(format!(
                "{} targets, {failed} failed (see stdout)",
                self.targets.len()
            )),
        );
        m.remove("timings_ms");
        if let Some(s) = fits(m) {
            return s;
        }
        // Still too long (huge names): what matters, always valid JSON.
        let small = serde_json::json!({"summary": self.summary, "changed": self.changed, "promotes": self.promotes, "pushed": self.pushed,
            "commit": self.commit, "pr": self.pr.as_ref().map(|p| &p.url), "see": "stdout"});
        crate::trust::redact::text(&small.to_string())
    }

    /// The report as one line of JSON, secrets redacted.
    pub fn to_json(&self) -> String {
        crate::trust::redact::text(&serde_json::to_string(self).expect("the report serializes"))
    }
}

/// The JSON line for a failed run.
pub fn failure_json(message: &str, exit_code: u8) -> String {
    serde_json::json!({"error": message, "exit_code": exit_code}).to_string()
}

/// Writes `json` to the termination log when the path is writable (in a Pod); elsewhere
/// there is no such file and nothing is written.
pub fn write_termination_log(path: &std::path::Path, json: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
    {
        let _ = std::io::Write::write_all(&mut f, truncate(json, 4096).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_termination_summary_is_valid_json_within_the_limit() {
        let r = Report {
            diff: "x".repeat(10_000),
            files: (0..500).map(|i| format!("M file-{i}.yaml")).collect(),
            ..Report::default()
        };
        let s = r.summary_json(4096);
        assert!(s.len() <= 4096);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert!(v.get("diff").is_none());
        assert_eq!(v["files"], "500 files (see stdout)");
    }

    #[test]
    fn a_promotion_files_summary_stays_valid_json_however_many_targets() {
        let r = Report {
            targets: (0..300)
                .map(|i| TargetStatus {
                    target: format!("targets[{i}] (environment-{i})"),
                    ok: i % 7 != 0,
                    exit_code: if i % 7 == 0 { 5 } else { 0 },
                    commit: i,
                    error: (i % 7 == 0).then(|| "edit #1 (yaml-set a.yaml x): has no \"x\"".into()),
                })
                .collect(),
            ..Report::default()
        };
        let s = r.summary_json(4096);
        assert!(s.len() <= 4096);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["targets"], "300 targets, 43 failed (see stdout)");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
