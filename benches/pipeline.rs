//! Benchmark: iter8-gitops against the seed's git CLI pipeline, side by side, in one run.
//!
//! Generates an Env repo of 5,000 small YAML files over 1,000 commits (with the tutorial's
//! files under `samples/gitops`), serves it with the tests' HTTPS `git http-backend` server and
//! GitHub fake, and runs, alternating, N times each (default 7, `BENCH_RUNS`):
//! - `iter8-gitops` (the release binary): depth-1 fetch, in-memory commit, receive-pack push, PR;
//! - the seed's pipeline: `git clone --depth 1 --branch`, sed, rm, commit, `git push -f`, curl.
//!
//! Each run starts from the same state (PR branch deleted, no PR). Prints the median wall time
//! and peak RSS (GNU time's %M: the largest process of the run) of each, and their ratios.
//!
//! ```sh
//! cargo bench --bench pipeline
//! ```
//!
//! Then the largest accepted and the hostile inputs, and the receiver under load
//! (`receiver.rs`). `BENCH_RECEIVER=1` runs only the receiver's load.
//!
//! `BENCH_SCALE=1 cargo bench --bench pipeline` runs the scale mode instead (`scale.rs`): 5k,
//! 100k and 1M files, with and without the server filter, against the git floor.

use std::{
    fmt::Write as _,
    io::Write as _,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use testkit::{GitHubFake, GitServer, Tls};

mod receiver;
mod scale;

const TOKEN: &str = "ghp_BenchToken0123456789";
const FILES: usize = 5_000;
const COMMITS: usize = 1_000;

fn fast_import_stream(tutorial: &Path) -> Vec<u8> {
    let mut s = Vec::new();
    let blob = |s: &mut Vec<u8>, path: &str, data: &[u8]| {
        write!(s, "M 100644 inline {path}\ndata {}\n", data.len()).unwrap();
        s.extend_from_slice(data);
        s.push(b'\n');
    };
    let file = |i: usize, rev: usize| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i:04}\n  namespace: team-{}\ndata:\n  revision: \"{rev}\"\n  owner: team-{}\n",
            i % 50,
            i % 50
        )
    };
    let generated = FILES - std::fs::read_dir(tutorial).unwrap().count();
    for c in 0..COMMITS {
        let msg = format!("change {c}");
        write!(s, "commit refs/heads/gitops\nmark :{}\ncommitter CI <ci@example.com> {} +0000\ndata {}\n{msg}\n", c + 1, 1_600_000_000 + c * 60, msg.len()).unwrap();
        if c > 0 {
            writeln!(s, "from :{c}").unwrap();
        }
        if c == 0 {
            for i in 0..generated {
                blob(
                    &mut s,
                    &format!("apps/team-{:02}/app-{i:04}.yaml", i % 50),
                    file(i, 0).as_bytes(),
                );
            }
        } else {
            for k in 0..5 {
                let i = (c * 7 + k * 997) % generated;
                blob(
                    &mut s,
                    &format!("apps/team-{:02}/app-{i:04}.yaml", i % 50),
                    file(i, c).as_bytes(),
                );
            }
        }
        // The experiment's files arrive with the last commit, as CI's "iter8 experiment".
        if c == COMMITS - 1 {
            for (name, data) in files_under(tutorial, "samples/gitops") {
                blob(&mut s, &name, &data);
            }
        } else if c == 0 {
            for f in ["productpage.yaml", "istio-vs.yaml"] {
                blob(
                    &mut s,
                    &format!("samples/gitops/{f}"),
                    &std::fs::read(tutorial.join(f)).unwrap(),
                );
            }
        }
    }
    s
}

/// Every file under `dir`, named `prefix/<its path below dir>`, with its bytes.
fn files_under(dir: &Path, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            out.extend(files_under(&e.path(), &name));
        } else {
            out.push((name, std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

/// Runs `cmd` under GNU time; returns (wall seconds, peak RSS in KiB).
fn measure(mut cmd: Command, rss_file: &Path) -> (f64, u64) {
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    let wall = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        // The tool's step timings, from its report.
        let stdout = String::from_utf8_lossy(&out.stdout);
        if let Some(t) = stdout
            .lines()
            .last()
            .and_then(|l| l.find("\"timings_ms\"").map(|i| l[i..].to_string()))
        {
            eprintln!("  {t}");
        }
    }
    let rss = std::fs::read_to_string(rss_file)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (wall, rss)
}

/// The tutorial's finish task as iter8-gitops runs it, under GNU time; `env` adds the
/// repo, the API and the CA (and may override the rest).
fn tool_command(binary: &str, rss_file: &Path, home: &Path, env: &[(&str, String)]) -> Command {
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%M", "-o", rss_file.to_str().unwrap(), binary]);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home);
    for (k, v) in [
        ("GITOPS_BRANCH", "gitops"),
        ("GITOPS_DIR", "samples/gitops"),
        ("GITOPS_WINNER", "productpage-candidate.yaml"),
        ("GITOPS_BASELINE", "productpage.yaml"),
        ("GITOPS_REPLACE", "candidate=stable"),
        (
            "GITOPS_REMOVE",
            "productpage-candidate.yaml,fortio.yaml,experiment.yaml",
        ),
        ("GITOPS_TOKEN", TOKEN),
        ("GITOPS_LOG_FORMAT", "json"),
    ] {
        c.env(k, v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// The seed's finish task, minus apt-get and kubectl (no package mirror or cluster here):
/// clone at depth 1, sed, rm, commit, `git push -f`, curl the pulls API. `authority_path` is
/// the repo's URL without its scheme.
fn pipeline_script(authority_path: &str, api: &str) -> String {
    format!(
        r#"set -e
cd "$WORK"
git clone -q --depth 1 --branch=gitops https://x-access-token:{TOKEN}@{authority_path} repo
cd repo/samples/gitops
git config user.email 'iter8@iter8.tools'; git config user.name 'Iter8'
TMP=`mktemp`; sed 's/candidate/stable/g' productpage-candidate.yaml > $TMP; mv $TMP productpage.yaml
rm -f productpage-candidate.yaml; rm -f fortio.yaml; rm -f experiment.yaml
if [ `git status -s | wc -l` != 0 ]; then
  git checkout -q -b iter8_exp
  git commit -q -a -m 'update baseline'
  git push -q -f origin iter8_exp
  curl -sf --cacert "$CA" -H "Authorization: Bearer {TOKEN}" -H 'Accept: application/vnd.github+json' -XPOST {api}/repos/acme/env/pulls -d '{{"head":"iter8_exp", "base":"gitops", "body":"update baseline", "title":"Iter8 GitOps"}}' >/dev/null
fi
"#
    )
}

/// A bash `script` under GNU time, with git's config isolated and the test CA trusted.
fn pipeline_command(script: &str, rss_file: &Path, home: &Path, work: &Path, ca: &Path) -> Command {
    let mut c = Command::new("/usr/bin/time");
    c.args([
        "-f",
        "%M",
        "-o",
        rss_file.to_str().unwrap(),
        "bash",
        "-c",
        script,
    ]);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home)
        .env("WORK", work)
        .env("CA", ca)
        .env("GIT_SSL_CAINFO", ca)
        .env("GIT_CONFIG_NOSYSTEM", "1");
    c
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; this one only runs under `cargo bench`.
    }
    assert!(
        Path::new("/usr/bin/time").exists(),
        "GNU time is needed for peak RSS: apt-get install time"
    );
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(5);
    let tutorial =
        testkit::shared_dir().join("fixtures/iter8-gitops/real-run-huang195/before-99cba97");
    let tls = Tls::new();
    let git = GitServer::start(&tls, TOKEN);
    let github = GitHubFake::start(&tls, "acme/env", TOKEN);
    let tmp = tempfile::tempdir().unwrap();
    // Where the pipeline's clone (its work tree) goes: the temp dir by default, as in a Pod;
    // `BENCH_WORKDIR=/dev/shm` puts it on tmpfs, the pipeline's best case.
    let work = match std::env::var_os("BENCH_WORKDIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    // `BENCH_BINARY=target/x86_64-unknown-linux-musl/release/iter8-gitops` measures the static
    // binary the image ships (musl's allocator, not glibc's) instead of this build's.
    let binary = std::env::var("BENCH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_iter8-gitops").to_string());
    eprintln!("iter8-gitops binary: {binary}");
    if std::env::var_os("BENCH_RECEIVER").is_some() {
        print!("{}", receiver::run(&binary));
        return;
    }
    if let Ok(spec) = std::env::var("BENCH_SCALE") {
        let bench = scale::Bench {
            git: &git,
            github: &github,
            binary: &binary,
            home: tmp.path(),
            work: work.path(),
            ca: &ca,
            runs: std::env::var("BENCH_RUNS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(3)
                .max(1),
        };
        print!("{}", scale::run(&bench, &spec));
        return;
    }

    eprint!("generating {FILES} files over {COMMITS} commits ... ");
    let bare = git.repo_path("acme/env");
    std::fs::create_dir_all(&bare).unwrap();
    testkit::git(&bare, &["init", "-q", "--bare", "-b", "gitops"]);
    let mut fi = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&bare)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    fi.stdin
        .take()
        .unwrap()
        .write_all(&fast_import_stream(&tutorial))
        .unwrap();
    assert!(fi.wait().unwrap().success());
    testkit::git(&bare, &["gc", "-q"]);
    testkit::git(&bare, &["config", "http.receivepack", "true"]);
    // Served like GitHub: partial clone and objects by id are allowed (both clients may use
    // them; the seed's pipeline does not).
    // `BENCH_SERVER_FILTER=0` serves without them (iter8-gitops then fetches the whole tree).
    let filter = std::env::var("BENCH_SERVER_FILTER").map_or(true, |v| v != "0");
    testkit::git(
        &bare,
        &["config", "uploadpack.allowFilter", &filter.to_string()],
    );
    testkit::git(
        &bare,
        &[
            "config",
            "uploadpack.allowAnySHA1InWant",
            &filter.to_string(),
        ],
    );
    let files = testkit::git(&bare, &["ls-tree", "-r", "--name-only", "gitops"])
        .lines()
        .count();
    let commits = testkit::git(&bare, &["rev-list", "--count", "gitops"])
        .trim()
        .to_string();
    eprintln!("{files} files, {commits} commits");

    let url = git.url("acme/env");
    let authority = url.trim_start_matches("https://");
    let rss_file = tmp.path().join("rss");
    let tool = || {
        tool_command(
            &binary,
            &rss_file,
            tmp.path(),
            &[
                ("GITOPS_REPO", url.clone()),
                ("GITOPS_API_URL", github.api_url()),
                ("GITOPS_CA_FILE", ca.display().to_string()),
            ],
        )
    };
    let script = pipeline_script(authority, &github.api_url());
    let cli = || pipeline_command(&script, &rss_file, tmp.path(), work.path(), &ca);
    // Untimed, between runs: the PR branch and PR go, the pipeline's clone is deleted, and the
    // deletions reach the disk (on ext4 with `discard`, unlinking 5,000 files stalls whatever
    // writes next; that cost belongs to neither contender).
    let reset = || {
        let _ = Command::new("git")
            .args(["update-ref", "-d", "refs/heads/iter8_exp"])
            .current_dir(&bare)
            .status();
        github.clear();
        let clone = work.path().join("repo");
        if clone.exists() {
            std::fs::remove_dir_all(&clone).expect("remove the clone");
        }
        let _ = Command::new("sync").status();
    };

    let (mut tw, mut tr, mut cw, mut cr) = (vec![], vec![], vec![], vec![]);
    for i in 0..runs {
        reset();
        let before = git.server.log().len();
        let (w, r) = measure(tool(), &rss_file);
        if std::env::var_os("BENCH_VERBOSE").is_some() {
            for r in &git.server.log()[before..] {
                eprintln!(
                    "  server {} {} {}: {} ms",
                    r.method,
                    r.path,
                    r.query,
                    r.micros / 1000
                );
            }
        }
        assert_eq!(github.pulls().len(), 1, "iter8-gitops opened its PR");
        tw.push(w);
        tr.push(r as f64);
        reset();
        let (w, r) = measure(cli(), &rss_file);
        assert_eq!(github.pulls().len(), 1, "the pipeline opened its PR");
        cw.push(w);
        cr.push(r as f64);

        eprintln!(
            "run {}: iter8-gitops {:.3}s {} KiB | git CLI pipeline {:.3}s {} KiB",
            i + 1,
            tw[i],
            tr[i],
            cw[i],
            cr[i]
        );
    }
    let (tw, tr, cw, cr) = (
        median(&mut tw),
        median(&mut tr),
        median(&mut cw),
        median(&mut cr),
    );
    let mut out = String::new();
    writeln!(
        out,
        "\nEnv repo: {files} files, {commits} commits; {runs} alternating runs each; medians; \
         the pipeline's work tree in {}",
        work.path()
            .parent()
            .expect("a temp dir has a parent")
            .display()
    )
    .unwrap();
    writeln!(out, "{:<22} {:>10} {:>14}", "", "wall (s)", "peak RSS (MB)").unwrap();
    writeln!(
        out,
        "{:<22} {:>10.3} {:>14.1}",
        "iter8-gitops",
        tw,
        tr / 1024.0
    )
    .unwrap();
    writeln!(
        out,
        "{:<22} {:>10.3} {:>14.1}",
        "git CLI pipeline",
        cw,
        cr / 1024.0
    )
    .unwrap();
    writeln!(
        out,
        "{:<22} {:>9.1}x {:>13.1}x",
        "ratio (pipeline/tool)",
        cw / tw,
        cr / tr
    )
    .unwrap();
    writeln!(out, "targets: >= 5x faster; tool peak RSS <= 20 MB").unwrap();
    out.push_str(&largest_inputs(
        &tls,
        &git,
        &github,
        &binary,
        tmp.path(),
        &ca,
    ));
    out.push_str(&hostile_inputs(&tls, &git, &binary, tmp.path(), &ca));
    out.push_str(&receiver::run(&binary));
    print!("{out}");
}

/// The VirtualServices of one apply file: `count` documents of about `each` bytes.
fn virtual_services(count: usize, each: usize) -> String {
    let mut s = String::new();
    for i in 0..count {
        let mut doc = format!(
            "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: vs-{i:05}\nspec:\n  hosts: [h{i:05}]\n  http:\n"
        );
        let mut r = 0;
        while doc.len() + 110 < each {
            doc.push_str(&format!(
                "  - match: [{{uri: {{prefix: /p{r}}}}}]\n    route: [{{destination: {{host: s{r}, subset: v1}}, weight: 100}}]\n"
            ));
            r += 1;
        }
        s.push_str(&doc);
        s.push_str("---\n");
    }
    s
}

/// The largest inputs the Env repo may hand the tool, each through a whole promotion (fetch,
/// plan, push, PR, apply against the Kubernetes fake): the tool's peak RSS for each, against
/// the Job's 64 Mi limit and the 32 MiB target.
fn largest_inputs(
    tls: &Tls,
    git: &GitServer,
    github: &GitHubFake,
    binary: &str,
    tmp: &Path,
    ca: &Path,
) -> String {
    use iter8_gitops::plan::{MAX_APPLY_BYTES, MAX_FILE_BYTES, MAX_OBJECTS};
    let kube = testkit::KubeFake::start(tls, "bench-kube-token");
    kube.add_secret("default", "iter8-token", &[("token", TOKEN)]);
    let tutorial =
        testkit::shared_dir().join("fixtures/iter8-gitops/real-run-huang195/before-99cba97");
    let each = MAX_APPLY_BYTES / MAX_OBJECTS - 64;
    let apply = virtual_services(MAX_OBJECTS, each);
    assert!(apply.len() <= MAX_APPLY_BYTES, "{}", apply.len());
    // A winner at the size limit, every line unlike the baseline's: the diff's worst case.
    let line = "# a line of the winner that the baseline does not have, to be diffed in full\n";
    let winner = line.repeat(MAX_FILE_BYTES / line.len());
    let cases: [(&str, &str, String); 2] = [
        ("apply file at the limits", "istio-vs.yaml", apply),
        (
            "winner at the file limit",
            "productpage-candidate.yaml",
            winner,
        ),
    ];
    let mut out = format!(
        "\nLargest accepted inputs (limits: {MAX_FILE_BYTES} bytes a file, {MAX_APPLY_BYTES} bytes and {MAX_OBJECTS} objects to apply):\n"
    );
    for (i, (what, file, text)) in cases.into_iter().enumerate() {
        let slug = format!("acme/big{i}");
        let content = tmp.join(format!("big{i}"));
        testkit::copy_dir(&tutorial, &content);
        std::fs::write(content.join(file), &text).unwrap();
        git.create_repo(&slug, "gitops", &content, "samples/gitops");
        let rss_file = tmp.join(format!("rss-big{i}"));
        let mut c = whole_promotion(binary, tmp, &rss_file, &git.url(&slug), &github.api_url());
        c.env("GITOPS_PR_REPO", "acme/env")
            .env("GITOPS_PR_BRANCH", format!("iter8/big{i}"))
            .env("GITOPS_CA_FILE", ca)
            .env("GITOPS_TIMEOUT", "600")
            .env("KUBECONFIG", kube.kubeconfig());
        let (wall, rss) = measure(c, &rss_file);
        writeln!(
            out,
            "{what:<28} {:>7.2} MB input {wall:>7.3}s {:>7.1} MB peak RSS (target <= 32 MiB = 33.6 MB)",
            text.len() as f64 / 1e6,
            rss as f64 / 1024.0
        )
        .unwrap();
    }
    out
}

/// The release binary under GNU time for the tutorial's whole promotion (fetch, plan, push, PR,
/// apply) from `repo` with the PR API at `api`; the caller adds the cluster and the rest.
fn whole_promotion(binary: &str, home: &Path, rss_file: &Path, repo: &str, api: &str) -> Command {
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%M", "-o", rss_file.to_str().unwrap(), binary]);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home);
    for (k, v) in [
        ("GITOPS_REPO", repo),
        ("GITOPS_BRANCH", "gitops"),
        ("GITOPS_DIR", "samples/gitops"),
        ("GITOPS_WINNER", "productpage-candidate.yaml"),
        ("GITOPS_BASELINE", "productpage.yaml"),
        ("GITOPS_REMOVE", "fortio.yaml,experiment.yaml"),
        ("GITOPS_APPLY", "istio-vs.yaml"),
        ("GITOPS_NAMESPACE", "default"),
        ("GITOPS_API_URL", api),
        ("GITOPS_LOG_FORMAT", "json"),
    ] {
        c.env(k, v);
    }
    c
}

/// The hostile inputs of docs/security.md's *Limits*, one per kind, each through a run of the release
/// binary that must refuse it: its exit code, wall time and peak RSS against the 32 MiB
/// promise (issue 23; before the limits, 111 MiB to 2 GiB).
fn hostile_inputs(tls: &Tls, git: &GitServer, binary: &str, tmp: &Path, ca: &Path) -> String {
    use testkit::Fault;
    let tutorial =
        testkit::shared_dir().join("fixtures/iter8-gitops/real-run-huang195/before-99cba97");
    let big = "x".repeat(900_000);
    let bomb = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata: {{a: &a \"{big}\", b: [{}]}}\n",
        vec!["*a"; 60].join(", ")
    );
    let mut refs = String::from("001e# service=git-upload-pack\n0000");
    for i in 0..160 {
        let caps = if i == 0 {
            "\0side-band-64k ofs-delta"
        } else {
            ""
        };
        let line = format!(
            "{} refs/heads/{i:03}-{}{caps}\n",
            "1".repeat(40),
            "n".repeat(65_000)
        );
        refs.push_str(&format!("{:04x}{line}", line.len() + 4));
    }
    refs.push_str("0000");
    let mut out = String::from("\nHostile inputs, each refused (docs/security.md, Limits):\n");
    let cases: [(&str, i32); 5] = [
        ("apply alias bomb 54 MB", 5),
        ("winner of 1 GiB", 5),
        ("ref advertisement 10 MB", 4),
        ("PR lookup 50 MB", 6),
        ("Secret of 10 MB", 3),
    ];
    for (i, (what, want)) in cases.into_iter().enumerate() {
        let slug = format!("acme/hostile{i}");
        let content = tmp.join(format!("hostile{i}"));
        testkit::copy_dir(&tutorial, &content);
        let kube = testkit::KubeFake::start(tls, "bench-kube-token");
        let github = GitHubFake::start(tls, "acme/env", TOKEN);
        let mut token = TOKEN.to_string();
        let mut env: Vec<(&str, String)> = vec![];
        match i {
            0 => {
                std::fs::write(content.join("b.yaml"), &bomb).unwrap();
                env.push(("GITOPS_APPLY", "b.yaml".into()));
                env.push(("GITOPS_APPLY_KINDS", "ConfigMap".into()));
            }
            1 => std::fs::File::create(content.join("productpage-candidate.yaml"))
                .unwrap()
                .set_len(1 << 30)
                .unwrap(),
            2 => git.server.fault(
                Fault {
                    body: refs.clone(),
                    ..Fault::status(&format!("GET /{slug}.git/info/refs"), 200, 100)
                }
                .header(
                    "content-type",
                    "application/x-git-upload-pack-advertisement",
                ),
            ),
            3 => github.server.fault(
                Fault {
                    body: format!("[{}]", vec!["{\"number\":1}"; 4_000_000].join(",")),
                    ..Fault::status("GET /api/v3/repos/acme/env/pulls", 200, 100)
                }
                .header("content-type", "application/json"),
            ),
            _ => token = "t".repeat(10_000_000),
        }
        kube.add_secret("default", "iter8-token", &[("token", token.as_str())]);
        git.create_repo(&slug, "gitops", &content, "samples/gitops");
        let rss_file = tmp.join(format!("rss-hostile{i}"));
        let mut c = whole_promotion(binary, tmp, &rss_file, &git.url(&slug), &github.api_url());
        c.env("GITOPS_PR_BRANCH", format!("iter8/hostile{i}"))
            .env("GITOPS_CA_FILE", ca)
            .env("GITOPS_TIMEOUT", "120")
            .env("KUBECONFIG", kube.kubeconfig());
        for (k, v) in &env {
            c.env(k, v);
        }
        let start = Instant::now();
        let o = c.output().expect("runs");
        let wall = start.elapsed().as_secs_f64();
        let code = o.status.code().unwrap_or(-1);
        assert_eq!(code, want, "{what}: {}", String::from_utf8_lossy(&o.stderr));
        let kib: f64 = std::fs::read_to_string(&rss_file)
            .unwrap()
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .expect("GNU time's %M");
        writeln!(
            out,
            "{what:<28} exit {code} {wall:>7.3}s {:>7.1} MB peak RSS (target <= 32 MiB = 33.6 MB)",
            kib * 1024.0 / 1e6
        )
        .unwrap();
    }
    out
}
