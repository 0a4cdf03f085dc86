//! What a fleet asks of a replica beyond stepping: prefill/decode handoffs and KV transfers
//! (disaggregation), and how much of a prompt its prefix cache holds (prefix-affinity routing).

use super::engine::Engine;
use super::request::Request;
use crate::workload::RequestSpec;

/// A prefilled request leaving a prefill replica: what the decode replica needs to go on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Handoff {
    pub spec: RequestSpec,
    pub measured: bool,
    /// When its first token was emitted (and it left).
    pub first_token: f64,
    /// Its history on the prefill replica, for its record: when it was first scheduled, the
    /// prompt tokens it found cached then, and its preemptions.
    pub first_scheduled: f64,
    pub cached_prompt: u32,
    pub preemptions: u32,
}

impl Engine {
    /// Prefill replica: the requests that left for decode since the last call.
    pub fn take_handoffs(&mut self) -> std::vec::Drain<'_, Handoff> {
        self.handoffs.drain(..)
    }

    /// Decode replica: whether a prefilled request of `prompt_len` tokens can start moving its
    /// KV here now (blocks for its prompt, a sequence slot, and its reservation in
    /// preemption-free mode).
    pub fn can_accept(&self, spec: &RequestSpec) -> bool {
        let blocks = self.blocks_for(spec.prompt_len);
        blocks <= self.kv.num_free()
            && self.seqs_in_use() < self.knobs.max_seqs
            && self.reservation_fits(self.reservation_of(spec))
    }

    /// Decode replica: a prefilled request's KV starts arriving; its blocks are held from now.
    /// Returns the slot to pass to [`end_transfer`](Self::end_transfer). The caller checked
    /// [`can_accept`](Self::can_accept).
    pub fn begin_transfer(&mut self, handoff: &Handoff) -> usize {
        let mut request = Request::new(handoff.spec, handoff.measured);
        request.num_output = 1;
        request.first_token = Some(handoff.first_token);
        request.last_token = handoff.first_token;
        request.first_scheduled = Some(handoff.first_scheduled);
        request.cached_prompt = handoff.cached_prompt;
        request.preemptions = handoff.preemptions;
        let slot = self.new_slot(request);
        let needed = self.blocks_for(handoff.spec.prompt_len);
        self.grow(slot, needed);
        self.reserved_blocks += self.reservation(slot);
        self.transferring.push(slot);
        slot
    }

    /// Decode replica: the KV of `slot` has arrived: the request decodes from the next step.
    pub fn end_transfer(&mut self, slot: usize) {
        let at = self
            .transferring
            .iter()
            .position(|&s| s == slot)
            .expect("the slot is transferring");
        self.transferring.swap_remove(at);
        let r = &mut self.requests[slot];
        r.num_computed = r.spec.prompt_len;
        self.register_full_blocks(slot);
        self.running.push(slot);
    }

    /// How many leading blocks of a request's prompt this replica holds in its prefix cache
    /// (what prefix_affinity routes by); 0 for synthetic requests, whose blocks nobody holds.
    pub fn cached_prefix_blocks(&self, spec: &RequestSpec) -> u32 {
        if !self.kv.prefix_caching() || (spec.session.is_none() && spec.dataset_index.is_none()) {
            return 0;
        }
        let hashes = super::engine::prompt_hashes(&self.dataset, spec);
        let max_blocks = (spec.prompt_len - 1) / self.knobs.block_size;
        (0..max_blocks)
            .take_while(|&j| {
                let hash = super::request::block_hash(spec, j, hashes);
                self.kv.lookup(hash).is_some()
            })
            .count() as u32
    }
}
