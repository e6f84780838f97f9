//! The outputs a CI system reads after the step (GITOPS_OUTPUTS): the commit, the pull
//! request and the one-line summary, as one file each (Tekton results, Argo Workflows output
//! parameters) or as `name=value` lines in `$GITHUB_OUTPUT` (a GitHub Actions step).

use std::io::Write;

use super::report::Report;
use crate::config::output::Outputs;

/// The outputs of a run, in the order they are written; an empty value is written too, so a
/// step that reads one always finds it.
pub fn values(report: &Report) -> Vec<(&'static str, String)> {
    let pr = report.pr.as_ref();
    vec![
        ("commit", report.commit.clone().unwrap_or_default()),
        ("pr-url", pr.map(|p| p.url.clone()).unwrap_or_default()),
        (
            "pr-number",
            pr.map(|p| p.number.to_string()).unwrap_or_default(),
        ),
        ("changed", report.changed.to_string()),
        (
            "merge-commit",
            report
                .merge
                .as_ref()
                .and_then(|m| m.commit.clone())
                .unwrap_or_default(),
        ),
        // One line by construction; a line break would end the value in $GITHUB_OUTPUT.
        ("summary", report.summary.replace(['\n', '\r'], " ")),
    ]
}

/// Writes the outputs where `to` says.
pub fn write(to: &Outputs, report: &Report) -> std::io::Result<()> {
    let values = values(report);
    match to {
        // Tekton reads a result from its file as is: no trailing newline.
        Outputs::Dir(dir) => values
            .iter()
            .try_for_each(|(name, value)| std::fs::write(dir.join(name), value)),
        Outputs::GitHub(file) => {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(file)?;
            let lines: String = values.iter().map(|(n, v)| format!("{n}={v}\n")).collect();
            f.write_all(lines.as_bytes())
        }
    }
}
