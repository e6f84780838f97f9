//! SSH commit signatures, as `git commit -S` makes them with `gpg.format=ssh`: an SSHSIG
//! (OpenSSH's `PROTOCOL.sshsig`) over the commit, namespace `git`, in the commit's `gpgsig`
//! header. GitHub, GitLab and Gitea/Forgejo show such commits as verified when the key is a
//! signing key of the committer's account, and "require signed commits" branch rules accept them.
//!
//! Ed25519 keys only, unencrypted, in OpenSSH's own format (what `ssh-keygen -t ed25519 -N ''`
//! writes, and what a `kubernetes.io/ssh-auth` Secret holds): ring, already here for TLS, signs
//! them, so neither a GPG implementation nor a second crypto library is linked. The formats are
//! small and fixed; they are read and written here, checked against `ssh-keygen -Y verify` and
//! `git verify-commit` in the tests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::Ed25519KeyPair;

/// Why a signing key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "is not an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----); make one with `ssh-keygen -t ed25519 -N ''`"
    )]
    NotOpenSsh,
    #[error(
        "is encrypted with a passphrase; store it without one (`ssh-keygen -p -N '' -f KEY`): the Secret is what protects it"
    )]
    Encrypted,
    #[error("is a {0} key; only ssh-ed25519 keys can sign here (`ssh-keygen -t ed25519`)")]
    NotEd25519(String),
    #[error("is damaged ({0})")]
    Malformed(&'static str),
}

/// An Ed25519 key that signs commits.
pub struct Signer {
    pair: Ed25519KeyPair,
    /// The public key in SSH wire format (`string "ssh-ed25519" || string key`).
    public_blob: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.public_key())
    }
}

const ARMOR_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const ARMOR_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const ED25519: &[u8] = b"ssh-ed25519";

impl Signer {
    /// Reads an OpenSSH private key file's text.
    pub fn from_openssh(text: &str) -> Result<Signer, KeyError> {
        let text = text.trim();
        let body = text
            .strip_prefix(ARMOR_BEGIN)
            .and_then(|t| t.strip_suffix(ARMOR_END))
            .ok_or(KeyError::NotOpenSsh)?;
        let b64: String = body.split_whitespace().collect();
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| KeyError::Malformed("not base64"))?;
        let mut r = Reader(&bytes);
        if r.take(15) != Some(b"openssh-key-v1\0") {
            return Err(KeyError::NotOpenSsh);
        }
        let cipher = r.string()?;
        let _kdf = r.string()?;
        let _kdf_options = r.string()?;
        if cipher != b"none" {
            return Err(KeyError::Encrypted);
        }
        if r.u32()? != 1 {
            return Err(KeyError::Malformed("not exactly one key"));
        }
        let public_blob = r.string()?.to_vec();
        let mut private = Reader(r.string()?);
        // Two equal check words: a wrong passphrase's tell, and a damaged key's.
        if private.u32()? != private.u32()? {
            return Err(KeyError::Malformed("check words differ"));
        }
        let kind = private.string()?;
        if kind != ED25519 {
            return Err(KeyError::NotEd25519(
                String::from_utf8_lossy(kind).into_owned(),
            ));
        }
        let public = private.string()?;
        let secret = private.string()?;
        // OpenSSH stores the 32-byte seed followed by the public key again.
        if public.len() != 32 || secret.len() != 64 || &secret[32..] != public {
            return Err(KeyError::Malformed("ed25519 key lengths"));
        }
        let pair = Ed25519KeyPair::from_seed_and_public_key(&secret[..32], public)
            .map_err(|_| KeyError::Malformed("public key does not match the private key"))?;
        let mut expected = vec![];
        put_string(&mut expected, ED25519);
        put_string(&mut expected, public);
        if public_blob != expected {
            return Err(KeyError::Malformed("public key section"));
        }
        Ok(Signer { pair, public_blob })
    }

    /// `ssh-ed25519 AAAA…`, as in an allowed-signers file or a host's "SSH signing keys".
    pub fn public_key(&self) -> String {
        format!("ssh-ed25519 {}", STANDARD.encode(&self.public_blob))
    }

    /// The armored SSHSIG over `message` in namespace `git`, without a final newline (the
    /// commit header's line end is its last).
    pub fn sign(&self, message: &[u8]) -> String {
        const HASH: &[u8] = b"sha512";
        const NAMESPACE: &[u8] = b"git";
        let digest = ring::digest::digest(&ring::digest::SHA512, message);
        // What is signed: PROTOCOL.sshsig's preamble, namespace, reserved, hash name, hash.
        let mut signed = b"SSHSIG".to_vec();
        put_string(&mut signed, NAMESPACE);
        put_string(&mut signed, b"");
        put_string(&mut signed, HASH);
        put_string(&mut signed, digest.as_ref());
        let sig = self.pair.sign(&signed);
        let mut sig_blob = vec![];
        put_string(&mut sig_blob, ED25519);
        put_string(&mut sig_blob, sig.as_ref());
        // The signature: preamble, version 1, public key, namespace, reserved, hash, signature.
        let mut blob = b"SSHSIG".to_vec();
        blob.extend_from_slice(&1u32.to_be_bytes());
        put_string(&mut blob, &self.public_blob);
        put_string(&mut blob, NAMESPACE);
        put_string(&mut blob, b"");
        put_string(&mut blob, HASH);
        put_string(&mut blob, &sig_blob);
        let b64 = STANDARD.encode(&blob);
        let mut out = String::from("-----BEGIN SSH SIGNATURE-----\n");
        // ssh-keygen wraps at 70 columns.
        for chunk in b64.as_bytes().chunks(70) {
            out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END SSH SIGNATURE-----");
        out
    }
}

/// SSH wire format: a big-endian u32 length, then the bytes.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Result<u32, KeyError> {
        let b = self.take(4).ok_or(KeyError::Malformed("truncated"))?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<&'a [u8], KeyError> {
        let n = self.u32()? as usize;
        self.take(n).ok_or(KeyError::Malformed("truncated"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A fresh key made by `ssh-keygen` itself, with its public half; `None` where there is
    /// no ssh-keygen (the tests that need it say so).
    fn ssh_keygen(dir: &std::path::Path, args: &[&str]) -> Option<(String, String)> {
        let key = dir.join("key");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(dir.join("key.pub"));
        let ok = Command::new("ssh-keygen")
            .args(["-q", "-C", "iter8@iter8.tools", "-f"])
            .arg(&key)
            .args(args)
            .status()
            .ok()?
            .success();
        assert!(ok, "ssh-keygen {args:?} failed");
        Some((
            std::fs::read_to_string(&key).unwrap(),
            std::fs::read_to_string(dir.join("key.pub")).unwrap(),
        ))
    }

    #[test]
    fn a_signature_verifies_with_ssh_keygen_for_the_git_namespace_only() {
        let dir = tempfile::tempdir().unwrap();
        let Some((private, public)) = ssh_keygen(dir.path(), &["-t", "ed25519", "-N", ""]) else {
            // CI installs openssh-client: there, a missing ssh-keygen is a failure.
            assert!(
                std::env::var("CI").is_err(),
                "CI=true but ssh-keygen is missing"
            );
            eprintln!("SKIPPED: no ssh-keygen");
            return;
        };
        let signer = Signer::from_openssh(&private).unwrap();
        assert!(public.starts_with(&signer.public_key()), "{public}");
        let message = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nupdate baseline\n";
        let sig = signer.sign(message);
        std::fs::write(dir.path().join("msg.sig"), format!("{sig}\n")).unwrap();
        std::fs::write(
            dir.path().join("allowed"),
            format!("iter8@iter8.tools {}\n", signer.public_key()),
        )
        .unwrap();
        let verify = |namespace: &str, msg: &[u8]| {
            let mut child = Command::new("ssh-keygen")
                .args([
                    "-Y",
                    "verify",
                    "-I",
                    "iter8@iter8.tools",
                    "-n",
                    namespace,
                    "-f",
                ])
                .arg(dir.path().join("allowed"))
                .arg("-s")
                .arg(dir.path().join("msg.sig"))
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(msg).unwrap();
            child.wait_with_output().unwrap()
        };
        let ok = verify("git", message);
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(!verify("file", message).status.success(), "namespace bound");
        assert!(!verify("git", b"something else").status.success());
    }

    #[test]
    fn keys_that_cannot_sign_are_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        if let Some((rsa, _)) = ssh_keygen(dir.path(), &["-t", "rsa", "-b", "2048", "-N", ""]) {
            let e = Signer::from_openssh(&rsa).unwrap_err();
            assert!(e.to_string().contains("is a ssh-rsa key"), "{e}");
        }
        if let Some((locked, _)) = ssh_keygen(dir.path(), &["-t", "ed25519", "-N", "secret"]) {
            let e = Signer::from_openssh(&locked).unwrap_err();
            assert!(e.to_string().contains("ssh-keygen -p -N ''"), "{e}");
        }
        let e = Signer::from_openssh(
            "-----BEGIN RSA PRIVATE KEY-----\nMII=\n-----END RSA PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(matches!(e, KeyError::NotOpenSsh), "{e}");
        let e = Signer::from_openssh(&format!("{ARMOR_BEGIN}\nb3BlbnNzaC1rZXktdjEA\n{ARMOR_END}"))
            .unwrap_err();
        assert!(matches!(e, KeyError::Malformed("truncated")), "{e}");
        let e = Signer::from_openssh(&format!("{ARMOR_BEGIN}\n!!\n{ARMOR_END}")).unwrap_err();
        assert!(matches!(e, KeyError::Malformed("not base64")), "{e}");
    }
}
