//! Block-ReLU against the plaintext Block-ReLU for random shapes and random patch sizes,
//! including ragged edge patches, identity and zero channels.
mod common;

use common::run_shared;
use patchwork_core::party::Error;
use patchwork_core::patch::{block_relu_in_place, PatchSize};
use patchwork_core::protocol::brelu::{block_relu, MapShape};
use patchwork_core::protocol::drelu::Comparison;
use proptest::prelude::*;

fn patch_strategy(h: usize, w: usize) -> impl Strategy<Value = PatchSize> {
    prop_oneof![
        1 => Just(PatchSize::Identity),
        1 => Just(PatchSize::Zero),
        6 => (1..=h as u16, 1..=w as u16).prop_map(|(h, w)| PatchSize::Block { h, w }),
    ]
}

fn case() -> impl Strategy<Value = (MapShape, Vec<PatchSize>, Vec<i64>)> {
    (1usize..4, 1usize..7, 1usize..7).prop_flat_map(|(c, h, w)| {
        let shape = MapShape {
            channels: c,
            height: h,
            width: w,
        };
        (
            Just(shape),
            proptest::collection::vec(patch_strategy(h, w), c),
            proptest::collection::vec(-(1i64 << 40)..(1i64 << 40), c * h * w),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn secure_block_relu_matches_plaintext((shape, sizes, x) in case(), seed in any::<u64>()) {
        let secret: Vec<u64> = x.iter().map(|&v| v as u64).collect();
        let (out, traffic) = run_shared(&secret, seed, |p, a| block_relu(p, a, shape, &sizes, Comparison::Exact).unwrap());
        let mut expected = x.clone();
        block_relu_in_place(&mut expected, shape.height, shape.width, &sizes, |s| s >= 0);
        let expected: Vec<u64> = expected.iter().map(|&v| v as u64).collect();
        prop_assert_eq!(out, expected);
        let any_block = sizes.iter().any(|s| matches!(s, PatchSize::Block { .. }));
        prop_assert_eq!(traffic.rounds, if any_block { 3 } else { 0 });
    }
}

#[test]
fn patch_larger_than_map_is_an_error_naming_the_channel() {
    let shape = MapShape {
        channels: 2,
        height: 3,
        width: 3,
    };
    let sizes = [PatchSize::RELU, PatchSize::Block { h: 4, w: 1 }];
    let (res, _) = patchwork_core::net::memory::run(1, |p| {
        block_relu(p, &[0; 18], shape, &sizes, Comparison::Exact)
    });
    for r in res {
        assert_eq!(
            r,
            Err(Error::PatchTooLarge {
                channel: 1,
                patch: [4, 1],
                height: 3,
                width: 3
            })
        );
    }
}
