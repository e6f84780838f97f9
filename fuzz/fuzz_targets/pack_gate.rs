//! A pack comes from the Git server. The gate in front of the indexer must never panic, must
//! pass an accepted pack through byte for byte, and must refuse any object that declares more
//! than its limit.
#![no_main]

use iter8_gitops::git::gate::check_pack;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|pack: &[u8]| {
    if let Ok(out) = check_pack(pack, 1 << 16) {
        assert_eq!(out, pack);
    }
});
