//! Prefix-cache block hashes of a prompt's token ids.
//!
//! Block i of a prompt is its tokens [i x B, (i + 1) x B) for block size B; only full blocks are
//! hashed. The hashes form a chain, h_i = H(h_(i-1), tokens of block i), starting from a fixed
//! root, so h_i identifies the whole prefix up to and including block i: two prompts share h_i
//! exactly when (up to a 64-bit collision) their first (i + 1) x B tokens are equal. H feeds
//! each token id through the SplitMix64 finaliser (a bijection of the running state), then the
//! block length; it is fixed and deterministic (no per-process random state), so hashes are the
//! same on every run and machine. A hash is never 0 (the KV cache uses 0 for "no hash").

/// The chain's starting value (the fractional part of sqrt(2), as in SHA-512).
const ROOT: u64 = 0x6A09_E667_F3BC_C908;

/// The SplitMix64 finaliser: a bijection on u64 that mixes every input bit into every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash of one block given the hash of the block before it (or the root).
pub fn chain(parent: u64, block: &[u32]) -> u64 {
    let mut h = parent;
    for &token in block {
        h = mix(h.wrapping_add(0x9E37_79B9_7F4A_7C15) ^ u64::from(token));
    }
    let h = mix(h ^ ((block.len() as u64) << 32));
    if h == 0 {
        1
    } else {
        h
    }
}

/// The hashes of every full block of `tokens`, in order (`tokens.len() / block_size` of them).
pub fn block_hashes(tokens: &[u32], block_size: u32) -> Vec<u64> {
    let size = block_size.max(1) as usize;
    let mut hashes = Vec::with_capacity(tokens.len() / size);
    let mut parent = ROOT;
    for block in tokens.chunks_exact(size) {
        parent = chain(parent, block);
        hashes.push(parent);
    }
    hashes
}
