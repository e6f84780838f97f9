//! The generated pull request text: the verdict a reviewer reads first, the Experiment's
//! evidence, the files and the diff, fitted to what the host takes; and the title, which
//! says a rollback.

use super::report::Report;
use crate::{
    config::Config,
    plan::{
        Plan,
        evidence::{Evidence, Verdict},
    },
    text::truncate,
};

/// A diff block shorter than this is not worth showing: the body says where the diff is.
const MIN_DIFF: usize = 400;

/// The PR body, at most `max` bytes (so at most `max` characters, the hosts' unit). What
/// gives way first is the diff (cut, then left out), then the evidence's tables; the
/// verdict line always stays.
pub fn pr_body(cfg: &Config, report: &Report, plan: &Plan, max: usize) -> String {
    let evidence = report.evidence.as_ref();
    let why = |tables: bool| match evidence {
        Some(e) => format!("### Why\n\n{}\n", e.markdown(tables)),
        None => String::new(),
    };
    let head = intro(cfg, report);
    for tables in [true, false] {
        let top = format!("{}{head}", why(tables));
        if top.len() + MIN_DIFF <= max {
            return format!("{top}{}", diff_block(&plan.diff, max - top.len()));
        }
    }
    // A host with little room (Azure DevOps: 4,000): the verdict, then as much as fits.
    let top = why(false);
    let rest = max.saturating_sub(top.len());
    format!("{top}{}", truncate(&head, rest))
}

/// What is promoted, and the files it changes.
fn intro(cfg: &Config, report: &Report) -> String {
    let mut b = String::from("Iter8 promotes the outcome of an experiment in this Env repo.\n\n");
    if let Some(e) = &report.experiment {
        b.push_str(&format!("- Experiment: `{e}`\n"));
    }
    if let Some(v) = &report.winner_version {
        b.push_str(&format!("- Winning version: `{v}`\n"));
    }
    if let (Some(w), Some(r)) = (&report.winner, cfg.job.finish_rules()) {
        b.push_str(&format!(
            "- Winner manifest: `{w}` becomes `{}`\n",
            r.baseline
        ));
    }
    b.push_str("\nFiles changed:\n");
    for f in &report.files {
        b.push_str(&format!("- `{f}`\n"));
    }
    b
}

/// The diff, in a folded block of at most `room` bytes; a note where it does not fit.
fn diff_block(diff: &str, room: usize) -> String {
    const OPEN: &str = "\n<details><summary>Diff</summary>\n\n```diff\n";
    const CUT: &str = "```\n\n(diff cut to fit the PR body)\n</details>\n";
    if room < MIN_DIFF {
        return "\n(The diff does not fit in this host's PR description; see the commit.)\n".into();
    }
    let shown = truncate(diff, room - OPEN.len() - CUT.len());
    if shown.len() < diff.len() {
        format!("{OPEN}{shown}{CUT}")
    } else {
        format!("{OPEN}{shown}```\n</details>\n")
    }
}

/// The PR title: the operator's (GITOPS_PR_TITLE) when given; else the default, which says
/// a rollback, so a reviewer sees it in the list of PRs.
pub fn title(cfg: &Config, evidence: Option<&Evidence>) -> String {
    let title = &cfg.pr.title;
    match evidence {
        Some(e) if e.verdict == Verdict::Rollback && !cfg.pr.title_given => {
            match e.failed_count() {
                Some((failed, of)) if failed > 0 => {
                    format!("{title}: rollback, candidate failed {failed}/{of} objectives")
                }
                _ => format!("{title}: rollback, baseline kept"),
            }
        }
        _ => title.clone(),
    }
}
