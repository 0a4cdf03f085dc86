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
use super::stream_seed;
use crate::config::Config;

/// Keeps prefix hashes apart from request-unique ones (engine/request.rs mixes request ids).
const PREFIX_TAG: u64 = 0x5348_4152_4544_5046; // "SHAREDPF"

/// The block hashes of one prefix's full blocks, chained: block j's hash identifies the
/// whole prefix up to it. `tag` tells prefixes apart.
fn prefix_entry(tag: u64, tokens: u32, block_size: u32) -> DatasetPrompt {
    // stream_seed is SplitMix64's mix of two words: here a parent hash and a position.
    let mut h = stream_seed(PREFIX_TAG, tag);
    let block_hashes = (0..tokens / block_size)
        .map(|j| {
            h = stream_seed(h, u64::from(j) + 1);
            h
        })
        .collect();
    DatasetPrompt {
        prompt_len: tokens,
        max_tokens: None,
        block_hashes,
        line: 0,
        turn: None,
    }
}

/// Where each class's own prefix sits in the table (None for a class without one): after
/// the workload's groups.
pub fn class_entries(config: &Config) -> Vec<Option<u32>> {
    let w = &config.workload;
    let mut next = if w.shared_prefix_tokens > 0 {
        w.num_prefix_groups
    } else {
        0
    };
    w.classes
        .iter()
        .map(|c| {
            (c.shared_prefix_tokens > 0).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// The prefixes' blocks as a prompt table: the workload's groups, then each class's own
/// prefix; None without shared prefixes.
pub fn shared_prefixes(config: &Config) -> Option<Arc<Dataset>> {
    let w = &config.workload;
    let block_size = config.scheduler.block_size;
    let mut prompts = Vec::new();
    if w.shared_prefix_tokens > 0 {
        for group in 0..w.num_prefix_groups {
            prompts.push(prefix_entry(
                u64::from(group),
                w.shared_prefix_tokens,
                block_size,
            ));
        }
    }
    for (k, c) in w.classes.iter().enumerate() {
        if c.shared_prefix_tokens > 0 {
            // Tags past every group's.
            let tag = (1u64 << 32) + k as u64;
            prompts.push(prefix_entry(tag, c.shared_prefix_tokens, block_size));
        }
    }
    if prompts.is_empty() {
        return None;
    }
    Some(Arc::new(Dataset {
        prompts,
        conversations: Vec::new(),
        clipped: 0,
        path: PathBuf::from("<shared prefixes>"),
    }))
}
