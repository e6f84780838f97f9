//! SSH commit signatures, as `git commit -S` makes them with `gpg.format=ssh`: an SSHSIG
//! (OpenSSH's `PROTOCOL.sshsig`) over the commit, namespace `git`, in the commit's `gpgsig`
//! header. GitHub, GitLab and Gitea/Forgejo show such commits as verified when the key is a
//! signing key of the committer's account, and "require signed commits" branch rules accept them.
//!
//! Ed25519, ECDSA (nistp256) and RSA (signing `rsa-sha2-512`) keys, unencrypted, in OpenSSH's
//! own format (what `ssh-keygen -N ''` writes, and what a `kubernetes.io/ssh-auth` Secret
//! holds): ring, already here for TLS, signs them all, so no second crypto library is linked.
//! The formats are small and fixed; they are read and written here, checked against
//! `ssh-keygen -Y verify` and `git verify-commit` in the tests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair},
};

/// Why a signing key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "is neither an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----) nor an armored OpenPGP one (-----BEGIN PGP PRIVATE KEY BLOCK-----); make one with `ssh-keygen -t ed25519 -N ''`"
    )]
    NotOpenSsh,
    #[error(
        "is encrypted with a passphrase; store it without one (`ssh-keygen -p -N '' -f KEY`): the Secret is what protects it"
    )]
    Encrypted,
    #[error(
        "is a {0} key; ssh-ed25519, ecdsa-sha2-nistp256 and ssh-rsa (2048 to 4096 bits) keys can sign here (`ssh-keygen -t ed25519`)"
    )]
    Unsupported(String),
    #[error("is damaged ({0})")]
    Malformed(&'static str),
    #[error("{0}")]
    OpenPgp(String),
}

/// The private half, by kind.
enum Pair {
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// An OpenSSH key that signs commits.
pub struct SshKey {
    pair: Pair,
    /// The key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`).
    kind: &'static str,
    /// The public key in SSH wire format (`string kind || …`).
    public_blob: Vec<u8>,
}

impl std::fmt::Debug for SshKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SshKey({})", self.public_key())
    }
}

const ARMOR_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const ARMOR_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const ED25519: &[u8] = b"ssh-ed25519";
const ECDSA: &[u8] = b"ecdsa-sha2-nistp256";
const RSA: &[u8] = b"ssh-rsa";

impl SshKey {
    /// Reads an OpenSSH private key file's text.
    pub fn from_openssh(text: &str) -> Result<SshKey, KeyError> {
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
        let (pair, kind, expected) = match kind {
            ED25519 => ed25519(&mut private)?,
            ECDSA => ecdsa(&mut private)?,
            RSA => rsa(&mut private)?,
            other => {
                return Err(KeyError::Unsupported(
                    String::from_utf8_lossy(other).into_owned(),
                ));
            }
        };
        if public_blob != expected {
            return Err(KeyError::Malformed("public key section"));
        }
        Ok(SshKey {
            pair,
            kind,
            public_blob,
        })
    }

    /// `ssh-ed25519 AAAA…`, as in an allowed-signers file or a host's "SSH signing keys".
    pub fn public_key(&self) -> String {
        format!("{} {}", self.kind, STANDARD.encode(&self.public_blob))
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
        let sig_blob = self.signature(&signed);
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

impl SshKey {
    /// The SSH signature blob over `data`: `string algorithm || string signature`.
    fn signature(&self, data: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        let (algorithm, sig) = match &self.pair {
            Pair::Ed25519(p) => (ED25519, p.sign(data).as_ref().to_vec()),
            Pair::Ecdsa(p) => {
                // ring gives r || s; SSH wants `mpint r || mpint s`.
                let rs = p.sign(&rng, data).expect("ECDSA signing does not fail");
                let (r, s) = rs.as_ref().split_at(32);
                let mut inner = vec![];
                put_mpint(&mut inner, r);
                put_mpint(&mut inner, s);
                (ECDSA, inner)
            }
            Pair::Rsa(p) => {
                let mut sig = vec![0; p.public().modulus_len()];
                p.sign(&ring::signature::RSA_PKCS1_SHA512, &rng, data, &mut sig)
                    .expect("RSA signing does not fail");
                (&b"rsa-sha2-512"[..], sig)
            }
        };
        let mut blob = vec![];
        put_string(&mut blob, algorithm);
        put_string(&mut blob, &sig);
        blob
    }
}

/// `string pub || string seed‖pub`: OpenSSH stores the 32-byte seed followed by the public
/// key again.
fn ed25519(private: &mut Reader) -> Result<(Pair, &'static str, Vec<u8>), KeyError> {
    let public = private.string()?;
    let secret = private.string()?;
    if public.len() != 32 || secret.len() != 64 || &secret[32..] != public {
        return Err(KeyError::Malformed("ed25519 key lengths"));
    }
    let pair = Ed25519KeyPair::from_seed_and_public_key(&secret[..32], public)
        .map_err(|_| KeyError::Malformed("public key does not match the private key"))?;
    let mut blob = vec![];
    put_string(&mut blob, ED25519);
    put_string(&mut blob, public);
    Ok((Pair::Ed25519(pair), "ssh-ed25519", blob))
}

/// `string "nistp256" || string Q || mpint d`.
fn ecdsa(private: &mut Reader) -> Result<(Pair, &'static str, Vec<u8>), KeyError> {
    let curve = private.string()?;
    let q = private.string()?;
    let d = super::rsa_der::fixed_width(private.string()?, 32)
        .ok_or(KeyError::Malformed("ecdsa scalar"))?;
    if curve != b"nistp256" {
        return Err(KeyError::Unsupported(format!(
            "ecdsa {}",
            String::from_utf8_lossy(curve)
        )));
    }
    let pair = EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &d,
        q,
        &SystemRandom::new(),
    )
    .map_err(|_| KeyError::Malformed("public key does not match the private key"))?;
    let mut blob = vec![];
    put_string(&mut blob, ECDSA);
    put_string(&mut blob, curve);
    put_string(&mut blob, q);
    Ok((Pair::Ecdsa(pair), "ecdsa-sha2-nistp256", blob))
}

/// `mpint n || mpint e || mpint d || mpint iqmp || mpint p || mpint q`.
fn rsa(private: &mut Reader) -> Result<(Pair, &'static str, Vec<u8>), KeyError> {
    let mut part = || private.string();
    let (n, e, d, iqmp, p, q) = (part()?, part()?, part()?, part()?, part()?, part()?);
    let der =
        super::rsa_der::pkcs1(n, e, d, iqmp, p, q).ok_or(KeyError::Malformed("rsa components"))?;
    let pair = RsaKeyPair::from_der(&der).map_err(|e| match e.to_string().as_str() {
        // ring signs with 2048 to 4096-bit moduli, in steps of 512 bits.
        why @ ("TooSmall" | "TooLarge" | "PrivateModulusLenNotMultipleOf512Bits") => {
            KeyError::Unsupported(format!("ssh-rsa ({why})"))
        }
        _ => KeyError::Malformed("rsa components do not fit together"),
    })?;
    let mut blob = vec![];
    put_string(&mut blob, RSA);
    put_string(&mut blob, e);
    put_string(&mut blob, n);
    Ok((Pair::Rsa(pair), "ssh-rsa", blob))
}

/// SSH `mpint` of an unsigned big-endian number: minimal, a 0 in front of a high bit.
fn put_mpint(out: &mut Vec<u8>, x: &[u8]) {
    let start = x.iter().position(|b| *b != 0).unwrap_or(x.len());
    let x = &x[start..];
    let mut v = vec![];
    if x.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(x);
    put_string(out, &v);
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
        let status = Command::new("ssh-keygen")
            .args(["-q", "-C", "iter8@iter8.tools", "-f"])
            .arg(&key)
            .args(args)
            .status();
        let ok = match status {
            Ok(s) => s.success(),
            Err(e) => {
                testkit::skip_unless_required("ssh-keygen", &e.to_string());
                return None;
            }
        };
        assert!(ok, "ssh-keygen {args:?} failed");
        Some((
            std::fs::read_to_string(&key).unwrap(),
            std::fs::read_to_string(dir.join("key.pub")).unwrap(),
        ))
    }

    #[test]
    fn signatures_of_every_key_kind_verify_with_ssh_keygen_for_the_git_namespace_only() {
        for kind in [
            &["-t", "ed25519"][..],
            &["-t", "ecdsa", "-b", "256"],
            &["-t", "rsa", "-b", "3072"],
        ] {
            verifies(kind);
        }
    }

    fn verifies(kind: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        let args = [kind, &["-N", ""]].concat();
        // CI installs openssh-client: there, a missing ssh-keygen fails in `ssh_keygen`.
        let Some((private, public)) = ssh_keygen(dir.path(), &args) else {
            return;
        };
        let signer = SshKey::from_openssh(&private).unwrap();
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
        if let Some((rsa, _)) = ssh_keygen(dir.path(), &["-t", "rsa", "-b", "1024", "-N", ""]) {
            let e = SshKey::from_openssh(&rsa).unwrap_err();
            assert!(e.to_string().contains("is a ssh-rsa (TooSmall) key"), "{e}");
        }
        if let Some((locked, _)) = ssh_keygen(dir.path(), &["-t", "ed25519", "-N", "secret"]) {
            let e = SshKey::from_openssh(&locked).unwrap_err();
            assert!(e.to_string().contains("ssh-keygen -p -N ''"), "{e}");
        }
        let e = SshKey::from_openssh(
            "-----BEGIN RSA PRIVATE KEY-----\nMII=\n-----END RSA PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(matches!(e, KeyError::NotOpenSsh), "{e}");
        let e = SshKey::from_openssh(&format!("{ARMOR_BEGIN}\nb3BlbnNzaC1rZXktdjEA\n{ARMOR_END}"))
            .unwrap_err();
        assert!(matches!(e, KeyError::Malformed("truncated")), "{e}");
        let e = SshKey::from_openssh(&format!("{ARMOR_BEGIN}\n!!\n{ARMOR_END}")).unwrap_err();
        assert!(matches!(e, KeyError::Malformed("not base64")), "{e}");
    }
}
