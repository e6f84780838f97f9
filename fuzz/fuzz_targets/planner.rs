//! The planner on arbitrary trees and rules. It must not panic; it must only touch paths inside
//! GITOPS_DIR; and what it decides must converge: the tree with its edits applied, planned
//! again with the same rules, needs nothing more (the rerun after a merge is a no-op).
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use iter8_gitops::{
    plan::names::RepoPath,
    plan::{Edit, Entry, Rules, Snapshot, plan, rewrite},
};
use libfuzzer_sys::fuzz_target;

/// Path pieces that collide often, so rules and trees meet; plus anything at all.
const WORDS: &[&str] = &[
    "env",
    "productpage.yaml",
    "productpage-candidate.yaml",
    "experiment.yaml",
    "a",
    ".",
    "..",
    ".git",
    "",
];

#[derive(Arbitrary, Debug)]
enum Piece {
    Word(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct PathIn(Vec<Piece>);

impl PathIn {
    fn text(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Word(i) => WORDS[*i as usize % WORDS.len()].to_string(),
                Piece::Raw(s) => s.clone(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[derive(Arbitrary, Debug)]
enum Content {
    Bytes(Vec<u8>),
    /// A manifest in the tutorial's shape, so apply parsing gets real objects.
    Manifest {
        name: String,
        kind: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum EntryIn {
    File(Content),
    Symlink,
    Submodule,
    Unavailable,
}

#[derive(Arbitrary, Debug)]
struct Input {
    tree: Vec<(PathIn, EntryIn)>,
    dir: Option<PathIn>,
    winner: PathIn,
    baseline: PathIn,
    replace: Vec<(String, String)>,
    remove: Vec<PathIn>,
    apply: Vec<PathIn>,
}

/// A tree from `path -> entry`, directories implied by what is below them.
struct Tree(BTreeMap<String, Entry>);

impl Snapshot for Tree {
    fn get(&self, path: &str) -> Option<Entry> {
        if let Some(e) = self.0.get(path) {
            return Some(e.clone());
        }
        let dir = format!("{path}/");
        self.0
            .keys()
            .any(|k| k.starts_with(&dir))
            .then_some(Entry::Dir)
    }

    fn children(&self, _dir: &str) -> Vec<String> {
        // The promotion planner looks paths up; it never lists.
        vec![]
    }
}

fn path(p: &PathIn) -> Option<RepoPath> {
    RepoPath::parse(&p.text()).ok()
}

fuzz_target!(|input: Input| {
    let mut tree = BTreeMap::new();
    for (p, e) in &input.tree {
        // Trees hold only valid paths (git refuses the rest), but of every kind.
        let Some(p) = path(p) else { continue };
        let e = match e {
            EntryIn::File(Content::Bytes(b)) => Entry::File(b.clone()),
            EntryIn::File(Content::Manifest { name, kind }) => Entry::File(
                format!(
                    "apiVersion: v1\nkind: {}\nmetadata:\n  name: {name:?}\n  labels: {{app: candidate}}\n",
                    if *kind { "ConfigMap" } else { "ServiceList" }
                )
                .into_bytes(),
            ),
            EntryIn::Symlink => Entry::Symlink,
            EntryIn::Submodule => Entry::Submodule,
            EntryIn::Unavailable => Entry::Unavailable,
        };
        // Keep the tree one git could hold: nothing beneath a file, no file over a folder.
        let path = p.as_str().to_string();
        let under_entry = p.ancestors().any(|a| tree.contains_key(a));
        let over_entries = tree
            .keys()
            .any(|k: &String| k.starts_with(&format!("{path}/")));
        if under_entry || over_entries {
            continue;
        }
        tree.insert(path, e);
    }
    let dir = match &input.dir {
        None => RepoPath::root(),
        Some(d) => match path(d) {
            Some(d) => d,
            None => return,
        },
    };
    let (Some(winner), Some(baseline)) = (path(&input.winner), path(&input.baseline)) else {
        return;
    };
    let remove: Option<Vec<_>> = input.remove.iter().map(path).collect();
    let apply: Option<Vec<_>> = input.apply.iter().map(path).collect();
    let (Some(remove), Some(apply)) = (remove, apply) else {
        return;
    };
    let replace: Vec<_> = input
        .replace
        .into_iter()
        .filter(|(f, _)| !f.is_empty())
        .collect();
    let rules = Rules {
        dir: dir.clone(),
        winner,
        baseline,
        replace,
        remove,
        apply,
        experiment: None,
    };

    let mut tree = Tree(tree);
    let Ok(first) = plan(&tree, &rules) else {
        return;
    };
    let inside =
        |p: &RepoPath| dir.is_root() || p.as_str().starts_with(&format!("{}/", dir.as_str()));
    let mut new_baseline = None;
    for e in &first.edits {
        assert!(inside(e.path()), "{:?} is outside {dir}", e.path());
        match e {
            Edit::Write { path, content } => {
                assert_eq!(
                    path,
                    &dir.join(&rules.baseline),
                    "only the baseline is written"
                );
                new_baseline = Some(String::from_utf8(content.clone()).unwrap());
                tree.0
                    .insert(path.as_str().into(), Entry::File(content.clone()));
            }
            Edit::Delete { path } => {
                assert!(
                    tree.0.remove(path.as_str()).is_some(),
                    "{path} deleted but absent"
                );
            }
        }
    }
    // Rewriting a file that is both winner and baseline twice only settles when the
    // replacements do (`a=aa` never does); everything else must settle in one step.
    let settles = rules.winner != rules.baseline
        || new_baseline.is_none_or(|b| rewrite(&b, &rules.replace) == b);
    if settles {
        let second = plan(&tree, &rules).expect("the promoted tree plans again");
        assert!(
            second.edits.is_empty(),
            "a rerun changes more: {:?}",
            second.edits
        );
    }
});
