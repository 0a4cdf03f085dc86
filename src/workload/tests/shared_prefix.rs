//! Synthetic shared prefixes: the prompt is the group's prefix plus a sampled prompt of its
//! own, arrivals and lengths are unchanged, and the prefix cache finds the prefixes.

use super::{config, drain, LENGTHS};

/// Lengths that fit the toy's 1000-token context even after a 256-token prefix.
const SHORT: &str = "input_len_dist = { type = \"uniform\", min = 10, max = 100 }\n\
                     output_len_dist = { type = \"uniform\", min = 1, max = 50 }";
use crate::workload::Workload;

const SPACED: &str = "arrival_pattern = \"fixed_rate\"\narrival_rate = 0.01\nnum_requests = 10";

#[test]
fn a_prompt_is_its_groups_prefix_plus_its_own_tokens() {
    let plain = config(&format!("{SPACED}\n{SHORT}"));
    let shared = config(&format!(
        "{SPACED}\nshared_prefix_tokens = 256\nnum_prefix_groups = 3\n{SHORT}"
    ));
    let a = drain(&mut Workload::new(&plain, None).unwrap());
    let b = drain(&mut Workload::new(&shared, None).unwrap());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.arrival, y.arrival, "common random numbers");
        assert_eq!(x.output_len, y.output_len);
        assert_eq!(y.prompt_len, x.prompt_len + 256, "{x:?} {y:?}");
        assert!(y.dataset_index.is_some_and(|g| g < 3));
        assert_eq!(x.dataset_index, None);
    }
    let groups: std::collections::BTreeSet<_> = b.iter().map(|r| r.dataset_index).collect();
    assert!(
        groups.len() > 1,
        "requests spread over the groups: {groups:?}"
    );
}

/// Ten requests, each done before the next arrives: every request after the first of its
/// group finds its group's 256-token prefix (16 blocks of 16) in the cache.
#[test]
fn the_prefix_cache_finds_each_groups_prefix() {
    for groups in [1u32, 3] {
        let c = config(&format!(
            "{SPACED}\nshared_prefix_tokens = 256\nnum_prefix_groups = {groups}\n{LENGTHS}"
        ));
        let requests = drain(&mut Workload::new(&c, None).unwrap());
        let distinct: std::collections::BTreeSet<_> =
            requests.iter().map(|r| r.dataset_index).collect();
        let summary = crate::Simulator::new(&c).unwrap().run().unwrap();
        let expected = (10 - distinct.len() as u64) * 256;
        assert_eq!(summary.prefix_cache_hits, expected, "{groups} groups");
    }
}

#[test]
fn shared_prefixes_must_leave_room_and_not_meet_a_dataset() {
    let text =
        crate::testing::toy_text(&format!("{SPACED}\nshared_prefix_tokens = 999\n{LENGTHS}"));
    let e = crate::Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        e.contains("workload.shared_prefix_tokens = 999 leaves no room"),
        "{e}"
    );
    let text = crate::testing::toy_text(&format!("{SPACED}\nnum_prefix_groups = 0\n{LENGTHS}"));
    let e = crate::Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        e.contains("workload.num_prefix_groups = 0 is invalid"),
        "{e}"
    );
}
