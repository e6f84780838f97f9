//! Signed commits: an Env repo whose branch rules require signed commits gets commits that
//! git itself verifies (`git verify-commit`, SSH format), signed with a key from a Secret or a
//! mounted file; a key that cannot sign stops the run before anything is written.

use std::process::Command;

use crate::util::*;
use testkit::gpg_key;

/// A fresh Ed25519 key from `ssh-keygen` (installed by .ci/run): (private, public) text.
pub fn keygen(dir: &std::path::Path, kind: &[&str]) -> (String, String) {
    let key = dir.join(format!("key-{}", kind.join("")));
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", "iter8@iter8.tools", "-f"])
        .arg(&key)
        .args(kind)
        .status()
        .expect("ssh-keygen (openssh-client) is needed by the signing tests")
        .success();
    assert!(ok);
    (
        std::fs::read_to_string(&key).unwrap(),
        std::fs::read_to_string(format!("{}.pub", key.display())).unwrap(),
    )
}

/// `git verify-commit` on the server's repo, trusting `public` for the committer's email.
pub fn verify(w: &World, rev: &str, public: &str) -> std::process::Output {
    let allowed = w.tmp.path().join("allowed_signers");
    std::fs::write(&allowed, format!("iter8@iter8.tools {public}")).unwrap();
    Command::new("git")
        .args(["-c", "gpg.format=ssh", "-c"])
        .arg(format!("gpg.ssh.allowedSignersFile={}", allowed.display()))
        .args(["verify-commit", "-v", rev])
        .current_dir(w.bare())
        .output()
        .unwrap()
}

#[test]
fn with_a_signing_key_in_a_secret_every_commit_is_one_git_verifies() {
    let mut w = World::tutorial();
    let (private, public) = keygen(w.tmp.path(), &["-t", "ed25519"]);
    w.kube
        .add_secret("default", "iter8-signing", &[("ssh-privatekey", &private)]);
    w.set("GITOPS_SIGNING_KEY_SECRET", Some("iter8-signing"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let raw = testkit::git(&w.bare(), &["cat-file", "commit", "iter8_exp"]);
    assert!(
        raw.contains("\ngpgsig -----BEGIN SSH SIGNATURE-----\n "),
        "{raw}"
    );
    let v = verify(&w, "refs/heads/iter8_exp", &public);
    let said = String::from_utf8_lossy(&v.stderr);
    assert!(v.status.success(), "{said}");
    assert!(
        said.contains("Good \"git\" signature for iter8@iter8.tools"),
        "{said}"
    );
    // Signing changes nothing else: the golden tree, one parent, a clean repo.
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    testkit::git(&w.bare(), &["fsck", "--strict"]);
    // The key says where it is, never what it is.
    let secret_line = private.lines().nth(1).unwrap();
    assert!(!o.stderr.contains(secret_line) && !o.stdout.contains(secret_line));
    assert!(o.stderr.contains(public.split_whitespace().nth(1).unwrap()));
    // Someone else's key does not verify it.
    let (_, other) = keygen(w.tmp.path(), &["-t", "ed25519", "-C", "other"]);
    assert!(!verify(&w, "refs/heads/iter8_exp", &other).status.success());
    // A rerun finds the signed change already there.
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(w.pushes(), 1);
}

#[test]
fn turning_signing_on_replaces_an_unsigned_pr_commit_once() {
    let mut w = World::tutorial();
    assert_code(&w.run(&[]), 0);
    let (private, public) = keygen(w.tmp.path(), &["-t", "ed25519"]);
    assert!(!verify(&w, "refs/heads/iter8_exp", &public).status.success());
    w.kube
        .add_secret("default", "iter8-signing", &[("ssh-privatekey", &private)]);
    w.set("GITOPS_SIGNING_KEY_SECRET", Some("iter8-signing"));
    assert_code(&w.run(&[]), 0);
    let v = verify(&w, "refs/heads/iter8_exp", &public);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    assert_eq!(w.pushes(), 2, "the unsigned commit was replaced");
    assert_code(&w.run(&[]), 0);
    assert_eq!(w.pushes(), 2, "the signed one is kept");
    assert_eq!(w.github.pulls().len(), 1);
}

#[test]
fn a_mounted_key_file_signs_a_direct_push_too() {
    let mut w = World::tutorial();
    let (private, public) = keygen(w.tmp.path(), &["-t", "ed25519"]);
    let file = w.tmp.path().join("mounted-ssh-privatekey");
    std::fs::write(&file, &private).unwrap();
    w.set("GITOPS_SIGNING_KEY_FILE", Some(file.to_str().unwrap()))
        .set("GITOPS_MODE", Some("push"));
    assert_code(&w.run(&[]), 0);
    let v = verify(&w, "refs/heads/gitops", &public);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

#[test]
fn ecdsa_and_rsa_ssh_keys_sign_commits_git_verifies() {
    for kind in [
        &["-t", "ecdsa", "-b", "256"][..],
        &["-t", "rsa", "-b", "3072"],
    ] {
        let mut w = World::tutorial();
        let (private, public) = keygen(w.tmp.path(), kind);
        w.kube
            .add_secret("default", "iter8-signing", &[("ssh-privatekey", &private)]);
        w.set("GITOPS_SIGNING_KEY_SECRET", Some("iter8-signing"));
        let o = w.run(&[]);
        assert_code(&o, 0);
        let v = verify(&w, "refs/heads/iter8_exp", &public);
        let said = String::from_utf8_lossy(&v.stderr);
        assert!(v.status.success(), "{kind:?}: {said}");
        assert!(said.contains("Good \"git\" signature"), "{said}");
    }
}

#[test]
fn an_openpgp_key_signs_commits_that_git_verifies_with_gnupg() {
    for algo in ["ed25519", "rsa3072"] {
        let mut w = World::tutorial();
        let (home, armored) = gpg_key(algo, "");
        w.kube
            .add_secret("default", "iter8-signing", &[("ssh-privatekey", &armored)]);
        w.set("GITOPS_SIGNING_KEY_SECRET", Some("iter8-signing"));
        let o = w.run(&[]);
        assert_code(&o, 0);
        let raw = testkit::git(&w.bare(), &["cat-file", "commit", "iter8_exp"]);
        assert!(
            raw.contains("\ngpgsig -----BEGIN PGP SIGNATURE-----\n"),
            "{raw}"
        );
        // git's default format is OpenPGP: GnuPG, with the key's public half, verifies it.
        let v = Command::new("git")
            .env("GNUPGHOME", home.path())
            .args(["verify-commit", "-v", "refs/heads/iter8_exp"])
            .current_dir(w.bare())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&v.stderr);
        assert!(v.status.success(), "{algo}: {said}");
        assert!(
            said.contains("Good signature from \"iter8 <iter8@iter8.tools>\""),
            "{said}"
        );
        // The key's lines never reach the output; its fingerprint does.
        for line in armored.lines().filter(|l| l.len() > 40) {
            assert!(!o.stderr.contains(line) && !o.stdout.contains(line));
        }
        assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
        // A rerun finds the signed change there.
        assert_code(&w.run(&[]), 0);
        assert_eq!(w.pushes(), 1);
    }
}

#[test]
fn a_passphrase_protected_openpgp_key_is_refused_with_what_to_do() {
    let mut w = World::tutorial();
    let (_home, armored) = gpg_key("ed25519", "a passphrase");
    let file = w.tmp.path().join("key.asc");
    std::fs::write(&file, &armored).unwrap();
    w.set("GITOPS_SIGNING_KEY_FILE", Some(file.to_str().unwrap()));
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(
        o.stderr.contains("is protected by a passphrase"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("gpg --passwd"), "{}", o.stderr);
    assert_eq!(w.pushes(), 0);
}

#[test]
fn a_key_that_cannot_sign_stops_the_run_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    // ring signs with RSA moduli of 2048 to 4096 bits in steps of 512.
    let (rsa, _) = keygen(dir.path(), &["-t", "rsa", "-b", "1024"]);
    let cases: &[(&str, &str, Option<&str>, i32, &str)] = &[
        (
            "GITOPS_SIGNING_KEY_SECRET",
            "no-such-secret",
            None,
            3,
            "no-such-secret",
        ),
        (
            "GITOPS_SIGNING_KEY_SECRET",
            "iter8-signing",
            Some(&rsa),
            3,
            "is a ssh-rsa (TooSmall) key; ssh-ed25519, ecdsa-sha2-nistp256 and ssh-rsa (2048 to 4096 bits) keys can sign here",
        ),
        (
            "GITOPS_SIGNING_KEY_FILE",
            "/nonexistent/key",
            None,
            3,
            "GITOPS_SIGNING_KEY_FILE /nonexistent/key cannot be read",
        ),
        (
            "GITOPS_SIGNING_KEY_SECRET",
            "Not_A_Name",
            None,
            2,
            "GITOPS_SIGNING_KEY_SECRET",
        ),
    ];
    for (var, value, key, code, says) in cases {
        let mut w = World::tutorial();
        if let Some(k) = key {
            w.kube
                .add_secret("default", "iter8-signing", &[("ssh-privatekey", k)]);
        }
        w.set(var, Some(value));
        let o = w.run(&[]);
        assert_code(&o, *code);
        assert!(o.stderr.contains(says), "{var}={value}: {}", o.stderr);
        assert_eq!(w.pushes(), 0, "{var}={value}");
        assert!(w.github.server.log().is_empty());
        assert_eq!(w.applies(), 0);
    }
    let mut w = World::tutorial();
    w.set("GITOPS_SIGNING_KEY_SECRET", Some("a"))
        .set("GITOPS_SIGNING_KEY_FILE", Some("/b"));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(o.stderr.contains("give one of them"), "{}", o.stderr);
}
