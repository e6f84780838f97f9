//! The OCI image, with the real Docker engine: built from the static binary through the
//! Dockerfile's prebuilt path (no image can be pulled here), run as the user the Job uses with a
//! read-only root, against the same HTTPS git server and fakes as the other tests. Where no Docker
//! engine answers or the build's tools are missing they say why and return; under CI they fail.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use crate::{
    platforms::{MAX_BINARY_BYTES, Target, static_binary},
    util::*,
};

const IMAGE: &str = "iter8-gitops:it";
const MUSL: &str = "x86_64-unknown-linux-musl";

/// The classic builder: this engine has no buildx, and the Dockerfile's `prebuilt` target needs
/// nothing that only BuildKit offers.
fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("docker runs")
}

/// Why the image tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Ok(o) if o.status.success() => Target::Amd64.missing(),
        Ok(o) => Some(format!(
            "no Docker engine answers: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("no docker command: {e}")),
    }
}

/// Builds the image from the static binary (tests/it/platforms.rs builds that), once per test
/// run. Returns the binary's path.
fn image() -> &'static Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let binary = static_binary(Target::Amd64).clone()?;
        // A context with just the Dockerfile and the binary, where a CARGO_TARGET_DIR would put
        // it (`image/`): the documented BINARY build argument finds it.
        let ctx = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dest = ctx.path().join("image").join(MUSL).join("release");
        std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
        std::fs::copy(&binary, dest.join("iter8-gitops")).map_err(|e| e.to_string())?;
        std::fs::copy(root.join("Dockerfile"), ctx.path().join("Dockerfile"))
            .map_err(|e| e.to_string())?;
        let out = docker(&[
            "build",
            "-q",
            "--target",
            "prebuilt",
            "--build-arg",
            &format!("BINARY=image/{MUSL}/release/iter8-gitops"),
            "-t",
            IMAGE,
            ctx.path().to_str().unwrap(),
        ]);
        if !out.status.success() {
            return Err(format!(
                "docker build failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(binary)
    })
}

/// The runtime settings of the image the Dockerfile's `prebuilt` stage makes (`docker image
/// inspect`'s Config), for the multi-arch index; `None` when the test is to return.
pub fn prebuilt_config() -> Option<serde_json::Value> {
    if let Some(reason) = skip_reason() {
        testkit::skip_unless_required("Docker and the musl target", &reason);
        return None;
    }
    image().as_ref().unwrap_or_else(|e| panic!("{e}"));
    let out = docker(&["image", "inspect", "-f", "{{json .Config}}", IMAGE]);
    Some(serde_json::from_slice(&out.stdout).expect("docker image inspect gives JSON"))
}

/// Loads an image archive into the engine and runs `tag --version`.
pub fn load_and_run_version(archive: &Path, tag: &str) {
    let out = docker(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_runs_as_this_version(tag);
}

/// `docker run IMAGE --version` prints this crate's version.
fn assert_runs_as_this_version(image: &str) {
    let out = docker(&["run", "--rm", image, "--version"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        concat!("iter8-gitops ", env!("CARGO_PKG_VERSION"))
    );
}

macro_rules! require_image {
    () => {{
        if let Some(reason) = skip_reason() {
            // CI must run these: a CI machine without Docker or the musl target would
            // otherwise report green on tests that never ran.
            testkit::skip_unless_required("Docker and the musl target", &reason);
            return;
        }
        image().as_ref().unwrap_or_else(|e| panic!("{e}"))
    }};
}

#[test]
fn the_image_is_one_static_binary_under_6_mb_that_runs_as_non_root() {
    let binary = require_image!();
    let size = std::fs::metadata(binary).unwrap().len();
    eprintln!("static binary: {size} bytes");
    assert!(
        size <= MAX_BINARY_BYTES,
        "the binary is {size} bytes, over the 6 MB budget (`cargo bloat --release --target \
         x86_64-unknown-linux-musl --crates` with strip off shows what grew)"
    );
    let sections = Command::new("readelf")
        .args(["-SW", binary.to_str().unwrap()])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if let Ok(s) = sections {
        // link/no-eh-frame.ld: only crtbegin/crtend's few bytes of unwind tables are left.
        let eh_frame = s.lines().find(|l| l.contains(" .eh_frame ")).and_then(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == ".eh_frame")?;
            u64::from_str_radix(f.get(i + 4)?, 16).ok() // name, type, address, offset, size
        });
        if let Some(bytes) = eh_frame {
            assert!(
                bytes < 4096,
                ".eh_frame is {bytes} bytes: the linker script was not used"
            );
        }
    }
    let file = Command::new("file")
        .arg(binary)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if let Ok(f) = file {
        assert!(
            f.contains("static") && !f.contains("dynamically linked"),
            "{f}"
        );
    }

    let out = docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Size}} {{.Config.User}} {{json .Config.Entrypoint}} {{index .Config.Labels \"org.opencontainers.image.licenses\"}}",
        IMAGE,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let image_size: u64 = fields[0].parse().unwrap();
    eprintln!("image: {image_size} bytes");
    assert!(
        image_size <= 8 * 1024 * 1024,
        "the image is {image_size} bytes, over 8 MB"
    );
    assert_eq!(fields[1], "65532:65532");
    assert_eq!(fields[2], r#"["/iter8-gitops"]"#);
    assert_eq!(fields[3], "Apache-2.0");

    assert_runs_as_this_version(IMAGE);
}

#[test]
fn the_container_promotes_and_signs_read_only_as_65532_trusting_only_the_mounted_ca() {
    require_image!();
    let mut w = World::tutorial();
    // The static binary signs too (ring's Ed25519 in the musl build).
    let (private, public) = crate::signing::keygen(w.tmp.path(), &["-t", "ed25519"]);
    w.kube
        .add_secret("default", "iter8-signing", &[("ssh-privatekey", &private)]);
    w.set("GITOPS_SIGNING_KEY_SECRET", Some("iter8-signing"));
    // The container sees the CA and kubeconfig at fixed paths; everything else is the world's.
    let mut args: Vec<String> = [
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--user",
        "65532",
        "--network",
        "host",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ca = w.tmp.path().join("ca.pem");
    let kubeconfig = w
        .env
        .iter()
        .find(|(k, _)| k == "KUBECONFIG")
        .unwrap()
        .1
        .clone();
    for (host, container) in [
        (ca.to_str().unwrap(), "/etc/iter8-gitops/ca.pem"),
        (kubeconfig.as_str(), "/etc/iter8-gitops/kubeconfig"),
    ] {
        args.push("-v".into());
        args.push(format!("{host}:{container}:ro"));
    }
    for (k, v) in &w.env {
        let v = match k.as_str() {
            "GITOPS_CA_FILE" => "/etc/iter8-gitops/ca.pem".to_string(),
            "KUBECONFIG" => "/etc/iter8-gitops/kubeconfig".to_string(),
            "HOME" | "GITOPS_TERMINATION_LOG" => continue,
            _ => v.clone(),
        };
        args.push("-e".into());
        args.push(format!("{k}={v}"));
    }
    args.push(IMAGE.into());
    let started = std::time::Instant::now();
    let out = Command::new("docker").args(&args).output().unwrap();
    eprintln!("container run: {:?}", started.elapsed());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN) && !stderr.contains(KUBE_TOKEN));
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    let v = crate::signing::verify(&w, "refs/heads/iter8_exp", &public);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    assert_eq!(w.github.pulls().len(), 1);
    assert!(w.applied_vs().is_some());
}

#[test]
fn the_handler_image_gets_the_binary_from_ours() {
    require_image!();
    // No registry here: a stand-in for iter8/handler, built from scratch.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY marker /marker\n",
    )
    .unwrap();
    std::fs::write(ctx.path().join("marker"), "handler\n").unwrap();
    let out = docker(&[
        "build",
        "-q",
        "-t",
        "iter8-handler-standin:it",
        ctx.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spec_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("task-spec");
    let out = docker(&[
        "build",
        "-q",
        "-f",
        spec_dir.join("handler.Dockerfile").to_str().unwrap(),
        "--build-arg",
        &format!("ITER8_GITOPS_IMAGE={IMAGE}"),
        "--build-arg",
        "HANDLER_IMAGE=iter8-handler-standin:it",
        "-t",
        "iter8-handler-gitops:it",
        spec_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "/usr/local/bin/iter8-gitops",
        "iter8-handler-gitops:it",
        "--version",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("iter8-gitops "));
}

/// The `docker run` flags of a walkthrough command: the block that ends with `ending`, from
/// `docker run` to the first `-e`.
/// The shell's `$(id -u):$(id -g)` and `$HOME/.kube/config` stand for `user` and `kubeconfig`.
fn walkthrough_flags(ending: &str, user: &str, kubeconfig: &str) -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/WALKTHROUGH.md"),
    )
    .unwrap();
    let block = text
        .split("```sh")
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("docker run") && b.trim_end().ends_with(ending))
        .unwrap_or_else(|| panic!("a docker run block ending in {ending:?}"));
    let command: String = block
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.trim_end_matches('\\'))
        .collect::<Vec<_>>()
        .join(" ")
        .replace("\"$(id -u):$(id -g)\"", user)
        .replace("$HOME/.kube/config", kubeconfig);
    let words: Vec<&str> = command.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "run").unwrap() + 1;
    words[at..]
        .iter()
        .take_while(|w| **w != "-e")
        .map(|w| w.to_string())
        .collect()
}

/// The world's environment as the container sees it (the CA and kubeconfig mounted).
fn container_env(w: &World, ca: &Path) -> Vec<String> {
    let mut args = vec!["-v".into(), format!("{}:/etc/ca.pem:ro", ca.display())];
    for (k, v) in &w.env {
        let v = match k.as_str() {
            "GITOPS_CA_FILE" => "/etc/ca.pem".to_string(),
            "KUBECONFIG" => "/kubeconfig".to_string(),
            "HOME" | "GITOPS_TERMINATION_LOG" => continue,
            _ => v.clone(),
        };
        args.extend(["-e".into(), format!("{k}={v}")]);
    }
    args
}

#[test]
fn the_walkthroughs_docker_run_commands_work_as_written_with_a_private_kubeconfig() {
    require_image!();
    let w = World::tutorial();
    // A kubeconfig as `kubectl` leaves it: mode 0600, owned by the user (1000 here).
    let (uid, gid) = ("1000", "1000");
    let kubeconfig = w.tmp.path().join("kube-config");
    let original = w
        .env
        .iter()
        .find(|(k, _)| k == "KUBECONFIG")
        .unwrap()
        .1
        .clone();
    std::fs::copy(&original, &kubeconfig).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&kubeconfig, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&kubeconfig, Some(1000), Some(1000)).expect("the tests run as root");
    let ca = w.tmp.path().join("ca.pem");
    for ending in ["start", "iter8-gitops:0.1.0"] {
        let flags = walkthrough_flags(
            ending,
            &format!("{uid}:{gid}"),
            kubeconfig.to_str().unwrap(),
        );
        for needed in ["--read-only", "--tmpfs", "--user", "-v"] {
            assert!(
                flags.iter().any(|f| f == needed),
                "{ending}: {flags:?} lacks {needed}"
            );
        }
        let mut args: Vec<String> = vec!["run".into()];
        args.extend(flags);
        args.extend(container_env(&w, &ca));
        // The finish, as a dry run: the flags are what is tested.
        args.extend(["-e".into(), "GITOPS_DRY_RUN=true".into(), IMAGE.into()]);
        let out = Command::new("docker").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{ending}: docker {args:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without --user the image's 65532 cannot read a kubeconfig that is its owner's alone.
    let flags = walkthrough_flags("start", "1000:1000", kubeconfig.to_str().unwrap());
    let at = flags.iter().position(|f| f == "--user").unwrap();
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(flags[..at].iter().chain(&flags[at + 2..]).cloned());
    args.extend(container_env(&w, &ca));
    args.push(IMAGE.into());
    let out = Command::new("docker").args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert_eq!(w.pushes(), 0);
}
