//! GPU presets (placeholder: being written).
