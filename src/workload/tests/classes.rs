//! Request classes: fractions, priorities, per-class lengths and prefixes, per-class metrics.

use super::{config, drain};
use crate::workload::Workload;

const TWO: &str = r#"
arrival_pattern = "poisson"
arrival_rate = 50.0
num_requests = 4000
output_len_dist = { type = "fixed", value = 20 }
input_len_dist = { type = "fixed", value = 50 }

[[workload.classes]]
name = "chat"
fraction = 0.75
priority = 0
shared_prefix_tokens = 128

[[workload.classes]]
name = "batch"
fraction = 0.25
priority = 5
input_len_dist = { type = "fixed", value = 300 }
"#;

#[test]
fn classes_take_their_fractions_priorities_and_lengths() {
    let c = config(TWO);
    let requests = drain(&mut Workload::new(&c, None).unwrap());
    let chat: Vec<_> = requests.iter().filter(|r| r.class == 0).collect();
    let batch: Vec<_> = requests.iter().filter(|r| r.class == 1).collect();
    assert_eq!(chat.len() + batch.len(), 4000);
    // 3000 expected, binomial standard deviation 27: within 4 of them.
    assert!((chat.len() as f64 - 3000.0).abs() < 110.0, "{}", chat.len());
    assert!(chat
        .iter()
        .all(|r| r.priority == 0 && r.prompt_len == 128 + 50));
    assert!(
        chat.iter().all(|r| r.dataset_index == Some(0)),
        "the class's prefix"
    );
    assert!(batch.iter().all(|r| r.priority == 5 && r.prompt_len == 300));
    assert!(batch.iter().all(|r| r.dataset_index.is_none()));
    assert!(requests.iter().all(|r| r.output_len == 20));
}

#[test]
fn each_class_reports_its_own_latencies() {
    let c = config(TWO);
    let s = crate::Simulator::new(&c).unwrap().run().unwrap();
    assert_eq!(s.classes.len(), 2);
    assert_eq!(s.classes[0].name, "chat");
    assert_eq!(
        s.classes[0].requests_completed + s.classes[1].requests_completed,
        s.requests_completed
    );
    // Chat prompts hit their shared prefix (8 blocks of 16) after the first.
    assert!(s.prefix_cache_hits >= 128 * (s.classes[0].requests_completed - 1));
    // Per-class counts add up to the run's distribution.
    assert_eq!(
        s.classes[0].ttft_ms.count + s.classes[1].ttft_ms.count,
        s.ttft_ms.count
    );
    let json = s.to_json();
    assert_eq!(json["classes"][1]["name"], "batch");
    assert!(json["classes"][1]["ttft_ms"]["p99"].is_number());
}

#[test]
fn class_fractions_must_sum_to_one() {
    let text = crate::testing::toy_text(&TWO.replace("fraction = 0.25", "fraction = 0.2"));
    let e = crate::Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        e.contains("the fractions sum to 0.95 (0.75 + 0.2), not 1"),
        "{e}"
    );
    let text = crate::testing::toy_text(&TWO.replace("name = \"batch\"", "name = \"chat\""));
    let e = crate::Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        e.contains("workload.classes[1].name = \"chat\" is used by two classes"),
        "{e}"
    );
}
