// The register-blocked body of the batch kernels (element_gemm.h), included by element_gemm.c
// once per instruction set. The includer defines GEMM_FN(name), the vector type VEC of VLEN
// floats, V_ZERO/V_FMA/V_HSUM, V_LOAD_F32/V_LOAD_F16/V_LOAD_BF16 (VLEN weights widened to f32)
// and the block shape ROWS_PER_BLOCK × TOKENS_PER_BLOCK.
//
// A block is acc[r][t] = Σ_i w_r[i]·x_t[i], one vector accumulator per (row, token) summed
// across the row, reduced once at the end: each weight vector is loaded and widened once for
// TOKENS_PER_BLOCK tokens, each token vector once for ROWS_PER_BLOCK rows. The row's last
// n mod VLEN elements are added one by one after the reduction.

// R rows from r0 × T tokens from t0 (R ≤ ROWS_PER_BLOCK, T ≤ TOKENS_PER_BLOCK, both constant
// where it is inlined, so the accumulators live in registers).
static inline __attribute__((always_inline)) void GEMM_FN(block)(const int format, const int R, const int T,
        const uint8_t *w, size_t row_bytes, const float *x, int n, float *y, int y_stride, int r0, int t0) {
    VEC acc[ROWS_PER_BLOCK][TOKENS_PER_BLOCK];
    const uint8_t *rows[ROWS_PER_BLOCK];
    const float *xs[TOKENS_PER_BLOCK];
    for (int r = 0; r < R; r++) rows[r] = w + (size_t)(r0 + r) * row_bytes;
    for (int t = 0; t < T; t++) xs[t] = x + (size_t)(t0 + t) * n;
    for (int r = 0; r < R; r++) for (int t = 0; t < T; t++) acc[r][t] = V_ZERO();
    int i = 0;
    for (; i + VLEN <= n; i += VLEN) {
        VEC xv[TOKENS_PER_BLOCK];
        for (int t = 0; t < T; t++) xv[t] = V_LOADX(xs[t] + i);
        for (int r = 0; r < R; r++) {
            const VEC wv = format == GEMM_F32 ? V_LOAD_F32(rows[r] + 4 * i)
                         : format == GEMM_F16 ? V_LOAD_F16(rows[r] + 2 * i) : V_LOAD_BF16(rows[r] + 2 * i);
            for (int t = 0; t < T; t++) acc[r][t] = V_FMA(wv, xv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++) {
        for (int t = 0; t < T; t++) {
            float sum = V_HSUM(acc[r][t]);
            for (int k = i; k < n; k++) sum += gemm_weight(format, rows[r], k) * xs[t][k];
            y[(size_t)(t0 + t) * y_stride + r0 + r] = sum;
        }
    }
}

_Static_assert(TOKENS_PER_BLOCK <= 4, "GEMM_FN(tail) spells out narrower blocks up to 3 tokens");

// A block of R rows × `left` tokens (0 ≤ left < TOKENS_PER_BLOCK ≤ 4), `left` made a constant.
static inline __attribute__((always_inline)) void GEMM_FN(tail)(const int format, const int R, int left,
        const uint8_t *w, size_t row_bytes, const float *x, int n, float *y, int y_stride, int r0, int t0) {
    switch (left) {
    case 1: GEMM_FN(block)(format, R, 1, w, row_bytes, x, n, y, y_stride, r0, t0); break;
    case 2: GEMM_FN(block)(format, R, 2, w, row_bytes, x, n, y, y_stride, r0, t0); break;
    case 3: GEMM_FN(block)(format, R, 3, w, row_bytes, x, n, y, y_stride, r0, t0); break;
    default: break;
    }
}

// Rows in blocks of ROWS_PER_BLOCK, tokens in tiles small enough that a tile of x stays in the
// core's L2 while every block of rows passes over it (the rows' block stays in L1 meanwhile).
static inline __attribute__((always_inline)) void GEMM_FN(gemm)(const int format, const void *w, size_t row_bytes,
        const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    const int R = ROWS_PER_BLOCK, T = TOKENS_PER_BLOCK;
    int tile = (GEMM_X_TILE_BYTES / (4 * (n > 0 ? n : 1))) / T * T;
    if (tile < T) tile = T;
    for (int t0 = 0; t0 < tokens; t0 += tile) {
        const int t1 = t0 + tile < tokens ? t0 + tile : tokens;
        // The last tokens < T of a tile take one narrower block (each weight vector still
        // widened once for all of them); the last rows < R go one at a time.
        const int whole = t0 + (t1 - t0) / T * T, left = t1 - whole;
        int r0 = row_begin;
        for (; r0 + R <= row_end; r0 += R) {
            for (int t = t0; t < whole; t += T) GEMM_FN(block)(format, R, T, w, row_bytes, x, n, y, y_stride, r0, t);
            GEMM_FN(tail)(format, R, left, w, row_bytes, x, n, y, y_stride, r0, whole);
        }
        for (; r0 < row_end; r0++) {
            for (int t = t0; t < whole; t += T) GEMM_FN(block)(format, 1, T, w, row_bytes, x, n, y, y_stride, r0, t);
            GEMM_FN(tail)(format, 1, left, w, row_bytes, x, n, y, y_stride, r0, whole);
        }
    }
}

void GEMM_FN(moe_gemm_f32)(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    GEMM_FN(gemm)(GEMM_F32, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void GEMM_FN(moe_gemm_f16)(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    GEMM_FN(gemm)(GEMM_F16, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void GEMM_FN(moe_gemm_bf16)(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    GEMM_FN(gemm)(GEMM_BF16, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
