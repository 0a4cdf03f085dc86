use super::*;

fn cost(time: f64) -> StepCost {
    StepCost {
        flops: 1e12,
        bytes: 1e9,
        time,
        flops_util: 0.5,
        bandwidth_util: 0.5,
    }
}

#[test]
fn a_step_must_take_finite_positive_time_on_a_finite_clock() {
    assert!(check_step(&cost(1e-3), 5.0).is_ok());
    for bad in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
        let err = check_step(&cost(bad), 5.0).unwrap_err();
        assert!(err.message().contains("was priced at"), "{err}");
    }
    let err = check_step(&cost(1e-3), f64::INFINITY).unwrap_err();
    assert!(err.message().contains("clock overflowed"), "{err}");
}

mod priority_preemption {
    use crate::config::Policy;
    use crate::engine::{Engine, Observer};
    use crate::workload::RequestSpec;

    #[derive(Default)]
    struct Preemptions(u32);
    impl Observer for Preemptions {
        fn preemption(&mut self, _: &RequestSpec, _: f64) {
            self.0 += 1;
        }
    }

    fn request(id: u64, arrival: f64, prompt_len: u32, priority: i64) -> RequestSpec {
        RequestSpec {
            id,
            arrival,
            prompt_len,
            output_len: 100,
            priority,
            dataset_index: None,
            class: 0,
            session: None,
        }
    }

    /// Request 0 (priority 5) runs first; request 1 (priority 0) joins. When the cache runs
    /// out as they decode, the victim is request 0, although it comes first in the running
    /// batch and was already scheduled in that step (vLLM picks over all running requests).
    #[test]
    fn the_lowest_priority_running_request_is_the_victim_even_if_scheduled_first() {
        let mut c = crate::testing::hand_toy();
        c.scheduler.policy = Policy::Priority;
        c.scheduler.enable_prefix_caching = false;
        c.simulation.step_by_step = true;
        // 20 blocks of 16 tokens: the two prompts (150 and 140 tokens) take 19.
        c.hardware.kv_cache_capacity = Some(20.0 * 16.0 * c.kv_bytes_per_token());
        let mut engine = Engine::new(&c, None).unwrap();
        let mut obs = Preemptions::default();
        engine.add_request(request(0, 0.0, 150, 5), true);
        engine.step(None, &mut obs).unwrap();
        let now = engine.now();
        engine.add_request(request(1, now, 140, 0), true);
        while obs.0 == 0 {
            engine.step(None, &mut obs).unwrap();
            engine.check_invariants().unwrap();
        }
        let running: Vec<u64> = engine.running().map(|(id, _, _)| id).collect();
        assert_eq!(running, [1], "request 0 was preempted, request 1 runs on");
        assert_eq!(engine.num_waiting(), 1);
    }
}
