//! The CPU linear layer's sparse and dense paths side by side: forward and backward of a
//! 784 → 400 layer (the bench model's first) on 64 rows of inputs of rising density, as a
//! training lane runs it. Prints milliseconds per pass, best of five runs of 200 passes.
//!
//! `cargo bench --bench linear` (on all of rayon's threads; `RAYON_NUM_THREADS=1` for one).

use burn::nn::LinearConfig;
use burn::tensor::{Device, Tensor, TensorData};
use latent_explorer::cpu::{SPARSE_MAX_DENSITY, linear_with_density};

fn main() {
    let ad = Device::flex().autodiff();
    let layer = LinearConfig::new(784, 400).init(&ad);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    println!(
        "threads {}, sparse path taken at density <= {SPARSE_MAX_DENSITY}",
        rayon::current_num_threads()
    );
    println!("density  sparse ms  dense ms");
    for density in [0.05, 0.1, 0.2, 0.3, 0.4, 0.5] {
        let x: Vec<f32> = (0..64 * 784)
            .map(|_| {
                if uniform() < density {
                    uniform() + 1e-3
                } else {
                    0.0
                }
            })
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [64, 784]), &ad);
        let time = |max_density: f32| {
            (0..5)
                .map(|_| {
                    let start = std::time::Instant::now();
                    for _ in 0..200 {
                        let y = linear_with_density(&layer, x.clone(), max_density);
                        let _ = y.sum().backward();
                    }
                    start.elapsed().as_secs_f64() / 200.0 * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        };
        println!("{density:>7}  {:>9.3}  {:>8.3}", time(1.0), time(0.0));
    }
}
