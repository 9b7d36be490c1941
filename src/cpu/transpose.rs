//! Matrix transposes for the convolutions' changes of layout (channels first ↔ channels
//! last, the product's rows ↔ the output's planes), in 8 × 8 blocks: with AVX2 each block
//! is eight loads, 24 shuffles and eight stores; otherwise each block is copied element by
//! element, reading rows and writing rows within the block. Element by element over the
//! whole matrix, every store of a row went to another cache line, and these changes of
//! layout took about a fifth of a convolutional training step (`perf`).
//!
//! A transpose only moves values, so every level gives the same bits.

/// The side of a block.
const B: usize = 8;

/// `x` (`rows × cols`, row-major) transposed into `out` (`cols × rows`, row-major).
///
/// # Panics
/// When `x` or `out` holds fewer than `rows · cols` values.
pub fn transpose(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    let n = rows * cols;
    assert!(
        x.len() >= n && out.len() >= n,
        "transpose of {rows} × {cols}: {} values in, room for {}",
        x.len(),
        out.len()
    );
    #[cfg(target_arch = "x86_64")]
    if super::simd::level() >= super::simd::Simd::Avx2 {
        // SAFETY: `level` only answers AVX2 or above when the CPU has AVX2; the sizes were
        // checked above.
        unsafe { transpose_avx2(x, rows, cols, out) };
        return;
    }
    transpose_blocks(x, rows, cols, out);
}

/// [`transpose`] with the blocks copied element by element.
fn transpose_blocks(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    for r0 in (0..rows).step_by(B) {
        let r1 = (r0 + B).min(rows);
        for c0 in (0..cols).step_by(B) {
            let c1 = (c0 + B).min(cols);
            for c in c0..c1 {
                let dst = &mut out[c * rows + r0..c * rows + r1];
                for (d, r) in dst.iter_mut().zip(r0..r1) {
                    *d = x[r * cols + c];
                }
            }
        }
    }
}

/// [`transpose`] with AVX2 shuffles for the whole blocks and element by element for the
/// edges.
///
/// # Safety
/// The CPU must have AVX2, and `x` and `out` must hold `rows · cols` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_avx2(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    let (full_r, full_c) = (rows / B * B, cols / B * B);
    for r0 in (0..full_r).step_by(B) {
        for c0 in (0..full_c).step_by(B) {
            // SAFETY: rows r0..r0 + 8 and columns c0..c0 + 8 lie inside `x` (`rows × cols`),
            // and the block's place in `out` (`cols × rows`) too.
            unsafe {
                block_avx2(
                    x.as_ptr().add(r0 * cols + c0),
                    cols,
                    out.as_mut_ptr().add(c0 * rows + r0),
                    rows,
                );
            }
        }
    }
    // The edges: the last columns of every row, then the last rows.
    for r in 0..full_r {
        for c in full_c..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    for c in 0..cols {
        for r in full_r..rows {
            out[c * rows + r] = x[r * cols + c];
        }
    }
}

/// Transpose the 8 × 8 block at `src` (row stride `ss`) into `dst` (row stride `ds`).
///
/// # Safety
/// The CPU must have AVX2; eight rows of eight values from `src` and `dst` must be in
/// bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn block_avx2(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
    use std::arch::x86_64::{
        _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
        _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };
    // SAFETY: the caller promises eight rows of eight values at both ends.
    unsafe {
        let r0 = _mm256_loadu_ps(src);
        let r1 = _mm256_loadu_ps(src.add(ss));
        let r2 = _mm256_loadu_ps(src.add(2 * ss));
        let r3 = _mm256_loadu_ps(src.add(3 * ss));
        let r4 = _mm256_loadu_ps(src.add(4 * ss));
        let r5 = _mm256_loadu_ps(src.add(5 * ss));
        let r6 = _mm256_loadu_ps(src.add(6 * ss));
        let r7 = _mm256_loadu_ps(src.add(7 * ss));
        // Rows a, b, …: [a0 b0 a1 b1 | a4 b4 a5 b5] and [a2 b2 a3 b3 | a6 b6 a7 b7], …
        let t0 = _mm256_unpacklo_ps(r0, r1);
        let t1 = _mm256_unpackhi_ps(r0, r1);
        let t2 = _mm256_unpacklo_ps(r2, r3);
        let t3 = _mm256_unpackhi_ps(r2, r3);
        let t4 = _mm256_unpacklo_ps(r4, r5);
        let t5 = _mm256_unpackhi_ps(r4, r5);
        let t6 = _mm256_unpacklo_ps(r6, r7);
        let t7 = _mm256_unpackhi_ps(r6, r7);
        // [a0 b0 c0 d0 | a4 b4 c4 d4], [a1 b1 c1 d1 | a5 …], [a2 …], [a3 …], then e–h.
        let s = [
            _mm256_shuffle_ps::<0x44>(t0, t2),
            _mm256_shuffle_ps::<0xEE>(t0, t2),
            _mm256_shuffle_ps::<0x44>(t1, t3),
            _mm256_shuffle_ps::<0xEE>(t1, t3),
            _mm256_shuffle_ps::<0x44>(t4, t6),
            _mm256_shuffle_ps::<0xEE>(t4, t6),
            _mm256_shuffle_ps::<0x44>(t5, t7),
            _mm256_shuffle_ps::<0xEE>(t5, t7),
        ];
        // Column k: the low halves of s[k] and s[k + 4]; column k + 4: their high halves.
        for k in 0..4 {
            _mm256_storeu_ps(
                dst.add(k * ds),
                _mm256_permute2f128_ps::<0x20>(s[k], s[k + 4]),
            );
            _mm256_storeu_ps(
                dst.add((k + 4) * ds),
                _mm256_permute2f128_ps::<0x31>(s[k], s[k + 4]),
            );
        }
    }
}
