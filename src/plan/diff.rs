//! The diff a reviewer reads: git-style, unified, summarised where a line diff would cost
//! more than it tells.

use super::model::{Edit, Entry, MAX_DIFF_FILE_BYTES, Snapshot};

/// A git-style unified diff of `edits` against `snap`.
pub fn render_diff(snap: &dyn Snapshot, edits: &[Edit]) -> String {
    let mut out = String::new();
    for e in edits {
        let path = e.path().as_str();
        let old = match snap.get(path) {
            Some(Entry::File(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        };
        let new = match e {
            Edit::Write { content, .. } => Some(String::from_utf8_lossy(content).into_owned()),
            Edit::Delete { .. } => None,
        };
        let a = if old.is_some() {
            format!("a/{path}")
        } else {
            "/dev/null".into()
        };
        let b = if new.is_some() {
            format!("b/{path}")
        } else {
            "/dev/null".into()
        };
        out.push_str(&format!("diff --git a/{path} b/{path}\n"));
        if old.is_none() {
            out.push_str("new file mode 100644\n");
        }
        if new.is_none() {
            out.push_str("deleted file mode 100644\n");
        }
        // A deleted file is one line: all of it going tells a reviewer nothing more.
        if let (Some(old), None) = (&old, &new) {
            let n = old.lines().count();
            out.push_str(&format!(
                "--- {a}\n+++ /dev/null\n@@ -1,{n} +0,0 @@ ({n} lines deleted)\n"
            ));
            continue;
        }
        let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
        // A line diff of megabytes costs seconds and tens of MB, and no reader or PR body
        // takes it: say what changed instead.
        if old.len().max(new.len()) > MAX_DIFF_FILE_BYTES {
            out.push_str(&format!(
                "--- {a}\n+++ {b}\n@@ {} lines ({} bytes) -> {} lines ({} bytes): too large to show; see the commit @@\n",
                old.lines().count(),
                old.len(),
                new.lines().count(),
                new.len()
            ));
            continue;
        }
        let diff = similar::TextDiff::from_lines(&old, &new);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
                .to_string(),
        );
    }
    out
}
