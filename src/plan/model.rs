//! The planner's vocabulary: the tree snapshot it reads, the edits and plan it returns, its
//! errors and limits, and reading a file of the snapshot as text.

use crate::plan::names::RepoPath;

// The limits live with every other byte budget of the run (`limits.rs`).
pub use crate::limits::{MAX_APPLY_BYTES, MAX_DIFF_FILE_BYTES, MAX_FILE_BYTES, MAX_OBJECTS};

/// What sits at a path in the fetched tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular (or executable) file and its bytes.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symbolic link; never followed.
    Symlink,
    /// A submodule (gitlink); its content is not in this repo.
    Submodule,
    /// A file whose content was not fetched (a partial fetch covers only the rules' paths).
    Unavailable,
    /// A file whose object declares more than [`MAX_FILE_BYTES`]: its size, read from the
    /// object's header; the content was never inflated.
    TooLarge(u64),
}

/// Read access to a tree snapshot; implemented over gix trees and over maps in tests.
pub trait Snapshot {
    /// The entry at `path` (`/`-separated, relative to the repo root), if any.
    fn get(&self, path: &str) -> Option<Entry>;
    /// The names of the entries directly in directory `dir` ("" for the root); empty when it
    /// is not a directory.
    fn children(&self, dir: &str) -> Vec<String>;
}

/// One change to the tree (paths relative to the repo root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Create or replace a file.
    Write { path: RepoPath, content: Vec<u8> },
    /// Delete a file.
    Delete { path: RepoPath },
}

impl Edit {
    /// The path it touches.
    pub fn path(&self) -> &RepoPath {
        match self {
            Edit::Write { path, .. } | Edit::Delete { path } => path,
        }
    }
}

/// A Kubernetes object to server-side apply, as parsed from an apply file.
#[derive(Debug, Clone)]
pub struct Object {
    /// The file it came from (relative to the repo root).
    pub file: RepoPath,
    /// `apiVersion`
    pub api_version: String,
    /// `kind`
    pub kind: String,
    /// `metadata.name`
    pub name: String,
    /// `metadata.namespace`, when the file sets one.
    pub namespace: Option<String>,
    /// The whole object, as compact JSON. NB: text, not a `Value`: a `Value` tree takes tens
    /// of times the bytes of its text (a map of one key is a whole B-tree node), and a run
    /// holds every object from planning to apply.
    pub body: Box<serde_json::value::RawValue>,
}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        (
            &self.file,
            &self.api_version,
            &self.kind,
            &self.name,
            &self.namespace,
        ) == (
            &other.file,
            &other.api_version,
            &other.kind,
            &other.name,
            &other.namespace,
        ) && self.body.get() == other.body.get()
    }
}

/// The decided change.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Edits in the order they apply; empty when the tree already is what the rules want.
    pub edits: Vec<Edit>,
    /// A unified diff of the edits (`a/`, `b/` prefixes, like git).
    pub diff: String,
    /// Objects to apply after the push, read from the rewritten tree.
    pub objects: Vec<Object>,
    /// Why there is nothing to change, when `edits` is empty.
    pub unchanged_reason: Option<String>,
    /// What the rules asked that did nothing, for the report (a replacement never found).
    pub warnings: Vec<String>,
}

impl Plan {
    /// True when nothing would change in the repo.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// True when a newer experiment took over the files: the synced branch does not hold
    /// this one's outcome, and never will.
    pub fn is_superseded(&self) -> bool {
        self.unchanged_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("superseded"))
    }

    /// The files the edits touch, as `M path` / `D path` / `A path` lines.
    pub fn summary(&self, snapshot_had: impl Fn(&RepoPath) -> bool) -> Vec<String> {
        self.edits
            .iter()
            .map(|e| match e {
                Edit::Write { path, .. } if snapshot_had(path) => format!("M {path}"),
                Edit::Write { path, .. } => format!("A {path}"),
                Edit::Delete { path } => format!("D {path}"),
            })
            .collect()
    }
}

/// Why the plan cannot be made; the Env repo's content does not fit the rules.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("GITOPS_DIR {dir:?} does not exist on the branch; check GITOPS_DIR and GITOPS_BRANCH")]
    DirNotFound { dir: String },
    #[error(
        "{input} {path:?} does not exist on the branch; check the file name (relative to GITOPS_DIR) and the Experiment's variables"
    )]
    NotFound { input: &'static str, path: String },
    #[error(
        "{input} {path:?} goes through {through:?}, which is a {what}; paths through symlinks or submodules are refused"
    )]
    Through {
        input: &'static str,
        path: String,
        through: String,
        what: &'static str,
    },
    #[error("{input} {path:?} is a {what}, not a file")]
    NotAFile {
        input: &'static str,
        path: String,
        what: &'static str,
    },
    #[error("{input} {path:?} is {size} bytes, over the {max}-byte limit for a manifest")]
    TooLarge {
        input: &'static str,
        path: String,
        size: usize,
        max: usize,
    },
    #[error("apply file {path:?} {what}; apply fewer or smaller manifests in one run")]
    ApplyLimit { path: String, what: String },
    #[error("{input} {path:?} is not UTF-8 text; only text manifests can be rewritten")]
    NotText { input: &'static str, path: String },
    #[error("GITOPS_APPLY {path:?} is not valid YAML: {reason}")]
    BadYaml { path: String, reason: String },
    #[error("{input} {path:?} {reason}; fix the file on the branch, nothing was promoted")]
    NotYaml {
        input: &'static str,
        path: String,
        reason: crate::plan::expansion::Refused,
    },
    #[error("GITOPS_APPLY {path:?}: document {doc} is not a Kubernetes object: {reason}")]
    NotAnObject {
        path: String,
        doc: usize,
        reason: String,
    },
    #[error("GITOPS_APPLY {path:?} holds no Kubernetes object")]
    NoObjects { path: String },
    #[error(
        "GITOPS_REMOVE {path:?} and the baseline {baseline:?} overlap (one is inside the other); name the files to delete, not a folder holding the baseline"
    )]
    Overlap { path: String, baseline: String },
}

pub(crate) fn kind_name(e: &Entry) -> &'static str {
    match e {
        Entry::File(_) => "file",
        Entry::Dir => "directory",
        Entry::Symlink => "symlink",
        Entry::Submodule => "submodule",
        Entry::Unavailable => "file that was not fetched",
        Entry::TooLarge(_) => "file",
    }
}

/// Looks up `path`, refusing to pass through anything but directories on the way.
pub(crate) fn lookup(
    snap: &dyn Snapshot,
    input: &'static str,
    path: &RepoPath,
) -> Result<Option<Entry>, Error> {
    for prefix in path.ancestors() {
        match snap.get(prefix) {
            None => return Ok(None),
            Some(Entry::Dir) => {}
            Some(
                e @ (Entry::Symlink
                | Entry::Submodule
                | Entry::File(_)
                | Entry::Unavailable
                | Entry::TooLarge(_)),
            ) => {
                return Err(Error::Through {
                    input,
                    path: path.to_string(),
                    through: prefix.to_string(),
                    what: kind_name(&e),
                });
            }
        }
    }
    Ok(snap.get(path.as_str()))
}

/// Reads a text file that must exist.
pub(crate) fn read_text(
    snap: &dyn Snapshot,
    input: &'static str,
    path: &RepoPath,
) -> Result<Option<String>, Error> {
    match lookup(snap, input, path)? {
        None => Ok(None),
        Some(Entry::TooLarge(size)) => Err(Error::TooLarge {
            input,
            path: path.to_string(),
            size: size as usize,
            max: MAX_FILE_BYTES,
        }),
        Some(Entry::File(bytes)) => {
            if bytes.len() > MAX_FILE_BYTES {
                return Err(Error::TooLarge {
                    input,
                    path: path.to_string(),
                    size: bytes.len(),
                    max: MAX_FILE_BYTES,
                });
            }
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Error::NotText {
                    input,
                    path: path.to_string(),
                })
        }
        Some(e) => Err(Error::NotAFile {
            input,
            path: path.to_string(),
            what: kind_name(&e),
        }),
    }
}
