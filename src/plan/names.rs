//! Newtypes for the domain strings that must be valid before anything runs: branch names
//! (git's `check-ref-format` rules), paths inside the repo (confined, normalized) and
//! `owner/repo` slugs. Pure: no I/O.

use std::fmt;

/// A branch name that `git check-ref-format --branch` accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BranchName(String);

impl BranchName {
    /// Validates `s` with the rules of `git check-ref-format` for `refs/heads/<s>`.
    pub fn parse(s: &str) -> Result<BranchName, String> {
        let why = |m: &str| Err(format!("is not a valid branch name: {m}"));
        if s.is_empty() {
            return why("it is empty");
        }
        if s.starts_with("refs/") {
            return why("give the short name, without refs/heads/");
        }
        if s == "@" || s == "HEAD" {
            return why("it is reserved");
        }
        if s.starts_with('-') {
            return why("it starts with '-'");
        }
        if s.starts_with('/') || s.ends_with('/') || s.contains("//") {
            return why("it has an empty path component");
        }
        if s.ends_with('.') {
            return why("it ends with '.'");
        }
        if s.contains("..") {
            return why("it contains '..'");
        }
        if s.contains("@{") {
            return why("it contains '@{'");
        }
        if let Some(c) = s
            .chars()
            .find(|c| c.is_control() || " ~^:?*[\\".contains(*c))
        {
            return why(&format!("it contains {c:?}"));
        }
        for comp in s.split('/') {
            if comp.starts_with('.') {
                return why("a component starts with '.'");
            }
            if comp.ends_with(".lock") {
                return why("a component ends with '.lock'");
            }
        }
        Ok(BranchName(s.to_string()))
    }

    /// The short name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `refs/heads/<name>`.
    pub fn full_ref(&self) -> String {
        format!("refs/heads/{}", self.0)
    }
}

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A relative path inside the repository, already normalized: no empty, `.` or `..`
/// components, not absolute, no NUL and no backslash. The empty path is the repo root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoPath(String);

impl RepoPath {
    /// The repository root.
    pub fn root() -> RepoPath {
        RepoPath(String::new())
    }

    /// Validates a user-given relative path.
    pub fn parse(s: &str) -> Result<RepoPath, String> {
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.contains('\0') {
            return Err("contains a NUL byte".into());
        }
        if s.starts_with('/') || s.starts_with('\\') || s.get(1..3) == Some(":\\") {
            return Err("is absolute; give a path relative to GITOPS_DIR".into());
        }
        if s.contains('\\') {
            return Err("contains '\\'; use '/' to separate directories".into());
        }
        let mut parts = vec![];
        for comp in s.split('/') {
            match comp {
                "" | "." => {}
                ".." => return Err("contains '..'; paths must stay inside GITOPS_DIR".into()),
                c if is_dotgit(c) => {
                    return Err(format!(
                        "points into .git ({c:?} is .git to git on some file systems, and git refuses it in a tree)"
                    ));
                }
                c => parts.push(c),
            }
        }
        if parts.is_empty() {
            return Err("names no file".into());
        }
        Ok(RepoPath(parts.join("/")))
    }

    /// `self/other`, both already valid.
    pub fn join(&self, other: &RepoPath) -> RepoPath {
        if self.0.is_empty() {
            other.clone()
        } else if other.0.is_empty() {
            self.clone()
        } else {
            RepoPath(format!("{}/{}", self.0, other.0))
        }
    }

    /// True for the repository root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path as a `/`-separated string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every proper prefix (the directories leading to this path), shortest first.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(|(i, _)| &self.0[..i])
    }
}

/// True for a path component that git refuses in a tree because some file system reads it as
/// `.git` (git's `verify_path`): `.git` in any case; on HFS+ with the code points it ignores
/// (`is_hfs_dotgit`); on NTFS with trailing dots or spaces, an alternate data stream, or the
/// 8.3 short name `git~1` (`is_ntfs_dotgit`). A checkout of such a tree breaks, or worse,
/// writes into the repository's own `.git`.
pub fn is_dotgit(component: &str) -> bool {
    // HFS+ ignores these when it compares names (git's `next_hfs_char`).
    let ignorable = |c: char| matches!(c, '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}');
    let hfs: String = component.chars().filter(|c| !ignorable(*c)).collect();
    if hfs.eq_ignore_ascii_case(".git") {
        return true;
    }
    let lower = component.to_ascii_lowercase();
    if lower == "git~1" {
        return true;
    }
    match lower.strip_prefix(".git") {
        // NTFS drops trailing dots and spaces; `:` starts an alternate data stream.
        Some(rest) => {
            rest.starts_with(':')
                || (!rest.is_empty() && rest.chars().all(|c| c == '.' || c == ' '))
        }
        None => false,
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "." } else { &self.0 })
    }
}

/// `owner/repo` on the Git host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSlug {
    owner: String,
    repo: String,
}

impl RepoSlug {
    /// Parses `owner/repo`, or `group/subgroup/.../repo` (GitLab's nested groups; the
    /// owner is then every part but the last).
    pub fn parse(s: &str) -> Result<RepoSlug, String> {
        let ok = |p: &str| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        match s.rsplit_once('/') {
            Some((o, r)) if o.split('/').all(ok) && ok(r) => Ok(RepoSlug {
                owner: o.into(),
                repo: r.into(),
            }),
            _ => Err("is not owner/repo (letters, digits, '-', '_', '.')".into()),
        }
    }

    /// The owner (user or organization).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The repository name.
    pub fn repo(&self) -> &str {
        &self.repo
    }
}

impl fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)
    }
}

/// Where the Env repo lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoLocation {
    /// A remote reached over HTTPS (or plain HTTP without credentials, for tests).
    Https(url::Url),
    /// A bare repository on this machine (local runs and the bundled example).
    Local(std::path::PathBuf),
}

impl RepoLocation {
    /// The URL handed to gix: never contains credentials.
    pub fn as_gix_url(&self) -> String {
        match self {
            RepoLocation::Https(u) => u.to_string(),
            RepoLocation::Local(p) => p.display().to_string(),
        }
    }

    /// `owner/repo` from an https URL path like `/owner/repo.git`.
    pub fn slug(&self) -> Option<RepoSlug> {
        match self {
            RepoLocation::Https(u) => {
                let path = u.path().trim_matches('/');
                let path = path.strip_suffix(".git").unwrap_or(path);
                RepoSlug::parse(path).ok()
            }
            RepoLocation::Local(_) => None,
        }
    }
}

impl std::fmt::Display for RepoLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_gix_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_check_ref_format() {
        for ok in ["main", "iter8_exp", "iter8/gitops-exp-4890", "release-1.2"] {
            assert!(BranchName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a..b",
            "a b",
            "a~1",
            "x^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "/a",
            "a/",
            "a//b",
            ".a",
            "a/.b",
            "a.lock",
            "a.",
            "@",
            "a@{1}",
            "-a",
            "refs/heads/x",
            "a\u{7f}",
        ] {
            assert!(BranchName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn repo_paths_are_confined_and_normalized() {
        assert_eq!(RepoPath::parse("./a//b.yaml").unwrap().as_str(), "a/b.yaml");
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\0b",
            "C:\\x",
            "a\\b",
            ".git/config",
            ".GIT/hooks/post-checkout",
            "a/.Git/config",
            ".g\u{200c}it/config",
            "\u{feff}.git/x",
            "git~1/config",
            "GIT~1/config",
            ".git./x",
            ".git . /x",
            ".git::$INDEX_ALLOCATION/x",
            "a\\.git\\x",
            ".",
            "./",
        ] {
            assert!(RepoPath::parse(bad).is_err(), "{bad:?}");
        }
        // Names that only look alike are fine.
        for ok in [
            ".github/workflows/x.yaml",
            ".gitignore",
            "git~2/x",
            "a.git/b",
            ".gitkeep",
        ] {
            assert!(RepoPath::parse(ok).is_ok(), "{ok:?}");
        }
        let p = RepoPath::parse("a/b/c.yaml").unwrap();
        assert_eq!(p.ancestors().collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(RepoPath::root().join(&p), p);
    }

    #[test]
    fn slugs() {
        assert_eq!(RepoSlug::parse("acme/env").unwrap().to_string(), "acme/env");
        assert!(RepoSlug::parse("acme").is_err());
        assert!(RepoSlug::parse("../b").is_err());
        // GitLab's nested groups: the owner is the group path.
        let nested = RepoSlug::parse("platform/envs/prod").unwrap();
        assert_eq!((nested.owner(), nested.repo()), ("platform/envs", "prod"));
        for bad in ["a//b", "/a/b", "a/b/", "a/../b"] {
            assert!(RepoSlug::parse(bad).is_err(), "{bad:?}");
        }
    }
}
