//! Pure: what `iter8-gitops start` writes, from the templates in the fetched tree. This is the
//! tutorial's `runCI.sh` made deterministic: names come from the candidate's version instead of
//! `$RANDOM`, so CI rerun for the same version changes nothing, and a new version rewrites the
//! files under new names, which preempts the running experiment once Argo CD syncs.
//!
//! Rendering is textual and line-based, so the templates' comments and layout survive:
//! - the `metadata.name` of an Iter8 `Experiment`, of an object with `generateName`, and of an
//!   object whose name ends in `-` becomes `NAME-VERSION` (`fortio-` becomes `fortio-VERSION`);
//! - label values `version: v…` become `version: vVERSION`;
//! - each GITOPS_SET `KEY=VALUE` replaces `${{ KEY }}` and the bare word `KEY` (the tutorial
//!   writes `value: COLOR`); where it is a whole YAML value it is written as a quoted string, so
//!   `yes`, `1.0` or `on` stay strings. A key no template uses, and a `${{ KEY }}` without a
//!   value, are errors. (`${KEY}` is left alone: templates hold shell scripts that use it.)

use crate::{
    plan::names::RepoPath,
    plan::{Edit, Entry, Plan, Snapshot},
};

/// The rules of one start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub dir: RepoPath,
    /// The templates folder, relative to `dir`.
    pub templates: RepoPath,
    pub version: String,
    pub set: Vec<(String, String)>,
}

/// Why the templates cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error(
        "GITOPS_TEMPLATES {path:?} is not a directory on the branch; check GITOPS_TEMPLATES (relative to GITOPS_DIR) and GITOPS_BRANCH"
    )]
    NoTemplates { path: String },
    #[error("GITOPS_TEMPLATES {path:?} holds no template files")]
    Empty { path: String },
    #[error("template {path:?} is a {what}; templates must be regular files")]
    NotAFile { path: String, what: &'static str },
    #[error("template {path:?} is not UTF-8 text")]
    NotText { path: String },
    #[error(
        "template {path:?} is {size} bytes, over the {max}-byte limit for a manifest",
        max = crate::limits::MAX_FILE_BYTES
    )]
    TooLarge { path: String, size: u64 },
    #[error(
        "GITOPS_SET {key} is not used by any template; remove it or write ${{{{ {key} }}}} (or {key}) where it belongs"
    )]
    Unused { key: String },
    #[error(
        "template {path:?} uses ${{{{ {key} }}}}, which GITOPS_SET does not give; add {key}=VALUE"
    )]
    Missing { path: String, key: String },
    #[error("template {path:?} does not render to valid YAML: {reason}")]
    BadYaml { path: String, reason: String },
    #[error("GITOPS_TEMPLATES {path:?} is a {what}, not a file")]
    Occupied { path: String, what: &'static str },
}

/// Renders one template's text; `used` collects the GITOPS_SET keys it used.
pub fn render(
    path: &str,
    text: &str,
    version: &str,
    set: &[(String, String)],
    used: &mut Vec<String>,
) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut doc = Doc::default();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let kinds = doc_kinds(&lines);
    let mut doc_no = 0;
    for l in lines {
        if is_separator(l) {
            doc_no += 1;
            doc = Doc::default();
            out.push_str(l);
            continue;
        }
        let (body, eol) = split_eol(l);
        let is_experiment = kinds[doc_no].as_deref() == Some("Experiment");
        let line = rename(&mut doc, body.to_string(), is_experiment, version);
        let line = substitute(label_version(line, version), set, used);
        if let Some(key) = placeholders(&line).into_iter().next() {
            return Err(Error::Missing {
                path: path.into(),
                key,
            });
        }
        out.push_str(&line);
        out.push_str(eol);
    }
    // What CI commits must be YAML Argo CD can apply; measured first, so an alias bomb in a
    // template is refused before anything is built from it.
    crate::plan::expansion::measure(&out, crate::plan::expansion::Budget::default()).map_err(
        |e| Error::BadYaml {
            path: path.into(),
            reason: e.to_string(),
        },
    )?;
    serde_saphyr::from_multiple::<serde_json::Value>(&out).map_err(|e| Error::BadYaml {
        path: path.into(),
        reason: e.to_string(),
    })?;
    Ok(out)
}

/// Each document's `kind`: it decides the rename, and `kind:` may come after `metadata:`, so
/// it is looked up ahead of the rendering.
fn doc_kinds(lines: &[&str]) -> Vec<Option<String>> {
    let mut kinds = vec![];
    let mut kind = None;
    for l in lines {
        if is_separator(l) {
            kinds.push(kind.take());
        } else if let Some(k) = l.strip_prefix("kind:") {
            kind = Some(k.trim().to_string());
        }
    }
    kinds.push(kind);
    kinds
}

/// metadata.name / generateName (two-space indented keys right under `metadata:`) get the
/// version: `generateName: x-` and `name: x-` become `x-VERSION`, an Experiment's name
/// `NAME-VERSION`; once per document.
fn rename(doc: &mut Doc, line: String, is_experiment: bool, version: &str) -> String {
    if !line.starts_with(' ') && !line.starts_with('#') && !line.trim().is_empty() {
        doc.in_metadata = line.trim_end() == "metadata:";
        return line;
    }
    if !doc.in_metadata || doc.renamed {
        return line;
    }
    if let Some(v) = line.strip_prefix("  generateName:") {
        doc.renamed = true;
        return format!("  name: {}{version}", unquote(v));
    }
    if let Some(v) = line.strip_prefix("  name:") {
        let name = unquote(v);
        if name.ends_with('-') {
            doc.renamed = true;
            return format!("  name: {name}{version}");
        }
        if is_experiment && !name.is_empty() {
            doc.renamed = true;
            return format!("  name: {name}-{version}");
        }
    }
    line
}

/// Label values `version: v…` become `version: vVERSION`.
fn label_version(line: String, version: &str) -> String {
    match line.split_once("version: v") {
        Some((indent, v)) if indent.trim().is_empty() && !indent.is_empty() && !v.contains(' ') => {
            format!("{indent}version: v{version}")
        }
        _ => line,
    }
}

/// GITOPS_SET's values, as `${{ KEY }}` placeholders and as whole words.
fn substitute(mut line: String, set: &[(String, String)], used: &mut Vec<String>) -> String {
    for (key, value) in set {
        if let Some(l) = replace_placeholder(&line, |k| (k == key).then_some(value.as_str())) {
            line = l;
            push_once(used, key);
        }
        if let Some(l) = replace_word(&line, key, value) {
            line = l;
            push_once(used, key);
        }
    }
    line
}

#[derive(Default)]
struct Doc {
    in_metadata: bool,
    renamed: bool,
}

fn is_separator(l: &str) -> bool {
    l.trim_end() == "---" || l.starts_with("--- ")
}

fn split_eol(l: &str) -> (&str, &str) {
    if let Some(b) = l.strip_suffix("\r\n") {
        (b, "\r\n")
    } else if let Some(b) = l.strip_suffix('\n') {
        (b, "\n")
    } else {
        (l, "")
    }
}

fn unquote(v: &str) -> &str {
    let v = v.split(" #").next().unwrap_or(v).trim();
    v.trim_matches(|c| c == '"' || c == '\'')
}

/// The keys of the `${{ KEY }}` placeholders in `line`.
fn placeholders(line: &str) -> Vec<String> {
    let mut keys = vec![];
    let mut rest = line;
    while let Some(i) = rest.find("${{") {
        let after = &rest[i + 3..];
        let Some(end) = after.find("}}") else { break };
        let key = after[..end].trim();
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            keys.push(key.to_string());
        }
        rest = &after[end + 2..];
    }
    keys
}

/// Replaces the `${{ KEY }}` placeholders that `value_of` knows.
fn replace_placeholder<'a>(
    line: &str,
    value_of: impl Fn(&str) -> Option<&'a str>,
) -> Option<String> {
    let mut out = String::new();
    let mut rest = line;
    let mut hit = false;
    while let Some(i) = rest.find("${{") {
        let after = &rest[i + 3..];
        let Some(end) = after.find("}}") else { break };
        match value_of(after[..end].trim()) {
            Some(v) => {
                out.push_str(&rest[..i]);
                out.push_str(v);
                hit = true;
            }
            None => out.push_str(&rest[..i + 3 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    hit.then_some(out)
}

fn push_once(used: &mut Vec<String>, key: &str) {
    if !used.iter().any(|k| k == key) {
        used.push(key.to_string());
    }
}

/// Replaces `key` where it stands as a whole word (no letter, digit or `_` on either side).
/// When it is a whole YAML value (`field: KEY`, maybe with a comment) the value is quoted.
fn replace_word(line: &str, key: &str, value: &str) -> Option<String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = line.as_bytes();
    let mut out = String::new();
    let mut last = 0;
    let mut hit = false;
    let mut from = 0;
    while let Some(i) = line[from..].find(key).map(|i| i + from) {
        let end = i + key.len();
        let before_ok = i == 0 || !word(bytes[i - 1]);
        let after_ok = end == bytes.len() || !word(bytes[end]);
        if before_ok && after_ok {
            let prefix = &line[..i];
            let suffix = line[end..].trim_end();
            let whole_value = prefix.trim_end().ends_with(':')
                && prefix.ends_with(' ')
                && (suffix.is_empty() || suffix.trim_start().starts_with('#'));
            out.push_str(&line[last..i]);
            if whole_value {
                out.push_str(&serde_json::Value::String(value.to_string()).to_string());
            } else {
                out.push_str(value);
            }
            last = end;
            hit = true;
        }
        from = end;
    }
    if !hit {
        return None;
    }
    out.push_str(&line[last..]);
    Some(out)
}

/// Plans the start: every file in the templates folder, rendered, written beside it in `dir`.
pub fn plan(snap: &dyn Snapshot, rules: &Rules) -> Result<Plan, Error> {
    let tdir = rules.dir.join(&rules.templates);
    if !matches!(snap.get(tdir.as_str()), Some(Entry::Dir)) {
        return Err(Error::NoTemplates {
            path: tdir.to_string(),
        });
    }
    let mut names = snap.children(tdir.as_str());
    names.sort();
    let mut used = vec![];
    let mut edits = vec![];
    let mut count = 0;
    for name in names {
        let src = format!("{tdir}/{name}");
        let Some(text) = template(snap, &src)? else {
            continue;
        };
        count += 1;
        let rendered = render(&src, &text, &rules.version, &rules.set, &mut used)?;
        if let Some(edit) = write_beside(snap, rules, &src, &name, rendered)? {
            edits.push(edit);
        }
    }
    if count == 0 {
        return Err(Error::Empty {
            path: tdir.to_string(),
        });
    }
    if let Some((key, _)) = rules.set.iter().find(|(k, _)| !used.contains(k)) {
        return Err(Error::Unused { key: key.clone() });
    }
    let diff = crate::plan::render_diff(snap, &edits);
    let unchanged_reason = edits.is_empty().then(|| {
        format!(
            "the files rendered for version {} are already in place",
            rules.version
        )
    });
    Ok(Plan {
        edits,
        diff,
        objects: vec![],
        unchanged_reason,
        warnings: vec![],
    })
}

/// A template's text; `None` for what is not a template (a subfolder: a README folder, say).
fn template(snap: &dyn Snapshot, src: &str) -> Result<Option<String>, Error> {
    match snap.get(src) {
        Some(Entry::Dir) | None => Ok(None),
        Some(Entry::File(b)) if b.len() > crate::limits::MAX_FILE_BYTES => Err(Error::TooLarge {
            path: src.into(),
            size: b.len() as u64,
        }),
        Some(Entry::File(b)) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| Error::NotText { path: src.into() }),
        Some(Entry::TooLarge(size)) => Err(Error::TooLarge {
            path: src.into(),
            size,
        }),
        Some(e @ (Entry::Symlink | Entry::Submodule | Entry::Unavailable)) => {
            Err(Error::NotAFile {
                path: src.into(),
                what: crate::plan::kind_name(&e),
            })
        }
    }
}

/// The write of the rendered `name` into `dir`, unless it is there already as rendered.
fn write_beside(
    snap: &dyn Snapshot,
    rules: &Rules,
    src: &str,
    name: &str,
    rendered: String,
) -> Result<Option<Edit>, Error> {
    let dest = rules
        .dir
        .join(&RepoPath::parse(name).map_err(|_| Error::NotAFile {
            path: src.into(),
            what: "name that cannot be a file",
        })?);
    match snap.get(dest.as_str()) {
        Some(Entry::File(old)) if old == rendered.as_bytes() => Ok(None),
        Some(Entry::File(_)) | None => Ok(Some(Edit::Write {
            path: dest,
            content: rendered.into_bytes(),
        })),
        Some(e) => Err(Error::Occupied {
            path: dest.to_string(),
            what: crate::plan::kind_name(&e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str, set: &[(&str, &str)]) -> Result<String, Error> {
        let set: Vec<_> = set
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        render("t.yaml", text, "fc543e5", &set, &mut vec![])
    }

    #[test]
    fn names_follow_the_version_where_the_template_asks() {
        let exp = "apiVersion: iter8.tools/v2alpha2\nkind: Experiment\nmetadata:\n  name: gitops-exp\nspec:\n  versionInfo:\n    - name: productpage-stable\n";
        let out = r(exp, &[]).unwrap();
        assert!(
            out.contains("metadata:\n  name: gitops-exp-fc543e5\n"),
            "{out}"
        );
        assert!(
            out.contains("- name: productpage-stable"),
            "only metadata.name: {out}"
        );
        let job = "kind: Job\nmetadata:\n  name: fortio-\n";
        assert!(r(job, &[]).unwrap().contains("  name: fortio-fc543e5\n"));
        let generated = "kind: Job\nmetadata:\n  generateName: load-\n";
        assert!(
            r(generated, &[])
                .unwrap()
                .contains("  name: load-fc543e5\n")
        );
        // A Deployment keeps its name (the experiment refers to it); its version labels move.
        let dep = "kind: Deployment\nmetadata:\n  name: productpage-candidate\n  labels:\n    version: v1\n";
        let out = r(dep, &[]).unwrap();
        assert!(
            out.contains("  name: productpage-candidate\n  labels:\n    version: vfc543e5\n"),
            "{out}"
        );
    }

    #[test]
    fn set_values_go_where_the_template_says_and_whole_values_are_quoted() {
        let t = "env:\n- name: color\n  value: COLOR # picked by CI\n- name: url\n  value: https://${{ HOST }}/x\nCOLORS: none\nscript: echo ${HOME}\n";
        let out = r(t, &[("COLOR", "yes"), ("HOST", "example.com")]).unwrap();
        assert!(out.contains("  value: \"yes\" # picked by CI\n"), "{out}");
        assert!(out.contains("  value: https://example.com/x\n"), "{out}");
        assert!(out.contains("COLORS: none"), "whole words only: {out}");
        assert!(
            out.contains("echo ${HOME}"),
            "shell variables are left alone: {out}"
        );
    }

    #[test]
    fn an_unused_key_a_missing_value_and_broken_yaml_are_errors() {
        let mut used = vec![];
        let set = vec![("NOPE".to_string(), "x".to_string())];
        r("a: 1\n", &[]).unwrap();
        render("t.yaml", "a: 1\n", "v", &set, &mut used).unwrap();
        assert!(used.is_empty(), "the planner reports NOPE as unused");
        assert_eq!(
            r("a: ${{COLOR}}\n", &[]),
            Err(Error::Missing {
                path: "t.yaml".into(),
                key: "COLOR".into()
            })
        );
        assert!(matches!(r("a: [\n", &[]), Err(Error::BadYaml { .. })));
    }

    #[test]
    fn comments_separators_and_crlf_survive() {
        let t = "# head\r\nkind: Job\r\nmetadata:\r\n  name: fortio-\r\n---\r\n# second\r\nkind: Job\r\nmetadata:\r\n  name: other-\r\n";
        let out = r(t, &[]).unwrap();
        assert_eq!(
            out,
            "# head\r\nkind: Job\r\nmetadata:\r\n  name: fortio-fc543e5\r\n---\r\n# second\r\nkind: Job\r\nmetadata:\r\n  name: other-fc543e5\r\n"
        );
    }

    #[test]
    fn a_rendered_file_is_not_written_over_a_folder_or_a_link() {
        use crate::plan::tests::MapTree;
        let rules = Rules {
            dir: RepoPath::root(),
            templates: RepoPath::parse("templates").unwrap(),
            version: "fc543e5".into(),
            set: vec![],
        };
        for (what, e) in [("directory", Entry::Dir), ("symlink", Entry::Symlink)] {
            let tree = MapTree::default()
                .entry("templates", Entry::Dir)
                .file("templates/vs.yaml", "kind: VirtualService\n")
                .entry("vs.yaml", e);
            let err = plan(&tree, &rules).unwrap_err();
            assert!(matches!(err, Error::Occupied { .. }), "{err}");
            assert_eq!(
                err.to_string(),
                format!("GITOPS_TEMPLATES \"vs.yaml\" is a {what}, not a file")
            );
            assert_eq!(crate::Error::Start(err).exit_code(), 5);
        }
    }
}
