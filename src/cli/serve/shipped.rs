//! The shipped configs the page can start from, embedded in the binary (so the server reads
//! no file for them): those of configs/ and examples/seed-era/ that name no file. The trace
//! and dataset configs read files, which the web interface never does; run them with
//! `inference-lab -c`.

/// One shipped config: its path in the repository, and its text.
#[derive(Debug)]
pub struct Shipped {
    pub name: &'static str,
    pub text: &'static str,
}

/// What the page starts from, and what Reset to defaults returns to.
pub const DEFAULT: &str = "configs/chat-llama3-8b-h100.toml";

pub const ALL: &[Shipped] = &[
    Shipped {
        name: "configs/blog-llama3-70b-h100-tp2.toml",
        text: include_str!("../../../configs/blog-llama3-70b-h100-tp2.toml"),
    },
    Shipped {
        name: "configs/chat-llama3-8b-h100-calibrated.toml",
        text: include_str!("../../../configs/chat-llama3-8b-h100-calibrated.toml"),
    },
    Shipped {
        name: "configs/chat-llama3-8b-h100.toml",
        text: include_str!("../../../configs/chat-llama3-8b-h100.toml"),
    },
    Shipped {
        name: "configs/debug-closed-loop.toml",
        text: include_str!("../../../configs/debug-closed-loop.toml"),
    },
    Shipped {
        name: "configs/fleet-llama3-8b-h100x8.toml",
        text: include_str!("../../../configs/fleet-llama3-8b-h100x8.toml"),
    },
    Shipped {
        name: "configs/moe-qwen3-30b-a3b-h100.toml",
        text: include_str!("../../../configs/moe-qwen3-30b-a3b-h100.toml"),
    },
    Shipped {
        name: "configs/pd-llama3-8b-h100x8.toml",
        text: include_str!("../../../configs/pd-llama3-8b-h100x8.toml"),
    },
    Shipped {
        name: "examples/seed-era/config.toml",
        text: include_str!("../../../examples/seed-era/config.toml"),
    },
    Shipped {
        name: "examples/seed-era/long_benchmark.toml",
        text: include_str!("../../../examples/seed-era/long_benchmark.toml"),
    },
    Shipped {
        name: "examples/seed-era/quick_test.toml",
        text: include_str!("../../../examples/seed-era/quick_test.toml"),
    },
    Shipped {
        name: "examples/seed-era/qwen3_30b_a3b.toml",
        text: include_str!("../../../examples/seed-era/qwen3_30b_a3b.toml"),
    },
    Shipped {
        name: "examples/seed-era/qwen3_30b_preemption_free.toml",
        text: include_str!("../../../examples/seed-era/qwen3_30b_preemption_free.toml"),
    },
    Shipped {
        name: "examples/seed-era/test_blog.toml",
        text: include_str!("../../../examples/seed-era/test_blog.toml"),
    },
];

impl Shipped {
    /// The config's opening comment up to its first full stop (at most 160 characters),
    /// its description in the menu.
    pub fn title(&self) -> String {
        let comment: Vec<&str> = self
            .text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim())
            .collect();
        let comment = comment.join(" ");
        let sentence = match comment.find(". ") {
            Some(end) => &comment[..=end],
            None => comment.as_str(),
        };
        if sentence.chars().count() <= 160 {
            return sentence.to_string();
        }
        let cut: String = sentence.chars().take(157).collect();
        format!("{}...", cut.trim_end())
    }
}

pub fn find(name: &str) -> Option<&'static Shipped> {
    ALL.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every config of configs/ and examples/seed-era/ is embedded unless it names a file.
    #[test]
    fn every_shipped_config_without_files_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["configs", "examples/seed-era"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "toml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let names_file = ["dataset_path", "trace_path"]
                    .iter()
                    .any(|k| text.contains(k));
                let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
                assert_eq!(find(&name).is_some(), !names_file, "{name}");
            }
        }
        assert!(find(DEFAULT).is_some());
        let chat = find("configs/chat-llama3-8b-h100.toml").unwrap().title();
        assert!(chat.starts_with("A chat service: Llama-3.1-8B"), "{chat}");
        assert!(chat.ends_with("tokens)."), "{chat}");
    }
}
