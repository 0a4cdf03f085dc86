//! HuggingFace config.json import (placeholder: being written).
