//! The key that signs commits: an OpenSSH key (an SSHSIG, `gpg.format=ssh`) or an OpenPGP key
//! (an OpenPGP signature, git's default format), chosen by what the key's text is. Either
//! signature goes in the commit's `gpgsig` header; hosts verify both against the keys of the
//! committer's account.

use super::{openpgp, sshsig};

pub use sshsig::KeyError;

/// A key that signs commits.
pub enum Signer {
    Ssh(sshsig::SshKey),
    OpenPgp(openpgp::PgpKey),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.public_key())
    }
}

impl Signer {
    /// Reads a private key's text: OpenSSH (`-----BEGIN OPENSSH PRIVATE KEY-----`) or
    /// ASCII-armored OpenPGP (`-----BEGIN PGP PRIVATE KEY BLOCK-----`).
    pub fn from_text(text: &str) -> Result<Signer, KeyError> {
        if openpgp::is_armored_key(text) {
            return openpgp::PgpKey::from_armored(text)
                .map(Signer::OpenPgp)
                .map_err(KeyError::OpenPgp);
        }
        sshsig::SshKey::from_openssh(text).map(Signer::Ssh)
    }

    /// What to register the key as (an SSH public key line, or an OpenPGP fingerprint).
    pub fn public_key(&self) -> String {
        match self {
            Signer::Ssh(k) => k.public_key(),
            Signer::OpenPgp(k) => k.fingerprint(),
        }
    }

    /// `SSH` or `OpenPGP`, for the log.
    pub fn format(&self) -> &'static str {
        match self {
            Signer::Ssh(_) => "SSH",
            Signer::OpenPgp(_) => "OpenPGP",
        }
    }

    /// The armored signature over `message`, without a final newline.
    pub fn sign(&self, message: &[u8]) -> String {
        match self {
            Signer::Ssh(k) => k.sign(message),
            Signer::OpenPgp(k) => k.sign(message),
        }
    }
}
