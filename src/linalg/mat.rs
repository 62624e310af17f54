//! Row-major matrices: the owned [`Mat`] and the borrowed views [`MatRef`] / [`MatMut`].
//!
//! A batch is a `B × d` matrix with one sample per row (SPEC §0). Views have unit column stride and a row
//! stride `rs ≥ cols`, so a view can be a range of rows or a block of columns (a strided sub-block) of a
//! larger matrix without copying. Transposition is never a copy: [`crate::linalg::gemm`] takes an
//! [`crate::linalg::Op`] per operand and swaps strides.

use super::Real;

/// An owned row-major `rows × cols` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Mat<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

/// A borrowed row-major view: element (i, j) is `data[i * rs + j]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
}

/// A mutable borrowed row-major view: element (i, j) is `data[i * rs + j]`.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    rs: usize,
}

#[inline]
fn needed_len(rows: usize, cols: usize, rs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + cols
    }
}

/// `rows`, `cols` and `shape` of [`Mat`] and of both views.
macro_rules! shape_methods {
    () => {
        /// Number of rows.
        #[inline]
        pub fn rows(&self) -> usize {
            self.rows
        }
        /// Number of columns.
        #[inline]
        pub fn cols(&self) -> usize {
            self.cols
        }
        /// (rows, cols)
        #[inline]
        pub fn shape(&self) -> (usize, usize) {
            (self.rows, self.cols)
        }
    };
}

impl<T: Real> Mat<T> {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Mat {
            rows,
            cols,
            data: vec![T::ZERO; rows * cols],
        }
    }

    /// Wraps a row-major buffer. Returns `None` when `data.len() != rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Option<Self> {
        (data.len() == rows * cols).then_some(Mat { rows, cols, data })
    }

    /// Builds the matrix with entries `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Mat { rows, cols, data }
    }

    /// The n×n identity.
    pub fn identity(n: usize) -> Self {
        Self::from_fn(n, n, |i, j| if i == j { T::ONE } else { T::ZERO })
    }

    shape_methods!();
    /// The row-major buffer.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }
    /// The row-major buffer, mutable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }
    /// Consumes the matrix into its row-major buffer.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }
    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// Row `i`, mutable.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// Element (i, j).
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        self.data[i * self.cols + j]
    }
    /// Sets element (i, j).
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: T) {
        self.data[i * self.cols + j] = v;
    }
    /// A view of the whole matrix.
    #[inline]
    pub fn view(&self) -> MatRef<'_, T> {
        MatRef {
            data: &self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.cols,
        }
    }
    /// A mutable view of the whole matrix.
    #[inline]
    pub fn view_mut(&mut self) -> MatMut<'_, T> {
        let (rows, cols) = (self.rows, self.cols);
        MatMut {
            data: &mut self.data,
            rows,
            cols,
            rs: cols,
        }
    }
    /// Changes the shape, keeping the allocation when it is large enough (workspace reuse).
    /// Contents are unspecified afterwards (zero-filled where the buffer grew).
    pub fn resize(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, T::ZERO);
    }
    /// Sets every element to `v`.
    pub fn fill(&mut self, v: T) {
        self.data.fill(v);
    }
    /// The transpose, as a new matrix (for tests and set-up code; hot paths use [`crate::linalg::Op::T`]).
    pub fn transpose(&self) -> Self {
        Self::from_fn(self.cols, self.rows, |i, j| self.get(j, i))
    }
    /// Converts the element type (through f64).
    pub fn cast<U: Real>(&self) -> Mat<U> {
        Mat {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&v| U::from_f64(v.to_f64())).collect(),
        }
    }
    /// Copies the listed rows, in order, into a new matrix.
    pub fn select_rows(&self, idx: &[usize]) -> Self {
        let mut out = Mat::zeros(idx.len(), self.cols);
        gather_rows(self.view(), idx, &mut out);
        out
    }
}

/// `out.row(r) ← src.row(idx[r])` for every r; `out` must be `idx.len() × src.cols()`.
pub fn gather_rows<T: Real>(src: MatRef<'_, T>, idx: &[usize], out: &mut Mat<T>) {
    assert_eq!(
        out.shape(),
        (idx.len(), src.cols()),
        "gather_rows: output shape"
    );
    for (r, &i) in idx.iter().enumerate() {
        out.row_mut(r).copy_from_slice(src.row(i));
    }
}

/// Where the block of rows `r0..r1` and columns `c0..c1` of a `rows × cols` view (row stride `rs`) over
/// `len` elements starts (clamped to `len` for an empty block at the end). Panics when out of bounds.
fn block_start(
    (rows, cols, rs): (usize, usize, usize),
    len: usize,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
) -> usize {
    assert!(r0 <= r1 && r1 <= rows, "rows_range out of bounds");
    assert!(c0 <= c1 && c1 <= cols, "block columns out of bounds");
    let start = (r0 * rs).min(len);
    start + c0.min(len - start)
}

/// The methods [`MatRef`] and [`MatMut`] share; they differ only in the mutability of the borrowed
/// slice `$slice`.
macro_rules! view_methods {
    ($slice:ty) => {
        /// A view of `data` as `rows × cols` with row stride `rs`. `None` if the buffer is too short or
        /// `rs < cols` (rows would overlap).
        pub fn new(data: $slice, rows: usize, cols: usize, rs: usize) -> Option<Self> {
            (rs >= cols && data.len() >= needed_len(rows, cols, rs)).then_some(Self {
                data,
                rows,
                cols,
                rs,
            })
        }
        /// A contiguous row-major view (`rs = cols`).
        pub fn from_slice(data: $slice, rows: usize, cols: usize) -> Option<Self> {
            Self::new(data, rows, cols, cols)
        }
        shape_methods!();
        /// Row stride.
        #[inline]
        pub fn row_stride(&self) -> usize {
            self.rs
        }
        /// Element (i, j).
        #[inline]
        pub fn get(&self, i: usize, j: usize) -> T {
            debug_assert!(i < self.rows && j < self.cols);
            self.data[i * self.rs + j]
        }
    };
}

impl<'a, T: Real> MatRef<'a, T> {
    view_methods!(&'a [T]);
    /// The underlying slice, starting at element (0, 0).
    #[inline]
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }
    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.rs..i * self.rs + self.cols]
    }
    /// Rows `r0..r1`.
    pub fn rows_range(&self, r0: usize, r1: usize) -> MatRef<'a, T> {
        self.block(r0, r1, 0, self.cols)
    }
    /// The strided block of rows `r0..r1` and columns `c0..c1`.
    pub fn block(&self, r0: usize, r1: usize, c0: usize, c1: usize) -> MatRef<'a, T> {
        let shape = (self.rows, self.cols, self.rs);
        let start = block_start(shape, self.data.len(), (r0, r1), (c0, c1));
        MatRef {
            data: &self.data[start..],
            rows: r1 - r0,
            cols: c1 - c0,
            rs: self.rs,
        }
    }
    /// Copies into an owned matrix.
    pub fn to_mat(&self) -> Mat<T> {
        Mat::from_fn(self.rows, self.cols, |i, j| self.get(i, j))
    }
}

impl<'a, T: Real> MatMut<'a, T> {
    view_methods!(&'a mut [T]);
    /// Sets element (i, j).
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: T) {
        self.data[i * self.rs + j] = v;
    }
    /// Row `i`, mutable.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        let s = i * self.rs;
        &mut self.data[s..s + self.cols]
    }
    /// Reborrows as an immutable view.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
        }
    }
    /// Reborrows mutably (to pass the view on without giving it up).
    pub fn rb_mut(&mut self) -> MatMut<'_, T> {
        MatMut {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
        }
    }
    /// Rows `r0..r1`, mutable.
    pub fn rows_range(self, r0: usize, r1: usize) -> MatMut<'a, T> {
        let cols = self.cols;
        self.block(r0, r1, 0, cols)
    }
    /// The strided block of rows `r0..r1` and columns `c0..c1`, mutable.
    pub fn block(self, r0: usize, r1: usize, c0: usize, c1: usize) -> MatMut<'a, T> {
        let shape = (self.rows, self.cols, self.rs);
        let start = block_start(shape, self.data.len(), (r0, r1), (c0, c1));
        MatMut {
            data: &mut self.data[start..],
            rows: r1 - r0,
            cols: c1 - c0,
            rs: self.rs,
        }
    }
    /// Raw pointer to element (0, 0) (for gemm).
    #[inline]
    pub(crate) fn as_mut_ptr(&mut self) -> *mut T {
        self.data.as_mut_ptr()
    }
}

impl<'a, T: Real> From<&'a Mat<T>> for MatRef<'a, T> {
    fn from(m: &'a Mat<T>) -> Self {
        m.view()
    }
}
