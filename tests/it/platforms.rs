//! The release binaries, as a platform team takes them in: a static binary for amd64 and one for
//! arm64 (cross-built here with cargo-zigbuild, run here under qemu-aarch64), each carrying the
//! list of crates it is built from (`cargo auditable`), each with a CycloneDX SBOM from the
//! lockfile that names the same crates, and one multi-arch OCI image index holding both.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use serde_json::Value;

use crate::util::*;

/// The budget from the project brief, read the strict way (decimal megabytes).
pub const MAX_BINARY_BYTES: u64 = 6_000_000;

#[derive(Clone, Copy, Debug)]
pub enum Target {
    Amd64,
    Arm64,
}

impl Target {
    pub fn triple(self) -> &'static str {
        match self {
            Target::Amd64 => "x86_64-unknown-linux-musl",
            Target::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    fn platform(self) -> &'static str {
        match self {
            Target::Amd64 => "linux/amd64",
            Target::Arm64 => "linux/arm64",
        }
    }

    /// The cargo command that builds it, as docs/release.md gives it: amd64 with musl-gcc (as
    /// the Dockerfile does), arm64 with zig as C compiler and linker; both through
    /// `cargo auditable`, which embeds the dependency list.
    fn build_command(self, root: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO"));
        let builder = match self {
            Target::Amd64 => "build",
            Target::Arm64 => "zigbuild",
        };
        // `cargo test` hands this process the test crate's CARGO_MANIFEST_DIR, CARGO_PKG_* …;
        // build scripts (ring's) name some of them, so the same build run from a shell (as
        // .ci/run starts it early) would look stale here and start again.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("CARGO_") && key != "CARGO_HOME" {
                cmd.env_remove(key);
            }
        }
        cmd.args(["auditable", builder, "--release", "--locked", "--target"])
            .args([self.triple(), "--bin", "iter8-gitops"])
            .env("CARGO_TARGET_DIR", self.target_dir(root))
            .env("CC_x86_64_unknown_linux_musl", "musl-gcc")
            .current_dir(root);
        cmd
    }

    /// Its own target dir: the outer `cargo test` holds the main one, and the two targets
    /// build side by side without waiting on each other's lock.
    fn target_dir(self, root: &Path) -> PathBuf {
        root.join(format!("target/release-{}", self.triple()))
    }

    /// What building or running it needs, and what is missing here.
    pub fn missing(self) -> Option<String> {
        let installed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if !installed.contains(self.triple()) {
            return Some(format!("rustup target add {}", self.triple()));
        }
        let tools: &[(&str, &str)] = match self {
            Target::Amd64 => &[("musl-gcc", "apt-get install musl-tools")],
            Target::Arm64 => &[
                ("cargo-zigbuild", "pip install cargo-zigbuild ziglang"),
                ("qemu-aarch64", "apt-get install qemu-user"),
            ],
        };
        let needed = [("cargo-auditable", "cargo install cargo-auditable --locked")];
        needed
            .iter()
            .chain(tools)
            .find(|(tool, _)| !on_path(tool))
            .map(|(tool, how)| format!("no {tool} ({how})"))
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Builds the static release binary for `target` once per test run; its path.
pub fn static_binary(target: Target) -> &'static Result<PathBuf, String> {
    static AMD64: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static ARM64: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let cell = match target {
        Target::Amd64 => &AMD64,
        Target::Arm64 => &ARM64,
    };
    cell.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let started = std::time::Instant::now();
        let out = target
            .build_command(root)
            .output()
            .map_err(|e| e.to_string())?;
        eprintln!("{} release build: {:?}", target.triple(), started.elapsed());
        if !out.status.success() {
            return Err(format!(
                "{} build failed: {}",
                target.triple(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(target
            .target_dir(root)
            .join(target.triple())
            .join("release/iter8-gitops"))
    })
}

/// The release binary for a target, or the test returns (outside CI) / fails (under CI)
/// saying what is missing.
macro_rules! require_binary {
    ($target:expr) => {{
        if let Some(reason) = $target.missing() {
            testkit::skip_unless_required(&format!("the {} build", $target.triple()), &reason);
            return;
        }
        static_binary($target)
            .as_ref()
            .unwrap_or_else(|e| panic!("{e}"))
    }};
}

/// Runs `cmd`, which must succeed; its stdout.
fn succeed(mut cmd: Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// What `file` says about a binary.
fn file_says(binary: &Path) -> String {
    let out = Command::new("file")
        .arg(binary)
        .output()
        .expect("file runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_arm64_binary_built_here_promotes_the_tutorial_under_qemu_as_the_amd64_one_does() {
    let binary = require_binary!(Target::Arm64);
    let size = std::fs::metadata(binary).unwrap().len();
    eprintln!("arm64 static binary: {size} bytes");
    assert!(
        size <= MAX_BINARY_BYTES,
        "the arm64 binary is {size} bytes, over the 6 MB budget"
    );
    let file = file_says(binary);
    assert!(
        file.contains("ARM aarch64") && file.contains("statically linked"),
        "{file}"
    );

    // The same promotion, over HTTPS with ring's TLS, as the amd64 container run.
    let w = World::tutorial();
    let mut qemu = Command::new("qemu-aarch64");
    qemu.arg(binary);
    let o = w.run_program(qemu, &[]);
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    assert_eq!(w.github.pulls().len(), 1);
    assert!(w.applied_vs().is_some());
    let last = o.stderr.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("promoted productpage-candidate.yaml → productpage.yaml"),
        "{last}"
    );

    // And its rerun finds the change there, as on amd64.
    let mut qemu = Command::new("qemu-aarch64");
    qemu.arg(binary);
    let o = w.run_program(qemu, &[]);
    assert_code(&o, 0);
    assert_eq!(o.report()["changed"], false);
    assert_eq!(w.github.pulls().len(), 1);
}

/// (name, version) of every crate the binary says it is built from.
fn embedded_crates(binary: &Path) -> BTreeSet<(String, String)> {
    let info = auditable_info::audit_info_from_file(binary, Default::default())
        .unwrap_or_else(|e| panic!("no dependency list in {}: {e}", binary.display()));
    info.packages
        .iter()
        .map(|p| (p.name.clone(), p.version.to_string()))
        .collect()
}

/// (name, version) of every component of the release SBOM for `target`.
fn sbom_crates(target: Target) -> (Value, BTreeSet<(String, String)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sbom = Command::new("python3");
    sbom.args(["release/sbom.py", "--target", target.triple()])
        .current_dir(root);
    let bom: Value = serde_json::from_slice(&succeed(sbom)).unwrap();
    let mut crates: BTreeSet<(String, String)> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["version"].as_str().unwrap().into(),
            )
        })
        .collect();
    let app = &bom["metadata"]["component"];
    crates.insert((
        app["name"].as_str().unwrap().into(),
        app["version"].as_str().unwrap().into(),
    ));
    (bom, crates)
}

#[test]
fn each_binary_carries_its_dependency_list_and_its_sbom_names_the_same_crates() {
    for target in [Target::Amd64, Target::Arm64] {
        let binary = require_binary!(target);
        let embedded = embedded_crates(binary);
        for wanted in [
            "gix",
            "kube",
            "reqwest",
            "rustls",
            "ring",
            "tokio",
            "iter8-gitops",
        ] {
            assert!(
                embedded.iter().any(|(name, _)| name == wanted),
                "{}: {wanted} is not in the embedded list",
                target.triple()
            );
        }
        let (bom, listed) = sbom_crates(target);
        assert_eq!(bom["bomFormat"], "CycloneDX");
        assert_eq!(bom["specVersion"], "1.5");
        assert_eq!(
            listed.symmetric_difference(&embedded).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "{}: the SBOM and the binary disagree on what it is built from",
            target.triple()
        );
        // Each crate from crates.io carries the checksum Cargo.lock pins.
        let ring = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "ring")
            .unwrap();
        assert_eq!(
            ring["purl"],
            format!("pkg:cargo/ring@{}", ring["version"].as_str().unwrap())
        );
        assert_eq!(ring["hashes"][0]["alg"], "SHA-256");
        assert_eq!(ring["hashes"][0]["content"].as_str().unwrap().len(), 64);
    }
}

/// The digest of a file, as the OCI layout names blobs.
fn sha256_hex(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The files of a tar archive.
fn untar(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let mut tar = Command::new("tar");
    // Gzipped or not: GNU tar tells on reading.
    tar.arg("-xf").arg(archive).arg("-C").arg(into);
    succeed(tar);
}

fn skopeo_inspect(args: &[&str], reference: &str) -> Value {
    let mut skopeo = Command::new("skopeo");
    skopeo.arg("inspect").args(args).arg(reference);
    serde_json::from_slice(&succeed(skopeo)).unwrap()
}

#[test]
fn one_image_index_holds_both_platforms_with_their_annotations_and_the_amd64_image_runs() {
    let amd64 = require_binary!(Target::Amd64);
    let arm64 = require_binary!(Target::Arm64);
    if !on_path("skopeo") {
        testkit::skip_unless_required("skopeo", "apt-get install skopeo");
        return;
    }
    let Some(prebuilt) = crate::image::prebuilt_config() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.json");
    std::fs::write(&config, prebuilt.to_string()).unwrap();
    let archive = tmp.path().join("iter8-gitops.oci.tar");
    let version = env!("CARGO_PKG_VERSION");
    let mut index = Command::new("python3");
    index
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("release/image-index.py"))
        .args(["--out", archive.to_str().unwrap(), "--version", version])
        .args(["--revision", "0123456789abcdef0123456789abcdef01234567"])
        .args(["--image-config", config.to_str().unwrap()])
        .arg("--binary")
        .arg(format!("{}={}", Target::Amd64.platform(), amd64.display()))
        .arg("--binary")
        .arg(format!("{}={}", Target::Arm64.platform(), arm64.display()));
    succeed(index);

    // A real OCI tool reads it: the index names both platforms and carries the annotations.
    let reference = format!("oci-archive:{}:{version}", archive.display());
    let index = skopeo_inspect(&["--raw"], &reference);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let a = &index["annotations"];
    assert_eq!(
        a["org.opencontainers.image.source"],
        "https://github.com/iter8-tools/iter8-gitops"
    );
    assert_eq!(
        a["org.opencontainers.image.revision"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(a["org.opencontainers.image.version"], version);
    assert_eq!(a["org.opencontainers.image.licenses"], "Apache-2.0");

    // Each platform's image: the Dockerfile's runtime settings, and that platform's binary.
    let files = tmp.path().join("files");
    untar(&archive, &files);
    for (target, binary) in [(Target::Amd64, amd64), (Target::Arm64, arm64)] {
        let arch = target.platform().split('/').nth(1).unwrap();
        let image = skopeo_inspect(&["--override-arch", arch], &reference);
        assert_eq!(image["Architecture"], arch);
        let raw = skopeo_inspect(&["--override-arch", arch, "--config", "--raw"], &reference);
        assert_eq!(raw["config"]["User"], prebuilt["User"]);
        assert_eq!(raw["config"]["Entrypoint"], prebuilt["Entrypoint"]);
        let layer = image["Layers"][0]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_string();
        let blob = files.join("blobs/sha256").join(&layer);
        assert_eq!(
            sha256_hex(&std::fs::read(&blob).unwrap()),
            layer,
            "blob digest"
        );
        let unpacked = tmp.path().join(arch);
        untar(&blob, &unpacked);
        assert_eq!(
            std::fs::read(unpacked.join("iter8-gitops")).unwrap(),
            std::fs::read(binary).unwrap(),
            "{arch}: the layer holds that platform's binary"
        );
    }

    // The amd64 image loads into this engine and runs, as the Dockerfile-built one does.
    crate::image::load_and_run_version(&archive, &format!("iter8-gitops:{version}"));
}

#[test]
fn docs_release_gives_the_build_commands_these_tests_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/release.md")).unwrap();
    for target in [Target::Amd64, Target::Arm64] {
        let cmd = target.build_command(root);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = format!("cargo {}", args.join(" "));
        assert!(doc.contains(&line), "docs/release.md does not say `{line}`");
    }
    for script in [
        "python3 release/sbom.py --target",
        "python3 release/image-index.py --out",
    ] {
        assert!(
            doc.contains(script),
            "docs/release.md does not show `{script}`"
        );
    }
}
