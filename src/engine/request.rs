//! A request's state inside the engine.

use super::kv_cache::BlockId;
use crate::workload::RequestSpec;

/// A request as the engine tracks it. Its token sequence is the prompt followed by the output
/// generated so far; `num_computed` of those tokens have their KV in the cache. A step that
/// brings `num_computed` up to the whole sequence emits the next output token, so the step that
/// computes the last prompt token emits the first output token, every later step emits one
/// more, and after a preemption (recompute) the step that finishes recomputing emits the next.
#[derive(Debug, Clone)]
pub struct Request {
    pub spec: RequestSpec,
    pub num_computed: u32,
    pub num_output: u32,
    /// KV blocks, in token order.
    pub blocks: Vec<BlockId>,
    /// Leading shareable (dataset prompt) blocks already registered in the prefix cache.
    pub num_registered: u32,
    /// Simulated instant of the first output token.
    pub first_token: Option<f64>,
    /// Simulated instant of the latest output token.
    pub last_token: f64,
    pub preemptions: u32,
    /// When a scheduler first gave it a place in a batch, and the prompt tokens it found in
    /// the prefix cache then.
    pub first_scheduled: Option<f64>,
    pub cached_prompt: u32,
    /// Whether the statistics count this request (not `[metrics]` warm-up): decided once, as
    /// it arrives, rather than per step.
    pub measured: bool,
}

impl Request {
    pub fn new(spec: RequestSpec, measured: bool) -> Request {
        Request {
            spec,
            num_computed: 0,
            num_output: 0,
            blocks: Vec::new(),
            num_registered: 0,
            first_token: None,
            last_token: spec.arrival,
            preemptions: 0,
            first_scheduled: None,
            cached_prompt: 0,
            measured,
        }
    }

    /// Prompt plus the output generated so far.
    pub fn total_tokens(&self) -> u32 {
        self.spec.prompt_len + self.num_output
    }

    /// Tokens whose KV still has to be computed before the next output token.
    pub fn remaining(&self) -> u32 {
        self.total_tokens() - self.num_computed
    }

    /// Whether the request is (re)computing its prompt rather than decoding one token a step.
    pub fn in_prefill(&self) -> bool {
        self.num_output == 0 || self.remaining() > 1
    }

    /// The content hash of block `index` (see [`block_hash`]).
    pub fn block_hash(&self, index: u32, prompt_hashes: &[u64]) -> u64 {
        block_hash(&self.spec, index, prompt_hashes)
    }
}

/// The content hash of block `index` of a request. `prompt_hashes` are hashes computed from
/// real token ids (a dataset prompt, a recorded conversation's turn and reply, a shared
/// prefix, a Mooncake trace's blocks; empty otherwise): requests sharing a token prefix share
/// those. Past them a session's blocks are its token stream's, shared with its other turns
/// only. Every other block (synthetic prompts, output tokens) is unique to its request:
/// shared with nobody, but a preempted request finds its own blocks again if they have not
/// been evicted.
pub fn block_hash(spec: &RequestSpec, index: u32, prompt_hashes: &[u64]) -> u64 {
    match (prompt_hashes.get(index as usize), spec.session) {
        (Some(&h), _) => h,
        (None, Some(session)) => session_block_hash(session, index),
        (None, None) => mix(spec.id.wrapping_add(1), u64::from(index)),
    }
}

/// Block `index` of a session's token stream (every turn's prompt and reply, in order): the
/// same content in every turn that reaches it, and nobody else's.
fn session_block_hash(session: u64, index: u32) -> u64 {
    const SESSION_TAG: u64 = 0x5345_5353_494f_4e00; // "SESSION"
    mix(mix(SESSION_TAG, session), u64::from(index))
}

fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
