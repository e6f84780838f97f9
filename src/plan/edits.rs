//! Pure: the edits of a promotion file (`copy`, `replace`, `delete`, `yaml-set`,
//! `kustomize-image`, `helm-values`), applied in order to a working copy of the fetched tree,
//! then turned into a plan (changed files, diff, objects to apply). YAML edits go through
//! `yamledit`, so only the edited scalar's text changes in a file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    plan::names::RepoPath,
    plan::yamledit::{self, Docs},
    plan::{self, Edit, Entry, Plan, Snapshot},
};

/// One edit, as written in a promotion file (`- yaml-set: {file: …, path: …, value: …}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum EditSpec {
    /// Copy a file (the winner's manifest onto the baseline's).
    Copy { from: String, to: String },
    /// Literal text replacement in a file (the tutorial's `sed s/candidate/stable/g`).
    Replace {
        file: String,
        from: String,
        to: String,
    },
    /// Delete files; a file that is not there is fine.
    Delete(Vec<String>),
    /// Set a scalar at a YAML path.
    YamlSet(YamlSet),
    /// Set an image of a kustomization.yaml, as `kustomize edit set image` does.
    KustomizeImage(KustomizeImage),
    /// Set a Helm value by its dotted key.
    HelmValues(HelmValues),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct YamlSet {
    pub file: String,
    /// `spec.template.spec.containers[name=productpage].image`
    pub path: String,
    pub value: String,
    /// Which document of a multi-document file (0-based); default: the one with the path.
    #[serde(default)]
    pub document: Option<usize>,
    /// Every document that has the path.
    #[serde(default)]
    pub all: bool,
    /// Add the missing keys of the path.
    #[serde(default)]
    pub create: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KustomizeImage {
    #[serde(default = "kustomization")]
    pub file: String,
    /// The image name the manifests use.
    pub name: String,
    #[serde(rename = "newName", default)]
    pub new_name: Option<String>,
    #[serde(rename = "newTag", default)]
    pub new_tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

fn kustomization() -> String {
    "kustomization.yaml".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HelmValues {
    #[serde(default = "values")]
    pub file: String,
    /// Helm's dotted key (`image.tag`; `\.` for a dot inside a key).
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub create: bool,
}

fn values() -> String {
    "values.yaml".into()
}

impl EditSpec {
    /// The files it reads or writes, as written (references not expanded).
    pub fn files(&self) -> Vec<String> {
        match self {
            EditSpec::Copy { from, to } => vec![from.clone(), to.clone()],
            EditSpec::Replace { file, .. } => vec![file.clone()],
            EditSpec::Delete(files) => files.clone(),
            EditSpec::YamlSet(y) => vec![y.file.clone()],
            EditSpec::KustomizeImage(k) => vec![k.file.clone()],
            EditSpec::HelmValues(h) => vec![h.file.clone()],
        }
    }

    /// The same edit with its files under `dir` (targets of one repo share one commit).
    pub fn within(&self, dir: &RepoPath) -> EditSpec {
        let at = |f: &String| {
            // An absolute path stays as written, so that planning refuses it rather than
            // reading `/x.yaml` as `dir/x.yaml`.
            if dir.is_root() || f.starts_with(['/', '\\']) {
                f.clone()
            } else {
                format!("{dir}/{f}")
            }
        };
        let mut e = self.clone();
        match &mut e {
            EditSpec::Copy { from, to } => {
                *from = at(from);
                *to = at(to);
            }
            EditSpec::Replace { file, .. } => *file = at(file),
            EditSpec::Delete(files) => files.iter_mut().for_each(|f| *f = at(f)),
            EditSpec::YamlSet(y) => y.file = at(&y.file),
            EditSpec::KustomizeImage(k) => k.file = at(&k.file),
            EditSpec::HelmValues(h) => h.file = at(&h.file),
        }
        e
    }

    /// `yaml-set deploy.yaml`, for messages.
    pub fn label(&self) -> String {
        match self {
            EditSpec::Copy { from, to } => format!("copy {from} -> {to}"),
            EditSpec::Replace { file, .. } => format!("replace in {file}"),
            EditSpec::Delete(files) => format!("delete {}", files.join(", ")),
            EditSpec::YamlSet(y) => format!("yaml-set {} {}", y.file, y.path),
            EditSpec::KustomizeImage(k) => format!("kustomize-image {} {}", k.file, k.name),
            EditSpec::HelmValues(h) => format!("helm-values {} {}", h.file, h.key),
        }
    }
}

/// What values may refer to: `${winner.name}`, `${winner.variables.NAME}`,
/// `${experiment.name}`, `${experiment.namespace}`; a revert's (`plan::revert::vars`):
/// `${stable.image}`, `${workload.name}` and the like.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    pub winner: Option<String>,
    pub variables: BTreeMap<String, String>,
    pub experiment: Option<(String, String)>,
    /// A revert's references, by their full dotted name.
    pub revert: BTreeMap<String, String>,
}

impl Vars {
    /// `text` with its references replaced; an unknown reference is an error.
    pub fn expand(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("{text:?} has an unclosed ${{"))?;
            let name = after[..end].trim();
            let value = match name.split_once('.') {
                _ if self.revert.contains_key(name) => self.revert.get(name).cloned(),
                Some(("winner", "name")) => self.winner.clone(),
                Some(("winner", v)) => v
                    .strip_prefix("variables.")
                    .and_then(|k| self.variables.get(k).cloned()),
                Some(("experiment", "name")) => self.experiment.as_ref().map(|e| e.0.clone()),
                Some(("experiment", "namespace")) => self.experiment.as_ref().map(|e| e.1.clone()),
                _ => None,
            };
            let Some(value) = value else {
                // Only what this run has: without an Experiment there is no winner at all.
                let known: Vec<String> = self
                    .winner
                    .iter()
                    .map(|_| "winner.name".to_string())
                    .chain(
                        self.experiment
                            .iter()
                            .flat_map(|_| ["experiment.name", "experiment.namespace"])
                            .map(String::from),
                    )
                    .chain(
                        self.variables
                            .keys()
                            .map(|k| format!("winner.variables.{k}")),
                    )
                    .chain(self.revert.keys().cloned())
                    .collect();
                return Err(if known.is_empty() {
                    format!(
                        "${{{name}}} is not known here: no Experiment is known to this run (set EXPERIMENT_NAME and EXPERIMENT_NAMESPACE, as Iter8's handler does)"
                    )
                } else {
                    format!(
                        "${{{name}}} is not known here (known: {})",
                        known.join(", ")
                    )
                });
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Why the edits cannot be made: which edit, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("edit #{index} ({label}): {reason}")]
pub struct Error {
    pub index: usize,
    pub label: String,
    pub reason: String,
}

/// The tree as the edits so far left it.
struct Work<'a> {
    snap: &'a dyn Snapshot,
    changed: BTreeMap<RepoPath, Option<String>>,
    /// Who wrote or deleted a path, for conflicts.
    owner: BTreeMap<RepoPath, (usize, &'static str)>,
}

impl Work<'_> {
    fn read(&self, path: &RepoPath) -> Result<Option<String>, String> {
        if let Some(c) = self.changed.get(path) {
            return Ok(c.clone());
        }
        plan::read_text(self.snap, "edit", path).map_err(|e| e.to_string())
    }

    fn must_read(&self, path: &RepoPath) -> Result<String, String> {
        self.read(path)?
            .ok_or_else(|| format!("{path} does not exist on the branch"))
    }

    fn write(
        &mut self,
        i: usize,
        kind: &'static str,
        path: &RepoPath,
        text: String,
    ) -> Result<(), String> {
        // A file is written only where a file (or nothing) is: writing over a directory would
        // replace all of it while the diff showed one new file, and a path through a symlink
        // or submodule is refused by `lookup`.
        if !self.changed.contains_key(path) {
            if let Some(e @ (Entry::Dir | Entry::Symlink | Entry::Submodule)) =
                plan::lookup(self.snap, "edit", path).map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "{path} is a {}, not a file; a {kind} writes one file: name the file to write",
                    plan::kind_name(&e)
                ));
            }
        }
        self.claim(i, kind, path)?;
        self.changed.insert(path.clone(), Some(text));
        Ok(())
    }

    /// Two edits conflict when one deletes a path another writes, or two copies write one.
    fn claim(&mut self, i: usize, kind: &'static str, path: &RepoPath) -> Result<(), String> {
        if let Some((j, other)) = self.owner.get(path)
            && (*other == "delete" || kind == "delete" || (*other == "copy" && kind == "copy"))
        {
            return Err(format!(
                "conflicts with edit #{j} ({other}) on {path}; make one edit own the file"
            ));
        }
        self.owner.entry(path.clone()).or_insert((i, kind));
        Ok(())
    }
}

fn yaml_file(path: &RepoPath) -> Result<(), String> {
    let p = path.as_str();
    if [".yaml", ".yml", ".json"].iter().any(|e| p.ends_with(e)) {
        Ok(())
    } else {
        Err(format!("{path} is not a YAML file (.yaml, .yml or .json)"))
    }
}

/// Applies `edits` (paths relative to `dir`) to `snap`, then reads `apply` from the result.
pub fn plan(
    snap: &dyn Snapshot,
    dir: &RepoPath,
    edits: &[EditSpec],
    vars: &Vars,
    apply: &[RepoPath],
) -> Result<Plan, Error> {
    let mut w = Work {
        snap,
        changed: BTreeMap::new(),
        owner: BTreeMap::new(),
    };
    for (n, e) in edits.iter().enumerate() {
        let s = Step {
            index: n + 1,
            label: e.label(),
            dir,
            vars,
        };
        s.run(&mut w, e)?;
    }
    let out = changes(snap, &w.changed);
    let objects = objects(&w, dir, apply)?;
    let diff = plan::render_diff(snap, &out);
    let unchanged_reason = out
        .is_empty()
        .then(|| "every edit is already in place".to_string());
    Ok(Plan {
        edits: out,
        diff,
        objects,
        unchanged_reason,
        warnings: vec![],
    })
}

/// One edit of the list: where it is, for its messages, and what its paths and values mean.
struct Step<'a> {
    /// 1-based, as the file lists them.
    index: usize,
    label: String,
    dir: &'a RepoPath,
    vars: &'a Vars,
}

impl Step<'_> {
    fn fail(&self, reason: String) -> Error {
        Error {
            index: self.index,
            label: self.label.clone(),
            reason,
        }
    }

    /// A path of the edit, `${…}` expanded, under the target's dir.
    fn at(&self, p: &str) -> Result<RepoPath, Error> {
        let p = self.vars.expand(p).map_err(|r| self.fail(r))?;
        RepoPath::parse(&p)
            .map(|p| self.dir.join(&p))
            .map_err(|why| self.fail(format!("path {p:?} {why}")))
    }

    /// A value of the edit, `${…}` expanded.
    fn value(&self, v: &str) -> Result<String, Error> {
        self.vars.expand(v).map_err(|r| self.fail(r))
    }

    fn run(&self, w: &mut Work, e: &EditSpec) -> Result<(), Error> {
        match e {
            EditSpec::Copy { from, to } => {
                let (from, to) = (self.at(from)?, self.at(to)?);
                let text = w.must_read(&from).map_err(|r| self.fail(r))?;
                w.write(self.index, "copy", &to, text)
                    .map_err(|r| self.fail(r))
            }
            EditSpec::Replace { file, from, to } => self.replace(w, file, from, to),
            EditSpec::Delete(files) => self.delete(w, files),
            EditSpec::YamlSet(y) => self.yaml_set(w, y),
            EditSpec::HelmValues(h) => self.helm_values(w, h),
            EditSpec::KustomizeImage(k) => self.kustomize_image(w, k),
        }
    }

    /// Reads `file` for an edit of `kind` that rewrites it, and writes what `edit` makes of it.
    fn rewrite(
        &self,
        w: &mut Work,
        kind: &'static str,
        file: &RepoPath,
        edit: impl FnOnce(&str) -> Result<String, String>,
    ) -> Result<(), Error> {
        w.claim(self.index, kind, file).map_err(|r| self.fail(r))?;
        let text = w.must_read(file).map_err(|r| self.fail(r))?;
        let new = edit(&text).map_err(|r| self.fail(r))?;
        w.write(self.index, kind, file, new)
            .map_err(|r| self.fail(r))
    }

    fn replace(&self, w: &mut Work, file: &str, from: &str, to: &str) -> Result<(), Error> {
        let file = self.at(file)?;
        if from.is_empty() {
            return Err(self.fail("`from` is empty".into()));
        }
        let to = self.value(to)?;
        self.rewrite(w, "replace", &file, |text| Ok(text.replace(from, &to)))
    }

    fn delete(&self, w: &mut Work, files: &[String]) -> Result<(), Error> {
        for f in files {
            let f = self.at(f)?;
            if let Some(Entry::Dir | Entry::Symlink | Entry::Submodule) =
                plan::lookup(w.snap, "edit", &f).map_err(|e| self.fail(e.to_string()))?
            {
                return Err(self.fail(format!("{f} is not a file")));
            }
            w.claim(self.index, "delete", &f)
                .map_err(|r| self.fail(r))?;
            w.changed.insert(f, None);
        }
        Ok(())
    }

    fn yaml_set(&self, w: &mut Work, y: &YamlSet) -> Result<(), Error> {
        let file = self.at(&y.file)?;
        yaml_file(&file).map_err(|r| self.fail(r))?;
        let path = yamledit::parse_path(&y.path).map_err(|e| self.fail(e.to_string()))?;
        let docs = match (y.document, y.all) {
            (Some(_), true) => return Err(self.fail("give `document` or `all`, not both".into())),
            (Some(n), false) => Docs::Nth(n),
            (None, true) => Docs::All,
            (None, false) => Docs::The,
        };
        let value = self.value(&y.value)?;
        self.rewrite(w, "yaml-set", &file, |text| {
            yamledit::set(text, &path, &value, docs, y.create).map_err(|e| format!("{file} {e}"))
        })
    }

    fn helm_values(&self, w: &mut Work, h: &HelmValues) -> Result<(), Error> {
        let file = self.at(&h.file)?;
        yaml_file(&file).map_err(|r| self.fail(r))?;
        let path = yamledit::parse_path(&h.key).map_err(|e| self.fail(e.to_string()))?;
        if path.iter().any(|s| !matches!(s, yamledit::Seg::Key(_))) {
            return Err(self.fail(format!("{:?} is not a Helm key (dotted names only)", h.key)));
        }
        let value = self.value(&h.value)?;
        self.rewrite(w, "helm-values", &file, |text| {
            yamledit::set(text, &path, &value, Docs::Nth(0), h.create)
                .map_err(|e| format!("{file} {e}"))
        })
    }

    fn kustomize_image(&self, w: &mut Work, k: &KustomizeImage) -> Result<(), Error> {
        let file = self.at(&k.file)?;
        yaml_file(&file).map_err(|r| self.fail(r))?;
        let fields: Vec<(&str, String)> = [
            ("newName", &k.new_name),
            ("newTag", &k.new_tag),
            ("digest", &k.digest),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.as_ref().map(|v| self.value(v).map(|v| (f, v))))
        .collect::<Result<_, _>>()?;
        if fields.is_empty() {
            return Err(self.fail("give newName, newTag or digest".into()));
        }
        let name = self.value(&k.name)?;
        self.rewrite(w, "kustomize-image", &file, |text| {
            kustomize_image(text, &name, &fields).map_err(|e| format!("{file} {e}"))
        })
    }
}

/// The plan's edits: what differs from the fetched tree.
fn changes(snap: &dyn Snapshot, changed: &BTreeMap<RepoPath, Option<String>>) -> Vec<Edit> {
    let mut out = vec![];
    for (path, content) in changed {
        let before = match snap.get(path.as_str()) {
            Some(Entry::File(b)) => Some(b),
            _ => None,
        };
        match content {
            Some(text) if before.as_deref() != Some(text.as_bytes()) => out.push(Edit::Write {
                path: path.clone(),
                content: text.clone().into_bytes(),
            }),
            None if before.is_some()
                || matches!(
                    snap.get(path.as_str()),
                    Some(Entry::Unavailable | Entry::TooLarge(_))
                ) =>
            {
                out.push(Edit::Delete { path: path.clone() })
            }
            _ => {}
        }
    }
    out
}

/// The apply files' objects, read from the tree as the edits leave it.
fn objects(w: &Work, dir: &RepoPath, apply: &[RepoPath]) -> Result<Vec<plan::Object>, Error> {
    let mut objects = vec![];
    let mut budget = plan::ApplyBudget::default();
    for a in apply {
        let path = dir.join(a);
        let fail = |reason: String| Error {
            index: 0,
            label: format!("apply {path}"),
            reason,
        };
        let text = w.must_read(&path).map_err(fail)?;
        let found = budget
            .parse(&path, &text)
            .map_err(|e| fail(e.to_string()))?;
        objects.extend(found);
    }
    Ok(objects)
}

/// `kustomize edit set image NAME=NEWNAME:NEWTAG@DIGEST`, on the text: the `images` entry
/// named `name` gets the fields (added when absent); without one, an entry is appended.
fn kustomize_image(
    text: &str,
    name: &str,
    fields: &[(&str, String)],
) -> Result<String, yamledit::Error> {
    let docs = yamledit::parse(text)?;
    let root = docs.first().ok_or(yamledit::Error::NoDocument)?;
    // The entry exists when its own `name` can be found (and "set" to itself).
    let entry_name =
        yamledit::parse_path(&format!("images[name={name}].name")).expect("a valid path");
    let has = root.get("images").is_some()
        && yamledit::set(text, &entry_name, name, Docs::Nth(0), false).is_ok();
    if !has {
        let mut all = vec![("name", name)];
        all.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
        let out = yamledit::append_item(text, root, "images", &all)?;
        // The new entry must be found where it was meant to go.
        yamledit::set(&out, &entry_name, name, Docs::Nth(0), false)
            .map_err(|_| yamledit::Error::Layout("images".into()))?;
        return Ok(out);
    }
    let field =
        |k: &str| yamledit::parse_path(&format!("images[name={name}].{k}")).expect("a valid path");
    let mut out = text.to_string();
    for (k, v) in fields {
        out = yamledit::set(&out, &field(k), v, Docs::Nth(0), true)?;
    }
    // As `kustomize edit set image`: a new tag replaces a pinned digest (kustomize would
    // otherwise keep running the digest, and the promotion would silently do nothing), and a
    // new digest replaces the tag; newName stays unless given.
    let given = |k: &str| fields.iter().any(|(f, _)| *f == k);
    if given("newTag") && !given("digest") {
        out = yamledit::remove(&out, &field("digest"))?;
    }
    if given("digest") && !given("newTag") {
        out = yamledit::remove(&out, &field("newTag"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::MapTree;

    fn p(s: &str) -> RepoPath {
        RepoPath::parse(s).unwrap()
    }

    fn vars() -> Vars {
        Vars {
            winner: Some("productpage-candidate".into()),
            variables: [("image".to_string(), "repo/productpage:v2".to_string())].into(),
            experiment: Some(("gitops-exp".into(), "default".into())),
            revert: BTreeMap::new(),
        }
    }

    fn edits(yaml: &str) -> Vec<EditSpec> {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn the_tutorial_promotion_as_edits() {
        let tree = MapTree::default()
            .file(
                "env/productpage-candidate.yaml",
                "name: productpage-candidate\n",
            )
            .file("env/productpage.yaml", "name: productpage-stable\n")
            .file("env/fortio.yaml", "kind: Job\n");
        let e = edits(
            "- copy: {from: productpage-candidate.yaml, to: productpage.yaml}\n- replace: {file: productpage.yaml, from: candidate, to: stable}\n- delete: [productpage-candidate.yaml, fortio.yaml, experiment.yaml]\n",
        );
        let plan = plan(&tree, &p("env"), &e, &vars(), &[]).unwrap();
        assert_eq!(plan.edits.len(), 2, "{:?}", plan.edits);
        assert!(plan.edits.contains(&Edit::Delete {
            path: p("env/fortio.yaml")
        }));
        assert!(plan.edits.iter().all(|e| !matches!(e, Edit::Write { path, .. } if path.as_str() == "env/productpage.yaml")), "the baseline already says stable");
    }

    #[test]
    fn values_refer_to_the_winner_and_unknown_references_fail() {
        let tree = MapTree::default().file(
            "d.yaml",
            "spec:\n  containers:\n  - name: productpage # app\n    image: repo/productpage:v1\n",
        );
        let e = edits(
            "- yaml-set: {file: d.yaml, path: \"spec.containers[name=productpage].image\", value: \"${winner.variables.image}\"}\n",
        );
        let plan = plan(&tree, &RepoPath::root(), &e, &vars(), &[]).unwrap();
        assert!(
            plan.diff.contains("+    image: repo/productpage:v2"),
            "{}",
            plan.diff
        );
        let e = edits(
            "- yaml-set: {file: d.yaml, path: spec.x, value: \"${winner.variables.nope}\"}\n",
        );
        let err = super::plan(&tree, &RepoPath::root(), &e, &vars(), &[]).unwrap_err();
        assert!(
            err.reason.contains("${winner.variables.nope} is not known"),
            "{err}"
        );
    }

    #[test]
    fn conflicts_non_yaml_files_and_unknown_kinds_are_errors() {
        let tree = MapTree::default()
            .file("a.yaml", "x: 1\n")
            .file("notes.txt", "x: 1\n");
        let e = edits("- delete: [a.yaml]\n- yaml-set: {file: a.yaml, path: x, value: \"2\"}\n");
        let err = plan(&tree, &RepoPath::root(), &e, &vars(), &[]).unwrap_err();
        assert_eq!(err.index, 2);
        assert!(
            err.reason.contains("conflicts with edit #1 (delete)"),
            "{err}"
        );
        let e = edits("- yaml-set: {file: notes.txt, path: x, value: \"2\"}\n");
        let err = plan(&tree, &RepoPath::root(), &e, &vars(), &[]).unwrap_err();
        assert!(err.reason.contains("not a YAML file"), "{err}");
        let bad: Result<Vec<EditSpec>, _> = serde_saphyr::from_str("- chmod: {file: a}\n");
        assert!(bad.unwrap_err().to_string().contains("unknown variant"));
    }

    #[test]
    fn kustomize_images_are_set_or_added_as_kustomize_does() {
        let k = "resources:\n- ../../base\nimages:\n- name: productpage # the app\n  newTag: v1\n";
        let out = kustomize_image(k, "productpage", &[("newTag", "v2".into())]).unwrap();
        assert_eq!(out, k.replace("newTag: v1", "newTag: v2"));
        let out = kustomize_image(k, "productpage", &[("newName", "repo/pp".into())]).unwrap();
        assert_eq!(out, format!("{k}  newName: repo/pp\n"));
        let out = kustomize_image(k, "ratings", &[("newTag", "v3".into())]).unwrap();
        assert_eq!(out, format!("{k}- name: ratings\n  newTag: v3\n"));
        // A new tag on an entry pinned by digest drops the digest, and the other way round.
        let pinned = "images:\n- name: app\n  newName: repo/app\n  digest: sha256:abc\n";
        assert_eq!(
            kustomize_image(pinned, "app", &[("newTag", "v2".into())]).unwrap(),
            "images:\n- name: app\n  newName: repo/app\n  newTag: v2\n"
        );
        let tagged = "images:\n- name: app\n  newTag: v1\n";
        assert_eq!(
            kustomize_image(tagged, "app", &[("digest", "sha256:def".into())]).unwrap(),
            "images:\n- name: app\n  digest: sha256:def\n"
        );
        let none = "resources:\n- base\n";
        let out = kustomize_image(none, "app", &[("digest", "sha256:abc".into())]).unwrap();
        assert_eq!(
            out,
            "resources:\n- base\nimages:\n- name: app\n  digest: sha256:abc\n"
        );
    }
}
