//! Pure: decide what the promotion changes, from a snapshot of the fetched tree and the rules.
//! No filesystem, network or clock. Everything that can be wrong with the Env repo's content
//! (a missing winner, a path through a symlink, a file that is not UTF-8, YAML that does not
//! parse) is found here, before the first side effect, so a bad input never leaves a
//! half-pushed branch.

pub(crate) mod admission;
mod diff;
pub(crate) mod edits;
pub(crate) mod evidence;
pub(crate) mod expansion;
mod finish;
pub(crate) mod model;
pub mod names;
mod objects;
pub mod revert;
pub(crate) mod start;
pub mod yamledit;

pub use diff::render_diff;
pub use finish::{Rules, plan, rewrite};
pub use model::*;
pub(crate) use objects::ApplyBudget;
pub use objects::parse_objects;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::names::RepoPath;
    use std::collections::BTreeMap;

    /// A snapshot from `path -> entry`, with directories implied.
    #[derive(Default)]
    pub struct MapTree(pub BTreeMap<String, Entry>);

    impl MapTree {
        pub fn file(mut self, path: &str, text: &str) -> Self {
            self.0
                .insert(path.into(), Entry::File(text.as_bytes().to_vec()));
            self
        }
        pub fn entry(mut self, path: &str, e: Entry) -> Self {
            self.0.insert(path.into(), e);
            self
        }
    }

    impl Snapshot for MapTree {
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

        fn children(&self, dir: &str) -> Vec<String> {
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            let mut out: Vec<String> = self
                .0
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
                .collect();
            out.dedup();
            out
        }
    }

    fn p(s: &str) -> RepoPath {
        RepoPath::parse(s).unwrap()
    }

    fn rules(winner: &str) -> Rules {
        Rules {
            dir: p("env"),
            winner: p(winner),
            baseline: p("productpage.yaml"),
            replace: vec![("candidate".into(), "stable".into())],
            remove: vec![
                p("productpage-candidate.yaml"),
                p("fortio.yaml"),
                p("experiment.yaml"),
            ],
            apply: vec![p("istio-vs.yaml")],
            experiment: None,
        }
    }

    const VS: &str = "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: bookinfo\n";

    fn during_experiment() -> MapTree {
        MapTree::default()
            .file(
                "env/productpage.yaml",
                "name: productpage-stable\ncolor: red\n",
            )
            .file(
                "env/productpage-candidate.yaml",
                "name: productpage-candidate\ncolor: green\n",
            )
            .file("env/fortio.yaml", "kind: Job\n")
            .file("env/experiment.yaml", "kind: Experiment\n")
            .file("env/istio-vs.yaml", VS)
            .file("other/untouched.yaml", "x: 1\n")
    }

    #[test]
    fn a_finish_for_an_experiment_the_repo_no_longer_runs_promotes_nothing() {
        let tree = during_experiment().file(
            "env/experiment.yaml",
            "apiVersion: iter8.tools/v2alpha2\nkind: Experiment\nmetadata:\n  name: gitops-exp-9b1c2d3\n",
        );
        let mut r = rules("productpage-candidate.yaml");
        r.experiment = Some("gitops-exp-4890".into());
        let plan = plan(&tree, &r).unwrap();
        assert!(plan.is_empty() && plan.objects.is_empty());
        assert!(plan.unchanged_reason.unwrap().starts_with("superseded"));
        // The experiment the repo does run is finished as usual.
        r.experiment = Some("gitops-exp-9b1c2d3".into());
        assert!(!plan_of(&tree, &r).is_empty());
    }

    #[test]
    fn a_file_to_remove_that_overlaps_the_baseline_is_refused_on_the_first_run() {
        // Found by the planner fuzzer: the first run wrote `base.yaml`, and the rerun then
        // looked for `base.yaml/a` through a file (or found `a/` holding `a/base.yaml` to be a
        // folder) and failed instead of finding nothing to do.
        let tree = MapTree::default().file("env/winner.yaml", "x");
        for (baseline, remove) in [("base.yaml", "base.yaml/a"), ("a/base.yaml", "a")] {
            let mut r = rules("winner.yaml");
            r.baseline = p(baseline);
            r.remove = vec![p(remove)];
            r.apply = vec![];
            assert!(
                matches!(plan(&tree, &r), Err(Error::Overlap { .. })),
                "{baseline} / {remove}"
            );
        }
    }

    #[test]
    fn a_rerun_converges_when_the_remove_list_names_the_baseline_too() {
        // Found by the planner fuzzer: the baseline in GITOPS_REMOVE kept the rerun from
        // seeing "already promoted".
        let tree = MapTree::default().file("env/winner.yaml", "x");
        let mut r = rules("winner.yaml");
        r.remove = vec![p("winner.yaml"), p("productpage.yaml")];
        r.apply = vec![];
        let first = plan(&tree, &r).unwrap();
        let mut after = MapTree::default();
        for e in &first.edits {
            if let Edit::Write { path, content } = e {
                after = after.entry(path.as_str(), Entry::File(content.clone()));
            }
        }
        let again = plan(&after, &r).unwrap();
        assert!(again.is_empty(), "{:?}", again.edits);
    }

    #[test]
    fn a_file_too_large_to_diff_and_a_deleted_file_are_summarised() {
        let big = "candidate line\n".repeat(MAX_DIFF_FILE_BYTES / 10);
        let tree = during_experiment().file("env/productpage-candidate.yaml", &big);
        let plan = plan_of(&tree, &rules("productpage-candidate.yaml"));
        assert!(
            plan.diff.contains(&format!(
                "@@ 2 lines (36 bytes) -> {} lines ({} bytes): too large to show; see the commit @@",
                MAX_DIFF_FILE_BYTES / 10,
                big.replace("candidate", "stable").len()
            )),
            "{}",
            &plan.diff[..plan.diff.len().min(2000)]
        );
        assert!(plan.diff.len() < 2000, "no line of the big files is shown");
        assert!(
            plan.diff
                .contains("+++ /dev/null\n@@ -1,1 +0,0 @@ (1 lines deleted)\n"),
            "a deleted file is one line: {}",
            plan.diff
        );
        assert!(!plan.diff.contains("-kind: Job"));
    }

    fn plan_of(tree: &MapTree, r: &Rules) -> Plan {
        plan(tree, r).unwrap()
    }

    #[test]
    fn candidate_wins_becomes_the_baseline_and_the_experiment_files_go() {
        let plan = plan(&during_experiment(), &rules("productpage-candidate.yaml")).unwrap();
        assert_eq!(
            plan.edits,
            vec![
                Edit::Write {
                    path: p("env/productpage.yaml"),
                    content: b"name: productpage-stable\ncolor: green\n".to_vec()
                },
                Edit::Delete {
                    path: p("env/productpage-candidate.yaml")
                },
                Edit::Delete {
                    path: p("env/fortio.yaml")
                },
                Edit::Delete {
                    path: p("env/experiment.yaml")
                },
            ]
        );
        assert!(
            plan.diff.contains("-color: red\n+color: green\n"),
            "{}",
            plan.diff
        );
        assert!(plan.diff.contains("+++ /dev/null"));
        assert_eq!(plan.objects.len(), 1);
        assert_eq!(plan.objects[0].kind, "VirtualService");
    }

    #[test]
    fn baseline_wins_only_cleans_up() {
        let plan = plan(&during_experiment(), &rules("productpage.yaml")).unwrap();
        assert_eq!(plan.edits.len(), 3);
        assert!(plan.edits.iter().all(|e| matches!(e, Edit::Delete { .. })));
    }

    #[test]
    fn nothing_to_change_after_the_merge() {
        let merged = MapTree::default()
            .file(
                "env/productpage.yaml",
                "name: productpage-stable\ncolor: green\n",
            )
            .file("env/istio-vs.yaml", VS);
        let plan = plan(&merged, &rules("productpage-candidate.yaml")).unwrap();
        assert!(plan.is_empty());
        assert!(plan.unchanged_reason.unwrap().contains("already promoted"));
        assert_eq!(plan.objects.len(), 1, "apply still happens");
    }

    #[test]
    fn a_missing_winner_is_an_error_while_the_experiment_is_there() {
        let err = plan(&during_experiment(), &rules("typo.yaml")).unwrap_err();
        assert_eq!(
            err,
            Error::NotFound {
                input: "GITOPS_WINNER",
                path: "env/typo.yaml".into()
            }
        );
    }

    #[test]
    fn a_missing_dir_is_named() {
        let mut r = rules("productpage.yaml");
        r.dir = p("nope");
        assert_eq!(
            plan(&during_experiment(), &r).unwrap_err(),
            Error::DirNotFound { dir: "nope".into() }
        );
    }

    #[test]
    fn paths_through_symlinks_and_submodules_are_refused() {
        let t = during_experiment()
            .entry("env/link", Entry::Symlink)
            .entry("env/sub", Entry::Submodule);
        let mut r = rules("link/x.yaml");
        assert!(
            matches!(plan(&t, &r).unwrap_err(), Error::Through { through, what: "symlink", .. } if through == "env/link")
        );
        r.winner = p("link");
        assert!(matches!(
            plan(&t, &r).unwrap_err(),
            Error::NotAFile {
                what: "symlink",
                ..
            }
        ));
        r.winner = p("sub/x.yaml");
        assert!(matches!(
            plan(&t, &r).unwrap_err(),
            Error::Through {
                what: "submodule",
                ..
            }
        ));
        let mut r = rules("productpage.yaml");
        r.dir = p("env/link");
        assert!(matches!(
            plan(&t, &r).unwrap_err(),
            Error::NotAFile {
                input: "GITOPS_DIR",
                ..
            }
        ));
    }

    #[test]
    fn a_directory_winner_binary_or_huge_files_are_refused() {
        let t = during_experiment()
            .file("env/d/x", "")
            .entry("env/bin.yaml", Entry::File(vec![0xff, 0xfe]))
            .entry("env/big.yaml", Entry::File(vec![b'a'; MAX_FILE_BYTES + 1]));
        assert!(matches!(
            plan(&t, &rules("d")).unwrap_err(),
            Error::NotAFile {
                what: "directory",
                ..
            }
        ));
        assert!(matches!(
            plan(&t, &rules("bin.yaml")).unwrap_err(),
            Error::NotText { .. }
        ));
        assert!(matches!(
            plan(&t, &rules("big.yaml")).unwrap_err(),
            Error::TooLarge { .. }
        ));
    }

    #[test]
    fn apply_files_must_hold_objects() {
        let bad = |text: &str| {
            let t = during_experiment().file("env/istio-vs.yaml", text);
            plan(&t, &rules("productpage.yaml")).unwrap_err()
        };
        assert!(matches!(bad("a: [unclosed"), Error::BadYaml { .. }));
        assert!(matches!(bad("- a\n- b\n"), Error::NotAnObject { .. }));
        assert!(
            matches!(bad("kind: X\nmetadata: {name: a}\n"), Error::NotAnObject { reason, .. } if reason == "no apiVersion")
        );
        assert!(matches!(
            bad("apiVersion: v1\nkind: List\nmetadata: {name: a}\n"),
            Error::NotAnObject { .. }
        ));
        assert!(matches!(bad("---\n---\n"), Error::NoObjects { .. }));
    }

    #[test]
    fn apply_reads_the_rewritten_baseline() {
        let mut r = rules("productpage-candidate.yaml");
        r.apply = vec![p("productpage.yaml")];
        let t = during_experiment().file(
            "env/productpage-candidate.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: productpage-candidate\n",
        );
        let plan = plan(&t, &r).unwrap();
        assert_eq!(plan.objects[0].name, "productpage-stable");
    }

    #[test]
    fn rewrite_is_literal_and_ordered() {
        let r = [
            ("a.b".to_string(), "x".to_string()),
            ("x".to_string(), "y".to_string()),
        ];
        assert_eq!(rewrite("a.b acb", &r), "y acb");
    }
}
