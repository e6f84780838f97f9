//! Big-endian numbers for the signing keys. Mainly an RSA key as *ring* takes it: PKCS#1
//! `RSAPrivateKey` DER. OpenSSH (and OpenPGP) store n, e, d, the coefficient, p and q; PKCS#1
//! also wants d mod (p-1) and d mod (q-1), worked out here with a bit-at-a-time remainder (a
//! few thousand steps for a 4096-bit key, done once per run).

/// Big-endian unsigned integers, as SSH `mpint`s and DER `INTEGER`s hold them.
type Big = Vec<u8>;

/// The PKCS#1 DER of the key; `None` when a part is not a positive number.
pub fn pkcs1(n: &[u8], e: &[u8], d: &[u8], iqmp: &[u8], p: &[u8], q: &[u8]) -> Option<Vec<u8>> {
    let dp = rem(d, &minus_one(p)?)?;
    let dq = rem(d, &minus_one(q)?)?;
    let mut body = integer(&[0]);
    for part in [n, e, d, p, q, &dp, &dq, iqmp] {
        body.extend(integer(part));
    }
    Some(tlv(0x30, &body))
}

/// An unsigned big-endian number in exactly `len` bytes (an SSH mpint may carry a leading 0,
/// an OpenPGP MPI drops them); `None` when it does not fit.
pub fn fixed_width(x: &[u8], len: usize) -> Option<Vec<u8>> {
    let x = trim(x);
    (x.len() <= len).then(|| [vec![0; len - x.len()], x.to_vec()].concat())
}

fn trim(x: &[u8]) -> &[u8] {
    let start = x.iter().position(|b| *b != 0).unwrap_or(x.len());
    &x[start..]
}

/// `x - 1` for `x >= 1`.
fn minus_one(x: &[u8]) -> Option<Big> {
    let mut out = trim(x).to_vec();
    if out.is_empty() {
        return None;
    }
    for b in out.iter_mut().rev() {
        if *b > 0 {
            *b -= 1;
            return Some(out);
        }
        *b = 0xff;
    }
    None
}

/// `a >= b`, both trimmed.
fn ge(a: &[u8], b: &[u8]) -> bool {
    a.len() > b.len() || (a.len() == b.len() && a >= b)
}

/// `a - b` for `a >= b`, both trimmed; the result trimmed.
fn sub(a: &[u8], b: &[u8]) -> Big {
    let mut out = a.to_vec();
    let mut borrow = 0i16;
    for i in 0..out.len() {
        let ai = out.len() - 1 - i;
        let bv = if i < b.len() {
            b[b.len() - 1 - i] as i16
        } else {
            0
        };
        let mut v = out[ai] as i16 - bv - borrow;
        borrow = (v < 0) as i16;
        if v < 0 {
            v += 256;
        }
        out[ai] = v as u8;
    }
    trim(&out).to_vec()
}

/// `a mod m`, shifting `a` in one bit at a time.
fn rem(a: &[u8], m: &[u8]) -> Option<Big> {
    let m = trim(m);
    if m.is_empty() {
        return None;
    }
    let mut r: Big = vec![];
    for byte in trim(a) {
        for bit in (0..8).rev() {
            // r = 2r + bit
            let mut carry = (byte >> bit) & 1;
            for b in r.iter_mut().rev() {
                let v = (*b as u16) << 1 | carry as u16;
                *b = v as u8;
                carry = (v >> 8) as u8;
            }
            if carry > 0 {
                r.insert(0, carry);
            }
            let t = trim(&r).to_vec();
            r = if ge(&t, m) { sub(&t, m) } else { t };
        }
    }
    Some(r)
}

/// A DER `INTEGER` of an unsigned number: minimal, with a 0 in front of a high bit.
fn integer(x: &[u8]) -> Vec<u8> {
    let x = trim(x);
    let mut content = vec![];
    if x.is_empty() || x[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(x);
    tlv(0x02, &content)
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    match n {
        0..=127 => out.push(n as u8),
        128..=255 => out.extend([0x81, n as u8]),
        _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remainders_and_integers_are_right() {
        let n = |v: u128| trim(&v.to_be_bytes()).to_vec();
        for (a, m) in [
            (1000u128, 7u128),
            (7, 1000),
            (u64::MAX as u128 * 3 + 5, 65537),
            (0, 9),
        ] {
            assert_eq!(rem(&n(a), &n(m)).unwrap(), n(a % m), "{a} mod {m}");
        }
        assert_eq!(minus_one(&[1, 0]).unwrap(), vec![0, 0xff]);
        assert_eq!(fixed_width(&[0, 0x80, 1], 3).unwrap(), vec![0, 0x80, 1]);
        assert_eq!(fixed_width(&[0, 5], 4).unwrap(), vec![0, 0, 0, 5]);
        assert!(fixed_width(&[1, 2, 3], 2).is_none());
        assert_eq!(integer(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(&[0, 0, 5]), vec![0x02, 0x01, 0x05]);
        assert_eq!(tlv(0x30, &[0; 300])[..4], [0x30, 0x82, 0x01, 0x2c]);
    }
}
