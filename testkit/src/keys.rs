//! Fresh signing keys made by the real tools, for the signing tests.

use std::process::Command;

/// A GnuPG home with a fresh key of `algo` (`ed25519`, `rsa3072`) for `iter8@iter8.tools`,
/// and its secret key armored, exported with `passphrase` (`""`: unprotected).
pub fn gpg_key(algo: &str, passphrase: &str) -> (tempfile::TempDir, String) {
    let home = tempfile::tempdir().expect("tempdir");
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
            ])
            .args(args)
            .output()
            .expect("gpg (gnupg, installed by .ci/run) is needed by the OpenPGP tests");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("gpg prints UTF-8")
    };
    gpg(&[
        "--quick-gen-key",
        "iter8 <iter8@iter8.tools>",
        algo,
        "sign",
        "never",
    ]);
    let armored = gpg(&["--armor", "--export-secret-keys", "iter8@iter8.tools"]);
    (home, armored)
}
