//! Which vector instructions the CPU kernels run with, chosen once at run time: AVX-512
//! (sixteen `f32` lanes), AVX2 with FMA (eight), or baseline x86-64. Each hot kernel is
//! compiled once per level from one body (`#[target_feature]` on a thin wrapper, the body
//! `#[inline(always)]`), so the levels do the same arithmetic: AVX-512 and AVX2 give
//! bit-identical results (both fuse exactly where the body asks for `mul_add`, and no
//! reduction depends on the vector width), which `tests/engine/cpu.rs` checks.
//!
//! [`limit`] caps the level for the whole process (tests compare the levels with it;
//! `bench --simd` measures them).

use std::sync::atomic::{AtomicU8, Ordering};

/// A level of vector instructions, from the least to the most capable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Simd {
    /// Baseline x86-64 (SSE2), or any other architecture: what the compiler makes of it.
    Baseline = 0,
    /// AVX2 with FMA: eight `f32` lanes.
    Avx2 = 1,
    /// AVX-512 (F, VL, BW, DQ) with AVX2 and FMA: sixteen `f32` lanes.
    Avx512 = 2,
}

impl Simd {
    /// Its name, as `bench` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Simd::Baseline => "baseline",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }

    fn from_u8(v: u8) -> Simd {
        match v {
            0 => Simd::Baseline,
            1 => Simd::Avx2,
            _ => Simd::Avx512,
        }
    }
}

/// The cap set by [`limit`] (`u8::MAX`: none).
static CAP: AtomicU8 = AtomicU8::new(u8::MAX);

/// The most capable level this CPU runs.
pub fn available() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f")
            && has!("avx512vl")
            && has!("avx512bw")
            && has!("avx512dq")
            && has!("avx2")
            && has!("fma")
        {
            return Simd::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Simd::Avx2;
        }
    }
    Simd::Baseline
}

/// The level the kernels use now: [`available`], capped by [`limit`].
pub fn level() -> Simd {
    available().min(Simd::from_u8(CAP.load(Ordering::Relaxed)))
}

/// Cap the kernels' level at `max` for the whole process (`None`: no cap), and return the
/// cap before. The results of AVX-512 and AVX2 are the same; baseline ones may differ in
/// the last bits (no fused multiply-add).
pub fn limit(max: Option<Simd>) -> Option<Simd> {
    let before = CAP.swap(max.map_or(u8::MAX, |s| s as u8), Ordering::Relaxed);
    (before != u8::MAX).then(|| Simd::from_u8(before))
}

/// Define `$name` dispatching to copies of the `#[inline(always)]` function `$body` compiled
/// for each [`Simd`] level; the copies are `$name` with `_avx512` and `_avx2` added. A body
/// that fuses multiply-adds names its unfused twin for the baseline with `else $base`.
macro_rules! multiversion {
    (@baseline $body:ident) => { $body };
    (@baseline $body:ident $base:ident) => { $base };
    ($(#[$m:meta])* $vis:vis fn $name:ident / $avx512:ident / $avx2:ident = $body:ident $(else $base:ident)? ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)?) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            match $crate::cpu::simd::level() {
                // SAFETY: `level` only answers a level whose features the CPU has.
                $crate::cpu::simd::Simd::Avx512 => return unsafe { $avx512($($arg),*) },
                // SAFETY: as above.
                $crate::cpu::simd::Simd::Avx2 => return unsafe { $avx2($($arg),*) },
                $crate::cpu::simd::Simd::Baseline => {}
            }
            $crate::cpu::simd::multiversion!(@baseline $body $($base)?)($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
        fn $avx512($($arg: $ty),*) $(-> $ret)? {
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx2($($arg: $ty),*) $(-> $ret)? {
            $body($($arg),*)
        }
    };
}
pub(crate) use multiversion;
