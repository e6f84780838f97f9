//! A folder deep in a large Env repo: where the server filters, the fetch takes only the
//! trees on the way to the rules' paths (`filter tree:0`, one request per level), not every
//! tree of the tip; a server that refuses tree filters gets `blob:none`; one that filters
//! nothing sends every blob, which the run sifts on arrival; the pushed commit is the same
//! every way and touches only that folder.

use std::path::Path;

use crate::util::*;

/// The tutorial's Env repo at `samples/gitops/clusters/prod/gitops`, beside 200 other folders
/// of manifests (in `clusters/` and `apps/`).
fn monorepo(root: &Path) {
    testkit::copy_dir(&before(), &root.join("clusters/prod/gitops"));
    for i in 0..100 {
        for j in 0..5 {
            let f = |top: &str| root.join(format!("{top}/c{i:03}/app/f{j}.yaml"));
            for top in ["clusters", "apps"] {
                std::fs::create_dir_all(f(top).parent().unwrap()).unwrap();
                std::fs::write(
                    f(top),
                    format!("kind: ConfigMap\nmetadata:\n  name: c{i}-{j}\n"),
                )
                .unwrap();
            }
        }
    }
}

const DEEP: &str = "samples/gitops/clusters/prod/gitops";

/// What the server filters: `tree:0` (as GitHub, GitLab, Gitea), only `blob:none`
/// (`uploadpackfilter.tree.allow=false`), or nothing (as Azure DevOps). The run's report says
/// which fetch it made.
#[derive(Clone, Copy, PartialEq)]
enum Filters {
    Trees,
    BlobsOnly,
    Nothing,
}

impl Filters {
    fn fetch(self) -> &'static str {
        match self {
            Filters::Trees => "tree:0",
            Filters::BlobsOnly => "blob:none",
            Filters::Nothing => "whole",
        }
    }
}

/// A run on the monorepo, served with `filters`. Returns the world and the bytes upload-pack
/// sent.
fn run(filters: Filters, promotion: Option<&str>) -> (World, tempfile::TempDir, usize) {
    let content = tempfile::tempdir().unwrap();
    monorepo(content.path());
    let mut w = World::with_content(content.path(), SLUG);
    if filters == Filters::BlobsOnly {
        testkit::git(
            &w.bare(),
            &["config", "uploadpackfilter.tree.allow", "false"],
        );
    }
    if filters == Filters::Nothing {
        testkit::git(&w.bare(), &["config", "uploadpack.allowFilter", "false"]);
    }
    w.set("GITOPS_DIR", Some(DEEP));
    if let Some(text) = promotion {
        let path = w.tmp.path().join("promotion.yaml");
        std::fs::write(&path, text).unwrap();
        w.without_single_rules()
            .set("GITOPS_DIR", Some("samples/gitops"))
            .set("GITOPS_CONFIG", Some(path.to_str().unwrap()));
    }
    let o = w.run(&[]);
    assert_code(&o, 0);
    // (A promotion file's report has it per commit.)
    let fetch = format!("\"fetch\":\"{}\"", filters.fetch());
    assert!(o.stdout.contains(&fetch), "{}", o.stdout);
    let fetched = w
        .git
        .server
        .log()
        .iter()
        .filter(|q| q.path.ends_with("git-upload-pack"))
        .map(|q| q.response_bytes)
        .sum();
    (w, content, fetched)
}

/// The files the PR branch's commit changed, against its parent.
fn changed(w: &World) -> Vec<String> {
    testkit::git(
        &w.bare(),
        &["diff", "--name-only", "iter8_exp^", "iter8_exp"],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn a_deep_folder_costs_only_the_trees_on_its_path_blob_none_where_trees_are_not_filtered_and_a_sifted_whole_pack_where_nothing_is()
 {
    let (walked, _c1, walk_bytes) = run(Filters::Trees, None);
    let (whole, _c2, blob_none_bytes) = run(Filters::BlobsOnly, None);
    let (sifted, _c3, every_blob_bytes) = run(Filters::Nothing, None);
    for w in [&walked, &whole, &sifted] {
        assert_same_tree(&w.checkout("iter8_exp").path().join(DEEP), &after());
        testkit::git(&w.bare(), &["fsck", "--strict"]);
        assert!(
            changed(w).iter().all(|f| f.starts_with(DEEP)),
            "{:?}",
            changed(w)
        );
        // The same tree either way.
        assert_eq!(
            testkit::git(&w.bare(), &["rev-parse", "iter8_exp^{tree}"]),
            testkit::git(&walked.bare(), &["rev-parse", "iter8_exp^{tree}"])
        );
    }
    let bodies =
        |w: &World| -> String { w.git.server.log().iter().map(|q| q.body.clone()).collect() };
    assert!(bodies(&walked).contains("filter tree:0"));
    assert!(!bodies(&walked).contains("filter blob:none"), "no fallback");
    assert!(bodies(&whole).contains("filter blob:none"), "the fallback");
    assert!(
        !bodies(&sifted).contains("filter "),
        "no filter asked of a server without"
    );
    // 200 sibling folders' trees stay on the server.
    println!(
        "fetched: path walk {walk_bytes} bytes, blob:none {blob_none_bytes} bytes, \
         every blob {every_blob_bytes} bytes"
    );
    assert!(
        walk_bytes * 3 < blob_none_bytes,
        "walk {walk_bytes} bytes, blob:none {blob_none_bytes} bytes"
    );
}

#[test]
fn two_targets_in_different_subtrees_and_a_folder_the_promotion_creates() {
    let file = "targets:
- name: prod
  dir: clusters/prod/gitops
  edits:
    - replace: {file: productpage.yaml, from: 'name: productpage', to: 'name: productpage-v2'}
- name: new-cluster
  dir: clusters
  edits:
    - copy: {from: c007/app/f1.yaml, to: new/gitops/f1.yaml}
";
    let (walked, _c, _) = run(Filters::Trees, Some(file));
    let (whole, _c2, _) = run(Filters::BlobsOnly, Some(file));
    let (sifted, _c3, _) = run(Filters::Nothing, Some(file));
    for w in [&walked, &whole, &sifted] {
        let mut files = changed(w);
        files.sort();
        assert_eq!(
            files,
            [
                "samples/gitops/clusters/new/gitops/f1.yaml",
                "samples/gitops/clusters/prod/gitops/productpage.yaml"
            ]
        );
        testkit::git(&w.bare(), &["fsck", "--strict"]);
        let copied = testkit::git(
            &w.bare(),
            &[
                "show",
                "iter8_exp:samples/gitops/clusters/new/gitops/f1.yaml",
            ],
        );
        assert!(copied.contains("name: c7-1"), "{copied}");
    }
    for w in [&whole, &sifted] {
        assert_eq!(
            testkit::git(&walked.bare(), &["rev-parse", "iter8_exp^{tree}"]),
            testkit::git(&w.bare(), &["rev-parse", "iter8_exp^{tree}"])
        );
    }
}

#[test]
fn a_path_walk_refused_half_way_falls_back_to_blob_none_on_a_fresh_connection() {
    // The third upload-pack POST is the walk's first tree request (after ls-refs and the
    // commits): refused, the run fetches commits and trees with `blob:none` instead.
    let w = World::tutorial();
    let mut refuse = testkit::Fault::status("POST /acme/env.git/git-upload-pack", 500, 1);
    refuse.nth = 3;
    w.git.server.fault(refuse);
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["partial_fetch"], true);
    assert_eq!(o.report()["fetch"], "blob:none");
    let bodies: String = w.git.server.log().iter().map(|q| q.body.clone()).collect();
    assert!(bodies.contains("filter tree:0") && bodies.contains("filter blob:none"));
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    testkit::git(&w.bare(), &["fsck", "--strict"]);
}
