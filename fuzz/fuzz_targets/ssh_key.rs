//! A signing key comes from a Secret anyone with write access to it can fill. Whatever its
//! bytes, reading it must not panic; a key it accepts must sign, and its signature must carry
//! its public key. The input is the key's binary body (armored here), so the fuzzer explores
//! the OpenSSH format itself rather than base64.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use iter8_gitops::git::sign::Signer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        STANDARD.encode(data)
    );
    if let Ok(signer) = Signer::from_openssh(&text) {
        let sig = signer.sign(data);
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----\n"));
        assert!(signer.public_key().starts_with("ssh-ed25519 "));
    }
    // And as text, armor and all.
    let _ = Signer::from_openssh(&String::from_utf8_lossy(data));
});
