//! What identifies a loaded dataset, so that runs of a sweep can share one.

use super::dataset::{self, Dataset};
use crate::config::Config;
use crate::{bail, Result};

/// What identifies a loaded dataset: runs whose configs give the same key can share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetKey {
    pub path: std::path::PathBuf,
    pub tokenizer: std::path::PathBuf,
    pub chat_template: String,
    pub base_dir: std::path::PathBuf,
    pub max_seq_len: u32,
    pub block_size: u32,
    /// Read as conversations, turn by turn (`[workload.sessions]`).
    pub turns: bool,
}

impl DatasetKey {
    /// The dataset a config replays, if it is in dataset mode. Errors if the tokenizer or the
    /// chat template is missing.
    pub fn of(config: &Config) -> Result<Option<DatasetKey>> {
        let Some(path) = config.dataset_path() else {
            return Ok(None);
        };
        let w = &config.workload;
        let Some(tokenizer) = &w.tokenizer else {
            bail!(
                "workload.dataset_path = {:?} selects dataset mode, which needs a tokenizer: \
                 --tokenizer FILE (a HuggingFace tokenizer.json) or workload.tokenizer",
                path.display().to_string()
            );
        };
        let Some(chat_template) = &w.chat_template else {
            bail!(
                "workload.dataset_path = {:?} selects dataset mode, which needs a chat template: \
                 --chat-template None|TEMPLATE|FILE or workload.chat_template",
                path.display().to_string()
            );
        };
        Ok(Some(DatasetKey {
            path,
            tokenizer: config.base_dir.join(tokenizer),
            chat_template: chat_template.clone(),
            base_dir: config.base_dir.clone(),
            max_seq_len: config.model.max_seq_len,
            block_size: config.scheduler.block_size,
            turns: w.sessions.is_some(),
        }))
    }

    /// Reads and tokenises the dataset (at most `limit` requests).
    pub fn load(&self, limit: Option<u64>) -> Result<Dataset> {
        let template = dataset::ChatTemplate::from_arg(&self.chat_template, &self.base_dir)?;
        dataset::load(&dataset::DatasetOptions {
            path: &self.path,
            tokenizer: &self.tokenizer,
            template: &template,
            max_seq_len: self.max_seq_len,
            block_size: self.block_size,
            limit,
            turns: self.turns,
        })
    }
}
