//! Block-ReLU against the plaintext Block-ReLU for random shapes and random patch sizes,
//! including ragged edge patches, identity and zero channels.

use patchwork_core::party::Error;
use patchwork_core::patch::{block_relu_in_place, PatchSize};
use patchwork_core::protocol::brelu::{block_relu, MapShape, PatchPlan};
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::protocol::sign::SignProtocol;
use patchwork_test_support::shares::run_shared;
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
    fn secure_block_relu_matches_plaintext((shape, sizes, x) in case(), seed in any::<u64>(), fss in any::<bool>()) {
        let sign = if fss { SignProtocol::Fss } else { SignProtocol::PrivateCompare };
        let secret: Vec<u64> = x.iter().map(|&v| v as u64).collect();
        let (out, traffic) = run_shared(&secret, seed, |p, a| { p.set_sign_protocol(sign); block_relu(p, a, shape, &sizes, Comparison::Exact).unwrap() });
        let mut expected = x.clone();
        block_relu_in_place(&mut expected, shape.height, shape.width, &sizes, |s| s >= 0);
        let expected: Vec<u64> = expected.iter().map(|&v| v as u64).collect();
        prop_assert_eq!(out, expected);
        let any_block = sizes.iter().any(|s| matches!(s, PatchSize::Block { .. }));
        let rounds = if !any_block { 0 } else if fss { 2 } else { 3 };
        prop_assert_eq!(traffic.rounds, rounds);
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

/// Approximate DReLU on patch sums: the layer's sums are compared in a window widened by the
/// largest patch (`Comparison::for_patch`), so sums far larger than a pixel's window decide
/// exactly as long as every pixel fits the pixel window and the sum is away from zero.
fn signed_patch_case() -> impl Strategy<Value = (MapShape, Vec<PatchSize>, Vec<i64>)> {
    (1usize..3, 2usize..9, 2usize..9).prop_flat_map(|(c, h, w)| {
        let shape = MapShape {
            channels: c,
            height: h,
            width: w,
        };
        (
            Just(shape),
            proptest::collection::vec(patch_strategy(h, w), c),
            // Magnitudes from 2^14 to 2^17: inside the pixel window 2^(15+5) of (43, 5), while
            // the sums of large patches are not (without the moved window they would wrap).
            proptest::collection::vec((any::<bool>(), 16384i64..131072), c * h * w).prop_map(|v| {
                v.into_iter()
                    .map(|(neg, m)| if neg { -m } else { m })
                    .collect()
            }),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn approximate_block_relu_decides_large_patch_sums_exactly((shape, sizes, x) in signed_patch_case(), seed in any::<u64>(), fss in any::<bool>()) {
        let sign = if fss { SignProtocol::Fss } else { SignProtocol::PrivateCompare };
        // Make every patch's pixels share a sign so that no sum is near zero.
        let mut x = x;
        let hw = shape.height * shape.width;
        for (c, ps) in sizes.iter().enumerate() {
            if let PatchSize::Block { h, w } = *ps {
                for i in 0..hw {
                    let (py, px) = ((i / shape.width) / h as usize, (i % shape.width) / w as usize);
                    let positive = (py + px + c) % 2 == 0;
                    x[c * hw + i] = if positive { x[c * hw + i].abs() } else { -x[c * hw + i].abs() };
                }
            }
        }
        let secret: Vec<u64> = x.iter().map(|&v| v as u64).collect();
        let (out, _) = run_shared(&secret, seed, |p, a| { p.set_sign_protocol(sign); block_relu(p, a, shape, &sizes, Comparison::PAPER).unwrap() });
        let mut expected = x.clone();
        block_relu_in_place(&mut expected, shape.height, shape.width, &sizes, |s| s >= 0);
        let expected: Vec<u64> = expected.iter().map(|&v| v as u64).collect();
        prop_assert_eq!(out, expected);
    }
}

#[test]
fn patch_windows_move_up_with_the_area() {
    assert_eq!(Comparison::PAPER.for_patch(1), Comparison::PAPER);
    assert_eq!(
        Comparison::PAPER.for_patch(4),
        Comparison::Approx {
            k_msb: 41,
            k_lsb: 5
        }
    );
    assert_eq!(
        Comparison::PAPER.for_patch(5),
        Comparison::Approx {
            k_msb: 40,
            k_lsb: 5
        }
    );
    assert_eq!(
        Comparison::PAPER.for_patch(64),
        Comparison::Approx {
            k_msb: 37,
            k_lsb: 5
        }
    );
    assert_eq!(Comparison::Exact.for_patch(64), Comparison::Exact);
    assert_eq!(Comparison::PAPER.for_patch(64).width(), 22);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The compact patch plan against counting: every pixel of a block channel once, in map
    /// order; a patch is one cell of one channel; `patches` distinct patches, numbered from 0;
    /// `max_area` the largest patch counted.
    #[test]
    fn patch_plan_covers_each_block_pixel_once((shape, sizes, _) in case()) {
        let plan = PatchPlan::new(shape, &sizes);
        let hw = shape.height * shape.width;
        let expected: Vec<usize> = (0..shape.len())
            .filter(|&pix| matches!(sizes[pix / hw], PatchSize::Block { .. }))
            .collect();
        let mut pixels: Vec<(usize, usize)> = Vec::new();
        plan.for_each_pixel(|pix, k| pixels.push((pix, k)));
        prop_assert_eq!(pixels.iter().map(|&(pix, _)| pix).collect::<Vec<_>>(), expected);
        prop_assert_eq!(plan.pixel_count(), pixels.len());
        let mut cell = vec![None; plan.patches];
        let mut area = vec![0usize; plan.patches];
        for &(pix, k) in &pixels {
            let (c, y, x) = (pix / hw, pix % hw / shape.width, pix % shape.width);
            let PatchSize::Block { h, w } = sizes[c] else { unreachable!() };
            let here = (c, y / h as usize, x / w as usize);
            prop_assert!(*cell[k].get_or_insert(here) == here, "patch {} spans cells", k);
            area[k] += 1;
        }
        prop_assert!(cell.iter().all(Option::is_some), "patch numbers have gaps");
        prop_assert_eq!(plan.max_area(), area.into_iter().max().unwrap_or(1));
    }
}
