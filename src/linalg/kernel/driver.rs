//! The loop nest of the module doc (BLIS, minus the A packing): column blocks of NC, depth blocks of
//! KC (β for the first, then 1; a last block of at most KC/4 merged into the one before), B packed into
//! panels, A read in place by MR-row slivers, `C ← α·A·B + β·C` tile by tile; partial tiles through a
//! zero-padded sliver of A and a full tile of C copied in and back.

use super::micro::MAX_TILE;
use super::pack::pack_panel;
use super::Micro;
use crate::linalg::gemm::Product;
use crate::linalg::Real;

/// The depth blocks of a product of depth `k`, `(pc, kc, β)`: blocks of KC from pc = 0, a last block of
/// at most KC/4 merged into the one before (k = 257 is one block, not two), with the product's β for
/// the first block and 1 for the others (they add to what the first wrote). Every kernel loop takes its
/// blocks from here, so each element of C sees the same FMA chain whichever kernel computes it.
pub(super) fn depth_blocks<T: Real>(
    mk: &Micro<T>,
    k: usize,
    beta: T,
) -> impl Iterator<Item = (usize, usize, T)> {
    let full = mk.kc;
    let mut pc = 0;
    std::iter::from_fn(move || {
        (pc < k).then(|| {
            let kc = if k - pc <= full + full / 4 {
                k - pc
            } else {
                full
            };
            let block = (pc, kc, if pc == 0 { beta } else { T::ONE });
            pc += kc;
            block
        })
    })
}

/// The loop nest of the module doc.
///
/// # Safety
/// As [`gemm_own`](super::gemm_own); `bpack` holds 1.25·KC·NC and `asliver` 1.25·MR·KC elements.
pub(super) unsafe fn driver<T: Real>(
    mk: &Micro<T>,
    p: Product<T>,
    bpack: &mut [T],
    asliver: &mut [T],
) {
    let Product {
        m,
        k,
        n,
        alpha,
        beta,
        ..
    } = p;
    let ((a, rsa, csa), (b, rsb, csb), (c, rsc, csc)) = (p.a.parts(), p.b.parts(), p.c.parts());
    let (mr, nr) = (mk.mr, mk.nr);
    let mut tile = [T::ZERO; MAX_TILE];
    for jc in (0..n).step_by(mk.nc) {
        let nc = mk.nc.min(n - jc);
        for (pc, kc, beta) in depth_blocks(mk, k, beta) {
            // B[pc.., jc..] read in place when its columns are contiguous and its rows do not all fall
            // into the same few L1 sets (a row stride of a multiple of 4 KiB would); else packed panel by
            // panel. The last, partial panel is always packed, zero-padded to NR.
            let direct = csb == 1 && !(rsb.unsigned_abs() * T::BYTES).is_multiple_of(4096);
            for jr in (0..nc).step_by(nr) {
                let w = nr.min(nc - jr);
                if direct && w == nr {
                    continue;
                }
                let panel = &mut bpack[jr * kc..(jr + nr) * kc];
                // safety (pointer arithmetic): row pc < k, column jc + jr < n.
                let src = unsafe { b.offset(pc as isize * rsb + (jc + jr) as isize * csb) };
                if w == nr && rsb == 1 && (nr - 1) * csb.unsigned_abs() <= i32::MAX as usize {
                    // safety: the kc×NR block at `src` lies inside B; offsets checked just above.
                    unsafe { (mk.pack_t)(panel.as_mut_ptr(), src, csb, kc) };
                } else {
                    // safety: the kc×w block at `src` lies inside B.
                    unsafe { pack_panel(panel, src, rsb, csb, kc, w, nr) };
                }
            }
            for ir in (0..m).step_by(mr) {
                let h = mr.min(m - ir);
                // safety (pointer arithmetic): row ir < m, column pc < k.
                let (mut ap, mut ars, mut acs) = (
                    unsafe { a.offset(ir as isize * rsa + pc as isize * csa) },
                    rsa,
                    csa,
                );
                if h < mr {
                    for p in 0..kc {
                        for i in 0..mr {
                            asliver[p * mr + i] = if i < h {
                                // safety: row ir + i < m, column pc + p < k: inside A.
                                unsafe { *ap.offset(i as isize * rsa + p as isize * csa) }
                            } else {
                                T::ZERO
                            };
                        }
                    }
                    (ap, ars, acs) = (asliver.as_ptr(), 1, mr as isize);
                }
                for jr in (0..nc).step_by(nr) {
                    let w = nr.min(nc - jr);
                    let (bp, brs) = if direct && w == nr {
                        // safety (pointer arithmetic): row pc < k, column jc + jr < n.
                        (
                            unsafe { b.offset(pc as isize * rsb + (jc + jr) as isize) },
                            rsb,
                        )
                    } else {
                        (bpack[jr * kc..].as_ptr(), nr as isize)
                    };
                    // A panel at most half full needs only the one-vector kernel.
                    let (kern, kw) = if w <= nr / 2 {
                        (mk.half, nr / 2)
                    } else {
                        (mk.kernel, nr)
                    };
                    // safety (pointer arithmetic): row ir < m, column jc + jr < n.
                    let cp = unsafe { c.offset(ir as isize * rsc + (jc + jr) as isize * csc) };
                    if h == mr && w == kw && csc == 1 {
                        // safety: full tile inside C; A and B slivers inside their operands or buffers.
                        unsafe { kern(kc, alpha, ap, ars, acs, bp, brs, beta, cp, rsc) };
                        continue;
                    }
                    // Partial tile (or strided C): through a full tile, same arithmetic.
                    let t = &mut tile[..mr * kw];
                    if beta != T::ZERO {
                        for i in 0..mr {
                            for j in 0..kw {
                                t[i * kw + j] = if i < h && j < w {
                                    // safety: (ir + i, jc + jr + j) inside C.
                                    unsafe { *cp.offset(i as isize * rsc + j as isize * csc) }
                                } else {
                                    T::ZERO
                                };
                            }
                        }
                    }
                    // safety: `t` is a full MR×kw tile (row stride kw); A and B as above.
                    unsafe {
                        kern(
                            kc,
                            alpha,
                            ap,
                            ars,
                            acs,
                            bp,
                            brs,
                            beta,
                            t.as_mut_ptr(),
                            kw as isize,
                        )
                    };
                    for i in 0..h {
                        for j in 0..w {
                            // safety: (ir + i, jc + jr + j) inside C.
                            unsafe {
                                *cp.offset(i as isize * rsc + j as isize * csc) = t[i * kw + j]
                            };
                        }
                    }
                }
            }
        }
    }
}
