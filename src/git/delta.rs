//! Git's delta format (`patch-delta.c`): a base's size, the result's size, then copy-from-base
//! and insert instructions. Read from a server's pack, so every size and range is checked.

use super::error::{BoxError, boxed};

/// No object the sifter rebuilds may be larger: a few bytes of delta can say "copy this 64 KiB
/// again" a million times. A larger object (a big binary beside the manifests) is passed over
/// by the sifter: it can be neither a file the rules read nor a tree the run holds.
pub(super) const MAX_RESULT: u64 = crate::limits::MAX_FETCHED_OBJECT_BYTES;

/// The result size `delta` declares, from its header.
pub(super) fn result_size(delta: &[u8]) -> Result<u64, BoxError> {
    let mut at = 0;
    varint(delta, &mut at)?;
    varint(delta, &mut at)
}

/// The object `delta` makes of `base`.
pub(super) fn apply(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, BoxError> {
    let mut at = 0;
    let base_size = varint(delta, &mut at)?;
    let result_size = varint(delta, &mut at)?;
    if base_size != base.len() as u64 || result_size > MAX_RESULT {
        return Err(corrupt("its sizes do not match its base"));
    }
    let mut out = Vec::with_capacity(result_size.min(1 << 20) as usize);
    while let Some(&cmd) = delta.get(at) {
        at += 1;
        if cmd & 0x80 != 0 {
            let (offset, size) = copy_range(cmd, delta, &mut at)?;
            let bytes = offset
                .checked_add(size)
                .and_then(|end| base.get(offset..end))
                .ok_or_else(|| corrupt("a copy outside its base"))?;
            out.extend_from_slice(bytes);
        } else if cmd != 0 {
            let bytes = delta
                .get(at..at + cmd as usize)
                .ok_or_else(|| corrupt("a truncated insert"))?;
            out.extend_from_slice(bytes);
            at += cmd as usize;
        } else {
            return Err(corrupt("the reserved instruction 0"));
        }
        if out.len() as u64 > result_size {
            return Err(corrupt("a result larger than it says"));
        }
    }
    if out.len() as u64 != result_size {
        return Err(corrupt("a result shorter than it says"));
    }
    Ok(out)
}

/// A copy instruction's offset and size: the bits of `cmd` say which bytes follow.
fn copy_range(cmd: u8, delta: &[u8], at: &mut usize) -> Result<(usize, usize), BoxError> {
    let mut next = |present: bool, shift: u32| -> Result<usize, BoxError> {
        if !present {
            return Ok(0);
        }
        let b = *delta.get(*at).ok_or_else(|| corrupt("a truncated copy"))?;
        *at += 1;
        Ok((b as usize) << shift)
    };
    let mut offset = 0;
    for i in 0..4 {
        offset |= next(cmd & (1 << i) != 0, 8 * i)?;
    }
    let mut size = 0;
    for i in 0..3 {
        size |= next(cmd & (0x10 << i) != 0, 8 * i)?;
    }
    Ok((offset, if size == 0 { 0x10000 } else { size }))
}

/// A size: seven bits a byte, least significant first.
fn varint(delta: &[u8], at: &mut usize) -> Result<u64, BoxError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *delta.get(*at).ok_or_else(|| corrupt("a truncated size"))?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(corrupt("a size of more than 64 bits"))
}

fn corrupt(what: &str) -> BoxError {
    boxed(std::io::Error::other(format!(
        "a corrupt delta in the pack: {what}"
    )))
}

#[cfg(test)]
mod tests {
    use super::apply;

    #[test]
    fn copies_from_the_base_and_inserts_new_bytes() {
        let base = b"apiVersion: v1\nkind: ConfigMap\n";
        // Base 31 bytes, result 32: copy base[0..15], insert 13 bytes, copy base[15..19].
        let mut delta = vec![31, 32, 0x80 | 0x10, 15, 13];
        delta.extend_from_slice(b"kind: Secret\n");
        delta.extend_from_slice(&[0x80 | 0x01 | 0x10, 15, 4]);
        let out = apply(base, &delta).unwrap();
        assert_eq!(out, b"apiVersion: v1\nkind: Secret\nkind");
    }

    #[test]
    fn refuses_copies_outside_the_base_and_lying_sizes() {
        let base = b"0123456789";
        assert!(
            apply(base, &[10, 5, 0x80 | 0x01 | 0x10, 8, 5]).is_err(),
            "copy past the end"
        );
        assert!(apply(base, &[9, 1, 1, b'x']).is_err(), "wrong base size");
        assert!(apply(base, &[10, 2, 1, b'x']).is_err(), "shorter result");
        assert!(apply(base, &[10, 1, 0]).is_err(), "reserved instruction");
        assert!(apply(base, &[10, 1, 5, b'x']).is_err(), "truncated insert");
        // A 2^40-byte result from ten bytes of delta: refused before anything is allocated.
        assert!(apply(base, &[10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x91, 0, 10]).is_err());
    }
}
