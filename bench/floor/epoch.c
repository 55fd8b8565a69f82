/* The compiled floor: one training epoch of the course's two-layer perceptron in C.
 *
 * Same mathematics as reference.training for sigmoid hidden and output
 * layers, summed squared error, C/2 ||W||^2 (biases not penalised) and the
 * course's momentum (biases get plain b -= eta g):
 *
 *     Z1 = W1 A1 + b1,  A2 = 1/(1+exp(-Z1)),  Z2 = W2 A2 + b2,  A3 = 1/(1+exp(-Z2))
 *     V2 = -2 (Y - A3) * A3 * (1 - A3)
 *     V1 = A2 * (1 - A2) * (W2^T V2)
 *     gW = V A^T + C W,  gb = sum V
 *     r = eta gW;  W -= r + alpha r_prev;  r_prev = r;   b -= eta gb
 *
 * Every matrix product is one cblas_dgemm of the OpenBLAS that numpy itself
 * loads (64-bit integer interface, symbol prefix "scipy_", suffix "64_"),
 * so the floor and the reference share one BLAS. Instances are stored as
 * rows here (row i of X is instance i): a mini-batch is then a contiguous
 * gather of rows, and every product is the transpose of the lecture's.
 *
 * Input (binary, little endian; written by bench/bench_reference.py):
 *   int64  N D H K epochs batches
 *   f64    X[N*D] Y[N*K] W1[H*D] b1[H] W2[K*H] b2[K] eta[epochs] C alpha
 *   int64  order[epochs*N]            instance order of each epoch
 *   int64  bounds[batches+1]          batch b is order[bounds[b] .. bounds[b+1])
 * Output: the final W1 b1 W2 b2 as f64 to the output file; one line per epoch
 * with its wall time in seconds on stdout.
 *
 * Build (bench/bench_reference.py does this in a temporary directory):
 *   L=$(python -c "import numpy, glob, os; print(glob.glob(os.path.dirname(numpy.__file__) + '.libs/libscipy_openblas64_*.so')[0])")
 *   cc -O2 -o epoch epoch.c "$L" -Wl,-rpath,"$(dirname "$L")" -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int64_t blasint;
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
void scipy_cblas_dgemm64_(int order, int ta, int tb, blasint m, blasint n, blasint k,
                          double alpha, const double *A, blasint lda, const double *B,
                          blasint ldb, double beta, double *C, blasint ldc);
#define dgemm scipy_cblas_dgemm64_

static void *must(void *p) {
    if (!p) { fprintf(stderr, "epoch: out of memory\n"); exit(1); }
    return p;
}

static void read_into(FILE *f, void *dst, size_t size, size_t count) {
    if (fread(dst, size, count, f) != count) { fprintf(stderr, "epoch: input too short\n"); exit(1); }
}

static double *doubles(FILE *f, size_t n) {
    double *p = must(malloc(n * sizeof(double)));
    read_into(f, p, sizeof(double), n);
    return p;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: epoch INPUT OUTPUT\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    int64_t hdr[6];
    read_into(f, hdr, sizeof(int64_t), 6);
    const int64_t N = hdr[0], D = hdr[1], H = hdr[2], K = hdr[3], E = hdr[4], NB = hdr[5];
    double *X = doubles(f, N * D), *Y = doubles(f, N * K);
    double *W1 = doubles(f, H * D), *b1 = doubles(f, H), *W2 = doubles(f, K * H), *b2 = doubles(f, K);
    double *eta = doubles(f, E), C, alpha;
    read_into(f, &C, sizeof C, 1);
    read_into(f, &alpha, sizeof alpha, 1);
    int64_t *order = must(malloc(E * N * sizeof(int64_t))), *bounds = must(malloc((NB + 1) * sizeof(int64_t)));
    read_into(f, order, sizeof(int64_t), E * N);
    read_into(f, bounds, sizeof(int64_t), NB + 1);
    fclose(f);

    int64_t B = 0;  /* the largest batch */
    for (int64_t b = 0; b < NB; b++) B = bounds[b + 1] - bounds[b] > B ? bounds[b + 1] - bounds[b] : B;
    double *Xb = must(malloc(B * D * sizeof(double))), *Yb = must(malloc(B * K * sizeof(double)));
    double *A2 = must(malloc(B * H * sizeof(double))), *A3 = must(malloc(B * K * sizeof(double)));
    double *V1 = must(malloc(B * H * sizeof(double))), *V2 = must(malloc(B * K * sizeof(double)));
    double *gW1 = must(malloc(H * D * sizeof(double))), *gW2 = must(malloc(K * H * sizeof(double)));
    double *r1 = must(calloc(H * D, sizeof(double))), *r2 = must(calloc(K * H, sizeof(double)));

    for (int64_t e = 0; e < E; e++) {
        const double t0 = seconds(), lr = eta[e];
        for (int64_t b = 0; b < NB; b++) {
            const int64_t n = bounds[b + 1] - bounds[b];
            const int64_t *idx = order + e * N + bounds[b];
            for (int64_t i = 0; i < n; i++) {
                memcpy(Xb + i * D, X + idx[i] * D, D * sizeof(double));
                memcpy(Yb + i * K, Y + idx[i] * K, K * sizeof(double));
            }
            /* forward: A2 (n, H) = sigmoid(Xb W1^T + b1), A3 (n, K) = sigmoid(A2 W2^T + b2) */
            dgemm(RowMajor, NoTrans, Trans, n, H, D, 1.0, Xb, D, W1, D, 0.0, A2, H);
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < H; j++) A2[i * H + j] = 1.0 / (1.0 + exp(-(A2[i * H + j] + b1[j])));
            dgemm(RowMajor, NoTrans, Trans, n, K, H, 1.0, A2, H, W2, H, 0.0, A3, K);
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < K; j++) {
                    const double a = 1.0 / (1.0 + exp(-(A3[i * K + j] + b2[j])));
                    V2[i * K + j] = -2.0 * (Yb[i * K + j] - a) * a * (1.0 - a);
                }
            /* backward: V1 (n, H) = (V2 W2) * A2 (1 - A2) */
            dgemm(RowMajor, NoTrans, NoTrans, n, H, K, 1.0, V2, K, W2, H, 0.0, V1, H);
            for (int64_t i = 0; i < n * H; i++) V1[i] *= A2[i] * (1.0 - A2[i]);
            /* gradients with the penalty folded into beta: gW = V^T A + C W */
            memcpy(gW2, W2, K * H * sizeof(double));
            dgemm(RowMajor, Trans, NoTrans, K, H, n, 1.0, V2, K, A2, H, C, gW2, H);
            memcpy(gW1, W1, H * D * sizeof(double));
            dgemm(RowMajor, Trans, NoTrans, H, D, n, 1.0, V1, H, Xb, D, C, gW1, D);
            /* course momentum on the weights, plain steps on the biases */
            for (int64_t i = 0; i < K * H; i++) {
                const double r = lr * gW2[i];
                W2[i] -= r + alpha * r2[i];
                r2[i] = r;
            }
            for (int64_t i = 0; i < H * D; i++) {
                const double r = lr * gW1[i];
                W1[i] -= r + alpha * r1[i];
                r1[i] = r;
            }
            for (int64_t j = 0; j < K; j++) {
                double s = 0.0;
                for (int64_t i = 0; i < n; i++) s += V2[i * K + j];
                b2[j] -= lr * s;
            }
            for (int64_t j = 0; j < H; j++) {
                double s = 0.0;
                for (int64_t i = 0; i < n; i++) s += V1[i * H + j];
                b1[j] -= lr * s;
            }
        }
        printf("%.9f\n", seconds() - t0);
    }

    FILE *out = fopen(argv[2], "wb");
    if (!out) { perror(argv[2]); return 2; }
    fwrite(W1, sizeof(double), H * D, out);
    fwrite(b1, sizeof(double), H, out);
    fwrite(W2, sizeof(double), K * H, out);
    fwrite(b2, sizeof(double), K, out);
    fclose(out);
    return 0;
}
