use super::*;

#[test]
fn a_run_past_the_request_limit_stops_with_an_error() {
    // Closed loop bounded by duration alone: validation cannot count its requests.
    let config = crate::testing::toy_config(
        "arrival_pattern = \"closed_loop\"\nnum_concurrent_users = 4\nduration_secs = 1e6\n\
         input_len_dist = { type = \"fixed\", value = 10 }\n\
         output_len_dist = { type = \"fixed\", value = 2 }",
    );
    let mut sim = Simulator::new(&config).unwrap();
    sim.workload.set_max_requests(50);
    let err = sim.run().unwrap_err().to_string();
    assert!(err.contains("limit of 50 requests per run"), "{err}");
    assert!(err.contains("duration_secs"), "{err}");

    // At the limit exactly, the run completes.
    let mut config = config;
    config.workload.num_requests = Some(50);
    let mut sim = Simulator::new(&config).unwrap();
    sim.workload.set_max_requests(50);
    assert_eq!(sim.run().unwrap().requests_completed, 50);
}
