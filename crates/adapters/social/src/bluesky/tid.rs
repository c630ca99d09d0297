//! Record keys: TIDs (timestamp identifiers), and the one derived from a post's idempotency key
//! so that every attempt at the same post writes to the same record key.
//!
//! A TID is a 64-bit integer — top bit 0, then 53 bits of microseconds since the UNIX epoch,
//! then a 10-bit clock identifier — written in "base32-sortable" as exactly 13 characters.

use ring::digest;

/// The base32-sortable alphabet (index 0 is `2`).
const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// Microseconds since the UNIX epoch of 2023-01-01T00:00:00Z: derived record keys start here.
const DERIVED_EPOCH_MICROS: u64 = 1_672_531_200_000_000;

/// How many bits of the hash pick the microsecond after [`DERIVED_EPOCH_MICROS`]: 2^45 µs is
/// about 407 days, so every derived key lies in 2023–2024, in the past (a key's time is never
/// read as the post's time: Bluesky orders posts by their `createdAt`).
const DERIVED_MICROS_BITS: u32 = 45;

/// The TID of `micros` (since the UNIX epoch, 53 bits kept) and `clock_id` (10 bits kept).
pub fn from_parts(micros: u64, clock_id: u16) -> String {
    let micros = micros & ((1 << 53) - 1);
    let clock_id = u64::from(clock_id) & 0x3FF;
    encode((micros << 10) | clock_id)
}

/// The 13-character encoding of `value` (its top bit is cleared, as in every TID).
pub fn encode(value: u64) -> String {
    let mut v = value & !(1 << 63);
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// The record key of an idempotency key: a valid TID, the same for every call with the same
/// key. SHA-256 of the key gives the microseconds (within about 407 days from 2023-01-01) and
/// the clock identifier; two different keys share a record key with a chance of 2^-55.
pub fn from_key(key: &str) -> String {
    let hash = digest::digest(&digest::SHA256, key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_ref()[..8]);
    let bits = u64::from_be_bytes(first);
    let micros = DERIVED_EPOCH_MICROS + (bits >> (64 - DERIVED_MICROS_BITS));
    let clock_id = (bits & 0x3FF) as u16;
    from_parts(micros, clock_id)
}

/// The record key of one part of a post: [`from_key`] of the idempotency key and the part's
/// number, so parts never share a key even if a caller gave them the same idempotency key.
pub fn record_key(idempotency_key: &str, part: usize) -> String {
    from_key(&format!("{idempotency_key}#{part}"))
}

/// Whether `s` is a syntactically valid TID:
/// `^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`.
pub fn is_valid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 13
        && b"234567abcdefghij".contains(&bytes[0])
        && bytes[1..].iter().all(|b| ALPHABET.contains(b))
}

#[cfg(test)]
mod tests;
