//! OpenPGP commit signatures (RFC 4880 v4), as `git commit -S` makes them with GnuPG: a
//! detached binary-document signature over the commit, ASCII-armored, in its `gpgsig` header.
//! Hosts show such commits as verified when the key is a GPG key of the committer's account.
//!
//! The key is an ASCII-armored secret key, unprotected (what `gpg --armor
//! --export-secret-keys` writes for a key without a passphrase): Ed25519 (EdDSA, GnuPG's
//! default since 2.3) or RSA 2048–4096. ring, already here for TLS, signs; the packet formats
//! are read and written here, and the tests check every signature with GnuPG itself.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair},
};

const BEGIN_KEY: &str = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
const END_KEY: &str = "-----END PGP PRIVATE KEY BLOCK-----";
/// The curve OID of Ed25519 in EdDSA keys (1.3.6.1.4.1.11591.15.1).
const ED25519_OID: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01];
const ALGO_RSA: u8 = 1;
const ALGO_EDDSA: u8 = 22;
const HASH_SHA256: u8 = 8;

/// What to do about a key that is protected by a passphrase.
const PASSPHRASE: &str = "is protected by a passphrase; store it without one (`gpg --passwd KEYID` with an empty passphrase, then `gpg --armor --export-secret-keys KEYID`): the Secret is what protects it";

/// True when `text` is an armored OpenPGP secret key.
pub fn is_armored_key(text: &str) -> bool {
    text.trim_start().starts_with(BEGIN_KEY)
}

/// The private half, by algorithm.
enum Pair {
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// An OpenPGP key that signs commits.
pub struct PgpKey {
    pair: Pair,
    algo: u8,
    fingerprint: [u8; 20],
}

impl std::fmt::Debug for PgpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgpKey({})", self.fingerprint())
    }
}

impl PgpKey {
    /// Reads an armored secret key: the primary key, else the first subkey that can sign.
    pub fn from_armored(text: &str) -> Result<PgpKey, String> {
        let bytes = dearmor(text)?;
        let mut first_error = None;
        for (tag, body) in packets(&bytes)? {
            if tag != 5 && tag != 7 {
                continue;
            }
            match secret_key(body) {
                Ok(k) => return Ok(k),
                Err(e) if tag == 5 => first_error = Some(e),
                Err(_) => {}
            }
        }
        Err(first_error.unwrap_or_else(|| "holds no secret key".into()))
    }

    /// The key's fingerprint, as hosts and `gpg --list-keys` show it.
    pub fn fingerprint(&self) -> String {
        self.fingerprint
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// The armored detached signature over `message`, without a final newline.
    pub fn sign(&self, message: &[u8]) -> String {
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        // Hashed: the signature's creation time and the issuer's fingerprint.
        let mut hashed_subpackets = subpacket(2, &created.to_be_bytes());
        let mut issuer_fpr = vec![4];
        issuer_fpr.extend_from_slice(&self.fingerprint);
        hashed_subpackets.extend(subpacket(33, &issuer_fpr));
        let mut hashed = vec![4, 0x00, self.algo, HASH_SHA256];
        hashed.extend_from_slice(&(hashed_subpackets.len() as u16).to_be_bytes());
        hashed.extend(hashed_subpackets);
        // What is hashed: the document, the hashed part, and its trailer.
        let mut data = message.to_vec();
        data.extend_from_slice(&hashed);
        data.extend_from_slice(&[4, 0xFF]);
        data.extend_from_slice(&(hashed.len() as u32).to_be_bytes());
        let digest = ring::digest::digest(&ring::digest::SHA256, &data);
        let mut body = hashed;
        let unhashed = subpacket(16, &self.fingerprint[12..]);
        body.extend_from_slice(&(unhashed.len() as u16).to_be_bytes());
        body.extend(unhashed);
        body.extend_from_slice(&digest.as_ref()[..2]);
        body.extend(self.signature_mpis(&data, digest.as_ref()));
        armor_signature(&packet(2, &body))
    }

    fn signature_mpis(&self, data: &[u8], digest: &[u8]) -> Vec<u8> {
        match &self.pair {
            // EdDSA signs the digest: r and s, 32 bytes each.
            Pair::Ed25519(p) => {
                let sig = p.sign(digest);
                let (r, s) = sig.as_ref().split_at(32);
                [mpi(r), mpi(s)].concat()
            }
            // PKCS #1 v1.5 over the same hash (ring hashes `data` itself).
            Pair::Rsa(p) => {
                let mut sig = vec![0; p.public().modulus_len()];
                p.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
                    .expect("RSA signing does not fail");
                mpi(&sig)
            }
        }
    }
}

/// A v4 secret key packet's body: the public part, then the unprotected secret part.
fn secret_key(body: &[u8]) -> Result<PgpKey, String> {
    let mut r = Reader(body);
    let version = r.byte()?;
    if version != 4 {
        return Err(format!(
            "is a version {version} key; version 4 keys (GnuPG's) can sign here"
        ));
    }
    r.take(4)?; // creation time
    let algo = r.byte()?;
    let (pair_from, public_len) = match algo {
        ALGO_EDDSA => {
            let oid_len = r.byte()? as usize;
            if r.take(oid_len)? != ED25519_OID {
                return Err("is an EdDSA key on another curve than Ed25519".into());
            }
            let q = r.mpi()?;
            if q.len() != 33 || q[0] != 0x40 {
                return Err("is damaged (Ed25519 public point)".into());
            }
            (KeyParts::Ed25519(q[1..].to_vec()), body.len() - r.0.len())
        }
        ALGO_RSA => {
            let (n, e) = (r.mpi()?.to_vec(), r.mpi()?.to_vec());
            (KeyParts::Rsa(n, e), body.len() - r.0.len())
        }
        other => {
            return Err(format!(
                "is an OpenPGP key of algorithm {other}; Ed25519 (EdDSA) and RSA keys can sign here (`gpg --quick-gen-key 'NAME <EMAIL>' ed25519 sign`)"
            ));
        }
    };
    if r.byte()? != 0 {
        return Err(PASSPHRASE.into());
    }
    let pair = match pair_from {
        KeyParts::Ed25519(public) => {
            let seed =
                super::rsa_der::fixed_width(r.mpi()?, 32).ok_or("is damaged (Ed25519 secret)")?;
            Pair::Ed25519(
                Ed25519KeyPair::from_seed_and_public_key(&seed, &public)
                    .map_err(|_| "is damaged (its public and secret parts differ)")?,
            )
        }
        KeyParts::Rsa(n, e) => {
            let (d, p, q, u) = (r.mpi()?, r.mpi()?, r.mpi()?, r.mpi()?);
            // OpenPGP's u is p⁻¹ mod q; PKCS #1's coefficient is q⁻¹ mod its p: swap them.
            let der = super::rsa_der::pkcs1(&n, &e, d, u, q, p).ok_or("is damaged (RSA)")?;
            Pair::Rsa(RsaKeyPair::from_der(&der).map_err(|e| {
                format!("is an RSA key ring cannot sign with ({e}); use 2048 to 4096 bits")
            })?)
        }
    };
    let mut hashed = vec![0x99];
    hashed.extend_from_slice(&(public_len as u16).to_be_bytes());
    hashed.extend_from_slice(&body[..public_len]);
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &hashed);
    let mut fingerprint = [0; 20];
    fingerprint.copy_from_slice(sha1.as_ref());
    Ok(PgpKey {
        pair,
        algo,
        fingerprint,
    })
}

/// The public numbers, until the secret part is read.
enum KeyParts {
    Ed25519(Vec<u8>),
    Rsa(Vec<u8>, Vec<u8>),
}

/// The armored block's bytes (headers and the checksum line skipped).
fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let inner = text
        .strip_prefix(BEGIN_KEY)
        .and_then(|t| t.strip_suffix(END_KEY))
        .ok_or("is not an armored OpenPGP private key block")?;
    let mut lines: Vec<&str> = inner.lines().map(str::trim).collect();
    // Armor headers ("Comment: …") end at the first empty line.
    if let Some(blank) = lines.iter().position(|l| l.is_empty())
        && lines[..blank].iter().all(|l| l.contains(": "))
    {
        lines.drain(..=blank);
    }
    let b64: String = lines
        .iter()
        .filter(|l| !l.starts_with('='))
        .copied()
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|_| "is damaged (not base64)".into())
}

/// (tag, body) of each packet.
fn packets(mut b: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut out = vec![];
    while !b.is_empty() {
        let mut r = Reader(b);
        let h = r.byte()?;
        if h & 0x80 == 0 {
            return Err("is damaged (not an OpenPGP packet)".into());
        }
        let (tag, len) = if h & 0x40 != 0 {
            let l1 = r.byte()? as usize;
            let len = match l1 {
                0..=191 => l1,
                192..=223 => ((l1 - 192) << 8) + r.byte()? as usize + 192,
                255 => u32::from_be_bytes(r.take(4)?.try_into().expect("4 bytes")) as usize,
                _ => return Err("is damaged (partial packet length)".into()),
            };
            (h & 0x3f, len)
        } else {
            let len = match h & 3 {
                0 => r.byte()? as usize,
                1 => u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes")) as usize,
                2 => u32::from_be_bytes(r.take(4)?.try_into().expect("4 bytes")) as usize,
                _ => r.0.len(),
            };
            ((h >> 2) & 0xf, len)
        };
        let body = r.take(len)?;
        out.push((tag, body));
        b = r.0;
    }
    Ok(out)
}

/// A new-format packet.
fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xC0 | tag];
    let n = body.len();
    if n < 192 {
        out.push(n as u8);
    } else if n < 8384 {
        let m = n - 192;
        out.extend([(m >> 8) as u8 + 192, m as u8]);
    } else {
        out.push(255);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

fn subpacket(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![(data.len() + 1) as u8, kind];
    out.extend_from_slice(data);
    out
}

/// An MPI: the bit count, then the number without leading zeros.
fn mpi(x: &[u8]) -> Vec<u8> {
    let start = x.iter().position(|b| *b != 0).unwrap_or(x.len());
    let x = &x[start..];
    let bits = match x.first() {
        Some(b) => (x.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
        None => 0,
    };
    let mut out = (bits as u16).to_be_bytes().to_vec();
    out.extend_from_slice(x);
    out
}

fn armor_signature(bytes: &[u8]) -> String {
    let b64 = STANDARD.encode(bytes);
    let mut out = String::from("-----BEGIN PGP SIGNATURE-----\n\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push('=');
    out.push_str(&STANDARD.encode(&crc24(bytes).to_be_bytes()[1..]));
    out.push_str("\n-----END PGP SIGNATURE-----");
    out
}

/// The armor checksum (RFC 4880, 6.1).
fn crc24(bytes: &[u8]) -> u32 {
    let mut crc: u32 = 0xB704CE;
    for b in bytes {
        crc ^= (*b as u32) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x1000000 != 0 {
                crc ^= 0x1864CFB;
            }
        }
    }
    crc & 0xFFFFFF
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("is damaged (truncated)".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn mpi(&mut self) -> Result<&'a [u8], String> {
        let bits = u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")) as usize;
        self.take(bits.div_ceil(8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use testkit::gpg_key;

    fn verify(home: &std::path::Path, sig: &str, msg: &[u8]) -> std::process::Output {
        std::fs::write(home.join("msg"), msg).unwrap();
        std::fs::write(home.join("msg.asc"), format!("{sig}\n")).unwrap();
        Command::new("gpg")
            .env("GNUPGHOME", home)
            .args(["--batch", "--verify"])
            .arg(home.join("msg.asc"))
            .arg(home.join("msg"))
            .output()
            .unwrap()
    }

    #[test]
    fn ed25519_and_rsa_signatures_verify_with_gnupg() {
        for algo in ["ed25519", "rsa3072"] {
            let (home, armored) = gpg_key(algo, "");
            let key = PgpKey::from_armored(&armored).unwrap();
            let listed = Command::new("gpg")
                .env("GNUPGHOME", home.path())
                .args(["--batch", "--with-colons", "--fingerprint"])
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&listed.stdout).contains(&key.fingerprint()),
                "{algo}"
            );
            let msg = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nupdate baseline\n";
            let ok = verify(home.path(), &key.sign(msg), msg);
            let said = String::from_utf8_lossy(&ok.stderr);
            assert!(
                ok.status.success() && said.contains("Good signature"),
                "{algo}: {said}"
            );
            assert!(
                !verify(home.path(), &key.sign(msg), b"another message")
                    .status
                    .success()
            );
        }
    }

    #[test]
    fn a_protected_or_foreign_key_is_refused_with_what_to_do() {
        let (_home, armored) = gpg_key("ed25519", "secret");
        let e = PgpKey::from_armored(&armored).err().unwrap();
        assert!(e.contains("gpg --passwd"), "{e}");
        let e = PgpKey::from_armored(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n!!\n-----END PGP PRIVATE KEY BLOCK-----",
        )
        .err()
        .unwrap();
        assert!(e.contains("not base64"), "{e}");
        assert_eq!(crc24(b""), 0xB704CE);
        assert_eq!(mpi(&[0, 1]), vec![0, 1, 1]);
        assert_eq!(mpi(&[0x80, 0]), vec![0, 16, 0x80, 0]);
    }
}
