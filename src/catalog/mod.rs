//! The catalogs: GPU datasheets (`hardware.preset`) and HuggingFace model configs
//! (`model.hf_config`), expanded into a config's tables before it is parsed.

pub mod expand;
pub mod gpus;
pub mod hf;
