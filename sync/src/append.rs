//! Appending and comparing short strings and byte slices as plain loads and
//! stores.
//!
//! A copy of a length known only when running is a call: `memcpy` natively,
//! `memory.copy` under WebAssembly, which V8 runs as a call of about 5 ns
//! whatever the length. The engine appends millions of values and keys of a
//! few bytes each (a record's values into its text block, the keys of a
//! fingerprint and of the browser's hasher). These append a slice of up to
//! 32 bytes as two pieces of a fixed width that overlap: its first and its
//! last `w` bytes, for the `w` in 1, 2, 4, 8, 16 with `w <= len <= 2w`, the
//! second written over the end of the first. Longer slices are appended as
//! usual.

/// `text.push_str(v)`.
#[inline(always)]
pub(crate) fn push_str(text: &mut String, v: &str) {
    let copied = match v.len() {
        0 => true,
        1 => push_overlapping::<1>(text, v),
        2..=3 => push_overlapping::<2>(text, v),
        4..=7 => push_overlapping::<4>(text, v),
        8..=15 => push_overlapping::<8>(text, v),
        16..=32 => push_overlapping::<16>(text, v),
        _ => false,
    };
    if !copied {
        text.push_str(v);
    }
}

/// `v` (of `W` to `2 * W` bytes) appended as its first `W` bytes, then its
/// last `W` bytes over the end of those; false, with nothing appended, when
/// either piece would split a character.
#[inline(always)]
fn push_overlapping<const W: usize>(text: &mut String, v: &str) -> bool {
    let n = v.len();
    match (v.get(..W), v.get(n - W..)) {
        (Some(head), Some(tail)) => {
            let start = text.len();
            text.push_str(head);
            // `n - W` is a character boundary of `v`: `tail` starts there.
            text.truncate(start + n - W);
            text.push_str(tail);
            true
        }
        _ => false,
    }
}

/// `buf.extend_from_slice(b)`.
#[inline]
pub(crate) fn extend(buf: &mut Vec<u8>, b: &[u8]) {
    match b.len() {
        0 => {}
        1 => extend_overlapping::<1>(buf, b),
        2..=3 => extend_overlapping::<2>(buf, b),
        4..=7 => extend_overlapping::<4>(buf, b),
        8..=15 => extend_overlapping::<8>(buf, b),
        16..=32 => extend_overlapping::<16>(buf, b),
        _ => buf.extend_from_slice(b),
    }
}

/// `b` (of `W` to `2 * W` bytes) appended as its first and last `W` bytes.
#[inline(always)]
fn extend_overlapping<const W: usize>(buf: &mut Vec<u8>, b: &[u8]) {
    match (b.first_chunk::<W>(), b.last_chunk::<W>()) {
        (Some(head), Some(tail)) => {
            let start = buf.len();
            buf.extend_from_slice(head);
            buf.truncate(start + b.len() - W);
            buf.extend_from_slice(tail);
        }
        _ => buf.extend_from_slice(b),
    }
}

/// `a == b` for text: `same_bytes` of their bytes.
#[inline]
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// `a == b`, for keys of a few bytes: as two loads of a fixed width that
/// overlap, like the appends above, rather than a call of `memcmp` (under
/// WebAssembly a loop over the bytes; a million links compare keys).
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn overlapping<const W: usize>(a: &[u8], b: &[u8]) -> bool {
        a.first_chunk::<W>() == b.first_chunk::<W>() && a.last_chunk::<W>() == b.last_chunk::<W>()
    }
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        0 => true,
        1 => a[0] == b[0],
        2..=3 => overlapping::<2>(a, b),
        4..=7 => overlapping::<4>(a, b),
        8..=15 => overlapping::<8>(a, b),
        16..=32 => overlapping::<16>(a, b),
        _ => a == b,
    }
}

/// `a.cmp(b)` for text: `cmp_bytes` of their bytes.
#[inline(always)]
pub(crate) fn cmp_text(a: &str, b: &str) -> std::cmp::Ordering {
    cmp_bytes(a.as_bytes(), b.as_bytes())
}

/// `a.cmp(b)`, for keys of one length (a register's numbers mostly are):
/// the first and the last `w` bytes compared as big-endian numbers, the
/// last only when the first are equal (then the bytes they share are
/// equal, and the first difference is among the last), rather than a call
/// of `memcmp`. Keys of two lengths are compared as usual.
#[inline(always)]
pub(crate) fn cmp_bytes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    macro_rules! overlapping {
        ($w:literal, $int:ty) => {{
            let head = |s: &[u8]| s.first_chunk::<$w>().map(|c| <$int>::from_be_bytes(*c));
            let tail = |s: &[u8]| s.last_chunk::<$w>().map(|c| <$int>::from_be_bytes(*c));
            head(a).cmp(&head(b)).then_with(|| tail(a).cmp(&tail(b)))
        }};
    }
    if a.len() != b.len() {
        return a.cmp(b);
    }
    match a.len() {
        0 => std::cmp::Ordering::Equal,
        1 => a[0].cmp(&b[0]),
        2..=3 => overlapping!(2, u16),
        4..=7 => overlapping!(4, u32),
        8..=15 => overlapping!(8, u64),
        16..=32 => overlapping!(16, u128),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// Every length up to past the widest piece, with characters of one to
    /// four bytes at every place (where a piece would split one, the value
    /// is appended whole), appends exactly the value, as text and as bytes.
    #[test]
    fn appends_exactly_at_every_length() {
        let mut appended = 0;
        for fill in ["a", "ø", "€", "😀"] {
            for n in 0..40 {
                for at in 0..=n {
                    let v: String = (0..n)
                        .map(|i| if i == at { fill } else { "x" })
                        .collect::<Vec<_>>()
                        .concat();
                    let mut text = String::from("before|");
                    push_str(&mut text, &v);
                    assert_eq!(text, format!("before|{v}"), "{v:?}");
                    let mut buf = b"before|".to_vec();
                    extend(&mut buf, v.as_bytes());
                    assert_eq!(buf, format!("before|{v}").into_bytes(), "{v:?}");
                    appended += 1;
                }
            }
        }
        assert_eq!(appended, 4 * (1..=40).sum::<usize>());
    }

    /// `cmp_bytes` orders as `cmp` does: every length up to past the
    /// widest piece, a difference at every place, in both directions, and
    /// keys of two lengths.
    #[test]
    fn cmp_bytes_is_cmp_at_every_length() {
        let mut compared = 0;
        for len in 0..=40usize {
            let a: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
            assert_eq!(cmp_bytes(&a, &a.clone()), std::cmp::Ordering::Equal);
            for at in 0..len {
                for delta in [1u8, 0x20, 0x80] {
                    let mut b = a.clone();
                    b[at] = b[at].wrapping_add(delta);
                    assert_eq!(cmp_bytes(&a, &b), a.cmp(&b), "{a:?} {b:?}");
                    assert_eq!(cmp_bytes(&b, &a), b.cmp(&a), "{b:?} {a:?}");
                    compared += 2;
                }
            }
            let mut longer = a.clone();
            longer.push(b'0');
            assert_eq!(cmp_bytes(&a, &longer), a.cmp(&longer));
            assert_eq!(cmp_bytes(&longer, &a), longer.cmp(&a));
        }
        assert!(compared > 2000);
        assert_eq!(cmp_text("1000", "999"), "1000".cmp("999"));
        assert_eq!(cmp_text("ø", "z"), "ø".cmp("z"));
    }

    #[test]
    fn same_bytes_is_equality_at_every_length() {
        for len in 0..=40usize {
            let a: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "equal at {len}");
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "differs at {at} of {len}");
            }
            let mut longer = a.clone();
            longer.push(b'x');
            assert!(!same_bytes(&a, &longer), "lengths {len} and {}", len + 1);
            assert!(!same_bytes(&longer, &a));
        }
    }
}
