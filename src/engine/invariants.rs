//! The engine's invariants, checked by tests and, on request, by drivers.

use super::engine::Engine;

impl Engine {
    /// Checks the engine's invariants: each running request holds exactly the blocks its
    /// computed tokens need, waiting requests hold none, and the block count adds up.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        self.kv.check_invariants()?;
        let mut referenced = 0u64;
        for &slot in &self.running {
            let r = &self.requests[slot];
            let want = self.blocks_for(r.num_computed) as usize;
            if r.blocks.len() != want {
                return Err(format!(
                    "request {} holds {} blocks for {} computed tokens (needs {want})",
                    r.spec.id,
                    r.blocks.len(),
                    r.num_computed
                ));
            }
            if r.num_output >= r.spec.output_len {
                return Err(format!("request {} is running but finished", r.spec.id));
            }
            referenced += r.blocks.len() as u64;
        }
        for &slot in &self.transferring {
            let r = &self.requests[slot];
            if r.blocks.len() != self.blocks_for(r.spec.prompt_len) as usize {
                return Err(format!(
                    "transferring request {} holds the wrong blocks",
                    r.spec.id
                ));
            }
            referenced += r.blocks.len() as u64;
        }
        for slot in self.waiting.slots().chain(self.held.slots()) {
            let r = &self.requests[slot];
            if !r.blocks.is_empty() || r.num_computed != 0 {
                return Err(format!("waiting request {} holds KV", r.spec.id));
            }
        }
        if self.seqs_in_use() > self.knobs.max_seqs {
            return Err(format!(
                "{} running and {} arriving > max_num_seqs",
                self.running.len(),
                self.transferring.len()
            ));
        }
        // Shared prefix blocks are counted once per holder, so this is an upper bound.
        if referenced < u64::from(self.kv.num_used()) {
            return Err(format!(
                "{} blocks in use but running requests hold only {referenced}",
                self.kv.num_used()
            ));
        }
        Ok(())
    }
}
