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
