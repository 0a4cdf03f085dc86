//! Synthetic shared prefixes (`workload.shared_prefix_tokens`, `num_prefix_groups`): each
//! synthetic request's prompt begins with its group's prefix (a system prompt), so the prefix
//! cache and prefix-aware routing have real sharing to find without a dataset or tokenizer.
//!
//! The engine looks a prompt's shared blocks up in the same table dataset mode fills from real
//! prompts: one entry per group, holding the block hashes of its prefix's full blocks. Every
//! later block of a request stays unique to it.

use std::path::PathBuf;
use std::sync::Arc;

use super::dataset::{Dataset, DatasetPrompt};
use crate::config::Config;

/// Keeps prefix hashes apart from request-unique ones (engine/request.rs mixes request ids).
const PREFIX_TAG: u64 = 0x5348_4152_4544_5046; // "SHAREDPF"

/// SplitMix64's finaliser of a combination of two words.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The groups' prefix blocks as a prompt table, or None without shared prefixes.
pub fn shared_prefixes(config: &Config) -> Option<Arc<Dataset>> {
    let w = &config.workload;
    if w.shared_prefix_tokens == 0 {
        return None;
    }
    let blocks = w.shared_prefix_tokens / config.scheduler.block_size;
    let prompts = (0..w.num_prefix_groups)
        .map(|group| {
            // Chained: block j's hash identifies the group's whole prefix up to it.
            let mut h = mix(PREFIX_TAG, u64::from(group));
            let block_hashes = (0..blocks)
                .map(|j| {
                    h = mix(h, u64::from(j) + 1);
                    h
                })
                .collect();
            DatasetPrompt {
                prompt_len: w.shared_prefix_tokens,
                max_tokens: None,
                block_hashes,
                line: 0,
            }
        })
        .collect();
    Some(Arc::new(Dataset {
        prompts,
        clipped: 0,
        path: PathBuf::from("<workload.shared_prefix_tokens>"),
    }))
}
