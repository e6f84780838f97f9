//! The tutorial's promotion, end to end, on this machine: no cluster, no network.
//!
//! Makes a bare Git repo from `examples/bookinfo-env/` (the Env repo of a real Iter8 run,
//! during its experiment: a candidate, an Experiment, a load generator), then runs the same
//! promotion the tutorial's finish task does (`candidate` wins, its manifest becomes the
//! baseline, the experiment's files go) through `iter8_gitops::run`: a real fetch, an
//! in-memory commit and a receive-pack push to branch `iter8_exp`. Then shows the result
//! with `git`. Run it twice: the second run finds the change already pushed.
//!
//! ```sh
//! cargo run --example bookinfo
//! ```

use std::{path::Path, process::Command};

use anyhow::{Context, bail};
use iter8_gitops::config::{Args, Config};

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "CI")
        .env("GIT_AUTHOR_EMAIL", "ci@example.com")
        .env("GIT_COMMITTER_NAME", "CI")
        .env("GIT_COMMITTER_EMAIL", "ci@example.com")
        .output()
        .context("running git (needed here to build the example repo and to show the result)")?;
    if !out.status.success() {
        bail!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            copy(&e.path(), &to.join(e.file_name()))?;
        } else {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let tmp = std::env::temp_dir().join("iter8-gitops-example");
    let bare = tmp.join("env.git");
    if !bare.exists() {
        // The CI pipeline's commit that started the experiment.
        let work = tmp.join("work");
        copy(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bookinfo-env"),
            &work.join("samples/gitops"),
        )?;
        git(&work, &["init", "-q", "-b", "gitops"])?;
        git(&work, &["add", "-A"])?;
        git(&work, &["commit", "-q", "-m", "iter8 experiment"])?;
        git(
            &work,
            &[
                "clone",
                "-q",
                "--bare",
                ".",
                bare.to_str().context("utf-8 path")?,
            ],
        )?;
        std::fs::remove_dir_all(&work)?;
    }
    println!("Env repo: {} (branch gitops)\n", bare.display());

    // The inputs of the tutorial's finish task, as a Job or Iter8 would set them.
    let env = [
        ("GITOPS_REPO", bare.to_str().context("utf-8 path")?),
        ("GITOPS_BRANCH", "gitops"),
        ("GITOPS_DIR", "samples/gitops"),
        ("GITOPS_WINNER", "productpage-candidate.yaml"),
        ("GITOPS_BASELINE", "productpage.yaml"),
        ("GITOPS_REPLACE", "candidate=stable"),
        (
            "GITOPS_REMOVE",
            "productpage-candidate.yaml,fortio.yaml,experiment.yaml",
        ),
        ("GITOPS_TERMINATION_LOG", "/nonexistent"),
    ];
    let args = Args::from_env(
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )?;
    let config = Config::try_from(args)?;
    iter8_gitops::logging::init(config.output.log_format);
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime
        .block_on(iter8_gitops::run(config))
        .map_err(|e| anyhow::anyhow!(e.chain()))?;

    println!(
        "\nReport: changed={} pushed={} commit={}",
        report.changed,
        report.pushed,
        report.commit.as_deref().unwrap_or("-")
    );
    println!(
        "\n$ git log --stat gitops..iter8_exp\n{}",
        git(&bare, &["log", "--stat", "gitops..iter8_exp"])?
    );
    println!(
        "$ git fsck --strict\n{}ok",
        git(&bare, &["fsck", "--strict"])?
    );
    println!(
        "\nRun it again: nothing new is pushed. Start over with: rm -rf {}",
        tmp.display()
    );
    Ok(())
}
