//! `git http-backend` behind HTTPS with Basic auth: the git CLI's own smart-HTTP server.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use base64::Engine;

use crate::server::{Req, Resp, Server, Tls};

/// A directory of bare repos served over HTTPS at `/<owner>/<repo>.git`.
pub struct GitServer {
    pub server: Server,
    root: tempfile::TempDir,
    /// Set: the server ignores `Git-Protocol: version=2` and speaks the original protocol
    /// (with `multi_ack_detailed`), as Azure DevOps does.
    v0_only: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl GitServer {
    /// Serves an empty root; every request must carry Basic auth with `token` as password.
    pub fn start(tls: &Tls, token: &str) -> GitServer {
        let root = tempfile::tempdir().expect("tempdir");
        let project_root = root.path().to_path_buf();
        let token = token.to_string();
        let backend = backend_path();
        let v0_only = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let v0 = v0_only.clone();
        let server = Server::start(tls, move |req| {
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"))
            );
            let ok = req.header("authorization").is_some_and(|a| {
                // Any user name, the token as password (as GitHub does).
                a.strip_prefix("Basic ")
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .and_then(|d| String::from_utf8(d).ok())
                    .and_then(|s| s.split_once(':').map(|(_, p)| p == token))
                    .unwrap_or(false)
                    || a == expected
            });
            if !ok {
                return Resp {
                    status: 401,
                    headers: vec![("www-authenticate".into(), "Basic realm=\"git\"".into())],
                    body: b"Unauthorized".to_vec(),
                };
            }
            let v0 = v0.load(std::sync::atomic::Ordering::SeqCst);
            cgi(&backend, &project_root, req, v0)
        });
        GitServer {
            server,
            root,
            v0_only,
        }
    }

    /// From now on, speaks only the original protocol (no v2), as Azure DevOps does.
    pub fn speak_protocol_v0_only(&self) {
        self.v0_only
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The directory holding the bare repos.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The bare repo's path on disk.
    pub fn repo_path(&self, slug: &str) -> PathBuf {
        self.root.path().join(format!("{slug}.git"))
    }

    /// The clone URL of the repo at `path` below the root.
    pub fn url_of(&self, path: &str) -> String {
        format!("{}/{path}", self.server.base_url())
    }

    /// The clone URL of `owner/repo`.
    pub fn url(&self, slug: &str) -> String {
        format!("{}/{slug}.git", self.server.base_url())
    }

    /// Creates `owner/repo` with one commit on `branch` holding `files` (from a directory);
    /// returns the bare repo's path.
    pub fn create_repo(&self, slug: &str, branch: &str, content: &Path, subdir: &str) -> PathBuf {
        self.create_repo_at(&format!("{slug}.git"), branch, content, subdir)
    }

    /// As [`GitServer::create_repo`], at `path` below the root as is (Azure DevOps serves
    /// `org/project/_git/repo`, without `.git`); its clone URL is [`GitServer::url_of`].
    pub fn create_repo_at(
        &self,
        path: &str,
        branch: &str,
        content: &Path,
        subdir: &str,
    ) -> PathBuf {
        let work = tempfile::tempdir().expect("tempdir");
        crate::git(work.path(), &["init", "-q", "-b", branch]);
        let dest = work.path().join(subdir);
        std::fs::create_dir_all(&dest).expect("mkdir");
        copy_dir(content, &dest);
        crate::git(work.path(), &["add", "-A"]);
        crate::git(work.path(), &["commit", "-q", "-m", "iter8 experiment"]);
        let bare = self.root.path().join(path);
        std::fs::create_dir_all(bare.parent().expect("parent")).expect("mkdir");
        crate::git(
            work.path(),
            &[
                "clone",
                "-q",
                "--bare",
                ".",
                bare.to_str().expect("utf-8 path"),
            ],
        );
        crate::git(&bare, &["config", "http.receivepack", "true"]);
        // Like GitHub: partial clone (filter) and objects by id (what lazy fetches use).
        crate::git(&bare, &["config", "uploadpack.allowFilter", "true"]);
        crate::git(&bare, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
        bare
    }
}

/// Copies a directory tree (files only), making the copies writable.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&e.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(e.path()).expect("read")).expect("write");
        }
    }
}

fn backend_path() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("git-http-backend")
}

/// Runs `git http-backend` as a CGI for `req`.
fn cgi(backend: &Path, root: &Path, req: &Req, v0_only: bool) -> Resp {
    let mut cmd = Command::new(backend);
    cmd.env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("PATH_INFO", &req.path)
        .env("QUERY_STRING", &req.query)
        .env("REQUEST_METHOD", &req.method)
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    if let Some(ct) = req.header("content-type") {
        cmd.env("CONTENT_TYPE", ct);
    }
    if let Some(p) = req.header("git-protocol").filter(|_| !v0_only) {
        cmd.env("HTTP_GIT_PROTOCOL", p);
    }
    if let Some(enc) = req.header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", enc);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git http-backend starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let body = req.body.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output().expect("git http-backend runs");
    let _ = writer.join();
    parse_cgi(&out.stdout)
}

fn parse_cgi(out: &[u8]) -> Resp {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return Resp {
            status: 500,
            headers: vec![],
            body: out.to_vec(),
        };
    };
    let head = String::from_utf8_lossy(&out[..end]);
    let mut status = 200;
    let mut headers = vec![];
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("status") {
                status = v
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(500);
            } else {
                headers.push((k.to_string(), v.to_string()));
            }
        }
    }
    Resp {
        status,
        headers,
        body: out[end + sep..].to_vec(),
    }
}
