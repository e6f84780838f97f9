//! The rules' paths as the fetch reads them: the folders on the way to each (the path walk
//! fetches them level by level, the sifter keeps them), the files and the listed folders.

use std::collections::HashSet;

/// The directories the rules' paths go through, by depth (1: top-level folders): for
/// `a/b/c.yaml`, `a` and `a/b`; for `a/b/` (a folder `start` lists), `a` and `a/b` too.
pub(super) fn dirs_by_depth(paths: &[String]) -> Vec<Vec<String>> {
    let mut levels: Vec<Vec<String>> = vec![];
    for p in paths {
        let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        let dirs = if p.ends_with('/') {
            parts.len()
        } else {
            parts.len().saturating_sub(1)
        };
        for depth in 1..=dirs {
            let dir = parts[..depth].join("/");
            if levels.len() < depth {
                levels.resize(depth, vec![]);
            }
            if !levels[depth - 1].contains(&dir) {
                levels[depth - 1].push(dir);
            }
        }
    }
    levels
}

/// The rules' paths, as the sifter looks them up.
pub(super) struct Paths {
    /// Every folder on the way to a path, the root excluded: `a`, `a/b` for `a/b/c.yaml`.
    pub(super) dirs: HashSet<String>,
    /// Files the rules read.
    pub(super) files: HashSet<String>,
    /// Folders whose files are all read (`start` lists a folder: `dir/`).
    pub(super) listed: HashSet<String>,
}

impl Paths {
    pub(super) fn new(paths: &[String]) -> Paths {
        let mut p = Paths {
            dirs: dirs_by_depth(paths).into_iter().flatten().collect(),
            files: HashSet::new(),
            listed: HashSet::new(),
        };
        for path in paths {
            match path.strip_suffix('/') {
                Some(dir) => p.listed.insert(dir.to_string()),
                None => p.files.insert(path.clone()),
            };
        }
        p
    }
}
