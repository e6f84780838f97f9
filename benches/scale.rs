//! Scale mode (`BENCH_SCALE=1`): the same promotion of `samples/gitops` in Env repos of 5k,
//! 100k and 1M files (`BENCH_SCALE=100k,1m` picks sizes), each served with and without the
//! server filter, over each link of the grid (`BENCH_LINKS`: loopback, a 30 ms / 100 Mbit/s
//! link and a 100 ms / 20 Mbit/s one, modelled by testkit's `LinkModel` in front of both the
//! git server and the API fake), side by side with the least a git client can do for the
//! same change (the floor: a bare `git clone --depth 1 [--filter=blob:none]` of the branch,
//! the new trees made with `mktree` along the path, one commit pushed, no API call) and, on
//! loopback where the server does not filter, the seed's git CLI pipeline. For iter8-gitops
//! it also prints the bytes fetched and pushed and the round trips to the git server, and the
//! bytes of the objects on the folder's path.
//!
//! The repos are generated once with `git fast-import` and kept in
//! `target/bench-cache/` (the 1M-file one takes a few minutes the first time).

use std::{
    fmt::Write as _,
    io::BufWriter,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use testkit::{GitHubFake, GitServer, Link, LinkModel, Recorded};

use crate::{TOKEN, files_under, measure, median, pipeline_command, pipeline_script, tool_command};

/// One Env repo size.
#[derive(Clone, Copy)]
struct Size {
    files: usize,
    commits: usize,
    label: &'static str,
}

const SIZES: [Size; 3] = [
    Size {
        files: 5_000,
        commits: 1_000,
        label: "5k",
    },
    Size {
        files: 100_000,
        commits: 10_000,
        label: "100k",
    },
    Size {
        files: 1_000_000,
        commits: 100_000,
        label: "1m",
    },
];

/// What one contender's run cost.
#[derive(Default, Clone)]
struct Cost {
    wall: f64,
    rss_kib: u64,
    fetched: usize,
    pushed: usize,
    trips: usize,
    /// HTTP requests to the API (the floor makes none).
    api: usize,
    /// The git server's own time answering the push (receive-pack: unpack, connectivity
    /// check, ref update), which any client waits for.
    server_push: f64,
}

/// The sizes `BENCH_SCALE` names (`1`: all of them).
fn chosen(spec: &str) -> Vec<Size> {
    let names: Vec<String> = spec.split(',').map(|s| s.trim().to_lowercase()).collect();
    SIZES
        .into_iter()
        .filter(|s| names.iter().any(|n| n == "1" || n == "all" || n == s.label))
        .collect()
}

/// The links `BENCH_LINKS` names (`loopback`, `30ms`, `100ms`; all three when unset).
fn chosen_links() -> Vec<Option<Link>> {
    let spec = std::env::var("BENCH_LINKS").unwrap_or_else(|_| "loopback,30ms,100ms".into());
    let mut out = vec![];
    for name in spec.split(',').map(str::trim) {
        out.push(match name {
            "loopback" => None,
            "30ms" => Some(Link::REGION),
            "100ms" => Some(Link::FAR),
            other => panic!("BENCH_LINKS: unknown link {other:?} (loopback, 30ms, 100ms)"),
        });
    }
    out
}

fn link_label(link: Option<Link>) -> String {
    link.map_or("loopback".into(), |l| l.label())
}

/// A file of the generated part of the repo: a small ConfigMap, as in an Env repo.
fn file(i: usize, rev: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i:07}\n  namespace: team-{}\ndata:\n  revision: \"{rev}\"\n",
        i % 100
    )
}

/// Where file `i` lives: ten files a folder, services under teams under regions, so that a
/// 1M-file repo has about 101k folders, none with more than 100 entries.
fn file_path(i: usize, files: usize) -> String {
    let services = (files / 10 / 1000).max(1);
    let (f, rest) = (i % 10, i / 10);
    let (s, rest) = (rest % services, rest / services);
    format!("apps/r{}/t{:02}/s{s:03}/f{f}.yaml", rest / 100, rest % 100)
}

/// Writes the fast-import stream of `size` to `out`: every file in the first commit, one file
/// changed by each later commit, the tutorial's experiment folder in the last.
fn write_stream(out: &mut impl std::io::Write, size: Size, tutorial: &Path) -> std::io::Result<()> {
    let blob = |out: &mut dyn std::io::Write, path: &str, data: &[u8]| -> std::io::Result<()> {
        write!(out, "M 100644 inline {path}\ndata {}\n", data.len())?;
        out.write_all(data)?;
        out.write_all(b"\n")
    };
    for c in 0..size.commits {
        let msg = format!("change {c}");
        write!(
            out,
            "commit refs/heads/gitops\nmark :{}\ncommitter CI <ci@example.com> {} +0000\ndata {}\n{msg}\n",
            c + 1,
            1_600_000_000 + c * 60,
            msg.len()
        )?;
        if c > 0 {
            writeln!(out, "from :{c}")?;
            let i = (c * 7919) % size.files;
            blob(out, &file_path(i, size.files), file(i, c).as_bytes())?;
        } else {
            for i in 0..size.files {
                blob(out, &file_path(i, size.files), file(i, 0).as_bytes())?;
            }
            for f in ["productpage.yaml", "istio-vs.yaml"] {
                blob(
                    out,
                    &format!("samples/gitops/{f}"),
                    &std::fs::read(tutorial.join(f))?,
                )?;
            }
        }
        if c == size.commits - 1 {
            for (name, data) in files_under(tutorial, "samples/gitops") {
                blob(out, &name, &data)?;
            }
        }
    }
    Ok(())
}

/// The bare repo of `size`, generated into `target/bench-cache/` unless it is there already.
fn cached_repo(size: Size, tutorial: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bare = target.join(format!(
        "bench-cache/env-{}-files-{}-commits-v1.git",
        size.files, size.commits
    ));
    if bare.join("generated").exists() {
        return bare;
    }
    eprint!(
        "generating {} files over {} commits (once; kept in {}) ... ",
        size.files,
        size.commits,
        bare.display()
    );
    let _ = std::fs::remove_dir_all(&bare);
    std::fs::create_dir_all(&bare).unwrap();
    testkit::git(&bare, &["init", "-q", "--bare", "-b", "gitops"]);
    let mut fi = Command::new("git")
        .args(["fast-import", "--quiet", "--depth=50"])
        .current_dir(&bare)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = BufWriter::with_capacity(1 << 20, fi.stdin.take().unwrap());
    write_stream(&mut stdin, size, tutorial).unwrap();
    drop(stdin.into_inner().unwrap());
    assert!(fi.wait().unwrap().success(), "git fast-import failed");
    // One pack, fast-import's deltas kept (as a served repo after `gc`).
    testkit::git(&bare, &["repack", "-a", "-d", "-q"]);
    testkit::git(&bare, &["config", "http.receivepack", "true"]);
    std::fs::write(bare.join("generated"), "").unwrap();
    eprintln!("done");
    bare
}

/// Serves `bare` with partial clone (filter, objects by id) allowed or not.
fn serve_filter(bare: &Path, on: bool) {
    for key in ["uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"] {
        testkit::git(bare, &["config", key, &on.to_string()]);
    }
}

/// The floor: what a git client must at least do for this change. `$URL` is the repo with the
/// token, `$FILTER` empty or `--filter=blob:none`.
const FLOOR: &str = r#"set -e
cd "$WORK"; rm -rf floor
git clone -q --bare --depth 1 --single-branch --branch gitops $FILTER "$URL" floor
cd floor
d=gitops:samples/gitops
b=$(git cat-file blob $d/productpage-candidate.yaml | sed s/candidate/stable/g | git hash-object -w --stdin)
sub=$({ git ls-tree $d | grep -v -P '\t(productpage-candidate|productpage|fortio|experiment)\.yaml$'; printf '100644 blob %s\tproductpage.yaml\n' $b; } | git mktree --missing)
sam=$({ git ls-tree gitops:samples | grep -v -P '\tgitops$'; printf '040000 tree %s\tgitops\n' $sub; } | git mktree --missing)
root=$({ git ls-tree gitops | grep -v -P '\tsamples$'; printf '040000 tree %s\tsamples\n' $sam; } | git mktree --missing)
c=$(echo 'update baseline' | git -c user.name=Iter8 -c user.email=iter8@iter8.tools commit-tree $root -p gitops)
git push -q "$URL" $c:refs/heads/iter8_exp
"#;

/// What the git server saw from one run: bytes fetched (upload-pack answers), bytes pushed
/// (receive-pack requests) and HTTP round trips.
fn traffic(log: &[Recorded]) -> (usize, usize, usize, f64) {
    let fetched = log
        .iter()
        .filter(|r| r.path.ends_with("git-upload-pack") || r.query.contains("upload-pack"))
        .map(|r| r.response_bytes)
        .sum();
    let pushed = log
        .iter()
        .filter(|r| r.path.ends_with("git-receive-pack"))
        .map(|r| r.request_bytes)
        .sum();
    let server_push = log
        .iter()
        .filter(|r| r.path.ends_with("git-receive-pack"))
        .map(|r| r.micros as f64 / 1e6)
        .sum();
    (fetched, pushed, log.len(), server_push)
}

/// The bytes of the objects on the promoted folder's path, as git stores them uncompressed:
/// the tip commit, the trees from the root to `samples/gitops`, and the blobs the rules read.
fn path_bytes(bare: &Path) -> usize {
    let objects = [
        "gitops",
        "gitops^{tree}",
        "gitops:samples",
        "gitops:samples/gitops",
        "gitops:samples/gitops/productpage-candidate.yaml",
        "gitops:samples/gitops/productpage.yaml",
        "gitops:samples/gitops/fortio.yaml",
        "gitops:samples/gitops/experiment.yaml",
    ];
    objects
        .iter()
        .map(|o| {
            testkit::git(bare, &["cat-file", "-s", o])
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .sum()
}

/// The bench's shared parts: the servers, where files go, the binary.
pub struct Bench<'a> {
    pub git: &'a GitServer,
    pub github: &'a GitHubFake,
    pub binary: &'a str,
    pub home: &'a Path,
    pub work: &'a Path,
    pub ca: &'a Path,
    pub runs: usize,
}

impl Bench<'_> {
    /// Runs `cmd`, measured, and reads what the git server saw of it.
    fn run(&self, cmd: Command, rss_file: &Path) -> Cost {
        let before = self.git.server.log().len();
        let api_before = self.github.server.log().len();
        let (wall, rss_kib) = measure(cmd, rss_file);
        let (fetched, pushed, trips, server_push) = traffic(&self.git.server.log()[before..]);
        Cost {
            wall,
            rss_kib,
            fetched,
            pushed,
            trips,
            api: self.github.server.log().len() - api_before,
            server_push,
        }
    }

    /// Untimed, between runs: the PR branch and the PR go, and so do the clones.
    fn reset(&self, bare: &Path) {
        let _ = Command::new("git")
            .args(["update-ref", "-d", "refs/heads/iter8_exp"])
            .current_dir(bare)
            .status();
        self.github.clear();
        for d in ["repo", "floor"] {
            let p = self.work.join(d);
            if p.exists() {
                std::fs::remove_dir_all(&p).expect("remove the clone");
            }
        }
        let _ = Command::new("sync").status();
    }

    /// One size with the server filter on or off, over `link`: medians of the alternating
    /// runs. The seed's pipeline runs on loopback only, where the server does not filter.
    fn measure_size(
        &self,
        slug: &str,
        bare: &Path,
        filter: bool,
        link: Option<Link>,
    ) -> [Option<Cost>; 3] {
        serve_filter(bare, filter);
        let model = link.map(LinkModel::new);
        let over = |url: String| model.as_ref().map_or(url.clone(), |m| m.url(&url));
        let url = over(self.git.url(slug));
        let api = over(self.github.api_url());
        let with_token = url.replacen("https://", &format!("https://x-access-token:{TOKEN}@"), 1);
        let rss = self.home.join("rss");
        let tool = || {
            tool_command(
                self.binary,
                &rss,
                self.home,
                &[
                    ("GITOPS_REPO", url.clone()),
                    ("GITOPS_PR_REPO", "acme/env".into()),
                    ("GITOPS_API_URL", api.clone()),
                    ("GITOPS_CA_FILE", self.ca.display().to_string()),
                    ("GITOPS_TIMEOUT", "600".into()),
                ],
            )
        };
        let floor = || {
            let mut c = pipeline_command(FLOOR, &rss, self.home, self.work, self.ca);
            c.env("URL", &with_token)
                .env("FILTER", if filter { "--filter=blob:none" } else { "" });
            c
        };
        // The seed's pipeline uses no filter: it is measured once, with the server's off.
        let script = pipeline_script(url.trim_start_matches("https://"), &api);
        let seed = !filter && link.is_none();
        let mut costs: [Vec<Cost>; 3] = Default::default();
        for _ in 0..self.runs {
            self.reset(bare);
            costs[0].push(self.run(tool(), &rss));
            assert_eq!(self.github.pulls().len(), 1, "iter8-gitops opened its PR");
            self.reset(bare);
            costs[1].push(self.run(floor(), &rss));
            if seed {
                self.reset(bare);
                let cli = pipeline_command(&script, &rss, self.home, self.work, self.ca);
                costs[2].push(self.run(cli, &rss));
                assert_eq!(self.github.pulls().len(), 1, "the pipeline opened its PR");
            }
        }
        self.reset(bare);
        costs.map(|c| (!c.is_empty()).then(|| medians(c)))
    }
}

/// The median of each figure over the runs.
fn medians(costs: Vec<Cost>) -> Cost {
    let pick = |f: &dyn Fn(&Cost) -> f64| median(&mut costs.iter().map(f).collect::<Vec<_>>());
    Cost {
        wall: pick(&|c| c.wall),
        rss_kib: pick(&|c| c.rss_kib as f64) as u64,
        fetched: pick(&|c| c.fetched as f64) as usize,
        pushed: pick(&|c| c.pushed as f64) as usize,
        trips: pick(&|c| c.trips as f64) as usize,
        api: pick(&|c| c.api as f64) as usize,
        server_push: pick(&|c| c.server_push),
    }
}

/// One table row: a size, a filter setting, the three contenders.
struct Row {
    size: Size,
    filter: bool,
    link: Option<Link>,
    path_bytes: usize,
    costs: [Option<Cost>; 3],
}

/// Runs the scale mode; returns the table and the targets' lines.
pub fn run(bench: &Bench, spec: &str) -> String {
    let tutorial =
        testkit::shared_dir().join("fixtures/iter8-gitops/real-run-huang195/before-99cba97");
    let mut rows = vec![];
    for size in chosen(spec) {
        let bare = cached_repo(size, &tutorial);
        let slug = format!("acme/scale-{}", size.label);
        let served = bench.git.repo_path(&slug);
        std::fs::create_dir_all(served.parent().unwrap()).unwrap();
        if !served.exists() {
            std::os::unix::fs::symlink(&bare, &served).unwrap();
        }
        let path_bytes = path_bytes(&bare);
        for link in chosen_links() {
            for filter in [true, false] {
                eprintln!(
                    "{} files, server filter {}, link {}",
                    size.files,
                    on_off(filter),
                    link_label(link)
                );
                let costs = bench.measure_size(&slug, &bare, filter, link);
                rows.push(Row {
                    size,
                    filter,
                    link,
                    path_bytes,
                    costs,
                });
            }
        }
    }
    let mut out = table(&rows, bench.runs);
    out.push_str(&targets(&rows));
    out
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn table(rows: &[Row], runs: usize) -> String {
    let mut out = format!(
        "\nScale: one promotion of samples/gitops (fetch, commit, push, PR); medians of {runs} alternating runs.\n\
         fetched/pushed: HTTP bodies at the git server; trips: HTTP requests to it; api: HTTP requests to the\n\
         API (the floor makes none); link: each byte pays the link (testkit's LinkModel, in front of the git\n\
         server and the API: a round trip per answer, one more per new connection, the bandwidth shared);\n\
         srv push: the git server's own time answering the push; path: the bytes of the commit, the trees from the root to\n\
         the folder and the blobs the rules read. MB: peak RSS, 10^6 bytes.\n"
    );
    writeln!(
        out,
        "{:<14} {:<13} {:>6} | {:>8} {:>7} {:>10} {:>8} {:>5} {:>3} {:>8} {:>9} | {:>8} {:>7} {:>11} | {:>8} {:>7} | {:>10}",
        "Env repo", "link", "filter", "tool s", "MB", "fetched B", "pushed B", "trips", "api", "srv push", "path B",
        "floor s", "MB", "fetched B", "CLI s", "MB", "tool/floor"
    )
    .unwrap();
    for r in rows {
        let [t, f, c] = &r.costs;
        let (t, f) = (t.as_ref().unwrap(), f.as_ref().unwrap());
        let cli = c.as_ref().map_or(format!("{:>8} {:>7}", "–", "–"), |c| {
            format!("{:>8.3} {:>7.1}", c.wall, c.rss_kib as f64 * 1024.0 / 1e6)
        });
        writeln!(
            out,
            "{:<14} {:<13} {:>6} | {:>8.3} {:>7.1} {:>10} {:>8} {:>5} {:>3} {:>8.3} {:>9} | {:>8.3} {:>7.1} {:>11} | {cli} | {:>9.2}x",
            format!("{}/{}", r.size.files, r.size.commits),
            link_label(r.link),
            on_off(r.filter),
            t.wall,
            t.rss_kib as f64 * 1024.0 / 1e6,
            t.fetched,
            t.pushed,
            t.trips,
            t.api,
            t.server_push,
            r.path_bytes,
            f.wall,
            f.rss_kib as f64 * 1024.0 / 1e6,
            f.fetched,
            t.wall / f.wall
        )
        .unwrap();
    }
    out
}

/// The targets (issues 17 and 28), each read off the rows measured in this run.
fn targets(rows: &[Row]) -> String {
    let find = |files: usize, filter: bool, link: Option<Link>| {
        rows.iter()
            .find(|r| r.size.files == files && r.filter == filter && r.link == link)
    };
    let tool = |r: &Row| r.costs[0].clone().unwrap();
    let ratio = |r: &Row| tool(r).wall / r.costs[1].as_ref().unwrap().wall;
    let mut out = String::from("\nTargets:\n");
    for r in rows {
        let target = match (r.size.files, r.filter, r.link) {
            (100_000, true, Some(_)) => 0.5,
            (1_000_000, true, Some(_)) => 0.3,
            // No worse on loopback than before the link model (0.19 and 0.21).
            (100_000, true, None) => 0.19,
            (1_000_000, true, None) => 0.21,
            _ => 1.0,
        };
        writeln!(
            out,
            "  {} files, {}, filter {}: tool/floor {:.2} (target <= {target}), peak RSS {:.1} MB (target <= 16 MB)",
            r.size.files,
            link_label(r.link),
            on_off(r.filter),
            ratio(r),
            tool(r).rss_kib as f64 * 1024.0 / 1e6
        )
        .unwrap();
    }
    if let (Some(r), Some(small)) = (find(1_000_000, true, None), find(5_000, true, None)) {
        let (big, small) = (tool(r), tool(small));
        let ratio = big.wall / small.wall;
        // git's receive-pack walks every tree of the tip in its connectivity check
        // (`rev-list --objects --not --all`): the server's cost, which the floor pays too.
        let own = (big.wall - big.server_push) / (small.wall - small.server_push);
        writeln!(
            out,
            "  1M files, loopback, filter on: wall / 5k-file wall {ratio:.2} (target <= 1.5); without the \
             git server's time answering the push ({:.3} s against {:.3} s): {own:.2}",
            big.server_push, small.server_push
        )
        .unwrap();
    }
    for r in rows.iter().filter(|r| r.filter && r.link.is_none()) {
        let ratio = tool(r).fetched as f64 / r.path_bytes as f64;
        writeln!(
            out,
            "  {} files, loopback, filter on: bytes fetched / path bytes {ratio:.2} (target <= 2)",
            r.size.files
        )
        .unwrap();
    }
    out
}
